"""A chapter's Jupyter notebook, made from its page, and the runs of notebooks in fresh kernels (nbclient).

`chapter_notebook(path)`: the install cell, the prose as Markdown cells (notes as quotes, footnotes as
references, links to the published site), each runnable block as a code cell without its output lines, and
a cell showing each figure (docs/contributing.md, "A chapter's notebook is made from its page").
`run_chapter_notebook` runs it and checks each top-level statement's output with a `check.Checker`, as block
by block; `run_solution_notebook` runs a solution.
"""

from __future__ import annotations

import ast
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell

from llmguide_docs import pages
from llmguide_docs.check import Checker
from llmguide_docs.site import DOCS, ROOT, page_url, site_url

# The repository that readers install the package from (first cell); GITHUB_REPOSITORY overrides it on CI.
REPOSITORY = "llmguide/llmguide"
# What pip installs for each module a chapter may import (any other one outside the standard library fails
# test_notebooks.py): the range pyproject.toml declares (tests/test_dependency_versions.py checks they agree),
# never an exact pin, so that a reader's or a hosted notebook's PyTorch inside the range is kept.
PIP_NAME = {
    "torch": "torch>=2.13",
    "numpy": "numpy>=1.24",
    "matplotlib": "matplotlib>=3.8",
    "tokenizers": "tokenizers>=0.19",  # docs/tokens.md checks its ids against Hugging Face's
    "llmguide": None,
}
NOTEBOOK_DIR = "notebooks"  # chapter notebooks are served from site/notebooks/NAME.ipynb
SOLUTIONS = DOCS / "solutions"  # the exercises' solutions: hand-written notebooks, committed without outputs
EXECUTED = ROOT / "build" / "notebooks"  # the solutions as the tests executed them: the site renders these
MARK = "\x1e"  # stdout marker before each top-level statement (test runs only)
MARKS = re.compile(f"{MARK}(\\d+){MARK}")

LINK = re.compile(r"(?<!!)\]\((?P<target>[^)\s]+)\)")
FOOTNOTE_DEF = re.compile(r"^\[\^(?P<id>[^\]]+)\]:\s?(?P<text>.*)$")
FOOTNOTE_REF = re.compile(r"\[\^(?P<id>[^\]]+)\]")
BLOCK_OPEN = re.compile(r"^///\s*(?P<kind>[\w-]+)\s*(?:\|\s*(?P<title>.*))?$")

# The first cell of every chapter notebook. Plain Python (the kernel's own pip), so it works unchanged in
# Jupyter, VS Code and hosted notebooks (Colab, Kaggle), and does nothing where all is installed (as in the
# project's own runs). A package is missing where it cannot be imported or is older than its range in
# `PIP_NAME`; pip then installs a version inside the range, so a PyTorch new enough (a hosted notebook's CUDA
# build, say) is never replaced. On Linux without an NVIDIA GPU, PyTorch comes first as the CPU build: a bare
# `torch` requirement there pulls the multi-GB CUDA build (the same rule as scripts/setup.sh).
_INSTALL = """\
# Set-up: installs what this chapter imports, where it is missing, with the pip of this kernel.
import importlib.metadata
import importlib.util
import platform
import re
import shutil
import subprocess
import sys

needed = NEEDED


def too_old(requirement):
    name, _, oldest = requirement.partition(">=")
    release = lambda version: tuple(int(n) for n in re.findall(r"\\d+", version.split("+")[0])[:3])
    try:
        return bool(oldest) and release(importlib.metadata.version(name)) < release(oldest)
    except importlib.metadata.PackageNotFoundError:
        return False


missing = [r for m, r in needed.items() if importlib.util.find_spec(m) is None or too_old(r)]
rest = list(missing)
pip = [sys.executable, "-m", "pip", "install", "--quiet"]
torch_requirement = needed.get("torch")
if torch_requirement in rest and platform.system() == "Linux" and shutil.which("nvidia-smi") is None:
    # No NVIDIA GPU: the CPU build of PyTorch (about 200 MB) instead of the default CUDA build (GBs).
    rest.remove(torch_requirement)
    subprocess.check_call([*pip, torch_requirement, "--index-url", "https://download.pytorch.org/whl/cpu"])
if rest:
    subprocess.check_call([*pip, *rest])
importlib.invalidate_caches()
print("ready" if not missing else f"installed {missing}")"""


