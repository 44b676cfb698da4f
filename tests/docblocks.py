"""The docs harness: runs every Python block of the guide as a test and checks what it prints.

pytest-markdown-docs collects the fenced Python blocks of `docs/*.md` (and of docstrings). On its own it only
checks that a block does not raise. This plugin closes the gaps that matter for a guide whose pages show
output (see docs/contributing.md for the contributor's view):

1. **Printed output is checked.** Each top-level statement of a block that prints must be followed by
   output lines holding what it printed: `#> ` exact, `#~ ` measured (numbers within the tolerances the
   line declares, `2.13 ±0.05`) or `#? ` one run's example (not compared); tests/outputs.py has the rules.
   A statement that prints but shows nothing, a stale line or a number outside its tolerance fails with the
   page and line. `pytest --update-outputs` rewrites the failing lines of Markdown pages, keeping their
   kind and tolerances.
2. **Continuation blocks are not re-run.** The plugin's `continuation` re-executes every earlier block of the
   chain; here the namespace after each block is cached, so a continued block runs only its own statements
   (earlier blocks run again, silently, only when a block is selected on its own).
3. **A lint item per page** fails on Python fences the plugin would silently skip (indented under `!!!`,
   `===` or a list), on the bare attribute form (```` ```python notest ````), on a `notest` block that does
   not say why, on a page whose Python blocks are all skipped, on `continuation` with nothing to continue,
   on a figure the page shows but none of its blocks draws, on a malformed tolerance, on a page with
   measured or example output that does not link to the explanation of the prefixes, and on ruff's
   findings in the page's code (tests/pagecode.py: the package's rules, and `ruff format`).
4. **A per-page report** of how many blocks ran, failed and were deliberately not run, and how many output
   lines of each kind the page checks.
5. **Portability and spread runs.** `--torch-threads N` (default 2) sets torch's thread count, which changes
   how float sums are split and so stands in for another CPU; `--seed-offset K` shifts every seed the pages
   set; `--record-outputs FILE` records every output line with what was printed, instead of failing on
   mismatches (scripts/measure_spread.py turns such records into the spread behind each tolerance).

Loaded from the repository's root `conftest.py`; it needs `--markdown-docs --markdown-docs-syntax=superfences`
(set in pyproject.toml).
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import io
import json
import os
import random
import re
import sys
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import outputs
import pytest
from markdown_it import MarkdownIt
from pytest_markdown_docs import _runners, plugin
from pytest_markdown_docs.definitions import FenceTestDefinition

PYTHON_LANGS = {"python", "py", "python3"}
NOTEST_REASON = re.compile(r"^#\s*not run by the tests:\s*\S", re.IGNORECASE)
FIGURE_LINK = re.compile(r"!\[[^\]]*\]\((?:\./)?figures/([a-z0-9][a-z0-9-]*)\.svg\)")

LEGEND = "index.md#reading-the-outputs"
TORCH_THREADS = 2  # the default of `--torch-threads`; see pytest_configure

_update_outputs = False
_record_outputs: Path | None = None


# ---------------------------------------------------------------------------------------------------------
# 1-2. Running a block: statement by statement, with output checks and a namespace cache
# ---------------------------------------------------------------------------------------------------------


class OutputMismatch(AssertionError):
    """A block printed something other than its output lines say."""


@dataclass
class _Edit:
    """Replace the output lines owned by one statement (update mode)."""

    delete: list[int]  # 1-based lines to delete
    insert_after: int  # 1-based line after which the new lines go
    lines: list[str]


_edits: dict[Path, list[_Edit]] = defaultdict(list)
# path -> (source of the last chain that ran to the end, its namespace)
_namespace_cache: dict[Path, tuple[str, dict[str, Any]]] = {}
# --record-outputs: every shown line with what was printed there (failed tests go to _failures)
_records: list[dict[str, Any]] = []


def _normalise(lines: list[str]) -> list[str]:
    lines = [line.rstrip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def page_output_lines(text: str) -> list[tuple[int, str]]:
    """(line, raw line) of every output line (`#>`, `#~`, `#?`) of a page's runnable blocks, in page order.

    A line's position in this list (its ordinal) survives edits that move lines but keep the outputs, such
    as reformatting a block or giving a number a tolerance: scripts/measure_spread.py matches records to the
    current page by it.
    """
    collected = collected_fence_lines(text)
    return [
        (f.line + offset, raw)
        for f in scan_fences(text)
        if f.lang in PYTHON_LANGS and f.line in collected and not f.notest
        for offset, raw in enumerate(f.body, start=1)
        if outputs.is_output_line(raw)
    ]


_ordinals: dict[Path, dict[int, int]] = {}


def _record(path: Path, shown: list[outputs.Expected], got: list[str]) -> None:
    if path not in _ordinals:
        lines = page_output_lines(path.read_text("utf8")) if path.suffix == ".md" else []
        _ordinals[path] = {line: n for n, (line, _) in enumerate(lines)}
    for i, e in enumerate(shown):
        _records.append(
            {
                "page": str(path),
                "line": e.lineno,
                "ordinal": _ordinals[path].get(e.lineno),
                "kind": e.kind,
                "shown": e.text,
                "printed": got[i] if i < len(got) else None,
                "lines_printed": len(got),
                "lines_shown": len(shown),
            }
        )


def _check_statement(path: Path, stmt: ast.stmt, printed: str, shown: list[outputs.Expected]) -> None:
    got = _normalise(printed.split("\n"))
    while shown and shown[-1].kind == outputs.EXACT and not shown[-1].text.strip():
        shown = shown[:-1]
    # Example lines that end a statement's output stand for all it prints from there on: sampled text may
    # hold line breaks, so one run's example of it can have more or fewer lines than another's.
    fixed = len(shown)
    while fixed and shown[fixed - 1].kind == outputs.EXAMPLE:
        fixed -= 1
    if fixed < len(shown) and len(got) > fixed:
        if len(got) > len(shown):  # the extra lines join the last example line
            got = [*got[: len(shown) - 1], "\n".join(got[len(shown) - 1 :])]
        shown = shown[: len(got)]  # fewer lines than examples shown: as many as were printed
    problems = [outputs.mismatch(e, g) for e, g in zip(shown, got, strict=False)]
    if _record_outputs is not None:
        _record(path, shown, got)
        return
    if len(got) == len(shown) and not any(problems):
        return
    if _update_outputs and path.suffix == ".md":
        insert_after = shown[0].lineno - 1 if shown else stmt.end_lineno or stmt.lineno
        template = outputs.Expected(0, outputs.EXACT, "", "")
        new = [
            outputs.rewrite(shown[min(i, len(shown) - 1)] if shown else template, g)
            for i, g in enumerate(got)
        ]
        _edits[path].append(_Edit([e.lineno for e in shown], insert_after, new))
        return
    where = shown[0].lineno if shown else stmt.lineno
    if not shown:
        msg = (
            f"{path}:{stmt.lineno}: this statement prints output but the page shows no `#>` lines under it.\n"
            "Run `pytest PAGE --update-outputs` to write them, or stop printing.\n"
        )
    elif not got:
        msg = f"{path}:{where}: the page shows output, but the statement at line {stmt.lineno} prints nothing.\n"
    else:
        first = next((i for i, p in enumerate(problems) if p), min(len(shown), len(got)))
        if first < len(shown):
            where = shown[first].lineno
        if first < len(shown) and shown[first].kind == outputs.MEASURED and first < len(got):
            msg = (
                f"{path}:{where}: measured output outside the page's tolerance: {problems[first]} "
                f"(statement at line {stmt.lineno}).\nIf the change is real, run `pytest PAGE --update-outputs` "
                "(it keeps the tolerances); if it is the machine, the tolerance does not cover it: see "
                "docs/contributing.md.\n"
            )
        else:
            msg = (
                f"{path}:{where}: stale output: the statement at line {stmt.lineno} prints something else than "
                "the output lines shown.\nRun `pytest PAGE --update-outputs` to rewrite them, then review the diff.\n"
            )
    want = [f"{outputs.PREFIX_OF[e.kind]} {e.text}" for e in shown]
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

        owners: dict[int, list[outputs.Expected]] = defaultdict(list)
        for lineno in range(first_line, len(src_lines) + 1):
            raw = src_lines[lineno - 1]
            if outputs.is_output_line(raw):
                owner = next((s for s in reversed(own) if s.lineno <= lineno), None)
                if owner is None:
                    raise OutputMismatch(f"{path}:{lineno}: an output line comes before any statement.")
                try:
                    owners[id(owner)].append(outputs.parse_output_line(lineno, raw))
                except outputs.MalformedOutput as exc:
                    raise OutputMismatch(f"{path}:{lineno}: malformed output line: {exc}") from None

        _namespace_cache.pop(path, None)
        for stmt in own:
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                self._exec(stmt, filename, namespace)
            _check_statement(path, stmt, buffer.getvalue(), owners.get(id(stmt), []))
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


CONTROL_CHARACTERS = frozenset(map(chr, range(32))) - {"\n"}


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
    kinds: dict[str, int] = defaultdict(int)
    for f in runnable:
        for offset, raw in enumerate(f.body, start=1):
            if not outputs.is_output_line(raw):
                continue
            try:
                kinds[outputs.parse_output_line(f.line + offset, raw).kind] += 1
            except outputs.MalformedOutput as exc:
                problems.append(f"{path}:{f.line + offset}: malformed output line: {exc}")
    if (kinds[outputs.MEASURED] or kinds[outputs.EXAMPLE]) and path.name != "index.md" and LEGEND not in text:
        problems.append(
            f"{path}:1: this page shows measured (`#~`) or example (`#?`) output: link the explanation of the "
            f"prefixes, `[...]({LEGEND})`, so that readers know which numbers vary between machines."
        )
    for n, line in enumerate(text.split("\n"), start=1):
        if bad := sorted({f"U+{ord(c):04X}" for c in line if c in CONTROL_CHARACTERS}):
            problems.append(
                f"{path}:{n}: control character {', '.join(bad)}: usually a Python escape that ate a backslash "
                "(`\\t` of `\\text`, `\\f` of `\\frac`, `\\r` of `\\right`) when the page was written from a "
                "non-raw string. Write the characters themselves (and spaces, not tabs)."
            )
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


# ---------------------------------------------------------------------------------------------------------
# 3b. Numbers in the prose that no block prints (a warning, not a failure)
# ---------------------------------------------------------------------------------------------------------

PROSE_NUMBER = re.compile(r"(?<![\w.^])\d[\d,]*(?:\.\d+)?")
ALLOW_COMMENT = re.compile(r"<!--\s*prose numbers:(?P<numbers>.*?)-->", re.S)
_SKIP_SPANS = re.compile(
    r"`[^`]*`|\$\$.*?\$\$|\$[^$]*\$|\]\([^)]*\)|<[^>]*>|https?://\S+|arXiv:\s*\S+|doi:\s*\S+", re.S | re.I
)


class ProseNumberWarning(UserWarning):
    """A number in a page's prose that none of its blocks prints or computes."""


