"""A chapter's structure, as the checklist of docs/contributing.md ("Adding a chapter") asks it.

`chapter_problems(page)`, the `[structure]` item of each chapter page, returns what the page misses as
`FILE:LINE: message`: its nav entry with its solutions, its row in its part's table of the index, the notebook
link under its title, `## Exercises` last (3 to 5, linking the solutions), a solutions notebook with one
asserting `## Exercise N` section per exercise and no outputs, figures with alt text after their block.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from llmguide_docs import pages, site

PART_ONE = "What each chapter checks"  # the index's table of the notes' chapters
PART_TWO = "Beyond the notes"  # the nav section, and the index's table, of the chapters outside the notes
EXERCISE_ITEM = re.compile(r"^\d+\. \*\*", re.M)
EXERCISE_HEADING = re.compile(r"^## Exercise (\d+)\b")
TABLE_ROW = re.compile(r"^\| \[[^\]]+\]\(([^)#]+)(?:#[^)]*)?\)", re.M)


def part_two_chapters(config: dict[str, Any]) -> list[str]:
    """The chapters under the nav's section "Beyond the notes" (empty while it has none)."""
    section = next((i[PART_TWO] for i in config["nav"] if isinstance(i, dict) and PART_TWO in i), [])
    return site.chapter_names({"nav": section})


def table_links(index: str, heading: str) -> set[str]:
    """The pages linked from the first cell of each row of the table under `## heading` in the index."""
    section = re.search(rf"^## {re.escape(heading)}\s*?$(.*?)(?=^## |\Z)", index, re.M | re.S)
    return set(TABLE_ROW.findall(section[1])) if section else set()


def _line(lines: list[str], pattern: str) -> int | None:
    """1-based number of the first line matching `pattern`, or None."""
    return next((n for n, line in enumerate(lines, start=1) if re.search(pattern, line)), None)


def _nav_section(nav: list, page: str) -> list | None:
    """The pages and sections of the innermost nav section that lists `page` (None if the nav does not)."""
    values = [next(iter(i.values())) if isinstance(i, dict) else i for i in nav]
    if page in values:
        return values
    return next((s for v in values if isinstance(v, list) and (s := _nav_section(v, page))), None)


def _check_nav(yml: list[str], config: dict[str, Any], page: Path) -> Iterator[str]:
    section = _nav_section(config["nav"], page.name)
    solutions = f"solutions/{page.stem}.ipynb"
    if section is None:
        where = _line(yml, rf"^\s*- {re.escape(PART_TWO)}:") or _line(yml, "^nav:")
        yield (
            f"mkdocs.yml:{where}: the nav does not list {page.name}: add a section for it, a chapter of the "
            f"notes in the notes' order, a topic outside the notes under '{PART_TWO}' (docs/contributing.md, "
            f'"Adding a chapter"): the page, then `"Exercises, solved": {solutions}`'
        )
    elif solutions not in section:
        where = _line(yml, rf":\s*{re.escape(page.name)}\s*$")
        yield f'mkdocs.yml:{where}: add `"Exercises, solved": {solutions}` under {page.name} in the nav'


def _check_index_row(path: Path, rel: str, config: dict[str, Any], page: str) -> Iterator[str]:
    if not path.is_file():
        return
    index = path.read_text("utf8")
    part_two = page in part_two_chapters(config)
    heading, other = (PART_TWO, PART_ONE) if part_two else (PART_ONE, PART_TWO)
    in_other, listed = page in table_links(index, other), page in site.nav_pages(config)
    if page in table_links(index, heading) or (in_other and not listed):
        return  # a page not in the nav yet may be in either table: it depends on where its entry will go
    line = _line(index.split("\n"), rf"^\s*## {re.escape(heading)}\s*$")
    also = f" (it has one in '{other}', the other part's table)" if in_other else ""
    if not listed:
        also = f" (or, for a topic outside the notes, '{PART_TWO}', with the chapter's question)"
    missing_table = "" if line else f" (add the table under a heading `## {heading}`)"
    what = "the chapter's question" if part_two else "the notes' claim"
    yield (
        f"{rel}{f':{line}' if line else ''}: no row for {page} in the table '{heading}'{also}{missing_table}: "
        f"`| [Title]({page}) | {what} | what the chapter's code shows |`"
    )


def _exercise_sections(cells: list[dict[str, Any]]) -> list[list[int]]:
    """[exercise number, index of its heading cell, asserts in its code cells] for each `## Exercise N`."""
    sections: list[list[int]] = []
    for i, cell in enumerate(cells):
        source = "".join(cell["source"])  # a list of lines in the file, a string in nbformat's cells
        if cell["cell_type"] == "markdown" and (m := EXERCISE_HEADING.match(source)):
            sections.append([int(m[1]), i, 0])
        elif cell["cell_type"] == "code" and sections:
            with contextlib.suppress(SyntaxError):  # the notebook's run reports it
                sections[-1][2] += sum(isinstance(n, ast.Assert) for n in ast.walk(ast.parse(source)))
    return sections


