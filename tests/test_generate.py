"""Tests of llmguide.generation.generate: the KV cache gives the tokens of plain recomputation, at one position per token."""

from __future__ import annotations

from dataclasses import astuple
from pathlib import Path

import pytest
import torch
from tinygpt import BLOCK, prompt, random_model, reference_generate

from llmguide.checkpoint import save_checkpoint
from llmguide.generation import generate
from llmguide.model import GPT, GPTConfig, KVCache


# the last prompt is longer than the window
@pytest.mark.parametrize(("batch", "length"), [(1, 1), (3, 5), (2, BLOCK + 4)])
def test_greedy_cached_equals_uncached_and_reference_past_block_size(batch: int, length: int) -> None:
    model = random_model()
    idx = prompt(batch, length)
    n = 2 * BLOCK + 3  # well past block_size: the window slides for many steps
    cached = generate(model, idx, n, temperature=0)
    uncached = generate(model, idx, n, temperature=0, use_cache=False)
    expected = reference_generate(model, idx, n, None, temperature=0)
    assert cached.shape == (batch, length + n)
    assert torch.equal(cached[:, :length], idx)
    assert torch.equal(cached, expected)
    assert torch.equal(uncached, expected)
    assert len(set(cached[0, length:].tolist())) >= 2  # not a constant run of one token


@pytest.mark.parametrize(
    "options",
    [dict(temperature=1.0), dict(temperature=0.8, top_k=10), dict(temperature=1.3, top_p=0.9, min_p=0.01)],
)
def test_seeded_sampling_cached_equals_uncached_and_reference(options: dict[str, float]) -> None:
    model = random_model(seed=3)
    idx = prompt(4, 3, seed=2)
    n = BLOCK + 10

    def run(use_cache: bool) -> torch.Tensor:
        return generate(
            model, idx, n, generator=torch.Generator().manual_seed(7), use_cache=use_cache, **options
        )

    expected = reference_generate(model, idx, n, torch.Generator().manual_seed(7), **options)
    assert torch.equal(run(True), expected)
    assert torch.equal(run(False), expected)
    other = generate(model, idx, n, generator=torch.Generator().manual_seed(8), **options)
    assert not torch.equal(other, expected)  # the seed matters: the comparison above can fail


def test_the_cache_feeds_one_position_per_new_token_within_the_window() -> None:
    model = random_model()
    seen: list[int] = []
    model.transformer.wte.register_forward_hook(lambda mod, args, out: seen.append(args[0].shape[1]))
    generate(model, prompt(2, 4), BLOCK - 4 + 3, temperature=0)
    # prefill 4 positions, then one position per token until the cache holds the full window of 16; then
    # the window slides, positions shift, and each further step re-encodes the cropped window (see generate)
    assert seen == [4] + [1] * (BLOCK - 4) + [BLOCK] * 2
    seen.clear()
    generate(model, prompt(2, 4), 5, temperature=0, use_cache=False)
    assert seen == [4, 5, 6, 7, 8]


def test_cache_fed_in_chunks_matches_forward() -> None:
    # the attention's general case: several new positions after cached ones (a causal mask offset by `past`)
    model = random_model()
    idx = prompt(2, 12)
    cache = KVCache(model.config.n_layer, BLOCK)
    chunks = [(0, 5), (5, 6), (6, 12)]
    with torch.no_grad():
        steps = [model.step(idx[:, a:b], cache) for a, b in chunks]
        full = model(idx)[0]
    assert cache.length == 12
    # each chunk's last position; with two layers it reads the keys of the chunk's earlier positions, which a
    # wrong mask (seeing later positions) would have changed
    for (_, b), logits in zip(chunks, steps, strict=True):
        assert torch.allclose(logits, full[:, b - 1], atol=1e-4, rtol=1e-5)


def test_kv_cache_refuses_to_overflow() -> None:
    cache = KVCache(n_layer=1, max_len=4)
    k = torch.zeros(1, 2, 3, 8)
    cache.update(0, k, k)
    cache.length = 3
    with pytest.raises(ValueError, match="at most 4"):
        cache.update(0, k, k)


def test_generate_restores_training_mode_and_records_no_gradients() -> None:
    model = random_model(dropout=0.5).train()
    out = generate(model, prompt(1, 3), 4, temperature=0)
    assert model.training
    assert not out.requires_grad
    # dropout is off while generating: greedy decoding repeats exactly
    assert torch.equal(out, generate(model, prompt(1, 3), 4, temperature=0))


