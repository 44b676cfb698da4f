"""The `llmguide` command line (also `python -m llmguide`).

Each subcommand is one `_add_<name>` function that declares its flags and one `_run_<name>` function that
does the work. Heavy imports (torch) happen inside the `_run_` functions, so `llmguide --help` stays fast.

Bad input exits with status 2 and a one-line message naming the flag, never a stack trace.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from llmguide import __version__


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the `llmguide` command.

    For example:

    ```python
    from llmguide.cli import build_parser

    print(build_parser().prog)
    #> llmguide
    ```
    """
    parser = argparse.ArgumentParser(
        prog="llmguide",
        description="Companion command line of the llmguide guide to large language models.",
    )
    parser.add_argument("--version", action="version", version=f"llmguide {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = False  # `llmguide` alone prints the help
    # One `_add_<name>(sub)` line per subcommand, in the order of the guide's chapters:
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` (default: `sys.argv[1:]`) and return the exit status.

    For example:

    ```python
    from llmguide.cli import main

    status = main([])  # no subcommand: prints the help and returns 0
    ```
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 0
    try:
        return int(handler(args) or 0)
    except (ValueError, TypeError) as exc:  # bad input: one line, no trace
        parser.exit(2, f"llmguide {args.command}: error: {exc}\n")
    return 0  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
