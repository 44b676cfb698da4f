"""The docs harness: runs every Python block of the guide as a test and checks what it prints.

pytest-markdown-docs collects the fenced Python blocks of `docs/*.md` (and of docstrings). On its own it only
checks that a block does not raise. This plugin closes the gaps that matter for a guide whose pages show
output (see docs/contributing.md for the contributor's view):

1. **Printed output is checked.** Each top-level statement of a block that prints must be followed by
   `#> ` lines holding exactly what it printed. A statement that prints but shows nothing, or a stale `#>`
   line, fails with the page and line. `pytest --update-outputs` rewrites the `#>` lines of Markdown pages.
2. **Continuation blocks are not re-run.** The plugin's `continuation` re-executes every earlier block of the
   chain; here the namespace after each block is cached, so a continued block runs only its own statements
   (earlier blocks run again, silently, only when a block is selected on its own).
3. **A lint item per page** fails on Python fences the plugin would silently skip (indented under `!!!`,
   `===` or a list), on the bare attribute form (```` ```python notest ````), on a `notest` block that does
   not say why, on a page whose Python blocks are all skipped, on `continuation` with nothing to continue,
   and on a figure the page shows but none of its blocks draws.
4. **A per-page report** of how many blocks ran, failed and were deliberately not run.

Loaded from the repository's root `conftest.py`; it needs `--markdown-docs --markdown-docs-syntax=superfences`
(set in pyproject.toml).
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import io
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt
from pytest_markdown_docs import _runners, plugin
from pytest_markdown_docs.definitions import FenceTestDefinition

PYTHON_LANGS = {"python", "py", "python3"}
NOTEST_REASON = re.compile(r"^#\s*not run by the tests:\s*\S", re.IGNORECASE)
FIGURE_LINK = re.compile(r"!\[[^\]]*\]\((?:\./)?figures/([a-z0-9][a-z0-9-]*)\.svg\)")
OUTPUT_PREFIX = "#>"

_update_outputs = False


# ---------------------------------------------------------------------------------------------------------
# 1-2. Running a block: statement by statement, with output checks and a namespace cache
# ---------------------------------------------------------------------------------------------------------


class OutputMismatch(AssertionError):
    """A block printed something other than its `#>` lines say."""


@dataclass
class _Edit:
    """Replace the `#>` lines owned by one statement (update mode)."""

    delete: list[int]  # 1-based lines to delete
    insert_after: int  # 1-based line after which the new lines go
    lines: list[str]


_edits: dict[Path, list[_Edit]] = defaultdict(list)
# path -> (source of the last chain that ran to the end, its namespace)
_namespace_cache: dict[Path, tuple[str, dict[str, Any]]] = {}


def _expected_line(raw: str) -> str:
    text = raw.strip()[len(OUTPUT_PREFIX) :]
    return text[1:] if text.startswith(" ") else text


def _normalise(lines: list[str]) -> list[str]:
    lines = [line.rstrip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _check_statement(
    path: Path, stmt: ast.stmt, printed: str, expected: list[tuple[int, str]], src_lines: list[str]
) -> None:
    got = _normalise(printed.split("\n"))
    want = _normalise([_expected_line(raw) for _, raw in expected])
    if got == want:
        return
    if _update_outputs and path.suffix == ".md":
        insert_after = expected[0][0] - 1 if expected else stmt.end_lineno or stmt.lineno
        indent = ""
        new = [f"{indent}{OUTPUT_PREFIX} {line}".rstrip() for line in got]
        _edits[path].append(_Edit([n for n, _ in expected], insert_after, new))
        return
    where = expected[0][0] if expected else stmt.lineno
    if not expected:
        msg = (
            f"{path}:{stmt.lineno}: this statement prints output but the page shows no `#>` lines under it.\n"
            "Run `pytest PAGE --update-outputs` to write them, or stop printing.\n"
        )
    elif not got:
        msg = f"{path}:{where}: the page shows `#>` output, but the statement at line {stmt.lineno} prints nothing.\n"
    else:
        first = next(
            (i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b), min(len(want), len(got))
        )
        if first < len(expected):
            where = expected[first][0]
        msg = (
            f"{path}:{where}: stale output: the statement at line {stmt.lineno} prints something else than "
            "the `#>` lines shown.\nRun `pytest PAGE --update-outputs` to rewrite them, then review the diff.\n"
        )
    diff = "\n".join(difflib.unified_diff(want, got, "shown on the page", "printed now", lineterm=""))
    raise OutputMismatch(msg + diff)


class CheckedRunner(_runners.DefaultRunner):
    """Run a fence statement by statement, comparing each statement's stdout with its `#>` lines."""

    def runtest(self, test: FenceTestDefinition, args: dict[str, Any], *, asyncio_runner: Any = None) -> None:
        path = Path(test.source_path)
        filename = str(test.source_path)
        tree = ast.parse(test.source, filename=filename)
        src_lines = test.source.split("\n")
        first_line = test.start_line + 1  # 1-based line of the block's first code line
        earlier = [s for s in tree.body if s.lineno < first_line]
        own = [s for s in tree.body if s.lineno >= first_line]

        namespace = args
        if earlier:
            cached = _namespace_cache.get(path)
            block_offset = len("\n".join(src_lines[: test.start_line])) + 1
            if (
                cached is not None
                and test.source.startswith(cached[0])
                and not test.source[len(cached[0]) : block_offset].strip()
            ):
                namespace = dict(cached[1])
            else:  # selected on its own: run the blocks it continues, silently
                with contextlib.redirect_stdout(io.StringIO()):
                    for stmt in earlier:
                        self._exec(stmt, filename, namespace)

        owners: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for lineno in range(first_line, len(src_lines) + 1):
            raw = src_lines[lineno - 1]
            if raw.strip().startswith(OUTPUT_PREFIX):
                owner = next((s for s in reversed(own) if s.lineno <= lineno), None)
                if owner is None:
                    raise OutputMismatch(f"{path}:{lineno}: a `#>` output line comes before any statement.")
                owners[id(owner)].append((lineno, raw))

        _namespace_cache.pop(path, None)
        for stmt in own:
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                self._exec(stmt, filename, namespace)
            _check_statement(path, stmt, buffer.getvalue(), owners.get(id(stmt), []), src_lines)
        _namespace_cache[path] = (test.source, namespace)

    @staticmethod
    def _exec(stmt: ast.stmt, filename: str, namespace: dict[str, Any]) -> None:
        code = compile(ast.Module(body=[stmt], type_ignores=[]), filename, "exec", dont_inherit=True)
        exec(code, namespace)

    def repr_failure(self, test: FenceTestDefinition, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, OutputMismatch):
            return str(excinfo.value)
        text = super().repr_failure(test, excinfo, style)
        return f"{test.source_path}:{test.start_line}: this block raised an exception\n{text}"


