"""The docs harness catches each known trap of pytest-markdown-docs, proven on planted pages.

Each test writes a small Markdown page into a temporary project, runs pytest on it as the project does
(`--markdown-docs --markdown-docs-syntax=superfences` + llmguide_docs.plugin), in this process (pytester's
inline run) unless the run needs processes of its own, and checks that the run fails (or passes) with a
message naming the file and the line.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch  # imported before the inline runs: pytester drops the modules a run imports, and torch cannot load twice

from llmguide_docs.lint import problems as lint_markdown
from llmguide_docs.pages import fences as scan_fences
from llmguide_docs.plugin import work_unit

HERE = Path(__file__).parent
FENCE = "```"


@pytest.fixture
def run_page(pytester: pytest.Pytester):
    pytester.makeini(
        "[pytest]\naddopts = --markdown-docs --markdown-docs-syntax=superfences -p llmguide_docs.plugin\n"
    )

    def run(text: str, *args: str, ruff: bool = False, inline: bool = True) -> tuple[pytest.RunResult, Path]:
        """Run pytest on a planted page; ruff's part of the lint only where the test is about it."""
        page = pytester.path / "page.md"
        page.write_text(text.replace("'''", FENCE))
        extra = () if ruff else ("--skip-page-ruff",)
        runner = pytester.runpytest_inprocess if inline else pytester.runpytest_subprocess
        return runner(str(page), "-p", "no:cacheprovider", *extra, *args), page

    return run


GOOD = """# A good page

'''python
x = 21
print(x * 2)
#> 42
for i in range(2):
    print(i)
#> 0
#> 1
'''

Continuing from the block above:

'''{.python continuation}
y = x + 1
print(y)
#> 22
'''

'''{.python notest}
# Not run by the tests: it needs a CUDA GPU.
import torch
torch.zeros(1, device="cuda")
'''
"""


def test_good_page_passes_and_is_reported(run_page):
    result, _ = run_page(GOOD)
    result.assert_outcomes(passed=3)  # two blocks + the page's lint item
    result.stdout.fnmatch_lines(
        [
            "*docs blocks per page*",
            "page.md: 2 ran, 0 failed, 1 not run (notest); output lines: 4 exact, 0 measured, 0 examples; * s",
        ]
    )


def test_report_goes_to_the_github_job_summary(run_page, pytester: pytest.Pytester, monkeypatch):
    summary = pytester.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run_page(GOOD)[0].assert_outcomes(passed=3)
    lines = summary.read_text().splitlines()
    assert lines[0] == "### Docs blocks per page"
    row = next(line for line in lines if line.startswith("| `page.md`"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:7] == ["2", "0", "1", "4", "0", "0"] and float(cells[7]) >= 0


def test_raising_block_names_file_and_line(run_page):
    result, page = run_page("# P\n\ntext\n\n'''python\nx = 1\nraise RuntimeError('boom')\n'''\n")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([f"{page}:5: this block raised an exception", "*RuntimeError: boom*"])


def test_a_block_raising_type_error_runs_once_and_is_reported(run_page, tmp_path):
    # pytest-markdown-docs calls a runner again when it raises TypeError (its shim for runners written before
    # `asyncio_runner`): the block's own TypeError must not make it, and the blocks it continues, run twice.
    runs = tmp_path / "runs.txt"
    result, page = run_page(f"# P\n\n'''python\nopen({str(runs)!r}, 'a').write('ran')\nlen(5)\n'''\n")
    result.assert_outcomes(failed=1, passed=1)
    assert runs.read_text() == "ran"
    result.stdout.fnmatch_lines([f"{page}:3: this block raised an exception", "*TypeError*len()*"])


def test_stale_output_fails_naming_the_line(run_page):
    result, page = run_page("# P\n\n'''python\nprint(6 * 7)\n#> 41\n'''\n")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([f"{page}:5: stale output*", "-#> 41", "+42"])


def test_printing_without_shown_output_fails(run_page):
    result, page = run_page("# P\n\n'''python\nx = 2\nprint(x)\n'''\n")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([f"{page}:5: this statement prints output but the page shows no*"])


def test_shown_output_that_is_not_printed_fails(run_page):
    result, page = run_page("# P\n\n'''python\nx = 2\n#> 2\n'''\n")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [f"{page}:5: the page shows output, but the statement at line 4 prints nothing*"]
    )


