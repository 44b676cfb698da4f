"""The chapter structure check (llmguide_docs/chapters.py) against planted mistakes, each named with file and line.

A planted project (mkdocs.yml, an index with both tables, a part-two chapter with a figure, three exercises
and a solutions notebook) passes; each mistake a contributor made while adding a chapter (issue 27) is then
planted alone and must be reported with the file, and the line where there is one. The last test runs the
check as `make page` does, `pytest docs/PAGE.md`, and times it.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from llmguide_docs import chapters as chapterchecks
from llmguide_docs.site import is_chapter

FENCE = "```"

MKDOCS = """site_name: planted
nav:
  - Introduction: index.md
  - Scaling laws:
      - Scaling laws: scaling-laws.md
      - "Exercises, solved": solutions/scaling-laws.ipynb
  - Beyond the notes:
      - Tokens:
          - Tokens: tokens.md
          - "Exercises, solved": solutions/tokens.ipynb
  - Appendix:
      - GPUs: appendix/gpus.md
"""

INDEX = """# Planted

## What each chapter checks

| Chapter | The notes' claim | What the chapter's code shows |
| --- | --- | --- |
| [Scaling laws](scaling-laws.md) | a claim | a check |

## Beyond the notes

| Chapter | The question | What the chapter's code shows |
| --- | --- | --- |
| [Tokens](tokens.md) | How is text cut into tokens? | a check |

## Reading the outputs

Text.
"""

CHAPTER = f"""# Tokens

[Run this chapter as a Jupyter notebook](notebooks/tokens.ipynb){{ download="tokens.ipynb" }}: every block is a cell.

Some prose.

{FENCE}python
import matplotlib.pyplot as plt

from llmguide.figures import save_figure

fig, ax = plt.subplots()
save_figure(fig, "token-lengths")
{FENCE}

![Token lengths](figures/token-lengths.svg)

## Exercises

Predict first; the [solutions](solutions/tokens.ipynb) assert each answer.

