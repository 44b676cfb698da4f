"""The pytest plugin: the docs harness on top of pytest-markdown-docs (loaded by the root conftest.py).

It runs each fence that plugin collects statement by statement, checking what each prints (`check.Checker`)
and reusing the namespace a chain of `continuation` blocks left; it adds a `[lint]` item to each page, a
`[structure]` item to each chapter and, under `--chapters-as-notebooks`, a `[notebook]` item that runs a
chapter in place of its blocks; then a per-page report. Its state lives in one `Harness` per pytest run.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import random
import tempfile
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from pytest import UsageError
from pytest_markdown_docs._runners import DefaultRunner
from pytest_markdown_docs.plugin import MarkdownInlinePythonItem

from llmguide_docs import chapters, lint, notebook, outputs, pages, site
from llmguide_docs.check import Checker
from llmguide_docs.outputs import EXACT, EXAMPLE, MEASURED, OutputMismatch

TORCH_THREADS = 2  # the default of `--torch-threads`
COLUMNS = ("ran", "failed", "not run", EXACT, MEASURED, EXAMPLE)  # of the per-page report
SUMMARY_HEAD = "### Docs blocks per page\n\n| page | ran | failed | not run | exact lines | measured lines |"
SUMMARY_HEAD += " examples | seconds |\n| --- |" + " ---: |" * 7  # the report's table, on GitHub Actions
# Tests that each run a notebook in a fresh kernel for tens of seconds: under `--dist loadfile` each is a unit
# of its own, queued after the chapters, so that the workers share them instead of one running them all last.
LONG_TESTS = "tests/test_notebooks.py::test_solution_notebook_runs_in_a_fresh_kernel["


def work_unit(nodeid: str) -> str:
    """What pytest-xdist sends to one worker as a whole: a long test alone, else its file (a page, a module)."""
    return nodeid if nodeid.startswith(LONG_TESTS) else nodeid.split("::", 1)[0]


def pytest_addoption(parser: pytest.Parser) -> None:
    add = parser.getgroup("llmguide docs").addoption
    add("--update-outputs", action="store_true", help="rewrite failing output lines with what is printed")
    add("--skip-page-ruff", action="store_true", help="leave ruff out of the pages' lint (for planted pages)")
    add("--torch-threads", type=int, help=f"torch's threads (default {TORCH_THREADS}, 1 in an xdist worker)")
    add("--seed-offset", type=int, default=0, help="add to every seed the pages set (torch, random, numpy)")
    add("--record-outputs", help="write every output line and failure to this JSON file instead of failing")
    add("--chapters-as-notebooks", action="store_true", help="run the chapters as notebooks in new kernels")


def pytest_configure(config: pytest.Config) -> None:
    threads = config.getoption("--torch-threads")
    if threads is None:  # the xdist workers share the CPU: one thread each
        threads = 1 if os.environ.get("PYTEST_XDIST_WORKER") else TORCH_THREADS
    if config.getoption("--record-outputs") and config.getoption("numprocesses", None):  # xdist's -n
        raise UsageError("--record-outputs gathers every block's lines in one process: run it without -n")
    if threads < 1:
        raise UsageError(f"--torch-threads must be at least 1, got {threads}")
    # The kernel inherits the thread count but not the in-process seed shifting: refuse rather than measure a
    # spread that is not there.
    if config.getoption("--chapters-as-notebooks") and config.getoption("--seed-offset"):
        raise UsageError("--seed-offset shifts seeds in the test process only: run the pages block by block")
    config.pluginmanager.register(Harness(config, threads), "llmguide-docs-harness")


def _shift_seeds(patch: pytest.MonkeyPatch, offset: int) -> None:
    """Make every seed a page sets `seed + offset`: torch's global and Generator seeds, random, numpy."""

    class Generator(torch.Generator):
        def manual_seed(self, seed: int) -> Generator:
            return super().manual_seed(seed + offset)

    shifted = lambda seed: seed + offset if isinstance(seed, int) else seed  # noqa: E731
    manual_seed, default_rng, random_seed = torch.manual_seed, np.random.default_rng, random.Random.seed
    patch.setattr(torch, "manual_seed", lambda seed: manual_seed(seed + offset))
    patch.setattr(torch, "Generator", Generator)
    patch.setattr(random.Random, "seed", lambda self, a=None, *rest: random_seed(self, shifted(a), *rest))
    patch.setattr(np.random, "default_rng", lambda seed=None: default_rng(shifted(seed)))


