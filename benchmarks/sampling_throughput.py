"""Throughput of `llmguide.sampling.sample` on a batch of logits, against plain softmax + multinomial.

Run (from the repository root):

    .venv/bin/python benchmarks/sampling_throughput.py                 # (64, 50000) float32 on the CPU
    .venv/bin/python benchmarks/sampling_throughput.py --scale 1       # flatter logits: a bigger nucleus
    .venv/bin/python benchmarks/sampling_throughput.py --device cuda   # the same on a GPU

Each configuration draws one token per row of a fixed random (batch, vocab) logits tensor. The baseline,
run in the same process, is the shortest correct sampler: `torch.multinomial(torch.softmax(x, -1), 1)`,
with no input checks and no filters. A second reference row does top-p the usual way (sort the whole row,
cumulative sum, mask, multinomial). The logits are normal with standard deviation `--scale` (3 by default:
the 0.9-nucleus then holds about 2,200 of 50,000 tokens; at 1 about 30,000). Times are medians over `--repeats` calls after warm-up; the ratio
column is time / baseline time (lower is faster), which carries over between machines better than the
absolute times.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from llmguide.device import resolve_device, synchronize
from llmguide.sampling import sample


def time_call(fn: Callable[[], object], device: torch.device, repeats: int, warmup: int = 3) -> float:
    """Median wall time of `fn()` in seconds."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sort_top_p(logits: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """The textbook nucleus sampler: sort each row, cumulative sum, drop the tail, multinomial."""
    sorted_logits, order = torch.sort(logits.float(), dim=-1, descending=True)
    cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
    remove = cumulative - torch.softmax(sorted_logits, dim=-1) >= p  # mass before the token already >= p
    sorted_logits = sorted_logits.masked_fill(remove, float("-inf"))
    choice = torch.multinomial(torch.softmax(sorted_logits, dim=-1), 1, generator=generator)
    return order.gather(-1, choice)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--vocab", type=int, default=50_000)
    parser.add_argument("--dtype", default="float32", choices=["float16", "bfloat16", "float32", "float64"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--scale", type=float, default=3.0, help="standard deviation of the random logits")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        device = resolve_device(args.device)
    except ValueError as err:
        raise SystemExit(f"sampling_throughput.py: {err}") from None
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)
    logits = (torch.randn(args.batch, args.vocab) * args.scale).to(device=device, dtype=dtype)
    g = torch.Generator(device=device).manual_seed(0)

    configs: dict[str, Callable[[], object]] = {
        "baseline: multinomial(softmax(x))": lambda: torch.multinomial(
            torch.softmax(logits.float(), dim=-1), 1, generator=g
        ),
        "reference: sort-based top_p=0.9 + multinomial": lambda: sort_top_p(logits, 0.9, g),
        "sample, temperature=0 (greedy)": lambda: sample(logits, temperature=0),
        "sample, temperature=1": lambda: sample(logits, generator=g),
        "sample, temperature=0.7": lambda: sample(logits, temperature=0.7, generator=g),
        "sample, top_k=50": lambda: sample(logits, top_k=50, generator=g),
        "sample, top_p=0.9": lambda: sample(logits, top_p=0.9, generator=g),
        "sample, min_p=0.05": lambda: sample(logits, min_p=0.05, generator=g),
        "sample, T=0.7, top_k=50, top_p=0.9, min_p=0.05": lambda: sample(
            logits, temperature=0.7, top_k=50, top_p=0.9, min_p=0.05, generator=g
        ),
    }

    print(
        f"sample() on ({args.batch}, {args.vocab}) {args.dtype} logits (normal, sd {args.scale}), device {device}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.repeats}"
    )
    print(f"{'configuration':<48} {'ms/call':>9} {'rows/s':>10} {'vs baseline':>12}")
    baseline = None
    for name, fn in configs.items():
        seconds = time_call(fn, device, args.repeats)
        baseline = baseline or seconds
        print(f"{name:<48} {seconds * 1e3:9.2f} {args.batch / seconds:10.0f} {seconds / baseline:11.2f}x")


if __name__ == "__main__":
    main()
