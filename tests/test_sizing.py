"""Tests of llmguide.sizing against independent truths: published parameter counts, models built in torch,
the ZeRO paper's worked example, closed-form byte counts written out by hand, and bytes measured on tensors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from llmguide import sizing
from llmguide.model import GPT, GPTConfig
from llmguide.sizing import (
    BYTES_PER_PARAM,
    LOSSES,
    MODELS,
    ModelSpec,
    activation_bytes,
    format_bytes,
    get_model,
    gpus_needed,
    inference_memory,
    kv_cache_bytes,
    param_count,
    parse_bytes,
    training_memory,
)

# ---------------------------------------------------------------------------------------------------------
# Parameter counts
# ---------------------------------------------------------------------------------------------------------

# Published counts. GPT-2: the count Hugging Face transformers reports for openai-community/gpt2 (124,439,808);
# the other three sizes as listed in KerasHub's GPT-2 preset metadata (keras_hub/src/models/gpt2/gpt2_presets.py:
# 354,823,168 / 774,030,080 / 1,557,611,200). Llama 2 / Llama 3 / Mistral: the counts Hugging Face reports for
# meta-llama/Llama-2-{7,13,70}b-hf, meta-llama/Meta-Llama-3-8B and mistralai/Mistral-7B-v0.1.
PUBLISHED = {
    "gpt2": 124_439_808,
    "gpt2-medium": 354_823_168,
    "gpt2-large": 774_030_080,
    "gpt2-xl": 1_557_611_200,
    "llama-2-7b": 6_738_415_616,
    "llama-2-13b": 13_015_864_320,
    "llama-2-70b": 68_976_648_192,
    "llama-3-8b": 8_030_261_248,
    "mistral-7b": 7_241_732_096,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_param_count_matches_published(name):
    assert param_count(name) == PUBLISHED[name]
    assert param_count(MODELS[name]) == PUBLISHED[name]


def test_every_preset_has_a_source_and_a_count():
    assert set(PUBLISHED) | {"gpt3-175b"} == set(MODELS)
    for spec in MODELS.values():
        assert spec.source, spec.name


def test_gpt3_is_175b_to_the_papers_rounding():
    # Brown et al. 2020, Table 2.1 lists 175.0B; the exact count depends on assumptions (see the preset).
    assert round(param_count("gpt3-175b") / 1e9) == 175
    # The assumed shape's count, worked out by hand: 96 * (12 d^2 + 13 d) + (50257 + 2048) d + 2 d, d = 12288.
    d = 12288
    assert param_count("gpt3-175b") == 96 * (12 * d * d + 13 * d) + (50257 + 2048) * d + 2 * d


@pytest.mark.parametrize(
    "kw",
    [
        dict(vocab_size=256, block_size=64, n_layer=2, n_head=4, n_embd=64, bias=True),
        dict(vocab_size=256, block_size=64, n_layer=2, n_head=4, n_embd=64, bias=False),
        dict(vocab_size=97, block_size=33, n_layer=3, n_head=3, n_embd=48, bias=True),
        dict(vocab_size=50, block_size=16, n_layer=1, n_head=1, n_embd=8, bias=False),
    ],
)
def test_param_count_equals_the_packages_gpt(kw):
    cfg = GPTConfig(dropout=0.0, **kw)
    model = GPT(cfg)
    assert param_count(cfg) == sum(p.numel() for p in model.parameters())


class _GPT2Block(nn.Module):
    def __init__(self, d: int, bias: bool):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(d, bias=bias), nn.LayerNorm(d, bias=bias)
        self.qkv, self.proj = nn.Linear(d, 3 * d, bias=bias), nn.Linear(d, d, bias=bias)
        self.fc, self.fc_out = nn.Linear(d, 4 * d, bias=bias), nn.Linear(4 * d, d, bias=bias)


class _GPT2(nn.Module):
    """A GPT-2-shaped parameter set built here, independently of llmguide.model."""

    def __init__(self, vocab: int, ctx: int, n_layer: int, d: int, bias: bool):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(ctx, d)
        self.blocks = nn.ModuleList(_GPT2Block(d, bias) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(d, bias=bias)
        self.head = nn.Linear(d, vocab, bias=False)
        self.head.weight = self.wte.weight  # tied


class _RMSNorm(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))


class _LlamaBlock(nn.Module):
    def __init__(self, d: int, n_head: int, n_kv: int, ffn: int):
        super().__init__()
        hd = d // n_head
        self.input_norm, self.post_norm = _RMSNorm(d), _RMSNorm(d)
        self.q = nn.Linear(d, n_head * hd, bias=False)
        self.k = nn.Linear(d, n_kv * hd, bias=False)
        self.v = nn.Linear(d, n_kv * hd, bias=False)
        self.o = nn.Linear(n_head * hd, d, bias=False)
        self.gate, self.up = nn.Linear(d, ffn, bias=False), nn.Linear(d, ffn, bias=False)
        self.down = nn.Linear(ffn, d, bias=False)


class _Llama(nn.Module):
    """A Llama-shaped parameter set (RoPE has no parameters), built here as Hugging Face's LlamaForCausalLM is."""

    def __init__(self, vocab: int, n_layer: int, d: int, n_head: int, n_kv: int, ffn: int, tied: bool):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.layers = nn.ModuleList(_LlamaBlock(d, n_head, n_kv, ffn) for _ in range(n_layer))
        self.norm = _RMSNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        if tied:
            self.lm_head.weight = self.embed.weight


def _numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())  # shared (tied) parameters are listed once


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(100, 32, 2, 64, 4), (37, 9, 3, 24, 6)])
def test_param_count_gpt2_style_against_torch(shape, bias):
    vocab, ctx, n_layer, d, heads = shape
    spec = ModelSpec("t", "gpt2", n_layer, d, heads, vocab_size=vocab, context_length=ctx, bias=bias)
    assert param_count(spec) == _numel(_GPT2(vocab, ctx, n_layer, d, bias))


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("shape", [(100, 2, 64, 4, 2, 172), (50, 3, 48, 6, 6, 128), (64, 1, 32, 8, 1, 80)])
def test_param_count_llama_style_against_torch(shape, tied):
    vocab, n_layer, d, heads, kv, ffn = shape
    spec = ModelSpec(
        "t", "llama", n_layer, d, heads, vocab_size=vocab, context_length=16, n_kv_head=kv,
        intermediate_size=ffn, tied_embeddings=tied,
    )  # fmt: skip
    assert param_count(spec) == _numel(_Llama(vocab, n_layer, d, heads, kv, ffn, tied))


def test_llama_2_7b_by_hand():
    # 32 blocks of 4 d^2 (attention) + 3 d f (SwiGLU) + 2 d (RMSNorms), two 32000 x d matrices, a final norm.
    d, f = 4096, 11008
    assert param_count("llama-2-7b") == 32 * (4 * d * d + 3 * d * f + 2 * d) + 2 * 32000 * d + d


def test_grouped_query_attention_shrinks_only_k_and_v():
    mha = ModelSpec("a", "llama", 1, 64, 8, vocab_size=10, context_length=8, intermediate_size=100)
    gqa = ModelSpec(
        "a", "llama", 1, 64, 8, vocab_size=10, context_length=8, intermediate_size=100, n_kv_head=2
    )
    # k and v shrink from 64x64 to 64x16 each
    assert param_count(mha) - param_count(gqa) == 2 * (64 * 64 - 64 * 16)


