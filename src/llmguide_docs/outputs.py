"""The three kinds of output line a page shows under a statement, and how each is compared.

`#> text` exact (character for character, trailing spaces aside); `#~ text` measured (each number written
with a tolerance, `2.13 ±0.05` or `614 ±5%`, within it; the other numbers and the words exactly, runs of
spaces as one); `#? text` example (one run's output: a line must be printed there, not compared; example
lines that end a statement's output stand for all it prints from there on). docs/contributing.md has the
contributor's view; the front page (`index.md#reading-the-outputs`) the reader's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EXACT, MEASURED, EXAMPLE = "exact", "measured", "example"
PREFIXES = {"#>": EXACT, "#~": MEASURED, "#?": EXAMPLE}
PREFIX_OF = {kind: prefix for prefix, kind in PREFIXES.items()}
OUTPUT_LINE = re.compile(r"^\s*(#[>~?])(?: |$)")

# A number as Python prints it: optional sign, digits with optional thousands commas, optional fraction and
# exponent. The sign only counts where it cannot be an operator or a hyphen inside a word.
NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?(?:[eE][-+]?\d+)?|(?<![\w.])-?\.\d+")
TOLERANCE = re.compile(r"\s*±\s*(?P<value>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)(?P<percent>%?)")


class MalformedOutput(ValueError):
    """An output line whose tolerance cannot be read."""


class OutputMismatch(AssertionError):
    """A statement printed something other than its output lines say (or the lines cannot be read)."""


@dataclass(frozen=True)
class Tolerance:
    value: float
    relative: bool  # value is a percentage of the shown number
    raw: str  # as written, with the space before it: " ±0.05"

    def allows(self, shown: float, printed: float) -> bool:
        bound = abs(shown) * self.value / 100 if self.relative else self.value
        return abs(printed - shown) <= bound * (1 + 1e-9) + 1e-12

    def __str__(self) -> str:
        return f"±{self.value:g}{'%' if self.relative else ''}"


@dataclass(frozen=True)
class Expected:
    """One output line of the page."""

    lineno: int  # 1-based line in the page
    kind: str  # EXACT, MEASURED or EXAMPLE
    text: str  # what follows the prefix, tolerances included
    plain: str  # the text without its tolerances (what the statement prints)
    tolerances: tuple[Tolerance | None, ...] = ()  # one per number of `plain`, MEASURED only


def is_output_line(raw: str) -> bool:
    return OUTPUT_LINE.match(raw) is not None


def _as_float(token: str) -> float:
    return float(token.replace(",", ""))


def strip_tolerances(text: str) -> tuple[str, tuple[Tolerance | None, ...]]:
    """Split a measured line into the text it stands for and one tolerance (or None) per number."""
    plain: list[str] = []
    tolerances: list[Tolerance | None] = []
    pos = 0
    for number in NUMBER.finditer(text):
        if number.start() < pos:  # inside a tolerance already read
            continue
        plain.append(text[pos : number.end()])
        tol = TOLERANCE.match(text, number.end())
        if tol:
            value = float(tol["value"])
            tolerances.append(Tolerance(value, bool(tol["percent"]), tol.group(0)))
            pos = tol.end()
        else:
            tolerances.append(None)
            pos = number.end()
    plain.append(text[pos:])
    joined = "".join(plain)
    if "±" in joined:
        raise MalformedOutput(
            "a `±` that does not follow a number with a tolerance such as `2.13 ±0.05` or `614 ±5%`"
        )
    if not any(tolerances):
        raise MalformedOutput(
            "a measured `#~` line must give at least one number a tolerance (`2.13 ±0.05`); "
            "use `#>` for exact output"
        )
    return joined, tuple(tolerances)


def parse_output_line(lineno: int, raw: str) -> Expected:
    """Read one `#>`/`#~`/`#?` line; MalformedOutput says what is wrong with a measured one."""
    match = OUTPUT_LINE.match(raw)
    if match is None:
        raise ValueError(f"not an output line: {raw!r}")
    kind = PREFIXES[match[1]]
    text = raw.strip()[2:]
    text = text[1:] if text.startswith(" ") else text
    if kind == MEASURED:
        plain, tolerances = strip_tolerances(text)
        return Expected(lineno, kind, text, plain, tolerances)
    return Expected(lineno, kind, text, text)


def _tokens(text: str) -> list[str]:
    """Numbers and the text between them, runs of white space shrunk to one space."""
    parts: list[str] = []
    pos = 0
    for number in NUMBER.finditer(text):
        parts.append(re.sub(r"\s+", " ", text[pos : number.start()]))
        parts.append(number.group(0))
        pos = number.end()
    parts.append(re.sub(r"\s+", " ", text[pos:]).rstrip())
    return parts


def mismatch(expected: Expected, printed: str) -> str | None:
    """Why `printed` does not match the page's line, or None when it does."""
    printed = printed.rstrip()
    if expected.kind == EXAMPLE:
        return None
    if expected.kind == EXACT:
        return None if printed == expected.text.rstrip() else "differs"
    want, got = _tokens(expected.plain), _tokens(printed)
    if len(want) != len(got):
        return "prints a different number of numbers"
    for i, (w, g) in enumerate(zip(want, got, strict=True)):
        if i % 2 == 0:
            if w != g:
                return f"the words differ: {w.strip()!r} shown, {g.strip()!r} printed"
            continue
        tol = expected.tolerances[i // 2]
        if tol is None:
            if w != g:
                return f"{g} printed where {w} is shown without a tolerance"
        elif not tol.allows(_as_float(w), _as_float(g)):
            return f"{g} printed, outside the page's {w} {tol}"
    return None


def deviations(expected: Expected, printed: str) -> list[tuple[int, float, float, Tolerance]] | None:
    """For a measured line, (index, shown, printed, tolerance) of every number with a tolerance.

    None when the printed line does not have the same words and numbers of numbers (it cannot be compared).
    """
    want, got = _tokens(expected.plain), _tokens(printed.rstrip())
    if len(want) != len(got):
        return None
    out = []
    for k, (w, g) in enumerate(zip(want[1::2], got[1::2], strict=True)):
        tol = expected.tolerances[k]
        if tol is not None:
            out.append((k, _as_float(w), _as_float(g), tol))
    return out


def rewrite(expected: Expected, printed: str) -> str:
    """The page's new line for a printed line: same kind; a measured line keeps its tolerances.

    Where the printed line has another count of numbers the tolerances cannot be placed, and the line is
    written without them (the next run then fails on it as malformed, for the author to fix).
    """
    printed = printed.rstrip()
    prefix = PREFIX_OF[expected.kind]
    if expected.kind != MEASURED:  # an example can stand for several printed lines
        return "\n".join(f"{prefix} {line}".rstrip() for line in printed.split("\n"))
    numbers = list(NUMBER.finditer(printed))
    if len(numbers) != len(expected.tolerances):
        return f"{prefix} {printed}".rstrip()
    out: list[str] = []
    pos = 0
    for number, tol in zip(numbers, expected.tolerances, strict=True):
        out.append(printed[pos : number.end()])
        if tol is not None:
            out.append(tol.raw)
        pos = number.end()
    out.append(printed[pos:])
    return f"{prefix} {''.join(out)}".rstrip()
