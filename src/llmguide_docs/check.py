"""What one statement printed, against the output lines the page shows under it.

A `Checker` holds a run's state: the edits of `--update-outputs`, the records of `--record-outputs`. The
block runs (plugin) and the notebook runs (notebook) share one: the same rules and messages for both.
"""

from __future__ import annotations

import ast
import difflib
from collections import defaultdict
from pathlib import Path
from typing import Any

from llmguide_docs import outputs, pages
from llmguide_docs.outputs import EXACT, EXAMPLE, MEASURED, Expected, OutputMismatch


class Checker:
    """Checks statements' output; in update mode it gathers edits instead, in record mode records."""

    def __init__(self, *, update: bool = False, record: bool = False) -> None:
        self.update, self.record = update, record
        # page -> (line after which to insert, lines to delete, new lines)
        self.edits: dict[Path, list[tuple[int, list[int], list[str]]]] = defaultdict(list)
        self.records: list[dict[str, Any]] = []
        self._ordinals: dict[Path, dict[int, int]] = {}

    def check(self, path: Path, stmt: ast.stmt, printed: str, shown: list[Expected]) -> None:
        """Raise `OutputMismatch` (page line, what differs, a diff) unless `printed` matches `shown`."""
        got = [line.rstrip() for line in printed.rstrip().split("\n")] if printed.strip() else []
        while shown and shown[-1].kind == EXACT and not shown[-1].text.strip():
            shown = shown[:-1]
        # Example lines that end a statement's output stand for all it prints from there on: sampled text may
        # hold line breaks, so one run's example of it can have more or fewer lines than another's.
        fixed = len(shown)
        while fixed and shown[fixed - 1].kind == EXAMPLE:
            fixed -= 1
        if fixed < len(shown) and len(got) > fixed:
            if len(got) > len(shown):  # the extra lines join the last example line
                got = [*got[: len(shown) - 1], "\n".join(got[len(shown) - 1 :])]
            shown = shown[: len(got)]  # fewer lines than examples shown: as many as were printed
        problems = [outputs.mismatch(e, g) for e, g in zip(shown, got, strict=False)]
        if self.record:
            self._record(path, shown, got)
        elif len(got) != len(shown) or any(problems):
            if not (self.update and path.suffix == ".md"):
                raise OutputMismatch(_message(path, stmt, shown, got, problems))
            last = shown[-1] if shown else Expected(0, EXACT, "", "")  # the kind of the lines printed beyond
            new = [outputs.rewrite(shown[i] if i < len(shown) else last, g) for i, g in enumerate(got)]
            after = shown[0].lineno - 1 if shown else stmt.end_lineno or stmt.lineno
            self.edits[path].append((after, [e.lineno for e in shown], new))

    def _record(self, path: Path, shown: list[Expected], got: list[str]) -> None:
        if path not in self._ordinals:
            lines = pages.output_lines(path.read_text("utf8")) if path.suffix == ".md" else []
            self._ordinals[path] = {line: n for n, (line, _) in enumerate(lines)}
        ordinals, counts = self._ordinals[path], {"lines_printed": len(got), "lines_shown": len(shown)}
        self.records += [
            {"page": str(path), "line": e.lineno, "ordinal": ordinals.get(e.lineno), "kind": e.kind}
            | {"shown": e.text, "printed": got[i] if i < len(got) else None, **counts}
            for i, e in enumerate(shown)
        ]

    def write_edits(self) -> list[Path]:
        """Write the gathered edits into the pages, bottom up so that line numbers hold; return the pages."""
        for path, edits in self.edits.items():
            lines = path.read_text("utf8").split("\n")
            for after, delete, new in sorted(edits, reverse=True):
                for n in sorted(delete, reverse=True):
                    del lines[n - 1]
                lines[after:after] = new
            path.write_text("\n".join(lines), "utf8")
        return list(self.edits)


def _message(path: Path, stmt: ast.stmt, shown: list[Expected], got: list[str], problems: list) -> str:
    rerun = "Run `pytest PAGE --update-outputs` to"
    # The first line that differs (or the first one missing or extra), where the message points.
    first = next((i for i, p in enumerate(problems) if p), min(len(shown), len(got)))
    where = shown[first if first < len(shown) else 0].lineno if shown else stmt.lineno
    if not shown:
        msg = f"this statement prints output but the page shows no `#>` lines under it.\n{rerun} write them, "
        msg += "or stop printing."
    elif not got:
        msg = f"the page shows output, but the statement at line {stmt.lineno} prints nothing."
    elif first < len(shown) and shown[first].kind == MEASURED and first < len(got):
        msg = (
            f"measured output outside the page's tolerance: {problems[first]} (statement at line {stmt.lineno}).\n"
            "If the change is real, run `pytest PAGE --update-outputs` (it keeps the tolerances); if it is the "
            "machine, the tolerance does not cover it: see docs/contributing.md."
        )
    else:
        msg = (
            f"stale output: the statement at line {stmt.lineno} prints something else than the output lines "
            f"shown.\n{rerun} rewrite them, then review the diff."
        )
    want = [f"{outputs.PREFIX_OF[e.kind]} {e.text}" for e in shown]
    diff = difflib.unified_diff(want, got, "shown on the page", "printed now", lineterm="")
    return f"{path}:{where}: {msg}\n" + "\n".join(diff)
