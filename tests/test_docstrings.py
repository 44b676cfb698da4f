"""Docstring examples are tests too: none may be silently skipped, and every public function documents itself.

pytest-markdown-docs runs the ```python fences of docstrings (`src/` is in testpaths), but a fence indented
under a Google-style `Example:` header is an indented code block to Markdown and is silently skipped. This
lints every docstring of the package with the same rules as the pages.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from llmguide_docs.lint import problems as lint_markdown

SRC = Path(__file__).parents[1] / "src" / "llmguide"
MODULES = sorted(p for p in SRC.glob("*.py") if p.name != "__main__.py")


def _docstrings(path: Path):
    tree = ast.parse(path.read_text("utf8"))
    nodes = [
        tree,
        *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)),
    ]
    for node in nodes:
        doc = ast.get_docstring(node, clean=False)
        if doc:
            line = node.body[0].lineno if not isinstance(node, ast.Module) else 1
            yield node, line, inspect.cleandoc(doc)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_docstring_examples_are_collected(path: Path):
    problems = []
    for _, line, doc in _docstrings(path):
        problems += [
            p.replace("<doc>:", f"{path}:{line}+") for p in lint_markdown(Path("<doc>"), doc, figures=False)
        ]
        problems = [p for p in problems if "every Python block of this page is skipped" not in p]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_public_functions_have_docstrings_and_annotations(path: Path):
    tree = ast.parse(path.read_text("utf8"))
    missing = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_"):
            if not ast.get_docstring(node):
                missing.append(f"{path}:{node.lineno}: {node.name} has no docstring")
            if isinstance(node, ast.FunctionDef):
                args = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
                unannotated = [a.arg for a in args if a.annotation is None and a.arg not in ("self", "cls")]
                if unannotated or node.returns is None:
                    missing.append(
                        f"{path}:{node.lineno}: {node.name} lacks annotations ({unannotated or 'return'})"
                    )
    assert not missing, "\n".join(missing)
