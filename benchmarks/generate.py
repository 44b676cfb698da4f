"""Generation speed of llmguide's GPT with and without the KV cache.

New tokens per second after a 32-token prompt, at batch 1 and 16, for 32, 128 and 256 new tokens, with
`llmguide.generation.generate(..., use_cache=True)` against `use_cache=False` (the baseline: every step runs the whole
context through the model again). The model is the guide's CPU shape (4 layers, 4 heads, width 128, byte
vocabulary) with a 512-token window, so that all 288 positions fit and the cache is used throughout (past
`block_size` every step re-encodes the window, cached or not: see `llmguide.generation`). Sampling is seeded, and the
cached and uncached runs are checked to give the same tokens. `--shape gpt2` uses GPT-2 small's shape (124M
parameters) instead: on a GPU the small model's steps are too short to measure anything but the host's kernel
launches. Generation runs in float32 unless `--autocast` is given (bf16 on a GPU that has it, fp16 on older
ones; nothing changes on a CPU). Under bf16 the cached and uncached paths round differently, so long sampled
continuations can part ways (seen on an H200: the table then flags TOKENS DIFFER).

    .venv/bin/python benchmarks/generate.py                  # CPU, and CUDA too if there is a GPU
    .venv/bin/python benchmarks/generate.py --device cuda --shape gpt2 --new-tokens 128 256
    .venv/bin/python benchmarks/generate.py --device cpu --new-tokens 16 64 --batch-sizes 1   # quick
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

import torch

from llmguide.device import autocast, resolve_device, synchronize
from llmguide.generation import generate
from llmguide.model import GPT, GPTConfig


def timed_generate(
    model: GPT,
    prompt: torch.Tensor,
    new_tokens: int,
    use_cache: bool,
    device: torch.device,
    mixed: bool = False,
) -> tuple[float, float, torch.Tensor]:
    """Wall and CPU seconds to generate `new_tokens` tokens for every row of `prompt`, and the tokens.

    The CPU time (this process, all threads) is the steadier measure on a machine shared with other work.
    """
    generator = torch.Generator(device=device).manual_seed(0)
    synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    with autocast(device) if mixed else contextlib.nullcontext():
        out = generate(model, prompt, new_tokens, temperature=1.0, generator=generator, use_cache=use_cache)
    synchronize(device)
    return time.perf_counter() - wall, time.process_time() - cpu, out


SHAPES = {
    # The guide's CPU shape with a 512-token window.
    "small": GPTConfig(vocab_size=256, block_size=512, n_layer=4, n_head=4, n_embd=128),
    # GPT-2 small's shape (124M parameters, vocabulary padded to 50304): a GPU shape, slow on a CPU.
    "gpt2": GPTConfig(vocab_size=50304, block_size=1024, n_layer=12, n_head=12, n_embd=768, bias=False),
}


def run(
    device: torch.device,
    batch_sizes: list[int],
    new_tokens: list[int],
    prompt_len: int,
    repeats: int,
    shape: str = "small",
    mixed: bool = False,
) -> None:
    torch.manual_seed(0)
    config = SHAPES[shape]
    if prompt_len + max(new_tokens) > config.block_size:
        raise SystemExit(f"prompt + new tokens must fit the {config.block_size}-token window")
    model = GPT(config).to(device).eval()
    threads = f", {torch.get_num_threads()} threads" if device.type == "cpu" else ""
    precision = "autocast" if mixed else "float32"
    print(
        f"{shape} shape, {precision}, device {device}{threads}, torch {torch.__version__}, "
        f"{model.num_params():,} parameters, {prompt_len}-token prompt, best of {repeats}"
    )
    print(
        f"{'batch':>5}{'new tokens':>12}{'no cache tok/s':>16}{'cache tok/s':>13}{'speed-up':>10}"
        f"{'CPU-time speed-up':>19}"
    )
    for batch in batch_sizes:
        g = torch.Generator().manual_seed(1)
        prompt = torch.randint(0, config.vocab_size, (batch, prompt_len), generator=g).to(device)
        timed_generate(model, prompt, 4, True, device, mixed)  # warm up both paths
        timed_generate(model, prompt, 4, False, device, mixed)
        for n in new_tokens:
            wall, cpu, outs = {}, {}, {}
            for use_cache in (False, True):
                runs = [timed_generate(model, prompt, n, use_cache, device, mixed) for _ in range(repeats)]
                wall[use_cache] = min(r[0] for r in runs)
                cpu[use_cache] = min(r[1] for r in runs)
                outs[use_cache] = runs[0][2]
            same = torch.equal(outs[True], outs[False])
            rate = {c: batch * n / t for c, t in wall.items()}
            print(
                f"{batch:>5}{n:>12}{rate[False]:>16,.0f}{rate[True]:>13,.0f}{wall[False] / wall[True]:>9.2f}x"
                f"{cpu[False] / cpu[True]:>18.2f}x" + ("" if same else "  TOKENS DIFFER")
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--device", action="append", help="cpu, cuda, mps (repeatable; default: cpu and cuda if any)"
    )
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--new-tokens", type=int, nargs="+", default=[32, 128, 256])
    parser.add_argument("--prompt-len", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2, help="runs per cell; the fastest is reported")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    parser.add_argument(
        "--shape", choices=sorted(SHAPES), default="small", help="model shape (gpt2: for a GPU)"
    )
    parser.add_argument("--autocast", action="store_true", help="bf16/fp16 autocast on a GPU (default fp32)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    for name in devices:
        run(
            resolve_device(name),
            args.batch_sizes,
            args.new_tokens,
            args.prompt_len,
            args.repeats,
            args.shape,
            args.autocast,
        )
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
