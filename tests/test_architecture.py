"""The package's layers, read from its source with `ast`: which module may import which.

- No library module imports the command line (`llmguide.cli`): the CLI sits on top of the library.
- The arithmetic and text modules (sizing, scaling, sampling, prompts) import neither `torch.nn` nor training
  code, directly or through another llmguide module; sizing, scaling and prompts do not import torch at all
  when they are imported (the CLI's `--help` and `memory` stay fast, and prompts are plain strings).
- The model imports no training code: a GPT can be built, loaded and sampled without the training loop, the
  data pipeline or the synthetic tasks. Nor does it import sampling or generation: generating is a loop above
  the model (`llmguide.generation`), which every path shares (the fast path in `llmguide.decode` too).
- No module uses another module's private names (`_name`): not by importing them, nor as an attribute of
  another module or of an object (`model._check_idx`). A private name may be used only in the module that
  defines it. Attributes of other libraries (`torch._dynamo`) are outside the rule.

Imports are followed through llmguide's own modules, so moving a forbidden import one module down the chain
does not hide it. Imports inside functions count for the layering rules (they run when called); only
module-level imports count for "imports no torch when imported".
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "llmguide"

TRAINING = {"llmguide.train", "llmguide.tasks", "llmguide.data"}  # the loop, the tasks, the batches
LEAVES = ("sizing", "scaling", "sampling", "prompts")  # arithmetic and text: no torch.nn, no training
NO_TORCH = ("sizing", "scaling", "prompts")


def imports_of(source: str, module: str, *, top_level_only: bool = False) -> set[str]:
    """The modules `source` imports, as dotted names (`from torch import nn` gives `torch.nn` and `torch`).

    `torch.nn.X` written as an attribute chain after `import torch` counts as importing `torch.nn`.
    """
    tree = ast.parse(source)
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                found |= {".".join(parts[: i + 1]) for i in range(len(parts))}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # a relative import: resolve it against this module's package
                package = module.split(".")[: -node.level]
                base = ".".join([*package, *([base] if base else [])])
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
        elif (
            not top_level_only
            and isinstance(node, ast.Attribute)
            and node.attr == "nn"
            and isinstance(node.value, ast.Name)
            and node.value.id == "torch"
        ):
            found.add("torch.nn")
    return found


def package_graph(src: Path, *, top_level_only: bool = False) -> dict[str, set[str]]:
    """Every module of the package (`llmguide.x`) with the modules it imports."""
    graph = {}
    for path in sorted(src.glob("*.py")):
        name = "llmguide" if path.stem == "__init__" else f"llmguide.{path.stem}"
        graph[name] = imports_of(path.read_text("utf8"), name, top_level_only=top_level_only)
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> dict[str, list[str]]:
    """Every module imported from `start`, directly or through the package's modules, with the chain to it."""
    chains: dict[str, list[str]] = {}
    todo = [(start, [start])]
    while todo:
        module, chain = todo.pop()
        for imported in graph.get(module, ()):
            if imported not in chains:
                chains[imported] = [*chain, imported]
                if imported in graph and imported != start:
                    todo.append((imported, chains[imported]))
    return chains


def violations(graph: dict[str, set[str]], start: str, forbidden: set[str]) -> list[str]:
    """The chains from `start` to a forbidden module (or a submodule of one)."""
    found: dict[str, str] = {}
    for imported, chain in sorted(reachable(graph, start).items()):  # a module sorts before its members
        if any(imported == f or imported.startswith(f + ".") for f in forbidden):
            if not any(imported.startswith(seen + ".") for seen in found):  # `x.cli.main`: `x.cli` says it
                found[imported] = " -> ".join(chain)
    return list(found.values())


GRAPH = package_graph(SRC)
TOP_LEVEL = package_graph(SRC, top_level_only=True)


def test_the_graph_sees_the_package() -> None:
    # guards the tests below against passing because they read nothing
    assert {"llmguide.model", "llmguide.cli", "llmguide.sizing", "llmguide.tasks"} <= set(GRAPH)
    assert "torch.nn" in GRAPH["llmguide.model"]
    assert "llmguide.cli" in GRAPH["llmguide.__main__"]
    assert "llmguide.model" in reachable(GRAPH, "llmguide.checkpoint")


@pytest.mark.parametrize("module", sorted(set(GRAPH) - {"llmguide.cli", "llmguide.__main__"}))
def test_no_library_module_imports_the_cli(module: str) -> None:
    assert violations(GRAPH, module, {"llmguide.cli"}) == []


