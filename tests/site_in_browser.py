"""The built site in a real browser: Playwright driving the system's Chromium (no browser download).

Run on the built site by `scripts/browser_check.py site` (`make test`, `make check-site`), LLMGUIDE_SITE
pointing at it (default `site/`); not named `test_*.py`, so the unit tests, run before the build, skip it.
Every page, served from 127.0.0.1 and opened in headless Chromium, has:

- no console error, no uncaught exception and no request to another host: the guide works offline and tells
  no third party who reads it;
- its math typeset: every `.arithmatex` element (the pages' math, and the notebook pages' after
  llmguide_docs/hooks.py) holds KaTeX's output without error, no `$...$` is left raw in a notebook's Markdown
  cell, and a page whose source has math shows some;
- every image decoded, and on a chapter, a link under its title that downloads a valid notebook of it.

Search lists each chapter for its key term, and every solutions page; the palette switches to the dark scheme
and back, the figures keeping their contrast. Where no Chromium or Chrome is installed the file is skipped
with a notice, unless REQUIRE_BROWSER=1 (CI sets it), where that fails."""

from __future__ import annotations

import functools
import http.server
import io
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import numpy as np
import pytest
from PIL import Image

from llmguide_docs.hooks import notebook_math  # the hook that wraps the math decides what is math

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("LLMGUIDE_SITE") or ROOT / "site").resolve()
# The sources the site was built from (a planted site's own, in tests/test_browser_check.py).
DOCS = Path(os.environ.get("LLMGUIDE_DOCS") or ROOT / "docs").resolve()
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = next((path for name in BROWSERS if (path := shutil.which(name))), None)
# A chapter's key term, which the search must find it by.
KEY_TERMS = {
    "transformers": "LSTM",
    "prompting": "few-shot",
    "temperature": "nucleus",
    "memory": "ZeRO",
    "scaling-laws": "Chinchilla",
    "tokens": "SentencePiece",
    "evaluation": "HellaSwag",
    "serving": "roofline",
    "fine-tuning": "DPO",
}
MIN_CONTRAST = 4.5  # WCAG AA for text: ink against the figure's own background

if BROWSER is None:
    missing = f"no Chromium or Chrome is installed (tried {', '.join(BROWSERS)})"
    if os.environ.get("REQUIRE_BROWSER"):
        pytest.fail(f"REQUIRE_BROWSER is set, but {missing}", pytrace=False)
    pytest.skip(f"browser check skipped: {missing}; CI runs it", allow_module_level=True)
if not (SITE / "index.html").is_file():
    pytest.fail(f"no built site at {SITE}: build it first (make build)", pytrace=False)

from playwright.sync_api import Browser, Page, Route, sync_playwright  # noqa: E402

PAGES = sorted(p.relative_to(SITE).as_posix() for p in SITE.rglob("*.html") if p.name != "404.html")
CHAPTERS = sorted(KEY_TERMS)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def origin() -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        # The system's browser: Playwright downloads none. --no-sandbox: CI runs as root.
        yield p.chromium.launch(executable_path=BROWSER, args=["--no-sandbox", "--disable-gpu"])


