"""Accuracy against LoRA rank in docs/fine-tuning.md, over seeds: how often does each rank learn the task?

The chapter fine-tunes its small pre-trained GPT on `llmguide.instruct.CaseTask` for 150 steps of 16
conversations: fully at a peak learning rate of 3e-3, and with LoRA adapters of rank 1, 4 and 16
(alpha = 2r) at 1e-2. One run per rank gives an accuracy that swings between seeds: the adapters either
learn nothing in the template (0.00), settle on one answer for every word (about one half: right for the
words of that case), or, now and then, learn the task. This script repeats the chapter's runs over several
seeds, each seed pre-training its own base model (`torch.manual_seed(seed)` before the model is built, and
`seed` for the batches of pre-training and fine-tuning) and drawing its adapters' initial A from the same
global generator, and records every accuracy and corpus loss. The held-out words and corpus windows are the
chapter's. Everything runs on the CPU at one torch thread.

    .venv/bin/python experiments/lora_rank.py --seeds 0 1 2 3 4 --json experiments/results/lora_rank.json
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import torch
from recall_budget import cpu_name

from llmguide.data import corpus_data
from llmguide.instruct import CaseTask
from llmguide.lora import add_lora
from llmguide.model import GPT, GPTConfig
from llmguide.train import train

RANKS = (1, 4, 16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--lora-lr", type=float, default=1e-2)
    parser.add_argument("--json", type=Path, help="write the record here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    corpus = corpus_data(block_size=64)
    task = CaseTask()
    held_out = task.words("val", 200, generator=torch.Generator().manual_seed(7))
    sft_steps = dict(
        steps=150, batch_size=16, eval_interval=150, eval_batches=1, weight_decay=0.0, device="cpu"
    )

    def corpus_loss(model: GPT) -> float:
        generator = torch.Generator().manual_seed(1234)
        model.eval()
        with torch.no_grad():
            return (
                sum(float(model(*corpus.get_batch("val", 16, generator=generator))[1]) for _ in range(4)) / 4
            )

    start = time.process_time()
    runs: dict[str, dict[str, dict[str, float]]] = {"full": {}, **{f"rank {r}": {} for r in RANKS}}
    print(f"torch {torch.__version__}, one thread, seeds {args.seeds}\nseed  run      accuracy  corpus loss")
    for seed in args.seeds:
        torch.manual_seed(seed)
        base = GPT(GPTConfig(block_size=80, n_layer=2, n_head=4, n_embd=64))
        train(base, corpus, steps=100, batch_size=16, lr=3e-3, eval_interval=100, eval_batches=2, seed=seed)
        trained = {}
        full = copy.deepcopy(base)
        train(full, task, lr=3e-3, seed=seed, **sft_steps)
        trained["full"] = full
        for rank in RANKS:
            model = copy.deepcopy(base)
            add_lora(model, rank=rank, alpha=2 * rank)
            train(model, task, lr=args.lora_lr, seed=seed, **sft_steps)
            trained[f"rank {rank}"] = model
        for name, model in trained.items():
            runs[name][str(seed)] = {"accuracy": task.accuracy(model, held_out), "corpus": corpus_loss(model)}
            r = runs[name][str(seed)]
            print(f"{seed:4d}  {name:8s} {r['accuracy']:8.2f}  {r['corpus']:11.2f}", flush=True)
        runs.setdefault("base", {})[str(seed)] = {"corpus": corpus_loss(base)}
    cpu = time.process_time() - start
    print(f"\ntotal {cpu:.0f} s CPU")
    record = {
        "command": "python experiments/lora_rank.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "machine": f"{cpu_name()} ({os.cpu_count()} cores), one torch thread",
        "torch": torch.__version__,
        "steps": 150,
        "batch_size": 16,
        "full_lr": 3e-3,
        "lora_lr": args.lora_lr,
        "held_out_words": len(held_out),
        "seeds": args.seeds,
        "cpu_seconds": round(cpu),
        "runs": runs,
    }
    if args.json:
        args.json.write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