def test_indented_fence_fails_the_lint(run_page):
    text = (
        "# P\n\n'''python\nprint(1)\n#> 1\n'''\n\n!!! note\n    '''python\n    raise SystemExit(3)\n    '''\n"
    )
    result, page = run_page(text)
    result.assert_outcomes(failed=1, passed=1)  # the indented block is NOT run: only the lint catches it
    result.stdout.fnmatch_lines([f"{page}:9: this Python fence would be silently skipped*"])


def test_fence_in_a_tab_fails_the_lint(run_page):
    text = "# P\n\n'''python\nprint(1)\n#> 1\n'''\n\n=== \"Tab\"\n\n    '''python\n    print(2)\n    '''\n"
    result, page = run_page(text)
    result.assert_outcomes(failed=1, passed=1)  # the block at column 0 runs; the lint fails
    result.stdout.fnmatch_lines([f"{page}:10: this Python fence would be silently skipped*"])


def test_bare_attribute_form_fails_the_lint(run_page):
    text = "# P\n\n'''python\nprint(1)\n#> 1\n'''\n\n'''python notest\nprint(2)\n'''\n"
    result, page = run_page(text)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([f"{page}:8: attribute form `python notest` renders as garbage*"])


def test_notest_without_reason_fails_the_lint(run_page):
    text = "# P\n\n'''python\nprint(1)\n#> 1\n'''\n\n'''{.python notest}\nprint(2)\n'''\n"
    result, page = run_page(text)
    result.assert_outcomes(failed=1, passed=1)  # the first block passes, the lint fails
    result.stdout.fnmatch_lines([f"{page}:8: a block that is not run must say why*"])


def test_page_with_every_block_skipped_fails(run_page):
    text = "# P\n\n'''{.python notest}\n# Not run by the tests: demo.\nprint(2)\n'''\n"
    result, page = run_page(text)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"{page}:1: every Python block of this page is skipped*"])


def test_figure_not_drawn_by_the_page_fails(run_page):
    text = "# P\n\n'''python\nx = 1\n'''\n\n![a plot](figures/loss-curve.svg)\n"
    result, page = run_page(text)
    result.assert_outcomes(failed=1, passed=1)  # the block runs, the lint fails
    result.stdout.fnmatch_lines([f"{page}:7: the page shows figures/loss-curve.svg but none of its blocks*"])


def test_continuation_does_not_rerun_earlier_blocks(run_page, pytester: pytest.Pytester):
    log = pytester.path / "runs.log"
    text = (
        f"# P\n\n'''python\nwith open({str(log)!r}, 'a') as f:\n    f.write('ran\\n')\nn = 1\n'''\n\n"
        "'''{.python continuation}\nn += 1\n'''\n\n'''{.python continuation}\nprint(n)\n#> 2\n'''\n"
    )
    result, _ = run_page(text)
    result.assert_outcomes(passed=4)
    assert log.read_text() == "ran\n"


