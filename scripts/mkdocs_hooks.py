"""MkDocs hooks (mkdocs.yml `hooks:`): the chapters' notebooks as downloads, and math on notebook pages.

- **Chapter notebooks.** Each chapter page's notebook is made from the page at build time
  (llmguide_docs.notebook) and added to the site as `notebooks/NAME.ipynb`, a file to download, not a page:
  nothing is committed, so nothing can drift from the page. The page links to it under its title.
- **Solution notebooks with their outputs.** The solutions (`docs/solutions/*.ipynb`) are committed without
  outputs; the tests run each in a fresh kernel and write the executed copy under `build/notebooks/`
  (tests/test_notebooks.py). mkdocs-jupyter renders that copy, so the page shows the outputs of the run that
  passed. A copy that is missing, or whose cells differ from the source, is an error in a strict build:
  `make solutions` (or `make test`) runs the notebooks again.
- **Notebook pages** (the solutions, rendered by mkdocs-jupyter): nbconvert's template adds a MathJax
  `<script>` (with an empty URL here, `custom_mathjax_url: ""`, so that no CDN is asked), its configuration,
  and a module script that would import Mermaid from a CDN; all three go, since the site loads nothing from
  elsewhere and typesets math with its own KaTeX. nbconvert leaves the math of Markdown cells as raw
  `$...$` text; it is wrapped here the way `pymdownx.arithmatex` wraps the pages' math
  (`<span class="arithmatex">\\(...\\)</span>`, `<div class="arithmatex">\\[...\\]</div>`), so that
  `javascripts/katex-init.js` typesets it from the same markup as the pages' math rather than by spotting `$`
  pairs in the text, and the browser tests can require every such element typeset (tests/site_in_browser.py).
- **Serving before everything is drawn** (`mkdocs serve`, as `make serve` runs it: scripts/serve.py). A reader
  reads at once while the figures and the solutions' outputs are made in the background, so under `serve`
  only: a figure a page shows that is not drawn yet is served as a placeholder image that says so (an SVG at
  the figure's own address, so the page needs no change when the real one arrives), a solution notebook not
  run yet is rendered without outputs under a note that says so, `build/notebooks/` is watched so live
  reload shows each executed copy as it arrives (scripts/serve.py also runs `mkdocs serve --no-strict`, so
  that no warning stops a reader's server).
  `mkdocs build` (`make build`, `make test`) is untouched: strict, and failing on a missing figure or an
  unexecuted solution.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import nbformat
from mkdocs.structure.files import File, Files

from llmguide_docs import notebook, pages, site

log = logging.getLogger("mkdocs.hooks.notebooks")

_SCRIPT = re.compile(
    r"<script(?:\s+src=\"\"|\s+type=\"text/x-mathjax-config\"|\s+type=\"module\")[^>]*>.*?</script>", re.S
)
_MARKDOWN_CELL = re.compile(
    r'(<div class="jp-RenderedHTMLCommon jp-RenderedMarkdown[^"]*"[^>]*>)(.*?)(</div>)', re.S
)
# $$...$$ (display) first, then $...$ (inline, on one line, not `$ ` at the start: prices are not math).
_DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE = re.compile(r"(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\$)")
_TAG = re.compile(r"(<(?:code|pre)\b.*?</(?:code|pre)>|<[^>]+>)", re.S)


def _wrap_math(fragment: str) -> str:
    """Wrap the `$...$` and `$$...$$` of a rendered Markdown cell as arithmatex does (text outside tags and code)."""
    parts = _TAG.split(fragment)
    # Display math may span several text parts only if a tag sits inside it; nbconvert keeps it in one <p>.
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 1:  # a tag, or a code/pre element: left alone
            out.append(part)
            continue
        part = _DISPLAY.sub(lambda m: f'<div class="arithmatex">\\[{m[1]}\\]</div>', part)
        part = _INLINE.sub(lambda m: f'<span class="arithmatex">\\({m[1]}\\)</span>', part)
        out.append(part)
    text = "".join(out)
    # A display equation alone in its paragraph: drop the paragraph, as arithmatex does.
    return re.sub(r"<p>\s*(<div class=\"arithmatex\">.*?</div>)\s*</p>", r"\1", text, flags=re.S)


def notebook_math(nb: Any) -> list[str]:
    """The math of a notebook's Markdown cells, as this hook finds it: `$$...$$` and `$...$` outside code.

    The browser tests expect typeset math on a notebook page exactly when its source has some
    (tests/site_in_browser.py): a `$` elsewhere in the rendered HTML, such as in mkdocs-jupyter's CSS, is not
    math.
    """
    found: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        text = re.sub(r"```.*?```|`[^`\n]*`", " ", cell.source, flags=re.S)
        found += _DISPLAY.findall(text)
        found += _INLINE.findall(_DISPLAY.sub(" ", text))
    return found


def _use_executed_copy(file: Any) -> None:
    source = Path(file.abs_src_path)
    if not source.resolve().is_relative_to(site.DOCS):
        return  # a notebook of another project (a planted site in the tests): rendered as it is
    executed = notebook.executed_copy(source)
    if not executed.is_file():
        _not_run_yet(
            file, f"{file.src_uri} has no executed copy ({executed}): run `make solutions` or `make test`"
        )
        return
    if not notebook.same_cells(nbformat.read(source, 4), nbformat.read(executed, 4)):
        _not_run_yet(
            file, f"{file.src_uri} changed since it was last run: run `make solutions` or `make test`"
        )
        return
    # mkdocs-jupyter has wrapped the file already (hooks run after plugins): set the path on the wrapper,
    # whose `abs_src_path` is its own cached property, and on the file inside.
    file.abs_src_path = str(executed)
    if hasattr(file, "file"):
        file.file.abs_src_path = str(executed)


def on_files(files: Files, config: Any) -> Files:
    _pending_notebooks.clear()
    if _serving:
        _placeholder_figures(files, config)
    for file in files:
        if file.src_uri.startswith("solutions/") and file.src_uri.endswith(".ipynb"):
            _use_executed_copy(file)
    if Path(config.docs_dir).resolve() != site.DOCS:
        return files  # another project's docs (a planted site in the tests): no chapters of this one
    for page in site.chapters():
        nb = notebook.chapter_notebook(page)
        files.append(
            File.generated(
                config,
                f"{notebook.NOTEBOOK_DIR}/{notebook.notebook_name(page)}",
                content=notebook.notebook_json(nb),
            )
        )
    return files


def on_page_content(content: str, page: Any, config: Any, files: Files) -> str:
    if not page.file.src_uri.endswith(".ipynb"):
        return content
    if page.file.src_uri in _pending_notebooks:
        content = _PENDING_NOTE + content
    content = _SCRIPT.sub("", content)
    # nbconvert's heading permalinks, as the pages' own: Material styles them and search leaves out their `¶`.
    content = content.replace('<a class="anchor-link" href="#', '<a class="headerlink" href="#')
    return _MARKDOWN_CELL.sub(lambda m: m[1] + _wrap_math(m[2]) + m[3], content)


# ---------------------------------------------------------------------------------------------------------
# Serving before everything is drawn (`mkdocs serve` only; see the module docstring)
# ---------------------------------------------------------------------------------------------------------

_serving = False
_pending_notebooks: set[str] = set()  # solutions rendered without outputs in this build (serve only)
_PENDING_NOTE = (
    '<div class="admonition note"><p class="admonition-title">Outputs not computed yet</p><p>'
    "<code>make serve</code> is running this notebook in the background (see its terminal); the page reloads "
    "with the outputs when the run has passed. Until then it shows the code alone.</p></div>\n"
)


def on_startup(command: str, dirty: bool) -> None:
    # Called once per `mkdocs` command; the module (and so this flag) lives on through serve's rebuilds.
    global _serving
    _serving = command == "serve"
    if _serving and dirty:
        # scripts/serve.py asks for dirty rebuilds on purpose (a figure that arrives changes no page): drop
        # MkDocs's warning about them, repeated on every rebuild.
        logging.getLogger("mkdocs.commands.build").addFilter(
            lambda record: "'dirty' build" not in record.getMessage()
        )


def on_config(config: Any) -> Any:
    if _serving and Path(config.docs_dir).resolve() == site.DOCS:
        notebook.EXECUTED.joinpath("solutions").mkdir(parents=True, exist_ok=True)
        if str(notebook.EXECUTED) not in config.watch:
            config.watch.append(str(notebook.EXECUTED))
    return config


def _not_run_yet(file: Any, message: str) -> None:
    if _serving:
        _pending_notebooks.add(file.src_uri)  # the terminal of scripts/serve.py says when it is run
        log.debug(message)
    else:
        log.warning(message)


def placeholder_svg(name: str) -> str:
    """The image served in place of figure `name` until its page's code has drawn it (serve only)."""
    lines = [
        ("Figure not drawn yet", ' font-size="22" font-weight="bold"'),
        (f"figures/{name}.svg", ' font-size="15" font-family="monospace"'),
        ("make serve is running this page's code in the background,", ' font-size="16"'),
        ("and the page reloads with the figure when it is drawn.", ' font-size="16"'),
        ("If the code fails, the terminal running make serve says so.", ' font-size="16"'),
    ]
    text = "".join(
        f'<text x="24" y="{44 + 30 * i}"{style}>{line}</text>' for i, (line, style) in enumerate(lines)
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="640" height="190" viewBox="0 0 640 190">'
        '<rect x="1" y="1" width="638" height="188" rx="8" fill="#f4f4f6" stroke="#9a9aa6" '
        'stroke-dasharray="8 6" stroke-width="2"/>'
        f'<g font-family="system-ui, sans-serif" fill="#33333d">{text}</g></svg>\n'
    )


def _placeholder_figures(files: Files, config: Any) -> None:
    """Serve a placeholder for each figure that a page shows and that is not drawn yet."""
    docs = Path(config.docs_dir)
    shown = {name for page in docs.rglob("*.md") for name in pages.shown_figures(page.read_text("utf8"))}
    for name in sorted(shown):
        uri = f"figures/{name}.svg"
        if files.get_file_from_path(uri) is None:
            files.append(File.generated(config, uri, content=placeholder_svg(name)))
