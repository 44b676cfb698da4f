"""The notebooks: each chapter's, made from its page, and the exercises' solutions, run in fresh kernels.

- Every solution notebook (`docs/solutions/*.ipynb`) runs top to bottom in a new kernel and passes: each
  solution asserts its answer. Its executed copy goes to `build/notebooks/`, which the site renders.
- Every chapter's notebook is made from the page: the install cell first, one code cell per runnable block in
  the page's order and without output lines, a cell for each figure, the prose in Markdown that Jupyter
  renders. (`make test` also executes each chapter notebook, in place of the page's blocks:
  `--chapters-as-notebooks`, llmguide_docs/notebook.py. The planted pages below prove that mechanism.)
- Every chapter ends with 3 to 5 exercises, and its solutions notebook answers each of them.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import nbformat
import pytest

from llmguide_docs import chapters as chapterchecks
from llmguide_docs import notebook as pagenotebooks
from llmguide_docs import outputs, pages, site
from llmguide_docs.outputs import OutputMismatch

CHAPTERS = site.chapters()
SOLUTIONS = sorted(pagenotebooks.SOLUTIONS.glob("*.ipynb"))
FENCE = "```"


def _id(path: Path) -> str:
    return path.stem


# ---------------------------------------------------------------------------------------------------------
# The exercises' solutions
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", SOLUTIONS, ids=_id)
def test_solution_notebook_is_committed_without_outputs(source: Path):
    nb = nbformat.read(source, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, (
        f"{source}: clear the outputs of cells {dirty} before committing (they are made by the tests)"
    )


@pytest.mark.parametrize("source", SOLUTIONS, ids=_id)
def test_solution_notebook_runs_in_a_fresh_kernel(source: Path, tmp_path: Path, record_property):
    # Until this run passes, no executed copy exists: `make solutions` (whose target is that copy) runs it
    # again after a failure instead of saying "Nothing to be done", and the strict build refuses the page.
    pagenotebooks.executed_copy(source).unlink(missing_ok=True)
    unasserted = chapterchecks.unasserted_exercises(nbformat.read(source, as_version=4).cells)
    assert not unasserted, (
        f"{source}: every exercise's section asserts its own answer; these assert nothing: "
        + ", ".join(f"## Exercise {n} (cell {cell})" for n, cell in unasserted)
    )
    seconds, nb = pagenotebooks.run_solution_notebook(source, workdir=tmp_path)
    record_property("seconds", seconds)
    print(f"{source.name}: executed in {seconds:.1f} s")
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, f"{source}: a solutions page shows at least one figure"
    assert pagenotebooks.write_executed_copy(source, nb).is_file()


@pytest.mark.parametrize("page", CHAPTERS, ids=_id)
def test_chapter_ends_with_exercises_and_pairs_its_solutions(page: Path):
    """The exercises, the solutions notebook and its sections: the chapter's structure check
    (llmguide_docs/chapters.py, the page's `[structure]` item in `make page`), here for every chapter of the nav."""
    problems = chapterchecks.chapter_problems(page)
    assert not problems, "\n".join(problems)


def test_every_solution_belongs_to_a_chapter_and_is_in_the_nav_under_it():
    config = site.mkdocs_config()
    stems = {p.stem for p in CHAPTERS}
    assert {p.stem for p in SOLUTIONS} == stems
    seen = set()

    def walk(sections: list) -> None:  # a chapter's section may sit in a part ("Beyond the notes")
        for section in sections:
            if not isinstance(section, dict):
                continue
            ((title, value),) = section.items()
            if isinstance(value, list):
                pages = [next(iter(i.values())) if isinstance(i, dict) else i for i in value]
                chapter = [p for p in pages if isinstance(p, str) and p.endswith(".md") and "/" not in p]
                if chapter and Path(chapter[0]).stem in stems:
                    assert f"solutions/{Path(chapter[0]).stem}.ipynb" in pages, title
                    seen.add(Path(chapter[0]).stem)
                walk(value)

    walk(config["nav"])
    assert seen == stems, f"chapters without their section in the nav: {sorted(stems - seen)}"


# ---------------------------------------------------------------------------------------------------------
# The chapters' notebooks, made from the pages
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", CHAPTERS, ids=_id)
def test_chapter_notebook_follows_its_page(page: Path):
    text = page.read_text("utf8")
    nb = pagenotebooks.chapter_notebook(page, text)
    nbformat.validate(nb)
    roles = [c.metadata.get("llmguide", {}).get("role") for c in nb.cells]
    assert roles[0] == "install" and nb.cells[0].cell_type == "code"
    blocks = pages.blocks(page, text)
    cells = [c for c, r in zip(nb.cells, roles, strict=True) if r == "block"]
    assert [c.source for c in cells] == [b.code for b in blocks]
    assert [c.metadata["llmguide"]["line"] for c in cells] == [b.fence.line for b in blocks]
    for c in nb.cells:
        if c.cell_type == "code":
            assert not any(outputs.kind_of(line) for line in c.source.split("\n")), c.source
            compile(c.source, page.name, "exec")  # plain Python, no magics
    figures = [
        c.metadata["llmguide"]["figure"] for c, r in zip(nb.cells, roles, strict=True) if r == "figure"
    ]
    assert figures == re.findall(r"^!\[[^\]]*\]\(figures/([a-z0-9-]+)\.svg\)", text, re.M)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "///" not in prose and "[^" not in prose and "<!--" not in prose
    assert not re.search(r"\]\((?!https?://)[^)#]*\.md\b", prose), "links to other pages point at the site"
    assert f"{pagenotebooks.NOTEBOOK_DIR}/{page.stem}.ipynb" not in prose  # the page's own download link
    assert "## Exercises" in prose
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_install_cell_installs_only_what_is_missing(monkeypatch: pytest.MonkeyPatch):
    source = pagenotebooks.install_cell(["llmguide", "matplotlib", "numpy", "torch"], ref="abc123")
    assert "llmguide @ git+https://github.com/llmguide/llmguide@abc123" in source
    calls: list[list[str]] = []
    monkeypatch.setattr("subprocess.check_call", lambda args: calls.append(args))
    namespace: dict = {}
    exec(compile(source, "install", "exec"), namespace)  # everything is installed here: nothing to do
    assert calls == []
    # Where torch and matplotlib are missing, on Linux without a GPU: the CPU build of torch, then the rest.
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        "importlib.util.find_spec",
        lambda name, *a: None if name in ("torch", "matplotlib") else real(name, *a),
    )
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.setattr("platform.system", lambda: "Linux")
    exec(compile(source, "install", "exec"), {})
    assert calls[0][-4:] == ["--quiet", "torch>=2.13", "--index-url", "https://download.pytorch.org/whl/cpu"]
    assert calls[1][-1] == "matplotlib>=3.8" and len(calls) == 2


