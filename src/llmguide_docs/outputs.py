"""The three kinds of output line a page shows under a statement, and how each is compared.

`#> text` exact (trailing spaces aside); `#~ text` measured (each number written with a tolerance, `2.13 ±0.05`
or `614 ±5%`, within it; the other numbers and the words exactly, runs of spaces as one); `#? text` example
(a line must be printed there, not compared; example lines that end a statement's output stand for all it
prints from there on). docs/contributing.md has the contributor's view, `index.md#reading-the-outputs` the
reader's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EXACT, MEASURED, EXAMPLE = "exact", "measured", "example"
PREFIXES = {"#>": EXACT, "#~": MEASURED, "#?": EXAMPLE}
PREFIX_OF = {kind: prefix for prefix, kind in PREFIXES.items()}
OUTPUT_LINE = re.compile(r"^\s*(#[>~?])(?: |$)(.*)")

# A number as Python prints it: optional sign, digits with optional thousands commas, optional fraction and
# exponent. The sign only counts where it cannot be an operator or a hyphen inside a word.
NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?(?:[eE][-+]?\d+)?|(?<![\w.])-?\.\d+")
_TOKENS = re.compile(f"({NUMBER.pattern})")  # splits a line into words and numbers, alternating
TOLERANCE = re.compile(r"\s*±\s*(?P<value>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)(?P<percent>%?)")
_TOLERANCED = re.compile(rf"(?P<number>{NUMBER.pattern})(?P<tolerance>{TOLERANCE.pattern})?")


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


def kind_of(raw: str) -> str | None:
    """EXACT, MEASURED or EXAMPLE for an output line, else None."""
    match = OUTPUT_LINE.match(raw)
    return PREFIXES[match[1]] if match else None


def _as_float(token: str) -> float:
    return float(token.replace(",", ""))


def strip_tolerances(text: str) -> tuple[str, tuple[Tolerance | None, ...]]:
    """Split a measured line into the text it stands for and one tolerance (or None) per number."""
    tolerances: list[Tolerance | None] = []

    def strip(m: re.Match[str]) -> str:
        tol = m["tolerance"]
        tolerances.append(Tolerance(float(m["value"]), m["percent"] == "%", tol) if tol else None)
        return m["number"]

    plain = _TOLERANCED.sub(strip, text)
    if "±" in plain:
        raise MalformedOutput(
            "a `±` that does not follow a number with a tolerance such as `2.13 ±0.05` or `614 ±5%`"
        )
    if not any(tolerances):
        raise MalformedOutput(
            "a measured `#~` line must give at least one number a tolerance (`2.13 ±0.05`); "
            "use `#>` for exact output"
        )
    return plain, tuple(tolerances)


def parse_output_line(lineno: int, raw: str) -> Expected:
    """Read one `#>`/`#~`/`#?` line (`kind_of` says it is one); MalformedOutput says what is wrong with a
    measured one."""
    match = OUTPUT_LINE.match(raw)
    kind, text = PREFIXES[match[1]], match[2].rstrip()
    if kind == MEASURED:
        return Expected(lineno, kind, text, *strip_tolerances(text))
    return Expected(lineno, kind, text, text)


def _tokens(text: str) -> list[str]:
    """Words and numbers alternating (words first and last), runs of white space shrunk to one space."""
    return [t if i % 2 else re.sub(r"\s+", " ", t) for i, t in enumerate(_TOKENS.split(text.rstrip()))]


def mismatch(expected: Expected, printed: str) -> str | None:
    """Why `printed` does not match the page's line, or None when it does."""
    if expected.kind == EXAMPLE:
        return None
    if expected.kind == EXACT:
        return None if printed.rstrip() == expected.text.rstrip() else "differs"
    want, got = _tokens(expected.plain), _tokens(printed)
    if len(want) != len(got):
        return "prints a different number of numbers"
    for i, (w, g) in enumerate(zip(want, got, strict=True)):
        if i % 2 == 0:
            if w != g:
                return f"the words differ: {w.strip()!r} shown, {g.strip()!r} printed"
        elif (tol := expected.tolerances[i // 2]) is None:
            if w != g:
                return f"{g} printed where {w} is shown without a tolerance"
        elif not tol.allows(_as_float(w), _as_float(g)):
            return f"{g} printed, outside the page's {w} {tol}"
    return None


def deviations(expected: Expected, printed: str) -> list[tuple[int, float, float, Tolerance]] | None:
    """For a measured line, (index, shown, printed, tolerance) of every number with a tolerance; None when
    the printed line has another count of numbers (it cannot be compared)."""
    want, got = _tokens(expected.plain), _tokens(printed)
    if len(want) != len(got):
        return None
    pairs = zip(want[1::2], got[1::2], expected.tolerances, strict=True)
    return [(k, _as_float(w), _as_float(g), tol) for k, (w, g, tol) in enumerate(pairs) if tol is not None]


def rewrite(expected: Expected, printed: str) -> str:
    """The page's new line for a printed line: same kind; a measured line keeps its tolerances, unless the
    printed line has another count of numbers (then the next run fails on it as malformed, for the author)."""
    printed, prefix = printed.rstrip(), PREFIX_OF[expected.kind]
    if expected.kind != MEASURED:  # an example can stand for several printed lines
        return "\n".join(f"{prefix} {line}".rstrip() for line in printed.split("\n"))
    if len(NUMBER.findall(printed)) == len(expected.tolerances):
        tolerances = iter(expected.tolerances)
        printed = NUMBER.sub(lambda m: m[0] + getattr(next(tolerances), "raw", ""), printed)  # None: no ±
    return f"{prefix} {printed}".rstrip()