1. **One.** Do this.
2. **Two.** Do that.
3. **Three.** And this.
"""


def notebook(sections: dict[int, list[str]], stem: str = "tokens") -> str:
    """A solutions notebook: a link back, then per exercise a heading cell and its code cells."""
    cells = [{"cell_type": "markdown", "metadata": {}, "source": f"[Back](../../{stem}/#exercises)"}]
    for number, codes in sections.items():
        cells.append(
            {"cell_type": "markdown", "metadata": {}, "source": f"## Exercise {number}: title\n\nWhy."}
        )
        cells += [
            {"cell_type": "code", "metadata": {}, "source": code, "outputs": [], "execution_count": None}
            for code in codes
        ]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


GOOD_SOLUTIONS = {1: ["x = 1\nassert x == 1"], 2: ["y = 2", "assert y == 2"], 3: ["assert 3 == 3"]}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "mkdocs.yml").write_text(MKDOCS)
    docs = tmp_path / "docs"
    (docs / "solutions").mkdir(parents=True)
    (docs / "appendix").mkdir()
    (docs / "index.md").write_text(INDEX)
    (docs / "tokens.md").write_text(CHAPTER)
    (docs / "appendix" / "gpus.md").write_text("# GPUs\n")
    (docs / "solutions" / "tokens.ipynb").write_text(notebook(GOOD_SOLUTIONS))
    return tmp_path


def problems(project: Path) -> list[str]:
    return chapterchecks.chapter_problems(project / "docs" / "tokens.md")


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def test_the_planted_chapter_passes(project: Path):
    assert problems(project) == []


def test_which_pages_are_chapters(project: Path):
    docs = project / "docs"
    (docs / "draft.md").write_text("# Not in the nav yet\n")
    assert is_chapter(docs / "tokens.md", listed=False)
    assert is_chapter(docs / "draft.md", listed=False)  # a new chapter, before its nav entry
    assert not is_chapter(docs / "draft.md")  # not a chapter of the nav yet: no notebook item
    assert not is_chapter(docs / "index.md", listed=False)
    assert not is_chapter(docs / "appendix" / "gpus.md", listed=False)


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().split("\n"), start=1) if needle in line)


def test_a_missing_nav_entry_names_mkdocs_yml_and_the_section(project: Path):
    yml = project / "mkdocs.yml"
    replace(yml, "          - Tokens: tokens.md\n", "")
    replace(yml, '          - "Exercises, solved": solutions/tokens.ipynb\n', "")
    replace(yml, "      - Tokens:\n", "      - Other: appendix/gpus.md\n")
    found = problems(project)
    assert f"mkdocs.yml:{line_of(yml, '- Beyond the notes:')}: the nav does not list tokens.md" in found[0]


def test_a_solutions_notebook_missing_from_the_nav(project: Path):
    yml = project / "mkdocs.yml"
    replace(yml, '          - "Exercises, solved": solutions/tokens.ipynb\n', "")
    (found,) = problems(project)
    assert found.startswith(f"mkdocs.yml:{line_of(yml, 'Tokens: tokens.md')}: ")
    assert "solutions/tokens.ipynb" in found


def test_a_missing_index_row_names_the_index_the_line_and_the_table(project: Path):
    index = project / "docs" / "index.md"
    replace(index, "| [Tokens](tokens.md) | How is text cut into tokens? | a check |\n", "")
    (found,) = problems(project)
    assert found.startswith(f"docs/index.md:{line_of(index, '## Beyond the notes')}: no row for tokens.md")
    assert "'Beyond the notes'" in found and "the chapter's question" in found


def test_a_part_two_chapter_in_the_notes_table_is_caught(project: Path):
    index = project / "docs" / "index.md"
    replace(index, "| [Tokens](tokens.md) | How is text cut into tokens? | a check |\n", "")
    replace(
        index,
        "| [Scaling laws](scaling-laws.md)",
        "| [Tokens](tokens.md) | q | c |\n| [Scaling laws](scaling-laws.md)",
    )
    (found,) = problems(project)
    assert "in the table 'Beyond the notes'" in found and "the other part's table" in found


@pytest.mark.parametrize("count", [2, 6])
def test_a_wrong_exercise_count_names_the_page_and_the_section(project: Path, count: int):
    page = project / "docs" / "tokens.md"
    items = "".join(f"{n}. **Item {n}.** Text.\n" for n in range(1, count + 1))
    text = page.read_text()
    page.write_text(text[: text.index("1. **One.**")] + items)
    found = problems(project)
    assert f"docs/tokens.md:{line_of(page, '## Exercises')}: 3 to 5 exercises" in found[0]
    assert f"found {count}" in found[0]
    # ... and the notebook's sections no longer match the page's exercises
    assert any(p.startswith("docs/solutions/tokens.ipynb: 3 `## Exercise N` sections") for p in found)


def test_an_unasserted_exercise_is_caught_even_with_enough_asserts(project: Path):
    # Exercise 1 asserts nothing, exercise 3 asserts twice: as many asserts as exercises, still caught.
    solutions = {1: ["x = 1"], 2: ["assert 2 == 2"], 3: ["assert 3 == 3", "assert 4 == 4"]}
    (project / "docs" / "solutions" / "tokens.ipynb").write_text(notebook(solutions))
    (found,) = problems(project)
    assert found.startswith(
        "docs/solutions/tokens.ipynb: cell 1 (## Exercise 1): the section asserts nothing"
    )


def test_a_missing_solutions_notebook(project: Path):
    (project / "docs" / "solutions" / "tokens.ipynb").unlink()
    (found,) = problems(project)
    assert found.startswith("docs/tokens.md: its solutions notebook docs/solutions/tokens.ipynb is missing")


def test_misnumbered_sections_and_a_missing_link_back(project: Path):
    text = notebook({1: ["assert 1"], 3: ["assert 3"], 2: ["assert 2"]}).replace(
        "../../tokens/#exercises", "x"
    )
    (project / "docs" / "solutions" / "tokens.ipynb").write_text(text)
    found = problems(project)
    assert "docs/solutions/tokens.ipynb: cell 0: link back to the exercises" in found[0]
    assert "numbered [1, 3, 2]" in found[1]


def test_a_missing_notebook_link_names_the_title_line(project: Path):
    replace(
        project / "docs" / "tokens.md",
        '[Run this chapter as a Jupyter notebook](notebooks/tokens.ipynb){ download="tokens.ipynb" }',
        "",
    )
    (found,) = problems(project)
    assert found.startswith("docs/tokens.md:1: put the chapter's notebook link right under its title")


def test_a_figure_shown_before_it_is_drawn_or_without_alt_text(project: Path):
    page = project / "docs" / "tokens.md"
    replace(page, "![Token lengths](figures/token-lengths.svg)\n", "")
    replace(page, "Some prose.\n", "Some prose.\n\n![](figures/token-lengths.svg)\n")
    found = problems(project)
    line = line_of(page, "![](figures/token-lengths.svg)")
    assert found[0].startswith(f"docs/tokens.md:{line}: figures/token-lengths.svg has no alt text")
    assert found[1].startswith(f"docs/tokens.md:{line}: figures/token-lengths.svg is shown before the block")


def test_exercises_not_last_and_no_solutions_link(project: Path):
    page = project / "docs" / "tokens.md"
    replace(page, "[solutions](solutions/tokens.ipynb)", "solutions")
    page.write_text(page.read_text() + "\n## Afterword\n\nText.\n")
    found = problems(project)
    assert found[0].startswith(
        f"docs/tokens.md:{line_of(page, '## Afterword')}: the exercises are the chapter's last"
    )
    assert found[1].startswith(f"docs/tokens.md:{line_of(page, '## Exercises')}: link the solutions")


def test_make_page_runs_the_structure_check_in_seconds(project: Path, pytester: pytest.Pytester, monkeypatch):
    """`pytest docs/PAGE.md` (what `make page` runs) reports a planted mistake with file and line."""
    monkeypatch.chdir(project)
    (project / "pytest.ini").write_text(
        "[pytest]\naddopts = --markdown-docs --markdown-docs-syntax=superfences -p llmguide_docs.plugin\n"
    )
    replace(
        project / "docs" / "index.md",
        "| [Tokens](tokens.md) | How is text cut into tokens? | a check |\n",
        "",
    )
    start = time.perf_counter()
    result = pytester.runpytest_inprocess(
        "docs/tokens.md", "--skip-page-ruff", "-p", "no:cacheprovider", "-k", "structure"
    )
    seconds = time.perf_counter() - start
    result.assert_outcomes(failed=1, deselected=2)
    output = result.stdout.str()
    assert re.search(r"docs/index\.md:\d+: no row for tokens\.md in the table 'Beyond the notes'", output), (
        output
    )
    assert seconds < 60  # a few seconds, most of it starting Python; generous for a loaded machine
