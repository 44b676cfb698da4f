"""The project's dependencies at either end of their supported range, for the drift checks.

`pyproject.toml` is the one place that says which versions the guide supports: every requirement of the
package and of the `docs` and `test` extras (what `make test` installs) has a lower bound, the oldest release
the suite passes with. This script turns those requirements into what pip installs for the two checks that
keep the range honest (`scripts/setup.sh` with `DEPENDENCIES=oldest` or `DEPENDENCIES=newest`, and the
workflows in `.github/workflows/drift.yml`):

    python scripts/dependency_versions.py oldest          # each direct dependency at its lower bound
    python scripts/dependency_versions.py newest          # each direct dependency by name alone
    python scripts/dependency_versions.py oldest --only torch     # one version: torch's lower bound
    python scripts/dependency_versions.py newest --without torch  # all but torch (set up on its own)
    python scripts/dependency_versions.py installed       # the versions installed here, as a table

`oldest` pins only the direct dependencies (`name==bound`); what they need in turn resolves to its newest
release, as `uv pip install --resolution lowest-direct` does. `newest` drops every bound, the upper ones too
(`mkdocs<2`, `pytest-markdown-docs==0.9.2`): the weekly check is there to find out when a cap starts to
matter. Environment markers stay (`tomli` on Python 3.10 only). Needs `packaging`, and `tomli` on Python 3.10.
"""

from __future__ import annotations

import argparse
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = ("docs", "test")  # what `make test` installs: pip install -e ".[docs,test]"


def direct_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[Requirement]:
    """The package's requirements and those of its docs and test extras, merged by name, in file order.

    A name listed twice (matplotlib and nbformat are in both extras) keeps the union of its extras and the
    tighter of its bounds. Markers must agree between the copies.
    """
    project = tomllib.loads(pyproject.read_text("utf8"))["project"]
    lines = list(project["dependencies"])
    for extra in EXTRAS:
        lines += project["optional-dependencies"][extra]
    merged: dict[str, Requirement] = {}
    for line in lines:
        req = Requirement(line)
        key = _key(req.name)
        if key in merged:
            first = merged[key]
            if str(first.marker) != str(req.marker):
                raise ValueError(f"{req.name} is listed with two markers: {first.marker} and {req.marker}")
            first.extras |= req.extras
            first.specifier &= req.specifier
        else:
            merged[key] = req
    return list(merged.values())


def _key(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def lower_bound(req: Requirement) -> str:
    """The oldest version `req` admits: the version of its `>=` or `==` clause (the highest, if several)."""
    bounds = [s.version for s in req.specifier if s.operator in (">=", "==", "~=")]
    if not bounds:
        raise ValueError(f"{req} has no lower bound: say in pyproject.toml which oldest release is supported")
    from packaging.version import Version

    return max(bounds, key=Version)


def _line(req: Requirement, specifier: str) -> str:
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    marker = f"; {req.marker}" if req.marker else ""
    return f"{req.name}{extras}{specifier}{marker}"


def oldest(reqs: list[Requirement]) -> list[str]:
    """Requirement lines with each direct dependency pinned to its lower bound."""
    return [_line(r, f"=={lower_bound(r)}") for r in reqs]


def newest(reqs: list[Requirement]) -> list[str]:
    """Requirement lines with every bound dropped: pip picks each dependency's newest release."""
    return [_line(r, "") for r in reqs]


def installed(reqs: list[Requirement]) -> list[str]:
    """A Markdown table: each direct dependency, its declared range, the version installed here."""
    rows = ["| package | declared | installed |", "| --- | --- | --- |"]
    for r in reqs:
        if r.marker and not r.marker.evaluate():
            continue
        try:
            version = metadata.version(r.name)
        except metadata.PackageNotFoundError:
            version = "not installed"
        rows.append(f"| {r.name} | {r.specifier or SpecifierSet()} | {version} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("which", choices=("oldest", "newest", "installed"))
    parser.add_argument("--only", metavar="NAME", help="print this dependency's version (oldest) alone")
    parser.add_argument("--without", metavar="NAME", action="append", default=[], help="leave NAME out")
    args = parser.parse_args(argv)
    reqs = [r for r in direct_requirements() if _key(r.name) not in {_key(n) for n in args.without}]
    if args.only:
        match = [r for r in reqs if _key(r.name) == _key(args.only)]
        if not match or args.which != "oldest":
            parser.error("--only NAME works with `oldest` and a name from pyproject.toml")
        print(lower_bound(match[0]))
        return 0
    print("\n".join({"oldest": oldest, "newest": newest, "installed": installed}[args.which](reqs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