_INTRO = (
    "*This notebook is the chapter [{title}]({url}) of llmguide, made from the page's source: the prose, and "
    "every code block as a cell, in order. Run the cells from the top; the first one installs what the "
    "chapter needs. The outputs are not stored: what you see is what your run printed.*"
)


def chapter_imports(blocks: list[pages.Block]) -> list[str]:
    """Top-level modules the chapter imports that are not in Python's standard library, in a fixed order."""
    found = set()
    for node in (n for block in blocks for n in ast.walk(ast.parse(block.code))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    third_party = sorted(m for m in found if m not in sys.stdlib_module_names)
    if unknown := [m for m in third_party if m not in PIP_NAME]:
        raise ValueError(f"the page imports {unknown}: add it to PIP_NAME in llmguide_docs/notebook.py")
    return third_party


def install_cell(modules: list[str], ref: str | None = None) -> str:
    """The first cell of every chapter notebook: install what the chapter imports, where it is missing."""
    ref = ref or os.environ.get("GITHUB_SHA") or "main"
    repository = os.environ.get("GITHUB_REPOSITORY") or REPOSITORY
    package = f"llmguide @ git+https://github.com/{repository}@{ref}"
    return _INSTALL.replace("NEEDED", repr({m: PIP_NAME[m] or package for m in modules}))


def _rewrite_links(line: str, base: str, page: Path) -> str:
    """Links to the published site: another page's, or an anchor of this one (not other URLs)."""

    def fix(m: re.Match) -> str:
        target = m["target"]
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            return m[0]
        return f"]({page_url(page.name + target if target.startswith('#') else target, base)})"

    return LINK.sub(fix, line)


def chapter_notebook(path: Path, text: str | None = None, *, ref: str | None = None) -> Any:
    """The notebook of a chapter page: see the module docstring for what becomes what."""
    text = path.read_text("utf8") if text is None else text
    base = site_url()
    url = page_url(path.name, base)
    blocks = {b.fence.line: b for b in pages.blocks(path, text)}
    fences = {f.line: f for f in pages.fences(text)}
    lines = text.split("\n")
    title = next((line[2:].strip() for line in lines if line.startswith("# ")), path.stem)
    cells, prose, footnotes = [], [], {}
    order: dict[str, int] = {}  # footnote -> its number: footnotes in the order of their first reference
    open_blocks: list[str] = []  # the `///` blocks we are in; each but a tab is one level of `> ` quote

    def quote() -> str:
        return "> " * sum(kind != "tab" for kind in open_blocks)

    def flush() -> None:
        body = "\n".join(prose).strip("\n")
        prose.clear()
        if body.strip() and not re.fullmatch(r"(>\s*\n?)*", body):
            cells.append(new_markdown_cell(body))

    def code_cell(source: str, **meta: Any) -> None:
        flush()
        cells.append(new_code_cell(source, metadata={"llmguide": meta}))

    def footnote(m: re.Match) -> str:
        return f"<sup>{order.setdefault(m['id'], len(order) + 1)}</sup>"

    code_cell(install_cell(chapter_imports(list(blocks.values())), ref), role="install")
    n, in_comment = 0, False
    while n < len(lines):
        line, n = lines[n], n + 1  # n: the page's (1-based) number of `line`; lines[n] is the next one
        if fence := fences.get(n):
            n += len(fence.body) + 1  # past its closing line
            if block := blocks.get(fence.line):
                code_cell(block.code, role="block", line=fence.line, continuation=block.continuation)
            else:  # a listing: shown, not run (notest, shell, console, ...)
                mark = re.match(r"^\s*(`{3,}|~{3,})", line)[1]
                info = (fence.lang or "") if fence.info.startswith("{") else fence.info
                prose.extend(quote() + part for part in [mark + info, *fence.body, mark])
        elif in_comment or line.lstrip().startswith("<!--"):
            in_comment = "-->" not in line
        elif f"{NOTEBOOK_DIR}/{path.stem}.ipynb" in line:
            pass  # the page's own download link
        elif line.startswith("# ") and line[2:].strip() == title:
            prose += [line, "", _INTRO.format(title=title, url=url)]
        elif m := FOOTNOTE_DEF.match(line):
            footnotes[m["id"]] = [m["text"]]
            while n < len(lines):
                # Indented lines continue it, and so does a blank line where the line after it is indented.
                following = lines[n] if lines[n].strip() else "".join(lines[n + 1 : n + 2])
                if not following.startswith("    "):
                    break
                footnotes[m["id"]].append(lines[n].strip())
                n += 1
        elif m := BLOCK_OPEN.match(line.strip()):
            heading = (m["title"] or "").strip() or m["kind"].capitalize()
            open_blocks.append(m["kind"])
            prose.append(quote() + f"**{heading}**")
            if m["kind"] != "tab":
                prose.append(quote().rstrip())
        elif line.strip() == "///":
            del open_blocks[-1:]  # the innermost block ends
            prose.append(quote().rstrip())  # still in the quote
        elif fig := pages.FIGURE_LINE.match(line):
            source = (
                f"# The figure that the cell above drew with save_figure:\n# {fig['alt']}\n"
                "from IPython.display import SVG\n\nfrom llmguide.figures import figure_dir\n\n"
                f'SVG(filename=figure_dir() / "{fig["name"]}.svg")'
            )
            code_cell(source, role="figure", figure=fig["name"])
        else:
            line = FOOTNOTE_REF.sub(footnote, _rewrite_links(line, base, path))
            prose.append(quote() + line if line.strip() else quote().rstrip())
    flush()
    if order:
        notes = [" ".join(part for part in footnotes.get(key, ["(missing)"]) if part) for key in order]
        refs = [f"{i}. {_rewrite_links(note, base, path)}" for i, note in enumerate(notes, start=1)]
        cells.append(new_markdown_cell("\n".join(["## References", "", *refs])))
    for i, cell in enumerate(cells):
        cell.id = f"{path.stem}-{i:03d}"
    kernelspec = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    own = {"page": path.name, "url": url}
    metadata = {"kernelspec": kernelspec, "language_info": {"name": "python"}, "llmguide": own}
    nb = nbformat.v4.new_notebook(cells=cells, metadata=metadata)
    nbformat.validate(nb)
    return nb


# --- Running a notebook in a fresh kernel -----------------------------------------------------------------

# Sent to the kernel before the cells, in test runs only (an IPython AST transformer): a marker on stdout
# before each top-level statement of a cell, so that its output splits per statement as the page harness's.
_KERNEL_SETUP = f"""
class LLMGuideStatementMarks:
    def visit(self, node, ast=__import__("ast")):  # `ast` bound here: emptying the namespace leaves it
        if not any(getattr(stmt, "llmguide_mark", False) for stmt in node.body):  # not marked already
            for i in reversed(range(len(node.body))):
                mark = ast.parse("__import__('sys').stdout.write('{MARK}%d{MARK}')" % i).body[0]
                mark.llmguide_mark = True
                node.body.insert(i, ast.copy_location(mark, node.body[i]))
        return ast.fix_missing_locations(node)


get_ipython().ast_transformers.append(LLMGuideStatementMarks())
del LLMGuideStatementMarks
"""
_FRESH_NAMESPACE = "get_ipython().run_line_magic('reset', '-f -s')"  # as the page runs a new chain of blocks


class NotebookCellError(AssertionError):
    """A cell of a notebook raised."""


def execute_notebook(
    nb: Any, workdir: Path, figure_dir: Path, where: Callable[[int], str], before: dict | None = None
) -> float:
    """Run `nb`'s code cells in order in a new kernel (outputs stored in `nb`); return the seconds taken.

    `before[i]`: code run, unstored, before cell `i`. A cell that raises: `NotebookCellError` (`where(i)`).
    """
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    env = dict(os.environ, PYDEVD_DISABLE_FILE_VALIDATION="1", LLMGUIDE_FIGURE_DIR=str(figure_dir))
    env.pop("MPLBACKEND", None)  # the harness's Agg; the kernel shows figures inline
    # The kernel this interpreter runs (the `python3` spec names `python`, which jupyter_client maps to
    # sys.executable), talking over local sockets (ipc) rather than TCP; a cell may run for 600 s. nbclient
    # shuts down only a kernel whose manager it made: cleanup_kc ends this one too, at once, when the run ends.
    km = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=str(workdir / "kernel"))
    client = NotebookClient(nb, km=km, timeout=600, shutdown_kernel="immediate")
    start = time.perf_counter()
    with client.setup_kernel(env=env, cwd=str(workdir), cleanup_kc=True):
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            for code in (before or {}).get(index, []):
                client.execute_cell(new_code_cell(code), index, store_history=False)
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as exc:
                plain = MARKS.sub("", re.sub(r"\x1b\[[0-9;]*m", "", str(exc)))  # no colours, no marks
                raise NotebookCellError(f"{where(index)} raised:\n{plain}") from None
    return time.perf_counter() - start


