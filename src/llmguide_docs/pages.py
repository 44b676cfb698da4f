"""A page as the harness reads it, one parser for all its parts: fences, and runnable Python blocks.

A fence is *collected* where CommonMark (markdown-it, as pytest-markdown-docs uses it) sees one, not, say, an
indented code block under `!!!`; a collected Python fence that is not `notest` is a runnable block. Each of
its top-level statements owns the output lines under it, up to the next statement.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt

from llmguide_docs.outputs import Expected, MalformedOutput, OutputMismatch, kind_of, parse_output_line

PYTHON = {"python", "py", "python3"}
FIGURE = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?:\./)?figures/(?P<name>[a-z0-9][a-z0-9-]*)\.svg\)")
FIGURE_LINE = re.compile(rf"^\s*{FIGURE.pattern}\s*$")
_QUOTED_NAME = re.compile(r"[\"']([a-z0-9][a-z0-9-]*)[\"']")
_OPENING = re.compile(r"^(?P<indent>[ \t]*)(?P<mark>`{3,}|~{3,})(?P<info>.*)$")


def info_words(info: str) -> list[str]:
    """A fence's info string as words, language first: `python notest` or superfences' `{.python notest}`
    (pytest-markdown-docs's parse_superfences_block_info, which the site build cannot import: it loads pytest)."""
    brace = info.startswith("{")
    words = (info.strip("{}") if brace else info).split()
    lang = next((w for w in words if w.startswith(".")), None) if brace else None
    return [lang[1:], *(w for w in words if w is not lang)] if lang else words


@dataclass
class Fence:
    line: int  # 1-based line of the opening fence
    indent: int
    info: str
    lang: str | None
    options: set[str]
    collected: bool  # a fence to CommonMark, which pytest-markdown-docs turns into a test
    body: list[str] = field(default_factory=list)

    @property
    def notest(self) -> bool:
        return "notest" in self.options

    @property
    def runs(self) -> bool:
        return self.lang in PYTHON and self.collected and not self.notest

    @property
    def lines(self) -> range:
        """The page lines of the fence, its markers included."""
        return range(self.line, self.line + len(self.body) + 2)


def fences(text: str) -> list[Fence]:
    """Every fenced block of a Markdown text, at any indentation, as a line scanner sees it."""
    top = {t.map[0] + 1 for t in MarkdownIt("commonmark").parse(text) if t.type == "fence" and t.map}
    found: list[Fence] = []
    current, mark = None, ""
    for n, line in enumerate(text.split("\n"), start=1):
        if current is None:
            m = _OPENING.match(line)
            if m and not (m["mark"][0] == "`" and "`" in m["info"]):
                info, mark = m["info"].strip(), m["mark"]
                lang, *options = info_words(info) or [None]
                current = Fence(n, len(m["indent"].expandtabs(4)), info, lang, set(options), n in top)
                found.append(current)
        elif re.match(rf"^[ \t]*{re.escape(mark[0])}{{{len(mark)},}}[ \t]*$", line):
            current = None
        else:
            current.body.append(line)
    return found


def fenced_lines(text: str) -> set[int]:
    """Lines inside any fence: code, or examples of Markdown, never the page's own prose."""
    return {n for f in fences(text) for n in f.lines}


def statements(path: Path, source: str, first: int) -> tuple[list[ast.stmt], list[list[Expected]]]:
    """The top-level statements of `source` from line `first` on (page line numbers: earlier lines may hold the
    blocks a continuation continues), each with the output lines it owns."""
    own = [s for s in ast.parse(source, filename=str(path)).body if s.lineno >= first]
    shown: list[list[Expected]] = [[] for _ in own]
    for n, raw in enumerate(source.split("\n")[first - 1 :], start=first):
        if not kind_of(raw):
            continue
        owner = next((i for i in reversed(range(len(own))) if own[i].lineno <= n), None)
        if owner is None:
            raise OutputMismatch(f"{path}:{n}: an output line comes before any statement.")
        try:
            shown[owner].append(parse_output_line(n, raw))
        except MalformedOutput as exc:
            raise OutputMismatch(f"{path}:{n}: malformed output line: {exc}") from None
    return own, shown


@dataclass
class Block:
    """A runnable Python block of a page, with what each of its top-level statements must print."""

    fence: Fence
    statements: list[ast.stmt]  # in page line numbers
    shown: list[list[Expected]]  # per statement

    @property
    def continuation(self) -> bool:
        return "continuation" in self.fence.options

    @property
    def code(self) -> str:
        """The block without its output lines: what a notebook cell holds and ruff checks."""
        return "\n".join(line for line in self.fence.body if not kind_of(line)).strip("\n")


def blocks(path: Path, text: str) -> list[Block]:
    """The runnable blocks of a page, in page order."""
    runnable = [f for f in fences(text) if f.runs]
    return [Block(f, *statements(path, "\n" * f.line + "\n".join(f.body), f.line + 1)) for f in runnable]


def output_lines(text: str) -> list[tuple[int, str]]:
    """(line, raw line) of every output line of a page's runnable blocks, in page order. A line's position in
    this list (its ordinal) survives edits that move lines: scripts/measure_spread.py matches records by it."""
    runnable = [f for f in fences(text) if f.runs]
    return [(n, raw) for f in runnable for n, raw in enumerate(f.body, f.line + 1) if kind_of(raw)]


def figures(text: str) -> tuple[list[tuple[int, re.Match]], dict[str, int]]:
    """(line, match) of each figure `![alt](figures/NAME.svg)` the page shows outside fences, and each NAME a
    runnable block draws with `save_figure(..., "NAME")` -> the line of the first such block."""
    drawn: dict[str, int] = {}
    for f in (found := fences(text)):
        for line in f.body if f.runs else ():
            for name in _QUOTED_NAME.findall(line.partition("save_figure(")[2]):
                drawn.setdefault(name, f.line)
    fenced, lines = {n for f in found for n in f.lines}, enumerate(text.split("\n"), start=1)
    return [(n, m) for n, line in lines if n not in fenced for m in FIGURE.finditer(line)], drawn
