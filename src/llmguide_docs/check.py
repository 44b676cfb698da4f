"""What one statement printed, against the output lines the page shows under it.

A `Checker` holds a run's state: the edits `--update-outputs` will write, and the records
`--record-outputs` gathers. The block runs (plugin) and the notebook runs (notebook) share one, so a page run
as its notebook is checked by the same rules and messages as block by block.
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
        # path -> (lines to delete, line after which to insert, new lines)
        self.edits: dict[Path, list[tuple[list[int], int, list[str]]]] = defaultdict(list)
        self.records: list[dict[str, Any]] = []
        self._ordinals: dict[Path, dict[int, int]] = {}

    def check(self, path: Path, stmt: ast.stmt, printed: str, shown: list[Expected]) -> None:
        """Raise `OutputMismatch` (page line, what differs, a diff) unless `printed` matches `shown`."""
        got = [line.rstrip() for line in printed.split("\n")]
        while got and not got[-1]:
            got.pop()
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
            template = Expected(0, EXACT, "", "")
            new = [
                outputs.rewrite(shown[min(i, len(shown) - 1)] if shown else template, g)
                for i, g in enumerate(got)
            ]
            after = shown[0].lineno - 1 if shown else stmt.end_lineno or stmt.lineno
            self.edits[path].append(([e.lineno for e in shown], after, new))

    def _record(self, path: Path, shown: list[Expected], got: list[str]) -> None:
        if path not in self._ordinals:
            lines = pages.output_lines(path.read_text("utf8")) if path.suffix == ".md" else []
            self._ordinals[path] = {line: n for n, (line, _) in enumerate(lines)}
        for i, e in enumerate(shown):
            self.records.append(
                {
                    "page": str(path),
                    "line": e.lineno,
                    "ordinal": self._ordinals[path].get(e.lineno),
                    "kind": e.kind,
                    "shown": e.text,
                    "printed": got[i] if i < len(got) else None,
                    "lines_printed": len(got),
                    "lines_shown": len(shown),
                }
            )

    def write_edits(self) -> list[Path]:
        """Write the gathered edits into the pages; return the pages changed."""
        for path, edits in self.edits.items():
            deleted = {n for delete, _, _ in edits for n in delete}
            inserts: dict[int, list[str]] = defaultdict(list)
            for _, after, lines in edits:
                inserts[after].extend(lines)
            out: list[str] = []
            for n, line in enumerate(path.read_text("utf8").split("\n"), start=1):
                out += ([] if n in deleted else [line]) + inserts.get(n, [])
            path.write_text("\n".join(out), "utf8")
        changed = list(self.edits)
        self.edits.clear()
        return changed


def _message(path: Path, stmt: ast.stmt, shown: list[Expected], got: list[str], problems: list) -> str:
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
        where = shown[first].lineno if first < len(shown) else where
        if first < len(shown) and shown[first].kind == MEASURED and first < len(got):
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
    return msg + "\n".join(difflib.unified_diff(want, got, "shown on the page", "printed now", lineterm=""))