# ---------------------------------------------------------------------------------------------------------
# Units
# ---------------------------------------------------------------------------------------------------------


def test_bytes_per_param():
    assert BYTES_PER_PARAM == {"fp32": 4, "fp16": 2, "bf16": 2, "fp8": 1, "int8": 1, "int4": 0.5}
    for dtype, torch_dtype in [("fp32", torch.float32), ("fp16", torch.float16), ("bf16", torch.bfloat16)]:
        assert BYTES_PER_PARAM[dtype] == torch.empty(0, dtype=torch_dtype).element_size()
    assert BYTES_PER_PARAM["int8"] == torch.empty(0, dtype=torch.int8).element_size()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("80GB", 80 * 10**9),
        ("80 GB", 80 * 10**9),
        ("80gb", 80 * 10**9),
        ("80GiB", 80 * 2**30),
        ("24 gib", 24 * 2**30),
        ("512MiB", 512 * 2**20),
        ("1.5e9", 1_500_000_000),
        ("1.5TB", 1_500_000_000_000),
        ("100", 100),
    ],
)
def test_parse_bytes(text, expected):
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["", "GB", "80 gigs", "-5GB", "0GB", "8 0GB", "1e400GB", "1e300GB"])
def test_parse_bytes_rejects(text):
    with pytest.raises(ValueError, match="size"):
        parse_bytes(text)


@pytest.mark.parametrize("text", [None, 80, 80e9])
def test_parse_bytes_rejects_non_strings(text):
    with pytest.raises(TypeError, match="size must be a string"):
        parse_bytes(text)


def test_format_bytes_decimal_and_binary():
    assert format_bytes(4 * 10**9, "GB") == "4.00 GB"
    assert format_bytes(2**30, "GiB") == "1.00 GiB"
    assert format_bytes(2**30, "GB") == "1.07 GB"  # 1 GiB = 1.073741824 GB
    assert format_bytes(1536, "KiB", digits=1) == "1.5 KiB"
    with pytest.raises(ValueError, match="unit"):
        format_bytes(1, "gigabytes")
    with pytest.raises(ValueError, match="n must be"):
        format_bytes(-1)


def test_sizes_beyond_a_float_are_formatted_exactly():
    # 10**400 bytes cannot be divided into a float (OverflowError); the tables still print it exactly
    assert format_bytes(10**400, "GB") == "1" + "0" * 391 + ".00 GB"
    n = 10**320 + 1  # 16 bytes per parameter: 1.6e312 GB, beyond a float
    table = training_memory(n).table(units=("GB", "GiB"))
    total = next(line for line in table.splitlines() if line.startswith("total"))
    assert total.split()[1] == f"{16 * n // 10**9:,}.00"


def test_tables_state_their_units():
    table = inference_memory("llama-2-7b", seq_len=4096).table()
    assert "GB" in table and "GiB" in table
    total_line = table.splitlines()[-1].split()
    assert total_line[0] == "total"
    total = inference_memory("llama-2-7b", seq_len=4096).total
    assert total_line[1:] == [f"{total / 1e9:,.2f}", f"{total / 2**30:,.2f}"]
    small = training_memory(GPTConfig(n_layer=1, n_embd=32, n_head=2, block_size=16), seq_len=16).table()
    assert "MB" in small.splitlines()[1] or "KB" in small.splitlines()[1]


# ---------------------------------------------------------------------------------------------------------
# Inference
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "dtype", "gb"), [(10**9, "fp32", 4), (100 * 10**9, "fp32", 400)])
def test_notes_arithmetic(n, dtype, gb):
    assert inference_memory(n, dtype=dtype).weights == gb * 10**9


def test_weights_by_dtype():
    n = PUBLISHED["llama-2-7b"]
    for dtype, per in [("fp32", 4), ("bf16", 2), ("fp16", 2), ("fp8", 1)]:
        assert inference_memory("llama-2-7b", dtype=dtype, seq_len=1).weights == n * per
    # every weight quantised
    for dtype, per in [("int8", 1), ("int4", 0.5)]:
        mem = inference_memory("llama-2-7b", dtype=dtype, seq_len=1, embedding_dtype=dtype)
        assert mem.weights == n * per
    # by default int8/int4 leave the embedding and the untied head (2 x 32000 x 4096) in 16 bits
    emb = 2 * 32000 * 4096
    assert inference_memory("llama-2-7b", dtype="int8", seq_len=1).weights == (n - emb) + 2 * emb
    assert inference_memory("llama-2-7b", dtype="int4", seq_len=1).weights == (n - emb) // 2 + 2 * emb
    assert inference_memory(7, dtype="int4").weights == 4  # 3.5 bytes round up to whole bytes


def test_kv_cache_closed_form():
    # 2 (k and v) x layers x kv heads x head dim x bytes, per token
    assert kv_cache_bytes("llama-2-7b", batch_size=1, seq_len=1, dtype="fp16") == 2 * 32 * 32 * 128 * 2
    assert kv_cache_bytes("llama-3-8b", batch_size=1, seq_len=1, dtype="fp16") == 2 * 32 * 8 * 128 * 2
    assert kv_cache_bytes("llama-2-70b", batch_size=1, seq_len=1, dtype="bf16") == 2 * 80 * 8 * 128 * 2
    assert kv_cache_bytes("gpt2", batch_size=1, seq_len=1, dtype="fp32") == 2 * 12 * 768 * 4
    # linear in batch and in tokens
    one = kv_cache_bytes("llama-2-7b", batch_size=1, seq_len=1)
    assert kv_cache_bytes("llama-2-7b", batch_size=8, seq_len=4096) == 8 * 4096 * one
    # 4096 tokens of Llama-2-7B in 16 bits: exactly 2 GiB
    assert kv_cache_bytes("llama-2-7b", batch_size=1, seq_len=4096) == 2 * 2**30


def test_kv_cache_sliding_window_caps_mistral():
    at_window = kv_cache_bytes("mistral-7b", batch_size=1, seq_len=4096)
    assert kv_cache_bytes("mistral-7b", batch_size=1, seq_len=32768) == at_window
    assert kv_cache_bytes("mistral-7b", batch_size=1, seq_len=2048) == at_window // 2


def test_inference_kv_dtype_defaults():
    mem = inference_memory("llama-2-7b", dtype="int4", seq_len=1024)
    assert mem.kv_cache == kv_cache_bytes("llama-2-7b", batch_size=1, seq_len=1024, dtype="bf16")
    mem = inference_memory("llama-2-7b", dtype="fp32", seq_len=1024)
    assert mem.kv_cache == kv_cache_bytes("llama-2-7b", batch_size=1, seq_len=1024, dtype="fp32")
    mem = inference_memory("llama-2-7b", dtype="bf16", seq_len=1024, kv_dtype="fp8")
    assert mem.kv_cache == kv_cache_bytes("llama-2-7b", batch_size=1, seq_len=1024, dtype="fp8")


