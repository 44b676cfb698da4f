"""Tests of llmguide.model against independent truths: brute-force attention, closed-form parameter counts."""

from __future__ import annotations

import collections
import importlib.util
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from llmguide.model import GPT, GPTConfig, KVCache, attention, attention_weights, causal_mask, eval_logits

TINY = dict(vocab_size=64, block_size=16, n_layer=2, n_head=2, n_embd=32)


def tiny_model(seed: int = 0, **overrides: object) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(**{**TINY, **overrides}))


def brute_force_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool) -> torch.Tensor:
    """Attention one query at a time in float64 with Python loops; queries are the last T of S positions."""
    q, k, v = q.double(), k.double(), v.double()
    *batch, T, d = q.shape
    S = k.shape[-2]
    out = torch.zeros(*batch, T, v.shape[-1], dtype=torch.float64)
    for b in torch.cartesian_prod(*[torch.arange(n) for n in batch]).reshape(-1, len(batch)).tolist():
        for i in range(T):
            last = S - T + i if causal else S - 1  # the last key query i may see
            scores = [
                math.fsum(q[(*b, i)][c] * k[(*b, j)][c] for c in range(d)) / math.sqrt(d)
                for j in range(last + 1)
            ]
            top = max(scores)
            w = [math.exp(s - top) for s in scores]
            total = math.fsum(w)
            for j in range(last + 1):
                out[(*b, i)] += w[j] / total * v[(*b, j)]
    return out


# --------------------------------------------------------------------------------------------------------
# attention
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize(("T", "S"), [(5, 5), (1, 6), (3, 7)])
def test_attention_matches_float64_brute_force(causal: bool, T: int, S: int) -> None:
    g = torch.Generator().manual_seed(T * 10 + S)
    q = torch.randn(2, 3, T, 4, generator=g)
    k = torch.randn(2, 3, S, 4, generator=g)
    v = torch.randn(2, 3, S, 6, generator=g)
    expected = brute_force_attention(q, k, v, causal)
    assert torch.allclose(attention(q.double(), k.double(), v.double(), causal), expected, atol=1e-12)
    assert torch.allclose(attention(q, k, v, causal), expected.float(), atol=1e-5)


@pytest.mark.parametrize("causal", [True, False])
def test_attention_matches_sdpa(causal: bool) -> None:
    g = torch.Generator().manual_seed(1)
    q, k, v = torch.randn(3, 2, 4, 9, 16, generator=g)
    assert torch.allclose(
        attention(q, k, v, causal), F.scaled_dot_product_attention(q, k, v, is_causal=causal), atol=1e-5
    )


@pytest.mark.parametrize(("T", "S"), [(1, 1), (4, 4), (1, 6), (3, 7)])
def test_causal_mask_lets_query_i_see_keys_up_to_its_position(T: int, S: int) -> None:
    # the T queries are the last T of S positions: query i is position S - T + i
    expected = [[j <= S - T + i for j in range(S)] for i in range(T)]
    assert causal_mask(T, S).tolist() == expected


def test_causal_mask_refuses_more_queries_than_keys() -> None:
    with pytest.raises(ValueError, match="S must be an integer >= 3"):
        causal_mask(3, 2)
    with pytest.raises(TypeError, match="T must be an integer"):
        causal_mask(2.0, 4)


def test_kv_cache_advance_counts_positions_and_refuses_to_overflow() -> None:
    cache = KVCache(n_layer=2, max_len=5)
    cache.advance(3)
    cache.advance(0)
    assert cache.length == 3
    with pytest.raises(ValueError, match="at most 5 positions, asked for 6"):
        cache.advance(3)
    assert cache.length == 3  # unchanged by the refused call
    with pytest.raises(ValueError, match="n must be an integer >= 0"):
        cache.advance(-1)


def test_attention_weights_are_causal_rows_summing_to_one() -> None:
    g = torch.Generator().manual_seed(2)
    w = attention_weights(torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g))
    assert torch.equal(w.triu(diagonal=1), torch.zeros(6, 6))  # no weight on the future, exactly
    assert torch.allclose(w.sum(-1), torch.ones(6))
    assert w[0, 0] == 1.0  # the first position can only see itself