def test_continuation_selected_alone_reruns_its_chain_silently(run_page, pytester: pytest.Pytester):
    text = "# P\n\n'''python\nn = 40\nprint('setup')\n#> setup\n'''\n\n'''{.python continuation}\nprint(n + 2)\n#> 42\n'''\n"
    _, page = run_page(text)
    result = pytester.runpytest_inprocess(f"{page}::[CodeFence#2][line:9]", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_update_outputs_rewrites_the_page(run_page, pytester: pytest.Pytester):
    text = "# P\n\n'''python\nprint('a')\n#> stale\nx = 3\nprint(x)\n'''\n"
    result, page = run_page(text, "--update-outputs")
    result.assert_outcomes(passed=2)
    assert page.read_text() == "# P\n\n```python\nprint('a')\n#> a\nx = 3\nprint(x)\n#> 3\n```\n"
    again = pytester.runpytest_inprocess(str(page), "-p", "no:cacheprovider", "--skip-page-ruff")
    again.assert_outcomes(passed=2)


def test_figure_shown_inside_a_markdown_example_is_not_the_pages():
    text = "# P\n\n````markdown\n![x](figures/example-fig.svg)\n````\n\n![y](figures/real-fig.svg)\n"
    problems = lint_markdown(Path("x.md"), text)
    assert len(problems) == 1 and "figures/real-fig.svg" in problems[0] and "x.md:7:" in problems[0]


def test_scanner_ignores_fences_shown_inside_a_longer_fence():
    text = "````markdown\n```python\nprint(1)\n```\n````\n"
    assert [f.lang for f in scan_fences(text)] == ["markdown"]
    assert lint_markdown(Path("x.md"), text) == []


def test_missing_dependency_says_what_to_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    # A stand-in `matplotlib` that fails to import, as on a machine where the set-up was not done.
    shadow = pytester.mkdir("shadow")
    (shadow / "matplotlib").mkdir()
    (shadow / "matplotlib" / "__init__.py").write_text("raise ImportError('not installed')\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(shadow), os.environ.get("PYTHONPATH", "")]))
    (pytester.path / "conftest.py").write_text((HERE.parent / "conftest.py").read_text())
    pytester.makeini("[pytest]\naddopts = --markdown-docs --markdown-docs-syntax=superfences\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["ERROR: the test set-up is not done: missing matplotlib*run `make test`*"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


# --- Exact, measured and example output (llmguide_docs/outputs.py) ------------------------------------------------

LEGEND_LINK = "Outputs are explained [on the front page](index.md#reading-the-outputs).\n\n"


def test_measured_output_inside_its_tolerance_passes(run_page):
    text = (
        LEGEND_LINK
        + "'''python\nprint(f'loss {2.1234:.2f} after {300} steps')\n#~ loss 2.10 ±0.05 after 300 steps\n'''\n"
    )
    result, _ = run_page(text)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*output lines: 0 exact, 1 measured, 0 examples; * s"])


def test_measured_output_outside_its_tolerance_fails_naming_the_line(run_page):
    text = LEGEND_LINK + "'''python\nprint('accuracy 0.55')\n#~ accuracy 0.47 ±0.05\n'''\n"
    result, page = run_page(text)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            f"{page}:5: measured output outside the page's tolerance: 0.55 printed, outside the page's 0.47 ±0.05*"
        ]
    )


def test_relative_tolerance_and_untoleranced_numbers(run_page):
    ok = LEGEND_LINK + "'''python\nprint('T=1.5: 1,050 tokens/s')\n#~ T=1.5: 1,000 ±10% tokens/s\n'''\n"
    run_page(ok)[0].assert_outcomes(passed=2)
    far = LEGEND_LINK + "'''python\nprint('T=1.5: 1,200 tokens/s')\n#~ T=1.5: 1,000 ±10% tokens/s\n'''\n"
    run_page(far)[0].assert_outcomes(passed=1, failed=1)
    # A number without a tolerance on a measured line is compared exactly, and so are the words.
    label = LEGEND_LINK + "'''python\nprint('T=1.4: 1,000 tokens/s')\n#~ T=1.5: 1,000 ±10% tokens/s\n'''\n"
    result, _ = run_page(label)
    result.stdout.fnmatch_lines(["*1.4 printed where 1.5 is shown without a tolerance*"])
    words = LEGEND_LINK + "'''python\nprint('T=1.5: 1,000 bytes/s')\n#~ T=1.5: 1,000 ±10% tokens/s\n'''\n"
    run_page(words)[0].stdout.fnmatch_lines(["*the words differ*"])


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("#~ loss 2.10 ±abc", "*`±` that does not follow a number*"),
        ("#~ loss ±0.1", "*`±` that does not follow a number*"),
        ("#~ loss 2.10 ±-0.1", "*`±` that does not follow a number*"),
        ("#~ loss 2.10", "*must give at least one number a tolerance*"),
    ],
)
def test_malformed_tolerance_fails_naming_page_and_line(run_page, line: str, why: str):
    text = LEGEND_LINK + f"'''python\nprint('loss 2.10')\n{line}\n'''\n"
    result, page = run_page(text)
    result.assert_outcomes(failed=2)  # the lint item and the block both refuse it
    result.stdout.fnmatch_lines([f"{page}:5: malformed output line: {why}"])


