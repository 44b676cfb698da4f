"""How much memory a decoder-only language model needs, to serve it and to train it.

Everything here is arithmetic on a model's shape: no torch, no weights. All sizes are in **bytes** (Python
ints); only the printed tables convert, and they say which unit they use: decimal GB (10**9 bytes) or binary
GiB (2**30 bytes).

- `ModelSpec` describes a GPT-2-style decoder (learned positions, LayerNorm, GELU MLP, tied head) or a
  Llama-style one (RoPE, RMSNorm, SwiGLU MLP, grouped-query attention, untied head); `MODELS` holds
  published models by name, each with the source of its shape.
- `param_count` counts parameters exactly (it reproduces the published counts; for `llmguide.model.GPTConfig`
  it equals the number of parameters of `llmguide.model.GPT`).
- `inference_memory`, `weight_bytes` and `kv_cache_bytes` size serving (quantised weights keep the embeddings
  in 16 bits, as GPTQ and AWQ do in Hugging Face; `int4_weight_bytes` sizes each library's 4-bit layout);
  `decode_tokens_per_second` bounds the forward passes per second by memory bandwidth.
- `training_memory` sizes training per GPU, with mixed precision, several optimizers, activation
  checkpointing, ZeRO sharding and tensor/sequence parallelism; `activation_bytes` counts activations for
  GPT-style and Llama-style blocks; `gpus_needed` answers "how many GPUs of this size".
- `lora_params` and `lora_memory` size LoRA and QLoRA fine-tuning.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, replace
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

from llmguide.validate import (
    check_bool,
    check_choice,
    check_instance,
    check_int,
    parameter_error,
)

__all__ = [
    "BYTES_PER_PARAM",
    "INT4_CONVENTIONS",
    "LOSSES",
    "MODELS",
    "NF4_BYTES_PER_PARAM",
    "OPTIMIZERS",
    "PRECISIONS",
    "InferenceMemory",
    "ModelSpec",
    "TrainingMemory",
    "activation_bytes",
    "decode_tokens_per_second",
    "format_bytes",
    "get_model",
    "gpus_needed",
    "inference_memory",
    "int4_weight_bytes",
    "kv_cache_bytes",
    "lora_memory",
    "lora_params",
    "param_count",
    "parse_bytes",
    "training_memory",
    "weight_bytes",
]

#: Bytes needed to store one number in each format. int4 packs two numbers per byte; quantised formats
#: also store a scale per group of weights (about 0.125-0.25 extra bits per weight for groups of 64-128),
#: which this table leaves out.
BYTES_PER_PARAM: dict[str, float] = {
    "fp32": 4.0,
    "fp16": 2.0,
    "bf16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,
}

#: Bytes per weight of QLoRA's 4-bit NormalFloat with double quantisation (Dettmers et al. 2023,
#: arXiv:2305.14314, section 3): 4 bits per weight, one 8-bit scale per block of 64 weights, and one 32-bit
#: scale per 256 of those scales, `4 + 8/64 + 32/(64*256)` = 4.127 bits.
NF4_BYTES_PER_PARAM: Fraction = Fraction(4 * 64 * 256 + 8 * 256 + 32, 64 * 256 * 8)

#: What the output layer and the loss keep for the backward pass, beyond the final norm's and the output
#: projection's inputs, in bytes per token and vocabulary entry (see `activation_bytes`):
#: `"cross_entropy"`: PyTorch's `F.cross_entropy` on fp32 logits, which the caller holds while its
#: `log_softmax` saves an fp32 output of the same size (4 + 4); `"logits"`: the fp32 logits alone, as
#: Korthikanti et al. 2022 (section 4.3) count them for Megatron's fused cross-entropy, which computes the
#: softmax in place; `"chunked"`: chunked or fused linear cross-entropy (Wijmans et al. 2024, "Cut Your Losses
#: in Large-Vocabulary Language Models", arXiv:2411.09009), which never holds the logits of the whole batch.
#: `"excluded"` (not a key here) leaves the final norm, the output layer and the loss out altogether, as the
#: paper's per-block equations do.
LOSSES: dict[str, int] = {"cross_entropy": 8, "logits": 4, "chunked": 0}

#: Training precisions: "fp32" keeps everything in 32-bit floats; "mixed" is the ZeRO paper's mixed
#: precision (16-bit weights and gradients, a 32-bit master copy of the weights held by the optimizer).
PRECISIONS: tuple[str, ...] = ("mixed", "fp32")

#: Optimizer state bytes per parameter, not counting the 32-bit master weights of mixed precision:
#: AdamW two 32-bit moments; 8-bit AdamW (bitsandbytes) two 8-bit moments (its small per-block scales are left
#: out); SGD with momentum one 32-bit buffer; plain SGD none.
OPTIMIZERS: dict[str, int] = {"adamw": 8, "adamw8bit": 2, "sgd_momentum": 4, "sgd": 0}

ARCHS: tuple[str, ...] = ("gpt2", "llama")

_DECIMAL = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_BINARY = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
UNITS: dict[str, int] = {**_DECIMAL, **_BINARY}


# ---------------------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------------------


def _check_int(name: str, value: Any, *, minimum: int = 1) -> int:
    return check_int(name, value, minimum=minimum)


def _check_choice(name: str, value: Any, allowed: Any) -> str:
    return check_choice(name, value, allowed)


def _check_optional_bool(name: str, value: Any) -> bool | None:
    return None if value is None else check_bool(name, value)


def _in_unit(n: int, unit: str) -> float | Decimal:
    """`n` bytes in `unit`: a float, or a Decimal for a size beyond a float's range (about 1.8e308)."""
    try:
        return n / UNITS[unit]  # int / int is correctly rounded
    except OverflowError:
        with localcontext() as context:
            context.prec = (
                len(str(n)) + 4
            )  # enough digits for the exact quotient (units are powers of 10 or 2)
            return Decimal(n) / UNITS[unit]


# ---------------------------------------------------------------------------------------------------------
# Units
# ---------------------------------------------------------------------------------------------------------


def format_bytes(n: int, unit: str = "GB", *, digits: int = 2) -> str:
    """Format a size in bytes in one unit, with the unit written after it.

    Args:
        n: a size in bytes (>= 0).
        unit: a decimal unit (`B`, `KB`, `MB`, `GB`, `TB`: powers of 1000) or a binary one (`KiB`, `MiB`,
            `GiB`, `TiB`: powers of 1024).
        digits: decimals to show.

    Returns:
        For example `"13.48 GB"`.

    Raises:
        TypeError: `n` is not an int, or `unit` not a string.
        ValueError: negative `n` or an unknown unit.

    For example:

    ```python
    from llmguide.sizing import format_bytes

    print(format_bytes(4_000_000_000, "GB"), "=", format_bytes(4_000_000_000, "GiB"))
    #> 4.00 GB = 3.73 GiB
    ```
    """
    n = check_int("n", n, minimum=0)
    _check_choice("unit", unit, UNITS)
    digits = check_int("digits", digits, minimum=0)
    return f"{_in_unit(n, unit):.{digits}f} {unit}"


_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*$")


def parse_bytes(text: str) -> int:
    """Read a size such as `"80GB"`, `"80 GiB"` or `"1.5e9"` (bytes) and return it in bytes.

    Args:
        text: a positive number followed by an optional unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB; the
            unit's case is ignored except that `i` marks a binary unit). No unit means bytes.

    Returns:
        The size in bytes, rounded down to a whole byte.

    Raises:
        TypeError: `text` is not a string.
        ValueError: not a number with a known unit, not positive, or too large for a float (beyond about
            1.8e308 bytes).

    For example:

    ```python
    from llmguide.sizing import parse_bytes

    print(parse_bytes("80GB"), parse_bytes("80GiB"))
    #> 80000000000 85899345920
    ```
    """
    check_instance("size", text, str, "a string such as '80GB'")
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"size must look like '80GB' or '24GiB', got {text!r}")
    number, unit = match.groups()
    unit = unit or "B"
    canonical = {key.lower(): key for key in UNITS}
    if unit.lower() not in canonical:
        raise ValueError(f"unknown size unit {unit!r} in {text!r}; valid: {', '.join(UNITS)}")
    size = float(number) * UNITS[canonical[unit.lower()]]
    if not math.isfinite(size):
        raise ValueError(
            f"size {text!r} is too large: it is beyond the range of a float (about 1.8e308 bytes)"
        )
    value = int(size)
    if value <= 0:
        raise ValueError(f"size must be positive, got {text!r}")
    return value


