"""The built site in a real browser: Playwright driving the system's Chromium (no browser download).

Run after the build, on the built site (`make test` and `make check-site` do, through
`scripts/browser_check.py site`): `pytest tests/site_in_browser.py` with LLMGUIDE_SITE pointing at the site
(default `site/`). The file is not named `test_*.py`, so the unit-test run, which comes before the build, does
not collect it. Every page is served from 127.0.0.1 and opened in headless Chromium:

- no console error and no uncaught exception;
- no request to another host: the guide works offline and tells no third party who reads it (requests the
  browser makes for its own sake, such as update checks, are not the page's and never reach these handlers);
- the math is typeset: every `.arithmatex` element (the pages' math, and the notebook pages' after
  llmguide_docs/hooks.py) holds KaTeX's output, KaTeX reported no error, and no `$...$` is left raw in a
  notebook's Markdown cell; a page whose source has math (a Markdown page marked up by arithmatex, a
  notebook whose Markdown cells hold `$...$`) shows typeset math, and a page without any is not asked for it
  (a `$` in the HTML is no sign: mkdocs-jupyter's CSS has `content:"$"`);
- every image is decoded;
- search: a query for each chapter's key term lists that chapter, and one for the solutions lists them all;
- the palette toggle switches to the dark scheme and back, and the figures keep their contrast in the dark;
- every chapter's notebook link downloads a valid notebook made from that chapter.

Where no Chromium or Chrome is installed the whole file is skipped with a notice, unless REQUIRE_BROWSER=1
(CI sets it), where that is a failure.
"""

from __future__ import annotations

import functools
import http.server
import io
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("LLMGUIDE_SITE") or ROOT / "site").resolve()
# The sources the site was built from (a planted site's own, in tests/test_browser_check.py).
DOCS = Path(os.environ.get("LLMGUIDE_DOCS") or ROOT / "docs").resolve()
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = next((path for name in BROWSERS if (path := shutil.which(name))), None)
# A chapter's key term, and a query that finds the solutions pages.
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
SOLUTIONS_QUERY = "Exercises, solved"
MIN_CONTRAST = 4.5  # WCAG AA for text: ink against the figure's own background

if BROWSER is None:
    if os.environ.get("REQUIRE_BROWSER"):
        pytest.fail(
            f"REQUIRE_BROWSER is set, but no Chromium or Chrome is installed (tried {BROWSERS})",
            pytrace=False,
        )
    pytest.skip(
        f"browser check skipped: no Chromium or Chrome installed (tried {', '.join(BROWSERS)}); CI runs it",
        allow_module_level=True,
    )
