"""Open every page of the built site in a real browser: the Playwright tests of tests/site_in_browser.py.

Usage: python scripts/browser_check.py site [pytest options]

Runs `pytest tests/site_in_browser.py` on the built site (LLMGUIDE_SITE), driving the system's Chromium or
Chrome through Playwright: no console error, no request to another host, math typeset, every image decoded,
search finding each chapter, the dark scheme with readable figures, and every chapter's notebook download
(the test file's docstring has the list). Where no Chromium or Chrome is installed the tests are skipped with
a notice, and the exit status is 0, unless REQUIRE_BROWSER=1 (CI sets it), where that fails.

Exits with pytest's status, and 2 when SITE_DIR is not a built site.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    if not argv or not (Path(argv[0]) / "index.html").is_file():
        print(
            "usage: python scripts/browser_check.py SITE_DIR [pytest options] (build the site first)",
            file=sys.stderr,
        )
        return 2
    env = {**os.environ, "LLMGUIDE_SITE": str(Path(argv[0]).resolve())}
    # Without the project's addopts: pytest-markdown-docs would import the file a second time for its docstrings.
    options = ["-p", "no:cacheprovider", "-o", "addopts=-ra --strict-markers"]
    command = [sys.executable, "-m", "pytest", str(ROOT / "tests" / "site_in_browser.py"), *options]
    return subprocess.call([*command, *argv[1:]], cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