def test_install_cell_keeps_a_torch_inside_the_range_and_replaces_one_below_it(
    monkeypatch: pytest.MonkeyPatch,
):
    # A hosted notebook's torch: any build inside the supported range stays; one below it is upgraded, within
    # the range (never to an exact pin that would fight the host's own packages).
    source = pagenotebooks.install_cell(["numpy", "torch"])
    calls: list[list[str]] = []
    monkeypatch.setattr("subprocess.check_call", lambda args: calls.append(args))
    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/nvidia-smi")  # a GPU: PyPI's default build
    import importlib.metadata

    for installed, expected in [("2.14.1+cu130", []), ("2.15.0", []), ("2.8.0+cu126", ["torch>=2.13"])]:
        calls.clear()
        real = importlib.metadata.version
        monkeypatch.setattr(
            "importlib.metadata.version", lambda name, v=installed, r=real: v if name == "torch" else r(name)
        )
        namespace: dict = {}
        exec(compile(source, "install", "exec"), namespace)
        assert [c[c.index("--quiet") + 1 :] for c in calls] == ([expected] if expected else []), installed


def test_a_chapter_importing_an_unknown_package_is_refused(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text(f"# A page\n\n{FENCE}python\nimport pandas\n{FENCE}\n")
    with pytest.raises(ValueError, match="pandas"):
        pagenotebooks.chapter_notebook(page)


# ---------------------------------------------------------------------------------------------------------
# A page run as its notebook is checked as strictly as block by block (planted pages)
# ---------------------------------------------------------------------------------------------------------

PLANTED = """# A planted chapter

Text with math, $x^2$, a [link](other.md), a note[^n] and [measured output](index.md#reading-the-outputs).

'''python
x = 21
print(x * 2)
#> 42
print(f"{x / 7:.2f}")
#~ 3.00 ±0.01
'''

/// note | A note
Continuing from the block above:

'''{.python continuation}
for i in range(2):
    print(i)
#> 0
#> 1
'''
///

'''python
import random

print(random.Random(0).random())
#? 0.84
'''

[^n]: A footnote.
"""


def _plant(tmp_path: Path, text: str) -> Path:
    page = tmp_path / "chapter.md"
    page.write_text(text.replace("'''", FENCE))
    return page


def test_planted_page_passes_as_a_notebook(tmp_path: Path):
    page = _plant(tmp_path, PLANTED)
    nb = pagenotebooks.chapter_notebook(page)
    kinds = [(c.cell_type, c.metadata.get("llmguide", {}).get("role")) for c in nb.cells]
    assert kinds == [
        ("code", "install"),
        ("markdown", None),
        ("code", "block"),
        ("markdown", None),
        ("code", "block"),
        ("code", "block"),
        ("markdown", None),
    ]
    assert "> **A note**" in nb.cells[3].source and "<sup>1</sup>" in nb.cells[1].source
    assert nb.cells[-1].source == "## References\n\n1. A footnote."
    _, executed = pagenotebooks.run_chapter_notebook(page, figure_dir=tmp_path, workdir=tmp_path)
    assert "".join(o["text"] for o in executed.cells[2].outputs) == "42\n3.00\n"  # the marks are gone


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # a stale exact line: the page's line and a diff, as block by block
        (("#> 42", "#> 43"), r"chapter.md:8: stale output: the statement at line 7"),
        # a measured number outside its tolerance
        (("#~ 3.00 ±0.01", "#~ 3.10 ±0.01"), r"chapter.md:10: measured output outside the page's tolerance"),
        # a block that is not a continuation starts from an empty namespace, as on the page
        (("print(random.Random(0).random())", "print(x)"), r"chapter.md:24: this block raised.*NameError"),
    ],
    ids=["stale-exact", "measured-outside-tolerance", "no-continuation-no-names"],
)
def test_planted_page_fails_as_a_notebook_where_block_by_block_fails(tmp_path: Path, change, message):
    page = _plant(tmp_path, PLANTED.replace(*change))
    with pytest.raises((OutputMismatch, pagenotebooks.NotebookCellError), match=f"(?s){message}"):
        pagenotebooks.run_chapter_notebook(page, figure_dir=tmp_path, workdir=tmp_path)


