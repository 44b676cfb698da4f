"""Training-step throughput of llmguide's GPT against a nanoGPT-style model of the same shape, on the CPU.

One step = forward with loss, backward, AdamW step, on a batch of 16 sequences of 256 byte tokens (vocab 256),
for n_layer=4, n_head=4, n_embd=128. The baseline is the structure of Karpathy's nanoGPT `model.py` (MIT
licence), in `benchmarks/nanogpt.py`; both models get the same data and the same optimizer (nanoGPT's
`configure_optimizers`: weight decay on matrices only, betas (0.9, 0.95)). The two models run in alternating
rounds, so that load from other programs on the machine hits both alike; the table gives the median over
rounds, and the median of the per-round ratios. The two models run the same aten operators, apart from the
llmguide model's check of the token ids (`tests/test_model.py` counts them), so a gap between them is noise.

    .venv/bin/python benchmarks/train_step.py            # the issue's shape
    .venv/bin/python benchmarks/train_step.py --rounds 3 --steps 2 --batch-size 4   # a quick check
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
from nanogpt import NanoGPT, make_optimizer
from torch import nn

from llmguide.model import GPT, GPTConfig


def time_steps(
    model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, steps: int
) -> tuple[float, float]:
    """Wall-clock and CPU seconds per training step, averaged over `steps` steps.

    The CPU time (all threads of this process) is less inflated than the wall time when other programs
    compete for the cores, so its ratio is the steadier one on a shared machine.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--block-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=7, help="alternating timing rounds (median reported)")
    parser.add_argument("--steps", type=int, default=5, help="steps per model per round")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per model first")
    parser.add_argument(
        "--fused-adamw", action="store_true", help="use the fused AdamW kernel for both models"
    )
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    config = GPTConfig(vocab_size=256, block_size=args.block_size, n_layer=4, n_head=4, n_embd=128)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (args.batch_size, args.block_size), generator=g)
    y = torch.randint(0, 256, (args.batch_size, args.block_size), generator=g)
    models = {"nanoGPT-style baseline": NanoGPT(config), "llmguide GPT": GPT(config)}
    n_params = {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()}
    assert len(set(n_params.values())) == 1, n_params  # same shape, same parameter count
    opts = {name: make_optimizer(m, fused=args.fused_adamw) for name, m in models.items()}
    for name, m in models.items():
        m.train()
        time_steps(m, opts[name], x, y, args.warmup)

    wall: dict[str, list[float]] = {name: [] for name in models}
    cpu: dict[str, list[float]] = {name: [] for name in models}
    for r in range(args.rounds):
        order = list(models) if r % 2 == 0 else list(reversed(models))
        for name in order:
            w, c = time_steps(models[name], opts[name], x, y, args.steps)
            wall[name].append(w)
            cpu[name].append(c)

    tokens = args.batch_size * args.block_size
    base_wall = statistics.median(wall["nanoGPT-style baseline"])
    base_cpu = statistics.median(cpu["nanoGPT-style baseline"])
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch_size} x "
        f"{args.block_size} tokens, {n_params['llmguide GPT']:,} parameters, AdamW "
        f"{'fused' if args.fused_adamw else 'default (for-each)'}; median of {args.rounds} rounds x {args.steps} steps"
    )
    print(
        f"{'model':<24}{'ms/step':>9}{'min':>8}{'max':>8}{'tokens/s':>10}{'vs baseline':>13}"
        f"{'CPU ms/step':>13}{'CPU vs baseline':>17}"
    )
    for name in models:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        print(
            f"{name:<24}{w * 1e3:>9.1f}{min(wall[name]) * 1e3:>8.1f}{max(wall[name]) * 1e3:>8.1f}"
            f"{tokens / w:>10,.0f}{w / base_wall:>13.3f}{c * 1e3:>13.1f}{c / base_cpu:>17.3f}"
        )
    # Each round times both models back to back, so its ratio compares them under the same load; the median of
    # the per-round ratios is steadier than a ratio of medians on a shared machine.
    paired = sorted(c / b for c, b in zip(cpu["llmguide GPT"], cpu["nanoGPT-style baseline"], strict=True))
    print(
        f"per-round CPU-time ratio, llmguide / baseline: median {statistics.median(paired):.3f}, "
        f"range {paired[0]:.3f} to {paired[-1]:.3f} over {len(paired)} rounds"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
