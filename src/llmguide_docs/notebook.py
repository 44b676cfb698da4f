"""A chapter's Jupyter notebook, made from its page, and the runs of notebooks in fresh kernels (nbclient).

`chapter_notebook(path)`: the install cell, the prose as Markdown cells (notes as quotes, footnotes as
references, links to the published site), each runnable block as a code cell without its output lines, and
a cell showing each figure (docs/contributing.md, "A chapter's notebook is made from its page").

`run_chapter_notebook` runs it and checks each top-level statement's output with a `check.Checker`, as block
by block. Only the test run adds, outside the cells, a marker on stdout before each top-level statement (an
IPython AST transformer), which splits a cell's output per statement, and an empty namespace before each
block that does not continue the one above, as the page promises. `run_solution_notebook` runs a solution.
"""

from __future__ import annotations

import ast
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell

from llmguide_docs import pages
from llmguide_docs.check import Checker
from llmguide_docs.site import DOCS, ROOT, page_url, site_url

# The repository that readers install the package from (first cell); GITHUB_REPOSITORY overrides it on CI.
REPOSITORY = "llmguide/llmguide"
# Modules a chapter may import, and what pip installs for each. A chapter importing any other module that is
# not in Python's standard library fails `test_notebooks.py` until it is added here. Each is a range, the one
# pyproject.toml declares (tests/test_dependency_versions.py checks that they agree), never an exact pin: a
# reader's or a hosted notebook's PyTorch inside the range is kept, whatever its build.
PIP_NAME = {
    "torch": "torch>=2.13",
    "numpy": "numpy>=1.24",
    "matplotlib": "matplotlib>=3.8",
    "tokenizers": "tokenizers>=0.19",  # docs/tokens.md checks its ids against Hugging Face's
    "llmguide": None,
}
NOTEBOOK_DIR = "notebooks"  # chapter notebooks are served from site/notebooks/NAME.ipynb
SOLUTIONS = DOCS / "solutions"  # the exercises' solutions: hand-written notebooks, committed without outputs
# Where the tests write each solution notebook as executed (outputs included); the site renders that copy.
EXECUTED = ROOT / "build" / "notebooks"
MARK = "\x1e"  # stdout marker before each top-level statement (test runs only)
CELL_TIMEOUT = 600


LINK = re.compile(r"(?<!!)\]\((?P<target>[^)\s]+)\)")
FOOTNOTE_DEF = re.compile(r"^\[\^(?P<id>[^\]]+)\]:\s?(?P<text>.*)$")
FOOTNOTE_REF = re.compile(r"\[\^(?P<id>[^\]]+)\]")
BLOCK_OPEN = re.compile(r"^///\s*(?P<kind>[\w-]+)\s*(?:\|\s*(?P<title>.*))?$")


def _code_cell(source: str, cid: str, **meta: Any) -> Any:
    return new_code_cell(source, id=cid, metadata={"llmguide": meta})


def notebook_name(page: Path) -> str:
    return f"{page.stem}.ipynb"


def chapter_imports(blocks: list[pages.Block]) -> list[str]:
    """Top-level modules the chapter imports that are not in Python's standard library, in a fixed order."""
    found = set()
    for block in blocks:
        for node in ast.walk(ast.parse(block.code)):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    third_party = sorted(m for m in found if m not in sys.stdlib_module_names)
    unknown = [m for m in third_party if m not in PIP_NAME]
    if unknown:
        raise ValueError(
            f"the page imports {unknown}, which llmguide_docs/notebook.py's PIP_NAME does not say how to install"
        )
    return third_party