def test_zero_new_tokens_returns_the_prompt() -> None:
    idx = prompt(2, 3)
    assert torch.equal(generate(random_model(), idx, 0), idx)


def test_int32_prompts_keep_their_dtype() -> None:
    out = generate(random_model(), prompt(1, 3).int(), 2, temperature=0)
    assert out.dtype == torch.int32


@pytest.mark.parametrize(
    ("idx", "n", "error", "pattern"),
    [
        (torch.zeros(1, 0, dtype=torch.long), 3, ValueError, "idx"),
        (torch.zeros(0, 2, dtype=torch.long), 3, ValueError, "idx"),
        (torch.tensor([[1, 64]]), 3, ValueError, "vocab_size"),
        (torch.tensor([[-1]]), 3, ValueError, "vocab_size"),
        (torch.tensor([[1.0]]), 3, TypeError, "idx"),
        (
            torch.tensor([[1]], dtype=torch.uint8),
            3,
            TypeError,
            "idx must be a tensor of dtype int64 or int32",
        ),
        (
            torch.tensor([[1]], dtype=torch.int16),
            3,
            TypeError,
            "idx must be a tensor of dtype int64 or int32",
        ),
        (torch.tensor([[1]]), -1, ValueError, "max_new_tokens"),
        (torch.tensor([[1]]), 2.0, TypeError, "max_new_tokens"),
        (torch.tensor([[1]]), True, TypeError, "max_new_tokens"),
    ],
)
def test_generate_rejects_bad_input(
    idx: torch.Tensor, n: object, error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=pattern):
        generate(random_model(), idx, n)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "error", "pattern"),
    [
        (dict(temperature=-5), ValueError, "temperature"),
        (dict(temperature="hot"), TypeError, "temperature"),
        (dict(top_p=0.0), ValueError, "top_p"),
        (dict(top_k=2.0), TypeError, "top_k"),
        (dict(min_p=2), ValueError, "min_p"),
        (dict(generator=0), TypeError, "generator"),
        (dict(use_cache="yes"), TypeError, "use_cache"),
    ],
)
def test_sampling_arguments_are_checked_up_front_even_for_zero_new_tokens(
    options: dict, error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=f"^{pattern}"):
        generate(random_model(), prompt(1, 2), 0, **options)


def test_bad_sampling_arguments_are_reported_by_sample() -> None:
    with pytest.raises(ValueError, match="temperature"):
        generate(random_model(), prompt(1, 2), 3, temperature=-1.0)
    with pytest.raises(ValueError, match="top_p"):
        generate(random_model(), prompt(1, 2), 3, top_p=0.0)


# --------------------------------------------------------------------------------------------------------
# llmguide generate (the command line)
# --------------------------------------------------------------------------------------------------------


@pytest.fixture
def byte_checkpoint(tmp_path: Path) -> tuple[GPT, Path]:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=256, block_size=32, n_layer=2, n_head=2, n_embd=32))
    return model.eval(), save_checkpoint(tmp_path / "bytes.pt", model)


def test_cli_greedy_output_is_the_models_greedy_continuation(byte_checkpoint: tuple[GPT, Path], cli) -> None:
    model, path = byte_checkpoint
    argv = [
        "generate",
        "--checkpoint",
        str(path),
        "--prompt",
        "Hi",
        "--max-new-tokens",
        "40",
        "--temperature",
        "0",
    ]
    status, out, _ = astuple(cli(*argv, "--device", "cpu"))
    expected = generate(model, torch.tensor([list(b"Hi")]), 40, temperature=0)[0]  # past block_size too
    assert status == 0
    assert out == bytes(expected.tolist()).decode("utf-8", errors="replace") + "\n"
    assert out.startswith("Hi")


def test_cli_seed_makes_sampling_reproducible(byte_checkpoint: tuple[GPT, Path], cli) -> None:
    _, path = byte_checkpoint
    base = ["generate", "--checkpoint", str(path), "--prompt", "é", "--max-new-tokens", "20", "--top-k", "50"]
    first = astuple(cli(*base, "--seed", "1"))
    again = astuple(cli(*base, "--seed", "1"))
    other = astuple(cli(*base, "--seed", "2", "--top-p", "0.9", "--min-p", "0.01", "--temperature", "1.2"))
    assert first[0] == again[0] == other[0] == 0
    assert first[1] == again[1]
    assert first[1] != other[1]