if not (SITE / "index.html").is_file():
    pytest.fail(f"no built site at {SITE}: build it first (make build)", pytrace=False)

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright  # noqa: E402

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
        b = p.chromium.launch(executable_path=BROWSER, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


class Visit:
    """One page, opened in a new tab of the session's browser context, with what it logged and requested."""

    def __init__(self, context: BrowserContext, origin: str) -> None:
        self.origin = origin
        self.errors: list[str] = []
        self.foreign: list[str] = []
        self.page: Page = context.new_page()
        self.page.on(
            "console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

    def open(self, rel: str) -> Page:
        url = f"{self.origin}/{rel[: -len('index.html')] if rel.endswith('index.html') else rel}"
        self.page.goto(url, wait_until="load")  # scripts have run: KaTeX typesets on DOMContentLoaded
        return self.page


@pytest.fixture(scope="session")
def context(browser: Browser, origin: str) -> Iterator[tuple[BrowserContext, list[Visit]]]:
    """One browser context for the session (a new tab per test); every request goes through `route`."""
    context = browser.new_context(accept_downloads=True)
    current: list[Visit] = []

    def route(route) -> None:
        parts = urlsplit(route.request.url)
        if parts.scheme in ("http", "https") and f"{parts.scheme}://{parts.netloc}" != origin:
            if current:
                current[-1].foreign.append(route.request.url)
            route.abort()  # offline: never wait on another host
        else:
            route.continue_()

    context.route("**/*", route)
    context.add_init_script(
        "try { localStorage.clear() } catch (e) {}"
    )  # each page starts in the light scheme
    yield context, current
    context.close()


@pytest.fixture
def visit(context: tuple[BrowserContext, list[Visit]], origin: str) -> Iterator[Visit]:
    browser_context, current = context
    v = Visit(browser_context, origin)
    current.append(v)
    try:
        yield v
    finally:
        current.remove(v)
        v.page.close()


# Every element of a page with math, typeset; the notebook cells with no raw `$...$` left.
_MATH = """() => {
  const math = [...document.querySelectorAll('.arithmatex')];
  const raw = math.filter(e => !e.querySelector('.katex')).map(e => e.textContent.slice(0, 60));
  const errors = [...document.querySelectorAll('.katex-error')].map(e => e.textContent.slice(0, 60));
  const cells = [...document.querySelectorAll('.jupyter-wrapper .jp-RenderedMarkdown')];
  const dollars = cells.flatMap(c => {
    const copy = c.cloneNode(true);
    copy.querySelectorAll('.katex, code, pre').forEach(e => e.remove());
    return (copy.textContent.match(/\\$[^$\\s][^$]*\\$/g) || []).map(m => m.slice(0, 60));
  });
  return {count: math.length, raw, errors, dollars};
}"""

_IMAGES = """async () => Promise.all([...document.images].map(async img => {
  try { await img.decode(); } catch (e) { return img.currentSrc || img.src; }
  return img.naturalWidth > 0 ? null : (img.currentSrc || img.src);
}))"""


def source_has_math(rel: str, html: str) -> bool:
    """Whether the source of a built page has math: arithmatex's markup, or `$...$` in a notebook's cells."""
    if 'class="arithmatex"' in html:
        return True
    if "jupyter-wrapper" not in html:
        return False
    source = DOCS / f"{rel[: -len('/index.html')]}.ipynb"  # solutions/NAME/index.html <- solutions/NAME.ipynb
    if not source.is_file():
        return False
    import nbformat

    from llmguide_docs.hooks import notebook_math  # the hook that wraps it decides what is math

    return bool(notebook_math(nbformat.read(source, as_version=4)))


def check_notebook_download(page: Page, stem: str) -> None:
    """The chapter's link right under its title downloads a valid notebook made from that chapter."""
    import nbformat

    link = page.locator(f"a[download][href$='notebooks/{stem}.ipynb']")
    assert link.count() == 1, f"{stem}: one download link to its notebook"
    assert link.bounding_box()["y"] < page.locator("h1").bounding_box()["y"] + 200  # right under the title
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename == f"{stem}.ipynb"
    text = Path(download.path()).read_text("utf8")
    assert json.loads(text)["nbformat"] == 4
    nb = nbformat.reads(text, as_version=4)
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
    if has_math:
        assert math["count"] > 0, (
            f"{rel}: the page's source has math, but the page has no typeset math element"
        )
    broken = [src[:80] for src in page.evaluate(_IMAGES) if src]
    assert not broken, f"{rel}: images that did not decode: {broken}"
    stem = rel.split("/")[0]
    if stem in CHAPTERS and rel == f"{stem}/index.html":  # a chapter: its notebook downloads
        check_notebook_download(page, stem)
    if rel.startswith("solutions/"):  # a notebook page: its Markdown cells' math, and its figures' outputs
        if has_math:
            assert page.locator(".jupyter-wrapper .arithmatex .katex").count() > 0, rel
        assert page.locator(".jupyter-wrapper .jp-OutputArea-output img").count() > 0, rel


@pytest.fixture(scope="module")
def search_page(context: tuple[BrowserContext, list[Visit]], origin: str) -> Iterator[Page]:
    """The front page, opened once for every query: the search index loads once."""
    v = Visit(context[0], origin)
    page = v.open("index.html")
    yield page
    page.close()


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
    paths = _search(search_page, SOLUTIONS_QUERY)
    found = {stem for stem in CHAPTERS for p in paths if p.rstrip("/").endswith(f"solutions/{stem}")}
    assert found == set(CHAPTERS), paths


def figure_contrast(png: bytes) -> float:
    """WCAG contrast ratio between a figure's background (its median luminance) and its darkest ink.

    The ink is the darkest half percent of the pixels: axes, lines and labels. A figure drawn with dark ink on
    a transparent background, shown on the dark scheme, has both dark: a ratio near 1.
    """
    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float) / 255
    linear = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    luminance = (linear @ np.array([0.2126, 0.7152, 0.0722])).ravel()
    background, ink = np.median(luminance), np.quantile(luminance, 0.005)
    light, dark = max(background, ink), min(background, ink)
    return float((light + 0.05) / (dark + 0.05))


@pytest.mark.parametrize("rel", ["temperature/index.html", "solutions/temperature/index.html"])
def test_dark_mode_switches_the_scheme_and_keeps_figures_readable(visit: Visit, rel: str):
    page = visit.open(rel)
    scheme = lambda: page.evaluate("document.body.getAttribute('data-md-color-scheme')")  # noqa: E731
    assert scheme() == "default"
    page.locator("label[title='Switch to dark mode']").first.click()
    page.wait_for_function("document.body.getAttribute('data-md-color-scheme') === 'slate'")
    figures = page.locator(".md-content img")
    assert figures.count() > 0
    for i in range(figures.count()):
        figure = figures.nth(i)
        figure.scroll_into_view_if_needed()
        contrast = figure_contrast(figure.screenshot())
        assert contrast >= MIN_CONTRAST, f"{rel}: figure {i} has contrast {contrast:.1f} in the dark scheme"
    page.locator("label[title='Switch to light mode']").first.click()
    page.wait_for_function("document.body.getAttribute('data-md-color-scheme') === 'default'")


def test_the_contrast_check_can_fail():
    from PIL import Image

    def png(background: tuple[int, int, int], ink: tuple[int, int, int]) -> bytes:
        image = Image.new("RGB", (100, 100), background)
        for x in range(100):
            for y in (10, 50, 90):
                image.putpixel((x, y), ink)
        out = io.BytesIO()
        image.save(out, "PNG")
        return out.getvalue()

    assert figure_contrast(png((255, 255, 255), (0, 0, 0))) > 20  # black on white
    assert figure_contrast(png((30, 33, 41), (0, 0, 0))) < MIN_CONTRAST  # black ink on the dark scheme
