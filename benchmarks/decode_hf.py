"""CPU decode of llmguide's GPT against Hugging Face `generate`, with the same GPT-2 124M weights.

Builds `transformers.GPT2LMHeadModel` from `GPT2Config(activation_function="gelu")` with random weights
(nothing is downloaded; the exact GELU is llmguide's, where GPT-2 used the tanh approximation), copies the
same weights into `llmguide.model.GPT` (`hf_state_dict_to_gpt`: the four `Conv1D` weights per block are
transposed into `nn.Linear`'s layout), checks that greedy decoding gives identical tokens, then times
llmguide's cached greedy decode (`llmguide.generation.generate(..., temperature=0)`) against HF
`generate(do_sample=False, use_cache=True)` in the same process, interleaved: each round runs both, in
alternating order, and the figure is HF's time over ours (above 1: ours is faster). Times are both wall
(`perf_counter`) and CPU (`process_time`) seconds; the ratio reported is of the fastest round of each, and
the median of the per-round ratios.

    .venv/bin/python benchmarks/decode_hf.py                       # batch 1 and 8, 1 and 2 threads
    .venv/bin/python benchmarks/decode_hf.py --threads 1 --batch-sizes 1 --rounds 3   # quick
    .venv/bin/python benchmarks/decode_hf.py --profile             # torch.profiler tables, batch 1

`transformers` is a test/benchmark dependency only (the `test` extra).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from llmguide.generation import generate
from llmguide.model import GPT, GPTConfig

CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def hf_state_dict_to_gpt(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A `GPT2LMHeadModel` state dict in `llmguide.model.GPT`'s names and layouts.

    Args:
        state: the Hugging Face model's `state_dict()`.

    Returns:
        The same tensors keyed as `GPT`'s parameters, the `Conv1D` weights transposed to `(out, in)`.
    """
    out = {}
    for name, tensor in state.items():
        if name.endswith((".attn.bias", ".attn.masked_bias")):  # old releases' causal-mask buffers
            continue
        out[name] = tensor.t() if name.endswith(CONV1D) else tensor
    return out


def build_pair(seed: int = 0) -> tuple[torch.nn.Module, GPT]:
    """GPT-2 124M in transformers with random weights, and llmguide's GPT holding the same weights."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    hf = GPT2LMHeadModel(GPT2Config(activation_function="gelu")).eval()
    hf.generation_config.eos_token_id = None  # random weights: never stop early
    hf.generation_config.pad_token_id = 0
    ours = GPT(GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768)).eval()
    missing, unexpected = ours.load_state_dict(hf_state_dict_to_gpt(hf.state_dict()), strict=False)
    if unexpected or set(missing) - {"lm_head.weight", "transformer.wte.weight"}:
        raise RuntimeError(f"state dicts do not match: missing {missing}, unexpected {unexpected}")
    return hf, ours


def hf_generate(hf: torch.nn.Module, prompt: torch.Tensor, new_tokens: int) -> torch.Tensor:
    with torch.no_grad():
        return hf.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            use_cache=True,
        )


def our_generate(ours: GPT, prompt: torch.Tensor, new_tokens: int) -> torch.Tensor:
    return generate(ours, prompt, new_tokens, temperature=0)


def compare(hf, ours, batch: int, prompt_len: int, new_tokens: int, rounds: int) -> dict[str, float]:
    prompt = torch.randint(50257, (batch, prompt_len), generator=torch.Generator().manual_seed(batch))
    a, b = hf_generate(hf, prompt, new_tokens), our_generate(ours, prompt, new_tokens)
    same = torch.equal(a, b)
    wall = {"hf": [], "ours": []}
    cpu = {"hf": [], "ours": []}
    runs = {
        "hf": lambda: hf_generate(hf, prompt, new_tokens),
        "ours": lambda: our_generate(ours, prompt, new_tokens),
    }
    for r in range(rounds):
        for name in ("hf", "ours") if r % 2 == 0 else ("ours", "hf"):
            w, c = time.perf_counter(), time.process_time()
            runs[name]()
            wall[name].append(time.perf_counter() - w)
            cpu[name].append(time.process_time() - c)
    return {
        "same_tokens": same,
        "wall_min_ratio": min(wall["hf"]) / min(wall["ours"]),
        "wall_median_ratio": statistics.median(h / o for h, o in zip(wall["hf"], wall["ours"], strict=True)),
        "cpu_min_ratio": min(cpu["hf"]) / min(cpu["ours"]),
        "ours_ms_per_token": 1e3 * min(wall["ours"]) / new_tokens,
        "hf_ms_per_token": 1e3 * min(wall["hf"]) / new_tokens,
    }


def profile(hf, ours, batch: int, prompt_len: int, new_tokens: int) -> None:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    prompt = torch.randint(50257, (batch, prompt_len), generator=torch.Generator().manual_seed(batch))
    for name, fn in (
        ("hf", lambda: hf_generate(hf, prompt, new_tokens)),
        ("ours", lambda: our_generate(ours, prompt, new_tokens)),
    ):
        fn()
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            fn()
        print(f"## {name}")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=18))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--prompt-len", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    hf, ours = build_pair()
    if args.profile:
        torch.set_num_threads(args.threads[0])
        profile(hf, ours, args.batch_sizes[0], args.prompt_len, args.new_tokens)
        return 0
    import transformers

    print(f"torch {torch.__version__}, transformers {transformers.__version__}")
    print(
        "| threads | batch | same tokens | HF/ours wall (min) | (median) | HF/ours CPU (min) | ours ms/token | HF ms/token |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    ok = True
    for threads in args.threads:
        torch.set_num_threads(threads)
        for batch in args.batch_sizes:
            r = compare(hf, ours, batch, args.prompt_len, args.new_tokens, args.rounds)
            ok &= r["same_tokens"]
            print(
                f"| {threads} | {batch} | {r['same_tokens']} | {r['wall_min_ratio']:.2f} | "
                f"{r['wall_median_ratio']:.2f} | {r['cpu_min_ratio']:.2f} | {r['ours_ms_per_token']:.1f} | "
                f"{r['hf_ms_per_token']:.1f} |",
                flush=True,
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