def install_cell(modules: list[str], ref: str | None = None) -> str:
    """The first cell of every chapter notebook: install what the chapter imports, where it is missing.

    Plain Python (pip run by the kernel's own interpreter), so it works unchanged in Jupyter, JupyterLab, VS
    Code and hosted notebooks (Colab, Kaggle), and does nothing where everything is installed already (as in
    the project's own runs). A package counts as missing where it cannot be imported or is older than the
    supported range (`PIP_NAME`); pip then installs a version inside the range, so an installed PyTorch that
    is new enough, a hosted notebook's CUDA build say, is never replaced. PyTorch comes first and, on Linux
    without an NVIDIA GPU, as the CPU build: a bare `torch` requirement there pulls the multi-GB CUDA build
    (the same rule as scripts/setup.sh).
    """
    ref = ref or os.environ.get("GITHUB_SHA") or "main"
    repository = os.environ.get("GITHUB_REPOSITORY") or REPOSITORY
    package = f"llmguide @ git+https://github.com/{repository}@{ref}"
    wanted = {m: (package if PIP_NAME[m] is None else PIP_NAME[m]) for m in modules}
    lines = [
        "# Set-up: installs what this chapter imports, where it is missing, with the pip of this kernel.",
        "import importlib",
        "import importlib.metadata",
        "import importlib.util",
        "import platform",
        "import re",
        "import shutil",
        "import subprocess",
        "import sys",
        "",
        f"needed = {wanted!r}",
        "",
        "",
        "def release(version):",
        '    return tuple(int(n) for n in re.findall(r"\\d+", version.split("+")[0])[:3])',
        "",
        "",
        "def too_old(requirement):",
        '    name, _, oldest = requirement.partition(">=")',
        "    try:",
        "        return bool(oldest) and release(importlib.metadata.version(name)) < release(oldest)",
        "    except importlib.metadata.PackageNotFoundError:",
        "        return False",
        "",
        "",
        "missing = [",
        "    requirement",
        "    for module, requirement in needed.items()",
        "    if importlib.util.find_spec(module) is None or too_old(requirement)",
        "]",
        "rest = list(missing)",
        'torch_requirement = needed.get("torch")',
        'if torch_requirement in rest and platform.system() == "Linux" and shutil.which("nvidia-smi") is None:',
        "    # No NVIDIA GPU: the CPU build of PyTorch (about 200 MB) instead of the default CUDA build (GBs).",
        "    rest.remove(torch_requirement)",
        "    subprocess.check_call(",
        '        [sys.executable, "-m", "pip", "install", "--quiet", torch_requirement,',
        '         "--index-url", "https://download.pytorch.org/whl/cpu"]',
        "    )",
        "if rest:",
        '    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", *rest])',
        "importlib.invalidate_caches()",
        'print("ready" if not missing else f"installed {missing}")',
    ]
    return "\n".join(lines)


def _rewrite_links(line: str, base: str, page: Path) -> str:
    def fix(m: re.Match) -> str:
        target = m["target"]
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            if target.startswith("#"):
                return f"]({page_url(page.name + target, base, NOTEBOOK_DIR)})"
            return m.group(0)
        return f"]({page_url(target, base, NOTEBOOK_DIR)})"

    return LINK.sub(fix, line)


def chapter_notebook(path: Path, text: str | None = None, *, ref: str | None = None) -> Any:
    """The notebook of a chapter page: see the module docstring for what becomes what."""
    path = Path(path)
    text = path.read_text("utf8") if text is None else text
    base = site_url()
    blocks = pages.blocks(path, text)
    by_line = {b.fence.line: b for b in blocks}
    fences = {f.line: f for f in pages.fences(text)}
    lines = text.split("\n")

    cells: list[Any] = []
    counter = iter(range(10_000))

    def cid() -> str:
        return f"{path.stem}-{next(counter):03d}"

    prose: list[str] = []

    def flush() -> None:
        body = "\n".join(prose).strip("\n")
        prose.clear()
        if body.strip() and not re.fullmatch(r"(>\s*\n?)*", body):
            cells.append(new_markdown_cell(body, id=cid()))

    title = next((line[2:].strip() for line in lines if line.startswith("# ")), path.stem)
    cells.append(_code_cell(install_cell(chapter_imports(blocks), ref), cid(), role="install"))
    url = page_url(path.name, base)
    footnotes: dict[str, list[str]] = {}
    order: list[str] = []
    open_blocks: list[str] = []  # the `///` blocks we are in; each but a tab is one level of `> ` quote
    n = 0
    in_comment = False
    while n < len(lines):
        line = lines[n]
        quote = "> " * sum(kind != "tab" for kind in open_blocks)
        if n + 1 in fences:  # a fenced block starts here (fences are 1-based)
            f = fences[n + 1]
            end = n + len(f.body) + 2
            if f.line in by_line:
                flush()
                b = by_line[f.line]
                cells.append(
                    _code_cell(b.code, cid(), role="block", line=f.line, continuation=b.continuation)
                )
            else:  # a listing: shown, not run (notest, shell, console, ...)
                info = (f.lang or "") if f.info.startswith("{") else f.info
                fence_mark = re.match(r"^\s*(`{3,}|~{3,})", line)[1]
                prose.append(quote + fence_mark + info)
                prose.extend(quote + body_line for body_line in f.body)
                prose.append(quote + fence_mark)
            n = end
            continue
        if in_comment or line.lstrip().startswith("<!--"):
            in_comment = "-->" not in line
            n += 1
            continue
        if f"{NOTEBOOK_DIR}/{notebook_name(path)}" in line:  # the page's own download link
            n += 1
            continue
        if line.startswith("# ") and line[2:].strip() == title:
            prose.append(line)
            prose.append("")
            prose.append(
                f"*This notebook is the chapter [{title}]({url}) of llmguide, made from the page's source: "
                "the prose, and every code block as a cell, in order. Run the cells from the top; the first "
                "one installs what the chapter needs. The outputs are not stored: what you see is what your "
                "run printed.*"
            )
            n += 1
            continue
        m = FOOTNOTE_DEF.match(line)
        if m:
            key = m["id"]
            footnotes[key] = [m["text"]]
            n += 1
            while n < len(lines) and (lines[n].startswith("    ") or not lines[n].strip()):
                if not lines[n].strip():
                    if n + 1 < len(lines) and lines[n + 1].startswith("    "):
                        footnotes[key].append("")
                        n += 1
                        continue
                    break
                footnotes[key].append(lines[n].strip())
                n += 1
            continue
        m = BLOCK_OPEN.match(line.strip())
        if m:
            kind = m["kind"]
            heading = (m["title"] or "").strip() or kind.capitalize()
            if kind == "tab":
                prose.append(quote + f"**{heading}**")
            else:
                prose.append(quote + f"> **{heading}**")
                prose.append(quote + ">")
            open_blocks.append(kind)
            n += 1
            continue
        if line.strip() == "///":
            if open_blocks:
                open_blocks.pop()
            prose.append(("> " * sum(kind != "tab" for kind in open_blocks)).rstrip())  # still in the quote
            n += 1
            continue
        fig = pages.FIGURE_LINE.match(line)
        if fig:
            flush()
            cells.append(
                _code_cell(
                    "# The figure that the cell above drew with save_figure:\n"
                    f"# {fig['alt']}\n"
                    "from IPython.display import SVG\n\n"
                    "from llmguide.figures import figure_dir\n\n"
                    f'SVG(filename=figure_dir() / "{fig["name"]}.svg")',
                    cid(),
                    role="figure",
                    figure=fig["name"],
                )
            )
            n += 1
            continue

        def ref(m: re.Match) -> str:
            key = m["id"]
            if key not in order:
                order.append(key)
            return f"<sup>{order.index(key) + 1}</sup>"

        line = FOOTNOTE_REF.sub(ref, _rewrite_links(line, base, path))
        prose.append((quote + line) if line.strip() else quote.rstrip())
        n += 1
    flush()
    if order:
        notes = ["## References", ""]
        for i, key in enumerate(order, start=1):
            body = " ".join(part for part in footnotes.get(key, ["(missing)"]) if part)
            notes.append(f"{i}. {_rewrite_links(body, base, path)}")
        cells.append(new_markdown_cell("\n".join(notes), id=cid()))

    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
        "language_info": {"name": "python"},
        "llmguide": {"page": path.name, "url": url},
    }
    nbformat.validate(nb)
    return nb


