"""The `llmguide` command line (also `python -m llmguide`).

Each subcommand is one `_add_<name>` function that declares its flags and one `_run_<name>` function that
does the work. Heavy imports (torch) happen inside the `_run_` functions, so `llmguide --help` stays fast.

Errors are one line on stderr, never a stack trace (set `LLMGUIDE_DEBUG=1` to see one):

- Bad input exits with status 2 and a message naming the flag. The library's errors name its parameters
  (`n_embd must be ...`) and carry their names (`.params`, set by `llmguide.validate.parameter_error`);
  each flag's `dest` is the parameter it sets, so the message is shown with the flags instead
  (`--n-embd must be ...`).
  An error that names no parameter but comes from one flag's value (a file that cannot be read or written,
  a size that cannot be parsed) is blamed on that flag with `_blame`: `--out: cannot write a checkpoint to
  ...`.
- A run that fails after its input was accepted (training diverged, the machine ran out of memory) exits
  with status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from llmguide import __version__


class _Parser(argparse.ArgumentParser):
    """argparse, with its own errors on one line too (argparse prints the usage before them)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    # Every flag is recorded as it is added, with the parameter it sets (its dest): see `_flags`.
    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        return self._record(super().add_argument(*args, **kwargs))

    def add_argument_group(self, *args: Any, **kwargs: Any) -> Any:
        return self._recording(super().add_argument_group(*args, **kwargs))

    def add_mutually_exclusive_group(self, *args: Any, **kwargs: Any) -> Any:
        return self._recording(super().add_mutually_exclusive_group(*args, **kwargs))

    def _record(self, action: argparse.Action) -> argparse.Action:
        if action.dest != "help":
            flag = next((o for o in action.option_strings if o.startswith("--")), action.dest)
            self.flags = {**getattr(self, "flags", {}), action.dest: flag}
        return action

    def _recording(self, group: Any) -> Any:
        add = group.add_argument
        group.add_argument = lambda *args, **kwargs: self._record(add(*args, **kwargs))
        return group


class _Blamed(Exception):
    """`error`, raised while working on the value of `flag` (see `_blame`)."""

    def __init__(self, flag: str, error: Exception) -> None:
        super().__init__(str(error))
        self.flag, self.error = flag, error


@contextlib.contextmanager
def _blame(flag: str) -> Iterator[None]:
    """Attribute any error raised inside the block to `flag` (unless its message names a flag already)."""
    try:
        yield
    except Exception as error:
        raise _Blamed(flag, error) from error