_runners.register_runner(default=True)(CheckedRunner)


def _apply_edits() -> list[Path]:
    changed = []
    for path, edits in _edits.items():
        lines = path.read_text("utf8").split("\n")
        deleted = {n for e in edits for n in e.delete}
        inserts: dict[int, list[str]] = defaultdict(list)
        for e in edits:
            inserts[e.insert_after].extend(e.lines)
        out: list[str] = []
        for n, line in enumerate(lines, start=1):
            if n not in deleted:
                out.append(line)
            out.extend(inserts.get(n, []))
        path.write_text("\n".join(out), "utf8")
        changed.append(path)
    _edits.clear()
    return changed


# ---------------------------------------------------------------------------------------------------------
# 3. The lint item of each page
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Fence:
    line: int  # 1-based line of the opening fence
    indent: int
    info: str
    lang: str | None
    options: set[str]
    body: list[str] = field(default_factory=list)

    @property
    def notest(self) -> bool:
        return "notest" in self.options


def _parse_info(info: str) -> tuple[str | None, set[str]]:
    words = plugin.parse_superfences_block_info(info)
    return (words[0] if words else None), set(words[1:])


def scan_fences(text: str) -> list[Fence]:
    """Every fenced block of a Markdown text, at any indentation, as a line scanner sees it."""
    fences: list[Fence] = []
    opening = re.compile(r"^(?P<indent>[ \t]*)(?P<mark>`{3,}|~{3,})(?P<info>.*)$")
    current: Fence | None = None
    mark = ""
    for n, line in enumerate(text.split("\n"), start=1):
        if current is None:
            m = opening.match(line)
            if m and not (m["mark"][0] == "`" and "`" in m["info"]):
                lang, options = _parse_info(m["info"].strip())
                current = Fence(n, len(m["indent"].expandtabs(4)), m["info"].strip(), lang, options)
                mark = m["mark"]
        elif re.match(rf"^[ \t]*{re.escape(mark[0])}{{{len(mark)},}}[ \t]*$", line):
            fences.append(current)
            current = None
        else:
            current.body.append(line)
    if current is not None:
        fences.append(current)
    return fences


def collected_fence_lines(text: str) -> set[int]:
    """1-based opening lines of the Python fences pytest-markdown-docs itself turns into tests (or notest)."""
    lines = set()
    for token in MarkdownIt("commonmark").parse(text):
        if token.type == "fence" and token.map:
            lang, _ = _parse_info(token.info)
            if lang in PYTHON_LANGS:
                lines.add(token.map[0] + 1)
    return lines