class Visit:
    """A page in a browser context of its own (so in the light scheme), with what it logged and what it asked
    of other hosts: every request of the context goes through `route`, and none leaves 127.0.0.1."""

    def __init__(self, browser: Browser, origin: str) -> None:
        self.origin, self.errors, self.foreign = origin, [], []  # errors: logged; foreign: requests elsewhere
        self.context = browser.new_context(accept_downloads=True)
        self.context.route("**/*", self.route)
        self.page: Page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

    def route(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(("http://", "https://")) and not url.startswith(f"{self.origin}/"):
            self.foreign.append(url)
            route.abort()  # offline: never wait on another host
        else:
            route.continue_()

    def open(self, rel: str) -> Page:
        self.page.goto(f"{self.origin}/{rel.removesuffix('index.html')}", wait_until="load")
        return self.page  # "load": scripts have run, and KaTeX typesets on DOMContentLoaded


@pytest.fixture
def visit(browser: Browser, origin: str) -> Iterator[Visit]:
    v = Visit(browser, origin)
    yield v
    v.context.close()


# Every element of a page with math, typeset; the notebook cells with no raw `$...$` left.
_MATH = """() => {
  const all = selector => [...document.querySelectorAll(selector)], text = e => e.textContent.slice(0, 60);
  const math = all('.arithmatex'), raw = math.filter(e => !e.querySelector('.katex')).map(text);
  const dollars = all('.jupyter-wrapper .jp-RenderedMarkdown').flatMap(c => {
    const copy = c.cloneNode(true);
    copy.querySelectorAll('.katex, code, pre').forEach(e => e.remove());
    return (copy.textContent.match(/\\$[^$\\s][^$]*\\$/g) || []).map(m => m.slice(0, 60));
  });
  return {count: math.length, raw, errors: all('.katex-error').map(text), dollars};
}"""

_IMAGES = """async () => Promise.all([...document.images].map(async img => {
  try { await img.decode(); } catch (e) { return img.currentSrc || img.src; }
  return img.naturalWidth > 0 ? null : (img.currentSrc || img.src);
}))"""


def source_has_math(rel: str, html: str) -> bool:
    """Whether the source of a built page has math: arithmatex's markup, or `$...$` in a notebook's cells."""
    if 'class="arithmatex"' in html:  # (a `$` in the HTML is no sign: mkdocs-jupyter's CSS has `content:"$"`)
        return True
    # A notebook page, solutions/NAME/index.html, made from solutions/NAME.ipynb.
    source = DOCS / f"{rel.removesuffix('/index.html')}.ipynb"
    return "jupyter-wrapper" in html and source.is_file() and bool(notebook_math(nbformat.read(source, 4)))


def check_notebook_download(page: Page, stem: str) -> None:
    """The chapter's link right under its title downloads a valid notebook made from that chapter."""
    link = page.locator(f"a[download][href$='notebooks/{stem}.ipynb']")
    assert link.count() == 1, f"{stem}: one download link to its notebook"
    assert link.bounding_box()["y"] < page.locator("h1").bounding_box()["y"] + 200  # right under the title
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == f"{stem}.ipynb"
    nb = nbformat.read(download.value.path(), as_version=nbformat.NO_CONVERT)
    assert nb.nbformat == 4
    nbformat.validate(nb)
    assert nb.metadata["llmguide"]["page"] == f"{stem}.md"
    assert nb.cells[0].metadata["llmguide"]["role"] == "install"


@pytest.mark.parametrize("rel", PAGES)
def test_page_loads_cleanly(visit: Visit, rel: str):
    """No console error, no foreign request, math typeset, images decoded; a chapter's notebook downloads."""
    page = visit.open(rel)
    assert not visit.errors, f"{rel}: {visit.errors}"
    assert not visit.foreign, f"{rel}: requests to another host: {visit.foreign}"
    math = page.evaluate(_MATH)
    assert not math["raw"], f"{rel}: math left untypeset: {math['raw']}"
    assert not math["errors"], f"{rel}: KaTeX could not typeset: {math['errors']}"
    assert not math["dollars"], f"{rel}: raw $...$ math in a notebook cell: {math['dollars']}"
    has_math = source_has_math(rel, (SITE / rel).read_text("utf8"))
    assert math["count"] > 0 or not has_math, f"{rel}: its source has math, but none is typeset"
    broken = [src[:80] for src in page.evaluate(_IMAGES) if src]
    assert not broken, f"{rel}: images that did not decode: {broken}"
    if (stem := rel.removesuffix("/index.html")) in CHAPTERS:  # a chapter: its notebook downloads
        check_notebook_download(page, stem)
    if rel.startswith("solutions/"):  # a notebook page: its Markdown cells' math, and its figures' outputs
        assert not has_math or page.locator(".jupyter-wrapper .arithmatex .katex").count() > 0, rel
        assert page.locator(".jupyter-wrapper .jp-OutputArea-output img").count() > 0, rel


@pytest.fixture(scope="module")
def search_page(browser: Browser, origin: str) -> Iterator[Page]:
    """The front page, opened once for every query: the search index loads once."""
    v = Visit(browser, origin)
    yield v.open("index.html")
    v.context.close()


def _search(page: Page, query: str) -> list[str]:
    box = page.locator("input.md-search__input")
    box.click()  # the header's search field (a desktop-sized window shows it)
    box.fill("")
    box.press_sequentially(query, delay=20)  # typed, key by key, as a reader does
    page.wait_for_function(
        "q => document.querySelector('input.md-search__input').value === q"
        " && document.querySelectorAll('.md-search-result__item').length > 0",
        arg=query,
        timeout=15_000,
    )
    # The search runs in a worker after each keystroke: read the results until they stop changing.
    read = lambda: page.locator(".md-search-result__link").evaluate_all("els => els.map(e => e.href)")  # noqa: E731
    links, previous = read(), None
    for _ in range(40):
        if links == previous:
            break
        page.wait_for_timeout(250)
        links, previous = read(), links
    return [urlsplit(link).path for link in links]


@pytest.mark.parametrize("stem", CHAPTERS)
def test_search_finds_each_chapter_by_its_key_term(search_page: Page, stem: str):
    paths = _search(search_page, KEY_TERMS[stem])
    assert any(p.rstrip("/").endswith(f"/{stem}") for p in paths), f"{KEY_TERMS[stem]!r} -> {paths}"


def test_search_finds_the_solutions(search_page: Page):
    paths = _search(search_page, "Exercises, solved")  # the title of each solutions page
    found = {stem for stem in CHAPTERS for p in paths if p.rstrip("/").endswith(f"solutions/{stem}")}
    assert found == set(CHAPTERS), paths


def figure_contrast(png: bytes) -> float:
    """WCAG contrast ratio between a figure's background (its median luminance) and its darkest ink.

    The ink is the darkest half percent of the pixels: axes, lines and labels. A figure drawn with dark ink on
    a transparent background, shown on the dark scheme, has both dark: a ratio near 1.
    """
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float) / 255
    linear = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    luminance = (linear @ np.array([0.2126, 0.7152, 0.0722])).ravel()
    background, ink = np.median(luminance), np.quantile(luminance, 0.005)
    light, dark = max(background, ink), min(background, ink)
    return float((light + 0.05) / (dark + 0.05))