def test_inference_activation_estimate_closed_form():
    b, s = 2, 100
    mem = inference_memory("llama-2-7b", dtype="bf16", batch_size=b, seq_len=s)
    assert mem.activations == b * s * (2 * 4096 + 3 * 11008) * 2 + b * 32000 * 4
    mem = inference_memory("gpt2", dtype="fp32", batch_size=b, seq_len=s)
    assert mem.activations == b * s * (2 * 768 + 2 * 3072) * 4 + b * 50257 * 4
    assert mem.total == mem.weights + mem.kv_cache + mem.activations


def test_rope_models_may_run_past_their_context():
    # no learned positions to run out of: sizing a longer sequence is allowed (whether quality holds is another matter)
    assert inference_memory("llama-2-7b", seq_len=8192).kv_cache == 4 * 2**30


def test_inference_default_seq_len_is_context():
    assert inference_memory("llama-3-8b") == inference_memory("llama-3-8b", seq_len=8192)


def test_inference_from_count_only_has_weights_and_a_note():
    mem = inference_memory(7 * 10**9, dtype="bf16")
    assert (mem.weights, mem.kv_cache, mem.activations) == (14 * 10**9, 0, 0)
    assert "shape" in mem.notes[0]


# ---------------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("precision", "optimizer", "per_param"),
    [
        ("fp32", "adamw", (4, 4, 8)),
        ("fp32", "adamw8bit", (4, 4, 2)),
        ("fp32", "sgd_momentum", (4, 4, 4)),
        ("fp32", "sgd", (4, 4, 0)),
        ("mixed", "adamw", (2, 2, 12)),
        ("mixed", "adamw8bit", (2, 2, 6)),
        ("mixed", "sgd_momentum", (2, 2, 8)),
        ("mixed", "sgd", (2, 2, 4)),
    ],
)
def test_training_bytes_per_param(precision, optimizer, per_param):
    n = 1_000_003
    mem = training_memory(n, precision=precision, optimizer=optimizer)
    assert (mem.weights, mem.gradients, mem.optimizer_states) == tuple(n * k for k in per_param)
    assert mem.activations == 0
    assert mem.total == n * sum(per_param)


def test_course_rule_24_bytes_per_param_at_fp32():
    # 4 (weights) + 4 (gradients) + 8 (Adam) = 16, before activations; the course adds ~8 for activations.
    mem = training_memory(10**9, precision="fp32", optimizer="adamw")
    assert mem.total == 16 * 10**9
    assert mem.total + 8 * 10**9 == 6 * inference_memory(10**9, dtype="fp32").weights


def test_zero_paper_example():
    # Rajbhandari et al. 2020, Figure 1: 7.5B parameters, 64 GPUs, mixed-precision Adam (K = 12).
    expected_gb = {0: 120.0, 1: 31.4, 2: 16.6, 3: 1.9}
    exact = {
        0: 16 * 7.5e9,
        1: 4 * 7.5e9 + 12 * 7.5e9 / 64,
        2: 2 * 7.5e9 + 14 * 7.5e9 / 64,
        3: 16 * 7.5e9 / 64,
    }
    for stage, gb in expected_gb.items():
        mem = training_memory(7_500_000_000, zero_stage=stage, n_gpus=64)
        assert round(mem.total / 1e9, 1) == gb
        assert mem.total == math.ceil(exact[stage])


