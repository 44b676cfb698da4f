"""Fixtures shared by the unit tests: `cli` runs the `llmguide` command in-process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

# The browser tests need the built site: scripts/browser_check.py runs them after the build (`make test`),
# naming the file; the suite's own collection (and pytest-markdown-docs's docstring pass) leaves it alone.
collect_ignore = ["site_in_browser.py"]


@dataclass
class CliResult:
    """What one run of `llmguide.cli.main` did: its exit status and what it printed."""

    status: int
    out: str
    err: str

    def fails_naming(self, flag: str) -> str:
        """Assert the run failed as the CLI promises: a non-zero status, one stderr line naming `flag` (returned)."""
        assert self.status != 0, f"expected a failure, got status 0 and stdout {self.out!r}"
        assert "Traceback" not in self.err, self.err
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {self.err!r}"
        assert flag in lines[0], f"{flag!r} is not named in {lines[0]!r}"
        return lines[0]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """`cli("memory", "gpt2", ...)` runs `llmguide memory gpt2 ...` and returns a `CliResult`; the SystemExit by
    which `main` reports errors (as argparse does) becomes the status."""
    from llmguide.cli import main

    def run(*argv: str) -> CliResult:
        try:
            status = main(list(argv))
        except SystemExit as exit_:
            status = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        return CliResult(status, *capsys.readouterr())

    return run
