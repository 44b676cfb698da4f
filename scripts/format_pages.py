"""Format the runnable Python blocks of the guide's pages with `ruff format`, in place.

    .venv/bin/python scripts/format_pages.py                 # every page under docs/
    .venv/bin/python scripts/format_pages.py docs/memory.md  # one page

The rules are the package's (`pyproject.toml`); output lines (`#>`, `#~`, `#?`) are kept as they are. The page
lint (`pytest docs/PAGE.md`) fails on a block this would change, and on `ruff check` findings in the blocks.
"""

from __future__ import annotations

import sys
from pathlib import Path

from llmguide_docs.lint import format_page

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    pages = [Path(a) for a in argv] or sorted((ROOT / "docs").rglob("*.md"))
    for page in pages:
        if not page.is_file():
            print(f"format_pages: no such page: {page}", file=sys.stderr)
            return 2
        text = page.read_text("utf8")
        new = format_page(text)
        if new != text:
            page.write_text(new, "utf8")
            print(f"formatted {page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