def test_zero_shards_the_right_terms():
    n, g = 10**9, 8
    base = training_memory(n, n_gpus=g)
    z1 = training_memory(n, n_gpus=g, zero_stage=1)
    z2 = training_memory(n, n_gpus=g, zero_stage=2)
    z3 = training_memory(n, n_gpus=g, zero_stage=3)
    assert (base.weights, base.gradients, base.optimizer_states) == (2 * n, 2 * n, 12 * n)
    assert (z1.weights, z1.gradients, z1.optimizer_states) == (2 * n, 2 * n, 12 * n // g)
    assert (z2.weights, z2.gradients, z2.optimizer_states) == (2 * n, 2 * n // g, 12 * n // g)
    assert (z3.weights, z3.gradients, z3.optimizer_states) == (2 * n // g, 2 * n // g, 12 * n // g)
    # activations are per GPU's own micro-batch: never divided
    acts = {training_memory("gpt2", zero_stage=z, n_gpus=g, seq_len=128).activations for z in range(4)}
    assert len(acts) == 1


def test_zero_one_gpu_notes_no_sharding():
    mem = training_memory(10**6, zero_stage=3, n_gpus=1)
    assert mem.total == 16 * 10**6 and any("one GPU" in n for n in mem.notes)


def test_activation_formula_by_hand():
    # Korthikanti et al. 2022: s*b*h*(34 + 5*a*s/h) bytes per layer (16-bit), 2*s*b*h per layer checkpointed.
    spec = ModelSpec("t", "gpt2", n_layer=3, n_embd=8, n_head=2, vocab_size=10, context_length=4)
    s, b, h, a, L = 4, 2, 8, 2, 3
    per_layer = s * b * h * (34 + 5 * a * s / h)
    assert per_layer == 2496
    blocks = dict(batch_size=b, seq_len=s, loss="excluded")  # the paper's per-block equations
    assert activation_bytes(spec, **blocks) == L * per_layer
    assert activation_bytes(spec, flash_attention=True, **blocks) == L * s * b * h * 34
    assert activation_bytes(spec, activation_checkpointing=True, **blocks) == 2 * s * b * h * L + per_layer
    assert activation_bytes(spec, bytes_per_value=4, **blocks) == 2 * L * per_layer
    no_dropout = (
        s * b * h * (32 + 2 * a * s / h)
    )  # two 1-byte masks and the attention dropout's s x s terms go
    assert activation_bytes(spec, dropout=False, **blocks) == L * no_dropout
    # training_memory uses 16-bit activations for mixed precision and 32-bit for fp32
    assert training_memory(spec, **blocks).activations == L * per_layer
    assert training_memory(spec, precision="fp32", **blocks).activations == 2 * L * per_layer


def test_output_layer_and_loss_by_hand():
    # Korthikanti et al. 2022, section 4.3: the final norm's and the output projection's inputs, 2 s b h bytes
    # each at 16 bits, the input embedding's dropout mask s b h, and the fp32 logits 4 s b v (split over the
    # vocabulary by tensor parallelism); F.cross_entropy also saves its fp32 log-softmax, 4 s b v more.
    spec = ModelSpec("t", "gpt2", n_layer=3, n_embd=8, n_head=2, vocab_size=10, context_length=4)
    s, b, h, v = 4, 2, 8, 10
    blocks = activation_bytes(spec, batch_size=b, seq_len=s, loss="excluded")
    ends = {loss: activation_bytes(spec, batch_size=b, seq_len=s, loss=loss) - blocks for loss in LOSSES}
    assert ends["logits"] == s * b * h * 5 + 4 * s * b * v  # the paper's 4.3, with dropout
    assert ends["cross_entropy"] == s * b * h * 5 + 8 * s * b * v
    assert ends["chunked"] == s * b * h * 5  # no vocabulary-sized tensor at all
    nodrop = activation_bytes(spec, batch_size=b, seq_len=s, dropout=False) - activation_bytes(
        spec, batch_size=b, seq_len=s, dropout=False, loss="excluded"
    )
    assert nodrop == 4 * s * b * h + 8 * s * b * v
    fp32 = activation_bytes(
        spec, batch_size=b, seq_len=s, dropout=False, bytes_per_value=4
    ) - activation_bytes(spec, batch_size=b, seq_len=s, dropout=False, bytes_per_value=4, loss="excluded")
    assert (
        fp32 == 8 * s * b * h + 8 * s * b * v
    )  # the norm's and projection's inputs double; logits stay fp32
    # checkpointing recomputes the blocks, not the ends
    ckpt = dict(batch_size=b, seq_len=s, activation_checkpointing=True)
    assert (
        activation_bytes(spec, **ckpt) - activation_bytes(spec, loss="excluded", **ckpt)
        == ends["cross_entropy"]
    )
    # GPT-3 with t = 8 and sequence parallelism: 4 s b h / t (1 + v / h) bytes for the ends (the paper's
    # section 4.3 for the last pipeline stage, logits only), plus the embedding mask s b h / t
    s, b, h, v, t = 2048, 1, 12288, 50257, 8
    par = dict(batch_size=b, seq_len=s, tensor_parallel=t, sequence_parallel=True)
    got = activation_bytes("gpt3-175b", loss="logits", **par) - activation_bytes(
        "gpt3-175b", loss="excluded", **par
    )
    assert got == math.ceil(4 * s * b * h / t * (1 + v / h) + s * b * h / t)


def test_llama_3_2_1b_logits_against_its_blocks():
    # the review's figures: at v = 128,256 and h = 2,048 the fp32 logits are about 17% of the blocks' fp32
    # activations per token, about 35% with the saved log-softmax (blocks: 16 layers x (12 + 1 + 32) x h x 2)
    kw = dict(batch_size=1, seq_len=1, flash_attention=True, dropout=False, bytes_per_value=4)
    blocks = activation_bytes(LLAMA_3_2_1B, loss="excluded", **kw)
    assert blocks == 16 * 45 * 2048 * 2
    logits = 4 * 128256
    assert round(logits / blocks, 2) == 0.17 and round(2 * logits / blocks, 2) == 0.35
    whole = activation_bytes(LLAMA_3_2_1B, **kw)
    assert whole == blocks + 2 * logits + 4 * 2048 * 2


def test_gpt3_activation_example():
    # GPT-3 175B at s = 2048, b = 1: 96 layers * 2048 * 12288 * (34 + 5 * 96 * 2048 / 12288) bytes.
    expected = 96 * 2048 * 12288 * (34 + 5 * 96 * 2048 / 12288)
    assert activation_bytes("gpt3-175b", batch_size=1, seq_len=2048, loss="excluded") == expected
    assert round(expected / 1e9) == 275


# ---------------------------------------------------------------------------------------------------------
# How many GPUs
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "gpu", "kw"),
    [
        (7_500_000_000, 32 * 10**9, dict(zero_stage=1)),
        (7_500_000_000, 32 * 10**9, dict(zero_stage=2)),
        (7_500_000_000, 32 * 10**9, dict(zero_stage=3)),
        ("llama-2-7b", 24 * 10**9, dict(zero_stage=3, activation_checkpointing=True, seq_len=2048)),
        ("llama-2-70b", 80 * 10**9, dict(zero_stage=3, activation_checkpointing=True, flash_attention=True)),
    ],
)
def test_gpus_needed_is_the_first_count_that_fits(model, gpu, kw):
    n = gpus_needed(model, gpu_memory=gpu, **kw)
    assert training_memory(model, n_gpus=n, **kw).total <= gpu
    if n > 1:
        assert training_memory(model, n_gpus=n - 1, **kw).total > gpu
    # brute force agrees
    brute = next(k for k in range(1, 10_000) if training_memory(model, n_gpus=k, **kw).total <= gpu)
    assert n == brute


def test_gpus_needed_closed_form():
    # ZeRO-1: 4 bytes/param unsharded + 12 bytes/param / N <= 32 GB  ->  N >= 90 / 2 = 45
    assert gpus_needed(7_500_000_000, gpu_memory=32 * 10**9, zero_stage=1) == 45
    # ZeRO-3: 16 bytes/param / N <= 32 GB  ->  N >= 3.75  ->  4
    assert gpus_needed(7_500_000_000, gpu_memory=32 * 10**9, zero_stage=3) == 4


def test_gpus_needed_stage_0_is_one_or_nothing():
    assert gpus_needed(10**9, gpu_memory=16 * 10**9, zero_stage=0) == 1
    with pytest.raises(ValueError, match="does not fit"):
        gpus_needed(10**9, gpu_memory=16 * 10**9 - 1, zero_stage=0)


def test_gpus_needed_floor_is_explained():
    # ZeRO-1 never shards the 4 bytes/param of weights and gradients: 7.5B need 30 GB on any number of GPUs
    with pytest.raises(ValueError, match="not sharded") as err:
        gpus_needed(7_500_000_000, gpu_memory=30 * 10**9, zero_stage=1)
    assert "higher ZeRO stage" in str(err.value)


# ---------------------------------------------------------------------------------------------------------
# Measured: bytes of real tensors after one optimizer step
# ---------------------------------------------------------------------------------------------------------


def _one_adamw_step(cfg: GPTConfig, batch: int = 4):
    torch.manual_seed(0)
    model = GPT(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    idx = torch.randint(0, cfg.vocab_size, (batch, cfg.block_size))
    _, loss = model(idx, idx)
    loss.backward()
    opt.step()
    return model, opt


def _nbytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


@pytest.mark.parametrize("bias", [True, False])
def test_measured_fp32_adamw_bytes_equal_prediction(bias):
    cfg = GPTConfig(vocab_size=256, block_size=32, n_layer=2, n_head=4, n_embd=64, dropout=0.0, bias=bias)
    model, opt = _one_adamw_step(cfg)
    params = list(model.parameters())
    pred = training_memory(cfg, precision="fp32", optimizer="adamw", seq_len=32)
    assert _nbytes(params) == pred.weights
    assert _nbytes(p.grad for p in params) == pred.gradients
    moments = [t for p in params for key, t in opt.state[p].items() if key in ("exp_avg", "exp_avg_sq")]
    assert _nbytes(moments) == pred.optimizer_states
    # AdamW also keeps one step counter per parameter tensor, which the per-parameter rule leaves out
    steps = [opt.state[p]["step"] for p in params]
    assert _nbytes(steps) == len(params) * steps[0].element_size()


def _saved_activation_bytes(cfg: GPTConfig, batch: int) -> int:
    """Bytes a training forward keeps for the backward pass: the tensors autograd saves (parameters excluded)
    and the logits, which the caller holds until the backward pass is done."""
    torch.manual_seed(0)
    model = GPT(cfg)
    param_storages = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in param_storages:
            saved[storage.data_ptr()] = storage.nbytes()  # one entry per storage: views are not counted twice
        return t

    idx = torch.randint(0, cfg.vocab_size, (batch, cfg.block_size))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        logits, _ = model(idx, idx)
    saved[logits.untyped_storage().data_ptr()] = logits.untyped_storage().nbytes()
    return sum(saved.values())


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("n_layer", [1, 3])
def test_measured_activations_of_the_whole_model_match_the_count(fused, n_layer):
    # The whole model, embeddings, final norm, head and loss included: fp32 activations, no dropout. The fused
    # CPU attention kernel keeps no s x s matrix; the "math" kernel keeps the softmax output.
    from torch.nn.attention import SDPBackend, sdpa_kernel

    batch, cfg = (
        8,
        GPTConfig(vocab_size=256, block_size=128, n_layer=n_layer, n_head=4, n_embd=128, dropout=0.0),
    )
    backend = SDPBackend.FLASH_ATTENTION if fused else SDPBackend.MATH
    with sdpa_kernel(backend):
        measured = _saved_activation_bytes(cfg, batch)
    kw = dict(batch_size=batch, seq_len=128, flash_attention=fused, dropout=False, bytes_per_value=4)
    predicted = activation_bytes(cfg, **kw)
    assert abs(measured / predicted - 1) < 0.01
    # without the head and the loss the count misses a large part of a shallow model with v = 2h
    assert measured / activation_bytes(cfg, loss="excluded", **kw) - 1 > 0.1


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_memory_after_step_matches_prediction():
    cfg = GPTConfig(vocab_size=256, block_size=256, n_layer=4, n_head=4, n_embd=128, dropout=0.0)
    # A throwaway step first: a thread's first matrix product creates a cuBLAS workspace (32 MiB on Hopper)
    # that stays allocated, and the backward runs in autograd's own thread, which gets its own. Without this
    # step the count depends on which CUDA test ran first (benchmarks/memory_measured.py, run without it
    # on an H200, measured 5.96x the steady-state bytes for this shape).
    warm = GPT(cfg).cuda()
    warm_idx = torch.randint(0, 256, (16, 256), device="cuda")
    warm(warm_idx, warm_idx)[1].backward()
    del warm, warm_idx
    torch.manual_seed(0)
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()  # whatever earlier tests left behind
    model = GPT(cfg).cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    idx = torch.randint(0, 256, (16, 256), device="cuda")
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    logits, loss = model(idx, idx)
    loss.backward()
    opt.step()
    del logits, loss  # what is left: weights, gradients, AdamW state, the batch
    torch.cuda.synchronize()
    pred = training_memory(
        cfg, precision="fp32", seq_len=256, batch_size=16, flash_attention=True, dropout=False
    )
    steady = pred.weights + pred.gradients + pred.optimizer_states
    n_tensors = len(list(model.parameters()))
    # the caching allocator rounds each block up to 512 bytes; 3 tensors (+ a step counter) per parameter
    slack = 512 * 4 * n_tensors + idx.numel() * idx.element_size() + 2048
    assert abs(torch.cuda.memory_allocated() - before - steady) <= slack
    peak = torch.cuda.max_memory_allocated() - before
    assert 0.5 < peak / pred.total < 2.0, (peak, pred.total)


# ---------------------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------------------


def _spec(**kw):
    base = dict(name="t", arch="llama", n_layer=2, n_embd=64, n_head=4, vocab_size=100, context_length=16)
    base["intermediate_size"] = 128
    return ModelSpec(**{**base, **kw})


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        (dict(n_layer=0), "n_layer"),
        (dict(n_embd=-64), "n_embd"),
        (dict(n_head=0), "n_head"),
        (dict(vocab_size=0), "vocab_size"),
        (dict(context_length=-1), "context_length"),
        (dict(n_kv_head=0), "n_kv_head"),
        (dict(intermediate_size=0), "intermediate_size"),
        (dict(sliding_window=0), "sliding_window"),
        (dict(n_head=5), "divisible by n_head"),
        (dict(n_kv_head=3), "n_kv_head .* must divide n_head"),
        (dict(n_kv_head=8), "must divide n_head"),
        (dict(arch="gpt3"), "unknown arch 'gpt3'; valid: gpt2, llama"),
        (dict(intermediate_size=None), "intermediate_size is required"),
    ],
)
def test_spec_rejects(kw, match):
    with pytest.raises(ValueError, match=match):
        _spec(**kw)