def test_example_output_is_shown_but_not_compared(run_page):
    text = (
        LEGEND_LINK
        + "'''python\nimport random\nprint(random.random())\n#? 0.123\nprint('done')\n#> done\n'''\n"
    )
    result, _ = run_page(text)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*output lines: 1 exact, 0 measured, 1 examples; * s"])
    # Trailing example lines stand for whatever the statement prints from there on, one line or several...
    lines = LEGEND_LINK + "'''python\nprint('n = 3\\na\\nb\\nc')\n#> n = 3\n#? x\n'''\n"
    run_page(lines)[0].assert_outcomes(passed=2)
    fewer = LEGEND_LINK + "'''python\nprint('one')\n#? one\n#? two\n'''\n"
    run_page(fewer)[0].assert_outcomes(passed=2)
    # ...but the statement must print something there, and the lines before them must still match.
    nothing = LEGEND_LINK + "'''python\nx = 1\n#? one\n'''\n"
    run_page(nothing)[0].assert_outcomes(passed=1, failed=1)
    before = (
        LEGEND_LINK + "'''python\nfor line in ('n = 4', 'a', 'b'):\n    print(line)\n#> n = 3\n#? x\n'''\n"
    )
    run_page(before)[0].assert_outcomes(passed=1, failed=1)


def test_measured_page_must_link_the_explanation(run_page):
    result, page = run_page("# P\n\n'''python\nprint('loss 2.10')\n#~ loss 2.10 ±0.1\n'''\n")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [f"{page}:1: this page shows measured (`#~`) or example (`#?`) output: link*"]
    )


def test_update_outputs_rewrites_measured_values_and_keeps_tolerances(run_page, pytester: pytest.Pytester):
    text = LEGEND_LINK + (
        "'''python\nprint('loss 5.54 -> 2.31, 614,400 bytes')\n#~ loss 5.53 ±0.02 -> 2.13 ±0.05, 614,400 bytes\n"
        "print('sample: xyz')\n#? sample: abc\nprint(7)\n#> 6\n'''\n"
    )
    result, page = run_page(text, "--update-outputs")
    result.assert_outcomes(passed=2)
    body = page.read_text().split("\n")
    assert "#~ loss 5.54 ±0.02 -> 2.31 ±0.05, 614,400 bytes" in body
    assert "#? sample: abc" in body  # an example that printed a line is not a failure: left alone
    assert "#> 7" in body
    pytester.runpytest_inprocess(str(page), "-p", "no:cacheprovider", "--skip-page-ruff").assert_outcomes(
        passed=2
    )


