"""ruff (configured in pyproject.toml) is part of the test suite: a lint error fails the tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
# The whole tree, as `make lint` checks it (pyproject.toml excludes site/, .venv/ and the Markdown pages, whose
# code the docs harness lints): the package, tests, scripts, benchmarks, experiments and solution notebooks.
TARGETS = ["."]


def ruff() -> str:
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert exe, "ruff is missing: run `make test` (it installs the test extras)"
    return exe


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_ruff(command: list[str]):
    result = subprocess.run([ruff(), *command, *TARGETS], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