@pytest.mark.parametrize(
    ("extra", "flag"),
    [
        (["--prompt", ""], "--prompt"),
        (["--max-new-tokens", "-1"], "--max-new-tokens"),
        (["--temperature", "-1"], "--temperature"),
        (["--temperature", "nan"], "--temperature"),
        # checked once, up front: the example (it used to succeed, generating nothing)
        (["--temperature", "-5", "--max-new-tokens", "0"], "--temperature"),
        (["--top-p", "1.5"], "--top-p"),
        (["--top-p", "0", "--max-new-tokens", "0"], "--top-p"),
        (["--top-k", "0"], "--top-k"),
        (["--min-p", "-1"], "--min-p"),
        (["--seed", "-1"], "--seed"),
        (["--seed", str(2**64)], "--seed"),
        (["--device", "tpu"], "--device"),
        (["--prompt", "\udcff"], "--prompt"),  # an undecodable argv byte (surrogateescape) is no UTF-8
    ],
)
def test_cli_bad_input_exits_2_with_one_line(
    byte_checkpoint: tuple[GPT, Path], cli, extra: list[str], flag: str
) -> None:
    _, path = byte_checkpoint
    result = cli("generate", "--checkpoint", str(path), "--prompt", "a", *extra)
    assert result.status == 2
    assert result.out == ""
    result.fails_naming(flag)


def test_cli_missing_or_foreign_checkpoint(tmp_path: Path, cli) -> None:
    result = cli("generate", "--checkpoint", str(tmp_path / "nope.pt"), "--prompt", "a")
    assert result.status == 2
    assert "no checkpoint file" in result.fails_naming("--checkpoint")
    path = save_checkpoint(
        tmp_path / "v64.pt", GPT(GPTConfig(vocab_size=64, block_size=8, n_layer=1, n_embd=16))
    )
    result = cli("generate", "--checkpoint", str(path), "--prompt", "a")
    assert result.status == 2
    assert "vocab_size=64" in result.fails_naming("--checkpoint")


def _write_hostile(path: Path, config: dict, state_dict: dict) -> Path:
    torch.save({"format": "llmguide-gpt", "version": 1, "config": config, "state_dict": state_dict}, path)
    return path


def test_cli_refuses_hostile_checkpoints_in_one_line(tmp_path: Path, cli) -> None:
    config = dict(vocab_size=2**40, block_size=32, n_layer=2, n_head=2, n_embd=32, dropout=0.0, bias=True)
    huge = _write_hostile(tmp_path / "huge.pt", config, {})  # the example: 2**40 tokens, no weights
    random_bytes = tmp_path / "random.pt"
    random_bytes.write_bytes(bytes(range(256)) * 2)
    pickled = tmp_path / "pickled.pt"
    torch.save({"format": "llmguide-gpt", "x": Path("x")}, pickled)
    for path, says in [
        (huge, "do not fit its config"),
        (random_bytes, "not a torch file"),
        (pickled, "could run code"),
    ]:
        result = cli("generate", "--checkpoint", str(path), "--prompt", "a")
        assert result.status == 2
        line = result.fails_naming("--checkpoint")
        assert says in line and "weights_only" not in line


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cached_equals_uncached_on_cuda_under_autocast() -> None:
    from llmguide.device import autocast

    device = torch.device("cuda")
    model = random_model().to(device)
    idx = prompt(3, 5).to(device)
    with autocast(device):
        greedy = generate(model, idx, BLOCK + 8, temperature=0)
        assert torch.equal(greedy, generate(model, idx, BLOCK + 8, temperature=0, use_cache=False))
    runs = [
        generate(model, idx, 20, generator=torch.Generator(device=device).manual_seed(3), use_cache=c)
        for c in (True, False)
    ]
    assert torch.equal(runs[0], runs[1])


def test_sampling_options_are_checked_once_per_call_not_once_per_token(monkeypatch) -> None:
    import llmguide.sampling

    calls = []
    real = llmguide.sampling._check_temperature

    def counting(temperature: float, *, allow_zero: bool) -> float:
        calls.append(temperature)
        return real(temperature, allow_zero=allow_zero)

    monkeypatch.setattr(llmguide.sampling, "_check_temperature", counting)
    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=8, n_layer=1, n_head=1, n_embd=8))
    prompt = torch.tensor([[1, 2]])
    for n in (1, 12):  # past block_size too, where the loop refills the cache
        calls.clear()
        generate(model, prompt, n, temperature=0.8, generator=torch.Generator().manual_seed(0))
        assert calls == [0.8], (n, calls)
