"""The pages for contributors agree with the tools (issue 27).

- every `make TARGET` that docs/contributing.md, README.md, CONTRIBUTING.md or the pull-request template
  names is listed by `make help`;
- their commands work as written from a fresh clone after the set-up: Python runs as `.venv/bin/python`
  (a bare `python` or `pytest` is the system's, without the project's packages), and every script, test file
  and folder they name exists;
- every checklist item marked tested names the test file that checks it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [
    ROOT / "docs" / "contributing.md",
    ROOT / "README.md",
    ROOT / "CONTRIBUTING.md",
    ROOT / ".github" / "pull_request_template.md",
]
CODE_SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")


def commands(text: str) -> list[tuple[int, str]]:
    """(line, command) for each code span and each line of a bash/shell fence: what a reader would type."""
    found = []
    in_shell = in_other = False
    for n, line in enumerate(text.split("\n"), start=1):
        fence = re.match(r"^\s*(`{3,}|~{3,})\s*(\S*)", line)
        if fence and not (in_shell or in_other):
            in_shell = fence[2] in ("bash", "sh", "shell", "console")
            in_other = not in_shell
            continue
        if fence:
            in_shell = in_other = False
            continue
        if in_shell:
            found.append((n, line.split("#")[0].strip()))
        elif not in_other:
            found += [(n, span.strip()) for span in CODE_SPAN.findall(line)]
    return [(n, c) for n, c in found if c]


def help_targets() -> set[str]:
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return {"help"} | set(re.findall(r"^make ([a-z][a-z-]*)", out, re.M))


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_make_target_named_is_in_make_help(page: Path):
    listed = help_targets()
    assert {"serve", "test", "page", "check-site", "setup"} <= listed
    named = [
        (n, m[1]) for n, c in commands(page.read_text("utf8")) if (m := re.match(r"^make ([a-z][a-z-]*)", c))
    ]
    missing = [f"{page.relative_to(ROOT)}:{n}: make {t}" for n, t in named if t not in listed]
    assert not missing, f"targets named but not listed by `make help`: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_commands_run_from_a_fresh_clone(page: Path):
    bare = [
        f"{page.relative_to(ROOT)}:{n}: `{c}`"
        for n, c in commands(page.read_text("utf8"))
        if re.match(r"^(python3?|pytest|mkdocs|ruff)\s+\S*(/|\.py\b|\.md\b)", c)  # run on a file: a command
    ]
    assert not bare, f"write `.venv/bin/python ...` (or `.venv/bin/python -m pytest ...`): {bare}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_files_named_exist(page: Path):
    text = page.read_text("utf8")
    named = set(re.findall(r"\b((?:scripts|tests|benchmarks)/[\w./-]+\.(?:py|sh))\b", text))
    missing = sorted(
        p for p in named if not (ROOT / p).is_file() and "your" not in p
    )  # your_module: a pattern
    assert not missing, f"{page.relative_to(ROOT)} names files that do not exist: {missing}"


def test_every_tested_item_names_its_test_file():
    text = (ROOT / "docs" / "contributing.md").read_text("utf8")
    marks = [(text[: m.start()].count("\n") + 1, m[1]) for m in re.finditer(r"\(tested\b([^)]*)\)", text)]
    assert marks, "the checklist marks the items the tests enforce"
    unnamed = [n for n, inside in marks if not re.search(r"tests/\w+\.py", inside)]
    assert not unnamed, f"docs/contributing.md: lines {unnamed} say (tested) without naming the test file"
    for _, inside in marks:
        for name in re.findall(r"tests/\w+\.py", inside):
            assert (ROOT / name).is_file(), name


def test_the_checks_can_fail():
    sample = (
        "Run `python scripts/format_pages.py x` or `make nothing-here`.\n\n```bash\nmake test   # all\n"
        "pytest docs/x.md\n```\n\n```python\nprint('python here is code, not a command')\n```\n"
    )
    found = commands(sample)
    assert (1, "python scripts/format_pages.py x") in found and (1, "make nothing-here") in found
    assert (4, "make test") in found and (5, "pytest docs/x.md") in found
    assert not any("print" in c for _, c in found)