# --------------------------------------------------------------------------------------------------------
# config
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("vocab_size", 0, ValueError),
        ("block_size", -1, ValueError),
        ("n_layer", 0, ValueError),
        ("n_head", 0, ValueError),
        ("n_embd", 0, ValueError),
        ("n_embd", 32.0, TypeError),  # the wrong kind: TypeError; the wrong range: ValueError
        ("n_layer", True, TypeError),
        ("dropout", 1.0, ValueError),
        ("dropout", -0.1, ValueError),
        ("dropout", float("nan"), ValueError),
        ("dropout", "0.1", TypeError),
        ("bias", 1, TypeError),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field: str, value: object, error: type) -> None:
    with pytest.raises(error, match=f"^{field} must be"):
        GPTConfig(**{**TINY, field: value})


def test_config_rejects_n_embd_not_divisible_by_n_head() -> None:
    with pytest.raises(ValueError, match=r"n_embd.*n_head"):
        GPTConfig(n_embd=30, n_head=4)


def test_gpt_rejects_a_non_config() -> None:
    with pytest.raises(TypeError, match="config"):
        GPT({"n_layer": 2})  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------------
# parameter counts
# --------------------------------------------------------------------------------------------------------


def closed_form_params(V: int, T: int, L: int, d: int, bias: bool) -> int:
    """GPT-2 parameter count from its architecture; the head shares the token embedding."""
    b = 1 if bias else 0
    layernorm = d + b * d
    per_block = (
        2 * layernorm
        + (d * 3 * d + b * 3 * d)
        + (d * d + b * d)
        + (d * 4 * d + b * 4 * d)
        + (4 * d * d + b * d)
    )
    return V * d + T * d + L * per_block + layernorm


def test_gpt2_small_has_124_439_808_parameters() -> None:
    # 124,439,808: GPT-2 small (124M) as counted by Hugging Face `GPT2LMHeadModel(...).num_parameters()`
    # and by nanoGPT's `get_num_params(non_embedding=False)`.
    with torch.device("meta"):
        model = GPT(
            GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768, bias=True)
        )
    assert model.num_params() == 124_439_808
    assert model.num_params() == closed_form_params(50257, 1024, 12, 768, bias=True)
    # non-embedding count (Kaplan et al. 2020): close to 12 * n_layer * d^2
    assert model.num_params(non_embedding=True) == 124_439_808 - 50257 * 768 - 1024 * 768
    assert abs(model.num_params(non_embedding=True) / (12 * 12 * 768**2) - 1) < 0.002


@pytest.mark.parametrize("bias", [True, False])
def test_num_params_matches_closed_form_and_tensor_sizes(bias: bool) -> None:
    model = tiny_model(bias=bias)
    assert model.num_params() == closed_form_params(64, 16, 2, 32, bias)
    unique = {p.data_ptr(): p.numel() for p in model.state_dict().values()}  # tied matrix listed twice
    assert model.num_params() == sum(unique.values())
    assert model.lm_head.weight is model.transformer.wte.weight
    assert model.lm_head.bias is None


# --------------------------------------------------------------------------------------------------------
# forward
# --------------------------------------------------------------------------------------------------------


def test_forward_gives_logits_for_every_position_and_loss_is_cross_entropy() -> None:
    model = tiny_model()
    g = torch.Generator().manual_seed(3)
    idx = torch.randint(0, 64, (3, 10), generator=g)
    targets = torch.randint(0, 64, (3, 10), generator=g)
    logits, loss = model(idx, targets)
    assert logits.shape == (3, 10, 64)
    logp = logits.double().log_softmax(-1)
    expected = -logp.gather(-1, targets.unsqueeze(-1)).mean()
    assert abs(loss.item() - expected.item()) < 1e-5
    assert model(idx)[1] is None


def test_targets_minus_one_are_ignored() -> None:
    model = tiny_model()
    idx = torch.randint(0, 64, (2, 8), generator=torch.Generator().manual_seed(4))
    targets = idx.clone()
    targets[:, :4] = -1
    logits, loss = model(idx, targets)
    expected = F.cross_entropy(logits[:, 4:].reshape(-1, 64), idx[:, 4:].reshape(-1))
    assert torch.allclose(loss, expected)


def test_causality_future_tokens_do_not_change_earlier_logits() -> None:
    model = tiny_model()
    g = torch.Generator().manual_seed(5)
    a = torch.randint(0, 64, (2, 12), generator=g)
    b = a.clone()
    b[:, 7:] = torch.randint(0, 64, (2, 5), generator=g)
    la, lb = model(a)[0], model(b)[0]
    assert torch.allclose(la[:, :7], lb[:, :7], atol=1e-6)
    assert not torch.allclose(la[:, 7:], lb[:, 7:], atol=1e-3)  # the check above can fail


