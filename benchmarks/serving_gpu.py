"""The serving chapter's measurements on a GPU, in one budgeted run (docs/serving.md, "The GPU").

At GPT-2 small's shape with random weights (nothing downloaded), in bf16 autocast on CUDA:

- the roofs: a device-to-device copy (bytes/s) and a 4096 x 4096 bf16 matmul (FLOP/s);
- prefill and decode time per token (a 512-token prompt; decode steps after it), and decode at batch 1
  against `sizing.decode_tokens_per_second` at the measured bandwidth;
- decode throughput and latency for batch sizes 1 to 256;
- the cost of a step of 1 to 8 positions against one (what speculative decoding's verification costs);
- `generate` (the reference) against `generate_fast` (static cache, CUDA graph) at batch 1.

Every figure is a ratio of times measured in this process; each time is the fastest of `--repeats` runs,
interleaved. The run stops measuring new rows once `--budget` seconds have passed and prints what it has.

    python benchmarks/serving_gpu.py                  # on a CUDA GPU
    python benchmarks/serving_gpu.py --smoke          # a tiny shape on the CPU: checks the script runs
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable

import torch
from gpu_required import refuse_without_cuda

from llmguide.decode import generate_fast
from llmguide.generation import generate
from llmguide.model import GPT, GPTConfig, KVCache
from llmguide.sizing import decode_tokens_per_second


def fastest(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """The fastest of `repeats` runs of fn() in seconds, after a warm-up, synchronising the device."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--smoke", action="store_true", help="a tiny shape on the CPU")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--budget", type=float, default=240.0, help="seconds before the run stops measuring")
    args = parser.parse_args(argv)
    if args.smoke:
        args.device = "cpu"
    if refuse_without_cuda("serving_gpu.py", wanted=args.device):
        return 2
    device = torch.device(args.device)
    started = time.perf_counter()
    if args.smoke:
        config = GPTConfig(vocab_size=256, block_size=64, n_layer=2, n_head=2, n_embd=32)
        prompt_len, batches, elems, m = 16, [1, 4], 2**20, 256
    else:
        config = GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768)
        prompt_len, batches, elems, m = 512, [1, 2, 4, 8, 16, 32, 64, 128, 256], 2**28, 4096
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    mixed = torch.autocast(device.type, dtype=dtype) if device.type == "cuda" else contextlib.nullcontext()
    reps = args.repeats
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"# serving_gpu.py on {card}, torch {torch.__version__}, autocast {dtype}")

    src = torch.empty(elems, dtype=dtype, device=device)
    dst = torch.empty_like(src)
    bandwidth = 2 * src.nbytes / fastest(lambda: dst.copy_(src), device, reps)
    a = torch.randn(m, m, dtype=dtype, device=device)
    peak = 2 * m**3 / fastest(lambda: a @ a, device, reps)
    print(
        f"roofs: {bandwidth / 1e9:.0f} GB/s copy, {peak / 1e12:.1f} TFLOP/s matmul, balance {peak / bandwidth:.0f}"
    )

    torch.manual_seed(0)
    model = GPT(config).to(device).eval()
    g = torch.Generator(device=device).manual_seed(0)
    prompt = torch.randint(config.vocab_size, (1, prompt_len), generator=g, device=device)
    cache = KVCache(config.n_layer, config.block_size)

    def prefill() -> None:
        cache.reset()
        model.step(prompt, cache)

    def decode() -> None:
        cache.crop(prompt_len)
        for _ in range(4):
            model.step(prompt[:, -1:], cache)

    with torch.no_grad(), mixed:
        prefill()
        t_prefill = fastest(prefill, device, reps) / prompt_len
        t_decode = fastest(decode, device, reps) / 4
        ceiling = decode_tokens_per_second(
            config,
            bandwidth=int(bandwidth),
            dtype="bf16" if dtype == torch.bfloat16 else "fp32",
            seq_len=prompt_len,
        )
        print(f"decode / prefill time per token: {t_decode / t_prefill:.1f}")
        print(f"decode at batch 1: {(1 / t_decode) / ceiling:.0%} of the bandwidth ceiling")

        base = None
        for b in batches:
            if time.perf_counter() - started > args.budget:
                print(f"budget spent: stopped before batch {b}")
                break
            c = KVCache(config.n_layer, config.block_size)
            model.step(prompt[:, :8].expand(b, 8).contiguous(), c)
            tokens = prompt[:, :1].expand(b, 1).contiguous()

            def step(c: KVCache = c, tokens: torch.Tensor = tokens) -> None:
                c.crop(8)
                model.step(tokens, c)

            t = fastest(step, device, reps)
            base = base or t
            print(f"batch {b:3d}: throughput x{b * base / t:.1f} of batch 1, latency x{t / base:.2f}")

        one = None
        for n in range(1, 9):

            def verify(n: int = n) -> None:
                cache.crop(prompt_len)
                model.step(prompt[:, :n], cache, all_logits=True)

            t = fastest(verify, device, reps)
            one = one or t
            print(f"a step of {n} positions costs {t / one:.2f} steps of one")

    if device.type == "cuda" and time.perf_counter() - started < args.budget:
        short = prompt[:, :32]
        ref = fastest(lambda: generate(model, short, 64, temperature=0), device, 2)
        fast = fastest(lambda: generate_fast(model, short, 64, temperature=0, mode="graph"), device, 2)
        print(f"generate_fast (static cache, CUDA graph) / generate, 64 tokens at batch 1: x{ref / fast:.1f}")
    print(f"# {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
