"""Why docs/prompting.md uses one token per line: the same model and budget with one token per word.

The chapter trains a 2-layer GPT on `ParityEpisodes`, whose tokenizer makes each line of the Question/Answer
layout one token (`"Question: 7"`, `"Answer: red"`). This script trains the same model, with the same
`train` settings, on the same episodes written with one token per word (`"Question:"`, `"7"`, `"Answer:"`,
`"red"`), and reports for each: the validation loss (the best possible is 0.276 nats per answer) and the
accuracy of the last answer of fresh sequences, which has 8 examples before it.

    .venv/bin/python experiments/prompting_tokens.py            # seeds 0 1 2, 1000 steps, and 3000 words
    .venv/bin/python experiments/prompting_tokens.py --quick    # seed 0, 200 steps: a smoke test

Run with one torch thread (set below) so that CPU times compare between runs on a shared machine.
"""

from __future__ import annotations

import argparse
import time

import torch

from llmguide.model import GPT, GPTConfig
from llmguide.tasks import ParityEpisodes
from llmguide.train import train

QUESTION, ANSWER = 0, 1  # word-level ids; then 10 digits, then 4 labels


class WordEpisodes:
    """`ParityEpisodes` sequences, one token per word: Question: <digit> Answer: <label>."""

    def __init__(self, task: ParityEpisodes) -> None:
        self.task = task
        self.vocab_size = 2 + task.vocab_size
        self.block_size = 4 * (task.max_shots + 1) - 1

    def get_batch(self, split, batch_size, *, generator, device="cpu"):
        x, y = self.task.get_batch(split, batch_size, generator=generator)
        items = x[:, 0::2]  # line ids 0..9 are the question lines, i.e. the digits
        answers = torch.cat([x[:, 1::2], y[:, -1:]], dim=1)  # line ids 10..13, the last one from the target
        words = torch.stack(
            [torch.full_like(items, QUESTION), 2 + items, torch.full_like(items, ANSWER), 2 + answers], dim=2
        ).view(batch_size, -1)
        wx = words[:, :-1]
        wy = torch.full_like(wx, -1)
        wy[:, 2::4] = words[:, 3::4]  # after each "Answer:" comes the label
        return wx.to(device), wy.to(device)


def last_answer_accuracy(model: GPT, data, n: int = 2000) -> float:
    """Accuracy of the 9th answer (8 examples before it) of fresh sequences, most likely token."""
    x, y = data.get_batch("val", n, generator=torch.Generator().manual_seed(99))
    model.eval()
    with torch.no_grad():
        logits, _ = model(x)
    pos = (y >= 0).nonzero()[:, 1].view(n, -1)[:, -1]
    pred = logits[torch.arange(n), pos].argmax(-1)
    return float((pred == y[torch.arange(n), pos]).float().mean())


def run(data, steps: int, seed: int) -> tuple[float, float, float]:
    torch.manual_seed(seed)
    model = GPT(
        GPTConfig(vocab_size=data.vocab_size, block_size=data.block_size, n_layer=2, n_head=4, n_embd=128)
    )
    start = time.process_time()
    history = train(model, data, steps=steps, batch_size=32, lr=3e-3, seed=seed, device="cpu")
    cpu = time.process_time() - start
    return history.val_loss[-1], last_answer_accuracy(model, data), cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="seed 0, 200 steps")
    args = parser.parse_args()
    torch.set_num_threads(1)
    task = ParityEpisodes()
    sources = {"line": task, "word": WordEpisodes(task)}
    plan = [(s, 200, "line") for s in (0,)] + [(s, 200, "word") for s in (0,)]
    if not args.quick:
        plan = [(s, 1000, kind) for s in (0, 1, 2) for kind in ("line", "word")] + [(0, 3000, "word")]
    print("tokens  block  seed  steps  val loss  acc(8 shots)  CPU s  CPU vs line")
    line_cpu = {}
    for seed, steps, kind in plan:
        loss, acc, cpu = run(sources[kind], steps, seed)
        if kind == "line":
            line_cpu[steps] = cpu
        ratio = f"{cpu / line_cpu[steps]:.2f}" if kind == "word" and steps in line_cpu else "-"
        block = sources[kind].block_size
        print(
            f"{kind:>6}  {block:5d}  {seed:4d}  {steps:5d}  {loss:8.3f}  {acc:12.2f}  {cpu:5.1f}  {ratio:>11}"
        )


if __name__ == "__main__":
    main()