@pytest.mark.parametrize("kw", [dict(n_layer=2.0), dict(n_embd="64"), dict(n_head=True)])
def test_spec_rejects_non_int(kw):
    with pytest.raises(TypeError, match=next(iter(kw))):
        _spec(**kw)


@pytest.mark.parametrize(
    "kw", [dict(tied_embeddings="false"), dict(tied_embeddings=0), dict(bias="no"), dict(name=None)]
)
def test_spec_rejects_flags_that_are_not_bools(kw):
    # 'false' is a truthy string: accepted, it would have counted as a tied head
    with pytest.raises(TypeError, match=f"^{next(iter(kw))} must be"):
        _spec(**kw)


def test_unknown_preset_suggests_closest():
    with pytest.raises(ValueError, match=r"unknown model 'llama2-7b'; did you mean 'llama-2-7b'"):
        get_model("llama2-7b")
    with pytest.raises(ValueError, match=r"did you mean 'gpt2-xl'"):
        param_count("gpt2-xxl")
    with pytest.raises(ValueError, match="valid: gpt2, gpt2-medium"):
        get_model("bert")


def test_get_model_wants_a_name():
    with pytest.raises(TypeError, match=r"^name must be a preset name"):
        get_model(7)


def test_unsupported_model_type():
    with pytest.raises(TypeError, match="model must be"):
        param_count(3.5)
    with pytest.raises(TypeError, match="model must be"):
        kv_cache_bytes([1, 2], batch_size=1, seq_len=1)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: inference_memory("gpt2", dtype="fp64"),
            "unknown dtype 'fp64'; valid: fp32, fp16, bf16, fp8",
        ),
        (lambda: inference_memory("gpt2", kv_dtype="int2"), "unknown kv_dtype"),
        (lambda: inference_memory("gpt2", batch_size=0), "batch_size must be an integer >= 1"),
        (lambda: inference_memory("gpt2", seq_len=-5), "seq_len must be an integer >= 1"),
        (lambda: inference_memory(0), "parameter count"),
        (lambda: inference_memory(-7), "parameter count"),
        (lambda: kv_cache_bytes("gpt2", batch_size=1, seq_len=0), "seq_len"),
        (lambda: kv_cache_bytes("gpt2", batch_size=1, seq_len=1, dtype="float32"), "valid: fp32"),
        (lambda: training_memory("gpt2", precision="fp16"), "unknown precision 'fp16'; valid: mixed, fp32"),
        (
            lambda: training_memory("gpt2", optimizer="adam"),
            "unknown optimizer 'adam'; valid: adamw, adamw8bit",
        ),
        (lambda: training_memory("gpt2", zero_stage=4), r"zero_stage must be an integer in \[0, 3\]"),
        (lambda: training_memory("gpt2", zero_stage=-1), "zero_stage"),
        (lambda: training_memory("gpt2", n_gpus=0), "n_gpus must be an integer >= 1"),
        (lambda: training_memory("gpt2", batch_size=0), "batch_size"),
        (lambda: training_memory(10**9, seq_len=0), "seq_len"),
        (lambda: activation_bytes("gpt2", batch_size=1, seq_len=8, bytes_per_value=3), "bytes_per_value"),
        (
            lambda: inference_memory("gpt2", seq_len=1025),
            r"seq_len \(1025\) exceeds the context length of 'gpt2'",
        ),
        (lambda: training_memory("gpt2-xl", seq_len=2048), "learned position embeddings"),
        (lambda: kv_cache_bytes("gpt2", batch_size=1, seq_len=4096), "exceeds the context length"),
        (lambda: activation_bytes("gpt3-175b", batch_size=1, seq_len=4096), "exceeds the context length"),
        (lambda: gpus_needed("gpt2", gpu_memory=0), "gpu_memory"),
        (lambda: gpus_needed("gpt2", gpu_memory=10**10, max_gpus=0), "max_gpus"),
        (lambda: gpus_needed("gpt2", gpu_memory=10**10, zero_stage=7), "zero_stage"),
    ],
)
def test_bad_input_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: training_memory("gpt2", n_gpus=2.0),
        lambda: training_memory("gpt2", batch_size="8"),
        lambda: kv_cache_bytes("gpt2", batch_size=1.5, seq_len=1),
        lambda: gpus_needed("gpt2", gpu_memory="80GB"),
        lambda: training_memory("gpt2", zero_stage=True),
        lambda: format_bytes(1.5e9),
    ],
)
def test_bad_input_type_errors(call):
    with pytest.raises(TypeError, match="must be an int"):
        call()


