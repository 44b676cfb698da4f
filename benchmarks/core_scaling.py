"""The transformers page's core-scaling check at several thread counts: how much each model gains from threads.

The models, input and timing are those of the block in docs/transformers.md ("Does it train faster? A
stopwatch"): a 2-layer GPT 64 wide and a 1-layer LSTM of about the same size, one training pass (forward,
loss, backward) over one sequence of 512 tokens, and four products of a 512 x 512 matrix as the control that
any number of cores can share. Each round times everything at every thread count in turn (the first round is a
warm-up); the figures are medians over the rounds of per-round ratios, so that a busy moment of the machine,
which slows everything in its round, cancels.

    python benchmarks/core_scaling.py                      # 1, 2 and 4 threads, 17 rounds
    python benchmarks/core_scaling.py --threads 1 8 --rounds 9

For every thread count n it prints the gain of each model from 1 thread to n (seconds at 1 / seconds at n),
the GPT's gain divided by the LSTM's (the page asserts it exceeds 1.05 at the machine's core count), and
GPT / LSTM tokens per second at n threads.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from llmguide.model import GPT, GPTConfig
from llmguide.rnn import LSTM, LSTMConfig


def training_seconds(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Seconds of one forward pass, loss and backward pass."""
    start = time.perf_counter()
    _, loss = model(x, y)
    loss.backward()
    model.zero_grad()
    return time.perf_counter() - start


def matmul_seconds(a: torch.Tensor) -> float:
    """Seconds of four products of a square matrix with itself."""
    start = time.perf_counter()
    for _ in range(4):
        a @ a
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4], help="thread counts; 1 is added")
    parser.add_argument("--rounds", type=int, default=17, help="rounds, the first a warm-up (default 17)")
    args = parser.parse_args(argv)
    if args.rounds < 2:
        parser.error("--rounds must be at least 2 (the first is a warm-up)")
    threads = sorted({1, *args.threads})
    if threads[0] < 1:
        parser.error("--threads must be positive")
    torch.manual_seed(0)
    models = {
        "GPT": GPT(GPTConfig(vocab_size=256, block_size=512, n_layer=2, n_head=4, n_embd=64)),
        "LSTM": LSTM(LSTMConfig(vocab_size=256, n_embd=64, n_hidden=128)),
    }
    x, y = torch.randint(0, 256, (2, 1, 512), generator=torch.Generator().manual_seed(0))
    a = torch.randn(512, 512)
    before = torch.get_num_threads()
    rounds = []
    for repeat in range(args.rounds):
        seconds = {}
        for n in threads:
            torch.set_num_threads(n)
            seconds["matmul", n] = matmul_seconds(a)
            seconds |= {(name, n): training_seconds(model, x, y) for name, model in models.items()}
        if repeat:
            rounds.append(seconds)
    torch.set_num_threads(before)

    print(f"torch {torch.__version__}, {len(rounds)} rounds after a warm-up; medians of per-round ratios")
    for n in threads:
        gain = {k: statistics.median(s[k, 1] / s[k, n] for s in rounds) for k in ("GPT", "LSTM", "matmul")}
        edge = statistics.median((s["GPT", 1] / s["GPT", n]) / (s["LSTM", 1] / s["LSTM", n]) for s in rounds)
        tps = statistics.median(s["LSTM", n] / s["GPT", n] for s in rounds)
        print(
            f"{n} threads: gain GPT {gain['GPT']:.2f}, LSTM {gain['LSTM']:.2f}, matmul {gain['matmul']:.2f}; "
            f"GPT gain / LSTM gain {edge:.2f}; GPT / LSTM tokens per second {tps:.2f}"
        )


if __name__ == "__main__":
    main()