@pytest.mark.parametrize("rel", ["temperature/index.html", "solutions/temperature/index.html"])
def test_dark_mode_switches_the_scheme_and_keeps_figures_readable(visit: Visit, rel: str):
    page = visit.open(rel)
    assert page.evaluate("document.body.getAttribute('data-md-color-scheme')") == "default"
    page.locator("label[title='Switch to dark mode']").first.click()
    page.wait_for_function("document.body.getAttribute('data-md-color-scheme') === 'slate'")
    figures = page.locator(".md-content img").all()
    assert figures
    for i, figure in enumerate(figures):
        contrast = figure_contrast(figure.screenshot())  # scrolled into view first
        assert contrast >= MIN_CONTRAST, f"{rel}: figure {i} has contrast {contrast:.1f} in the dark scheme"
    page.locator("label[title='Switch to light mode']").first.click()
    page.wait_for_function("document.body.getAttribute('data-md-color-scheme') === 'default'")


def test_the_contrast_check_can_fail():
    def png(background: tuple[int, int, int], ink: tuple[int, int, int]) -> bytes:
        pixels = np.full((100, 100, 3), background, dtype=np.uint8)
        pixels[[10, 50, 90]] = ink  # three rows of ink
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, "PNG")
        return out.getvalue()

    assert figure_contrast(png((255, 255, 255), (0, 0, 0))) > 20  # black on white
    assert figure_contrast(png((30, 33, 41), (0, 0, 0))) < MIN_CONTRAST  # black ink on the dark scheme