def test_module_has_no_torch_dependency():
    # sizing is arithmetic: importing it must not need torch (the CLI's fast path relies on it)
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(sizing))
    imported = {
        n.names[0].name.split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom) and n.names
    }
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert "torch" not in imported


# ---------------------------------------------------------------------------------------------------------
# Llama-style blocks: the activation count, measured on a block built in plain torch
# ---------------------------------------------------------------------------------------------------------


class _FusedRMSNorm(torch.autograd.Function):
    """RMSNorm that saves what a fused kernel saves: its input and one statistic per row."""

    @staticmethod
    def forward(ctx, x, weight, eps):
        rstd = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
        ctx.save_for_backward(x, weight, rstd)
        return x * rstd * weight

    @staticmethod
    def backward(ctx, grad):  # pragma: no cover - only the forward's saved tensors are measured
        x, weight, rstd = ctx.saved_tensors
        x_hat = x * rstd
        g = grad * weight
        dx = rstd * (g - x_hat * (g * x_hat).mean(-1, keepdim=True))
        return dx, (grad * x_hat).sum(dim=tuple(range(grad.dim() - 1))), None


class _NormForHooks(nn.Module):
    def __init__(self, d: int, fused: bool):
        super().__init__()
        self.weight, self.fused = nn.Parameter(torch.ones(d)), fused

    def forward(self, x):
        if self.fused:
            return _FusedRMSNorm.apply(x, self.weight, 1e-5)
        return nn.functional.rms_norm(x, (x.shape[-1],), self.weight, 1e-5)  # composite on the CPU


class _LlamaBlockForHooks(nn.Module):
    """A Llama block: RMSNorm, grouped-query attention with rotary positions, RMSNorm, SwiGLU MLP."""

    def __init__(self, d: int, n_head: int, n_kv: int, ffn: int, fused_norm: bool = True):
        super().__init__()
        self.n_head, self.n_kv, self.hd = n_head, n_kv, d // n_head
        self.norm1, self.norm2 = _NormForHooks(d, fused_norm), _NormForHooks(d, fused_norm)
        self.q, self.o = nn.Linear(d, d, bias=False), nn.Linear(d, d, bias=False)
        self.k = nn.Linear(d, n_kv * self.hd, bias=False)
        self.v = nn.Linear(d, n_kv * self.hd, bias=False)
        self.gate, self.up = nn.Linear(d, ffn, bias=False), nn.Linear(d, ffn, bias=False)
        self.down = nn.Linear(ffn, d, bias=False)

    def forward(self, x, cos, sin):
        B, T, D = x.shape

        def rope(t):
            t1, t2 = t.chunk(2, dim=-1)
            return t * cos + torch.cat((-t2, t1), dim=-1) * sin

        h = self.norm1(x)
        q = rope(self.q(h).view(B, T, self.n_head, self.hd).transpose(1, 2))
        k = rope(self.k(h).view(B, T, self.n_kv, self.hd).transpose(1, 2))
        v = self.v(h).view(B, T, self.n_kv, self.hd).transpose(1, 2)
        y = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        x = x + self.o(y.transpose(1, 2).reshape(B, T, D))
        h = self.norm2(x)
        return x + self.down(nn.functional.silu(self.gate(h)) * self.up(h))


def _llama_saved_bytes(n_layer, *, batch, seq, d, n_head, n_kv, ffn, fused_norm=True):
    torch.manual_seed(0)
    blocks = nn.ModuleList(_LlamaBlockForHooks(d, n_head, n_kv, ffn, fused_norm) for _ in range(n_layer))
    params = {p.untyped_storage().data_ptr() for p in blocks.parameters()}
    hd = d // n_head
    angles = torch.outer(torch.arange(seq).float(), 1.0 / 10000 ** (torch.arange(0, hd, 2) / hd))
    cos, sin = torch.cat((angles, angles), -1).cos(), torch.cat((angles, angles), -1).sin()
    x = torch.randn(batch, seq, d, requires_grad=True)
    saved: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        for block in blocks:
            x = block(x, cos, sin)
    return sum(saved.values())


LLAMA_SHAPE = dict(batch=4, seq=128, d=128, n_head=8, n_kv=2, ffn=352)


def _llama_spec(n_layer: int) -> ModelSpec:
    s = LLAMA_SHAPE
    return ModelSpec("block", "llama", n_layer=n_layer, n_embd=s["d"], n_head=s["n_head"], n_kv_head=s["n_kv"],
                     vocab_size=10, context_length=s["seq"], intermediate_size=s["ffn"])  # fmt: skip


@pytest.mark.parametrize("fused", [True, False])
def test_measured_activations_per_llama_block_match_the_count(fused):
    # Two blocks' saved tensors (3 blocks minus 1, so the shared rotary tables cancel), fp32, no dropout.
    from torch.nn.attention import SDPBackend, sdpa_kernel

    backend = SDPBackend.FLASH_ATTENTION if fused else SDPBackend.MATH
    with sdpa_kernel(backend):
        two = _llama_saved_bytes(3, **LLAMA_SHAPE) - _llama_saved_bytes(1, **LLAMA_SHAPE)
    predicted = 2 * activation_bytes(_llama_spec(1), batch_size=4, seq_len=128, flash_attention=fused,
                                     dropout=False, bytes_per_value=4, loss="excluded")  # fmt: skip
    assert abs(two / predicted - 1) < 0.01
    # and the GPT-block formula, applied to this block, undercounts it by far more than that
    gpt_count = 2 * 4 * 128 * 128 * (32 + (0 if fused else 2 * 8 * 128 / 128)) * 2
    assert two / gpt_count > 1.05


