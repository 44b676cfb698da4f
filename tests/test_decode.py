"""Tests of llmguide.decode: the static-cache path gives generation.generate's tokens, and refuses bad arguments."""

from __future__ import annotations

import pytest
import torch
from tinygpt import BLOCK, prompt, random_model, reference_generate

from llmguide.decode import StaticKVCache, decode_step, generate_fast, prefill
from llmguide.generation import generate

# ----------------------------------------------------------------------------------------------------------
# Equal to the reference


# the last prompt is longer than the window
@pytest.mark.parametrize(("batch", "length"), [(1, 1), (3, 5), (2, BLOCK + 4)])
def test_greedy_equals_the_reference_past_block_size(batch: int, length: int) -> None:
    model = random_model()
    idx = prompt(batch, length)
    n = 2 * BLOCK + 3  # well past block_size: the window slides for many steps
    fast = generate_fast(model, idx, n, temperature=0)
    assert fast.shape == (batch, length + n)
    assert torch.equal(fast[:, :length], idx)
    assert torch.equal(fast, generate(model, idx, n, temperature=0))
    assert torch.equal(fast, reference_generate(model, idx, n, None, temperature=0))
    assert len(set(fast[0, length:].tolist())) >= 2  # not a constant run of one token


@pytest.mark.parametrize(
    "options",
    [
        dict(temperature=1.0),
        dict(temperature=0.8, top_k=10),
        dict(temperature=1.3, top_p=0.9),
        dict(temperature=1.1, top_k=20, top_p=0.95, min_p=0.02),
    ],
)
def test_seeded_sampling_equals_the_reference_token_for_token(options: dict[str, float]) -> None:
    model = random_model(seed=3)
    idx = prompt(4, 3, seed=2)
    n = BLOCK + 10  # crosses block_size
    fast = generate_fast(model, idx, n, generator=torch.Generator().manual_seed(7), **options)
    reference = generate(model, idx, n, generator=torch.Generator().manual_seed(7), **options)
    assert torch.equal(fast, reference)
    assert torch.equal(fast, reference_generate(model, idx, n, torch.Generator().manual_seed(7), **options))
    other = generate_fast(model, idx, n, generator=torch.Generator().manual_seed(8), **options)
    assert not torch.equal(other, reference)  # the seed matters: the comparison above can fail


