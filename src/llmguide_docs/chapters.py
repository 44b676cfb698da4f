"""A chapter's structure, checked in a second: what the checklist (docs/contributing.md, "Adding a chapter")
asks of every chapter.

`chapter_problems(page)` returns each item a chapter page misses, as `FILE:LINE: message` (`FILE: cell N ...`
in a notebook, `FILE: message` where there is no line): its nav entry with its solutions under it; its row
in its part's table of `docs/index.md`; the notebook link under its title; `## Exercises` last, with 3 to 5
numbered exercises and a link to the solutions; the solutions notebook, with one `## Exercise N` section per
exercise, each asserting its answer, committed without outputs; alt text on each figure, shown after the
block that draws it. The plugin adds an item `[structure]` to each chapter page pytest collects.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmguide_docs import pages, site

PART_ONE = "What each chapter checks"  # the index's table of the notes' chapters
PART_TWO = "Beyond the notes"  # the nav section, and the index's table, of the chapters outside the notes
EXERCISES = "\n## Exercises\n"
EXERCISE_ITEM = re.compile(r"^\d+\. \*\*", re.M)
EXERCISE_HEADING = re.compile(r"^## Exercise (\d+)\b")
MIN_EXERCISES, MAX_EXERCISES = 3, 5


# ---------------------------------------------------------------------------------------------------------
# Reading the project: nav, index tables, exercises
# ---------------------------------------------------------------------------------------------------------


def part_two_chapters(config: dict[str, Any]) -> list[str]:
    """The chapters under the nav's section "Beyond the notes" (empty while it has none)."""
    for item in config["nav"]:
        if isinstance(item, dict) and PART_TWO in item:
            return [p for p in site.nav_pages({"nav": item[PART_TWO]}) if p.endswith(".md") and "/" not in p]
    return []


def table_links(index: str, heading: str) -> set[str]:
    """The pages linked from the first cell of each row of the table under `## heading` in the index."""
    return set(table_rows(index, heading))


def table_rows(index: str, heading: str) -> dict[str, int]:
    """page -> 1-based line of its row, for each row of the table under `## heading` in the index."""
    lines = index.split("\n")
    start = next((n for n, line in enumerate(lines) if line.strip() == f"## {heading}"), None)
    if start is None:
        return {}
    rows: dict[str, int] = {}
    for n in range(start + 1, len(lines)):
        if lines[n].startswith("## "):
            break
        m = re.match(r"^\| \[[^\]]+\]\(([^)#]+)(?:#[^)]*)?\)", lines[n])
        if m:
            rows.setdefault(m[1], n + 1)
    return rows


def heading_line(text: str, heading: str) -> int | None:
    """1-based line of `## heading` in a Markdown text, or None."""
    lines = text.split("\n")
    return next((n + 1 for n, line in enumerate(lines) if line.strip() == f"## {heading}"), None)


def exercise_count(page_text: str) -> int:
    """How many exercises a chapter lists: numbered items with a bold title, under `## Exercises`."""
    if EXERCISES not in page_text:
        return 0
    return len(EXERCISE_ITEM.findall(page_text.split(EXERCISES, 1)[1]))


# ---------------------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------------------


@dataclass
class _Project:
    root: Path
    docs: Path
    config: dict[str, Any]
    mkdocs_text: str

    def rel(self, path: Path) -> str:
        try:
            return Path(path).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def yml_line(self, pattern: str) -> int | None:
        """1-based line of mkdocs.yml matching `pattern` (a regex), or None."""
        for n, line in enumerate(self.mkdocs_text.split("\n"), start=1):
            if re.search(pattern, line):
                return n
        return None


def _nav_section(config: dict[str, Any], page: str) -> list[str] | None:
    """The pages of the innermost nav section that lists `page` (None if the nav does not list it)."""

    def find(items: list) -> list[str] | None:
        pages = [next(iter(i.values())) if isinstance(i, dict) else i for i in items]
        if page in pages:
            return [p for p in pages if isinstance(p, str)]
        for value in pages:
            if isinstance(value, list) and (found := find(value)) is not None:
                return found
        return None

    return find(config["nav"])


