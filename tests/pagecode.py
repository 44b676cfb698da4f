"""ruff on the code readers copy: the runnable Python blocks of a page, checked and formatted like the package.

The same rules as `pyproject.toml`'s `[tool.ruff]`, with one exception for pages: `E402` (an import after
other code), since a block that continues another may import what it needs where it needs it. A block that
continues others is checked together with them, so that names they define are known.

Output lines (`#>`, `#~`, `#?`) are comments to ruff, which would rewrite them as `# >`: they are swapped
for placeholders while ruff runs and swapped back after.

- `check_page(path, text)` returns problems as `page:line: message`, for the page's lint item.
- `format_page(text)` returns the page with every runnable block's imports sorted and the block formatted
  (`scripts/format_pages.py`).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from docblocks import PYTHON_LANGS, collected_fence_lines, scan_fences

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "pyproject.toml"
PAGE_IGNORES = ["E402"]
_OUT = re.compile(r"^(\s*)#([>~?])( |$)")
_PLACEHOLDER = re.compile(r"^(\s*)# @([>~?])( |$)")


@dataclass
class Block:
    first: int  # 1-based page line of the block's first code line
    body: list[str]
    continuation: bool


def ruff_exe() -> str | None:
    return shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")


def page_blocks(text: str) -> list[Block]:
    collected = collected_fence_lines(text)
    return [
        Block(f.line + 1, f.body, "continuation" in f.options)
        for f in scan_fences(text)
        if f.lang in PYTHON_LANGS and f.line in collected and not f.notest
    ]


def _hide(lines: list[str]) -> list[str]:
    return [_OUT.sub(r"\1# @\2\3", line) for line in lines]


def _show(lines: list[str]) -> list[str]:
    return [_PLACEHOLDER.sub(r"\1#\2\3", line) for line in lines]


def _ruff(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    exe = ruff_exe()
    assert exe, "ruff is missing: run `make test` (it installs the test extras)"
    return subprocess.run(
        [exe, *args, "--config", str(CONFIG), "--no-cache"], cwd=cwd, capture_output=True, text=True
    )


def check_page(path: Path, text: str) -> list[str]:
    """ruff check and ruff format --check on the page's runnable blocks, as `page:line: message` lines."""
    blocks = page_blocks(text)
    if not blocks:
        return []
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # ruff check: one file per chain (a block and the blocks it continues), lines mapped back to the page.
        chains: list[list[Block]] = []
        for block in blocks:
            if block.continuation and chains:
                chains[-1].append(block)
            else:
                chains.append([block])
        where: dict[str, list[int]] = {}
        for n, chain in enumerate(chains):
            lines: list[str] = []
            mapping: list[int] = []
            for block in chain:
                lines += [*_hide(block.body), ""]
                mapping += [block.first + i for i in range(len(block.body))] + [block.first + len(block.body)]
            name = f"chain{n}.py"
            (folder / name).write_text("\n".join(lines), "utf8")
            where[name] = mapping
        result = _ruff(
            ["check", "--output-format", "json", "--extend-ignore", ",".join(PAGE_IGNORES), "."], folder
        )
        for item in json.loads(result.stdout or "[]"):
            name = Path(item["filename"]).name
            line = where[name][item["location"]["row"] - 1]
            problems.append(f"{path}:{line}: ruff {item['code']}: {item['message']}")
        # ruff format: one file per block, formatted in place and compared (a block is formatted on its own).
        for block, formatted in zip(blocks, _formatted(blocks, folder), strict=True):
            if formatted != _hide(block.body):
                problems.append(
                    f"{path}:{block.first}: this block is not formatted as `ruff format` would; run "
                    f"`.venv/bin/python scripts/format_pages.py {path}`"
                )
    return sorted(problems, key=lambda p: int(p.split(":")[1]))


def _formatted(blocks: list[Block], folder: Path) -> list[list[str]]:
    """Each block with its imports sorted and formatted as ruff writes it (output lines still hidden)."""
    names = [f"block{block.first}.py" for block in blocks]
    for name, block in zip(names, blocks, strict=True):
        (folder / name).write_text("\n".join(_hide(block.body)) + "\n", "utf8")
    # Sort imports, as `ruff check` wants them, then format.
    _ruff(["check", "--select", "I", "--fix", "--quiet", *names], folder)
    _ruff(["format", *names], folder)
    return [(folder / name).read_text("utf8").rstrip("\n").split("\n") for name in names]


def format_page(text: str) -> str:
    """The page with every runnable Python block replaced by `ruff format`'s version of it."""
    lines = text.split("\n")
    blocks = page_blocks(text)
    if not blocks:
        return text
    with tempfile.TemporaryDirectory() as tmp:
        formatted = _formatted(blocks, Path(tmp))
    for block, new in reversed(list(zip(blocks, formatted, strict=True))):  # bottom up: line numbers hold
        start = block.first - 1
        lines[start : start + len(block.body)] = _show(new)
    return "\n".join(lines)
