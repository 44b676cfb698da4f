"""The pytest plugin: the docs harness on top of pytest-markdown-docs (loaded by the root conftest.py).

pytest-markdown-docs collects the Python fences of the pages and docstrings, a `continuation` block with the
blocks it continues. This plugin runs each one statement by statement, checking what each prints against
its output lines (`check.Checker`), and reuses the namespace a chain left instead of running it again. It
adds to each page a `[lint]` item (`lint`), a `[structure]` item to each chapter (`chapters`), and under
`--chapters-as-notebooks` a `[notebook]` item that runs a chapter as its notebook (`notebook`) in place of
its blocks; then a per-page report. All its state lives in one `Harness` per pytest run.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import random
import sys
import tempfile
import warnings
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_markdown_docs._runners import DefaultRunner
from pytest_markdown_docs.plugin import MarkdownInlinePythonItem

from llmguide_docs import chapters, lint, notebook, pages, site
from llmguide_docs.check import Checker
from llmguide_docs.outputs import EXACT, EXAMPLE, MEASURED, OUTPUT_LINE, PREFIXES, OutputMismatch

TORCH_THREADS = 2  # the default of `--torch-threads`
_SAVED_ENV = ("OMP_NUM_THREADS", "MPLBACKEND", "LLMGUIDE_FIGURE_DIR")


OPTIONS = {  # option: (argparse keywords, help)
    "--update-outputs": (
        {"action": "store_true"},
        "rewrite the failing output lines of Markdown pages with what "
        "their blocks print now (each keeps its kind, and a `#~` line its tolerances)",
    ),
    "--skip-page-ruff": ({"action": "store_true"}, "leave ruff out of the pages' lint (for planted pages)"),
    "--torch-threads": (
        {"type": int, "metavar": "N"},
        f"torch's thread count (default {TORCH_THREADS}, 1 in each "
        "xdist worker); other counts split float sums differently, as another CPU would",
    ),
    "--seed-offset": (
        {"type": int, "default": 0, "metavar": "K"},
        "add K to every seed the pages set (torch, random, numpy), to measure the spread across seeds",
    ),
    "--record-outputs": (
        {"metavar": "FILE"},
        "write every output line, with what was printed, and every failed "
        "test to FILE (JSON) instead of failing on output mismatches",
    ),
    "--chapters-as-notebooks": (
        {"action": "store_true"},
        "run each chapter page as its notebook in a fresh "
        "kernel, every statement's output checked, instead of block by block",
    ),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llmguide docs")
    for name, (keywords, text) in OPTIONS.items():
        group.addoption(name, help=text, **keywords)


def torch_threads(config: pytest.Config) -> int:
    """The thread count the pages run with: `--torch-threads`, else 1 in an xdist worker, else the default."""
    threads = config.getoption("--torch-threads")
    return (
        int(threads) if threads is not None else 1 if os.environ.get("PYTEST_XDIST_WORKER") else TORCH_THREADS
    )


def pytest_configure(config: pytest.Config) -> None:
    threads = torch_threads(config)
    parallel = config.pluginmanager.hasplugin("xdist") and config.getoption("dist", "no") != "no"
    if config.getoption("--record-outputs") and parallel and config.getoption("numprocesses", None):
        raise pytest.UsageError(
            "--record-outputs gathers every block's lines in one process: run it without -n"
        )
    if threads < 1:
        raise pytest.UsageError(f"--torch-threads must be at least 1, got {threads}")
    # The kernel inherits the thread count but not the in-process seed shifting: refuse rather than measure a
    # spread that is not there.
    if config.getoption("--chapters-as-notebooks") and config.getoption("--seed-offset"):
        raise pytest.UsageError(
            "--seed-offset shifts seeds in the test process only: run the pages block by block"
        )
    config.pluginmanager.register(Harness(config, threads), "llmguide-docs-harness")


def _shift_seeds(offset: int) -> Callable[[], None]:
    """Make every seed a page sets `seed + offset` (torch's global and Generator seeds, random, numpy);
    return what undoes it."""
    import numpy as np
    import torch

    saved = torch.manual_seed, torch.Generator, random.Random, np.random.default_rng

    class Generator(saved[1]):
        def manual_seed(self, seed: int) -> Generator:
            return super().manual_seed(seed + offset)

    class Random(saved[2]):
        def seed(self, a: Any = None, version: int = 2) -> None:
            super().seed(a + offset if isinstance(a, int) else a, version)

    torch.manual_seed = lambda seed: saved[0](seed + offset)
    torch.Generator, random.Random = Generator, Random
    np.random.default_rng = lambda seed=None: saved[3](seed + offset if isinstance(seed, int) else seed)

    def restore() -> None:
        torch.manual_seed, torch.Generator, random.Random, np.random.default_rng = saved

    return restore


class BlockRunner(DefaultRunner):
    """Runs a fence statement by statement, each statement's stdout checked against its output lines."""

    def __init__(self, checker: Checker) -> None:
        self.checker = checker
        self.chains: dict[Path, tuple[str, dict[str, Any]]] = {}  # page -> (last chain run whole, namespace)

    def runtest(self, test: Any, args: dict[str, Any], *, asyncio_runner: Any = None) -> None:
        path, filename, first = Path(test.source_path), str(test.source_path), test.start_line + 1
        own, shown = pages.statements(path, test.source, first)
        earlier = "\n".join(test.source.split("\n")[: first - 1])
        namespace = args
        if earlier.strip():
            cached = self.chains.get(path)
            if cached is not None and cached[0].rstrip() == earlier.rstrip():
                namespace = dict(cached[1])
            else:  # selected on its own: run the blocks it continues, silently
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(compile(earlier, filename, "exec", dont_inherit=True), namespace)
        self.chains.pop(path, None)
        for stmt, lines in zip(own, shown, strict=True):
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                exec(
                    compile(ast.Module(body=[stmt], type_ignores=[]), filename, "exec", dont_inherit=True),
                    namespace,
                )
            self.checker.check(path, stmt, printed.getvalue(), lines)
        self.chains[path] = (test.source, namespace)

    def repr_failure(self, test: Any, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, OutputMismatch):
            return str(excinfo.value)
        text = super().repr_failure(test, excinfo, style)
        return f"{test.source_path}:{test.start_line}: this block raised an exception\n{text}"


class PageProblems(Exception):
    """What a page's lint or a chapter's structure check found, one `FILE:LINE: message` a line."""


def _lint(item: PageItem) -> None:
    text = item.path.read_text("utf8")
    found = lint.problems(item.path, text)
    # The test extras install ruff; a bare environment skips this part, and so do planted pages that test
    # something else (--skip-page-ruff).
    if lint.ruff_exe() and not item.config.getoption("--skip-page-ruff"):
        found += lint.ruff_problems(item.path, text)
    stray = lint.unprinted_numbers(text) if "reference" not in item.path.parts else []
    if stray:
        shown = ", ".join(f"{number} (line {line})" for line, number in stray[:12])
        more = f" and {len(stray) - 12} more" if len(stray) > 12 else ""
        warnings.warn(
            lint.ProseNumberWarning(
                f"{item.path}: numbers in the prose that no block prints: {shown}{more}. Print or assert them, "
                "or list quoted ones in `<!-- prose numbers: ... -->`."
            ),
            stacklevel=1,
        )
    if found:
        raise PageProblems("\n".join(found))


def _structure(item: PageItem) -> None:
    if found := chapters.chapter_problems(item.path):
        raise PageProblems("\n".join(found))


def _as_notebook(item: PageItem) -> None:
    figures = Path(os.environ.get("LLMGUIDE_FIGURE_DIR") or (site.DOCS / "figures"))
    checker = item.config.pluginmanager.get_plugin("llmguide-docs-harness").checker
    with tempfile.TemporaryDirectory() as tmp:
        seconds, _ = notebook.run_chapter_notebook(
            item.path, figure_dir=figures, workdir=Path(tmp), checker=checker
        )
    item.user_properties += [
        ("notebook_seconds", seconds),
        ("blocks", len(pages.blocks(item.path, item.path.read_text("utf8")))),
    ]


JOBS = {
    "[lint]": (_lint, "lint"),
    "[structure]": (_structure, "structure of"),
    "[notebook]": (_as_notebook, "as a notebook:"),
}


class PageItem(pytest.Item):
    """A check of a whole page: `[lint]`, `[structure]` or `[notebook]`."""

    def runtest(self) -> None:
        JOBS[self.name][0](self)

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, (PageProblems, OutputMismatch, notebook.NotebookCellError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{JOBS[self.name][1]} {self.path.name}"


class PageFile(pytest.File):
    def collect(self) -> list[PageItem]:
        names = ["[lint]"]
        if site.is_chapter(self.path, listed=False):
            names.append("[structure]")
        if self.config.getoption("--chapters-as-notebooks") and site.is_chapter(self.path):
            names.append("[notebook]")
        return [PageItem.from_parent(self, name=name) for name in names]


class Harness:
    """One pytest run's state: the checker, the runner, and the per-page report."""

    def __init__(self, config: pytest.Config, threads: int) -> None:
        self.config = config
        record = config.getoption("--record-outputs")
        self.record = Path(record) if record else None
        self.checker = Checker(update=config.getoption("--update-outputs"), record=self.record is not None)
        self.runner = BlockRunner(self.checker)
        self.counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.as_notebook: set[str] = set()
        self.failures: list[dict[str, str]] = []
        self.saved = {name: os.environ.get(name) for name in _SAVED_ENV}
        torch = sys.modules.get("torch")
        self.saved_threads = torch.get_num_threads() if torch else None
        # Printed results of training depend, in their last digits, on how many threads split each matrix
        # product: a fixed count makes `make test` repeatable on one machine; the pages' tolerances cover
        # other counts and CPUs (`make portability`). Where torch is not imported yet, the variable sets it.
        os.environ["OMP_NUM_THREADS"] = str(threads)
        if torch:
            torch.set_num_threads(threads)
        offset = config.getoption("--seed-offset")
        self.restore_seeds = _shift_seeds(offset) if offset else None
        os.environ.setdefault("MPLBACKEND", "Agg")
        os.environ["LLMGUIDE_FIGURE_DIR"] = str(config.rootpath / "docs" / "figures")

    def pytest_unconfigure(self) -> None:  # leave the process as found (the harness's tests run it inline)
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if self.saved_threads:
            sys.modules["torch"].set_num_threads(self.saved_threads)
        if self.restore_seeds:
            self.restore_seeds()

    def _count(self, path: Path) -> dict[str, float]:
        """The page's static counts for the report: blocks not run (notest), and output lines of each kind."""
        text = path.read_text("utf8")
        counts = self.counts[str(path)]  # assigned, not added: a file can be collected more than once
        counts["not run"] = sum(f.notest for f in pages.fences(text) if f.lang in pages.PYTHON)
        kinds = [PREFIXES[OUTPUT_LINE.match(raw)[1]] for _, raw in pages.output_lines(text)]
        for kind in (EXACT, MEASURED, EXAMPLE):
            counts[kind] = kinds.count(kind)
        return counts

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        if file_path.suffix == ".md" and parent.config.option.markdowndocs:
            self._count(file_path)
            return PageFile.from_parent(parent, path=file_path)
        return None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Any:
        result = yield
        if isinstance(item, MarkdownInlinePythonItem):
            item.runner = self.runner
        return result

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Under --chapters-as-notebooks a chapter's blocks run in its `[notebook]` item: deselect the block
        items, and run the chapters first, so that the xdist workers start on the longest tests."""
        chapters = {item.path for item in items if item.name == "[notebook]"}
        if not chapters:
            return
        drop = [
            item for item in items if isinstance(item, MarkdownInlinePythonItem) and item.path in chapters
        ]
        self.config.hook.pytest_deselected(items=drop)
        self.as_notebook |= {str(p) for p in chapters}
        dropped = set(drop)
        keep = [item for item in items if item not in dropped]
        items[:] = [i for i in keep if i.path in chapters] + [i for i in keep if i.path not in chapters]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed and self.record is not None:
            message = str(report.longrepr).strip().split("\n")[-1][:500]
            self.failures.append({"test": report.nodeid, "when": report.when, "message": message})
        path = report.nodeid.split("::")[0]
        if not path.endswith(".md") or report.nodeid.endswith(("[lint]", "[structure]")):
            return
        key = next((p for p in self.counts if p.endswith(path)), None)
        if key is None:  # under pytest-xdist the workers collect; this process only sees their reports
            key = str(self.config.rootpath / path)
            if not Path(key).is_file():
                return
            self._count(Path(key))
        counts = self.counts[key]
        counts["seconds"] += report.duration
        properties = dict(report.user_properties)
        if "blocks" in properties:
            self.as_notebook.add(key)
        if report.when == "call" and report.passed:  # a chapter's notebook ran all of the page's blocks
            counts["ran"] += properties.get("blocks", 1)
        elif report.failed:
            counts["failed"] += 1

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        counts = {p: c for p, c in sorted(self.counts.items()) if c["ran"] or c["failed"] or c["not run"]}
        if not counts:
            return
        terminalreporter.section("docs blocks per page")
        rows = []
        for page, c in counts.items():
            rel = os.path.relpath(page, self.config.rootpath)
            how = " as its notebook" if page in self.as_notebook else ""
            terminalreporter.write_line(
                f"{rel}: {c['ran']:.0f} ran{how}, {c['failed']:.0f} failed, {c['not run']:.0f} not run (notest); "
                f"output lines: {c[EXACT]:.0f} exact, {c[MEASURED]:.0f} measured, {c[EXAMPLE]:.0f} examples; "
                f"{c['seconds']:.1f} s"
            )
            cells = [c[k] for k in ("ran", "failed", "not run", EXACT, MEASURED, EXAMPLE)]
            rows.append(f"| `{rel}` | " + " | ".join(f"{n:.0f}" for n in cells) + f" | {c['seconds']:.1f} |")
        if summary := os.environ.get("GITHUB_STEP_SUMMARY"):  # on GitHub Actions, in the job's summary too
            with open(summary, "a", encoding="utf8") as f:
                f.write(
                    "### Docs blocks per page\n\n| page | ran | failed | not run | exact lines | measured lines | "
                    "examples | seconds |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
                )
                f.write("\n".join(rows) + "\n")

    def pytest_sessionfinish(self) -> None:
        for path in self.checker.write_edits():
            print(f"\nupdated the output lines of {path}")
        if self.record is not None:
            self.record.write_text(
                json.dumps(
                    {
                        "torch_threads": torch_threads(self.config),
                        "seed_offset": self.config.getoption("--seed-offset"),
                        "lines": self.checker.records,
                        "failures": self.failures,
                    },
                    indent=1,
                ),
                "utf8",
            )