def test_composite_rms_norm_saves_one_more_tensor_per_norm():
    # PyTorch's F.rms_norm on the CPU is composite: it also saves the normalised tensor, s*b*h numbers per norm
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        fused = _llama_saved_bytes(2, **LLAMA_SHAPE) - _llama_saved_bytes(1, **LLAMA_SHAPE)
        plain = _llama_saved_bytes(2, **LLAMA_SHAPE, fused_norm=False) - _llama_saved_bytes(
            1, **LLAMA_SHAPE, fused_norm=False
        )
    sbh_fp32 = 4 * 128 * 128 * 4
    assert abs((plain - fused) / (2 * sbh_fp32) - 1) < 0.01


def test_llama_activation_count_by_hand():
    # s b h (12 + 4 h_kv / h + 8 f / h) per layer, 16-bit, flash, no dropout; h_kv = 2 * 16, f = 352
    spec = _llama_spec(3)
    s, b, h, hkv, f, a = 128, 4, 128, 32, 352, 8
    per_layer = s * b * (12 * h + 4 * hkv + 8 * f)
    blocks = dict(dropout=False, loss="excluded")
    got = activation_bytes(spec, batch_size=b, seq_len=s, flash_attention=True, **blocks)
    assert got == 3 * per_layer
    # math kernel: K and V expanded to every head, plus the softmax output 2 a s^2 b
    per_layer_math = s * b * (16 * h + 8 * f) + 2 * a * s * s * b
    assert activation_bytes(spec, batch_size=b, seq_len=s, **blocks) == 3 * per_layer_math
    # Llama 3 8B: 12 + 1 + 28 = 41 against the GPT block's 32 (28% more); Llama 2 7B: 12 + 4 + 21.5 = 37.5
    assert activation_bytes("llama-3-8b", batch_size=1, seq_len=1, flash_attention=True, **blocks) == (
        32 * 4096 * 41
    )
    assert activation_bytes("llama-2-7b", batch_size=2, seq_len=1, flash_attention=True, **blocks) == (
        32 * 2 * 4096 * 75 // 2
    )


def test_tensor_and_sequence_parallel_match_korthikanti():
    # Korthikanti et al. 2022, eqs. 2-4 (GPT block, 16-bit, dropout, attention scores stored):
    # no parallelism sbhL(34 + 5as/h); tensor parallel sbhL(10 + 24/t + 5as/(ht)); with sequence
    # parallelism sbhL(34/t + 5as/(ht)). GPT-3 175B, s = 2048, b = 1, t = 8.
    s, b, h, a, L, t = 2048, 1, 12288, 96, 96, 8
    tp = s * b * h * L * (10 + 24 / t + 5 * a * s / (h * t))
    sp = s * b * h * L * (34 / t + 5 * a * s / (h * t))
    blocks = dict(batch_size=b, seq_len=s, tensor_parallel=t, loss="excluded")
    got_tp = activation_bytes("gpt3-175b", **blocks)
    got_sp = activation_bytes("gpt3-175b", sequence_parallel=True, **blocks)
    assert got_tp == tp and got_sp == sp
    # full recomputation with sequence parallelism keeps 2 s b h / t per layer (eq. in section 4.2.2)
    ckpt = activation_bytes("gpt3-175b", sequence_parallel=True, activation_checkpointing=True, **blocks)
    assert ckpt == 2 * s * b * h * L / t + sp / L


