"""A page's rules, checked without running it: `problems` (skipped or unexplained fences, malformed output
lines, control characters, figures no block draws, ...), `ruff_problems` and `format_page` (ruff on the code
readers copy) and `unprinted_numbers` (numbers in the prose that no block prints: a warning)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from llmguide_docs import pages
from llmguide_docs.outputs import EXAMPLE, MEASURED, MalformedOutput, parse_output_line

NOTEST_REASON = re.compile(r"^#\s*not run by the tests:\s*\S", re.IGNORECASE)
LEGEND = "index.md#reading-the-outputs"
CONTROL_CHARACTERS = frozenset(map(chr, range(32))) - {"\n"}
RUFF_OPTIONS = ["--config", str(Path(__file__).resolve().parents[2] / "pyproject.toml"), "--no-cache"]
_OUT = re.compile(r"^(\s*)#([>~?])( |$)")
_PLACEHOLDER = re.compile(r"^(\s*)# @([>~?])( |$)")


def problems(path: Path, text: str, *, figures: bool = True) -> list[str]:
    """The problems of one page (or docstring), each as `path:line: message`."""
    found = []
    python = [f for f in pages.fences(text) if f.lang in pages.PYTHON]
    runnable = [f for f in python if f.runs]
    for f in python:
        if not f.collected:
            found.append(
                f"{path}:{f.line}: this Python fence would be silently skipped by the tests (indented "
                f"{f.indent} spaces, as under `!!!`, `===` or a list): put it at column 0, in `/// note` or "
                "`/// tab | Title` blocks for admonitions and tabs."
            )
        if not f.info.startswith("{") and any("=" not in w for w in f.info.split()[1:]):
            found.append(
                f"{path}:{f.line}: attribute form `{f.info}` renders as garbage in mkdocs-material; use the "
                "brace form, e.g. ```` ```{.python continuation} ```` or ```` ```{.python notest} ````."
            )
        if f.notest and not (f.body and NOTEST_REASON.match(f.body[0].strip())):
            found.append(
                f"{path}:{f.line}: a block that is not run must say why in its first line: "
                "`# Not run by the tests: <reason>`."
            )
    if python and not runnable:
        found.append(f"{path}:1: every Python block of this page is skipped: at least one must run.")
    if runnable and "continuation" in runnable[0].options:
        found.append(f"{path}:{runnable[0].line}: the first Python block of a page cannot be a continuation.")
    kinds = set()
    for n, raw in pages.output_lines(text):
        try:
            kinds.add(parse_output_line(n, raw).kind)
        except MalformedOutput as exc:
            found.append(f"{path}:{n}: malformed output line: {exc}")
    if kinds & {MEASURED, EXAMPLE} and path.name != "index.md" and LEGEND not in text:
        found.append(
            f"{path}:1: this page shows measured (`#~`) or example (`#?`) output: link the explanation of the "
            f"prefixes, `[...]({LEGEND})`, so that readers know which numbers vary between machines."
        )
    for n, line in enumerate(text.split("\n"), start=1):
        if bad := sorted({f"U+{ord(c):04X}" for c in line if c in CONTROL_CHARACTERS}):
            found.append(
                f"{path}:{n}: control character {', '.join(bad)}: an escape of a non-raw string that ate a "
                "backslash (`\\t` of `\\text`, `\\f` of `\\frac`)? Write the characters, and spaces for tabs."
            )
    shown, drawn = pages.figures(text) if figures else ([], {})
    for n, m in shown:
        if m["name"] not in drawn:
            found.append(
                f"{path}:{n}: the page shows figures/{m['name']}.svg but none of its blocks draws it with "
                f'`save_figure(fig, "{m["name"]}")`.'
            )
    return found


# Numbers in the prose that no block prints

NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
PROSE_NUMBER = re.compile(rf"(?<![\w.^]){NUMBER.pattern}")
ALLOW_COMMENT = re.compile(r"<!--\s*prose numbers:(?P<numbers>.*?)-->", re.S)
_SKIP_SPANS = re.compile(
    r"`[^`]*`|\$\$.*?\$\$|\$[^$]*\$|\]\([^)]*\)|<[^>]*>|https?://\S+|arXiv:\s*\S+|doi:\s*\S+", re.S | re.I
)


class ProseNumberWarning(UserWarning):
    """A number in a page's prose that none of its blocks prints or computes."""


