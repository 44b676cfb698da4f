"""Training-step time of llmguide against nanoGPT on the CPU: each project's step as it ships, in one process.

One step = forward with loss, backward, gradient clipping to norm 1.0, AdamW step, on a batch of 16 sequences
of 256 byte tokens (vocab 256), for n_layer=4, n_head=4, n_embd=128 (858,880 parameters).

- **Baseline:** the structure of Karpathy's nanoGPT `model.py` (MIT licence), in `benchmarks/nanogpt.py`, with
  nanoGPT's `configure_optimizers` (weight decay on matrices only, betas (0.9, 0.95), fused only on CUDA: on
  the CPU, torch's single-tensor loop) and `train.py`'s `clip_grad_norm_`.
- **llmguide:** `llmguide.model.GPT` with `llmguide.train.make_optimizer`, the AdamW that `train` steps
  (`foreach` on the CPU), and the same clipping.
- `--same-optimizer` gives both models nanoGPT's optimizer: the models alone. They run the same aten
  operators, apart from the llmguide model's check of the token ids (`tests/test_model.py` counts them).

The two steps alternate, one each in turn (which goes first alternates too), so that load from other programs
hits both alike. Each pair gives a ratio of CPU times (all threads of this process; steadier than wall time on
a shared machine); the result is the median of those ratios, with a 95% bootstrap interval for that median.

    .venv/bin/python benchmarks/train_step.py --threads 1               # the issue's shape
    .venv/bin/python benchmarks/train_step.py --steps 4 --batch-size 2  # a quick check
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable

import torch
from nanogpt import NanoGPT
from nanogpt import make_optimizer as nanogpt_optimizer
from torch import nn

from llmguide.model import GPT, GPTConfig
from llmguide.train import make_optimizer


def step_function(
    model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor
) -> Callable[[], tuple[float, float]]:
    """One training step of `model`, returning its (wall, CPU) seconds."""

    def step() -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        _, loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return time.perf_counter() - wall, time.process_time() - cpu

    return step


def bootstrap_median(values: list[float], rounds: int = 2000, seed: int = 0) -> tuple[float, float]:
    """The 2.5th and 97.5th percentiles of the median of `values` resampled with replacement."""
    rng = random.Random(seed)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(rounds))
    return medians[int(0.025 * rounds)], medians[int(0.975 * rounds) - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--block-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=300, help="timed steps per model, alternating")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per model first")
    parser.add_argument("--same-optimizer", action="store_true", help="both models get nanoGPT's optimizer")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    config = GPTConfig(vocab_size=256, block_size=args.block_size, n_layer=4, n_head=4, n_embd=128)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (args.batch_size, args.block_size), generator=g)
    y = torch.randint(0, 256, (args.batch_size, args.block_size), generator=g)
    baseline, ours = NanoGPT(config).train(), GPT(config).train()
    n_params = {sum(p.numel() for p in m.parameters()) for m in (baseline, ours)}
    assert len(n_params) == 1, n_params  # same shape, same parameter count
    ours_opt = nanogpt_optimizer(ours) if args.same_optimizer else make_optimizer(ours, lr=6e-4)
    steps = {
        "nanoGPT-style baseline": step_function(baseline, nanogpt_optimizer(baseline), x, y),
        "llmguide GPT": step_function(ours, ours_opt, x, y),
    }
    for step in steps.values():
        for _ in range(args.warmup):
            step()

    wall: dict[str, list[float]] = {name: [] for name in steps}
    cpu: dict[str, list[float]] = {name: [] for name in steps}
    for i in range(args.steps):
        for name in list(steps) if i % 2 == 0 else list(reversed(steps)):
            w, c = steps[name]()
            wall[name].append(w)
            cpu[name].append(c)

    tokens = args.batch_size * args.block_size
    base_wall, base_cpu = (
        statistics.median(wall["nanoGPT-style baseline"]),
        statistics.median(cpu["nanoGPT-style baseline"]),
    )
    optimizers = "both nanoGPT's" if args.same_optimizer else "each its own"
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch_size} x "
        f"{args.block_size} tokens, {n_params.pop():,} parameters, AdamW: {optimizers}; "
        f"{args.steps} steps per model, alternating"
    )
    print(
        f"{'model':<24}{'ms/step':>9}{'tokens/s':>10}{'vs baseline':>13}{'CPU ms/step':>13}{'CPU vs baseline':>17}"
    )
    for name in steps:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        print(
            f"{name:<24}{w * 1e3:>9.1f}{tokens / w:>10,.0f}{w / base_wall:>13.3f}{c * 1e3:>13.1f}"
            f"{c / base_cpu:>17.3f}"
        )
    paired = [c / b for c, b in zip(cpu["llmguide GPT"], cpu["nanoGPT-style baseline"], strict=True)]
    low, high = bootstrap_median(paired)
    print(
        f"per-step CPU-time ratio, llmguide / baseline: median {statistics.median(paired):.3f} "
        f"(95% interval {low:.3f} to {high:.3f}) over {len(paired)} pairs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
