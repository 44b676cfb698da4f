"""LoRA against full fine-tuning on the fine-tuning chapter's task, each at its own tuned learning rate.

`docs/fine-tuning.md` trains LoRA of rank 1, 4 and 16 and a full fine-tune for 150 steps each, and can afford
one learning rate per method. This script sweeps the learning rate of every method over several seeds, so
that the page compares methods at rates tuned for them, and compares forgetting where it means something: at
matched task accuracy (Biderman et al. 2024, "LoRA Learns Less and Forgets Less",
https://arxiv.org/abs/2405.09673).

Per seed it pre-trains the chapter's base model (a 2-layer GPT, 64 wide, 100 steps on the shipped corpus,
lr 3e-3), then fine-tunes a copy on `llmguide.instruct.CaseTask` for 150 steps of 16 conversations with each
method and learning rate:

- LoRA (`llmguide.lora.add_lora`, every linear layer) at rank 1, 4 and 16, with alpha fixed at 8 for every
  rank (Hu et al. 2021 fix alpha and vary r), over the LoRA grid;
- full fine-tuning over the full grid;
- and, since no adapter learns the task in 150 steps, LoRA again for 600 steps (`LONG`) at two rates, with
  full fine-tuning for 600 steps at its lowest rate beside it.

It records the held-out accuracy (200 held-out words) and the held-out corpus loss (64 windows), both as the
chapter measures them.

    .venv/bin/python experiments/lora_rates.py --seeds 0 1 2 --json

With `--json` it writes `experiments/results/lora_rates.json`, which the chapter carries as a literal
(`RECORDED`, checked equal by `tests/test_experiment_records.py`).
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import torch
from recall_budget import cpu_name  # the CPU's model name, as lscpu prints it

from llmguide.data import corpus_data
from llmguide.instruct import CaseTask
from llmguide.lora import add_lora
from llmguide.model import GPT, GPTConfig
from llmguide.train import train

RANKS = (1, 4, 16)
ALPHA = 8
LORA_GRID = (3e-3, 1e-2, 3e-2, 1e-1)
FULL_GRID = (3e-4, 1e-3, 3e-3)
LONG, LONG_LORA_GRID, LONG_FULL_GRID = 600, (1e-2, 3e-2), (3e-4,)
STEPS = dict(steps=150, batch_size=16, eval_interval=150, eval_batches=1, weight_decay=0.0, device="cpu")


def corpus_loss(model: GPT, corpus) -> float:
    """Mean loss on the chapter's 64 held-out windows of the corpus, in nats per byte."""
    generator = torch.Generator().manual_seed(1234)
    model.eval()
    with torch.no_grad():
        return sum(float(model(*corpus.get_batch("val", 16, generator=generator))[1]) for _ in range(4)) / 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="write experiments/results/lora_rates.json")
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=["short", "long"],
        default=["short", "long"],
        help="the 150-step grid, the 600-step runs, or both; with --json a part run alone is merged into the record",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    task = CaseTask()
    corpus = corpus_data(block_size=64)
    held_out = task.words("val", 200, generator=torch.Generator().manual_seed(7))
    runs: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for seed in args.seeds:
        start = time.process_time()
        torch.manual_seed(seed)
        base = GPT(GPTConfig(block_size=80, n_layer=2, n_head=4, n_embd=64))
        train(base, corpus, steps=100, batch_size=16, lr=3e-3, eval_interval=100, eval_batches=2, seed=seed)
        base_loss = corpus_loss(base, corpus)
        methods = []
        if "short" in args.parts:
            methods += [("full", None, lr, STEPS["steps"]) for lr in FULL_GRID]
            methods += [(f"rank {r}", r, lr, STEPS["steps"]) for r in RANKS for lr in LORA_GRID]
        if "long" in args.parts:
            methods += [(f"full, {LONG} steps", None, lr, LONG) for lr in LONG_FULL_GRID]
            methods += [(f"rank {r}, {LONG} steps", r, lr, LONG) for r in RANKS for lr in LONG_LORA_GRID]
        for name, rank, lr, steps in methods:
            torch.manual_seed(seed)  # the adapters' A
            model = copy.deepcopy(base)
            if rank is not None:
                add_lora(model, rank=rank, alpha=ALPHA)
            try:
                train(model, task, lr=lr, seed=seed, **{**STEPS, "steps": steps, "eval_interval": steps})
                result = {"accuracy": task.accuracy(model, held_out), "corpus": corpus_loss(model, corpus)}
            except FloatingPointError:
                result = {"accuracy": 0.0, "corpus": None}  # diverged
            runs.setdefault(name, {}).setdefault(f"{lr:g}", {})[str(seed)] = result
            print(
                f"seed {seed} {name:>8} lr {lr:<6g} accuracy {result['accuracy']:.3f} "
                f"corpus {result['corpus'] or float('nan'):.2f} (pre-trained {base_loss:.2f})",
                flush=True,
            )
        runs.setdefault("pre-trained", {}).setdefault("0", {})[str(seed)] = {
            "accuracy": 0.0,
            "corpus": base_loss,
        }
        print(f"seed {seed}: {time.process_time() - start:.0f} s CPU", flush=True)
    if args.json:
        record = {
            "command": "python experiments/lora_rates.py --seeds "
            + " ".join(map(str, args.seeds))
            + " --json",
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "machine": cpu_name(),
            "torch": torch.__version__,
            "threads": args.threads,
            "alpha": ALPHA,
            "steps": STEPS["steps"],
            "long_steps": LONG,
            "runs": runs,
        }
        path = Path(__file__).parent / "results" / "lora_rates.json"
        if set(args.parts) != {"short", "long"} and path.exists():  # one part: merge into the record
            old = json.loads(path.read_text())
            merged = old["runs"]
            for name, by_lr in runs.items():
                for lr, by_seed in by_lr.items():
                    merged.setdefault(name, {}).setdefault(lr, {}).update(by_seed)
            merged["pre-trained"] = merged.pop("pre-trained")  # last, as a full run writes it
            record = {**old, **{k: v for k, v in record.items() if k != "command"}, "runs": merged}
        path.write_text(json.dumps(record, indent=2) + "\n")
        print("wrote", path)


if __name__ == "__main__":
    main()