@pytest.mark.parametrize("name", LEAVES)
def test_arithmetic_and_text_modules_import_no_torch_nn_and_no_training_code(name: str) -> None:
    assert violations(GRAPH, f"llmguide.{name}", {"torch.nn", *TRAINING}) == []


@pytest.mark.parametrize("name", NO_TORCH)
def test_some_modules_load_without_torch(name: str) -> None:
    assert violations(TOP_LEVEL, f"llmguide.{name}", {"torch"}) == []


def test_the_model_imports_no_training_code() -> None:
    assert violations(GRAPH, "llmguide.model", TRAINING) == []


def test_generation_sits_above_the_model_and_sampling() -> None:
    assert violations(GRAPH, "llmguide.model", {"llmguide.sampling", "llmguide.generation"}) == []
    assert {"llmguide.model", "llmguide.sampling"} <= GRAPH["llmguide.generation"]
    assert "llmguide.generation" in GRAPH["llmguide.decode"]  # the fast path runs the same loop


def private_uses(source: str) -> list[str]:
    """The private names (`_x`, not dunders) that `source` uses but does not define, as `line: text`.

    Defined here: a function, class or variable of the module, an attribute assigned anywhere in it
    (`self._graph = ...`, `cache._graph = ...`), a method or class attribute of one of its classes. Attributes
    reached from another library's module (`torch._dynamo`, `argparse._SubParsersAction`) are not counted.
    """
    tree = ast.parse(source)
    defined: set[str] = set()
    external: set[str] = set()  # names bound to modules outside llmguide
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            defined.add(node.attr)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if not alias.name.startswith("llmguide"):
                    external.add((alias.asname or alias.name).split(".")[0])
        elif (
            isinstance(node, ast.ImportFrom)
            and not (node.module or "").startswith("llmguide")
            and not node.level
        ):
            external |= {alias.asname or alias.name for alias in node.names}

    def private(name: str) -> bool:
        return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))

    def root(node: ast.expr) -> str | None:
        while isinstance(node, ast.Attribute):
            node = node.value
        return node.id if isinstance(node, ast.Name) else None

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and ((node.module or "").startswith("llmguide") or node.level):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if private(a.name)]
        elif isinstance(node, ast.Attribute) and private(node.attr) and node.attr not in defined:
            if root(node) not in external:
                found.append(f"{node.lineno}: {ast.unparse(node)}")
    return sorted(found, key=lambda line: int(line.split(":")[0]))


@pytest.mark.parametrize("path", sorted(SRC.glob("*.py")), ids=lambda p: p.stem)
def test_no_module_uses_another_modules_private_names(path: Path) -> None:
    assert private_uses(path.read_text("utf8")) == []


def test_the_private_name_rule_catches_a_planted_use() -> None:
    source = (
        "import torch\nimport argparse\nfrom llmguide.model import GPT, _kind\nfrom llmguide import model\n"
        "class C:\n    def __init__(self):\n        self._mine = 1\n"
        "def f(m: GPT, c: C):\n    torch._dynamo.reset()\n    argparse._SubParsersAction\n"
        "    c._mine\n    m._check_idx(1)\n    model._kind(1)\n"
    )
    assert private_uses(source) == ["3: import _kind", "12: m._check_idx", "13: model._kind"]


def test_the_rules_catch_a_planted_violation(tmp_path: Path) -> None:
    # the same checks on a fake package whose leaf reaches torch.nn and the CLI through a helper module
    (tmp_path / "sizing.py").write_text("from llmguide import helper\n")
    (tmp_path / "helper.py").write_text(
        "import torch\n\ndef f():\n    from llmguide.cli import main\n    return torch.nn\n"
    )
    (tmp_path / "model.py").write_text("from .train import train\n")
    (tmp_path / "train.py").write_text("")
    graph = package_graph(tmp_path)
    assert violations(graph, "llmguide.sizing", {"torch.nn"}) == [
        "llmguide.sizing -> llmguide.helper -> torch.nn"
    ]
    assert violations(graph, "llmguide.sizing", {"llmguide.cli"}) == [
        "llmguide.sizing -> llmguide.helper -> llmguide.cli"
    ]
    assert violations(graph, "llmguide.model", TRAINING) == ["llmguide.model -> llmguide.train"]
    top = package_graph(tmp_path, top_level_only=True)
    assert violations(top, "llmguide.sizing", {"llmguide.cli"}) == []  # only called, not run on import
    assert violations(top, "llmguide.sizing", {"torch"}) == ["llmguide.sizing -> llmguide.helper -> torch"]