class BlockRunner(DefaultRunner):
    """Runs a fence statement by statement, each statement's stdout checked against its output lines."""

    def __init__(self, checker: Checker) -> None:
        self.checker = checker
        self.chains: dict[Path, tuple[str, dict[str, Any]]] = {}  # page -> (last chain run whole, namespace)

    # No `asyncio_runner` parameter, on purpose: pytest-markdown-docs passes one, gets a TypeError before any
    # block runs and calls again without it. Accepting it would let a block's own TypeError set off that retry.
    def runtest(self, test: Any, args: dict[str, Any]) -> None:
        path, filename, first = Path(test.source_path), str(test.source_path), test.start_line + 1
        own, shown = pages.statements(path, test.source, first)
        earlier = "\n".join(test.source.split("\n")[: first - 1]).rstrip()
        namespace, cached = args, self.chains.pop(path, None)  # a block that fails leaves no chain
        if earlier.strip():
            if cached is not None and cached[0].rstrip() == earlier:
                namespace = dict(cached[1])
            else:  # selected on its own: run the blocks it continues, silently
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(compile(earlier, filename, "exec", dont_inherit=True), namespace)
        for stmt, lines in zip(own, shown, strict=True):
            code = compile(ast.Module(body=[stmt], type_ignores=[]), filename, "exec", dont_inherit=True)
            with contextlib.redirect_stdout(printed := io.StringIO()):
                exec(code, namespace)
            self.checker.check(path, stmt, printed.getvalue(), lines)
        self.chains[path] = (test.source, namespace)

    def repr_failure(self, test: Any, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, OutputMismatch):
            return str(excinfo.value)
        text = super().repr_failure(test, excinfo, style)
        return f"{test.source_path}:{test.start_line}: this block raised an exception\n{text}"


def _lint(item: PageItem) -> list[str]:
    text = item.path.read_text("utf8")
    found = lint.problems(item.path, text)
    # The test extras install ruff; a bare environment skips this part, and so do planted pages that test
    # something else (--skip-page-ruff).
    if lint.ruff_exe() and not item.config.getoption("--skip-page-ruff"):
        found += lint.ruff_problems(item.path, text)
    if "reference" not in item.path.parts and (stray := lint.unprinted_numbers(text)):
        shown = ", ".join(f"{number} (line {line})" for line, number in stray[:12])
        more = f" and {len(stray) - 12} more" if len(stray) > 12 else ""
        message = f"{item.path}: numbers in the prose that no block prints: {shown}{more}. Print or assert "
        message += "them, or list quoted ones in `<!-- prose numbers: ... -->`."
        warnings.warn(lint.ProseNumberWarning(message), stacklevel=1)
    return found


def _as_notebook(item: PageItem) -> list[str]:
    figures = Path(os.environ["LLMGUIDE_FIGURE_DIR"])  # set by the Harness
    checker = item.config.pluginmanager.get_plugin("llmguide-docs-harness").checker
    with tempfile.TemporaryDirectory() as tmp:
        notebook.run_chapter_notebook(item.path, figure_dir=figures, workdir=Path(tmp), checker=checker)
    return []


JOBS = {  # item name: (the check, returning its problems; the words of its report line)
    "[lint]": (_lint, "lint"),
    "[structure]": (lambda item: chapters.chapter_problems(item.path), "structure of"),
    "[notebook]": (_as_notebook, "as a notebook:"),
}