def _check_nav(p: _Project, page: Path) -> list[str]:
    yml = p.rel(p.root / "mkdocs.yml")
    section = _nav_section(p.config, page.name)
    solutions = f"solutions/{page.stem}.ipynb"
    if section is None:
        where = p.yml_line(rf"^\s*- {re.escape(PART_TWO)}:") or p.yml_line(r"^nav:")
        return [
            f"{yml}:{where}: the nav does not list {page.name}: add a section for it, a chapter of the notes in "
            f"the notes' order, a topic outside the notes under '{PART_TWO}' (docs/contributing.md, "
            f'"Adding a chapter"): the page, then `"Exercises, solved": {solutions}`'
        ]
    if solutions not in section:
        where = p.yml_line(rf":\s*{re.escape(page.name)}\s*$")
        return [f'{yml}:{where}: add `"Exercises, solved": {solutions}` under {page.name} in the nav']
    return []


def _check_index_row(p: _Project, page: Path) -> list[str]:
    index_path = p.docs / "index.md"
    if not index_path.is_file():
        return []
    index = index_path.read_text("utf8")
    rel = p.rel(index_path)
    in_nav = _nav_section(p.config, page.name) is not None
    part_two = page.name in part_two_chapters(p.config)
    heading = PART_TWO if part_two else PART_ONE
    rows = table_rows(index, heading)
    if page.name in rows:
        return []
    other = PART_ONE if part_two else PART_TWO
    if not in_nav:  # which table depends on where the nav entry will go
        if page.name in table_rows(index, other):
            return []
        line = heading_line(index, PART_ONE) or 1
        return [
            f"{rel}:{line}: no row for {page.name} in the table '{PART_ONE}' (a chapter of the notes: link | the "
            f"notes' claim | what the chapter's code shows) or '{PART_TWO}' (a topic outside them: link | the "
            "chapter's question | what the chapter's code shows)"
        ]
    what = "the chapter's question" if part_two else "the notes' claim"
    line = heading_line(index, heading)
    where = f"{rel}:{line}" if line else rel
    also = (
        f" (it has one in '{other}', the other part's table)" if page.name in table_rows(index, other) else ""
    )
    missing_table = "" if line else f" (add the table under a heading `## {heading}`)"
    return [
        f"{where}: no row for {page.name} in the table '{heading}'{also}{missing_table}: "
        f"`| [Title]({page.name}) | {what} | what the chapter's code shows |`"
    ]


def _check_notebook_link(p: _Project, page: Path, lines: list[str]) -> list[str]:
    title = next((n for n, line in enumerate(lines) if line.startswith("# ")), None)
    link = f'](notebooks/{page.stem}.ipynb){{ download="{page.stem}.ipynb" }}'
    found = next((n for n, line in enumerate(lines) if link in line), None)
    rel = p.rel(page)
    if title is None:
        return [f"{rel}:1: the chapter has no title (`# Title` on its first line)"]
    if found is None or found - title > 3:
        at = f" (line {found + 1} is too far below it)" if found is not None else ""
        return [
            f"{rel}:{title + 1}: put the chapter's notebook link right under its title{at}: "
            f"`[Run this chapter as a Jupyter notebook]{link[1:]}`"
        ]
    return []


def _check_exercises(p: _Project, page: Path, text: str) -> tuple[list[str], int]:
    rel = p.rel(page)
    line = heading_line(text, "Exercises")
    if line is None or EXERCISES not in text:
        end = text.count("\n") + 1
        return [f"{rel}:{end}: end the chapter with a section `## Exercises` (3 to 5 exercises)"], 0
    problems = []
    section = text.split(EXERCISES, 1)[1]
    later = re.search(r"^## ", section, re.M)
    if later:
        n = line + section[: later.start()].count("\n") + 1
        problems.append(f"{rel}:{n}: the exercises are the chapter's last section; move this one above them")
    n = exercise_count(text)
    if not MIN_EXERCISES <= n <= MAX_EXERCISES:
        problems.append(
            f"{rel}:{line}: {MIN_EXERCISES} to {MAX_EXERCISES} exercises, as a numbered list with a bold title "
            f"each (`1. **Title.** ...`); found {n}"
        )
    if f"(solutions/{page.stem}.ipynb)" not in section:
        problems.append(
            f"{rel}:{line}: link the solutions from the exercises: `[solutions](solutions/{page.stem}.ipynb)`"
        )
    return problems, n