def lint_markdown(path: Path, text: str, *, figures: bool = True) -> list[str]:
    """Return the problems of one page (or docstring), each as `path:line: message`."""
    problems = []
    fences = [f for f in scan_fences(text) if f.lang in PYTHON_LANGS]
    collected = collected_fence_lines(text)
    runnable = [f for f in fences if f.line in collected and not f.notest]
    for f in fences:
        if f.line not in collected:
            problems.append(
                f"{path}:{f.line}: this Python fence would be silently skipped by the tests (it is indented "
                f"{f.indent} spaces, e.g. under `!!!`, `===` or a list). Put the fence at column 0; inside "
                "admonitions and tabs use the `/// note` / `/// tab | Title` block syntax."
            )
        if not f.info.startswith("{") and any("=" not in w for w in f.info.split()[1:]):
            problems.append(
                f"{path}:{f.line}: attribute form `{f.info}` renders as garbage in mkdocs-material; use the "
                "brace form, e.g. ```` ```{.python continuation} ```` or ```` ```{.python notest} ````."
            )
        if f.notest and not (f.body and NOTEST_REASON.match(f.body[0].strip())):
            problems.append(
                f"{path}:{f.line}: a block that is not run must say why in its first line: "
                "`# Not run by the tests: <reason>`."
            )
    if fences and not runnable:
        problems.append(f"{path}:1: every Python block of this page is skipped: at least one must run.")
    first = min(runnable, key=lambda f: f.line, default=None)
    if first is not None and "continuation" in first.options:
        problems.append(f"{path}:{first.line}: the first Python block of a page cannot be a continuation.")
    code = "\n".join("\n".join(f.body) for f in runnable)
    # Lines inside any fence are code or examples of Markdown, not figures this page shows.
    fenced = {n for f in scan_fences(text) for n in range(f.line, f.line + len(f.body) + 2)}
    for n, line in enumerate(text.split("\n") if figures else [], start=1):
        if n in fenced:
            continue
        for name in FIGURE_LINK.findall(line):
            if not re.search(rf"save_figure\([^\n]*[\"']{re.escape(name)}[\"']", code):
                problems.append(
                    f"{path}:{n}: the page shows figures/{name}.svg but none of its blocks draws it with "
                    f'`save_figure(fig, "{name}")`.'
                )
    return problems


class DocLintItem(pytest.Item):
    def runtest(self) -> None:
        problems = lint_markdown(self.path, self.path.read_text("utf8"))
        if problems:
            raise DocLintError("\n".join(problems))

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, DocLintError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"lint {self.path.name}"


class DocLintError(Exception):
    pass


class DocLintFile(pytest.File):
    def collect(self) -> list[DocLintItem]:
        return [DocLintItem.from_parent(self, name="[lint]")]


# ---------------------------------------------------------------------------------------------------------
# Hooks
# ---------------------------------------------------------------------------------------------------------

_page_counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("llmguide docs").addoption(
        "--update-outputs",
        action="store_true",
        default=False,
        help="rewrite the `#>` output lines of Markdown pages with what their blocks print now",
    )


def pytest_configure(config: pytest.Config) -> None:
    global _update_outputs
    _update_outputs = bool(config.getoption("--update-outputs"))
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ["LLMGUIDE_FIGURE_DIR"] = str(config.rootpath / "docs" / "figures")


def pytest_unconfigure(config: pytest.Config) -> None:
    global _update_outputs
    _update_outputs = False
    _namespace_cache.clear()
    _edits.clear()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix == ".md" and parent.config.option.markdowndocs:
        text = file_path.read_text("utf8")
        fences = [f for f in scan_fences(text) if f.lang in PYTHON_LANGS]
        _page_counts[str(file_path)]["not run"] = sum(f.notest for f in fences)
        return DocLintFile.from_parent(parent, path=file_path)
    return None


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::")[0]
    if not path.endswith(".md") or report.nodeid.endswith("[lint]"):
        return
    key = next((p for p in _page_counts if p.endswith(path)), path)
    if report.when == "call" and report.passed:
        _page_counts[key]["ran"] += 1
    elif report.failed:
        _page_counts[key]["failed"] += 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    counts = {p: c for p, c in _page_counts.items() if c.get("ran") or c.get("failed") or c.get("not run")}
    if not counts:
        return
    terminalreporter.section("docs blocks per page")
    root = terminalreporter.config.rootpath
    for page in sorted(counts):
        c = counts[page]
        rel = os.path.relpath(page, root)
        terminalreporter.write_line(
            f"{rel}: {c.get('ran', 0)} ran, {c.get('failed', 0)} failed, {c.get('not run', 0)} not run (notest)"
        )


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _update_outputs:
        for path in _apply_edits():
            print(f"\nupdated the `#>` output lines of {path}")
