"""Root conftest: checks the set-up, then loads the docs harness (tests/docblocks.py).

Running `pytest` without the set-up done gives one line saying what to run, not a stack trace.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent
SETUP_HINT = "run `make test` (it creates .venv and installs everything), or `pip install -e '.[docs,test]'`"

REQUIRED = (
    "pytest_markdown_docs",
    "markdown_it",
    "matplotlib",
    "yaml",
    "hypothesis",
    "llmguide",
    "torch",
    "numpy",
    "nbformat",
    "nbclient",
    "ipykernel",
)


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


_missing = [name for name in REQUIRED if not _importable(name)]

if _missing:
    if "pytest_markdown_docs" in _missing:

        def pytest_addoption(parser: pytest.Parser) -> None:
            # Accept the options of pyproject's addopts so that the message below is what the user sees.
            parser.addoption("--markdown-docs", action="store_true")
            parser.addoption("--markdown-docs-syntax", action="store")

    def pytest_configure(config: pytest.Config) -> None:
        raise pytest.UsageError(
            f"the test set-up is not done: missing {', '.join(_missing)} in {sys.executable}. {SETUP_HINT}."
        )

else:
    import llmguide

    # An editable install made from another clone imports that clone's code, and every test here would
    # silently test it: refuse, saying how to fix it.
    _imported = Path(llmguide.__file__).resolve().parent
    if not _imported.is_relative_to((ROOT / "src").resolve()):

        def pytest_configure(config: pytest.Config) -> None:
            raise pytest.UsageError(
                f"llmguide is imported from {_imported}, not from this clone's src/ ({ROOT / 'src'}): "
                "run `make setup` here, or `pip install -e .` in this clone, or set PYTHONPATH=src."
            )

    else:
        # The harness sets torch's thread count (`--torch-threads`, default 2) for every test; chapterchecks
        # adds the structure check of each chapter page (tests/chapterchecks.py).
        sys.path.insert(0, str(ROOT / "tests"))
        pytest_plugins = ["docblocks", "pagenotebooks", "chapterchecks", "pytester"]
