"""pyproject.toml declares the supported range, and whatever installs or states versions follows it.

- Every direct dependency (the package's, and the docs and test extras' that `make test` installs) has a
  lower bound: the oldest release the suite is run with (`DEPENDENCIES=oldest`, compatibility.yml).
- `scripts/dependency_versions.py` turns them into the oldest pins and the unbounded newest list; checked
  here against a separate reading of pyproject.toml (a regular expression, not `packaging`).
- The chapters' install cell asks for the same ranges, never an exact pin.
- The README and the contributing page state the tested range with the same oldest versions.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llmguide_docs import notebook

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).parents[1]
SCRIPT = ROOT / "scripts" / "dependency_versions.py"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf8"))["project"]
LINES = PROJECT["dependencies"] + [
    line for extra in ("docs", "test") for line in PROJECT["optional-dependencies"][extra]
]
# name[extras] ... ; marker  (PEP 508, as pyproject.toml writes it)
LINE = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)(\[[^\]]*\])?\s*(?P<spec>[^;]*?)\s*(;\s*(?P<marker>.*))?$")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> dict[str, tuple[str, str | None]]:
    """name -> (oldest version, marker), read with a regular expression."""
    found: dict[str, tuple[str, str | None]] = {}
    for line in LINES:
        m = LINE.match(line)
        assert m, line
        lower = re.search(r"(?:>=|==)\s*([0-9][0-9.]*)", m["spec"])
        assert lower, f"{line!r} in pyproject.toml has no lower bound: declare the oldest release supported"
        found[_norm(m["name"])] = (lower[1], m["marker"])
    return found


def _script(*args: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return result.stdout.strip().splitlines()


def test_every_direct_dependency_declares_its_oldest_supported_release():
    declared = _declared()
    assert {"torch", "numpy", "mkdocs", "pytest", "matplotlib"} <= set(declared)
    assert len(declared) >= 15


def test_oldest_pins_every_direct_dependency_at_its_lower_bound():
    pins = {}
    for line in _script("oldest"):
        m = LINE.match(line)
        assert m and m["spec"].startswith("=="), line
        pins[_norm(m["name"])] = (m["spec"][2:], m["marker"] and m["marker"].replace("'", '"'))
    declared = {k: (v, mk and mk.replace("'", '"')) for k, (v, mk) in _declared().items()}
    assert pins == declared
    assert pins["tomli"][1] == 'python_version < "3.11"'  # markers survive
    assert _script("oldest", "--only", "torch") == [declared["torch"][0]]


def test_newest_drops_every_bound_and_keeps_the_markers():
    lines = _script("newest")
    for line in lines:
        requirement = line.split(";")[0]
        assert not re.search(r"[<>=!~]", requirement), line
    assert {_norm(LINE.match(line)["name"]) for line in lines} == set(_declared())
    assert "torch" not in {
        _norm(LINE.match(line)["name"]) for line in _script("newest", "--without", "torch")
    }
    assert any(line.startswith("mkdocstrings[python]") for line in lines)  # extras survive


def test_the_notebooks_install_cell_asks_for_the_declared_ranges():
    by_name = {_norm(LINE.match(line)["name"]): line.replace(" ", "") for line in LINES}
    for module, requirement in notebook.PIP_NAME.items():
        if requirement is None:
            continue  # llmguide itself, from the repository
        assert ">=" in requirement and "==" not in requirement, requirement
        assert by_name[_norm(module)] == requirement, (module, requirement)


def _stated_oldest(path: Path) -> dict[str, str]:
    """The 'oldest' column of the supported-versions table in a Markdown file: package -> version."""
    text = path.read_text("utf8")
    rows = re.findall(r"^\|\s*`?([A-Za-z0-9._\[\]-]+)`?\s*\|\s*`?([0-9][0-9.]*)`?\s*\|", text, re.M)
    return {_norm(re.sub(r"\[.*\]", "", name)): version for name, version in rows}


def _same_release(stated: str, bound: str) -> bool:
    pad = lambda v: [int(p) for p in v.split(".")] + [0] * (3 - len(v.split(".")))  # noqa: E731
    return pad(stated) == pad(bound)


def test_readme_states_the_tested_range_of_the_runtime_dependencies():
    stated = _stated_oldest(ROOT / "README.md")
    declared = _declared()
    for requirement in PROJECT["dependencies"]:
        name = _norm(LINE.match(requirement)["name"])
        assert name in stated, f"README.md's table of tested versions has no row for {name}"
        assert _same_release(stated[name], declared[name][0]), (name, stated[name], declared[name][0])


def test_contributing_page_lists_every_dependency_with_its_oldest_release():
    stated = _stated_oldest(ROOT / "docs" / "contributing.md")
    for name, (oldest, _) in _declared().items():
        assert name in stated, f"docs/contributing.md's table of tested versions has no row for {name}"
        assert _same_release(stated[name], oldest), (name, stated[name], oldest)


@pytest.mark.skipif(shutil.which("bash") is None, reason="scripts/setup.sh is a bash script")
def test_setup_refuses_an_unknown_dependencies_setting_before_making_anything(tmp_path: Path):
    env = {**os.environ, "DEPENDENCIES": "latest", "VENV": str(tmp_path / "venv")}
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup.sh")], env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "DEPENDENCIES is 'latest'; say pinned, oldest or newest" in result.stderr
    assert not (tmp_path / "venv").exists()
