"""Root conftest: checks the set-up, then loads the docs harness (`llmguide_docs.plugin`). Without the set-up,
`pytest` says in one line what to run, not with a stack trace."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent
REQUIRED = ("pytest_markdown_docs", "markdown_it", "matplotlib", "yaml", "hypothesis", "llmguide", "torch")
REQUIRED += ("numpy", "nbformat", "nbclient", "ipykernel", "psutil", "mkdocs")

_missing, _problem = [], None
for _name in REQUIRED:  # imported, not only found: a package that fails to import is missing too
    try:
        importlib.import_module(_name)
    except ImportError:
        _missing.append(_name)
if _missing:
    _problem = (
        f"the test set-up is not done: missing {', '.join(_missing)} in {sys.executable}. run `make test` (it "
        "creates .venv and installs everything), or `pip install -e '.[docs,test]'`."
    )
else:
    # An editable install made from another clone imports that clone's code, and every test here would
    # silently test it: refuse, saying how to fix it.
    _imported = Path(sys.modules["llmguide"].__file__).resolve().parent
    if not _imported.is_relative_to((ROOT / "src").resolve()):
        _problem = (
            f"llmguide is imported from {_imported}, not from this clone's src/ ({ROOT / 'src'}): run "
            "`make setup` here, or `pip install -e .` in this clone, or set PYTHONPATH=src."
        )

if _problem:
    if "pytest_markdown_docs" in _missing:

        def pytest_addoption(parser: pytest.Parser) -> None:
            # Accept the options of pyproject's addopts so that the message below is what the user sees.
            parser.addoption("--markdown-docs", action="store_true")
            parser.addoption("--markdown-docs-syntax", action="store")

    def pytest_configure(config: pytest.Config) -> None:
        raise pytest.UsageError(_problem)

else:
    pytest_plugins = ["llmguide_docs.plugin", "pytester"]