# ---------------------------------------------------------------------------------------------------------
# Model shapes
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """The shape of a decoder-only transformer: enough to count its parameters and size its memory.

    Two families are described. `arch="gpt2"`: learned position embeddings, LayerNorm, an MLP of two matrices
    with GELU between them (defaults: biases on, head tied to the token embedding). `arch="llama"`: rotary
    position embeddings (no parameters), RMSNorm (a scale, no bias), a SwiGLU MLP of three matrices
    (defaults: no biases, untied head). Both have two norms per block and a final norm.

    Args:
        name: a label, e.g. `"llama-2-7b"`.
        arch: `"gpt2"` or `"llama"`.
        n_layer: transformer blocks.
        n_embd: model width (hidden size), divisible by `n_head`.
        n_head: query heads.
        vocab_size: tokens in the vocabulary.
        context_length: longest sequence (tokens) the model is used with; also the number of learned position
            embeddings for `arch="gpt2"`.
        n_kv_head: key/value heads (grouped-query attention); `None` means `n_head` (ordinary multi-head
            attention). Must divide `n_head`.
        intermediate_size: MLP hidden width; `None` means `4 * n_embd` (only allowed for `arch="gpt2"`).
        bias: whether linear layers and LayerNorms have biases; `None` picks the family's default.
        tied_embeddings: whether the output head reuses the token embedding; `None` picks the family's default.
        sliding_window: attention window (tokens) if the model attends only to recent tokens (Mistral), which
            caps its KV cache; `None` for full attention.
        source: where the shape comes from.

    Raises:
        ValueError: a non-positive size, `n_embd` not divisible by `n_head`, `n_head` not divisible by
            `n_kv_head`, an unknown `arch`, or a missing `intermediate_size` for `arch="llama"`.
        TypeError: a size that is not an int, `bias` or `tied_embeddings` that is neither a bool nor None
            (the string `'false'` is not False), or a `name`, `arch` or `source` that is not a string.

    For example:

    ```python
    from llmguide.sizing import ModelSpec, param_count

    tiny = ModelSpec("tiny", arch="llama", n_layer=2, n_embd=64, n_head=4, n_kv_head=2,
                     vocab_size=100, context_length=128, intermediate_size=172)
    print(tiny.head_dim, param_count(tiny))
    #> 16 103744
    ```
    """

    name: str
    arch: str
    n_layer: int
    n_embd: int
    n_head: int
    vocab_size: int
    context_length: int
    n_kv_head: int | None = None
    intermediate_size: int | None = None
    bias: bool | None = None
    tied_embeddings: bool | None = None
    sliding_window: int | None = None
    source: str = ""

    def __post_init__(self) -> None:
        check_instance("name", self.name, str, "a str")
        check_instance("source", self.source, str, "a str")
        _check_choice("arch", self.arch, ARCHS)
        _check_optional_bool("bias", self.bias)
        _check_optional_bool("tied_embeddings", self.tied_embeddings)
        for field_name in ("n_layer", "n_embd", "n_head", "vocab_size", "context_length"):
            _check_int(field_name, getattr(self, field_name))
        # Fill the family defaults (the dataclass is frozen, hence object.__setattr__).
        if self.n_kv_head is None:
            object.__setattr__(self, "n_kv_head", self.n_head)
        if self.intermediate_size is None:
            if self.arch == "llama":
                raise parameter_error(
                    ValueError,
                    "intermediate_size is required for arch='llama' (SwiGLU has no fixed ratio)",
                    ("intermediate_size", "arch"),
                )
            object.__setattr__(self, "intermediate_size", 4 * self.n_embd)
        if self.bias is None:
            object.__setattr__(self, "bias", self.arch == "gpt2")
        if self.tied_embeddings is None:
            object.__setattr__(self, "tied_embeddings", self.arch == "gpt2")
        _check_int("n_kv_head", self.n_kv_head)
        _check_int("intermediate_size", self.intermediate_size)
        if self.sliding_window is not None:
            _check_int("sliding_window", self.sliding_window)
        if self.n_embd % self.n_head:
            raise parameter_error(
                ValueError,
                f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head}): each head gets "
                f"n_embd / n_head dimensions",
                ("n_embd", "n_head"),
            )
        if self.n_head % self.n_kv_head or self.n_kv_head > self.n_head:
            raise parameter_error(
                ValueError,
                f"n_kv_head ({self.n_kv_head}) must divide n_head ({self.n_head}): each key/value head serves "
                f"a whole group of query heads",
                ("n_kv_head", "n_head"),
            )

    @property
    def head_dim(self) -> int:
        """Dimensions per attention head, `n_embd // n_head`."""
        return self.n_embd // self.n_head

    @classmethod
    def from_gpt_config(cls, config: Any, name: str = "GPT") -> ModelSpec:
        """The spec of `llmguide.model.GPT(config)`: a GPT-2-style decoder with a tied head.

        Args:
            config: a `llmguide.model.GPTConfig` (or any object with `vocab_size`, `block_size`, `n_layer`,
                `n_head`, `n_embd` and `bias`).
            name: a label for the spec.

        Returns:
            The equivalent `ModelSpec`.

        For example:

        ```python
        from types import SimpleNamespace
        from llmguide.sizing import ModelSpec

        cfg = SimpleNamespace(vocab_size=256, block_size=64, n_layer=2, n_head=4, n_embd=64, bias=False)
        print(ModelSpec.from_gpt_config(cfg).intermediate_size)
        #> 256
        ```
        """
        return cls(
            name=name,
            arch="gpt2",
            n_layer=config.n_layer,
            n_embd=config.n_embd,
            n_head=config.n_head,
            vocab_size=config.vocab_size,
            context_length=config.block_size,
            bias=bool(config.bias),
            tied_embeddings=True,
            source="llmguide.model.GPTConfig",
        )


def _gpt2(name: str, n_layer: int, n_embd: int, n_head: int) -> ModelSpec:
    source = f"https://huggingface.co/openai-community/{name}/blob/main/config.json"
    return ModelSpec(
        name, "gpt2", n_layer, n_embd, n_head, vocab_size=50257, context_length=1024, source=source
    )


def _llama(
    name: str,
    n_layer: int,
    n_embd: int,
    n_head: int,
    n_kv_head: int,
    ffn: int,
    vocab: int,
    context: int,
    repo: str,
) -> ModelSpec:
    source = f"https://huggingface.co/{repo}/blob/main/config.json"
    return ModelSpec(
        name,
        "llama",
        n_layer,
        n_embd,
        n_head,
        vocab_size=vocab,
        context_length=context,
        n_kv_head=n_kv_head,
        intermediate_size=ffn,
        source=source,
    )


_GPT3_SOURCE = (
    "Brown et al. 2020, 'Language Models are Few-Shot Learners', Table 2.1: 96 layers, d_model 12288, 96 heads, "
    "context 2048. Assumed (no config was published): GPT-2's vocabulary of 50257, learned positions, biases, "
    "a 4x MLP and a tied head; the paper rounds its size to 175.0B"
)

#: Published models by name, each with the source of its shape. GPT-2: the checkpoints' config.json (n_layer,
#: n_embd, n_head; vocab 50257, n_ctx 1024, tied head). Llama and Mistral: the Hugging Face config.json
#: (num_hidden_layers, hidden_size, num_attention_heads, num_key_value_heads, intermediate_size, vocab_size,
#: max_position_embeddings; tie_word_embeddings false). Mistral's sliding_window (4096) caps its KV cache.
MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        _gpt2("gpt2", 12, 768, 12),
        _gpt2("gpt2-medium", 24, 1024, 16),
        _gpt2("gpt2-large", 36, 1280, 20),
        _gpt2("gpt2-xl", 48, 1600, 25),
        ModelSpec(
            "gpt3-175b", "gpt2", 96, 12288, 96, vocab_size=50257, context_length=2048, source=_GPT3_SOURCE
        ),
        # name           layers width heads kv  ffn    vocab   context  Hugging Face repository
        _llama("llama-2-7b", 32, 4096, 32, 32, 11008, 32000, 4096, "meta-llama/Llama-2-7b-hf"),
        _llama("llama-2-13b", 40, 5120, 40, 40, 13824, 32000, 4096, "meta-llama/Llama-2-13b-hf"),
        _llama("llama-2-70b", 80, 8192, 64, 8, 28672, 32000, 4096, "meta-llama/Llama-2-70b-hf"),
        _llama("llama-3-8b", 32, 4096, 32, 8, 14336, 128256, 8192, "meta-llama/Meta-Llama-3-8B"),
        _llama("mistral-7b", 32, 4096, 32, 8, 14336, 32000, 32768, "mistralai/Mistral-7B-v0.1"),
    ]
}
MODELS["mistral-7b"] = replace(MODELS["mistral-7b"], sliding_window=4096)


