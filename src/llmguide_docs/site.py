"""The MkDocs project: its nav, its chapters, and where its pages are published."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mkdocs.utils.yaml import yaml_load  # reads `!ENV [NAME, default]`, as MkDocs does

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
NOT_CHAPTERS = {"index.md", "contributing.md"}


def mkdocs_config(root: Path = ROOT) -> dict[str, Any]:
    return yaml_load((root / "mkdocs.yml").read_text("utf8"))


def nav_pages(config: dict[str, Any] | None = None) -> list[str]:
    """Every page the nav of `config` (default: this project's) names, in order, sections flattened."""
    items = (config or mkdocs_config())["nav"]
    values = [next(iter(i.values())) if isinstance(i, dict) else i for i in items]
    return [p for v in values for p in (nav_pages({"nav": v}) if isinstance(v, list) else [v])]


def chapter_names(config: dict[str, Any]) -> list[str]:
    """Chapters: the nav's top-level Markdown pages (no folder) other than the introduction and contributing."""
    return [p for p in nav_pages(config) if p.endswith(".md") and "/" not in p and p not in NOT_CHAPTERS]


def chapters() -> list[Path]:
    """This project's chapter pages, in nav order."""
    return [DOCS / p for p in chapter_names(mkdocs_config())]


def project(path: Path) -> tuple[Path, dict[str, Any], Path] | None:
    """(root, config, docs folder) of the MkDocs project holding `path` (the nearest mkdocs.yml above it)."""
    root = next((d for d in Path(path).resolve().parents if (d / "mkdocs.yml").is_file()), None)
    if root is None:
        return None
    config = mkdocs_config(root)
    return root, config, (root / config.get("docs_dir", "docs")).resolve()


def is_chapter(path: Path, *, listed: bool = True) -> bool:
    """Whether `path` is a chapter of its project: a page directly in the docs folder, other than the
    introduction and contributing, and (with `listed`) in the nav."""
    found = project(path) if path.suffix == ".md" and path.name not in NOT_CHAPTERS else None
    if found is None or path.resolve().parent != found[2]:
        return False
    return not listed or path.name in chapter_names(found[1])


def site_url() -> str:
    return (os.environ.get("SITE_URL") or mkdocs_config().get("site_url") or "/").rstrip("/") + "/"


def page_url(target: str, base: str, notebook_dir: str = "notebooks") -> str:
    """The published URL of a link target of a page (`temperature.md#x`, `reference/model.md`, ...)."""
    path, _, fragment = target.partition("#")
    if path.endswith(".md"):
        path = path.removesuffix(".md")
        path = path.removesuffix("index") if path in ("index", "") or path.endswith("/index") else path + "/"
    elif path.endswith(".ipynb") and not path.startswith(f"{notebook_dir}/"):
        path = path.removesuffix(".ipynb") + "/"  # a notebook rendered as a page (the solutions)
    return base + path + (f"#{fragment}" if fragment else "")