def _plain(number: str) -> str:
    return number.replace(",", "").rstrip(".")


def unprinted_numbers(text: str) -> list[tuple[int, str]]:
    """(line, number) for each number in the prose that appears in no Python block or output of the page.

    Not counted: integers up to 10 and years (1900 to 2099), numbers in code spans, math, links, HTML and
    footnote definitions, and those listed in a comment `<!-- prose numbers: 1997 50,257 -->` on the page
    (numbers quoted from a cited source, say). The rule it serves: every number or comparison in the prose
    is printed or asserted by a block (docs/contributing.md).
    """
    code = "\n".join("\n".join(f.body) for f in scan_fences(text) if f.lang in PYTHON_LANGS)
    known = {_plain(n) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", code)}
    for match in ALLOW_COMMENT.finditer(text):
        known |= {_plain(n) for n in match["numbers"].split()}
    fenced = {n for f in scan_fences(text) for n in range(f.line, f.line + len(f.body) + 2)}
    found = []
    in_footnote = False
    for n, line in enumerate(text.split("\n"), start=1):
        # A footnote definition and its indented continuation lines cite a source: not the page's claims.
        in_footnote = bool(re.match(r"\[\^[^\]]+\]:", line)) or (in_footnote and line.startswith("    "))
        if n in fenced or in_footnote:
            continue
        for number in PROSE_NUMBER.findall(_SKIP_SPANS.sub(" ", line)):
            value = _plain(number)
            if not value or value in known:
                continue
            if "." not in value and (int(value) <= 10 or 1900 <= int(value) <= 2099):
                continue
            found.append((n, number))
    return found


class DocLintItem(pytest.Item):
    def runtest(self) -> None:
        import pagecode  # imports this module: loaded here, not at the top

        text = self.path.read_text("utf8")
        problems = lint_markdown(self.path, text)
        # The test extras install ruff; a bare environment skips this part, and so do planted pages that test
        # something else (--skip-page-ruff).
        if pagecode.ruff_exe() and not self.config.getoption("--skip-page-ruff"):
            problems += pagecode.check_page(self.path, text)
        if self.path.suffix == ".md" and "reference" not in self.path.parts:
            stray = unprinted_numbers(text)
            if stray:
                shown = ", ".join(f"{number} (line {line})" for line, number in stray[:12])
                more = f" and {len(stray) - 12} more" if len(stray) > 12 else ""
                warnings.warn(
                    ProseNumberWarning(
                        f"{self.path}: numbers in the prose that no block prints: {shown}{more}. Print or assert "
                        "them, or list quoted ones in `<!-- prose numbers: ... -->`."
                    ),
                    stacklevel=1,
                )
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
_failures: list[dict[str, str]] = []
_page_seconds: dict[str, float] = defaultdict(float)
# Chapter pages whose blocks ran in their notebook (`--chapters-as-notebooks`, tests/pagenotebooks.py).
_as_notebook: set[str] = set()
_rootpath = Path.cwd()


def note_run_as_notebook(pages: set[str]) -> None:
    _as_notebook.update(pages)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llmguide docs")
    group.addoption(
        "--update-outputs",
        action="store_true",
        default=False,
        help="rewrite the failing output lines of Markdown pages with what their blocks print now (each line "
        "keeps its kind, `#>`, `#~` or `#?`, and a measured line keeps its tolerances)",
    )
    group.addoption(
        "--skip-page-ruff",
        action="store_true",
        default=False,
        help="leave ruff out of the pages' lint (the harness's own tests use it for planted pages)",
    )
    group.addoption(
        "--torch-threads",
        type=int,
        default=None,
        metavar="N",
        help=f"torch's intra-op thread count (default {TORCH_THREADS}, and 1 in each pytest-xdist worker, "
        "so that the workers share the cores instead of fighting over them); other counts split float sums "
        "differently, as another CPU would",
    )
    group.addoption(
        "--seed-offset",
        type=int,
        default=0,
        metavar="K",
        help="add K to every seed the pages set (torch, random, numpy), to measure the spread across seeds",
    )
    group.addoption(
        "--record-outputs",
        default=None,
        metavar="FILE",
        help="write every output line that did not match, with what was printed, and every failed test to "
        "FILE (JSON) instead of failing on output mismatches",
    )


def _shift_seeds(offset: int) -> None:
    """Make every seed a page sets `seed + offset`: torch's global and Generator seeds, random, numpy."""
    import numpy as np
    import torch

    manual_seed = torch.manual_seed

    class Generator(torch.Generator):
        def manual_seed(self, seed: int) -> Generator:
            return super().manual_seed(seed + offset)

    class Random(random.Random):
        def seed(self, a: Any = None, version: int = 2) -> None:
            super().seed(a + offset if isinstance(a, int) else a, version)

    default_rng = np.random.default_rng
    torch.manual_seed = lambda seed: manual_seed(seed + offset)
    torch.Generator = Generator
    random.Random = Random
    np.random.default_rng = lambda seed=None: default_rng(seed + offset if isinstance(seed, int) else seed)


def xdist_workers(config: pytest.Config) -> int:
    """How many pytest-xdist workers this run uses (0 without xdist), as seen by the controller."""
    if not config.pluginmanager.hasplugin("xdist"):
        return 0
    return int(config.getoption("numprocesses", None) or 0) if config.getoption("dist", "no") != "no" else 0


def torch_threads(config: pytest.Config) -> int:
    """The thread count the pages run with: `--torch-threads`, else 1 in an xdist worker, else the default."""
    threads = config.getoption("--torch-threads")
    if threads is not None:
        return int(threads)
    return 1 if os.environ.get("PYTEST_XDIST_WORKER") else TORCH_THREADS


def pytest_configure(config: pytest.Config) -> None:
    global _update_outputs, _record_outputs, _rootpath
    _rootpath = config.rootpath
    _update_outputs = bool(config.getoption("--update-outputs"))
    record = config.getoption("--record-outputs")
    _record_outputs = Path(record) if record else None
    threads = torch_threads(config)
    if record and xdist_workers(config):
        raise pytest.UsageError(
            "--record-outputs gathers every block's lines in one process: run it without -n"
        )
    if threads < 1:
        raise pytest.UsageError(f"--torch-threads must be at least 1, got {threads}")
    # Printed results of training depend, in their last digits, on how many threads split each matrix
    # product. A fixed count makes `make test` repeatable on one machine; the pages' tolerances cover other
    # counts and CPUs (`make portability` runs the pages at 1 and 4 threads). Where torch is not imported
    # yet (planted pages in subprocesses), the variable sets it without the cost of importing torch here.
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    if config.getoption("--seed-offset"):
        _shift_seeds(config.getoption("--seed-offset"))
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ["LLMGUIDE_FIGURE_DIR"] = str(config.rootpath / "docs" / "figures")


def pytest_unconfigure(config: pytest.Config) -> None:
    global _update_outputs, _record_outputs
    _update_outputs = False
    _record_outputs = None
    _namespace_cache.clear()
    _edits.clear()
    _records.clear()
    _failures.clear()
    _as_notebook.clear()


def _count_page(file_path: Path) -> None:
    """The page's static counts for the report: blocks not run (notest), and output lines of each kind."""
    text = file_path.read_text("utf8")
    fences = [f for f in scan_fences(text) if f.lang in PYTHON_LANGS]
    counts = _page_counts[str(file_path)]  # assigned, not added: a file can be collected more than once
    counts["not run"] = sum(f.notest for f in fences)
    collected = collected_fence_lines(text)
    kinds = [
        outputs.PREFIXES[match[1]]
        for f in fences
        if not f.notest and f.line in collected
        for match in map(outputs.OUTPUT_LINE.match, f.body)
        if match
    ]
    for kind in (outputs.EXACT, outputs.MEASURED, outputs.EXAMPLE):
        counts[kind] = kinds.count(kind)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix == ".md" and parent.config.option.markdowndocs:
        _count_page(file_path)
        return DocLintFile.from_parent(parent, path=file_path)
    return None


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed and _record_outputs is not None:
        lines = str(report.longrepr).strip().split("\n")
        _failures.append({"test": report.nodeid, "when": report.when, "message": lines[-1][:500]})
    path = report.nodeid.split("::")[0]
    if not path.endswith(".md"):
        return
    key = next((p for p in _page_counts if p.endswith(path)), None)
    if key is None:
        # Under pytest-xdist the workers collect and run; this process only sees their reports.
        key = str(_rootpath / path)
        if Path(key).is_file():
            _count_page(Path(key))
    if report.nodeid.endswith(("[lint]", "[structure]")):  # checks of the page, not its blocks
        return
    _page_seconds[key] += report.duration
    properties = dict(report.user_properties)
    if "blocks" in properties:
        _as_notebook.add(key)
    if report.when == "call" and report.passed:
        # A chapter run as its notebook is one test that ran all of the page's blocks.
        _page_counts[key]["ran"] += properties.get("blocks", 1)
    elif report.failed:
        _page_counts[key]["failed"] += 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    counts = {p: c for p, c in _page_counts.items() if c.get("ran") or c.get("failed") or c.get("not run")}
    if not counts:
        return
    terminalreporter.section("docs blocks per page")
    root = terminalreporter.config.rootpath
    rows = []
    for page in sorted(counts):
        c = counts[page]
        rel = os.path.relpath(page, root)
        how = " as its notebook" if page in _as_notebook else ""
        terminalreporter.write_line(
            f"{rel}: {c.get('ran', 0)} ran{how}, {c.get('failed', 0)} failed, {c.get('not run', 0)} not run (notest); "
            f"output lines: {c.get(outputs.EXACT, 0)} exact, {c.get(outputs.MEASURED, 0)} measured, "
            f"{c.get(outputs.EXAMPLE, 0)} examples; {_page_seconds[page]:.1f} s"
        )
        rows.append(
            f"| `{rel}` | {c.get('ran', 0)} | {c.get('failed', 0)} | {c.get('not run', 0)} | "
            f"{c.get(outputs.EXACT, 0)} | {c.get(outputs.MEASURED, 0)} | {c.get(outputs.EXAMPLE, 0)} | "
            f"{_page_seconds[page]:.1f} |"
        )
    # On GitHub Actions, the same report in the job's summary page.
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        header = (
            "### Docs blocks per page\n\n| page | ran | failed | not run | exact lines | measured lines | "
            "examples | seconds |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
        )
        with open(summary, "a", encoding="utf8") as f:
            f.write(header + "\n".join(rows) + "\n")


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _update_outputs:
        for path in _apply_edits():
            print(f"\nupdated the output lines of {path}")
    if _record_outputs is not None:
        config = session.config
        _record_outputs.write_text(
            json.dumps(
                {
                    "torch_threads": torch_threads(config),
                    "seed_offset": config.getoption("--seed-offset"),
                    "lines": _records,
                    "failures": _failures,
                },
                indent=1,
            ),
            "utf8",
        )