def split_statements(text: str, n: int) -> list[str]:
    """A marked cell's stdout, cut into what each of its `n` top-level statements printed."""
    parts = MARKS.split(text)  # [before the first mark, index, text, index, text, ...]
    out = [""] * n
    for i in range(1, len(parts), 2):
        out[int(parts[i])] += parts[i + 1]
    return out


def executed_copy(source: Path) -> Path:
    """Where the executed copy of a solution notebook goes (and where the site build looks for it)."""
    return EXECUTED / source.relative_to(DOCS)


def run_solution_notebook(source: Path, *, workdir: Path) -> tuple[float, Any]:
    """Execute a solution notebook top to bottom in a new kernel; return (seconds, the executed notebook).

    Raises `NotebookCellError` for a cell that raised, a failed `assert` included. Writes nothing: the caller
    writes the executed copy (`write_executed_copy`) once every check of the run passed, so a failed check
    leaves no copy that `make solutions` would take as up to date.
    """
    nb = nbformat.read(source, as_version=4)
    return execute_notebook(nb, workdir, workdir / "figures", lambda i: f"{source}: cell {i}"), nb


def write_executed_copy(source: Path, nb: Any) -> Path:
    """Write the executed notebook where the site build (and `make solutions`) look for it; return the path."""
    target = executed_copy(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    nbformat.write(nb, partial)
    partial.replace(target)  # all at once: never a half-written copy newer than the source
    return target


def run_chapter_notebook(
    path: Path, *, figure_dir: Path, workdir: Path, checker: Checker | None = None
) -> tuple[float, Any]:
    """Execute the chapter's notebook in a new kernel; check each statement's output against the page.

    Raises `OutputMismatch` (page line, diff) on the first statement whose output differs from the page's
    lines, as the page harness would, or `NotebookCellError` for a cell that raised (with its block's page
    line); a `checker` in update or record mode gathers edits or records instead. Returns (seconds, notebook).
    """
    text = path.read_text("utf8")
    nb = chapter_notebook(path, text)
    cells = [i for i, c in enumerate(nb.cells) if c.metadata.get("llmguide", {}).get("role") == "block"]
    blocks = dict(zip(cells, pages.blocks(path, text), strict=True))  # one code cell per runnable block
    checker = checker or Checker()
    before = {0: [_KERNEL_SETUP]} | {i: [_FRESH_NAMESPACE] for i, b in blocks.items() if not b.continuation}

    def where(i: int) -> str:
        return f"{path}:{blocks[i].fence.line}: this block" if i in blocks else f"{path}: cell {i}"

    seconds = execute_notebook(nb, workdir, figure_dir, where, before)
    for index, block in blocks.items():
        stdout = "".join(o.get("text", "") for o in nb.cells[index].outputs if o.get("name") == "stdout")
        printed = split_statements(stdout, len(block.statements))
        for stmt, got, shown in zip(block.statements, printed, block.shown, strict=True):
            checker.check(path, stmt, got, list(shown))
    for output in (o for cell in nb.cells for o in cell.get("outputs", []) if "text" in o):
        output["text"] = MARKS.sub("", output["text"])
    return seconds, nb