def test_record_outputs_and_seed_offset(run_page, pytester: pytest.Pytester):
    import json

    text = LEGEND_LINK + (
        "'''python\nimport random\nimport torch\n"
        "torch.manual_seed(0)\na = torch.randint(0, 10**6, (1,)).item()\n"
        "b = torch.randint(0, 10**6, (1,), generator=torch.Generator().manual_seed(0)).item()\n"
        "c = random.Random(0).randrange(10**6)\n"
        "print(torch.get_num_threads(), a, b, c)\n#~ 2 0 ±1 0 ±1 0 ±1\n'''\n"
    )
    record = pytester.path / "record.json"
    run_page(text, "--seed-offset", "3", "--torch-threads", "1", "--record-outputs", str(record))
    data = json.loads(record.read_text())
    assert (data["seed_offset"], data["torch_threads"]) == (3, 1)
    (line,) = data["lines"]
    import random

    expected = [
        1,
        torch.randint(0, 10**6, (1,), generator=torch.Generator().manual_seed(3)).item(),
        torch.randint(0, 10**6, (1,), generator=torch.Generator().manual_seed(3)).item(),
        random.Random(3).randrange(10**6),
    ]
    assert line["printed"] == " ".join(map(str, expected)) and line["kind"] == "measured"
    assert data["failures"] == []  # record mode reports, it does not fail on outputs


