"""The `llmguide` command line (also `python -m llmguide`).

Each subcommand is one `_add_<name>` function that declares its flags and one `_run_<name>` function that
does the work. Heavy imports (torch) happen inside the `_run_` functions, so `llmguide --help` stays fast.

Bad input exits with status 2 and a one-line message naming the flag, never a stack trace.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from llmguide import __version__


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the `llmguide` command.

    For example:

    ```python
    from llmguide.cli import build_parser

    print(build_parser().prog)
    #> llmguide
    ```
    """
    parser = argparse.ArgumentParser(
        prog="llmguide",
        description="Companion command line of the llmguide guide to large language models.",
    )
    parser.add_argument("--version", action="version", version=f"llmguide {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = False  # `llmguide` alone prints the help
    # One `_add_<name>(sub)` line per subcommand, in the order of the guide's chapters:
    _add_train(sub)
    _add_generate(sub)
    _add_memory(sub)
    _add_chinchilla(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` (default: `sys.argv[1:]`) and return the exit status.

    For example:

    ```python
    from llmguide.cli import main

    status = main([])  # no subcommand: prints the help and returns 0
    ```
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 0
    try:
        return int(handler(args) or 0)
    except (ValueError, TypeError) as exc:  # bad input: one line, no trace
        parser.exit(2, f"llmguide {args.command}: error: {exc}\n")
    return 0  # pragma: no cover


# --------------------------------------------------------------------------------------------------------------
# llmguide chinchilla (docs/scaling-laws.md)
# --------------------------------------------------------------------------------------------------------------


def _add_chinchilla(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "chinchilla",
        help="compute-optimal model size and tokens for a budget, by each scaling-law method",
        description="Print the compute-optimal allocation (C = 6 N D) by the 20-tokens-per-parameter rule and by "
        "each fitted Chinchilla loss, side by side. Give exactly one of --flops, --params or --hours.",
    )
    what = p.add_mutually_exclusive_group()
    what.add_argument("--flops", type=float, help="training budget in FLOPs, e.g. 1e21")
    what.add_argument(
        "--params", type=float, help="model size in parameters, e.g. 7e9: tokens and FLOPs to match"
    )
    what.add_argument(
        "--hours", type=float, help="training time in hours; the budget comes from the hardware flags"
    )
    p.add_argument(
        "--gpus", type=int, help="number of accelerators (needed with --hours; adds a time column)"
    )
    p.add_argument("--gpu", help="accelerator name (h100, a100, ...) or its peak FLOP/s, e.g. 989e12")
    p.add_argument("--mfu", type=float, default=0.4, help="model FLOPs utilisation in (0, 1] (default 0.4)")
    p.set_defaults(handler=_run_chinchilla)


def _run_chinchilla(args: argparse.Namespace) -> int:
    import math

    from llmguide import scaling

    def positive(flag: str, value: float) -> float:
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"{flag} must be a finite number > 0, got {value!r}")
        return value

    if args.flops is None and args.params is None and args.hours is None:
        raise ValueError("give one of --flops, --params or --hours")
    gpu: str | float | None = args.gpu
    if gpu is not None:
        try:
            gpu = float(gpu)
        except ValueError:
            pass  # a name: checked by scaling.peak_flops
    hardware = args.gpus is not None or gpu is not None
    if hardware:
        if args.gpus is None or gpu is None:
            raise ValueError("--gpus and --gpu go together")
        if args.gpus < 1:
            raise ValueError(f"--gpus must be a whole number >= 1, got {args.gpus}")
        peak = scaling.peak_flops(gpu)
        if not 0 < args.mfu <= 1:
            raise ValueError(f"--mfu must be in (0, 1], got {args.mfu!r}")
    elif args.hours is not None:
        raise ValueError("--hours needs --gpus and --gpu")

    if args.hours is not None:
        budget = scaling.compute_budget(
            gpus=args.gpus, hours=positive("--hours", args.hours), gpu=gpu, mfu=args.mfu
        )
        print(
            f"Budget: {args.gpus} x {gpu if isinstance(gpu, str) else 'GPU'} ({peak / 1e12:.0f} TFLOP/s peak) "
            f"for {args.hours:g} h at {args.mfu:.0%} MFU = {budget:.2e} FLOPs"
        )
    elif args.flops is not None:
        budget = positive("--flops", args.flops)
        print(f"Budget: {budget:.2e} FLOPs")
    else:
        n_params = positive("--params", args.params)
        print(f"Model: {n_params:.2e} parameters")

    timed = hardware and args.hours is None
    head = f"{'method':<24}{'params':>10}{'tokens':>10}{'tokens/param':>14}{'FLOPs':>10}"
    print(head + (f"{'hours':>9}" if timed else ""))
    for method in scaling.METHODS:
        if args.params is None:
            n, d = scaling.compute_optimal(budget, method=method)
        else:
            n, d = n_params, scaling.compute_optimal_tokens(n_params, method=method)
        line = f"{scaling.method_label(method):<24}{n:>10.2e}{d:>10.2e}{d / n:>14.1f}{6 * n * d:>10.2e}"
        if timed:
            line += f"{scaling.training_hours(n, d, gpus=args.gpus, gpu=gpu, mfu=args.mfu):>9.0f}"
        print(line)
    return 0


# --------------------------------------------------------------------------------------------------------------
# llmguide train (docs/transformers.md)
# --------------------------------------------------------------------------------------------------------------


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a small byte-level GPT and save a checkpoint",
        description="Train a GPT on UTF-8 bytes (the corpus shipped with llmguide, or --text FILE) with AdamW, "
        "warmup and cosine decay, and write a checkpoint that `llmguide generate` reads. Under `torchrun` it "
        "trains with DistributedDataParallel, --batch-size rows per step over all processes.",
    )
    p.add_argument("--out", required=True, help="where to write the checkpoint, e.g. checkpoints/tiny.pt")
    p.add_argument("--model", choices=["gpt"], default="gpt", help="architecture (only gpt can be saved)")
    p.add_argument("--text", help="UTF-8 text file to train on (default: the corpus shipped with llmguide)")
    p.add_argument("--steps", type=int, default=500, help="optimizer steps (default 500)")
    p.add_argument("--batch-size", type=int, default=16, help="sequences per step (default 16)")
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (default 3e-3)")
    p.add_argument("--block-size", type=int, default=128, help="context length in bytes (default 128)")
    p.add_argument("--n-layer", type=int, default=4, help="transformer blocks (default 4)")
    p.add_argument("--n-head", type=int, default=4, help="attention heads per block (default 4)")
    p.add_argument("--n-embd", type=int, default=128, help="width of the residual stream (default 128)")
    p.add_argument("--dropout", type=float, default=0.0, help="dropout probability in [0, 1) (default 0)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the batches (default 0)")
    p.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the best available)")
    p.set_defaults(handler=_run_train)


def _as_flag_error(exc: ValueError, flags: dict[str, str]) -> ValueError:
    """The same error, with the parameter name it starts with replaced by the command-line flag."""
    message = str(exc)
    for name, flag in flags.items():
        if message.startswith(name):
            return ValueError(flag + message[len(name) :])
    return exc


def _run_train(args: argparse.Namespace) -> int:
    import os
    import time
    from pathlib import Path

    import torch

    from llmguide.checkpoint import save_checkpoint
    from llmguide.data import TextData, corpus_data, encode, split_tokens
    from llmguide.model import GPT, GPTConfig
    from llmguide.train import train

    flags = {
        "block_size": "--block-size",
        "n_layer": "--n-layer",
        "n_head": "--n-head",
        "n_embd": "--n-embd",
        "dropout": "--dropout",
        "steps": "--steps",
        "batch_size": "--batch-size",
        "lr": "--lr",
        "device": "--device",
    }
    try:
        config = GPTConfig(
            block_size=args.block_size,
            n_layer=args.n_layer,
            n_head=args.n_head,
            n_embd=args.n_embd,
            dropout=args.dropout,
        )
    except ValueError as exc:
        raise _as_flag_error(exc, flags) from None
    if args.text is None:
        data = corpus_data(block_size=args.block_size)
    else:
        try:
            text = Path(args.text).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"--text: cannot read {args.text!r} as UTF-8 text: {exc}") from None
        train_ids, val_ids = split_tokens(torch.tensor(encode(text), dtype=torch.long))
        if val_ids.numel() < args.block_size + 1:
            raise ValueError(
                f"--text: the file is too short for --block-size {args.block_size}: its last tenth, held "
                f"out for validation, must hold more than {args.block_size} bytes"
            )
        data = TextData(train=train_ids, val=val_ids, block_size=args.block_size)
    torch.manual_seed(args.seed)
    model = GPT(config)
    start = time.perf_counter()
    try:
        history = train(
            model,
            data,
            steps=args.steps,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            device=args.device,
        )
    except ValueError as exc:
        raise _as_flag_error(exc, flags) from None
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun, the first process reports and saves
        return 0
    print(f"model: GPT, {model.num_params():,} parameters, block size {config.block_size}")
    print(f"trained {args.steps} steps on {history.tokens_seen:,} tokens")
    print(f"validation loss: {history.val_loss[0]:.2f} -> {history.val_loss[-1]:.2f} nats per byte")
    print(f"saved {save_checkpoint(args.out, model)}")
    print(f"took {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------------------------------------------
# llmguide generate (docs/transformers.md)
# --------------------------------------------------------------------------------------------------------------


def _add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="continue a prompt with a GPT checkpoint (byte-level tokens)",
        description="Load a checkpoint written by `llmguide train` (or llmguide.checkpoint.save_checkpoint), "
        "encode the prompt as UTF-8 bytes, sample new tokens and print the prompt with its continuation.",
    )
    p.add_argument("--checkpoint", required=True, help="path of the checkpoint file")
    p.add_argument("--prompt", required=True, help="text to continue (at least one character)")
    p.add_argument("--max-new-tokens", type=int, default=200, help="new tokens (bytes) to add (default 200)")
    p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature >= 0; 0 is greedy")
    p.add_argument("--top-k", type=int, help="sample among the k most likely tokens only")
    p.add_argument("--top-p", type=float, help="nucleus sampling: smallest set of mass >= p, p in (0, 1]")
    p.add_argument("--min-p", type=float, help="keep tokens with probability >= p times the top one")
    p.add_argument("--seed", type=int, help="seed for reproducible sampling (default: random)")
    p.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the best available)")
    p.set_defaults(handler=_run_generate)


def _run_generate(args: argparse.Namespace) -> int:
    import torch

    from llmguide.checkpoint import load_checkpoint
    from llmguide.data import decode, encode

    if not args.prompt:
        raise ValueError("--prompt must hold at least one character")
    if args.max_new_tokens < 0:
        raise ValueError(f"--max-new-tokens must be >= 0, got {args.max_new_tokens}")
    try:
        model = load_checkpoint(args.checkpoint, device=args.device)
    except FileNotFoundError as exc:
        raise ValueError(f"--checkpoint: {exc}") from None
    if model.config.vocab_size != 256:
        raise ValueError(
            f"--checkpoint: the model has vocab_size={model.config.vocab_size}; the byte tokenizer needs 256"
        )
    device = model.lm_head.weight.device
    generator = None
    if args.seed is not None:
        generator = torch.Generator(device=device).manual_seed(args.seed)
    idx = torch.tensor([encode(args.prompt)], device=device)
    out = model.generate(
        idx,
        args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        min_p=args.min_p,
        generator=generator,
    )
    print(decode(out[0].tolist()))
    return 0


# --------------------------------------------------------------------------------------------------------------
# llmguide memory (docs/memory.md)
# --------------------------------------------------------------------------------------------------------------


def _add_memory(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "memory",
        help="memory to serve or train a model (weights, KV cache, gradients, optimizer, activations)",
        description="Print the memory a model needs to serve it, or with --train to train it, per GPU, in GB "
        "(10^9 bytes) and GiB (2^30 bytes). Name a preset (see --list) or describe a model with --params or "
        "the shape flags.",
    )
    p.add_argument("model", nargs="?", help="a preset name, e.g. llama-2-7b (see --list)")
    p.add_argument("--list", action="store_true", help="list the presets with their parameter counts")
    p.add_argument("--dtype", default="bf16", help="weight format for serving: fp32 fp16 bf16 fp8 int8 int4")
    p.add_argument("--batch-size", type=int, default=1, help="sequences per step (per GPU when training)")
    p.add_argument("--seq-len", type=int, help="tokens per sequence (default: the model's context length)")
    p.add_argument(
        "--gpu-memory", help="memory per GPU, e.g. 80GB or 24GiB: say whether it fits, and on how many"
    )
    t = p.add_argument_group("training (with --train)")
    t.add_argument("--train", action="store_true", help="size training instead of serving")
    t.add_argument("--precision", default="mixed", help="mixed (16-bit weights, fp32 master copy) or fp32")
    t.add_argument("--optimizer", default="adamw", help="adamw, adamw8bit, sgd_momentum or sgd")
    t.add_argument("--checkpointing", action="store_true", help="activation checkpointing (recompute)")
    t.add_argument("--flash-attention", action="store_true", help="attention kernel stores no score matrix")
    t.add_argument("--no-dropout", action="store_true", help="the model trains without dropout (no masks)")
    t.add_argument("--gpus", type=int, default=1, help="data-parallel GPUs (default 1)")
    t.add_argument("--zero", type=int, default=0, help="ZeRO stage 0-3 (3 = FSDP full sharding)")
    c = p.add_argument_group("custom model (instead of a preset)")
    c.add_argument("--params", help="parameter count alone, e.g. 7e9 (sizes weights and optimizer only)")
    c.add_argument("--arch", default="llama", help="gpt2 or llama (default llama)")
    c.add_argument("--layers", type=int, help="transformer blocks")
    c.add_argument("--hidden", type=int, help="model width")
    c.add_argument("--heads", type=int, help="attention (query) heads")
    c.add_argument("--kv-heads", type=int, help="key/value heads (default: --heads)")
    c.add_argument("--vocab", type=int, help="vocabulary size")
    c.add_argument("--intermediate", type=int, help="MLP hidden width (needed for llama)")
    c.add_argument("--context", type=int, help="context length (default: --seq-len)")
    c.add_argument("--tied", action="store_true", help="the output head reuses the token embedding")
    p.set_defaults(handler=_run_memory)


def _memory_model(args: argparse.Namespace) -> tuple[object, str]:
    """The model to size (a ModelSpec or an int count) and a one-line description of it."""
    from llmguide import sizing

    shape = {"--layers": args.layers, "--hidden": args.hidden, "--heads": args.heads, "--vocab": args.vocab}
    given = [name for name, flag in (("a preset", args.model), ("--params", args.params)) if flag is not None]
    if any(v is not None for v in shape.values()):
        given.append("shape flags")
    if len(given) != 1:
        raise ValueError(
            f"give exactly one of a preset name, --params or the shape flags (got {given or 'none'})"
        )
    if args.model is not None:
        spec = sizing.get_model(args.model)
        return spec, f"{spec.name}: {sizing.param_count(spec):,} parameters (shape: {spec.source})"
    if args.params is not None:
        try:
            count = float(args.params)
        except ValueError:
            raise ValueError(f"--params must be a number such as 7e9, got {args.params!r}") from None
        if not (count >= 1 and count == int(count)):
            raise ValueError(f"--params must be a whole number >= 1, got {args.params!r}")
        return int(count), f"a model of {int(count):,} parameters"
    missing = [name for name, value in shape.items() if value is None]
    if missing:
        raise ValueError(f"a custom shape needs {', '.join(missing)}")
    context = args.context or args.seq_len
    if context is None:
        raise ValueError("a custom shape needs --context or --seq-len")
    spec = sizing.ModelSpec(
        name="custom",
        arch=args.arch,
        n_layer=args.layers,
        n_embd=args.hidden,
        n_head=args.heads,
        n_kv_head=args.kv_heads,
        vocab_size=args.vocab,
        context_length=context,
        intermediate_size=args.intermediate,
        tied_embeddings=True if args.tied else None,
    )
    return spec, f"custom {args.arch}-style model: {sizing.param_count(spec):,} parameters"


def _run_memory(args: argparse.Namespace) -> int:
    from llmguide import sizing

    if args.list:
        print(
            f"{'preset':<12} {'parameters':>17} {'layers':>7} {'width':>6} {'heads':>6} {'kv':>3} {'context':>8}"
        )
        for name, s in sizing.MODELS.items():
            print(
                f"{name:<12} {sizing.param_count(s):>17,} {s.n_layer:>7} {s.n_embd:>6} {s.n_head:>6} "
                f"{s.n_kv_head:>3} {s.context_length:>8}"
            )
        return 0
    model, description = _memory_model(args)
    gpu = sizing.parse_bytes(args.gpu_memory) if args.gpu_memory is not None else None
    print(description)
    seq = args.seq_len or getattr(model, "context_length", None)
    tokens = f"batch {args.batch_size} x {seq} tokens" if seq else f"batch {args.batch_size}"
    if not args.train:
        mem = sizing.inference_memory(
            model, dtype=args.dtype, batch_size=args.batch_size, seq_len=args.seq_len
        )
        print(mem.table(f"Serving, {args.dtype} weights, {tokens}"))
        if gpu is not None:
            fits = "fits" if mem.total <= gpu else "does not fit"
            print(
                f"on one {sizing.format_bytes(gpu, 'GB')} GPU: {fits}; GPUs to hold it (split by tensor or "
                f"pipeline parallelism, ignoring their overheads): {-(-mem.total // gpu)}"
            )
        return 0
    options = dict(
        precision=args.precision,
        optimizer=args.optimizer,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        activation_checkpointing=args.checkpointing,
        flash_attention=args.flash_attention,
        dropout=not args.no_dropout,
        zero_stage=args.zero,
    )
    mem = sizing.training_memory(model, n_gpus=args.gpus, **options)
    extras = [
        s
        for s, on in (
            ("activation checkpointing", args.checkpointing),
            ("flash attention", args.flash_attention),
            ("no dropout", args.no_dropout),
        )
        if on
    ]
    title = (
        f"Training per GPU: {args.precision} precision, {args.optimizer}, {tokens}"
        f"{''.join(', ' + e for e in extras)}, ZeRO stage {args.zero} on {args.gpus} GPU(s)"
    )
    print(mem.table(title))
    if gpu is not None:
        fits = "fits" if mem.total <= gpu else "does not fit"
        print(f"on {args.gpus} GPU(s) of {sizing.format_bytes(gpu, 'GB')}: {fits}")
        try:
            need = sizing.gpus_needed(model, gpu_memory=gpu, **options)
            print(
                f"smallest number of {sizing.format_bytes(gpu, 'GB')} GPUs at ZeRO stage {args.zero}: {need}"
            )
        except ValueError as exc:
            print(exc)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
