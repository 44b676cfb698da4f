"""The recall experiment of docs/transformers.md over seeds, with each model's learning rate tuned for the question.

The chapter trains a one-layer transformer and an LSTM of about the same size for 300 steps of 64 sequences on
`llmguide.tasks.RecallTask` and scores the first query at each distance d. Two questions need more than the
page's one run, and this script answers them over several seeds (everything at one torch thread, on the CPU):

- `--part fixed`: the page's layout (queries at position 64). The LSTM is trained over a grid of peak
  learning rates, and the rate is chosen by the **long-range** distances (the mean accuracy at d = 4, 8 and
  16, averaged over the seeds), not by the mean over all distances, which d = 1 and 2 dominate. When the best
  rate lies at an edge of the grid, the grid is widened by a factor of about 3 on that side until the best
  rate is inside it. The best rate for each distance is recorded too. The transformer runs at the page's
  3e-3. Models are built exactly as on the page (`torch.manual_seed(seed)`, then the transformer, then the
  LSTM), so seed 0 is the page's own run, at one thread.
- `--part moving`: the number of symbols before the queries is drawn per batch from 32 to 128
  (`recall_budget.MovingRecall`), so the queries move and learned absolute positions are no shortcut. The
  transformer's learning rate is tuned here too (chosen by the mean accuracy over distances and query
  positions, the grid widened the same way, on the `--grid-seeds`), then run at its best rate with every
  seed; the LSTM runs at the rates given by `--lstm-lrs`, on the grid seeds.

Each part writes its record (every accuracy, per seed, per rate, per distance, with the command, date and
machine) to `--json`; the chapter draws its figures and per-seed lists from these records.

    .venv/bin/python experiments/recall_sweep.py --part fixed --json experiments/results/recall_fixed.json
    .venv/bin/python experiments/recall_sweep.py --part moving --json experiments/results/recall_moving.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import torch
from recall_budget import MovingRecall, accuracy, cpu_name

from llmguide.model import GPT, GPTConfig
from llmguide.rnn import LSTM, LSTMConfig
from llmguide.tasks import RecallTask
from llmguide.train import train

DISTANCES = (1, 2, 4, 8, 16, 32, 64)
LONG_RANGE = (4, 8, 16)  # the distances that choose the LSTM's rate: past the last two, not yet hopeless
MOVING_DISTANCES = (1, 2, 4, 8, 16, 32)
POSITIONS = (32, 64, 128)  # where the moving-query models are scored
STEP = math.sqrt(10)  # neighbouring rates of the grid differ by about 3


def models(vocab_size: int, block_size: int, seed: int) -> dict[str, torch.nn.Module]:
    """The page's two models, built in the page's order from one seed."""
    torch.manual_seed(seed)
    gpt = GPT(GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=1, n_head=4, n_embd=64))
    lstm = LSTM(LSTMConfig(vocab_size=vocab_size, n_embd=32, n_hidden=96))
    return {"transformer": gpt, "LSTM": lstm}


def trained(name: str, task: object, lr: float, seed: int, steps: int) -> torch.nn.Module | None:
    """The model `name` after the page's training budget at peak rate lr, or None if training diverged."""
    model = models(task.vocab_size, task.block_size, seed)[name]
    try:
        train(model, task, steps=steps, batch_size=64, lr=lr, seed=seed, device="cpu")
    except FloatingPointError:
        return None
    return model


def widened(grid: list[float], score: dict[float, float], lo: float, hi: float) -> float | None:
    """The rate to add so that the best rate of `grid` is inside it, or None when it already is."""
    best = max(grid, key=score.__getitem__)
    if best == grid[0] and grid[0] / STEP >= lo:
        return grid[0] / STEP
    if best == grid[-1] and grid[-1] * STEP <= hi:
        return grid[-1] * STEP
    return None


def label(lr: float) -> str:
    return f"{lr:.0e}"


def fixed(args: argparse.Namespace) -> dict:
    task = RecallTask(distances=DISTANCES, n_symbols=16, seq_len=64, n_queries=8)
    record: dict = {"distances": list(DISTANCES), "long_range": list(LONG_RANGE), "seeds": args.seeds}
    header = "  ".join(f"d={d:<3d}" for d in DISTANCES)

    print(f"transformer at lr 3e-3, {args.steps} steps\nseed  {header}", flush=True)
    record["transformer"] = {"lr": 3e-3, "accuracy": {}}
    for seed in [] if args.no_transformer else args.seeds:
        model = trained("transformer", task, 3e-3, seed, args.steps)
        accs = [accuracy(model, task, d, args.eval) for d in DISTANCES]
        record["transformer"]["accuracy"][str(seed)] = accs
        print(f"{seed:4d}  " + "  ".join(f"{a:5.2f}" for a in accs), flush=True)

    print(f"\nLSTM, {args.steps} steps, peak learning rate grid\n{'lr':>7} seed  {header}", flush=True)
    runs: dict[str, dict[str, list[float] | None]] = {}
    score: dict[float, float] = {}
    grid = sorted(args.lstm_lrs)
    todo = list(grid)
    while todo:
        for lr in todo:
            runs[label(lr)] = {}
            for seed in args.seeds:
                model = trained("LSTM", task, lr, seed, args.steps)
                accs = None if model is None else [accuracy(model, task, d, args.eval) for d in DISTANCES]
                runs[label(lr)][str(seed)] = accs
                cells = "diverged" if accs is None else "  ".join(f"{a:5.2f}" for a in accs)
                print(f"{label(lr)}  {seed:3d}  {cells}", flush=True)
            long = [
                accs[DISTANCES.index(d)] if accs else 0.0
                for accs in runs[label(lr)].values()
                for d in LONG_RANGE
            ]
            score[lr] = sum(long) / len(long)
        more = widened(grid, score, 1e-5, 3.0)
        todo = [] if more is None else [more]
        grid = sorted([*grid, *todo])
    best = max(grid, key=score.__getitem__)
    per_distance = {}
    for i, d in enumerate(DISTANCES):
        means = {
            lr: sum(a[i] if a else 0.0 for a in runs[label(lr)].values()) / len(args.seeds) for lr in grid
        }
        per_distance[str(d)] = label(max(grid, key=means.__getitem__))
    print(
        f"best rate for d = {', '.join(map(str, LONG_RANGE))}: {label(best)} "
        f"(long-range mean {score[best]:.3f}; grid {label(grid[0])} to {label(grid[-1])})"
    )
    print("best rate per distance: " + ", ".join(f"d={d} {lr}" for d, lr in per_distance.items()))
    record["LSTM"] = {
        "grid": [label(lr) for lr in grid],
        "accuracy": runs,
        "long_range_mean": {label(lr): score[lr] for lr in grid},
        "best_long_range": label(best),
        "best_per_distance": per_distance,
    }
    return record