def _flags(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each parameter a subcommand's flags set, and its flag: `{"n_embd": "--n-embd", "text": "--prompt"}`.

    A flag's `dest` is the name of the library parameter it sets, so the parser alone says which flag stands
    for which parameter (`_Parser` records them as they are added); a positional argument stands for itself.
    """
    return dict(getattr(parser, "flags", {}))


def _with_flags(message: str, params: Sequence[str], flags: dict[str, str]) -> str:
    """`message` with each of `params` that a flag sets, as a whole unquoted word, shown as its flag."""
    for name in sorted((p for p in params if p in flags), key=len, reverse=True):
        message = re.sub(rf"(?<![\w'\".-]){re.escape(name)}(?![\w'\"])", flags[name], message)
    return message


def _explain(error: Exception, flags: dict[str, str]) -> tuple[int, str]:
    """The exit status and the one-line message for an error raised by a subcommand."""
    flag = None
    if isinstance(error, _Blamed):
        flag, error = error.flag, error.error
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    message = lines[0] if lines else type(error).__name__
    # llmguide's errors about arguments carry the parameters they name (`llmguide.validate.parameter_error`)
    message = _with_flags(message, getattr(error, "params", ()), flags)
    ours = isinstance(error, (ValueError, TypeError, FloatingPointError))
    if not ours and not isinstance(error, OSError):
        message = f"{type(error).__name__}: {message}"  # unexpected: say what kind of error it was
    if flag is not None and (not ours or not any(f in message for f in (flag, *flags.values()))):
        message = f"{flag}: {message}"
    bad_input = isinstance(error, (ValueError, TypeError)) or (
        flag is not None and isinstance(error, OSError)
    )
    return (2 if bad_input else 1), message


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the `llmguide` command.

    For example:

    ```python
    from llmguide.cli import build_parser

    print(build_parser().prog)
    #> llmguide
    ```
    """
    parser = _Parser(
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

    Errors exit through `SystemExit` with one line on stderr: status 2 for bad input (the line names the
    flag), 1 for a run that failed, 130 for an interrupt.

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
    except KeyboardInterrupt:
        parser.exit(130, f"llmguide {args.command}: interrupted\n")
    except Exception as error:
        if os.environ.get("LLMGUIDE_DEBUG"):
            raise
        status, message = _explain(error, args.flags)
        parser.exit(status, f"llmguide {args.command}: error: {message}\n")
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
    what.add_argument("--flops", dest="compute_flops", type=float, help="training budget in FLOPs, e.g. 1e21")
    what.add_argument(
        "--params",
        dest="n_params",
        type=float,
        help="model size in parameters, e.g. 7e9: tokens and FLOPs to match",
    )
    what.add_argument(
        "--hours", type=float, help="training time in hours; the budget comes from the hardware flags"
    )
    p.add_argument(
        "--gpus", type=int, help="number of accelerators (needed with --hours; adds a time column)"
    )
    p.add_argument("--gpu", help="accelerator name (h100, a100, ...) or its peak FLOP/s, e.g. 989e12")
    p.add_argument(
        "--utilisation",
        type=float,
        default=0.4,
        help="6ND utilisation in (0, 1]: the share of the peak that 6 N D FLOPs account for (default 0.4); "
        "PaLM's MFU also counts the attention, so it reads a few percent higher for the same run",
    )
    p.set_defaults(handler=_run_chinchilla, flags=_flags(p))


def _run_chinchilla(args: argparse.Namespace) -> int:
    import math

    from llmguide import scaling

    def positive(flag: str, value: float) -> float:
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"{flag} must be a finite number > 0, got {value!r}")
        return value

    if args.compute_flops is None and args.n_params is None and args.hours is None:
        raise ValueError("give one of --flops, --params or --hours")
    # --utilisation has a default, so it is checked whether or not the hardware flags that use it are given.
    if not (math.isfinite(args.utilisation) and 0 < args.utilisation <= 1):
        raise ValueError(f"--utilisation must be in (0, 1], got {args.utilisation!r}")
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
    elif args.hours is not None:
        raise ValueError("--hours needs --gpus and --gpu")

    if args.hours is not None:
        budget = scaling.compute_budget(
            gpus=args.gpus, hours=positive("--hours", args.hours), gpu=gpu, utilisation=args.utilisation
        )
        intro = (
            f"Budget: {args.gpus} x {gpu if isinstance(gpu, str) else 'GPU'} ({peak / 1e12:.0f} TFLOP/s peak) "
            f"for {args.hours:g} h at {args.utilisation:.0%} 6ND utilisation = {budget:.2e} FLOPs"
        )
    elif args.compute_flops is not None:
        budget = positive("--flops", args.compute_flops)
        intro = f"Budget: {budget:.2e} FLOPs"
    else:
        n_params = positive("--params", args.n_params)
        intro = f"Model: {n_params:.2e} parameters"

    timed = hardware and args.hours is None
    # every row is computed before anything is printed (an error leaves no half table), the allocations first
    if args.n_params is None:
        allocations = {method: scaling.compute_optimal(budget, method=method) for method in scaling.METHODS}
    else:
        allocations = {
            method: (n_params, scaling.compute_optimal_tokens(n_params, method=method))
            for method in scaling.METHODS
        }
    lines = []
    for method, (n, d) in allocations.items():
        flops = scaling.training_flops(n, d)
        line = f"{scaling.method_label(method):<24}{n:>10.2e}{d:>10.2e}{d / n:>14.1f}{flops:>10.2e}"
        if timed:
            line += (
                f"{scaling.training_hours(n, d, gpus=args.gpus, gpu=gpu, utilisation=args.utilisation):>9.0f}"
            )
        lines.append(line)
    head = f"{'method':<24}{'params':>10}{'tokens':>10}{'tokens/param':>14}{'FLOPs':>10}"
    print(intro)
    print(head + (f"{'hours':>9}" if timed else ""))
    print("\n".join(lines))
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
    p.set_defaults(handler=_run_train, flags=_flags(p))


def _run_train(args: argparse.Namespace) -> int:
    import os
    import time
    from pathlib import Path

    import torch

    from llmguide.checkpoint import check_checkpoint_path, save_checkpoint
    from llmguide.data import TextData, corpus_data, encode, split_tokens
    from llmguide.device import resolve_device
    from llmguide.model import GPT, GPTConfig
    from llmguide.train import MAX_SEED, train
    from llmguide.validate import check_int

    # Everything that can be checked is checked before training, so that no time is spent on a run whose
    # result could not be saved.
    with _blame("--out"):
        out = check_checkpoint_path(args.out)
    device = resolve_device(args.device)  # the one place the flag is resolved; train gets the device
    check_int("seed", args.seed, minimum=0, maximum=MAX_SEED)  # before torch.manual_seed below sees it
    config = GPTConfig(
        block_size=args.block_size,
        n_layer=args.n_layer,
        n_head=args.n_head,
        n_embd=args.n_embd,
        dropout=args.dropout,
    )
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
    try:
        model = GPT(config)
    except (RuntimeError, MemoryError) as exc:  # the allocator refused: the sizes are too large
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(
            f"--block-size, --n-layer and --n-embd ask for a model too large for this machine ({reason})"
        ) from None
    start = time.perf_counter()
    # A diverging run (a non-finite loss) raises FloatingPointError here: nothing is saved.
    history = train(
        model,
        data,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        device=device,
    )
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun, the first process reports and saves
        return 0
    print(f"model: GPT, {model.num_params():,} parameters, block size {config.block_size}")
    print(f"trained {args.steps} steps on {history.tokens_seen:,} tokens")
    print(f"validation loss: {history.val_loss[0]:.2f} -> {history.val_loss[-1]:.2f} nats per byte")
    with _blame("--out"):
        saved = save_checkpoint(out, model)
    print(f"saved {saved}")
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
    p.add_argument("--prompt", dest="text", required=True, help="text to continue (at least one character)")
    p.add_argument("--max-new-tokens", type=int, default=200, help="new tokens (bytes) to add (default 200)")
    p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature >= 0; 0 is greedy")
    p.add_argument("--top-k", type=int, help="sample among the k most likely tokens only")
    p.add_argument("--top-p", type=float, help="nucleus sampling: smallest set of mass >= p, p in (0, 1]")
    p.add_argument("--min-p", type=float, help="keep tokens with probability >= p times the top one")
    p.add_argument("--seed", type=int, help="seed for reproducible sampling (default: random)")
    p.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the best available)")
    p.set_defaults(handler=_run_generate, flags=_flags(p))


