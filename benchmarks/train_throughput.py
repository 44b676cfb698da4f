"""Training throughput against sequence length: an LSTM (cuDNN) against the GPT (SDPA), at equal parameters.

One training step is forward, loss, backward and an AdamW step, on a random batch already on the device, so
data loading is not measured. Every step holds the same number of tokens (`--tokens-per-step`, default
16,384), split into `tokens // T` sequences of length T, so that each length does the same work per token
for the LSTM; the GPT's attention grows with T. Tokens per second = tokens per step / seconds per step,
the median of `--steps` timed steps after `--warmup` untimed ones.

The models, sized to the same parameter count (both counts are printed, with their ratio):

- the GPT of `llmguide.model` at GPT-2 small's shape (12 layers, 12 heads, width 768, no biases,
  vocabulary 50304, a window of the longest T), attention through `scaled_dot_product_attention` (flash
  attention on a recent GPU);
- `llmguide.rnn.LSTM`: `--lstm-layers` (default 2) stacked `torch.nn.LSTM` layers (cuDNN on a GPU) whose
  width, the same for the embedding and the hidden state, is the multiple of 8 that brings its parameter
  count closest to the GPT's. Its embedding and head are not tied, so most of its parameters sit there.

On CUDA both run under bf16 autocast (`--precision fp32` turns it off); PyTorch's autocast runs the cuDNN
LSTM in float16. The LSTM reads a sequence one step at a time, so its time per token grows little with T,
while each step's work is small for a GPU; the GPT reads all T positions at once.

`--out DIR` writes DIR/train_throughput.md (a Markdown table), DIR/train_throughput.svg (the figure) and
DIR/train_throughput.json; the Markdown is rewritten after every length, so that a run cut off by a time
limit keeps what it measured. `--smoke` runs tiny models on the CPU in seconds. `--size chapter` measures,
on any device, the models of docs/transformers.md instead: a 2-layer GPT 64 wide on bytes (149k parameters)
against a 1-layer LSTM of the same size (`--lstm-layers 1`); `--threads N` sets torch's CPU threads.

    python benchmarks/train_throughput.py --out gpu-out                # on a CUDA GPU
    python benchmarks/train_throughput.py --smoke --out train-out      # anywhere: checks the script
    python benchmarks/train_throughput.py --device cpu --size chapter --lstm-layers 1 --threads 1 \
        --tokens-per-step 4096 --lengths 16 32 64 128 256 512          # the chapter's models on a CPU
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from gpu_required import refuse_without_cuda

from llmguide.device import autocast, resolve_device, synchronize
from llmguide.model import GPT, GPTConfig
from llmguide.rnn import LSTM, LSTMConfig


def lstm_params(vocab: int, width: int, layers: int) -> int:
    """Parameters of `llmguide.rnn.LSTM` with embedding and hidden width `width`.

    Embedding V*H, each layer 4H*(H + H) weights and two biases of 4H (PyTorch keeps b_ih and b_hh), and
    the head H*V + V.
    """
    return vocab * width + layers * (8 * width * width + 8 * width) + width * vocab + vocab


def matching_lstm(vocab: int, target: int, layers: int) -> LSTMConfig:
    """The LSTM whose parameter count is closest to `target`, its width a multiple of 8."""
    width = min(range(8, 8192, 8), key=lambda w: abs(lstm_params(vocab, w, layers) - target))
    return LSTMConfig(vocab_size=vocab, n_embd=width, n_hidden=width, n_layer=layers)


def make_optimizer(model: torch.nn.Module, fused: bool) -> torch.optim.Optimizer:
    return torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=fused)


def step_seconds(
    model: torch.nn.Module,
    vocab: int,
    batch: int,
    length: int,
    steps: int,
    warmup: int,
    device: torch.device,
    mixed: bool,
) -> float:
    """Median seconds of one training step (forward, loss, backward, AdamW) on a random batch."""
    model.train()
    optimizer = make_optimizer(model, fused=device.type == "cuda")
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, vocab, (batch, length), generator=g).to(device)
    y = torch.randint(0, vocab, (batch, length), generator=g).to(device)
    times = []
    for i in range(warmup + steps):
        synchronize(device)
        start = time.perf_counter()
        with autocast(device) if mixed else contextlib.nullcontext():
            _, loss = model(x, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    if not torch.isfinite(loss):
        raise RuntimeError(f"the loss is not finite ({loss.item()})")
    return statistics.median(times)


def markdown(header: str, rows: list[dict[str, object]]) -> str:
    lines = [
        header,
        "",
        "| T | batch | GPT tok/s | LSTM tok/s | GPT / LSTM | GPT ms/step | LSTM ms/step |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def num(x: object, spec: str) -> str:
        return format(x, spec) if isinstance(x, float) else str(x or "")

    for r in rows:
        g, lstm = r.get("gpt_tok_s"), r.get("lstm_tok_s")
        ratio = f"{g / lstm:.2f}x" if isinstance(g, float) and isinstance(lstm, float) else ""
        lines.append(
            f"| {r['length']} | {r['batch']} | {num(g, ',.0f')} | {num(lstm, ',.0f')} | {ratio} "
            f"| {num(r.get('gpt_ms'), '.1f')} | {num(r.get('lstm_ms'), '.1f')} |"
        )
    return "\n".join(lines) + "\n"


def figure(rows: list[dict[str, object]], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (("gpt_tok_s", "GPT (SDPA)"), ("lstm_tok_s", "LSTM (cuDNN on a GPU)")):
        points = [(r["length"], r[key]) for r in rows if isinstance(r.get(key), float)]
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length T (tokens)")
    ax.set_ylabel("training tokens per second")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    with plt.rc_context({"svg.hashsalt": "train-throughput"}):
        fig.savefig(path, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--smoke", action="store_true", help="tiny models on the CPU: checks the script runs")
    parser.add_argument("--lengths", type=int, nargs="+", default=[64, 128, 256, 512, 1024, 2048])
    parser.add_argument("--tokens-per-step", type=int, default=16384)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per cell (the median counts)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--lstm-layers", type=int, default=2)
    parser.add_argument("--precision", choices=["bf16", "fp32"], help="default: bf16 autocast on CUDA")
    parser.add_argument("--out", type=Path, help="folder for the table, the figure and the JSON")
    parser.add_argument(
        "--size",
        choices=["gpt2", "chapter"],
        default="gpt2",
        help="GPT-2 small (default) or the chapter's GPT",
    )
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.smoke:
        device = torch.device("cpu")
        gpt_config = GPTConfig(vocab_size=256, block_size=64, n_layer=2, n_head=2, n_embd=64, bias=False)
        args.lengths, args.tokens_per_step, args.steps, args.warmup = [16, 32, 64], 256, 2, 1
    else:
        if refuse_without_cuda("train_throughput.py", wanted=args.device):
            return 2
        device = resolve_device(args.device)
        if args.size == "chapter":
            gpt_config = GPTConfig(
                vocab_size=256, block_size=max(args.lengths), n_layer=2, n_head=4, n_embd=64
            )
        else:
            gpt_config = GPTConfig(
                vocab_size=50304, block_size=max(args.lengths), n_layer=12, n_head=12, n_embd=768, bias=False
            )
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    mixed = device.type == "cuda" and (args.precision or "bf16") == "bf16"
    with torch.device("meta"):
        n_gpt = GPT(gpt_config).num_params()
    lstm_config = matching_lstm(gpt_config.vocab_size, n_gpt, args.lstm_layers)
    with torch.device("meta"):
        n_lstm = LSTM(lstm_config).num_params()
    assert n_lstm == lstm_params(lstm_config.vocab_size, lstm_config.n_hidden, args.lstm_layers)

    card = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"CPU, {torch.get_num_threads()} threads"
    )
    card += " (smoke test: tiny models)" if args.smoke else ""
    header = (
        f"{card}, torch {torch.__version__}, {'bf16 autocast' if mixed else 'float32'}, "
        f"{args.tokens_per_step:,} tokens per step, median of {args.steps} steps after {args.warmup}. "
        f"GPT: {gpt_config.n_layer} layers, width {gpt_config.n_embd}, {n_gpt:,} parameters. "
        f"LSTM: {lstm_config.n_layer} layers, width {lstm_config.n_hidden}, {n_lstm:,} parameters "
        f"({n_lstm / n_gpt:.3f} of the GPT's)."
    )
    print(header, flush=True)
    print(f"{'T':>6}{'batch':>7}{'GPT tok/s':>12}{'LSTM tok/s':>12}{'GPT/LSTM':>10}")
    rows: list[dict[str, object]] = []
    for length in args.lengths:
        batch = max(1, args.tokens_per_step // length)
        row: dict[str, object] = {"length": length, "batch": batch}
        for key, make in (
            ("gpt", lambda: GPT(gpt_config)),
            ("lstm", lambda: LSTM(lstm_config)),
        ):
            torch.manual_seed(0)
            try:
                model = make().to(device)
                seconds = step_seconds(
                    model, gpt_config.vocab_size, batch, length, args.steps, args.warmup, device, mixed
                )
                row[f"{key}_ms"] = seconds * 1e3
                row[f"{key}_tok_s"] = batch * length / seconds
            except Exception as error:  # reported in the table; the other cells still run
                row[f"{key}_tok_s"] = f"failed: {type(error).__name__}: {str(error).splitlines()[0][:100]}"
            model = None
            if device.type == "cuda":
                torch.cuda.empty_cache()
        rows.append(row)
        g, lstm = row.get("gpt_tok_s"), row.get("lstm_tok_s")
        ratio = f"{g / lstm:.2f}x" if isinstance(g, float) and isinstance(lstm, float) else ""
        print(
            f"{length:>6}{batch:>7}"
            + "".join(f"{v:>12,.0f}" if isinstance(v, float) else f"  {v}" for v in (g, lstm))
            + f"{ratio:>10}",
            flush=True,
        )
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "train_throughput.md").write_text(markdown(header, rows), "utf8")
    if args.out:
        (args.out / "train_throughput.json").write_text(
            json.dumps({"header": header, "rows": rows}, indent=1), "utf8"
        )
        figure(rows, f"{card}: training tokens/s, equal parameters", args.out / "train_throughput.svg")
        print(f"wrote {args.out}/train_throughput.md, .svg and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