def test_chapters_as_notebooks_replaces_the_block_items(pytester: pytest.Pytester):
    """`--chapters-as-notebooks` runs a chapter of the nav as one notebook item; other pages stay block by block."""
    pytester.makeini(
        "[pytest]\naddopts = --markdown-docs --markdown-docs-syntax=superfences -p llmguide_docs.plugin\n"
    )
    (pytester.path / "mkdocs.yml").write_text("site_name: t\nnav:\n  - index.md\n  - chapter.md\n")
    docs = pytester.path / "docs"
    docs.mkdir()
    page = _plant(docs, PLANTED)
    (docs / "index.md").write_text(f"# Index\n\n{FENCE}python\nprint(1)\n#> 1\n{FENCE}\n")
    start = time.perf_counter()
    result = pytester.runpytest_inprocess(
        str(docs),
        "--chapters-as-notebooks",
        "--skip-page-ruff",
        "-p",
        "no:cacheprovider",
        "-k",
        "not structure",
    )
    # chapter: its notebook item and its lint; index: its block and its lint; deselected: the chapter's 3
    # blocks, and its structure check (-k: the planted chapter is not a whole chapter)
    result.assert_outcomes(passed=4, deselected=4)
    result.stdout.fnmatch_lines(
        ["*chapter.md: 3 ran as its notebook, 0 failed*", "*index.md: 1 ran, 0 failed*"]
    )
    assert time.perf_counter() - start < 120
    assert page.read_text().count("#>") == 3  # untouched


def test_statement_marks_split_a_cells_output():
    mark = pagenotebooks.MARK
    text = f"{mark}0{mark}{mark}1{mark}a\nb\n{mark}2{mark}{mark}3{mark}c\n"
    assert pagenotebooks.split_statements(text, 4) == ["", "a\nb\n", "", "c\n"]
    assert json.dumps(mark)  # survives the notebook's JSON


def test_a_failed_solution_check_leaves_no_executed_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Exercise 1 asserts nothing, exercise 3 twice: the run fails before the kernel starts, and the executed copy
    of an earlier run is gone, so that `make solutions` (whose target it is) runs the notebook again."""
    monkeypatch.setattr(pagenotebooks, "DOCS", tmp_path / "docs")
    monkeypatch.setattr(pagenotebooks, "EXECUTED", tmp_path / "build" / "notebooks")
    source = tmp_path / "docs" / "solutions" / "planted.ipynb"
    source.parent.mkdir(parents=True)
    cells = [nbformat.v4.new_markdown_cell("[Back](../../planted/#exercises)")]
    for number, code in [(1, "x = 1"), (2, "assert 2 == 2"), (3, "assert 3 == 3\nassert 4 == 4")]:
        cells += [nbformat.v4.new_markdown_cell(f"## Exercise {number}: t"), nbformat.v4.new_code_cell(code)]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), source)
    stale = pagenotebooks.executed_copy(source)
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")  # an earlier run's copy, newer than the source
    with pytest.raises(AssertionError, match=r"## Exercise 1 \(cell 1\)"):
        test_solution_notebook_runs_in_a_fresh_kernel(source, tmp_path, lambda *a: None)
    assert not stale.exists()


@pytest.mark.parametrize("last", ["print('done')", "raise ValueError('planted')"])
def test_a_notebook_run_ends_its_kernel(tmp_path: Path, last: str):
    """The kernel runs in the work folder and is gone when the run returns, whether its cells passed or one
    raised: a session of many notebooks does not hold one idle kernel (about 0.5 GB each) per notebook run."""
    import psutil

    first = "import os\nprint(os.getpid(), os.getcwd())"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(first), nbformat.v4.new_code_cell(last)])
    try:
        pagenotebooks.execute_notebook(nb, tmp_path, tmp_path / "figures", lambda i: f"cell {i}")
    except pagenotebooks.NotebookCellError as error:
        assert "planted" in str(error) and last.startswith("raise")
    else:
        assert nb.cells[1].outputs[0]["text"] == "done\n"
    pid, cwd = nb.cells[0].outputs[0]["text"].split()
    assert Path(cwd).resolve() == tmp_path.resolve()
    assert not psutil.pid_exists(int(pid)) or psutil.Process(int(pid)).status() == psutil.STATUS_ZOMBIE