def _run_generate(args: argparse.Namespace) -> int:
    import torch

    from llmguide.checkpoint import load_checkpoint
    from llmguide.data import VOCAB_SIZE, decode, encode
    from llmguide.device import resolve_device
    from llmguide.generation import generate
    from llmguide.sampling import check_sample_args
    from llmguide.validate import check_int

    # the flags first, then the file: a mistyped flag is reported without loading anything
    if not args.text:
        raise ValueError("--prompt must hold at least one character")
    ids = encode(args.text)
    check_int("max_new_tokens", args.max_new_tokens, minimum=0)
    check_sample_args(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, min_p=args.min_p)
    if args.seed is not None:
        check_int("seed", args.seed, minimum=0, maximum=2**64 - 1)
    device = resolve_device(args.device)
    with _blame("--checkpoint"):
        model = load_checkpoint(args.checkpoint, device=device)
    if model.config.vocab_size != VOCAB_SIZE:
        raise ValueError(
            f"--checkpoint: the model has vocab_size={model.config.vocab_size}; the byte tokenizer needs "
            f"{VOCAB_SIZE}"
        )
    generator = None
    if args.seed is not None:
        generator = torch.Generator(device=device).manual_seed(args.seed)
    out = generate(
        model,
        torch.tensor([ids], device=device),
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
    p.add_argument(
        "--embedding-dtype",
        help="format of the embeddings and output head when serving (default: bf16 for int8/int4, else --dtype)",
    )
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
    t.add_argument(
        "--loss",
        default="cross_entropy",
        help="what the output layer and loss keep: cross_entropy (fp32 logits and log-softmax, the default), "
        "logits (fp32 logits only), chunked (chunked/fused cross-entropy), excluded (blocks only)",
    )
    t.add_argument("--gpus", dest="n_gpus", type=int, default=1, help="data-parallel GPUs (default 1)")
    t.add_argument(
        "--zero", dest="zero_stage", type=int, default=0, help="ZeRO stage 0-3 (3 = FSDP full sharding)"
    )
    t.add_argument(
        "--tensor-parallel",
        type=int,
        default=1,
        help="GPUs each replica's matrices are split over (Megatron tensor parallelism; --gpus counts replicas)",
    )
    t.add_argument(
        "--sequence-parallel",
        action="store_true",
        help="with tensor parallelism, also split norms and dropouts",
    )
    c = p.add_argument_group("custom model (instead of a preset)")
    c.add_argument("--params", help="parameter count alone, e.g. 7e9 (sizes weights and optimizer only)")
    c.add_argument("--arch", default="llama", help="gpt2 or llama (default llama)")
    c.add_argument("--layers", dest="n_layer", type=int, help="transformer blocks")
    c.add_argument("--hidden", dest="n_embd", type=int, help="model width")
    c.add_argument("--heads", dest="n_head", type=int, help="attention (query) heads")
    c.add_argument("--kv-heads", dest="n_kv_head", type=int, help="key/value heads (default: --heads)")
    c.add_argument("--vocab", dest="vocab_size", type=int, help="vocabulary size")
    c.add_argument(
        "--intermediate", dest="intermediate_size", type=int, help="MLP hidden width (needed for llama)"
    )
    c.add_argument("--context", dest="context_length", type=int, help="context length (default: --seq-len)")
    c.add_argument("--tied", action="store_true", help="the output head reuses the token embedding")
    p.set_defaults(handler=_run_memory, flags=_flags(p))


def _memory_model(args: argparse.Namespace) -> tuple[object, str]:
    """The model to size (a ModelSpec or an int count) and a one-line description of it."""
    import math

    from llmguide import sizing

    shape = {
        "--layers": args.n_layer,
        "--hidden": args.n_embd,
        "--heads": args.n_head,
        "--vocab": args.vocab_size,
    }
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
        if not math.isfinite(count):
            raise ValueError(f"--params must be a finite number such as 7e9, got {args.params!r}")
        if not (count >= 1 and count == int(count)):
            raise ValueError(f"--params must be a whole number >= 1, got {args.params!r}")
        return int(count), f"a model of {int(count):,} parameters"
    missing = [name for name, value in shape.items() if value is None]
    if missing:
        raise ValueError(f"a custom shape needs {', '.join(missing)}")
    context = args.context_length if args.context_length is not None else args.seq_len
    if context is None:
        raise ValueError("a custom shape needs --context or --seq-len")
    spec = sizing.ModelSpec(
        name="custom",
        arch=args.arch,
        n_layer=args.n_layer,
        n_embd=args.n_embd,
        n_head=args.n_head,
        n_kv_head=args.n_kv_head,
        vocab_size=args.vocab_size,
        context_length=context,
        intermediate_size=args.intermediate_size,
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
    with _blame("--gpu-memory"):
        gpu = sizing.parse_bytes(args.gpu_memory) if args.gpu_memory is not None else None
    print(description)
    seq = args.seq_len or getattr(model, "context_length", None)
    tokens = f"batch {args.batch_size} x {seq} tokens" if seq else f"batch {args.batch_size}"
    if not args.train:
        mem = sizing.inference_memory(
            model,
            dtype=args.dtype,
            batch_size=args.batch_size,
            seq_len=args.seq_len,
            embedding_dtype=args.embedding_dtype,
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
        zero_stage=args.zero_stage,
        tensor_parallel=args.tensor_parallel,
        sequence_parallel=args.sequence_parallel,
        loss=args.loss,
    )
    mem = sizing.training_memory(model, n_gpus=args.n_gpus, **options)
    extras = [
        s
        for s, on in (
            ("activation checkpointing", args.checkpointing),
            ("flash attention", args.flash_attention),
            ("no dropout", args.no_dropout),
            (f"tensor parallel {args.tensor_parallel}", args.tensor_parallel != 1),
            ("sequence parallel", args.sequence_parallel),
            (f"loss {args.loss}", args.loss != "cross_entropy"),
        )
        if on
    ]
    replicas = (
        f"{args.n_gpus} GPU(s)"
        if args.tensor_parallel == 1
        else f"{args.n_gpus} replica(s) x {args.tensor_parallel} GPUs"
    )
    title = (
        f"Training per GPU: {args.precision} precision, {args.optimizer}, {tokens}"
        f"{''.join(', ' + e for e in extras)}, ZeRO stage {args.zero_stage} on {replicas}"
    )
    print(mem.table(title))
    if gpu is not None:
        fits = "fits" if mem.total <= gpu else "does not fit"
        print(f"on {replicas} of {sizing.format_bytes(gpu, 'GB')}: {fits}")
        try:
            need = sizing.gpus_needed(model, gpu_memory=gpu, **options)
            print(
                f"smallest number of {sizing.format_bytes(gpu, 'GB')} GPUs at ZeRO stage {args.zero_stage}: {need}"
            )
        except ValueError as exc:
            print(exc)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
