"""MkDocs hooks (mkdocs.yml `hooks:`): the chapters' notebooks as downloads, and math on notebook pages.

- **Chapter notebooks.** Each chapter page's notebook is made from the page at build time
  (tests/pagenotebooks.py) and added to the site as `notebooks/NAME.ipynb`, a file to download, not a page:
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
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import Any

import nbformat
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import pagenotebooks  # noqa: E402  (tests/pagenotebooks.py)

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


def _use_executed_copy(file: Any) -> None:
    source = Path(file.abs_src_path)
    executed = pagenotebooks.executed_copy(source)
    if not executed.is_file():
        log.warning(f"{file.src_uri} has no executed copy ({executed}): run `make solutions` or `make test`")
        return
    if not pagenotebooks.same_cells(nbformat.read(source, 4), nbformat.read(executed, 4)):
        log.warning(f"{file.src_uri} changed since it was last run: run `make solutions` or `make test`")
        return
    # mkdocs-jupyter has wrapped the file already (hooks run after plugins): set the path on the wrapper,
    # whose `abs_src_path` is its own cached property, and on the file inside.
    file.abs_src_path = str(executed)
    if hasattr(file, "file"):
        file.file.abs_src_path = str(executed)


def on_files(files: Files, config: Any) -> Files:
    for file in files:
        if file.src_uri.startswith("solutions/") and file.src_uri.endswith(".ipynb"):
            _use_executed_copy(file)
    for page in pagenotebooks.chapters():
        nb = pagenotebooks.chapter_notebook(page)
        files.append(
            File.generated(
                config,
                f"{pagenotebooks.NOTEBOOK_DIR}/{pagenotebooks.notebook_name(page)}",
                content=pagenotebooks.notebook_json(nb),
            )
        )
    return files


def on_page_content(content: str, page: Any, config: Any, files: Files) -> str:
    if not page.file.src_uri.endswith(".ipynb"):
        return content
    content = _SCRIPT.sub("", content)
    # nbconvert's heading permalinks, as the pages' own: Material styles them and search leaves out their `¶`.
    content = content.replace('<a class="anchor-link" href="#', '<a class="headerlink" href="#')
    return _MARKDOWN_CELL.sub(lambda m: m[1] + _wrap_math(m[2]) + m[3], content)
