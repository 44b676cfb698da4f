"""The browser check raises no false alarm: a solution notebook without math passes it (issue 27).

mkdocs-jupyter inlines CSS holding `content:"$"` into every notebook page, so a check that took any `$` in a
notebook page's HTML for math failed every solutions page whose notebook has none. The check now asks for
typeset math only where the source has math (`site_in_browser.source_has_math`). This builds a small site
with the project's own hooks, KaTeX and mkdocs-jupyter, whose one solutions notebook has a figure and no
math, and runs the page checks of tests/site_in_browser.py on it in Chromium. Skipped where no Chromium or
Chrome is installed, unless REQUIRE_BROWSER=1 (CI sets it).
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from llmguide_docs.hooks import notebook_math

ROOT = Path(__file__).resolve().parents[1]
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

MKDOCS = f"""site_name: planted
site_url: http://127.0.0.1/
theme:
  name: material
  font: false
markdown_extensions:
  - pymdownx.arithmatex:
      generic: true
plugins:
  - mkdocs-jupyter:
      include: ["solutions/*.ipynb"]
      execute: false
      allow_errors: false
      cache: false
      custom_mathjax_url: ""
hooks:
  - {ROOT / "src" / "llmguide_docs" / "hooks.py"}
extra_css:
  - assets/katex/katex.min.css
  - stylesheets/notebooks.css
extra_javascript:
  - assets/katex/katex.min.js
  - assets/katex/auto-render.min.js
  - javascripts/katex-init.js
nav:
  - Introduction: index.md
  - "Exercises, solved": solutions/nomath.ipynb
"""


def png() -> str:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 20), (30, 90, 200)).save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


def no_math_notebook() -> nbformat.NotebookNode:
    """A solutions notebook as the tests leave it: executed, a figure among its outputs, and no math."""
    code = nbformat.v4.new_code_cell("count = len('tokens')\nassert count == 6", execution_count=1)
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"image/png": png(), "text/plain": "<Figure>"})
    ]
    return nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("## Exercise 1: counting\n\nNo math in this notebook, only words."),
            code,
        ]
    )


@pytest.fixture(scope="module")
def planted_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    project = tmp_path_factory.mktemp("planted")
    docs = project / "docs"
    (docs / "solutions").mkdir(parents=True)
    shutil.copytree(ROOT / "docs" / "assets" / "katex", docs / "assets" / "katex")
    (docs / "javascripts").mkdir()
    shutil.copy(ROOT / "docs" / "javascripts" / "katex-init.js", docs / "javascripts")
    (docs / "stylesheets").mkdir()
    shutil.copy(ROOT / "docs" / "stylesheets" / "notebooks.css", docs / "stylesheets")
    (docs / "index.md").write_text("# Planted\n\nA page with math, $x^2$.\n")
    nbformat.write(no_math_notebook(), docs / "solutions" / "nomath.ipynb")
    (project / "mkdocs.yml").write_text(MKDOCS)
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q"], cwd=project, env=env, check=True
    )
    return project / "site", docs


def test_a_notebook_page_has_a_dollar_in_its_html_without_any_math(planted_site: tuple[Path, Path]):
    """The false alarm's cause: the rendered page holds `$` (mkdocs-jupyter's CSS), though its notebook has
    no math; the check's source-based rule says so."""
    site, docs = planted_site
    html = (site / "solutions" / "nomath" / "index.html").read_text("utf8")
    assert "$" in html and "jupyter-wrapper" in html
    assert notebook_math(nbformat.read(docs / "solutions" / "nomath.ipynb", as_version=4)) == []
    with_math = no_math_notebook()
    with_math.cells[0].source += " The cost is $O(n^2)$, and `a $b$ in code` is not math."
    assert notebook_math(with_math) == ["O(n^2)"]


def test_a_solution_notebook_without_math_passes_the_browser_check(planted_site: tuple[Path, Path]):
    if not any(shutil.which(name) for name in BROWSERS):
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail("REQUIRE_BROWSER is set, but no Chromium or Chrome is installed")
        pytest.skip("no Chromium or Chrome installed; CI runs this")
    site, docs = planted_site
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "browser_check.py"),
            str(site),
            "-k",
            "test_page_loads_cleanly",
            "-q",
        ],
        env={**os.environ, "LLMGUIDE_DOCS": str(docs)},
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "solutions/nomath/index.html" in result.stdout or "2 passed" in result.stdout, result.stdout[
        -2000:
    ]