def get_model(name: str) -> ModelSpec:
    """Look up a preset of `MODELS` by name.

    Args:
        name: a key of `MODELS`, e.g. `"llama-2-7b"`.

    Returns:
        The preset's `ModelSpec`.

    Raises:
        TypeError: `name` is not a string.
        ValueError: unknown name; the message suggests the closest names.

    For example:

    ```python
    from llmguide.sizing import get_model

    print(get_model("llama-3-8b").n_kv_head)
    #> 8
    ```
    """
    check_instance("name", name, str, "a preset name (a str)")
    if name in MODELS:
        return MODELS[name]
    close = difflib.get_close_matches(str(name).lower(), list(MODELS), n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    raise ValueError(f"unknown model {name!r}; {hint}valid: {', '.join(MODELS)}")


def _spec(model: Any) -> ModelSpec:
    """A ModelSpec from a spec, a preset name or a GPTConfig-like object."""
    if isinstance(model, ModelSpec):
        return model
    if isinstance(model, str):
        return get_model(model)
    if all(hasattr(model, a) for a in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd", "bias")):
        return ModelSpec.from_gpt_config(model)
    raise TypeError(
        f"model must be a ModelSpec, a preset name or a GPTConfig, got {type(model).__name__}; "
        f"to size a model from its parameter count alone, pass an int"
    )


def param_count(model: ModelSpec | str | Any) -> int:
    """Count the parameters of a model exactly, from its shape.

    Per block: the attention projections (queries `n_embd x n_embd`, keys and values
    `n_embd x n_kv_head*head_dim` each, output `n_embd x n_embd`), the MLP (two matrices for GELU, three for
    SwiGLU), two norms, and biases if the spec has them. Plus the token embedding, learned position
    embeddings (GPT-2 style only), the final norm, and the output head unless it is tied.

    Args:
        model: a `ModelSpec`, a preset name of `MODELS`, or a `llmguide.model.GPTConfig`.

    Returns:
        The number of parameters.

    Raises:
        ValueError: unknown preset name.
        TypeError: any other kind of `model`.

    For example:

    ```python
    from llmguide.sizing import param_count

    print(f"{param_count('gpt2'):,} {param_count('llama-2-7b'):,}")
    #> 124,439,808 6,738,415,616
    ```
    """
    s = _spec(model)
    d, hd, ffn = s.n_embd, s.head_dim, s.intermediate_size
    q_out, kv_out = s.n_head * hd, s.n_kv_head * hd
    attention = d * q_out + 2 * d * kv_out + q_out * d
    n_mlp_matrices = 2 if s.arch == "gpt2" else 3
    mlp = n_mlp_matrices * d * ffn
    norm = 2 * d if (s.arch == "gpt2" and s.bias) else d  # LayerNorm: weight (+ bias); RMSNorm: weight
    if s.bias:
        attention += q_out + 2 * kv_out + d
        mlp += (n_mlp_matrices - 1) * ffn + d
    per_block = attention + mlp + 2 * norm
    embeddings = s.vocab_size * d + (s.context_length * d if s.arch == "gpt2" else 0)
    head = 0 if s.tied_embeddings else s.vocab_size * d
    return s.n_layer * per_block + embeddings + norm + head


# ---------------------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------------------


def _pick_units(total: int) -> tuple[str, str]:
    if total >= 10**9:
        return "GB", "GiB"
    if total >= 10**6:
        return "MB", "MiB"
    return "KB", "KiB"


def _table(title: str, rows: list[tuple[str, int]], notes: list[str], units: tuple[str, str] | None) -> str:
    units = units or _pick_units(rows[-1][1])
    for unit in units:
        _check_choice("unit", unit, UNITS)
    width = max(len(label) for label, _ in rows)
    head = f"{'':<{width}}" + "".join(f"{unit:>12}" for unit in units)
    lines = [title, head]
    for label, value in rows:
        cells = (f"{_in_unit(value, unit):,.2f}" for unit in units)
        lines.append(f"{label:<{width}}" + "".join(f" {c}" if len(c) >= 12 else f"{c:>12}" for c in cells))
    lines += [f"note: {note}" for note in notes]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------
# Inference
# ---------------------------------------------------------------------------------------------------------


def _nbytes(count: int, dtype: str) -> int:
    _check_choice("dtype", dtype, BYTES_PER_PARAM)
    return math.ceil(count * Fraction(BYTES_PER_PARAM[dtype]))  # exact for any count (no float overflow)


def kv_cache_bytes(
    model: ModelSpec | str | Any, *, batch_size: int, seq_len: int, dtype: str = "bf16"
) -> int:
    """Bytes of the key/value cache: `2 x n_layer x n_kv_head x head_dim x tokens x bytes per number`.

    Every layer keeps a key and a value vector per KV head for each cached token, so the cache grows linearly
    with both the context and the batch. Grouped-query attention shrinks it by `n_head / n_kv_head`. A model
    with a sliding window (Mistral) keeps at most `sliding_window` tokens per sequence.

    Args:
        model: a `ModelSpec`, a preset name or a `llmguide.model.GPTConfig`.
        batch_size: sequences served together (>= 1).
        seq_len: tokens cached per sequence (>= 1; at most `context_length` for `arch="gpt2"`).
        dtype: storage format of the cache, a key of `BYTES_PER_PARAM`.

    Returns:
        The cache size in bytes.

    Raises:
        ValueError: a non-positive size, an unknown dtype, or `seq_len` beyond a GPT-2-style context.
        TypeError: a model of an unsupported kind, a size that is not an int, or a dtype that is not a string.

    For example:

    ```python
    from llmguide.sizing import kv_cache_bytes

    per_token = kv_cache_bytes("llama-2-7b", batch_size=1, seq_len=1, dtype="fp16")
    print(per_token, "bytes per token")  # 2 * 32 layers * 32 heads * 128 dims * 2 bytes
    #> 524288 bytes per token
    ```
    """
    s = _spec(model)
    _check_int("batch_size", batch_size)
    _check_int("seq_len", seq_len)
    _check_seq_len(s, seq_len)
    tokens = min(seq_len, s.sliding_window) if s.sliding_window else seq_len
    return _nbytes(2 * s.n_layer * s.n_kv_head * s.head_dim * tokens * batch_size, dtype)


@dataclass(frozen=True)
class InferenceMemory:
    """What serving a model needs on one device, in bytes (see `inference_memory`)."""

    weights: int
    kv_cache: int
    activations: int
    notes: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        """Sum of the parts, in bytes."""
        return self.weights + self.kv_cache + self.activations

    def table(self, title: str = "Inference memory", units: tuple[str, str] | None = None) -> str:
        """The breakdown as a text table in a decimal and a binary unit (chosen from the total if not given).

        Args:
            title: first line of the table.
            units: two units of `format_bytes`, e.g. `("GB", "GiB")`.

        Returns:
            The table, one line per part and a total.
        """
        rows = [("weights", self.weights), ("KV cache", self.kv_cache), ("activations", self.activations)]
        return _table(title, [*rows, ("total", self.total)], list(self.notes), units)


def _check_seq_len(spec: ModelSpec | None, seq_len: int | None) -> int:
    if seq_len is None:
        return 1 if spec is None else spec.context_length
    _check_int("seq_len", seq_len)
    if spec is not None and spec.arch == "gpt2" and seq_len > spec.context_length:
        raise parameter_error(
            ValueError,
            f"seq_len ({seq_len}) exceeds the context length of {spec.name!r} ({spec.context_length}): "
            f"a model with learned position embeddings has none beyond it",
            "seq_len",
        )
    return seq_len


def _embedding_params(s: ModelSpec) -> tuple[int, int]:
    """(input embedding tables, separate output head) parameter counts."""
    inputs = s.vocab_size * s.n_embd + (s.context_length * s.n_embd if s.arch == "gpt2" else 0)
    return inputs, 0 if s.tied_embeddings else s.vocab_size * s.n_embd


def _default_embedding_dtype(dtype: str) -> str:
    return "bf16" if dtype in ("int8", "int4") else dtype


def weight_bytes(
    model: ModelSpec | str | int | Any, *, dtype: str = "bf16", embedding_dtype: str | None = None
) -> int:
    """Bytes of a model's weights, with the embeddings and output head in their own format.

    Weight-only quantisation as GPTQ, AWQ and bitsandbytes checkpoints load in Hugging Face transformers
    quantises the blocks' matrices and leaves the token embedding and the output head in 16 bits: they are a
    large share of a small model (21% of Llama 3.2 1B, whose head is tied to its embedding) and sensitive to
    rounding. That is the default here, without the group scales. llama.cpp's k-quants quantise the embedding
    and head too: `int4_weight_bytes` sizes each library's layout, scales included.

    Args:
        model: a `ModelSpec`, a preset name, a `llmguide.model.GPTConfig`, or an int parameter count (then
            every parameter is counted at `dtype`).
        dtype: format of the blocks' weights, a key of `BYTES_PER_PARAM`.
        embedding_dtype: format of the token (and, GPT-2 style, position) embeddings and of an untied output
            head; default: bf16 when `dtype` is int8 or int4, else `dtype`.

    Returns:
        The weights' size in bytes (rounded up to a whole byte per format).

    Raises:
        ValueError: an unknown dtype or preset, or a non-positive count.
        TypeError: a model of an unsupported kind or a dtype that is not a string.

    For example:

    ```python
    from llmguide.sizing import weight_bytes

    print(weight_bytes("llama-2-7b", dtype="int4"))  # (6,738,415,616 - 2 * 131,072,000) / 2 + 2 * 131,072,000 * 2
    #> 3762423808
    print(weight_bytes("llama-2-7b", dtype="int4", embedding_dtype="int4"))  # everything at 4 bits
    #> 3369207808
    ```
    """
    _check_choice("dtype", dtype, BYTES_PER_PARAM)
    embedding_dtype = _default_embedding_dtype(dtype) if embedding_dtype is None else embedding_dtype
    _check_choice("embedding_dtype", embedding_dtype, BYTES_PER_PARAM)
    if isinstance(model, int) and not isinstance(model, bool):
        return _nbytes(_check_int("model (parameter count)", model), dtype)
    s = _spec(model)
    embeddings = sum(_embedding_params(s))
    return _nbytes(param_count(s) - embeddings, dtype) + _nbytes(embeddings, embedding_dtype)


#: How 4-bit weights are laid out by the libraries that load them (see `int4_weight_bytes`).
INT4_CONVENTIONS: tuple[str, ...] = ("bare", "llmguide", "gptq-awq", "llama.cpp-q4_k_m")

# llama.cpp's k-quants (ggml-common.h): bytes per super-block of 256 weights. Q4_K: 128 bytes of 4-bit
# values, 12 of 6-bit sub-block scales and minimums, an fp16 scale and an fp16 minimum (4.5 bits per weight);
# Q6_K: 128 + 64 bytes of 6-bit values, 16 8-bit sub-block scales and an fp16 scale (6.5625 bits per weight).
_Q4_K, _Q6_K = Fraction(144, 256), Fraction(210, 256)


def _more_bits(i: int, n: int) -> bool:
    """llama.cpp's `use_more_bits`: the layers whose attn_v and ffn_down Q4_K_M promotes to Q6_K."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def int4_weight_bytes(
    model: ModelSpec | str | Any, *, convention: str = "llmguide", group_size: int = 128, zero_bits: int = 4
) -> int:
    """Bytes of a model's weights at 4 bits, as each library lays them out.

    "int4" is not one format. What stays in 16 bits, and what the scales cost, depends on who quantises:

    - `"bare"`: every parameter at 4 bits and nothing else, the lower bound of the `BYTES_PER_PARAM` table.
    - `"llmguide"`: this package's default (`weight_bytes(dtype="int4")`): the blocks at 4 bits, the
      embeddings and an untied head in bf16, the scales left out.
    - `"gptq-awq"`: GPTQ and AWQ checkpoints as Hugging Face transformers loads them: the blocks' linear
      layers at 4 bits, plus for each group of `group_size` weights along the input one fp16 scale and one
      zero point of `zero_bits` (packed 4-bit integers in both formats: `(16 + 4) / 128` = 0.16 bit per
      weight; a 16-bit zero makes it 0.25); the norms, the embedding and the head stay in 16 bits.
    - `"llama.cpp-q4_k_m"`: llama.cpp's Q4_K_M (src/llama-quant.cpp): k-quants everywhere, the embedding
      included. Q4_K (4.5 bits per weight, scales included) for most matrices; Q6_K (6.5625) for the
      output head, or for the embedding when it is tied to the head, and for the value projection and the
      MLP's down projection in the layers `use_more_bits` picks (the first and last eighth, and every third
      in between); norms in fp32. Written for the Llama layout.

    Args:
        model: a `ModelSpec`, a preset name or a `llmguide.model.GPTConfig`.
        convention: one of `INT4_CONVENTIONS`.
        group_size: weights per scale for `"gptq-awq"` (>= 1; 128 is the usual choice).
        zero_bits: bits of each group's zero point for `"gptq-awq"` (>= 0; 0 for symmetric quantisation).

    Returns:
        The weights' size in bytes (rounded up to a whole byte).

    Raises:
        ValueError: an unknown convention or preset, or a group size or zero width out of range.
        TypeError: a model of an unsupported kind, or a size that is not an int.

    For example:

    ```python
    from llmguide.sizing import int4_weight_bytes

    for convention in ("bare", "llmguide", "gptq-awq", "llama.cpp-q4_k_m"):
        print(f"{convention:<17} {int4_weight_bytes('llama-2-7b', convention=convention) / 1e9:.2f} GB")
    #> bare              3.37 GB
    #> llmguide          3.76 GB
    #> gptq-awq          3.89 GB
    #> llama.cpp-q4_k_m  4.08 GB
    ```
    """
    s = _spec(model)
    _check_choice("convention", convention, INT4_CONVENTIONS)
    group = _check_int("group_size", group_size)
    zero = check_int("zero_bits", zero_bits, minimum=0)
    if convention == "bare":
        return weight_bytes(s, dtype="int4", embedding_dtype="int4")
    if convention == "llmguide":
        return weight_bytes(s, dtype="int4")
    inputs, head = _embedding_params(s)
    matrices = s.n_layer * sum(d_in * d_out for d_in, d_out in _block_matrices(s, "all"))
    rest = param_count(s) - inputs - head - matrices  # norms (and, GPT-2 style, biases)
    if convention == "gptq-awq":
        bits = matrices * (4 + Fraction(16 + zero, group)) + 16 * (rest + inputs + head)
        return math.ceil(bits / 8)
    h, f, kv = s.n_embd, s.intermediate_size, s.n_kv_head * s.head_dim
    total = 4 * Fraction(rest)  # fp32 norms
    for i in range(s.n_layer):
        promoted = _Q6_K if _more_bits(i, s.n_layer) else _Q4_K
        total += _Q4_K * (matrices // s.n_layer - h * kv - f * h) + promoted * (h * kv + f * h)
    if s.tied_embeddings:
        total += _Q6_K * inputs  # the one table is also the head
    else:
        total += _Q4_K * inputs + _Q6_K * head
    return math.ceil(total)


def inference_memory(
    model: ModelSpec | str | int | Any,
    *,
    dtype: str = "bf16",
    batch_size: int = 1,
    seq_len: int | None = None,
    kv_dtype: str | None = None,
    embedding_dtype: str | None = None,
) -> InferenceMemory:
    """Memory to serve a model: weights, KV cache, and an estimate of the activations, in bytes.

    The activation estimate is what one block holds at its peak while it processes a whole prompt (prefill)
    without gradients, with a fused attention kernel (no `seq_len x seq_len` score matrix):
    `batch x seq_len x (2 x n_embd + m x intermediate_size)` numbers (residual stream, its normalised copy and
    the MLP's hidden tensors: m = 2 for GELU, 3 for SwiGLU), plus the next-token logits in fp32,
    `batch x vocab x 4` bytes. Earlier blocks' activations are freed, so this does not grow with depth.
    The CUDA context and the allocator's fragmentation are not included.

    Args:
        model: a `ModelSpec`, a preset name, a `llmguide.model.GPTConfig`, or an int parameter count (then
            only the weights can be sized: the KV cache and activations need the shape, and are reported as 0
            with a note).
        dtype: format of the weights and activations, a key of `BYTES_PER_PARAM`.
        batch_size: sequences served together (>= 1).
        seq_len: tokens per sequence (prompt plus generated); default and, for `arch="gpt2"` (learned
            positions), maximum: the model's `context_length`.
        kv_dtype: format of the KV cache; default: `dtype`, or bf16 when `dtype` is a quantised weight format
            (int8, int4), whose kernels still compute and cache in 16 bits.
        embedding_dtype: format of the embeddings and output head (see `weight_bytes`); default: bf16 when
            `dtype` is int8 or int4, else `dtype`.

    Returns:
        An `InferenceMemory` with `weights`, `kv_cache`, `activations` and `total` in bytes.

    Raises:
        ValueError: a non-positive size, an unknown dtype, or `seq_len` beyond a GPT-2-style context.
        TypeError: a model of an unsupported kind, a size that is not an int, or a dtype that is not a string.

    For example:

    ```python
    from llmguide.sizing import inference_memory

    mem = inference_memory("llama-2-7b", dtype="bf16", batch_size=1, seq_len=4096)
    print(f"{mem.weights / 1e9:.2f} GB weights, {mem.kv_cache / 2**30:.2f} GiB KV cache")
    #> 13.48 GB weights, 2.00 GiB KV cache
    ```
    """
    _check_choice("dtype", dtype, BYTES_PER_PARAM)
    if kv_dtype is None:
        kv_dtype = "bf16" if dtype in ("int8", "int4") else dtype
    _check_choice("kv_dtype", kv_dtype, BYTES_PER_PARAM)
    if embedding_dtype is not None:
        _check_choice("embedding_dtype", embedding_dtype, BYTES_PER_PARAM)
    _check_int("batch_size", batch_size)
    if isinstance(model, int) and not isinstance(model, bool):
        n = _check_int("model (parameter count)", model)
        _check_seq_len(None, seq_len)
        note = "only a parameter count was given: the KV cache and activations need the model's shape"
        return InferenceMemory(weights=weight_bytes(n, dtype=dtype), kv_cache=0, activations=0, notes=(note,))
    s = _spec(model)
    seq_len = _check_seq_len(s, seq_len)
    act_dtype = kv_dtype  # activations are computed in the same 16/32-bit format as the cache
    mlp_tensors = 2 if s.arch == "gpt2" else 3
    block = batch_size * seq_len * (2 * s.n_embd + mlp_tensors * s.intermediate_size)
    activations = _nbytes(block, act_dtype) + batch_size * s.vocab_size * 4
    return InferenceMemory(
        weights=weight_bytes(s, dtype=dtype, embedding_dtype=embedding_dtype),
        kv_cache=kv_cache_bytes(s, batch_size=batch_size, seq_len=seq_len, dtype=kv_dtype),
        activations=activations,
    )


# ---------------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------------


def activation_bytes(
    model: ModelSpec | str | Any,
    *,
    batch_size: int,
    seq_len: int,
    activation_checkpointing: bool = False,
    flash_attention: bool = False,
    dropout: bool = True,
    bytes_per_value: int = 2,
    tensor_parallel: int = 1,
    sequence_parallel: bool = False,
    loss: str = "cross_entropy",
) -> int:
    """Activations kept for the backward pass per GPU, in bytes, after Korthikanti et al. 2022 (section 4).

    The paper (arXiv:2205.05198) counts what a GPT-3-style block stores with 16-bit activations:
    `s*b*h*(34 + 5*a*s/h)` bytes (s: sequence length, b: batch, h: width, a: heads). This function splits
    that count into the parts that tensor parallelism divides and the parts it does not, and applies the same
    accounting to each family's own block. Per block, in bytes with 16-bit activations:

    - **`arch="gpt2"`** (LayerNorm, multi-head attention, GELU MLP of width f): not divided by tensor
      parallelism, `8*s*b*h` (the two norms' inputs, the attention's and the MLP's input); divided,
      `8*s*b*h` (queries, keys, values, attention output) `+ 4*s*b*f` (the GELU's input and output). With
      `f = 4h` that is the paper's `10 + 24` once the two 1-byte dropout masks are added.
    - **`arch="llama"`** (RMSNorm, grouped-query attention, SwiGLU MLP of width f): not divided, `8*s*b*h`
      (the two norms' inputs and outputs); divided, `4*s*b*h` (queries and attention output)
      `+ 4*s*b*h_kv` (keys and values at their own width `h_kv = n_kv_head * head_dim`, as fused kernels
      keep them) `+ 8*s*b*f` (the gate and up projections, the SiLU output and the product). So
      `s*b*h*(12 + 4*h_kv/h + 8*f/h)`: Llama 3 8B's `h_kv/h = 1/4`, `f/h = 3.5` give 41 where the GPT block
      gives 32. Norms are counted as fused kernels save them (input and a per-row statistic); PyTorch's
      composite `F.rms_norm` also saves the normalised tensor, one more `2*s*b*h` per norm.
    - **Dropout** (`dropout=True`, the paper's assumption; Llama-style training uses none): two 1-byte masks,
      `2*s*b*h`, not divided by tensor parallelism.
    - **Attention scores**: without a fused kernel (`flash_attention=False`) the softmax output, `2*a*s*s*b`
      (`5*a*s*s*b` with dropout: its mask and output too); grouped keys and values are then expanded to
      every head, so they count at full width. A fused (flash) kernel keeps no `s x s` matrix.

    Tensor parallelism over `t` GPUs divides the "divided" parts and the scores by `t`; sequence parallelism
    divides the rest too. For the GPT block that gives the paper's equations:
    `s*b*h*(10 + 24/t + 5*a*s/(h*t))` with tensor parallelism alone and `s*b*h*(34/t + 5*a*s/(h*t))`
    with sequence parallelism. Full activation checkpointing keeps each block's 16-bit input, `2*s*b*h`
    bytes (divided by `t` under sequence parallelism), plus one block's full activations while it is
    recomputed.

    The model's ends (the paper's section 4.3), unless `loss="excluded"`: the final norm's input and the
    output projection's input, `4*s*b*h` bytes at 16 bits (divided by `t` under sequence parallelism), with
    dropout the input embedding's mask, `s*b*h` (1 byte); and the logits, which the paper keeps in fp32,
    `4*s*b*v` bytes for a vocabulary of v (divided by `t`: the output layer is split over the vocabulary).
    `loss` says what the loss keeps (`LOSSES`): PyTorch's `F.cross_entropy` also saves its fp32 log-softmax,
    another `4*s*b*v` (the default); a chunked or fused cross-entropy (Wijmans et al. 2024) holds neither. At
    a large vocabulary this is not small: Llama 3.2 1B's fp32 logits and log-softmax are 35% of its blocks'
    fp32 activations per token. The ends are not checkpointed.

    Args:
        model: a `ModelSpec`, a preset name or a `llmguide.model.GPTConfig`.
        batch_size: sequences per GPU per step (micro-batch, >= 1).
        seq_len: tokens per sequence (>= 1; at most `context_length` for `arch="gpt2"`).
        activation_checkpointing: recompute each block's activations in the backward pass.
        flash_attention: the attention kernel does not store the `seq_len x seq_len` scores.
        dropout: the model applies dropout in training (the paper's assumption), which stores masks.
        bytes_per_value: 2 for 16-bit activations (the paper's assumption), 4 for fp32 (which scales the
            whole count by 2, overcounting the 1-byte dropout masks).
        tensor_parallel: GPUs each block's matrices are split over (Megatron-style tensor parallelism,
            >= 1; must divide `n_head` and `n_kv_head`).
        sequence_parallel: also split the norms' and dropouts' activations along the sequence (needs
            `tensor_parallel > 1` to change anything).
        loss: what the output layer and the loss keep, a key of `LOSSES`, or `"excluded"` to count the
            blocks alone (the paper's per-block equations).

    Returns:
        Activation memory in bytes per GPU for the whole model (rounded up to a whole byte).

    Raises:
        ValueError: a non-positive size, `seq_len` beyond a GPT-2-style context, `bytes_per_value` other
            than 2 or 4, a `tensor_parallel` that does not divide the heads, or an unknown `loss`.
        TypeError: a model of an unsupported kind, a size that is not an int, a flag that is not a bool, or
            a `loss` that is not a string.

    For example:

    ```python
    from llmguide.sizing import activation_bytes

    gb = activation_bytes("gpt2", batch_size=1, seq_len=1024, loss="excluded") / 1e9
    print(f"{gb:.2f} GB")  # 12 layers * 1024 * 768 * (34 + 5 * 12 * 1024 / 768)
    #> 1.08 GB
    llama = activation_bytes(
        "llama-3-8b", batch_size=1, seq_len=1, flash_attention=True, dropout=False, loss="excluded"
    )
    print(llama / (32 * 4096))  # per layer and token, in units of the width: 12 + 4/4 + 8 * 3.5
    #> 41.0
    ends = activation_bytes("llama-3-8b", batch_size=1, seq_len=1, flash_attention=True, dropout=False) - llama
    print(ends)  # final norm and output inputs 4 * 4096, fp32 logits and log-softmax 8 * 128,256
    #> 1042432
    ```
    """
    s = _spec(model)
    _check_int("batch_size", batch_size)
    _check_int("seq_len", seq_len)
    _check_seq_len(s, seq_len)
    if check_int("bytes_per_value", bytes_per_value) not in (2, 4):
        raise ValueError(f"bytes_per_value must be 2 (16-bit) or 4 (fp32), got {bytes_per_value!r}")
    check_bool("activation_checkpointing", activation_checkpointing)
    check_bool("flash_attention", flash_attention)
    check_bool("dropout", dropout)
    check_bool("sequence_parallel", sequence_parallel)
    _check_choice("loss", loss, [*LOSSES, "excluded"])
    t = _check_tensor_parallel(s, tensor_parallel)
    sb = seq_len * batch_size
    h, f = s.n_embd, s.intermediate_size
    kv_width = s.n_kv_head * s.head_dim if flash_attention else h  # the math kernel expands grouped K, V
    if s.arch == "gpt2":
        divided = 8 * h + 4 * f  # Q, K, V, attention output; GELU input and output
    else:
        divided = 4 * h + 4 * kv_width + 8 * f  # Q, output; K, V; gate, up, SiLU output, product
    undivided = 8 * h + (2 * h if dropout else 0)  # norms (and the inputs they feed); dropout masks
    scores = 0 if flash_attention else (5 if dropout else 2) * s.n_head * seq_len
    sp = t if sequence_parallel else 1
    one_block = sb * (Fraction(undivided, sp) + Fraction(divided + scores, t))
    if activation_checkpointing:
        total_16bit = Fraction(2 * sb * h * s.n_layer, sp) + one_block
    else:
        total_16bit = one_block * s.n_layer
    logits = Fraction(0)
    if loss != "excluded":
        # final norm's and output projection's inputs; the input embedding's dropout mask (1 byte)
        total_16bit += Fraction(sb * (4 * h + (h if dropout else 0)), sp)
        logits = Fraction(sb * s.vocab_size * LOSSES[loss], t)  # fp32, split over the vocabulary
    return math.ceil(total_16bit * bytes_per_value / 2 + logits)


def _check_tensor_parallel(s: ModelSpec, tensor_parallel: Any) -> int:
    t = check_int("tensor_parallel", tensor_parallel, minimum=1)
    if s.n_head % t or s.n_kv_head % t:
        raise parameter_error(
            ValueError,
            f"tensor_parallel ({t}) must divide n_head ({s.n_head}) and n_kv_head ({s.n_kv_head}): each GPU "
            f"computes whole attention heads",
            ("tensor_parallel", "n_head", "n_kv_head"),
        )
    return t


@dataclass(frozen=True)
class TrainingMemory:
    """What training needs on each GPU, in bytes (see `training_memory`)."""

    weights: int
    gradients: int
    optimizer_states: int
    activations: int
    n_gpus: int = 1
    zero_stage: int = 0
    notes: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        """Sum of the parts, in bytes per GPU."""
        return self.weights + self.gradients + self.optimizer_states + self.activations

    def table(self, title: str = "Training memory per GPU", units: tuple[str, str] | None = None) -> str:
        """The breakdown as a text table in a decimal and a binary unit (chosen from the total if not given).

        Args:
            title: first line of the table.
            units: two units of `format_bytes`, e.g. `("GB", "GiB")`.

        Returns:
            The table, one line per part and a total.
        """
        rows = [
            ("weights", self.weights),
            ("gradients", self.gradients),
            ("optimizer states", self.optimizer_states),
            ("activations", self.activations),
            ("total", self.total),
        ]
        return _table(title, rows, list(self.notes), units)


def training_memory(
    model: ModelSpec | str | int | Any,
    *,
    precision: str = "mixed",
    optimizer: str = "adamw",
    batch_size: int = 1,
    seq_len: int | None = None,
    activation_checkpointing: bool = False,
    flash_attention: bool = False,
    dropout: bool = True,
    zero_stage: int = 0,
    n_gpus: int = 1,
    tensor_parallel: int = 1,
    sequence_parallel: bool = False,
    loss: str = "cross_entropy",
) -> TrainingMemory:
    """Memory per GPU to train a model with data parallelism and, optionally, ZeRO sharding.

    Bytes per parameter (Rajbhandari et al. 2020, "ZeRO", arXiv:1910.02054, section 3.1):

    | precision | weights | gradients | optimizer states (AdamW) |
    |---|---|---|---|
    | `"mixed"` | 2 (fp16/bf16) | 2 | 12 = 4 (fp32 master weights) + 4 (momentum) + 4 (variance) |
    | `"fp32"` | 4 | 4 | 8 (momentum, variance) |

    Other optimizers change the last column (`OPTIMIZERS`: adamw 8, adamw8bit 2, sgd_momentum 4, sgd 0, plus
    4 for the master weights in mixed precision). ZeRO stage 1 splits the optimizer states over the `n_gpus`
    data-parallel GPUs, stage 2 also the gradients, stage 3 also the weights (FSDP's full sharding). Each GPU
    processes its own micro-batch, so activations (`activation_bytes`) are not divided by ZeRO. Tensor
    parallelism over `tensor_parallel` GPUs (Megatron-LM) splits every block's matrices, so each GPU holds
    `1/tensor_parallel` of the parameters, gradients and optimizer states (counted here as an even split of
    all parameters; in practice the norms are replicated, a few parameters per layer), and it divides part of
    the activations, sequence parallelism the rest (see `activation_bytes`). ZeRO then shards over the
    `n_gpus` data-parallel replicas, so the run uses `n_gpus * tensor_parallel` GPUs in all.

    Args:
        model: a `ModelSpec`, a preset name, a `llmguide.model.GPTConfig`, or an int parameter count (then the
            activations are left out, with a note).
        precision: `"mixed"` or `"fp32"`.
        optimizer: a key of `OPTIMIZERS`.
        batch_size: sequences per GPU per step (>= 1).
        seq_len: tokens per sequence; default and, for `arch="gpt2"` (learned positions), maximum: the
            model's `context_length`.
        activation_checkpointing: recompute activations in the backward pass (see `activation_bytes`).
        flash_attention: the attention kernel does not store the score matrix.
        dropout: the model uses dropout in training (see `activation_bytes`).
        zero_stage: 0 (plain data parallel), 1, 2 or 3.
        n_gpus: data-parallel GPUs (>= 1), the GPUs ZeRO shards over.
        tensor_parallel: GPUs each model replica's matrices are split over (>= 1; must divide the heads).
        sequence_parallel: with tensor parallelism, also split the activations it leaves whole.
        loss: what the output layer and the loss keep (see `activation_bytes`).

    Returns:
        A `TrainingMemory` with `weights`, `gradients`, `optimizer_states`, `activations` and `total` in bytes
        per GPU (sharded parts rounded up to a whole byte).

    Raises:
        ValueError: an unknown precision or optimizer, `zero_stage` outside 0-3, `n_gpus` < 1, a non-positive
            size, or `seq_len` beyond a GPT-2-style context.
        TypeError: a model of an unsupported kind, a size or `zero_stage` that is not an int, a flag that is
            not a bool, or a precision or optimizer that is not a string.

    For example:

    ```python
    from llmguide.sizing import training_memory

    # The ZeRO paper's example (its Figure 1): 7.5B parameters, mixed-precision Adam, 64 GPUs.
    for stage in range(4):
        mem = training_memory(7_500_000_000, zero_stage=stage, n_gpus=64)
        print(stage, f"{mem.total / 1e9:.1f} GB")
    #> 0 120.0 GB
    #> 1 31.4 GB
    #> 2 16.6 GB
    #> 3 1.9 GB
    ```
    """
    _check_choice("precision", precision, PRECISIONS)
    _check_choice("optimizer", optimizer, OPTIMIZERS)
    _check_int("batch_size", batch_size)
    check_int("zero_stage", zero_stage, minimum=0, maximum=3)
    _check_int("n_gpus", n_gpus)
    check_bool("sequence_parallel", sequence_parallel)
    notes: list[str] = []
    if isinstance(model, int) and not isinstance(model, bool):
        n = _check_int("model (parameter count)", model)
        t = check_int("tensor_parallel", tensor_parallel, minimum=1)
        _check_seq_len(None, seq_len)
        activations = 0
        notes.append("only a parameter count was given: activations need the model's shape")
    else:
        s = _spec(model)
        n = param_count(s)
        t = _check_tensor_parallel(s, tensor_parallel)
        activations = activation_bytes(
            s,
            batch_size=batch_size,
            seq_len=_check_seq_len(s, seq_len),
            activation_checkpointing=activation_checkpointing,
            flash_attention=flash_attention,
            dropout=dropout,
            bytes_per_value=2 if precision == "mixed" else 4,
            tensor_parallel=t,
            sequence_parallel=sequence_parallel,
            loss=loss,
        )
    n = -(-n // t)  # parameters per GPU under tensor parallelism (ceil)
    weight_bytes = 2 if precision == "mixed" else 4
    state_bytes = OPTIMIZERS[optimizer] + (4 if precision == "mixed" else 0)
    weights, gradients, states = n * weight_bytes, n * weight_bytes, n * state_bytes
    if zero_stage >= 1:
        states = -(-states // n_gpus)  # ceil division: a GPU holds a whole byte
    if zero_stage >= 2:
        gradients = -(-gradients // n_gpus)
    if zero_stage >= 3:
        weights = -(-weights // n_gpus)
    if zero_stage and n_gpus == 1:
        notes.append("ZeRO with one GPU shards nothing")
    return TrainingMemory(
        weights=weights,
        gradients=gradients,
        optimizer_states=states,
        activations=activations,
        n_gpus=n_gpus,
        zero_stage=zero_stage,
        notes=tuple(notes),
    )


def gpus_needed(
    model: ModelSpec | str | int | Any,
    *,
    gpu_memory: int,
    zero_stage: int = 3,
    precision: str = "mixed",
    optimizer: str = "adamw",
    batch_size: int = 1,
    seq_len: int | None = None,
    activation_checkpointing: bool = False,
    flash_attention: bool = False,
    dropout: bool = True,
    max_gpus: int = 1_000_000,
    tensor_parallel: int = 1,
    sequence_parallel: bool = False,
    loss: str = "cross_entropy",
) -> int:
    """The smallest number of data-parallel GPUs whose per-GPU training memory fits in `gpu_memory`.

    Without ZeRO (stage 0) every GPU holds everything, so the answer is 1 or nothing. With ZeRO the sharded
    parts shrink as GPUs are added but the unsharded parts (activations; gradients and weights below stage 3)
    do not, which sets a floor that no number of GPUs gets under. With tensor parallelism the search is over
    data-parallel replicas of `tensor_parallel` GPUs each, and the answer counts all the GPUs.

    Args:
        model: as for `training_memory`.
        gpu_memory: usable memory per GPU in bytes (e.g. `parse_bytes("80GB")`).
        zero_stage: 0, 1, 2 or 3.
        precision: as for `training_memory`.
        optimizer: as for `training_memory`.
        batch_size: as for `training_memory`.
        seq_len: as for `training_memory`.
        activation_checkpointing: as for `training_memory`.
        flash_attention: as for `training_memory`.
        dropout: as for `training_memory`.
        max_gpus: the largest number of data-parallel replicas to consider.
        tensor_parallel: as for `training_memory`.
        sequence_parallel: as for `training_memory`.
        loss: as for `training_memory`.

    Returns:
        The number of GPUs: data-parallel replicas times `tensor_parallel`.

    Raises:
        ValueError: bad input (as for `training_memory`), or the model does not fit on `max_gpus` or fewer
            GPUs of this size at this stage, batch and sequence length.
        TypeError: an argument of the wrong kind (as for `training_memory`; `gpu_memory` must be an int).

    For example:

    ```python
    from llmguide.sizing import gpus_needed

    print(gpus_needed(7_500_000_000, gpu_memory=32 * 10**9, zero_stage=1))
    #> 45
    ```
    """
    _check_int("gpu_memory", gpu_memory)
    _check_int("max_gpus", max_gpus)

    def per_gpu(n_gpus: int) -> int:
        return training_memory(
            model,
            precision=precision,
            optimizer=optimizer,
            batch_size=batch_size,
            seq_len=seq_len,
            activation_checkpointing=activation_checkpointing,
            flash_attention=flash_attention,
            dropout=dropout,
            zero_stage=zero_stage,
            n_gpus=n_gpus,
            tensor_parallel=tensor_parallel,
            sequence_parallel=sequence_parallel,
            loss=loss,
        ).total

    floor = per_gpu(max_gpus)
    if floor > gpu_memory:
        remedies = [
            "a higher ZeRO stage" if zero_stage < 3 else "",
            "activation checkpointing" if not activation_checkpointing else "",
            "flash attention" if not flash_attention else "",
            "tensor and sequence parallelism" if tensor_parallel == 1 else "",
            "a smaller batch or sequence",
        ]
        raise ValueError(
            f"does not fit on any number of GPUs (tried up to {max_gpus:,}): at ZeRO stage {zero_stage} each "
            f"still needs {format_bytes(floor)} for the parts that are not sharded, more than gpu_memory="
            f"{format_bytes(gpu_memory)}; try {', '.join(r for r in remedies if r)}"
        )
    low, high = 1, max_gpus  # per_gpu never increases with the count: binary search for the first fit
    while low < high:
        mid = (low + high) // 2
        if per_gpu(mid) <= gpu_memory:
            high = mid
        else:
            low = mid + 1
    return low * tensor_parallel


# ---------------------------------------------------------------------------------------------------------
# Decoding speed
# ---------------------------------------------------------------------------------------------------------


def decode_tokens_per_second(
    model: ModelSpec | str | Any,
    *,
    bandwidth: int,
    dtype: str = "bf16",
    batch_size: int = 1,
    seq_len: int = 1,
    kv_dtype: str | None = None,
    embedding_dtype: str | None = None,
) -> float:
    """A ceiling on plain decoding speed set by memory bandwidth, in tokens per second (all sequences together).

    Each forward pass must read every weight it multiplies by (all the parameters except the rows of the
    input embedding it does not look up) and each sequence's whole KV cache. At small batches that reading,
    not the arithmetic, is the bottleneck, so `bandwidth / (weights read + KV cache)` bounds the forward
    passes per second. Plain decoding makes one token per sequence per pass, which gives the tokens per second
    returned here. What the bandwidth bounds is the passes, not the tokens: speculative decoding (Leviathan et
    al. 2023, Chen et al. 2023) and multi-token heads (Medusa, Cai et al. 2024) verify several tokens in one
    pass and accept more than one per read of the weights on average, so they can beat this figure. Real
    servers reach some fraction of it; the compute, the kernels' efficiency and the time between steps are
    left out.

    Args:
        model: a `ModelSpec`, a preset name or a `llmguide.model.GPTConfig`.
        bandwidth: the card's memory bandwidth in bytes per second (e.g. `3_350_000_000_000` for an H100
            SXM's 3.35 TB/s).
        dtype: format of the blocks' weights, a key of `BYTES_PER_PARAM`.
        batch_size: sequences decoded together (>= 1).
        seq_len: tokens already in each sequence's KV cache (>= 1).
        kv_dtype: format of the KV cache; default as for `inference_memory`.
        embedding_dtype: format of the embeddings and output head; default as for `weight_bytes`.

    Returns:
        Tokens per second of plain decoding (one token per sequence per forward pass), summed over the batch.

    Raises:
        ValueError: a non-positive size or bandwidth, an unknown dtype, or `seq_len` beyond a GPT-2-style
            context.
        TypeError: a model of an unsupported kind or a size that is not an int.

    For example:

    ```python
    from llmguide.sizing import decode_tokens_per_second

    tps = decode_tokens_per_second("llama-2-7b", bandwidth=3_350_000_000_000, dtype="bf16")
    print(f"{tps:.0f} tokens/s")  # 3.35e12 / (2 bytes * 6,607,343,616 + one token's KV cache)
    #> 253 tokens/s
    ```
    """
    s = _spec(model)
    _check_int("bandwidth", bandwidth)
    _check_int("batch_size", batch_size)
    _check_seq_len(s, seq_len)
    _check_choice("dtype", dtype, BYTES_PER_PARAM)
    kv_dtype = _default_embedding_dtype(dtype) if kv_dtype is None else kv_dtype
    embedding_dtype = _default_embedding_dtype(dtype) if embedding_dtype is None else embedding_dtype
    inputs, _ = _embedding_params(s)
    # the input tables are only looked up; a tied table is read in full as the output head
    lookup_only = inputs - (s.vocab_size * s.n_embd if s.tied_embeddings else 0)
    read = weight_bytes(s, dtype=dtype, embedding_dtype=embedding_dtype) - _nbytes(
        lookup_only, embedding_dtype
    )
    read += kv_cache_bytes(s, batch_size=batch_size, seq_len=seq_len, dtype=kv_dtype)
    return batch_size * bandwidth / read


# ---------------------------------------------------------------------------------------------------------
# Fine-tuning with LoRA and QLoRA
# ---------------------------------------------------------------------------------------------------------

LORA_TARGETS: tuple[str, ...] = ("all", "attention")


def _block_matrices(s: ModelSpec, targets: str) -> list[tuple[int, int]]:
    """(inputs, outputs) of each linear layer in one block."""
    h, f, kv = s.n_embd, s.intermediate_size, s.n_kv_head * s.head_dim
    attention = [(h, h), (h, kv), (h, kv), (h, h)]  # queries, keys, values, output
    mlp = [(h, f), (f, h)] if s.arch == "gpt2" else [(h, f), (h, f), (f, h)]  # (gate,) up, down
    return attention if targets == "attention" else attention + mlp


def lora_params(model: ModelSpec | str | Any, *, rank: int, targets: str = "all") -> int:
    """Trainable parameters of LoRA adapters (Hu et al. 2021, arXiv:2106.09685) on a model's blocks.

    LoRA freezes a linear layer's `d_in x d_out` matrix and trains a low-rank update `B @ A` beside it, with
    `A` of shape `rank x d_in` and `B` of `d_out x rank`: `rank * (d_in + d_out)` parameters per adapted
    matrix.

    Args:
        model: a `ModelSpec`, a preset name or a `llmguide.model.GPTConfig`.
        rank: the adapters' rank (>= 1).
        targets: `"all"`: every linear layer of every block (QLoRA's choice); `"attention"`: the four
            attention projections only.

    Returns:
        The number of trainable parameters.

    Raises:
        ValueError: a non-positive rank or unknown targets.
        TypeError: a model of an unsupported kind or a rank that is not an int.

    For example:

    ```python
    from llmguide.sizing import lora_params

    # rank 8 on the queries and values only, as in the LoRA paper: 32 layers * 2 * 8 * (4096 + 4096)
    print(lora_params("llama-2-7b", rank=8, targets="attention") // 2)
    #> 4194304
    ```
    """
    s = _spec(model)
    r = _check_int("rank", rank)
    _check_choice("targets", targets, LORA_TARGETS)
    return s.n_layer * sum(r * (d_in + d_out) for d_in, d_out in _block_matrices(s, targets))


def lora_memory(
    model: ModelSpec | str | Any,
    *,
    rank: int,
    base_dtype: str = "bf16",
    targets: str = "all",
    batch_size: int = 1,
    seq_len: int | None = None,
    activation_checkpointing: bool = True,
    flash_attention: bool = True,
    dropout: bool = False,
    loss: str = "cross_entropy",
) -> TrainingMemory:
    """Memory on one GPU to fine-tune a model with LoRA (`base_dtype="bf16"`) or QLoRA (`"nf4"`), in bytes.

    The frozen base is stored at `base_dtype`: 16-bit, or QLoRA's 4-bit NormalFloat with double quantisation
    (`NF4_BYTES_PER_PARAM`, 4.127 bits), with the embeddings and output head left in 16 bits as bitsandbytes
    leaves them. It has no gradients and no optimizer state. The adapters (`lora_params`) are trained like a
    small model in mixed precision: 16 bytes per trainable parameter (a 16-bit copy, 16-bit gradients, fp32
    master weights and AdamW's two fp32 moments), counted as 2 in `weights`, 2 in `gradients` and 12 in
    `optimizer_states`. Activations are those of the base model (`activation_bytes`, 16-bit): the backward
    pass still runs through every block to reach the adapters. The adapters' own small activations (`rank`
    numbers per token per matrix) are left out.

    Args:
        model: a `ModelSpec`, a preset name or a `llmguide.model.GPTConfig`.
        rank: the adapters' rank (>= 1).
        base_dtype: `"nf4"` (QLoRA) or a key of `BYTES_PER_PARAM` for the frozen weights.
        targets: as for `lora_params`.
        batch_size: sequences per step (>= 1).
        seq_len: tokens per sequence; default the model's `context_length`.
        activation_checkpointing: as for `activation_bytes` (QLoRA uses it).
        flash_attention: as for `activation_bytes`.
        dropout: as for `activation_bytes`.
        loss: as for `activation_bytes`.

    Returns:
        A `TrainingMemory` for one GPU.

    Raises:
        ValueError: bad sizes, an unknown `base_dtype` or `targets`.
        TypeError: an argument of the wrong kind.

    For example:

    ```python
    from llmguide.sizing import lora_memory

    mem = lora_memory("llama-2-7b", rank=16, base_dtype="nf4", seq_len=2048)
    print(f"{mem.weights / 1e9:.2f} GB of weights, {mem.total / 1e9:.2f} GB in all")
    #> 3.95 GB of weights, 5.91 GB in all
    ```
    """
    s = _spec(model)
    if base_dtype != "nf4":
        _check_choice("base_dtype", base_dtype, [*BYTES_PER_PARAM, "nf4"])
    trainable = lora_params(s, rank=rank, targets=targets)
    if base_dtype == "nf4":
        embeddings = sum(_embedding_params(s))
        base = math.ceil((param_count(s) - embeddings) * NF4_BYTES_PER_PARAM) + _nbytes(embeddings, "bf16")
    else:
        base = weight_bytes(s, dtype=base_dtype)
    activations = activation_bytes(
        s,
        batch_size=batch_size,
        seq_len=_check_seq_len(s, seq_len),
        activation_checkpointing=activation_checkpointing,
        flash_attention=flash_attention,
        dropout=dropout,
        loss=loss,
    )
    return TrainingMemory(
        weights=base + 2 * trainable,
        gradients=2 * trainable,
        optimizer_states=12 * trainable,
        activations=activations,
        notes=(f"{trainable:,} trainable parameters (LoRA rank {rank}, {targets})",),
    )
