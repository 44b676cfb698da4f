"""Run a chapter's notebook as a reader would, in the reader's own environment, and check its first cell.

A reader opens a chapter's notebook (the site's `notebooks/NAME.ipynb`) in a Jupyter that already has a
PyTorch of its own: a hosted notebook's CUDA build, or another release inside the supported range. The first
cell must install what is missing (llmguide, NumPy, Matplotlib) and keep that PyTorch. This script checks
both, with the interpreter it runs under as the reader's environment (it needs `nbclient` and `ipykernel`
there, as any Jupyter has):

    READER/bin/python scripts/reader_notebook.py site/notebooks/temperature.ipynb

It executes every cell in a kernel of that interpreter, fails on the first error, and then checks that the
installed torch is the same distribution, same version, as before. `--package` replaces the llmguide
requirement of the first cell (a git URL of the published repository) with another, such as a local checkout
where GitHub cannot be reached. The compatibility workflow runs it (.github/workflows/compatibility.yml,
job `reader-notebook`); the run on this repository's machines is recorded in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def torch_version() -> str:
    """The installed torch distribution's version, asked of a fresh interpreter (the kernel may change it)."""
    code = "from importlib.metadata import version; print(version('torch'))"
    return subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "notebook", type=Path, help="a chapter notebook, e.g. site/notebooks/temperature.ipynb"
    )
    parser.add_argument("--package", help="pip requirement for llmguide instead of the first cell's git URL")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)

    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(args.notebook, as_version=4)
    first = nb.cells[0]
    if first.cell_type != "code" or "needed = " not in first.source:
        print(f"{args.notebook}: the first cell is not the install cell", file=sys.stderr)
        return 1
    if args.package:
        first.source, n = re.subn(r"'llmguide @ [^']*'", repr(args.package), first.source)
        if n != 1:
            print(f"{args.notebook}: no llmguide requirement in the install cell", file=sys.stderr)
            return 1

    before = torch_version()
    start = time.perf_counter()
    with (
        tempfile.TemporaryDirectory() as workdir
    ):  # a reader's folder: whatever the chapter writes lands there
        client = NotebookClient(
            nb,
            timeout=args.timeout,
            kernel_name="python3",
            allow_errors=False,
            resources={"metadata": {"path": workdir}},
        )
        client.execute()
    seconds = time.perf_counter() - start
    after = torch_version()
    said = "".join(o.get("text", "") for o in nb.cells[0].get("outputs", []) if o.get("name") == "stdout")
    print(
        json.dumps(
            {
                "notebook": str(args.notebook),
                "install cell": said.strip(),
                "torch before": before,
                "torch after": after,
                "cells": len(nb.cells),
                "seconds": round(seconds, 1),
            }
        )
    )
    if after != before:
        print(f"the first cell replaced torch {before} with {after}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