def test_loss_at_init_is_close_to_log_vocab() -> None:
    # small initial weights give nearly uniform predictions: cross-entropy ~ ln(vocab_size) on random targets
    # (not on targets equal to the input: the tied embedding makes the current token a little likelier)
    model = tiny_model(vocab_size=256)
    g = torch.Generator().manual_seed(6)
    idx, targets = torch.randint(0, 256, (2, 8, 16), generator=g)
    _, loss = model(idx, targets)
    assert abs(loss.item() - math.log(256)) < 0.1


@pytest.mark.slow
def test_tiny_model_overfits_a_fixed_batch() -> None:
    model = tiny_model()
    idx = torch.randint(0, 64, (4, 16), generator=torch.Generator().manual_seed(7))
    x, y = idx[:, :-1], idx[:, 1:]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    first = model(x, y)[1].item()
    for _ in range(60):
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert first > 4.0
    assert loss.item() < 0.1


def test_dropout_is_active_in_train_mode_only() -> None:
    model = tiny_model(dropout=0.5)
    idx = torch.randint(0, 64, (2, 8), generator=torch.Generator().manual_seed(8))
    model.eval()
    assert torch.equal(model(idx)[0], model(idx)[0])
    model.train()
    assert not torch.equal(model(idx)[0], model(idx)[0])


@pytest.mark.parametrize(
    ("idx", "error", "pattern"),
    [
        (torch.tensor([[1.0, 2.0]]), TypeError, "idx"),
        ([[1, 2]], TypeError, "idx"),
        (torch.tensor([1, 2]), ValueError, "idx"),
        (torch.zeros(1, 0, dtype=torch.long), ValueError, "idx"),
        (torch.zeros(0, 3, dtype=torch.long), ValueError, "idx"),
        (torch.zeros(1, 17, dtype=torch.long), ValueError, "block_size"),
        (torch.tensor([[1, 64]]), ValueError, "vocab_size"),
        (torch.tensor([[-1, 2]]), ValueError, "vocab_size"),
    ],
)
def test_forward_rejects_bad_idx(idx: object, error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        tiny_model()(idx)


def test_forward_rejects_bad_targets() -> None:
    model = tiny_model()
    idx = torch.zeros(2, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="targets"):
        model(idx, torch.zeros(2, 5, dtype=torch.long))
    with pytest.raises(TypeError, match="targets"):
        model(idx, torch.zeros(2, 4))


@pytest.mark.parametrize("bad", [64, 300, -5, -2])
def test_targets_outside_the_vocabulary_are_refused_before_the_loss(bad: int) -> None:
    # without the check, 300 and -5 end in an IndexError (or a device assert on CUDA) inside cross_entropy
    model = tiny_model()  # vocab_size 64
    idx = torch.zeros(1, 4, dtype=torch.long)
    targets = torch.tensor([[1, 2, bad, -1]])
    with pytest.raises(
        ValueError, match=rf"^targets holds token ids outside \[0, vocab_size=64\).*e\.g\. {bad}$"
    ):
        model(idx, targets)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16])
def test_small_integer_dtypes_are_a_type_error_naming_the_dtype(dtype: torch.dtype) -> None:
    model = tiny_model()
    with pytest.raises(TypeError, match=f"^idx must be a tensor of dtype int64 or int32.*{dtype}"):
        model(torch.zeros(1, 4, dtype=dtype))
    with pytest.raises(TypeError, match=f"^targets must be a tensor of dtype int64 or int32.*{dtype}"):
        model(torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 4, dtype=dtype))


def test_int32_targets_give_the_int64_loss() -> None:
    model = tiny_model()
    g = torch.Generator().manual_seed(11)
    idx, targets = torch.randint(0, 64, (2, 2, 6), generator=g)
    targets[0, 0] = -1
    assert torch.equal(model(idx, targets.int())[1], model(idx, targets)[1])


