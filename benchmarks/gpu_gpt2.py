"""GPT-2 124M-shape training throughput and MFU on a CUDA GPU, eager and `torch.compile`.

The shape is GPT-2 small's (12 layers, 12 heads, width 768, block 1024) with the vocabulary of 50257 padded
up to a multiple of `--pad-vocab-to` (default 64: 50304, as nanoGPT does; 1 keeps 50257; the padding is an
option of this benchmark, not a default of the model), batch 12, bf16 autocast, fused AdamW, no dropout and
no biases (the settings of nanoGPT's `bench.py`). One step is forward, loss, backward and optimizer step on
a fixed random batch already on the GPU, so data loading is not measured. Modes: `eager`, `compile`
(`torch.compile` defaults) and `max-autotune` (`torch.compile(mode="max-autotune")`, which times candidate
kernels while compiling: minutes).

MFU (model FLOPs utilisation, as the PaLM paper defines it in its appendix B) = achieved model FLOP/s / the
GPU's peak, with `6 N + 12 L H Q T` FLOPs per token: 6 N for the weights' matrix products forward and
backward (N being the parameter count without the position embedding, whose lookup does no multiply; the tied
token embedding counts once, as the head), and 12 L H Q T for the attention's score and weighted-sum matrix
products (L layers, H heads, Q head width, T block size). nanoGPT's `estimate_mfu` computes the same. The
`6ND util` column is the share of the peak that the 6 N term alone accounts for (the 6ND utilisation, the
quantity `llmguide.scaling.compute_budget` takes); at this shape MFU is 15% above it. The default peak,
989e12 FLOP/s, is the H100 SXM's dense
bf16 figure from NVIDIA's data sheet (the H200 has the same tensor-core rates); pass `--peak-flops` for
another card.

`--baseline` also times the nanoGPT-style model of `benchmarks/nanogpt.py` at the same shape, in the same
process, and prints the ratio. `--smoke` runs a tiny shape on the CPU for a few steps, to check that the script
works on a machine without a GPU (its MFU means nothing).

    .venv/bin/python benchmarks/gpu_gpt2.py --baseline         # on a CUDA GPU
    .venv/bin/python benchmarks/gpu_gpt2.py --modes compile max-autotune --pad-vocab-to 1 64
    .venv/bin/python benchmarks/gpu_gpt2.py --smoke            # anywhere
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from gpu_required import refuse_without_cuda
from nanogpt import NanoGPT

from llmguide.device import autocast, synchronize
from llmguide.model import GPT, GPTConfig


def flops_per_token(n_params: int) -> float:
    """Training FLOPs per token through the weights, forward and backward: 6 N."""
    return 6 * n_params


def attention_flops_per_token(config: GPTConfig) -> float:
    """The attention's matrix multiplies per token, forward and backward: 12 L H Q T (nanoGPT adds this)."""
    L, H, Q, T = config.n_layer, config.n_head, config.n_embd // config.n_head, config.block_size
    return 12 * L * H * Q * T


def padded(vocab_size: int, multiple: int) -> int:
    """`vocab_size` rounded up to a multiple of `multiple` (nanoGPT: 50257 -> 50304 with 64)."""
    return -(-vocab_size // multiple) * multiple


def make_optimizer(model: torch.nn.Module, fused: bool) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=6e-4, betas=(0.9, 0.95), fused=fused)


COMPILE = {"eager": None, "compile": "default", "max-autotune": "max-autotune"}


