"""Measure how much the pages' printed results move between seeds and thread counts.

Float32 training turns last-bit differences between CPUs, thread counts and devices into visibly different
numbers. This script stands in for other machines: it runs the docs blocks once per (torch thread count,
seed offset) with `--record-outputs`, then reports for every measured number (`#~`) the spread of what was
printed against the tolerance the page declares, every exact line (`#>`) that changed, and every block that
failed (a claim that does not hold for some seed or thread count).

    python scripts/measure_spread.py                          # 5 seeds x threads 1, 2, 4, every page
    python scripts/measure_spread.py docs/temperature.md --seeds 2 --threads 2
    python scripts/measure_spread.py --report-only            # re-read the records in .spread/

A configuration whose record exists is not run again (an interrupted measurement resumes) unless --fresh.
Delete .spread/ after changing a page: records of different versions of a page do not mix.

Records go to `.spread/` (ignored by git), one file per run, named after the pages it covered, so that runs
over different pages add up; the report, over every record in the folder, is Markdown on standard output. A tolerance must
cover the whole spread, and every claim must hold in every run: where one does not, change the page (a
larger budget, an average over seeds, a weaker claim), never the tolerance alone.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from llmguide_docs import outputs
from llmguide_docs.pages import output_lines

ROOT = Path(__file__).resolve().parent.parent


def tag_of(pages: list[str]) -> str:
    """The records' file-name prefix: which pages they hold, so that runs over other pages sit beside them."""
    return "+".join(sorted(Path(p).stem for p in pages))


def run_one(pages: list[str], threads: int, offset: int, out: Path) -> tuple[int, int, float]:
    record = out / f"{tag_of(pages)}-threads{threads}-seed{offset}.json"
    cmd = [
        sys.executable, "-m", "pytest", *pages, "-q", "-p", "no:cacheprovider", "--no-header",
        f"--torch-threads={threads}", f"--seed-offset={offset}", f"--record-outputs={record}",
    ]  # fmt: skip
    start = time.perf_counter()
    log = record.with_suffix(".log").open("w")
    rc = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
    return threads, offset, time.perf_counter() - start if rc in (0, 1) else -1.0


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


