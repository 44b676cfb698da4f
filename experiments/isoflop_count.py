"""Does the iso-FLOP valley of docs/scaling-laws.md move when the FLOPs are counted more tightly?

The page charges each run `(6N + 12 * n_layer * n_embd * T)` FLOPs per token: N counts every parameter,
the position table included, which is looked up and never multiplied, and the attention term counts the full
`T x T` matrices (PaLM's convention), where a causal model needs half of them. This script reruns the page's
experiment with both counts: `page`, as above, and `tight`, `6 * N_matmul + 6 * n_layer * n_embd * T`,
where `N_matmul` counts only the weights of matrix products (torch's FLOP counter finds exactly
`6 * N_matmul` per token, first block of the page). The tight count is cheaper per token, most of all for the
narrowest models, so each run gets more steps under the same budget. For each budget and seed it prints the
parabola's vertex and the widths it lies between.

    .venv/bin/python experiments/isoflop_count.py --seeds 0 1 --json experiments/results/isoflop_count.json
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from llmguide.data import corpus_data
from llmguide.model import GPT, GPTConfig
from llmguide.train import train

BATCH, CONTEXT, LAYERS, LR = 16, 64, 2, 1e-2
PLAN = {8e9: (4, 6, 8, 12), 2.4e10: (6, 8, 12, 16)}  # the page's budgets and widths


def per_token_flops(model: GPT, width: int, count: str) -> float:
    """Training FLOPs per token under the page's count or the tight one."""
    if count == "page":
        return 6 * model.num_params() + 12 * LAYERS * width * CONTEXT
    matmul = sum(p.numel() for name, p in model.named_parameters() if p.dim() == 2 and "wpe" not in name)
    return 6 * matmul + 6 * LAYERS * width * CONTEXT  # causal: half the attention matrices


def run(width: int, budget: float, count: str, seed: int, data) -> dict:
    torch.manual_seed(seed)
    config = GPTConfig(
        vocab_size=128,
        block_size=CONTEXT,
        n_layer=LAYERS,
        n_head=max(1, width // 8),
        n_embd=width,
        bias=False,
    )
    model = GPT(config)
    steps = round(budget / (per_token_flops(model, width, count) * BATCH * CONTEXT))
    history = train(
        model, data, steps=steps, batch_size=BATCH, lr=LR, eval_interval=steps, eval_batches=8, seed=seed,
        device="cpu", progress=False,
    )  # fmt: skip
    return {"width": width, "params": model.num_params(), "steps": steps, "loss": history.val_loss[-1]}


def vertex(rows: list[dict]) -> float:
    x = np.log([r["params"] for r in rows])
    a, b, _ = np.polyfit(x, [r["loss"] for r in rows], 2)
    return float(np.exp(-b / (2 * a))) if a > 0 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = corpus_data(block_size=CONTEXT)
    record: dict = {"budgets": list(PLAN), "runs": []}
    for seed in args.seeds:
        for count in ("page", "tight"):
            for budget, widths in PLAN.items():
                rows = [run(w, budget, count, seed, data) for w in widths]
                v = vertex(rows)
                params = [r["params"] for r in rows]
                between = [r["width"] for r in rows if r["params"] <= v][-1:] + [
                    r["width"] for r in rows if r["params"] > v
                ][:1]
                record["runs"].append(
                    {
                        "seed": seed,
                        "count": count,
                        "budget": budget,
                        "rows": rows,
                        "vertex": v,
                        "between": between,
                    }
                )
                print(
                    f"seed {seed} {count:>5} {budget:.2g}: steps {[r['steps'] for r in rows]}, losses "
                    f"{[round(r['loss'], 3) for r in rows]}, vertex {v:,.0f} params, between widths {between}"
                    f" (inside: {min(params) < v < max(params)})",
                    flush=True,
                )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)


if __name__ == "__main__":
    main()