def unprinted_numbers(text: str) -> list[tuple[int, str]]:
    """(line, number) for each number in the prose that appears in no Python block or output of the page.

    Not counted: integers up to 10 and years (1900 to 2099), numbers in code spans, math, links, HTML and
    footnote definitions, and those listed in a comment `<!-- prose numbers: 1997 50,257 -->` on the page
    (numbers quoted from a cited source, say).
    """
    code = "\n".join("\n".join(f.body) for f in pages.fences(text) if f.lang in pages.PYTHON)
    allowed = " ".join(m["numbers"] for m in ALLOW_COMMENT.finditer(text)).split()
    known = {n.replace(",", "").rstrip(".") for n in [*NUMBER.findall(code), *allowed]}
    fenced = pages.fenced_lines(text)
    found, in_footnote = [], False
    for n, line in enumerate(text.split("\n"), start=1):
        # A footnote definition and its indented continuation lines cite a source: not the page's claims.
        in_footnote = bool(re.match(r"\[\^[^\]]+\]:", line)) or (in_footnote and line.startswith("    "))
        if n in fenced or in_footnote:
            continue
        for number in PROSE_NUMBER.findall(_SKIP_SPANS.sub(" ", line)):
            value = number.replace(",", "").rstrip(".")
            small_or_year = "." not in value and (int(value) <= 10 or 1900 <= int(value) <= 2099)
            if value not in known and not small_or_year:
                found.append((n, number))
    return found


# ruff on the pages' code, with the package's rules but `E402` allowed (a continuation imports where it
# needs), and the output lines hidden from ruff, which would rewrite `#>` as `# >`.


def ruff_exe() -> str | None:
    return shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")


def _hide(lines: list[str]) -> list[str]:
    return [_OUT.sub(r"\1# @\2\3", line) for line in lines]


def _ruff(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    exe = ruff_exe()
    assert exe, "ruff is missing: run `make test` (it installs the test extras)"
    return subprocess.run([exe, *args, *RUFF_OPTIONS], cwd=cwd, capture_output=True, text=True)


def ruff_problems(path: Path, text: str) -> list[str]:
    """ruff check and ruff format --check on the page's runnable blocks, as `page:line: message` lines."""
    blocks = [f for f in pages.fences(text) if f.runs]
    if not blocks:
        return []
    # ruff check: one file per chain (a block and the blocks it continues), each block at its own lines and
    # blank lines between, so that ruff's rows are the page's lines.
    chains: list[list[str]] = []
    for f in blocks:
        if "continuation" not in f.options or not chains:
            chains.append([])
        chains[-1] += [""] * (f.line - len(chains[-1])) + _hide(f.body)
    with tempfile.TemporaryDirectory() as tmp:
        for i, chain in enumerate(chains):
            (Path(tmp) / f"chain{i}.py").write_text("\n".join(chain) + "\n", "utf8")
        result = _ruff(["check", "--output-format", "json", "--extend-ignore", "E402", "."], Path(tmp))
    reported = json.loads(result.stdout or "[]")
    found = [f"{path}:{p['location']['row']}: ruff {p['code']}: {p['message']}" for p in reported]
    formatted = [f.body for f in pages.fences(format_page(text)) if f.runs]
    for f, body in zip(blocks, formatted, strict=True):
        if body != f.body:
            found.append(
                f"{path}:{f.line + 1}: this block is not formatted as `ruff format` would; run "
                f"`.venv/bin/python scripts/format_pages.py {path}`"
            )
    return sorted(found, key=lambda p: int(p.split(":")[1]))


def format_page(text: str) -> str:
    """The page with every runnable Python block as `ruff format` writes it, its imports sorted as ruff check
    wants; each block on its own."""
    lines = text.split("\n")
    blocks = [f for f in pages.fences(text) if f.runs]
    with tempfile.TemporaryDirectory() as tmp:
        for f in blocks:
            (Path(tmp) / f"block{f.line}.py").write_text("\n".join(_hide(f.body)) + "\n", "utf8")
        _ruff(["check", "--select", "I", "--fix", "--quiet", "."], Path(tmp))
        _ruff(["format", "."], Path(tmp))
        for f in reversed(blocks):  # bottom up: line numbers hold
            new = (Path(tmp) / f"block{f.line}.py").read_text("utf8").rstrip("\n").split("\n")
            lines[f.line : f.line + len(f.body)] = [_PLACEHOLDER.sub(r"\1#\2\3", line) for line in new]
    return "\n".join(lines)