def test_float64_model_equals_the_reference() -> None:
    model = random_model(seed=5).double()
    idx = prompt(2, 4)
    fast = generate_fast(model, idx, BLOCK + 5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(fast, generate(model, idx, BLOCK + 5, generator=torch.Generator().manual_seed(0)))
    cache = StaticKVCache.for_model(model, batch=2, max_len=8)
    assert cache.keys.dtype == torch.float64


def test_step_logits_equal_a_full_forward_at_every_position() -> None:
    model = random_model()
    idx = prompt(3, BLOCK)
    cache = StaticKVCache.for_model(model, batch=3, max_len=BLOCK)
    with torch.no_grad():
        full = model(idx)[0]
        logits = prefill(model, cache, idx[:, :5])
        assert torch.allclose(logits, full[:, 4], atol=1e-5)
        for t in range(5, BLOCK):
            assert cache.pos.tolist() == [t]
            logits = decode_step(model, cache, idx[:, t : t + 1])
            assert torch.allclose(logits, full[:, t], atol=1e-5, rtol=1e-5)
    assert cache.pos.tolist() == [BLOCK]


def test_one_position_per_step_within_the_window_then_refills_like_the_reference() -> None:
    model = random_model()
    seen: list[int] = []
    model.transformer.wte.register_forward_hook(lambda mod, args, out: seen.append(args[0].shape[1]))
    generate_fast(model, prompt(2, 4), BLOCK - 4 + 3, temperature=0)
    # prefill 4 positions, then one per token until the window of 16 is full; then, as in generate,
    # each step re-encodes the cropped window (positions are absolute: the cache cannot slide)
    assert seen == [4] + [1] * (BLOCK - 4) + [BLOCK] * 2


def test_a_reused_cache_gives_the_same_tokens_and_is_sized_per_call() -> None:
    model = random_model()
    idx = prompt(2, 3)
    cache = StaticKVCache.for_model(model, batch=2, max_len=BLOCK)
    first = generate_fast(model, idx, 10, temperature=0, cache=cache)
    again = generate_fast(model, idx, 10, temperature=0, cache=cache)
    assert torch.equal(first, again)
    assert torch.equal(first, generate(model, idx, 10, temperature=0))
    with pytest.raises(ValueError, match="cache holds 2 rows of 4 positions"):
        generate_fast(model, idx, 10, cache=StaticKVCache.for_model(model, batch=2, max_len=4))
    with pytest.raises(ValueError, match="rows"):
        generate_fast(model, prompt(3, 3), 10, cache=cache)
    with pytest.raises(ValueError, match="float64"):
        generate_fast(model, idx, 10, cache=StaticKVCache.for_model(model, 2, BLOCK, dtype=torch.float64))
    with pytest.raises(TypeError, match="cache"):
        generate_fast(model, idx, 10, cache="cache")  # type: ignore[arg-type]


def test_restores_training_mode_records_no_gradients_keeps_dtype() -> None:
    model = random_model(dropout=0.5).train()
    out = generate_fast(model, prompt(1, 3).int(), 4, temperature=0)
    assert model.training
    assert not out.requires_grad
    assert out.dtype == torch.int32
    assert torch.equal(out, generate(model, prompt(1, 3).int(), 4, temperature=0))  # no dropout meanwhile


def test_zero_new_tokens_returns_the_prompt() -> None:
    idx = prompt(2, 3)
    assert torch.equal(generate_fast(random_model(), idx, 0), idx)


def test_cache_layout_and_reset() -> None:
    cache = StaticKVCache(n_layer=3, batch=2, n_head=4, max_len=5, head_dim=8, dtype=torch.bfloat16)
    assert cache.keys.shape == cache.values.shape == (3, 2, 4, 5, 8)
    assert (cache.batch, cache.max_len, cache.nbytes) == (2, 5, 2 * 3 * 2 * 4 * 5 * 8 * 2)
    cache.pos.fill_(3)
    cache.reset()
    assert cache.pos.tolist() == [0]


# ----------------------------------------------------------------------------------------------------------
# Bad arguments


@pytest.mark.parametrize(
    ("idx", "n", "kw", "error", "pattern"),
    [
        (torch.zeros(1, 0, dtype=torch.long), 3, {}, ValueError, "idx"),
        (torch.zeros(0, 2, dtype=torch.long), 3, {}, ValueError, "idx"),
        (torch.tensor([[1, 64]]), 3, {}, ValueError, "vocab_size"),
        (torch.tensor([[1.0]]), 3, {}, TypeError, "idx"),
        (torch.tensor([[1]]), -1, {}, ValueError, "max_new_tokens"),
        (torch.tensor([[1]]), 2.0, {}, TypeError, "max_new_tokens"),
        (torch.tensor([[1]]), True, {}, TypeError, "max_new_tokens"),
        (torch.tensor([[1]]), 3, dict(mode=1), TypeError, "mode"),
        (torch.tensor([[1]]), 3, dict(mode="fast"), ValueError, "mode"),
        (torch.tensor([[1]]), 3, dict(mode="graph"), ValueError, "mode='graph'"),
        (torch.tensor([[1]]), 3, dict(temperature=-1.0), ValueError, "temperature"),
        (torch.tensor([[1]]), 3, dict(top_p=0.0), ValueError, "top_p"),
        (torch.tensor([[1]]), 3, dict(top_k=2.5), TypeError, "top_k"),
        (torch.tensor([[1]]), 3, dict(generator=1), TypeError, "generator"),
    ],
)
def test_generate_fast_rejects_bad_arguments(
    idx: torch.Tensor, n: object, kw: dict[str, object], error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=pattern):
        generate_fast(random_model(), idx, n, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("n", "kw", "error"),
    [
        (2.0, {}, TypeError),  # issue 26: it was a TypeError on one path and a ValueError on the other
        (True, {}, TypeError),
        (-1, {}, ValueError),
        (0, dict(temperature=-1.0), ValueError),  # checked before the first token, on both paths
        (3, dict(top_k=2.5), TypeError),
        (3, dict(generator=1), TypeError),
    ],
)
def test_both_paths_refuse_a_mistake_with_the_same_error(
    n: object, kw: dict[str, object], error: type[Exception]
) -> None:
    seen = []
    for path in (generate, generate_fast):
        with pytest.raises(error) as info:
            path(random_model(), prompt(1, 2), n, **kw)  # type: ignore[arg-type]
        seen.append(str(info.value))
    assert seen[0] == seen[1]


def test_generate_fast_rejects_a_model_that_is_not_a_gpt() -> None:
    with pytest.raises(TypeError, match="model"):
        generate_fast(torch.nn.Linear(2, 2), prompt(1, 2), 3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "error", "pattern"),
    [
        (dict(n_layer=0), ValueError, "n_layer"),
        (dict(batch=2.0), TypeError, "batch"),
        (dict(max_len=True), TypeError, "max_len"),
        (dict(dtype=torch.int64), TypeError, "dtype"),
    ],
)
def test_cache_rejects_bad_sizes(kw: dict[str, object], error: type[Exception], pattern: str) -> None:
    sizes: dict[str, object] = dict(n_layer=1, batch=1, n_head=1, max_len=4, head_dim=4)
    with pytest.raises(error, match=pattern):
        StaticKVCache(**{**sizes, **kw})  # type: ignore[arg-type]


