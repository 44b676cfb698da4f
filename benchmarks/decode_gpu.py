"""Decode speed at GPT-2 small's shape: the reference `generate`, the fast path, and Hugging Face.

New tokens per second (all rows together) after a 32-token prompt, for 256 new tokens, at batch 1 and 16,
for these paths, all in the same process on the same weights:

- `reference, no cache`: `llmguide.generation.generate(..., use_cache=False)`, the whole context again for every token;
- `reference, cache`: `generate`, its growing KV cache (the ratio column divides by this row);
- `fast, eager`: `llmguide.decode.generate_fast(mode="eager")`, the static cache without a CUDA graph;
- `fast, CUDA graph`: `generate_fast(mode="graph")`, the decode step recorded once by hand and replayed;
- `fast, compile`: `generate_fast(mode="compile")`, `torch.compile(mode="reduce-overhead")`;
- `HF, dynamic cache` and `HF, static cache`: Hugging Face `GPT2LMHeadModel.generate` with its default
  cache and with `cache_implementation="static"`, only if `transformers` is installed (it is not a
  dependency). The model is built from a `GPT2Config` of the same shape, with random weights (no download).

The shape is GPT-2 small's (12 layers, 12 heads, width 768, window 1024, vocabulary 50257, biases: 124M
parameters). The weights are converted to bf16 on CUDA (`--dtype`); generation is greedy, so every path
does the same work per token, and the table says whether each path's tokens equal the reference's (under
bf16 the paths round differently and may part ways: not an error). Each cell is the best of `--repeats`
timed calls after one untimed call of the same shape (which records the CUDA graph, or compiles: the
`first call s` column).

The `ceiling` columns give the memory-bandwidth bound. Decoding one token per row reads every weight once
and every cached key and value of the positions attended; at `--bandwidth` bytes/s (default 4.8e12, the
H200's HBM3e figure on NVIDIA's H200 product page, https://www.nvidia.com/en-us/data-center/h200/) no
implementation can be faster than (weight bytes + KV-cache bytes at that position) / bandwidth per step.
The sum over the steps of one call gives the ceiling in tokens per second; `of ceiling` is the measured rate
divided by it.

A second table is the crossover: reference with and without its cache, and the fast path, for 64, 128, 256
and 512 new tokens at batch 1 (`--crossover`, `--crossover-batch`); "the cache wins" where its rate is above
the no-cache rate.

`--out DIR` writes the tables to DIR/decode.md (rewritten after every row, so that a run cut off by a time
limit still leaves what it measured) and DIR/decode.json. `--smoke` runs a tiny shape on the CPU in seconds.

    python benchmarks/decode_gpu.py --out gpu-out                # on a CUDA GPU
    python benchmarks/decode_gpu.py --smoke --out decode-out     # anywhere: checks the script
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from decode_hf import CONV1D
from gpu_required import refuse_without_cuda

from llmguide.decode import StaticKVCache, generate_fast
from llmguide.device import resolve_device, synchronize
from llmguide.generation import generate
from llmguide.model import GPT, GPTConfig

H200_BANDWIDTH = (
    4.8e12  # bytes/s, HBM3e: NVIDIA H200 product page, https://www.nvidia.com/en-us/data-center/h200/
)

GPT2 = GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768, bias=True)
SMOKE = GPTConfig(vocab_size=256, block_size=64, n_layer=2, n_head=2, n_embd=64, bias=True)

PATHS = {
    "ref-nocache": "reference, no cache",
    "ref-cache": "reference, cache",
    "fast-eager": "fast, eager",
    "fast-graph": "fast, CUDA graph",
    "fast-compile": "fast, compile",
    "hf-dynamic": "HF, dynamic cache",
    "hf-static": "HF, static cache",
}


@dataclass
class Row:
    path: str
    batch: int
    new_tokens: int
    tok_s: float | None = None
    first_call_s: float | None = None
    ceiling_tok_s: float | None = None
    same_tokens: bool | None = None
    note: str = ""


@dataclass
class Report:
    header: str
    rows: list[Row] = field(default_factory=list)
    crossover: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------------------
# The bandwidth ceiling


def weight_bytes(model: GPT) -> int:
    """Bytes of weights one decode step reads: every parameter once (the tied embedding as the head), but
    of the position embedding only one row."""
    wpe = model.transformer.wpe.weight
    return (model.num_params() - wpe.numel() + wpe.size(1)) * wpe.element_size()


def ceiling_tokens_per_s(
    model: GPT, batch: int, prompt_len: int, new_tokens: int, bandwidth: float, elem_bytes: int
) -> float:
    """New tokens per second if every step only read its weights and KV cache at `bandwidth` bytes/s.

    Step j (0-based) produces token j of every row and attends over `prompt_len + j` positions (the first
    step is the prompt's, which reads the weights once for all its positions).
    """
    c = model.config
    per_position = 2 * c.n_layer * c.n_embd * elem_bytes * batch  # keys and values, all rows
    w = weight_bytes(model)
    seconds = sum((w + per_position * (prompt_len + j)) / bandwidth for j in range(new_tokens))
    return batch * new_tokens / seconds


# ----------------------------------------------------------------------------------------------------------
# The paths


def hf_model(model: GPT) -> torch.nn.Module | None:
    """Hugging Face's GPT-2 with `model`'s shape, dtype, device and weights, or None without `transformers`.

    The parameter names are GPT-2's in both; Hugging Face keeps the four projections of each block as
    `Conv1D`, whose weight is the transpose of a `Linear`'s. With the same weights, the same greedy tokens
    are expected (exactly in float32; bf16 rounds differently in each).
    """
    try:
        import transformers
        from transformers import GPT2Config, GPT2LMHeadModel
    except ImportError:
        return None
    c = model.config
    hf_config = GPT2Config(
        vocab_size=c.vocab_size,
        n_positions=c.block_size,
        n_embd=c.n_embd,
        n_layer=c.n_layer,
        n_head=c.n_head,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )
    weight = model.lm_head.weight
    hf = GPT2LMHeadModel(hf_config).to(device=weight.device, dtype=weight.dtype).eval()
    ours = model.state_dict()
    with torch.no_grad():
        for name, p in hf.named_parameters():  # the tied head/embedding matrix is listed once
            src = ours[name]
            if name.endswith(CONV1D):
                src = src.t()
            p.copy_(src)
    hf.llmguide_version = transformers.__version__
    return hf


def make_runner(
    path: str, model: GPT, hf: torch.nn.Module | None, batch: int, prompt_len: int, new_tokens: int
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function prompt -> generated ids for `path`; the fast path keeps one cache per runner."""
    if path == "ref-nocache":
        return lambda p: generate(model, p, new_tokens, temperature=0, use_cache=False)
    if path == "ref-cache":
        return lambda p: generate(model, p, new_tokens, temperature=0)
    if path.startswith("fast-"):
        mode = path.removeprefix("fast-")
        # the positions this call needs, rounded up to 16 as generate_fast does for a cache of its own
        needed = min(model.config.block_size, -(-(prompt_len + new_tokens - 1) // 16) * 16)
        cache = StaticKVCache.for_model(model, batch, needed)
        return lambda p: generate_fast(model, p, new_tokens, temperature=0, mode=mode, cache=cache)
    if hf is None:
        raise RuntimeError("transformers is not installed")
    options = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, pad_token_id=0)
    if path == "hf-static":
        options["cache_implementation"] = "static"

    def run_hf(p: torch.Tensor) -> torch.Tensor:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return hf.generate(input_ids=p, attention_mask=torch.ones_like(p), **options)

    return run_hf


def measure(
    run: Callable[[torch.Tensor], torch.Tensor], prompt: torch.Tensor, device: torch.device, repeats: int
) -> tuple[float, float, torch.Tensor]:
    """(first call s, best timed call s, ids of the first call)."""
    synchronize(device)
    start = time.perf_counter()
    with torch.no_grad():
        out = run(prompt)
    synchronize(device)
    first = time.perf_counter() - start
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        with torch.no_grad():
            run(prompt)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return first, best, out


# ----------------------------------------------------------------------------------------------------------
# Output


def fmt(x: float | None, spec: str = ",.0f") -> str:
    return "" if x is None else format(x, spec)


def percent(fraction: float) -> str:
    return f"{100 * fraction:.3g}%"


def markdown(report: Report) -> str:
    lines = [report.header, ""]
    lines += [
        "| path | batch | new tokens | tok/s | vs reference, cache | first call s | ceiling tok/s "
        "| of ceiling | same tokens | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    base = {(r.batch, r.new_tokens): r.tok_s for r in report.rows if r.path == "ref-cache" and r.tok_s}
    order = list(PATHS)
    for r in sorted(report.rows, key=lambda r: (r.batch, r.new_tokens, order.index(r.path))):
        b = base.get((r.batch, r.new_tokens))
        ratio = f"{r.tok_s / b:.2f}x" if r.tok_s and b else ""
        of_ceiling = percent(r.tok_s / r.ceiling_tok_s) if r.tok_s and r.ceiling_tok_s else ""
        same = "" if r.same_tokens is None else ("yes" if r.same_tokens else "no")
        lines.append(
            f"| {PATHS[r.path]} | {r.batch} | {r.new_tokens} | {fmt(r.tok_s)} | {ratio} | "
            f"{fmt(r.first_call_s, '.2f')} | {fmt(r.ceiling_tok_s)} | {of_ceiling} | {same} | {r.note} |"
        )
    if report.crossover:
        lines += [
            "",
            "Crossover: new tokens per second against the number of new tokens.",
            "",
            "| new tokens | batch | no cache tok/s | reference cache tok/s | cache / no cache "
            "| fast tok/s | fast / no cache |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        cells = {(r.new_tokens, r.batch, r.path): r.tok_s for r in report.crossover}
        for n, batch in sorted({(r.new_tokens, r.batch) for r in report.crossover}):
            no, ref = cells.get((n, batch, "ref-nocache")), cells.get((n, batch, "ref-cache"))
            fast = next(
                (v for (m, b, p), v in cells.items() if (m, b) == (n, batch) and p.startswith("fast")), None
            )
            lines.append(
                f"| {n} | {batch} | {fmt(no)} | {fmt(ref)} | {fmt(ref / no if ref and no else None, '.2f')} "
                f"| {fmt(fast)} | {fmt(fast / no if fast and no else None, '.2f')} |"
            )
    if report.notes:
        lines += ["", *report.notes]
    return "\n".join(lines) + "\n"


def save(report: Report, out: Path | None) -> None:
    if out is None:
        return
    out.mkdir(parents=True, exist_ok=True)
    (out / "decode.md").write_text(markdown(report), "utf8")
    data = {
        "header": report.header,
        "rows": [asdict(r) for r in report.rows],
        "crossover": [asdict(r) for r in report.crossover],
        "notes": report.notes,
    }
    (out / "decode.json").write_text(json.dumps(data, indent=1), "utf8")


# ----------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--smoke", action="store_true", help="tiny shape on the CPU: checks the script runs")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--prompt-len", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--paths", nargs="+", choices=list(PATHS), help="default: all that this device runs")
    parser.add_argument("--crossover", type=int, nargs="*", default=[64, 128, 256, 512], help="new tokens")
    parser.add_argument("--crossover-batch", type=int, default=1)
    parser.add_argument("--dtype", choices=["bf16", "fp32"], help="weights' dtype (default: bf16 on CUDA)")
    parser.add_argument(
        "--bandwidth", type=float, default=H200_BANDWIDTH, help="memory bytes/s (H200: 4.8e12)"
    )
    parser.add_argument("--repeats", type=int, default=2, help="timed calls per cell; the fastest counts")
    parser.add_argument("--out", type=Path, help="folder for decode.md and decode.json")
    args = parser.parse_args(argv)

    if args.smoke:
        device, config = torch.device("cpu"), SMOKE
        args.batch_sizes, args.prompt_len, args.new_tokens, args.repeats = [1, 2], 8, 16, 1
        args.crossover = [8, 16, 32] if args.crossover else []
    else:
        if refuse_without_cuda("decode_gpu.py", wanted=args.device):
            return 2
        device, config = resolve_device(args.device), GPT2
    dtype_name = args.dtype or ("bf16" if device.type == "cuda" else "fp32")
    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[dtype_name]
    if args.prompt_len + max([args.new_tokens, *args.crossover]) > config.block_size:
        raise SystemExit(f"prompt + new tokens must fit the {config.block_size}-token window")
    paths = args.paths or [
        p for p in PATHS if device.type == "cuda" or p not in ("fast-graph", "fast-compile")
    ]

    torch.manual_seed(0)
    model = GPT(config).to(device=device, dtype=dtype).eval()
    hf = hf_model(model) if any(p.startswith("hf-") for p in paths) else None
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    card += " (smoke test: a tiny shape)" if args.smoke else ""
    hf_note = f"transformers {hf.llmguide_version}" if hf is not None else "transformers not installed"
    report = Report(
        header=(
            f"{card}, torch {torch.__version__}, {hf_note}; {model.num_params():,} parameters "
            f"({config.n_layer} layers, width {config.n_embd}, vocabulary {config.vocab_size}), {dtype}, "
            f"greedy, {args.prompt_len}-token prompt, best of {args.repeats} after one untimed call; "
            f"ceiling at {args.bandwidth:.3g} bytes/s "
            f"({weight_bytes(model) / 1e6:,.1f} MB of weights per step)"
        )
    )
    if hf is None and any(p.startswith("hf-") for p in paths):
        notice = "Hugging Face rows skipped: `transformers` is not installed (it is not a dependency)."
        print(notice, flush=True)
        report.notes.append(notice)
        paths = [p for p in paths if not p.startswith("hf-")]
    print(report.header, flush=True)
    print(
        f"{'path':<22}{'batch':>6}{'new':>5}{'tok/s':>10}{'first s':>9}{'ceiling':>11}{'of ceil':>10}  same"
    )
    elem = torch.finfo(dtype).bits // 8

    def cell(
        path: str, batch: int, n: int, reference: torch.Tensor | None, into: list[Row]
    ) -> torch.Tensor | None:
        """Measure one path; append its row to `into`, print it, save the report; return its ids."""
        row, out = Row(path, batch, n), None
        row.ceiling_tok_s = ceiling_tokens_per_s(model, batch, args.prompt_len, n, args.bandwidth, elem)
        g = torch.Generator().manual_seed(batch)
        prompt = torch.randint(0, config.vocab_size, (batch, args.prompt_len), generator=g).to(device)
        try:
            run = make_runner(path, model, hf, batch, args.prompt_len, n)
            row.first_call_s, best, out = measure(run, prompt, device, args.repeats)
            row.tok_s = batch * n / best
            if reference is not None:
                row.same_tokens = torch.equal(out.cpu(), reference.cpu())
        except Exception as error:  # a failed path is reported, and the others still run
            row.note = f"failed: {type(error).__name__}: {str(error).splitlines()[0][:120]}"
        into.append(row)
        same = "" if row.same_tokens is None else ("yes" if row.same_tokens else "NO")
        print(
            f"{PATHS[path]:<22}{batch:>6}{n:>5}{fmt(row.tok_s):>10}{fmt(row.first_call_s, '.2f'):>9}"
            f"{fmt(row.ceiling_tok_s):>11}"
            f"{(percent(row.tok_s / row.ceiling_tok_s) if row.tok_s else ''):>10}  {same} {row.note}",
            flush=True,
        )
        save(report, args.out)
        return out

    for batch in args.batch_sizes:
        # the reference first: the other paths' tokens are compared with its
        reference = (
            cell("ref-cache", batch, args.new_tokens, None, report.rows) if "ref-cache" in paths else None
        )
        for path in paths:
            if path != "ref-cache":
                cell(path, batch, args.new_tokens, reference, report.rows)
        if device.type == "cuda":
            torch.cuda.empty_cache()

    fast = "fast-graph" if device.type == "cuda" else "fast-eager"
    if args.crossover:
        print(f"crossover at batch {args.crossover_batch}:", flush=True)
        for n in args.crossover:
            for path in ("ref-nocache", "ref-cache", fast):
                cell(path, args.crossover_batch, n, None, report.crossover)

    goals = []
    for batch, goal in ((1, 1_000), (16, 10_000)):
        best = max(
            (
                (r.tok_s, r.path)
                for r in report.rows
                if r.batch == batch and r.path.startswith("fast") and r.tok_s
            ),
            default=None,
        )
        if best:
            verdict = "met" if best[0] >= goal else "NOT met"
            goals.append(
                f"- batch {batch}: goal {goal:,} tok/s, "
                f"fast path best {best[0]:,.0f} ({PATHS[best[1]]}): {verdict}"
            )
    by_n = {(r.new_tokens, r.path): r.tok_s for r in report.crossover}
    for label, path in (("the reference's cache", "ref-cache"), ("the fast path's static cache", fast)):
        if not args.crossover:
            break
        wins = [
            n for n in args.crossover if (by_n.get((n, path)) or 0) > (by_n.get((n, "ref-nocache")) or 0) > 0
        ]
        goals.append(f"- {label} beats no cache at: {wins or 'none'} new tokens (goal: from 128 on)")
    if goals:
        report.notes += ["Goals:", "", *goals]
        print("\n".join(goals))
    save(report, args.out)
    if args.out:
        print(f"wrote {args.out / 'decode.md'} and decode.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
