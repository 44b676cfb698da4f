"""Open every page of the built site in headless Chromium and check what a reader's browser does.

Usage: python scripts/browser_check.py site

For each HTML page, served from 127.0.0.1, Chromium loads the page with its scripts and writes a network log:
- every request the page makes (scripts, styles, fonts, images, the search index) goes to the site itself:
  the guide works offline and tells no third party who reads it (requests Chromium makes for its own
  sake, such as update checks, are not the page's and are ignored);
- on a page with math, KaTeX really typeset it (the rendered DOM holds `.katex` elements).

Exits 0 when every page passes, 1 with a line per problem, and 3 when no Chromium or Chrome is installed
(`make test` then skips the check with a notice, unless REQUIRE_BROWSER=1, as CI sets it).
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=5000",
    "--dump-dom",
]


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def page_requests(netlog: Path, origin: str) -> list[str]:
    """URLs of the requests the page itself started (their initiator is the site's origin)."""
    data = json.loads(netlog.read_text("utf8", errors="replace") or "{}")
    names = {v: k for k, v in data.get("constants", {}).get("logEventTypes", {}).items()}
    urls = []
    for event in data.get("events", []):
        params = event.get("params") or {}
        if names.get(event.get("type")) == "URL_REQUEST_START_JOB" and params.get("initiator") == origin:
            urls.append(params["url"])
    return urls


def check_page(browser: str, url: str, origin: str, html_source: str, work: Path) -> list[str]:
    netlog = work / "net.json"
    with tempfile.TemporaryDirectory(dir=work) as profile:
        result = subprocess.run(
            [browser, *FLAGS, f"--user-data-dir={profile}", f"--log-net-log={netlog}", url],
            capture_output=True,
            text=True,
            timeout=120,
        )
    problems = []
    if result.returncode != 0:
        problems.append(f"{url}: the browser exited with {result.returncode}: {result.stderr[-300:]}")
    for request in page_requests(netlog, origin):
        if f"{urlsplit(request).scheme}://{urlsplit(request).netloc}" != origin:
            problems.append(f"{url}: the page requested {request} from another host")
    if 'class="arithmatex"' in html_source and 'class="katex"' not in result.stdout:
        problems.append(f"{url}: the page has math, but KaTeX did not typeset it")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("usage: python scripts/browser_check.py SITE_DIR (build the site first)", file=sys.stderr)
        return 2
    site = Path(argv[0]).resolve()
    browser = find_browser()
    if browser is None:
        print(f"browser_check: no Chromium found (tried {', '.join(BROWSERS)})", file=sys.stderr)
        return 3
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    problems: list[str] = []
    pages = sorted(p for p in site.rglob("*.html") if p.name != "404.html")
    try:
        with tempfile.TemporaryDirectory() as work:
            for page in pages:
                rel = page.relative_to(site).as_posix()
                url = f"{origin}/{rel[: -len('index.html')] if rel.endswith('index.html') else rel}"
                problems += check_page(browser, url, origin, page.read_text("utf8"), Path(work))
    finally:
        server.shutdown()
    for problem in problems:
        print(f"browser_check: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(
        f"browser_check: {len(pages)} pages opened in {Path(browser).name}: every request stayed on the site, math typeset"
    )
    return 0


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