def exercise_sections(cells: list[dict[str, Any]]) -> list[tuple[int, int, list[int]]]:
    """(exercise number, index of its heading cell, indices of its code cells) for each `## Exercise N`."""
    sections: list[tuple[int, int, list[int]]] = []
    for i, cell in enumerate(cells):
        m = EXERCISE_HEADING.match(_source(cell)) if cell["cell_type"] == "markdown" else None
        if m:
            sections.append((int(m[1]), i, []))
        elif cell["cell_type"] == "code" and sections:
            sections[-1][2].append(i)
    return sections


def _source(cell: dict[str, Any]) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def unasserted_exercises(cells: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """(exercise number, heading cell) of each `## Exercise N` section whose own code asserts nothing."""
    missing = []
    for number, heading, code in exercise_sections(cells):
        asserts = 0
        for i in code:
            try:
                tree = ast.parse(_source(cells[i]))
            except SyntaxError:
                continue  # the notebook's run reports it
            asserts += sum(isinstance(node, ast.Assert) for node in ast.walk(tree))
        if not asserts:
            missing.append((number, heading))
    return missing


def _check_solutions(p: _Project, page: Path, exercises: int) -> list[str]:
    path = p.docs / "solutions" / f"{page.stem}.ipynb"
    rel = p.rel(path)
    if not path.is_file():
        return [
            f"{p.rel(page)}: its solutions notebook {rel} is missing: one `## Exercise N` section per exercise, "
            'each asserting its answer (docs/contributing.md, "Exercises and their solutions")'
        ]
    try:
        cells = json.loads(path.read_text("utf8"))["cells"]
    except (ValueError, KeyError) as exc:
        return [f"{rel}: not a notebook ({exc})"]
    problems = []
    if not cells or f"../../{page.stem}/#exercises" not in _source(cells[0]):
        problems.append(f"{rel}: cell 0: link back to the exercises, `(../../{page.stem}/#exercises)`")
    sections = exercise_sections(cells)
    numbers = [n for n, _, _ in sections]
    if numbers != list(range(1, len(numbers) + 1)):
        problems.append(f"{rel}: the sections are numbered {numbers}; number them 1, 2, ... in order")
    if exercises and len(sections) != exercises:
        problems.append(
            f"{rel}: {len(sections)} `## Exercise N` sections for the {exercises} exercises of {p.rel(page)}: "
            "one section per exercise"
        )
    for number, heading in unasserted_exercises(cells):
        problems.append(
            f"{rel}: cell {heading} (## Exercise {number}): the section asserts nothing; its code must assert "
            "its own answer"
        )
    dirty = [
        i
        for i, c in enumerate(cells)
        if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))
    ]
    if dirty:
        problems.append(
            f"{rel}: cells {dirty} have outputs: clear them before committing (the tests make them)"
        )
    return problems


def _check_figures(p: _Project, page: Path, lines: list[str]) -> list[str]:
    fences = pages.fences("\n".join(lines))
    inside = {n for f in fences for n in f.lines}
    drawn: dict[str, int] = {}  # figure -> line of the first block that draws it
    for f in fences:
        for name in re.findall(r"save_figure\([^\n]*[\"']([a-z0-9][a-z0-9-]*)[\"']", "\n".join(f.body)):
            drawn.setdefault(name, f.line)
    problems = []
    rel = p.rel(page)
    for n, line in enumerate(lines, start=1):
        if n in inside:
            continue
        for m in pages.FIGURE.finditer(line):
            name = m["name"]
            if not m["alt"].strip():
                problems.append(f"{rel}:{n}: figures/{name}.svg has no alt text: say what the figure shows")
            if name in drawn and drawn[name] > n:
                problems.append(
                    f"{rel}:{n}: figures/{name}.svg is shown before the block that draws it (line {drawn[name]}): "
                    "the chapter's notebook shows it at this place, so draw it above"
                )
    return problems


def chapter_problems(page: Path) -> list[str]:
    """Everything the checklist asks of a chapter that `page` misses, each as `FILE:LINE: message`."""
    page = Path(page).resolve()
    found = site.project(page)
    if found is None:
        return [f"{page}: no mkdocs.yml above the page"]
    root, config, docs = found
    p = _Project(root, docs, config, (root / "mkdocs.yml").read_text("utf8"))
    text = page.read_text("utf8")
    lines = text.split("\n")
    problems = _check_nav(p, page)
    problems += _check_index_row(p, page)
    problems += _check_notebook_link(p, page, lines)
    exercise_problems, n = _check_exercises(p, page, text)
    problems += exercise_problems
    problems += _check_solutions(p, page, n)
    problems += _check_figures(p, page, lines)
    return problems