def test_prefill_and_step_reject_mismatches() -> None:
    model = random_model()
    cache = StaticKVCache.for_model(model, batch=2, max_len=8)
    with pytest.raises(ValueError, match="max_len must be at most block_size"):
        StaticKVCache.for_model(model, batch=1, max_len=BLOCK + 1)
    with pytest.raises(TypeError, match="model"):
        StaticKVCache.for_model(torch.nn.Linear(2, 2), batch=1, max_len=4)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="too few"):
        prefill(model, cache, prompt(2, 9))
    with pytest.raises(ValueError, match="too few"):
        prefill(model, cache, prompt(3, 2))
    with pytest.raises(TypeError, match="cache"):
        prefill(model, None, prompt(2, 2))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_layer, n_head, head_dim"):
        prefill(random_model(n_layer=3), cache, prompt(2, 2))
    with pytest.raises(ValueError, match=r"tokens must have shape \(2, 1\)"):
        decode_step(model, cache, prompt(2, 2))
    with pytest.raises(TypeError, match="tokens"):
        decode_step(model, cache, torch.zeros(2, 1))


# ----------------------------------------------------------------------------------------------------------
# CUDA: the recorded graph and torch.compile (run by benchmarks/gpu_run.sh, stage cuda_tests)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("mode", ["graph", "compile"])
def test_cuda_graph_and_compile_equal_the_reference_in_float32(mode: str) -> None:
    device = torch.device("cuda")
    model = random_model().to(device)
    idx = prompt(3, 5).to(device)
    n = 2 * BLOCK + 3
    cache = StaticKVCache.for_model(model, batch=3, max_len=BLOCK)
    greedy = generate_fast(model, idx, n, temperature=0, mode=mode, cache=cache)
    assert torch.equal(greedy, generate(model, idx, n, temperature=0))
    again = generate_fast(model, idx, n, temperature=0, mode=mode, cache=cache)  # reuses the graph
    assert torch.equal(again, greedy)

    options = dict(top_k=20)
    sampled = generate_fast(
        model, idx, 20, mode=mode, generator=torch.Generator(device=device).manual_seed(3), **options
    )
    reference = generate(model, idx, 20, generator=torch.Generator(device=device).manual_seed(3), **options)
    assert torch.equal(sampled, reference)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_decode_step_never_waits_for_the_gpu() -> None:
    # A step that read a value back (a sync) could not be recorded as a CUDA graph.
    device = torch.device("cuda")
    model = random_model().to(device)
    cache = StaticKVCache.for_model(model, batch=2, max_len=8)
    with torch.no_grad():
        prefill(model, cache, prompt(2, 3).to(device))
        tokens = prompt(2, 1).to(device)
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            decode_step(model, cache, tokens)
        finally:
            torch.cuda.set_sync_debug_mode("default")
