"""Check the built site: internal links and anchors resolve, and nothing is loaded from another host.

Usage: python scripts/check_site.py site

- every `href`/`src` of the HTML pages that points inside the site resolves to a file, and a `#fragment`
  to an element with that id on the target page;
- no page loads anything from another host (scripts, stylesheets, images, fonts, frames), and no
  stylesheet imports or points `url(...)` at another host: the guide works offline and tells no third party
  who reads it. Plain `<a href>` links to other sites are fine (they are not requests);
- every page of the nav was built, and the math and font assets are there.

Exits 1 with one line per problem (file and what is wrong), 0 when the site is clean.
"""

from __future__ import annotations

import os
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

RESOURCE_ATTRS = {
    "script": "src",
    "img": "src",
    "iframe": "src",
    "source": "src",
    "audio": "src",
    "video": "src",
    "embed": "src",
    "object": "data",
}
FETCHED_LINK_RELS = {"stylesheet", "preload", "prefetch", "icon", "modulepreload", "manifest", "preconnect"}
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)|@import\s+['"]([^'"]+)['"]""")


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []  # <a href>: navigation, must resolve if internal
        self.resources: list[str] = []  # fetched when the page loads

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and "name" in a:
            self.ids.add(a["name"])
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        elif tag == "link" and "href" in a:
            rels = set(a.get("rel", "").lower().split())
            (self.resources if rels & FETCHED_LINK_RELS else self.links).append(a["href"])
        elif tag in RESOURCE_ATTRS and RESOURCE_ATTRS[tag] in a:
            self.resources.append(a[RESOURCE_ATTRS[tag]])
        if "srcset" in a:
            self.resources += [part.split()[0] for part in a["srcset"].split(",") if part.strip()]
        if "style" in a:
            self.resources += [m[0] or m[1] for m in CSS_URL.findall(a["style"])]


def is_external(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.scheme in ("http", "https") or url.startswith("//"))


def skip(url: str) -> bool:
    return urlsplit(url).scheme in ("mailto", "data", "javascript", "tel", "blob")


def site_base_path() -> str:
    """The path part of the site's URL (`/llmguide/`): absolute links in the pages start with it."""
    url = os.environ.get("SITE_URL")
    if not url:
        config = (Path(__file__).parents[1] / "mkdocs.yml").read_text("utf8")
        match = re.search(r"^site_url:.*?(https?://[^\s\"']+)", config, re.MULTILINE)
        url = match[1] if match else "/"
    return urlsplit(url).path or "/"


def resolve(site: Path, page: Path, url: str) -> Path:
    path = unquote(urlsplit(url).path)
    base = site_base_path()
    if path.startswith(base):
        path = "/" + path[len(base) :]
    target = (site / path.lstrip("/")) if path.startswith("/") else (page.parent / path)
    target = Path(*target.parts)  # keep as given; resolve() below normalises ".."
    if url.split("#")[0].endswith("/") or target.is_dir():
        target = target / "index.html"
    return target.resolve()


def check(site: Path) -> list[str]:
    site = site.resolve()
    problems: list[str] = []
    pages: dict[Path, Page] = {}
    for html in sorted(site.rglob("*.html")):
        parser = Page()
        parser.feed(html.read_text("utf8"))
        pages[html.resolve()] = parser
    if not pages:
        return [f"{site}: no HTML pages: was the site built?"]

    for html, page in pages.items():
        rel = html.relative_to(site)
        for url in page.resources:
            if skip(url):
                continue
            if is_external(url):
                problems.append(f"{rel}: loads {url} from another host")
            elif not resolve(site, html, url).exists():
                problems.append(f"{rel}: loads {url}, which is not in the site")
        for url in page.links:
            if skip(url) or is_external(url):
                continue
            base, fragment = urldefrag(url)
            target = html if not base else resolve(site, html, base)
            if not target.exists():
                problems.append(f"{rel}: link to {url}: no such file in the site")
                continue
            if fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else set()
                if unquote(fragment) not in ids:
                    problems.append(f"{rel}: link to {url}: no element with id '{fragment}' on that page")

    for css in sorted(site.rglob("*.css")):
        for m in CSS_URL.findall(css.read_text("utf8", errors="replace")):
            url = m[0] or m[1]
            if is_external(url):
                problems.append(f"{css.relative_to(site)}: points at {url} on another host")

    for required in ("index.html", "assets/katex/katex.min.js", "search/search_index.json"):
        if not (site / required).exists():
            problems.append(f"{required}: missing from the built site")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python scripts/check_site.py SITE_DIR", file=sys.stderr)
        return 2
    site = Path(argv[0])
    if not site.is_dir():
        print(f"check_site: {site} is not a folder: build the site first (make build)", file=sys.stderr)
        return 2
    problems = check(site)
    for problem in problems:
        print(f"check_site: {problem}", file=sys.stderr)
    n_pages = len(list(site.rglob("*.html")))
    if problems:
        print(f"check_site: {len(problems)} problem(s) in {n_pages} pages", file=sys.stderr)
        return 1
    print(f"check_site: {n_pages} pages, every internal link and anchor resolves, no request to another host")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