def test_tensor_parallel_training_memory_and_gpus():
    n = PUBLISHED["llama-2-70b"]
    kw = dict(seq_len=4096, flash_attention=True, dropout=False, activation_checkpointing=True)
    mem = training_memory(
        "llama-2-70b", tensor_parallel=8, sequence_parallel=True, zero_stage=1, n_gpus=4, **kw
    )
    per_gpu = -(-n // 8)
    assert mem.weights == 2 * per_gpu and mem.gradients == 2 * per_gpu
    assert mem.optimizer_states == -(-12 * per_gpu // 4)
    # brute force over data-parallel replicas of 8 GPUs
    need = gpus_needed("llama-2-70b", gpu_memory=80 * 10**9, zero_stage=1, tensor_parallel=8,
                       sequence_parallel=True, **kw)  # fmt: skip
    brute = next(
        d for d in range(1, 1000)
        if training_memory("llama-2-70b", zero_stage=1, n_gpus=d, tensor_parallel=8, sequence_parallel=True,
                           **kw).total <= 80 * 10**9
    )  # fmt: skip
    assert need == 8 * brute


# ---------------------------------------------------------------------------------------------------------
# Quantised weights, decoding speed, LoRA
# ---------------------------------------------------------------------------------------------------------

LLAMA_3_2_1B = ModelSpec("llama-3.2-1b", "llama", n_layer=16, n_embd=2048, n_head=32, n_kv_head=8,
                         vocab_size=128256, context_length=131072, intermediate_size=8192,
                         tied_embeddings=True)  # fmt: skip


def test_llama_3_2_1b_int4_keeps_its_tied_embedding_in_16_bits():
    n = 1_235_814_400  # Hugging Face's count for meta-llama/Llama-3.2-1B
    emb = 128256 * 2048
    assert param_count(LLAMA_3_2_1B) == n
    assert round(emb / n, 2) == 0.21
    assert sizing.weight_bytes(LLAMA_3_2_1B, dtype="int4", embedding_dtype="int4") == n // 2  # 0.62 GB
    assert sizing.weight_bytes(LLAMA_3_2_1B, dtype="int4") == (n - emb) // 2 + 2 * emb
    assert round(sizing.weight_bytes(LLAMA_3_2_1B, dtype="int4") / 1e9, 2) == 1.01


def test_decode_ceiling_by_hand():
    # H100 SXM: 3.35 TB/s (NVIDIA H100 datasheet). Llama 2 7B in bf16 reads every weight but the untied input
    # embedding per step: 2 * (6,738,415,616 - 32000 * 4096) bytes, plus the KV cache (0.5 MiB per token).
    bw = 3_350_000_000_000
    weights = 2 * (6_738_415_616 - 32000 * 4096)
    assert sizing.decode_tokens_per_second("llama-2-7b", bandwidth=bw, seq_len=1) == bw / (weights + 2**19)
    # batch 8 at 4096 tokens: eight tokens per step, each sequence's 2 GiB cache read
    got = sizing.decode_tokens_per_second("llama-2-7b", bandwidth=bw, batch_size=8, seq_len=4096)
    assert got == 8 * bw / (weights + 8 * 2**31)
    # a tied model reads its embedding in full as the output head: GPT-2, fp32, only positions are looked up
    gpt2 = 4 * (124_439_808 - 1024 * 768)
    kv = 2 * 12 * 768 * 4
    assert sizing.decode_tokens_per_second("gpt2", bandwidth=bw, dtype="fp32") == bw / (gpt2 + kv)


def test_lora_params_brute_force():
    # one rank-r adapter per linear layer of the blocks built in torch: r * (in + out) each
    spec = _llama_spec(2)
    block = _LlamaBlockForHooks(128, 8, 2, 352)
    r = 4
    linears = [m for m in block.modules() if isinstance(m, nn.Linear)]
    assert sizing.lora_params(spec, rank=r) == 2 * sum(r * (m.in_features + m.out_features) for m in linears)
    attn = [block.q, block.k, block.v, block.o]
    expected = 2 * sum(r * (m.in_features + m.out_features) for m in attn)
    assert sizing.lora_params(spec, rank=r, targets="attention") == expected
    # GPT-2 blocks: attention projections and the two MLP matrices, 12 layers
    h = 768
    assert sizing.lora_params("gpt2", rank=1) == 12 * (4 * 2 * h + 2 * (h + 4 * h))


def test_qlora_memory_by_hand():
    # NF4 with double quantisation: 4 + 8/64 + 32/(64 * 256) = 4.127 bits (Dettmers et al. 2023, section 3)
    assert round(float(sizing.NF4_BYTES_PER_PARAM) * 8, 3) == 4.127
    n, emb = PUBLISHED["llama-2-70b"], 2 * 32000 * 8192
    r = 16
    trainable = 80 * r * (2 * (8192 + 8192) + 2 * (8192 + 1024) + 3 * (8192 + 28672))
    assert sizing.lora_params("llama-2-70b", rank=r) == trainable
    mem = sizing.lora_memory("llama-2-70b", rank=r, base_dtype="nf4", seq_len=2048)
    base = math.ceil((n - emb) * 4.126953125 / 8) + 2 * emb
    assert mem.weights == base + 2 * trainable
    assert mem.gradients + mem.optimizer_states == 14 * trainable
    s, h = 2048, 8192
    ends = 4 * s * h + 8 * s * 32000  # final norm and head inputs; fp32 logits and log-softmax
    assert mem.activations == 2 * s * h * 80 + s * h * 81 // 2 + ends  # checkpointed, flash, no dropout
    lora16 = sizing.lora_memory("llama-2-70b", rank=r, seq_len=2048)
    assert lora16.weights == 2 * n + 2 * trainable


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: activation_bytes("llama-2-70b", batch_size=1, seq_len=8, tensor_parallel=16), "must divide"),
        (lambda: activation_bytes("gpt2", batch_size=1, seq_len=8, tensor_parallel=0), "tensor_parallel"),
        (lambda: sizing.lora_params("gpt2", rank=0), "rank"),
        (lambda: sizing.lora_params("gpt2", rank=8, targets="mlp"), "unknown targets"),
        (lambda: sizing.lora_memory("gpt2", rank=8, base_dtype="nf3"), "base_dtype"),
        (lambda: sizing.decode_tokens_per_second("gpt2", bandwidth=0), "bandwidth"),
        (lambda: sizing.weight_bytes("gpt2", dtype="int4", embedding_dtype="int2"), "embedding_dtype"),
        (lambda: activation_bytes("gpt2", batch_size=1, seq_len=8, loss="softmax"), "loss"),
        (lambda: training_memory("gpt2", seq_len=8, loss="none"), "loss"),
    ],
)
def test_new_functions_reject_bad_values(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_autocast_keeps_16_bit_copies_of_the_matmul_weights():
    # bf16 autocast on the CPU: every Linear's fp32 weight is cast once per forward and the bf16 copy is saved
    # for the backward pass, 2 more bytes per matmul parameter on top of the fp32 weights.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 64))
    shapes = {tuple(p.shape) for p in model.parameters() if p.dim() == 2}
    copies: dict[int, int] = {}

    def pack(t):
        if t.dtype == torch.bfloat16 and tuple(t.shape) in shapes:
            copies[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with (
        torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t),
        torch.autocast("cpu", dtype=torch.bfloat16),
    ):
        model(torch.randn(8, 64, requires_grad=True))  # an input that needs a gradient, as inside a model
    assert sum(copies.values()) == 2 * (64 * 256 + 256 * 64)


# ---------------------------------------------------------------------------------------------------------
# int4 as each library lays it out
# ---------------------------------------------------------------------------------------------------------


def test_int4_bare_and_the_guides_default():
    n = PUBLISHED["llama-2-7b"]
    assert sizing.int4_weight_bytes("llama-2-7b", convention="bare") == n // 2
    embeddings = 2 * 32000 * 4096  # untied: input table and head, kept in bf16
    assert sizing.int4_weight_bytes("llama-2-7b") == (n - embeddings) // 2 + 2 * embeddings


def test_int4_gptq_awq_by_hand():
    # the blocks' seven matrices at 4 bits, an fp16 scale and a packed 4-bit zero per 128 weights; the norms,
    # the embedding and the head in 16 bits
    h, f, layers, v = 4096, 11008, 32, 32000
    matrices = layers * (4 * h * h + 3 * h * f)
    rest = PUBLISHED["llama-2-7b"] - matrices
    expected = matrices * (4 + 20 / 128) / 8 + 2 * rest
    assert sizing.int4_weight_bytes("llama-2-7b", convention="gptq-awq") == math.ceil(expected)
    assert rest == 2 * v * h + (2 * layers + 1) * h
    # a 16-bit scale and a 16-bit zero per group of 128 cost 0.25 bit per weight
    wide = sizing.int4_weight_bytes("llama-2-7b", convention="gptq-awq", zero_bits=16)
    none = sizing.int4_weight_bytes("llama-2-7b", convention="gptq-awq", zero_bits=0, group_size=10**12)
    assert abs((wide - none) * 8 / matrices - 0.25) < 1e-6


def test_use_more_bits_promotes_half_of_the_layers():
    # llama.cpp's model cards: Q4_K_M "uses Q6_K for half of the attention.wv and feed_forward.w2 tensors"
    picked = [i for i in range(32) if sizing._more_bits(i, 32)]
    assert len(picked) == 16
    assert picked[:4] == [0, 1, 2, 3] and picked[-4:] == [28, 29, 30, 31]


@pytest.mark.parametrize(
    ("model", "published_gb", "margin"),
    [
        # localmodels/Llama-2-13B-ggml, llama-2-13b.ggmlv3.q4_K_M.bin: 7.87 GB
        ("llama-2-13b", 7.87, 0.005),
        # bartowski/Llama-3.2-1B-Instruct-GGUF, Q4_K_M (llama.cpp b3821): 0.81 GB, tokenizer metadata included
        (LLAMA_3_2_1B, 0.81, 0.02),
    ],
)
def test_q4_k_m_matches_published_files(model, published_gb, margin):
    got = sizing.int4_weight_bytes(model, convention="llama.cpp-q4_k_m") / 1e9
    assert abs(got / published_gb - 1) < margin
    # the tied embedding is quantised (to Q6_K, as the head): under the guide's default it stays in bf16
    if model is LLAMA_3_2_1B:
        assert got < sizing.int4_weight_bytes(model) / 1e9 - 0.2


def test_int4_conventions_reject_bad_input():
    with pytest.raises(ValueError, match="convention"):
        sizing.int4_weight_bytes("gpt2", convention="q4")
    with pytest.raises(ValueError, match="group_size"):
        sizing.int4_weight_bytes("gpt2", convention="gptq-awq", group_size=0)
    with pytest.raises(ValueError, match="zero_bits"):
        sizing.int4_weight_bytes("gpt2", convention="gptq-awq", zero_bits=-1)
    with pytest.raises(TypeError, match="group_size"):
        sizing.int4_weight_bytes("gpt2", group_size=128.0)