class PageItem(pytest.Item):
    """A check of a whole page: `[lint]`, `[structure]` or `[notebook]`."""

    def runtest(self) -> None:
        if found := JOBS[self.name][0](self):  # one `FILE:LINE: message` a line, shown without a traceback
            pytest.fail("\n".join(found), pytrace=False)

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, (OutputMismatch, notebook.NotebookCellError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{JOBS[self.name][1]} {self.path.name}"


class PageFile(pytest.File):
    def collect(self) -> list[PageItem]:
        names = ["[lint]", "[structure]"] if site.is_chapter(self.path, listed=False) else ["[lint]"]
        if self.config.getoption("--chapters-as-notebooks") and site.is_chapter(self.path):
            names.append("[notebook]")
        return [PageItem.from_parent(self, name=name) for name in names]


class Harness:
    """One pytest run's state: the checker, the runner, the process settings to restore, the report."""

    def __init__(self, config: pytest.Config, threads: int) -> None:
        self.config, self.threads = config, threads
        self.record = config.getoption("--record-outputs")  # a file name, or None
        self.checker = Checker(update=config.getoption("--update-outputs"), record=bool(self.record))
        self.runner = BlockRunner(self.checker)
        self.counts: dict[Path, Counter] = {}
        self.failures: list[dict[str, str]] = []
        self.patch = pytest.MonkeyPatch()  # undone at the end: the harness's tests run it inline
        # Printed results of training depend, in their last digits, on how many threads split each matrix
        # product: a fixed count makes `make test` repeatable on one machine; the pages' tolerances cover
        # other counts and CPUs (`make portability`). The variable passes it to the notebook kernels.
        self.patch.setenv("OMP_NUM_THREADS", str(threads))
        self.saved_threads = torch.get_num_threads()
        torch.set_num_threads(threads)
        if offset := config.getoption("--seed-offset"):
            _shift_seeds(self.patch, offset)
        self.patch.setenv("MPLBACKEND", os.environ.get("MPLBACKEND", "Agg"))
        self.patch.setenv("LLMGUIDE_FIGURE_DIR", str(config.rootpath / "docs" / "figures"))

    def pytest_unconfigure(self) -> None:
        self.patch.undo()
        torch.set_num_threads(self.saved_threads)

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        if file_path.suffix == ".md" and parent.config.option.markdowndocs:
            return PageFile.from_parent(parent, path=file_path)
        return None

    @pytest.hookimpl(trylast=True)  # after the item's own setup, where pytest-markdown-docs sets its runner
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if isinstance(item, MarkdownInlinePythonItem):
            item.runner = self.runner

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Under --chapters-as-notebooks a chapter's blocks run in its `[notebook]` item: deselect the block
        items. Run the chapters, then the LONG_TESTS first: the xdist workers start on the longest tests."""
        chapters = {item.path for item in items if item.name == "[notebook]"}
        drop = {i for i in items if isinstance(i, MarkdownInlinePythonItem) and i.path in chapters}
        if drop:
            self.config.hook.pytest_deselected(items=list(drop))
        first = lambda i: (i.path not in chapters, not i.nodeid.startswith(LONG_TESTS))  # noqa: E731
        items[:] = sorted((i for i in items if i not in drop), key=first)

    @pytest.hookimpl(tryfirst=True, optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        if config.getoption("dist") != "loadfile":
            return None
        from xdist.scheduler import LoadFileScheduling

        class Scheduling(LoadFileScheduling):
            def _split_scope(self, nodeid: str) -> str:
                return work_unit(nodeid)

        return Scheduling(config, log)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed and self.record:
            message = str(report.longrepr).strip().split("\n")[-1][:500]
            self.failures.append({"test": report.nodeid, "when": report.when, "message": message})
        # Counted from the reports, not at collection: under pytest-xdist this process collects nothing.
        path, _, name = report.nodeid.partition("::")
        page = self.config.rootpath / path
        if page.suffix != ".md" or not page.is_file():
            return
        if (counts := self.counts.get(page)) is None:  # what the page holds: notest blocks, output lines
            text = page.read_text("utf8")
            counts = self.counts[page] = Counter(outputs.kind_of(raw) for _, raw in pages.output_lines(text))
            python = [f for f in pages.fences(text) if f.lang in pages.PYTHON]
            counts["not run"], counts["blocks"] = sum(f.notest for f in python), sum(f.runs for f in python)
        if name in ("[lint]", "[structure]"):
            return
        counts["notebook"] |= name == "[notebook]"
        if report.when == "call" and report.passed:  # a chapter's notebook ran all of the page's blocks
            counts["ran"] += counts["blocks"] if name == "[notebook]" else 1
        counts["failed"] += report.failed
        counts["seconds"] += report.duration

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        shown = [(p, c) for p, c in sorted(self.counts.items()) if c["ran"] or c["failed"] or c["not run"]]
        if not shown:
            return
        terminalreporter.section("docs blocks per page")
        rows = []
        for page, c in shown:
            rel, seconds = os.path.relpath(page, self.config.rootpath), f"{c['seconds']:.1f}"
            ran, failed, skipped, exact, measured, examples = cells = [f"{c[k]:.0f}" for k in COLUMNS]
            terminalreporter.write_line(
                f"{rel}: {ran} ran{' as its notebook' if c['notebook'] else ''}, {failed} failed, {skipped} "
                f"not run (notest); output lines: {exact} exact, {measured} measured, {examples} examples; "
                f"{seconds} s"
            )
            rows.append("| " + " | ".join([f"`{rel}`", *cells, seconds]) + " |")
        if summary := os.environ.get("GITHUB_STEP_SUMMARY"):  # on GitHub Actions, in the job's summary too
            with open(summary, "a", encoding="utf8") as f:
                f.write("\n".join([SUMMARY_HEAD, *rows]) + "\n")

    def pytest_sessionfinish(self) -> None:
        for path in self.checker.write_edits():
            print(f"\nupdated the output lines of {path}")
        if self.record:
            record = {"torch_threads": self.threads, "seed_offset": self.config.getoption("--seed-offset")}
            record |= {"lines": self.checker.records, "failures": self.failures}
            Path(self.record).write_text(json.dumps(record, indent=1), "utf8")