def test_llmguide_from_another_clone_is_refused(pytester: pytest.Pytester):
    # This clone's conftest in another folder: there, `llmguide` is imported from a src/ that is not its own.
    (pytester.path / "conftest.py").write_text((HERE.parent / "conftest.py").read_text())
    pytester.makeini("[pytest]\naddopts = --markdown-docs --markdown-docs-syntax=superfences\n")
    (pytester.path / "test_x.py").write_text("def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret != 0
    result.stderr.fnmatch_lines(
        ["ERROR: llmguide is imported from *, not from this clone's src/*make setup*"]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


# --- The pages' code is linted and formatted like the package (llmguide_docs/lint.py) ------------------------


def test_ruff_findings_in_a_page_fail_its_lint_naming_the_line(run_page):
    text = "# P\n\n'''python\nimport os\n\nx = 1\n'''\n\nMore text.\n\n'''{.python continuation}\nprint(x)\n#> 1\nprint(y)\n'''\n"
    result, page = run_page(text, ruff=True)
    result.stdout.fnmatch_lines([f"{page}:4: ruff F401: `os` imported but unused*"])
    # Names defined by the blocks a continuation continues are known; an undefined one is not.
    result.stdout.fnmatch_lines([f"{page}:14: ruff F821: Undefined name `y`*"])
    assert "Undefined name `x`" not in result.stdout.str()


def test_unformatted_block_fails_and_format_pages_fixes_it(run_page, pytester: pytest.Pytester):
    import subprocess
    import sys

    text = "# P\n\n'''python\nx=[1,2]\nprint( x )\n#> [1, 2]\n'''\n"
    result, page = run_page(text, ruff=True)
    result.stdout.fnmatch_lines([f"{page}:4: this block is not formatted as `ruff format` would*"])
    script = HERE.parent / "scripts" / "format_pages.py"
    subprocess.run([sys.executable, str(script), str(page)], check=True, capture_output=True)
    assert page.read_text() == "# P\n\n```python\nx = [1, 2]\nprint(x)\n#> [1, 2]\n```\n"  # `#>` kept as is
    pytester.runpytest_inprocess(str(page), "-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_prose_numbers_that_no_block_prints_are_a_warning():
    from llmguide_docs.lint import unprinted_numbers

    text = (
        "# P\n\nThe loss fell to 2.13, then 1.97, in 2024; 3 of 8 runs.\n\n"
        "'''python\nprint(round(2.126, 2))\n#> 2.13\n'''\n\nA link [x](https://e.org/4242) and `code 77` and $x = 55$.\n"
    ).replace("'''", FENCE)
    # 2.13 is printed; 2024 is a year; 3 and 8 are small; 4242, 77 and 55 are in a link, code and math.
    assert unprinted_numbers(text) == [(3, "1.97")]
    assert unprinted_numbers(text + "\n<!-- prose numbers: 1.97 -->\n") == []


def test_prose_number_warning_does_not_fail_the_page(run_page):
    result, _ = run_page("# P\n\nIt took 123.5 s.\n\n'''python\nx = 1\n'''\n", "-W", "default")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*ProseNumberWarning*numbers in the prose that no block prints: 123.5 (line 3)*"]
    )


CHAIN = """# Blocks that continue each other

'''python
import os

threads = os.environ["OMP_NUM_THREADS"]
print(threads)
#> 1
'''

'''{.python continuation}
print(threads * 2)
#> 11
'''

'''{.python continuation}
print(int(threads) + 1)
#> 2
'''
"""


def test_parallel_run_keeps_a_page_in_one_worker_and_reports_it_whole(run_page):
    pytest.importorskip("xdist")
    # Two workers, as `make test` runs them (--dist loadfile: a file's tests go to one worker, in order):
    # each runs torch at one thread, the page's continued blocks run where the namespace they continue is,
    # and the per-page report, made from the workers' reports, counts what the page holds.
    result, _ = run_page(CHAIN, "-n", "2", "--dist", "loadfile", "-v", inline=False)
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        ["page.md: 3 ran, 0 failed, 0 not run (notest); output lines: 3 exact, 0 measured, 0 examples; * s"]
    )
    workers = {line.split("]")[0] for line in result.outlines if "[CodeFence#" in line and "PASSED" in line}
    assert len(workers) == 1, workers  # "[gw0" or "[gw1", the same for all three blocks


def test_record_outputs_refuses_a_parallel_run(run_page, pytester: pytest.Pytester):
    pytest.importorskip("xdist")
    result, _ = run_page(CHAIN, "-n", "2", "--record-outputs", str(pytester.path / "r.json"), inline=False)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--record-outputs gathers every block's lines in one process*"])


def test_control_characters_fail_the_lint_naming_the_line():
    # "\\frac" and "\\text" written through a non-raw Python string: a form feed and a tab in the page
    page = "# Maths\n\nThe ratio $\x0crac{1}{2}$ is\n$a \times b$, and\tthat is all.\n"
    problems = lint_markdown(Path("page.md"), page)
    assert [p.split(": ")[0] for p in problems] == ["page.md:3", "page.md:4"], problems
    assert "U+000C" in problems[0] and "U+0009" in problems[1] and "\\frac" in problems[0]
    assert lint_markdown(Path("page.md"), page.replace("\x0c", "\\f").replace("\t", " ")) == []


def test_the_site_build_imports_no_pytest():
    """The MkDocs hooks, every chapter's notebook they make and `make serve`'s script import the harness's page,
    site and notebook modules, and never pytest or its plugins, which the `docs` extra does not install."""
    import subprocess
    import sys

    code = (
        "import runpy, sys\n"
        "runpy.run_path('scripts/serve.py')\n"
        "from llmguide_docs import hooks, notebook, site\n"
        "made = [notebook.chapter_notebook(page) for page in site.chapters()]\n"
        "assert made and hooks.PLACEHOLDER_SVG.format(uri='figures/x.svg')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pytest', '_pytest', 'pytest_markdown_docs')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=HERE.parent, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_each_solution_notebook_is_a_work_unit_of_its_own_and_a_page_is_one_unit():
    solution = "tests/test_notebooks.py::test_solution_notebook_runs_in_a_fresh_kernel[{}]"
    units = {work_unit(solution.format(name)) for name in ("serving", "tokens", "memory")}
    assert len(units) == 3  # three workers could run them at once
    other = "tests/test_notebooks.py::test_install_cell_installs_only_what_is_missing"
    assert work_unit(other) == work_unit(other + "_too") == "tests/test_notebooks.py"  # the rest: per file
    blocks = ["docs/memory.md::[CodeFence#1][line:10]", "docs/memory.md::[CodeFence#2][line:30]"]
    assert {work_unit(b) for b in blocks} == {"docs/memory.md"}  # a chain of blocks stays in one worker