def moving(args: argparse.Namespace) -> dict:
    task = MovingRecall(lo=32, hi=128, distances=MOVING_DISTANCES)
    record: dict = {"distances": list(MOVING_DISTANCES), "positions": list(POSITIONS), "seeds": args.seeds}
    header = "  ".join(f"d={d:<3d}" for d in MOVING_DISTANCES)

    def score_runs(name: str, lr: float, seeds: list[int]) -> dict[str, dict[str, list[float]] | None]:
        out: dict[str, dict[str, list[float]] | None] = {}
        for seed in seeds:
            model = trained(name, task, lr, seed, args.steps)
            if model is None:
                out[str(seed)] = None
                print(f"{name:11s} {label(lr)} {seed:4d}  diverged", flush=True)
                continue
            out[str(seed)] = {}
            for pos in POSITIONS:
                accs = [accuracy(model, task.at(pos), d, args.eval) for d in MOVING_DISTANCES]
                out[str(seed)][str(pos)] = accs
                cells = "  ".join(f"{a:5.2f}" for a in accs)
                print(f"{name:11s} {label(lr)} {seed:4d} {pos:4d}  {cells}", flush=True)
        return out

    def mean(runs: dict) -> float:
        values = [a for by_pos in runs.values() for accs in (by_pos or {}).values() for a in accs]
        return sum(values) / len(values) if values else 0.0

    print(f"queries after 32 to 128 symbols, {args.steps} steps\nmodel       lr    seed  pos  {header}")
    runs: dict[str, dict] = {}
    score: dict[float, float] = {}
    grid = sorted(args.gpt_lrs)
    todo = list(grid)
    while todo:
        for lr in todo:
            runs[label(lr)] = score_runs("transformer", lr, args.grid_seeds)
            score[lr] = mean(runs[label(lr)])
        more = widened(grid, score, 1e-5, 3.0)
        todo = [] if more is None else [more]
        grid = sorted([*grid, *todo])
    best = max(grid, key=score.__getitem__)
    rest = [seed for seed in args.seeds if seed not in args.grid_seeds]
    runs[label(best)] |= score_runs("transformer", best, rest)  # the best rate, over every seed
    print(
        f"transformer's best rate: {label(best)} (mean {score[best]:.3f}; grid {label(grid[0])} to {label(grid[-1])})"
    )
    record["transformer"] = {
        "grid": [label(lr) for lr in grid],
        "accuracy": runs,
        "mean": {label(lr): score[lr] for lr in grid},
        "best": label(best),
    }
    record["grid_seeds"] = args.grid_seeds
    record["LSTM"] = {
        "accuracy": {label(lr): score_runs("LSTM", lr, args.grid_seeds) for lr in args.lstm_lrs}
    }
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["fixed", "moving"], required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--eval", type=int, default=1024, help="fresh sequences scored per distance")
    parser.add_argument("--lstm-lrs", type=float, nargs="+", default=None)
    parser.add_argument("--gpt-lrs", type=float, nargs="+", default=[1e-3, 3e-3, 1e-2, 3e-2])
    parser.add_argument(
        "--grid-seeds", type=int, nargs="+", default=[0], help="moving: the seeds that choose the rate"
    )
    parser.add_argument("--no-transformer", action="store_true", help="fixed: train only the LSTMs")
    parser.add_argument("--json", type=Path, help="write the record here")
    args = parser.parse_args()
    if args.lstm_lrs is None:
        args.lstm_lrs = [3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1] if args.part == "fixed" else [1e-1]
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, seeds {args.seeds}", flush=True)
    start = time.process_time()
    record = fixed(args) if args.part == "fixed" else moving(args)
    cpu = time.process_time() - start
    print(f"\ntotal {cpu:.0f} s CPU")
    record = {
        "command": "python experiments/recall_sweep.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "machine": f"{cpu_name()} ({os.cpu_count()} cores), one torch thread",
        "torch": torch.__version__,
        "steps": args.steps,
        "batch_size": 64,
        "eval_sequences": args.eval,
        "cpu_seconds": round(cpu),
        **record,
    }
    if args.json:
        args.json.write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