def measure(
    name: str,
    model: torch.nn.Module,
    config: GPTConfig,
    args: argparse.Namespace,
    device: torch.device,
    mode: str,
) -> float:
    """Train `args.steps` timed steps (after `args.warmup` untimed ones); print a row; return tokens/s."""
    model = model.to(device).train()
    n_params = sum(p.numel() for p in model.parameters()) - config.block_size * config.n_embd  # no wpe
    optimizer = make_optimizer(model, fused=device.type == "cuda")
    step_model = model if COMPILE[mode] is None else torch.compile(model, mode=COMPILE[mode])
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, config.vocab_size, (args.batch_size, config.block_size), generator=g).to(device)
    y = torch.randint(0, config.vocab_size, (args.batch_size, config.block_size), generator=g).to(device)

    def step() -> torch.Tensor:
        with autocast(device):
            _, loss = step_model(x, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    start = time.perf_counter()
    for _ in range(args.warmup):  # the first steps compile and tune kernels
        step()
    synchronize(device)
    warmup_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    synchronize(device)
    dt = (time.perf_counter() - start) / args.steps
    if not torch.isfinite(loss):
        raise SystemExit(f"{name}: the loss is not finite ({loss.item()})")
    tokens_per_s = args.batch_size * config.block_size / dt
    util_6nd = flops_per_token(n_params) * tokens_per_s / args.peak_flops
    mfu = (flops_per_token(n_params) + attention_flops_per_token(config)) * tokens_per_s / args.peak_flops
    row = (
        f"{name:<34}{config.vocab_size:>7}{dt * 1e3:>9.1f}{tokens_per_s:>12,.0f}{mfu:>8.1%}{util_6nd:>10.1%}"
        f"{warmup_s:>11.1f}{loss.item():>8.3f}"
    )
    print(row, flush=True)
    if args.out:
        with open(args.out / "gpt2.md", "a", encoding="utf8") as f:
            f.write(
                f"| {name} | {config.vocab_size} | {dt * 1e3:.1f} | {tokens_per_s:,.0f} | {mfu:.1%} "
                f"| {util_6nd:.1%} | {warmup_s:.1f} | {loss.item():.3f} |\n"
            )
    return tokens_per_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peak-flops", type=float, default=989e12, help="the GPU's dense bf16 peak FLOP/s")
    parser.add_argument("--batch-size", type=int, default=12)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per mode")
    parser.add_argument(
        "--warmup", type=int, default=5, help="untimed steps first (compilation happens here)"
    )
    parser.add_argument("--modes", nargs="+", default=["eager", "compile"], choices=list(COMPILE))
    parser.add_argument(
        "--pad-vocab-to",
        type=int,
        nargs="+",
        default=[64],
        metavar="M",
        help="pad the vocabulary of 50257 up to a multiple of M (64: 50304; 1: none); several: a row each",
    )
    parser.add_argument("--out", type=Path, help="folder for gpt2.md, a Markdown table of the rows")
    parser.add_argument("--baseline", action="store_true", help="also time the nanoGPT-style model")
    parser.add_argument("--smoke", action="store_true", help="tiny shape on the CPU: checks the script runs")
    args = parser.parse_args(argv)

    if args.smoke:
        device = torch.device("cpu")
        config = GPTConfig(vocab_size=500, block_size=64, n_layer=2, n_head=2, n_embd=64, bias=False)
        args.batch_size, args.steps, args.warmup = 2, 2, 1
    else:
        if refuse_without_cuda("gpu_gpt2.py", wanted="cuda"):
            return 2
        device = torch.device("cuda")
        torch.backends.cuda.matmul.allow_tf32 = True  # for any float32 matmul left outside autocast
        torch.backends.cudnn.allow_tf32 = True
        config = GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768, bias=False)

    card = (
        torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (smoke test: MFU meaningless)"
    )
    print(
        f"{card}, torch {torch.__version__}, batch {args.batch_size} x {config.block_size}, "
        f"peak {args.peak_flops:.3g} FLOP/s, {args.steps} timed steps after {args.warmup} warm-up steps"
    )
    print(
        f"{'model':<34}{'vocab':>7}{'ms/step':>9}{'tokens/s':>12}{'MFU':>8}{'6ND util':>10}"
        f"{'warm-up s':>11}{'loss':>8}"
    )
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        with open(args.out / "gpt2.md", "a", encoding="utf8") as f:
            f.write(
                f"\n{card}, torch {torch.__version__}, batch {args.batch_size} x {config.block_size}, "
                f"{'bf16 autocast' if device.type == 'cuda' else 'float32'}, "
                f"peak {args.peak_flops:.3g} FLOP/s. MFU on 6 N + 12 L H Q T per token (PaLM); 6ND util on 6 N.\n\n"
                "| model | vocab | ms/step | tokens/s | MFU | 6ND util | warm-up s | loss |\n"
                "|---|---:|---:|---:|---:|---:|---:|---:|\n"
            )
    models: dict[str, type[torch.nn.Module]] = {"llmguide GPT": GPT}
    if args.baseline:
        models = {"nanoGPT-style": NanoGPT, **models}
    rates = {}
    for multiple in args.pad_vocab_to:
        shape = replace(config, vocab_size=padded(config.vocab_size, multiple))
        for mode in args.modes:
            for label, cls in models.items():
                torch.manual_seed(0)
                name = f"{label} {mode}"
                rates[name, shape.vocab_size] = measure(name, cls(shape), shape, args, device, mode)
                if device.type == "cuda":
                    torch.cuda.empty_cache()
        if args.baseline:
            for mode in args.modes:
                ratio = (
                    rates["llmguide GPT " + mode, shape.vocab_size]
                    / rates["nanoGPT-style " + mode, shape.vocab_size]
                )
                print(
                    f"{mode}, vocab {shape.vocab_size}: "
                    f"llmguide GPT tokens/s / nanoGPT-style tokens/s = {ratio:.3f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