class Pages:
    """The current pages' output lines, found by a record's ordinal (its place among the page's outputs)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._current: dict[str, list[tuple[int, str]]] = {}
        self._recorded: dict[str, dict[int, int]] = {}

    @staticmethod
    def name(path: str) -> str:
        parts = Path(path).parts
        return str(Path(*parts[parts.index("docs") :])) if "docs" in parts else path

    def current(self, name: str) -> list[tuple[int, str]]:
        if name not in self._current:
            page = self.root / name
            self._current[name] = output_lines(page.read_text("utf8")) if page.is_file() else []
        return self._current[name]

    def ordinal(self, record: dict) -> int | None:
        if record.get("ordinal") is not None:
            return record["ordinal"]
        # Older records: the ordinal in the page as it was when recorded (the file the record names).
        path = record["page"]
        if path not in self._recorded:
            text = Path(path).read_text("utf8") if Path(path).is_file() else ""
            self._recorded[path] = {line: n for n, (line, _) in enumerate(output_lines(text))}
        return self._recorded[path].get(record["line"])

    def ends_in_example(self, record: dict, index: int) -> bool:
        """Whether the statement of a record (its `index`-th line) ends in example lines, which stand for all it
        printed from there on (records written before that rule could count more lines than shown)."""
        n = self.ordinal(record)
        lines = self.current(self.name(record["page"]))
        last = None if n is None else n - index + record["lines_shown"] - 1
        if last is None or not 0 <= last < len(lines) or record["lines_printed"] < record["lines_shown"]:
            return False
        return outputs.parse_output_line(*lines[last]).kind == outputs.EXAMPLE

    def expected(self, record: dict) -> outputs.Expected | None:
        """The current page's line for a record, or None when the page's outputs changed since."""
        n = self.ordinal(record)
        lines = self.current(self.name(record["page"]))
        if n is None or n >= len(lines):
            return None
        expected = outputs.parse_output_line(*lines[n])
        recorded = record["shown"]
        if record["kind"] == outputs.MEASURED:
            recorded = outputs.strip_tolerances(recorded)[0]
        return expected if _same_text(expected.plain, recorded) else None


def report(out: Path, root: Path = ROOT) -> str:
    runs = [json.loads(path.read_text("utf8")) for path in sorted(out.glob("*threads*-seed*.json"))]
    if not runs:
        return "no records in " + str(out)
    pages = Pages(root)
    configs = sorted({(r["torch_threads"], r["seed_offset"]) for r in runs})
    pages_run = sorted({Pages.name(line["page"]) for r in runs for line in r["lines"]})
    lines = [
        f"Records: {len(runs)} runs of pytest over {', '.join(pages_run)}; configurations (torch threads, seed "
        f"offset): {', '.join(f'({t}, +{s})' for t, s in configs)}.",
        "",
        "### Measured numbers (`#~`): shown value, tolerance, and the range printed across the runs",
        "",
        "| page:line | # | shown | tolerance | min | max | largest deviation | covered |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    measured: dict[tuple[str, int, int], dict] = {}
    problems: dict[tuple[str, int], set[str]] = defaultdict(set)
    changed: dict[tuple[str, int], set[tuple[int, int]]] = defaultdict(set)
    stale: set[str] = set()
    for run in runs:
        config = (run["torch_threads"], run["seed_offset"])
        # A record's place among its statement's lines: a statement's records come one after another.
        position = 0
        for n, record in enumerate(run["lines"]):
            before = run["lines"][n - 1] if n else None
            same = (
                before and before["page"] == record["page"] and before["lines_shown"] == record["lines_shown"]
            )
            follows = same and before["line"] < record["line"] and position + 1 < record["lines_shown"]
            position = position + 1 if follows else 0
            expected = pages.expected(record)
            if expected is None:
                stale.add(pages.name(record["page"]))
                continue
            key = (pages.name(record["page"]), expected.lineno)
            printed = record["printed"] if record["printed"] is not None else ""
            if record["lines_printed"] != record["lines_shown"] and not pages.ends_in_example(
                record, position
            ):
                problems[key].add(f"prints {record['lines_printed']} lines, not {record['lines_shown']}")
            if expected.kind == outputs.MEASURED:
                devs = outputs.deviations(expected, printed)
                if devs is None:
                    problems[key].add(f"printed another shape: {printed!r}")
                    continue
                words = outputs.mismatch(expected, printed)
                if words and "outside" not in words:  # words or a number without a tolerance changed
                    changed[key].add(config)
                for index, shown, got, tol in devs:
                    entry = measured.setdefault((*key, index), {"shown": shown, "tol": tol, "got": []})
                    entry["got"].append(got)
            elif expected.kind == outputs.EXACT and printed.rstrip() != expected.text.rstrip():
                changed[key].add(config)
    uncovered = 0
    for (page, line, index), e in sorted(measured.items()):
        lo, hi = min(e["got"]), max(e["got"])
        worst = max(abs(g - e["shown"]) for g in e["got"])
        ok = all(e["tol"].allows(e["shown"], g) for g in e["got"])
        uncovered += not ok
        lines.append(
            f"| {page}:{line} | {index + 1} | {_fmt(e['shown'])} | {e['tol']} | {_fmt(lo)} | {_fmt(hi)} | "
            f"{_fmt(worst)} | {'yes' if ok else '**no**'} |"
        )
    lines += ["", f"Measured numbers outside their tolerance in some run: {uncovered}.", ""]
    if problems:
        lines += ["Measured lines that printed something else than numbers within tolerances:", ""]
        lines += [
            f"- {page}:{line}: {'; '.join(sorted(why))}" for (page, line), why in sorted(problems.items())
        ]
        lines.append("")
    lines += [
        "### Exact output that printed something else (`#>` lines; words and untoleranced numbers of `#~`)",
        "",
    ]
    if not changed:
        lines.append("None.")
    for (page, line), cfgs in sorted(changed.items()):
        threads_only = sorted(t for t, s in cfgs if s == 0)
        seeds = sorted({s for _, s in cfgs})
        kind = (
            f"**changes with the thread count at the page's own seed** ({threads_only})"
            if threads_only
            else "changes with the seed only"
        )
        lines.append(f"- {page}:{line}: {kind}; in {len(cfgs)} of {len(runs)} runs (seed offsets {seeds})")
    lines += ["", "### Failed blocks (a claim that does not hold in some run)", ""]
    failed = [(r["torch_threads"], r["seed_offset"], f) for r in runs for f in r["failures"]]
    if not failed:
        lines.append("None.")
    for threads, offset, f in failed:
        lines.append(f"- threads {threads}, seed +{offset}: `{f['test']}`: {f['message']}")
    if stale:
        lines += ["", f"Records that no longer match their page (run again): {', '.join(sorted(stale))}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="*", default=["docs"], help="pages or folders (default: docs)")
    parser.add_argument("--seeds", type=int, default=5, help="seed offsets 0..N-1 (default 5)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4], help="torch thread counts")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (each uses its thread count)")
    parser.add_argument("--out", type=Path, default=ROOT / ".spread", help="folder for the records")
    parser.add_argument("--report-only", action="store_true", help="only report on the records in --out")
    parser.add_argument("--fresh", action="store_true", help="run again the configurations already recorded")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.jobs < 1 or min(args.threads) < 1:
        parser.error("--seeds, --jobs and --threads must be at least 1")
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        configs = [(t, s) for t in args.threads for s in range(args.seeds)]
        if not args.fresh:  # resume: a record that exists is a run that finished
            tag = tag_of(args.pages)
            configs = [
                (t, s) for t, s in configs if not (args.out / f"{tag}-threads{t}-seed{s}.json").exists()
            ]
        with ThreadPoolExecutor(args.jobs) as pool:
            for threads, offset, seconds in pool.map(lambda c: run_one(args.pages, *c, args.out), configs):
                status = f"{seconds:.0f} s" if seconds >= 0 else "pytest could not run: see the log"
                print(f"threads {threads}, seed +{offset}: {status}", file=sys.stderr, flush=True)
    print(report(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