def test_forward_accepts_int32_ids_and_a_full_block() -> None:
    model = tiny_model()
    idx = torch.randint(0, 64, (1, 16), generator=torch.Generator().manual_seed(9))
    assert torch.allclose(model(idx.int())[0], model(idx)[0])


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_forward_on_cuda_in_mixed_precision_matches_float32_on_cpu() -> None:
    from llmguide.device import autocast

    model = tiny_model()
    g = torch.Generator().manual_seed(10)
    idx, targets = torch.randint(0, 64, (2, 4, 16), generator=g)
    _, cpu_loss = model(idx, targets)
    model.cuda()
    with autocast("cuda"):
        logits, loss = model(idx.cuda(), targets.cuda())
    assert logits.dtype in (torch.bfloat16, torch.float16)
    assert abs(loss.item() - cpu_loss.item()) < 0.05
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_training_step_on_cuda_never_waits_for_the_host() -> None:
    # torch's sync debug mode raises on any operation that makes the host wait for the device: the checks
    # of idx and targets inside forward must not be one (they are queued on the device instead).
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=256, block_size=16, n_layer=1, n_head=2, n_embd=32)).cuda()
    idx = torch.randint(0, 256, (2, 16), device="cuda")
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        _, loss = model(idx, idx)
        loss.backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    bad = idx.clone()
    bad[0, 0] = 300
    with pytest.raises(RuntimeError, match="idx holds token ids outside"):
        model(bad)
        torch.cuda.synchronize()


class _AtenCounter(TorchDispatchMode):
    """Count the aten operators a block of code runs (every kernel call, forward, backward and optimizer)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: collections.Counter[str] = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[str(func.overloadpacket)] += 1
        return func(*args, **(kwargs or {}))


def test_training_step_runs_nanogpts_operators_plus_only_the_id_checks():
    # The speed claim against nanoGPT (benchmarks/train_step.py) rests on this: one training step of the
    # llmguide GPT runs the aten operators of Karpathy's nanoGPT model.py (benchmarks/nanogpt.py, the
    # baseline), plus the few of its input check (ids and targets inside the vocabulary, without a device
    # sync on accelerators). A timing gap between the two is then noise, not work.
    spec = importlib.util.spec_from_file_location(
        "nanogpt", Path(__file__).parents[1] / "benchmarks" / "nanogpt.py"
    )
    nanogpt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nanogpt)
    config = GPTConfig(vocab_size=64, block_size=16, n_layer=2, n_head=2, n_embd=16)
    generator = torch.Generator().manual_seed(0)
    x = torch.randint(0, 64, (2, 16), generator=generator)
    y = torch.randint(0, 64, (2, 16), generator=generator)
    ops = {}
    for name, model in [("nanoGPT", nanogpt.NanoGPT(config)), ("llmguide", GPT(config))]:
        optimizer = nanogpt.make_optimizer(model)
        with _AtenCounter() as counter:
            _, loss = model(x, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        ops[name] = counter.ops
    # Nothing of nanoGPT's is missing but transposes, which are views (no arithmetic, no copy): llmguide's GPT
    # stores its weights input-major (`input_major`), so autograd transposes some of them fewer times.
    missing = ops["nanoGPT"] - ops["llmguide"]
    assert set(missing) <= {"aten.t"}, missing
    # ids: (idx < 0) | (idx >= vocab), any(), read on the host; the same for the targets, where -1 is allowed.
    # Each reads B x T integers once: against the step's matrix products, O(B T C^2), nothing.
    extra = ops["llmguide"] - ops["nanoGPT"]
    assert extra == collections.Counter(
        {
            "aten.lt": 2,
            "aten.ge": 2,
            "aten.bitwise_or": 2,
            "aten.any": 2,
            "aten._local_scalar_dense": 2,
            "aten.ne": 1,
            "aten.bitwise_and_": 1,
        }
    ), extra


def test_eval_logits_is_the_eval_mode_forward_without_gradients_and_restores_the_mode() -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=8, vocab_size=32, n_layer=1, n_head=2, n_embd=16, dropout=0.5)).train()
    idx = torch.randint(0, 32, (3, 8))
    logits = eval_logits(model, idx)
    assert model.training  # put back
    assert not logits.requires_grad and logits.grad_fn is None
    model.eval()
    with torch.no_grad():
        reference, _ = model(idx)  # what scoring by hand does: dropout off, no graph
    assert torch.equal(logits, reference)
    model.train()

    class Broken(torch.nn.Module):
        def forward(self, idx: torch.Tensor) -> tuple[torch.Tensor, None]:
            raise RuntimeError("boom")

    broken = Broken().train()
    with pytest.raises(RuntimeError, match="boom"):
        eval_logits(broken, idx)
    assert broken.training  # put back even when the forward pass raises
    with pytest.raises(TypeError, match="model"):
        eval_logits("not a model", idx)  # type: ignore[arg-type]