def unasserted_exercises(cells: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """(exercise number, heading cell) of each `## Exercise N` section whose own code asserts nothing."""
    return [(number, heading) for number, heading, asserts in _exercise_sections(cells) if not asserts]


def _check_solutions(rel: Callable[[Path], str], docs: Path, page: Path, exercises: int) -> Iterator[str]:
    path = docs / "solutions" / f"{page.stem}.ipynb"
    nb = rel(path)
    if not path.is_file():
        yield (
            f"{rel(page)}: its solutions notebook {nb} is missing: one `## Exercise N` section per exercise, "
            'each asserting its answer (docs/contributing.md, "Exercises and their solutions")'
        )
        return
    try:
        cells = json.loads(path.read_text("utf8"))["cells"]
    except (ValueError, KeyError) as exc:
        yield f"{nb}: not a notebook ({exc})"
        return
    if not cells or f"../../{page.stem}/#exercises" not in "".join(cells[0]["source"]):
        yield f"{nb}: cell 0: link back to the exercises, `(../../{page.stem}/#exercises)`"
    sections = _exercise_sections(cells)
    if (numbers := [n for n, _, _ in sections]) != list(range(1, len(numbers) + 1)):
        yield f"{nb}: the sections are numbered {numbers}; number them 1, 2, ... in order"
    if exercises and len(sections) != exercises:
        yield f"{nb}: {len(sections)} `## Exercise N` sections for the {exercises} exercises of {rel(page)}"
    for number, heading in unasserted_exercises(cells):
        yield f"{nb}: cell {heading} (## Exercise {number}): the section asserts nothing; assert its answer"
    if dirty := [i for i, c in enumerate(cells) if c.get("outputs") or c.get("execution_count")]:
        yield f"{nb}: cells {dirty} have outputs: clear them before committing (the tests make them)"


def _check_page(rel: Callable[[Path], str], docs: Path, page: Path) -> Iterator[str]:
    """The page's own items: the notebook link under its title, its exercises and their solutions, figures."""
    name, text = rel(page), page.read_text("utf8")
    lines = text.split("\n")
    link = f'](notebooks/{page.stem}.ipynb){{ download="{page.stem}.ipynb" }}'
    title, found = _line(lines, "^# "), _line(lines, re.escape(link))
    if title is None:
        yield f"{name}:1: the chapter has no title (`# Title` on its first line)"
    elif found is None or found - title > 3:
        at = f" (line {found} is too far below it)" if found is not None else ""
        yield (
            f"{name}:{title}: put the chapter's notebook link right under its title{at}: "
            f"`[Run this chapter as a Jupyter notebook]{link[1:]}`"
        )
    line = _line(lines, r"^\s*## Exercises\s*$")
    below = "\n".join(lines[line:]) if line else ""
    exercises = len(EXERCISE_ITEM.findall(below))  # numbered items with a bold title
    if line is None:
        yield f"{name}:{len(lines)}: end the chapter with a section `## Exercises` (3 to 5 exercises)"
    if line and (later := _line(lines[line:], "^## ")):
        yield f"{name}:{line + later}: the exercises are the chapter's last section; move this one above them"
    if line and not 3 <= exercises <= 5:
        yield (
            f"{name}:{line}: 3 to 5 exercises, a numbered list with a bold title each (`1. **Title.** ...`); "
            f"found {exercises}"
        )
    if line and f"(solutions/{page.stem}.ipynb)" not in below:
        yield f"{name}:{line}: link the solutions: `[solutions](solutions/{page.stem}.ipynb)`"
    yield from _check_solutions(rel, docs, page, exercises)
    shown, drawn = pages.figures(text)
    for n, m in shown:
        if not m["alt"].strip():
            yield f"{name}:{n}: figures/{m['name']}.svg has no alt text: say what the figure shows"
        if drawn.get(m["name"], 0) > n:
            yield (
                f"{name}:{n}: figures/{m['name']}.svg is shown before the block that draws it (line "
                f"{drawn[m['name']]}): the chapter's notebook shows it at this place, so draw it above"
            )


def chapter_problems(page: Path) -> list[str]:
    """Everything the checklist asks of a chapter that `page` misses, each as `FILE:LINE: message`."""
    page = page.resolve()
    if (found := site.project(page)) is None:
        return [f"{page}: no mkdocs.yml above the page"]
    root, config, docs = found

    def rel(path: Path) -> str:
        return Path(os.path.relpath(path, root)).as_posix()

    return [
        *_check_nav((root / "mkdocs.yml").read_text("utf8").split("\n"), config, page),
        *_check_index_row(docs / "index.md", rel(docs / "index.md"), config, page.name),
        *_check_page(rel, docs, page),
    ]
