"""One AdamW step on the CPU: torch's single-tensor loop (the baseline), `foreach`, and the fused kernel.

The parameters are those of two GPTs with random gradients: `benchmarks/train_step.py`'s (n_layer=4, n_embd=128,
block 256, 858,880 parameters) and the character model of `docs/transformers.md` (n_layer=2, n_embd=64,
block 64, 120,576 parameters). Each implementation steps the same parameters in turn, `--rounds` rounds of
`--steps` steps, and the table gives the median milliseconds per step over the rounds.
`llmguide.train.make_optimizer`, which `train` uses, picks `foreach` on the CPU (`benchmarks/RESULTS.md` says why
not the fused kernel).

    .venv/bin/python benchmarks/adamw_step.py --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from llmguide.model import GPT, GPTConfig

MODELS = {
    "train_step.py's GPT": GPTConfig(vocab_size=256, block_size=256, n_layer=4, n_head=4, n_embd=128),
    "transformers.md's character GPT": GPTConfig(
        vocab_size=256, block_size=64, n_layer=2, n_head=4, n_embd=64
    ),
}
KINDS = {"single-tensor loop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; median ms per step over {args.rounds} rounds"
    )
    print(f"{'parameters of':<44}{'AdamW':<20}{'ms/step':>9}{'vs loop':>9}")
    for label, config in MODELS.items():
        torch.manual_seed(0)
        params = list(GPT(config).parameters())
        for p in params:
            p.grad = torch.randn_like(p)
        optimizers = {kind: torch.optim.AdamW(params, lr=1e-4, **kw) for kind, kw in KINDS.items()}
        step: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for _ in range(args.rounds + 1):  # the first round warms up
            for kind, opt in optimizers.items():
                start = time.perf_counter()
                for _ in range(args.steps):
                    opt.step()
                step[kind].append((time.perf_counter() - start) / args.steps)
        base = statistics.median(step["single-tensor loop"][1:])
        n = f"{label} ({sum(p.numel() for p in params):,})"
        for kind in KINDS:
            ms = statistics.median(step[kind][1:])
            print(f"{n:<44}{kind:<20}{ms * 1e3:>9.2f}{ms / base:>9.2f}")
            n = ""
    return 0


if __name__ == "__main__":
    sys.exit(main())