def notebook_json(nb: Any) -> str:
    return nbformat.writes(nb) + "\n"


# ---------------------------------------------------------------------------------------------------------
# Running a notebook in a fresh kernel
# ---------------------------------------------------------------------------------------------------------

# Sent to the kernel before the notebook's cells, in test runs only: a marker on stdout before each top-level
# statement of a cell, so that the cell's output can be split per statement as the page harness splits it.
_KERNEL_SETUP = f"""
import ast as _ast


class _LLMGuideStatementMarks(_ast.NodeTransformer):
    ast = _ast

    def visit_Module(self, node):
        if any(getattr(stmt, "llmguide_mark", False) for stmt in node.body):
            return node  # marked already
        body = []
        for i, stmt in enumerate(node.body):
            mark = self.ast.parse("__import__('sys').stdout.write('{MARK}%d{MARK}')" % i).body[0]
            mark.llmguide_mark = True
            body += [self.ast.copy_location(mark, stmt), stmt]
        node.body = body
        return self.ast.fix_missing_locations(node)


get_ipython().ast_transformers.append(_LLMGuideStatementMarks())
del _ast, _LLMGuideStatementMarks
"""
# Before a block that does not continue the one above: the page runs it in a new namespace.
_FRESH_NAMESPACE = "get_ipython().run_line_magic('reset', '-f -s')"


def kernel_env(figure_dir: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # the harness's Agg; the kernel shows figures inline
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    if figure_dir is not None:
        env["LLMGUIDE_FIGURE_DIR"] = str(figure_dir)
    return env


def _client(nb: Any, cwd: Path, timeout: int) -> Any:
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    # The kernel this interpreter runs (the `python3` spec names `python`, which jupyter_client maps to
    # sys.executable), talking over local sockets (ipc) rather than TCP.
    km = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=str(cwd / "kernel"))
    return NotebookClient(
        nb, km=km, timeout=timeout, allow_errors=False, resources={"metadata": {"path": str(cwd)}}
    )


def _stdout(cell: Any) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stdout")


class NotebookCellError(AssertionError):
    """A cell of a notebook raised."""


