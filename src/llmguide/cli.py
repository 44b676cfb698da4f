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
    _add_chinchilla(sub)
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


# --------------------------------------------------------------------------------------------------------------
# llmguide chinchilla (docs/scaling-laws.md)
# --------------------------------------------------------------------------------------------------------------


def _add_chinchilla(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "chinchilla",
        help="compute-optimal model size and tokens for a budget, by each scaling-law method",
        description="Print the compute-optimal allocation (C = 6 N D) by the 20-tokens-per-parameter rule and by "
        "each fitted Chinchilla loss, side by side. Give exactly one of --flops, --params or --hours.",
    )
    what = p.add_mutually_exclusive_group()
    what.add_argument("--flops", type=float, help="training budget in FLOPs, e.g. 1e21")
    what.add_argument(
        "--params", type=float, help="model size in parameters, e.g. 7e9: tokens and FLOPs to match"
    )
    what.add_argument(
        "--hours", type=float, help="training time in hours; the budget comes from the hardware flags"
    )
    p.add_argument(
        "--gpus", type=int, help="number of accelerators (needed with --hours; adds a time column)"
    )
    p.add_argument("--gpu", help="accelerator name (h100, a100, ...) or its peak FLOP/s, e.g. 989e12")
    p.add_argument("--mfu", type=float, default=0.4, help="model FLOPs utilisation in (0, 1] (default 0.4)")
    p.set_defaults(handler=_run_chinchilla)


def _run_chinchilla(args: argparse.Namespace) -> int:
    import math

    from llmguide import scaling

    def positive(flag: str, value: float) -> float:
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"{flag} must be a finite number > 0, got {value!r}")
        return value

    if args.flops is None and args.params is None and args.hours is None:
        raise ValueError("give one of --flops, --params or --hours")
    gpu: str | float | None = args.gpu
    if gpu is not None:
        try:
            gpu = float(gpu)
        except ValueError:
            pass  # a name: checked by scaling.peak_flops
    hardware = args.gpus is not None or gpu is not None
    if hardware:
        if args.gpus is None or gpu is None:
            raise ValueError("--gpus and --gpu go together")
        if args.gpus < 1:
            raise ValueError(f"--gpus must be a whole number >= 1, got {args.gpus}")
        peak = scaling.peak_flops(gpu)
        if not 0 < args.mfu <= 1:
            raise ValueError(f"--mfu must be in (0, 1], got {args.mfu!r}")
    elif args.hours is not None:
        raise ValueError("--hours needs --gpus and --gpu")

    if args.hours is not None:
        budget = scaling.compute_budget(
            gpus=args.gpus, hours=positive("--hours", args.hours), gpu=gpu, mfu=args.mfu
        )
        print(
            f"Budget: {args.gpus} x {gpu if isinstance(gpu, str) else 'GPU'} ({peak / 1e12:.0f} TFLOP/s peak) "
            f"for {args.hours:g} h at {args.mfu:.0%} MFU = {budget:.2e} FLOPs"
        )
    elif args.flops is not None:
        budget = positive("--flops", args.flops)
        print(f"Budget: {budget:.2e} FLOPs")
    else:
        n_params = positive("--params", args.params)
        print(f"Model: {n_params:.2e} parameters")

    timed = hardware and args.hours is None
    head = f"{'method':<24}{'params':>10}{'tokens':>10}{'tokens/param':>14}{'FLOPs':>10}"
    print(head + (f"{'hours':>9}" if timed else ""))
    for method in scaling.METHODS:
        if args.params is None:
            n, d = scaling.compute_optimal(budget, method=method)
        else:
            n, d = n_params, scaling.compute_optimal_tokens(n_params, method=method)
        line = f"{scaling.method_label(method):<24}{n:>10.2e}{d:>10.2e}{d / n:>14.1f}{6 * n * d:>10.2e}"
        if timed:
            line += f"{scaling.training_hours(n, d, gpus=args.gpus, gpu=gpu, mfu=args.mfu):>9.0f}"
        print(line)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
