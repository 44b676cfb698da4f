"""MkDocs hooks (mkdocs.yml `hooks:` names this file): chapter notebooks, solutions, math on notebook pages.

- Each chapter's notebook is made from its page (llmguide_docs.notebook) as `notebooks/NAME.ipynb`, a
  download: nothing is committed, so nothing can drift from the page.
- The solutions render from the executed copies that tests/test_notebooks.py writes under `build/notebooks/`;
  a copy missing, or whose cells differ from the source, is an error in a strict build.
- Notebook pages lose nbconvert's MathJax, its configuration and its Mermaid import from a CDN (the site loads
  nothing from elsewhere), and their Markdown cells' `$...$` is wrapped as `pymdownx.arithmatex` wraps the
  pages' math, so that the site's KaTeX typesets both from the same markup and the browser tests can check it.
- Under `mkdocs serve` only: a figure not drawn yet is served as a placeholder SVG, a solution not run yet
  renders without outputs under a note, and `build/notebooks/` is watched."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import nbformat
from mkdocs.structure.files import File, Files

from llmguide_docs import notebook, pages, site

_SCRIPT = re.compile(r'(?s)<script\s+(?:src=""|type="text/x-mathjax-config"|type="module")[^>]*>.*?</script>')
_MARKDOWN_CELL = re.compile(
    r'(<div class="jp-RenderedHTMLCommon jp-RenderedMarkdown[^"]*"[^>]*>)(.*?)(</div>)', re.S
)
# $$...$$ (display) first, then $...$ (inline, on one line, not `$ ` at the start: prices are not math).
_DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE = re.compile(r"(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\$)")
_TAG = re.compile(r"(<(?:code|pre)\b.*?</(?:code|pre)>|<[^>]+>)", re.S)


def _wrap_math(fragment: str) -> str:
    """Wrap a rendered Markdown cell's `$...$` and `$$...$$` as arithmatex does, outside tags and code."""
    parts = _TAG.split(fragment)  # text at even indices; tags and code/pre elements, left alone, between
    for i in range(0, len(parts), 2):
        part = _DISPLAY.sub(lambda m: f'<div class="arithmatex">\\[{m[1]}\\]</div>', parts[i])
        parts[i] = _INLINE.sub(lambda m: f'<span class="arithmatex">\\({m[1]}\\)</span>', part)
    # A display equation alone in its paragraph: drop the paragraph, as arithmatex does.
    return re.sub(r"<p>\s*(<div class=\"arithmatex\">.*?</div>)\s*</p>", r"\1", "".join(parts), flags=re.S)


def notebook_math(nb: Any) -> list[str]:
    """The math of a notebook's Markdown cells as these hooks find it: `$$...$$` and `$...$` outside code.
    The browser tests expect typeset math on a notebook page exactly where this finds some."""
    cells = [c.source for c in nb.cells if c.cell_type == "markdown"]
    texts = [re.sub(r"```.*?```|`[^`\n]*`", " ", source, flags=re.S) for source in cells]  # code is not math
    return [m for t in texts for m in _DISPLAY.findall(t) + _INLINE.findall(_DISPLAY.sub(" ", t))]


def _use_executed_copy(file: Any) -> None:
    source = Path(file.abs_src_path)
    if not source.resolve().is_relative_to(site.DOCS):
        return  # a notebook of another project (a planted site in the tests): rendered as it is
    executed = notebook.executed_copy(source)
    cells = lambda path: [(c.cell_type, c.source) for c in nbformat.read(path, 4).cells]  # noqa: E731
    if executed.is_file() and cells(source) == cells(executed):
        # mkdocs-jupyter has wrapped the file already (hooks run after plugins): set the path on the wrapper,
        # whose `abs_src_path` is its own cached property, and on the file inside.
        file.abs_src_path = str(executed)
        if hasattr(file, "file"):
            file.file.abs_src_path = str(executed)
        return
    problem = "changed since it was last run" if executed.is_file() else f"has no executed copy ({executed})"
    if _serving:
        _pending_notebooks.add(file.src_uri)  # the terminal of scripts/serve.py says when it is run
    message = f"{file.src_uri} {problem}: run `make solutions` or `make test`"
    logging.getLogger("mkdocs.hooks.notebooks").log(logging.DEBUG if _serving else logging.WARNING, message)


def on_files(files: Files, config: Any) -> Files:
    _pending_notebooks.clear()
    if _serving:  # a placeholder for each figure that a page shows and that is not drawn yet
        shown = (pages.figures(page.read_text("utf8"))[0] for page in Path(config.docs_dir).rglob("*.md"))
        for uri in sorted({f"figures/{m['name']}.svg" for found in shown for _, m in found}):
            if files.get_file_from_path(uri) is None:
                files.append(File.generated(config, uri, content=PLACEHOLDER_SVG.format(uri=uri)))
    for file in files:
        if file.src_uri.startswith("solutions/") and file.src_uri.endswith(".ipynb"):
            _use_executed_copy(file)
    if Path(config.docs_dir).resolve() != site.DOCS:
        return files  # another project's docs (a planted site in the tests): no chapters of this one
    for page in site.chapters():
        content = nbformat.writes(notebook.chapter_notebook(page)) + "\n"
        files.append(File.generated(config, f"{notebook.NOTEBOOK_DIR}/{page.stem}.ipynb", content=content))
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


# Serving before everything is drawn (`mkdocs serve` only)
_serving = False
_pending_notebooks: set[str] = set()  # solutions rendered without outputs in this build (serve only)
_PENDING_NOTE = """<div class="admonition note"><p class="admonition-title">Outputs not computed yet</p><p>
<code>make serve</code> is running this notebook in the background (see its terminal); the page reloads with
the outputs when the run has passed. Until then it shows the code alone.</p></div>
"""
# Served in place of a figure until its page's code has drawn it (serve only).
PLACEHOLDER_SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="640" height="190" viewBox="0 0 640 190">
<rect x="1" y="1" width="638" height="188" rx="8" fill="#f4f4f6" stroke="#9a9aa6"
 stroke-dasharray="8 6" stroke-width="2"/><g font-family="system-ui, sans-serif" fill="#33333d">
<text x="24" y="44" font-size="22" font-weight="bold">Figure not drawn yet</text>
<text x="24" y="74" font-size="15" font-family="monospace">{uri}</text>
<text x="24" y="104" font-size="16">make serve is running this page's code in the background,</text>
<text x="24" y="134" font-size="16">and the page reloads with the figure when it is drawn.</text>
<text x="24" y="164" font-size="16">If the code fails, the terminal running make serve says so.</text>
</g></svg>
"""


def on_startup(command: str, dirty: bool) -> None:
    # Called once per `mkdocs` command; the module (and so this flag) lives on through serve's rebuilds.
    global _serving
    _serving = command == "serve"
    if _serving and dirty:
        # scripts/serve.py asks for dirty rebuilds on purpose (a figure that arrives changes no page): drop
        # MkDocs's warning about them, repeated on every rebuild.
        logging.getLogger("mkdocs.commands.build").addFilter(lambda r: "'dirty' build" not in r.getMessage())


def on_config(config: Any) -> Any:
    if _serving and Path(config.docs_dir).resolve() == site.DOCS:
        notebook.EXECUTED.joinpath("solutions").mkdir(parents=True, exist_ok=True)
        if str(notebook.EXECUTED) not in config.watch:
            config.watch.append(str(notebook.EXECUTED))
    return config