def execute_notebook(
    nb: Any,
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: int = CELL_TIMEOUT,
    marks: bool = False,
    fresh_before: set[int] | None = None,
) -> float:
    """Run every code cell of `nb` in order in a new kernel, outputs stored in `nb`; return the seconds taken.

    With `marks`, each top-level statement writes a marker to stdout first (see `split_statements`); the
    cells in `fresh_before` (indices) start from an empty namespace.
    """
    from nbclient.exceptions import CellExecutionError

    client = _client(nb, cwd, timeout)
    start = time.perf_counter()
    with client.setup_kernel(env=env):
        if marks:
            client.execute_cell(new_code_cell(_KERNEL_SETUP), 0, store_history=False)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            if fresh_before and index in fresh_before:
                client.execute_cell(new_code_cell(_FRESH_NAMESPACE), index, store_history=False)
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as exc:
                plain = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))  # the traceback's colours
                raise NotebookCellError(f"cell {index} raised:\n{plain}") from None
    return time.perf_counter() - start


def split_statements(text: str, n: int) -> list[str]:
    """A marked cell's stdout, cut into what each of its `n` top-level statements printed."""
    parts = re.split(f"{MARK}(\\d+){MARK}", text)
    out = [""] * n
    # parts: [before first mark, index, text, index, text, ...]
    for i in range(1, len(parts), 2):
        out[int(parts[i])] += parts[i + 1]
    return out


def strip_marks(nb: Any) -> None:
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if "text" in o:
                o["text"] = re.sub(f"{MARK}\\d+{MARK}", "", o["text"])


def executed_copy(source: Path) -> Path:
    """Where the executed copy of a solution notebook goes (and where the site build looks for it)."""
    return EXECUTED / source.relative_to(DOCS)


def same_cells(a: Any, b: Any) -> bool:
    """Whether two notebooks hold the same cells (type and source), whatever their outputs."""
    return [(c.cell_type, c.source) for c in a.cells] == [(c.cell_type, c.source) for c in b.cells]


def run_solution_notebook(source: Path, *, workdir: Path) -> tuple[float, Any]:
    """Execute a solution notebook top to bottom in a new kernel; return (seconds, the executed notebook).

    Raises `NotebookCellError` for a cell that raised, a failed `assert` included. It writes nothing: the
    caller writes the executed copy (`write_executed_copy`) once every check of the run has passed, so that
    a failed check leaves no copy that `make solutions` would take as up to date.
    """
    nb = nbformat.read(source, as_version=4)
    try:
        seconds = execute_notebook(nb, cwd=workdir, env=kernel_env(workdir / "figures"))
    except NotebookCellError as exc:
        raise NotebookCellError(f"{source}: {exc}") from None
    return seconds, nb


def write_executed_copy(source: Path, nb: Any) -> Path:
    """Write the executed notebook where the site build (and `make solutions`) look for it; return the path."""
    target = executed_copy(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    nbformat.write(nb, partial)
    partial.replace(target)  # all at once: never a half-written copy newer than the source
    return target


def run_chapter_notebook(
    path: Path, *, figure_dir: Path | None, workdir: Path, checker: Checker | None = None
) -> tuple[float, Any]:
    """Execute the chapter's notebook in a new kernel; check each statement's output against the page.

    Raises `OutputMismatch` (page line, diff) on the first statement whose output differs from the
    page's lines, as the page harness would, or `NotebookCellError` for a cell that raised (with the page line
    of its block). A `checker` in update or record mode gathers edits or records instead. Returns the seconds taken and the executed notebook.
    """
    text = path.read_text("utf8")
    nb = chapter_notebook(path, text)
    blocks = pages.blocks(path, text)
    checker = checker or Checker()
    code_cells = [i for i, c in enumerate(nb.cells) if c.metadata.get("llmguide", {}).get("role") == "block"]
    assert len(code_cells) == len(blocks), "one code cell per runnable block"
    fresh = {i for i, b in zip(code_cells, blocks, strict=True) if not b.continuation}
    lines = {i: b.fence.line for i, b in zip(code_cells, blocks, strict=True)}
    try:
        seconds = execute_notebook(
            nb, cwd=workdir, env=kernel_env(figure_dir), marks=True, fresh_before=fresh
        )
    except NotebookCellError as exc:
        index = int(str(exc).split()[1])
        message = re.sub(f"{MARK}\\d+{MARK}", "", str(exc))
        where = f"{path}:{lines[index]}: this block" if index in lines else f"{path}: cell {index}"
        raise NotebookCellError(f"{where} raised in the chapter's notebook ({message})") from None
    for index, block in zip(code_cells, blocks, strict=True):
        printed = split_statements(_stdout(nb.cells[index]), len(block.statements))
        for stmt, got, shown in zip(block.statements, printed, block.shown, strict=True):
            checker.check(path, stmt, got, list(shown))
    strip_marks(nb)
    return seconds, nb
