"""Tests of llmguide.speculative: greedy output is the target's, sampled output follows the target's law."""

from __future__ import annotations

import itertools

import pytest
import torch
from scipy.stats import chisquare
from tinygpt import BLOCK, prompt, random_model

from llmguide.generation import generate
from llmguide.speculative import speculative_generate


@pytest.mark.parametrize("draft_len", [1, 2, 4, 7])
@pytest.mark.parametrize("length", [1, 5])
def test_greedy_output_is_the_targets_greedy_output(draft_len: int, length: int) -> None:
    target = random_model(seed=0)
    draft = random_model(seed=1, n_layer=1)  # another model: many guesses are wrong
    idx = prompt(1, length, seed=length)
    n = BLOCK - length
    out, stats = speculative_generate(target, draft, idx, n, draft_len=draft_len, temperature=0)
    assert torch.equal(out, generate(target, idx, n, temperature=0))
    assert stats.new_tokens == n
    assert 0 < stats.rounds < n or draft_len == 1  # fewer target passes than tokens, unless k = 1 and unlucky
    assert 0.0 <= stats.acceptance_rate < 1.0  # some guesses were rejected: the correction path ran
    # the draft's own greedy output differs: equality above is the target's doing, not the draft's
    assert not torch.equal(out, generate(draft, idx, n, temperature=0))


def test_a_draft_equal_to_the_target_is_always_accepted() -> None:
    target = random_model(seed=0)
    out, stats = speculative_generate(target, target, prompt(1, 3), 12, draft_len=3, temperature=0)
    assert torch.equal(out, generate(target, prompt(1, 3), 12, temperature=0))
    assert stats.acceptance_rate == 1.0
    assert stats.rounds == 3  # 12 tokens, 4 per round (3 guesses and the bonus token)
    assert stats.tokens_per_round == 4.0


def exact_law(
    target: torch.nn.Module, idx: torch.Tensor, vocab: int, n: int, **options: float
) -> torch.Tensor:
    """The target's probability of every continuation of length n, by brute force over the vocabulary."""
    from llmguide.sampling import sampling_probs

    law = torch.zeros((vocab,) * n, dtype=torch.float64)
    with torch.no_grad():
        for cont in itertools.product(range(vocab), repeat=n):
            p = 1.0
            for i, token in enumerate(cont):
                context = torch.cat([idx, torch.tensor([cont[:i]], dtype=idx.dtype)], dim=1)
                logits = target(context)[0][0, -1].double()
                p *= float(sampling_probs(logits, **options)[token])
            law[cont] = p
    return law.flatten()


@pytest.mark.parametrize("options", [dict(temperature=1.0), dict(temperature=0.7, top_k=3)])
def test_sampled_output_follows_the_targets_distribution(options: dict[str, float]) -> None:
    vocab, n, draws = 4, 3, 1500
    target = random_model(seed=0, vocab_size=vocab, block_size=8)
    draft = random_model(seed=5, vocab_size=vocab, block_size=8, n_layer=1)
    with (
        torch.no_grad()
    ):  # sharper than the target: far enough from it that the test below can tell them apart
        draft.lm_head.weight.mul_(3.0)
    idx = torch.tensor([[1, 2]])
    law = exact_law(target, idx, vocab, n, **options)
    draft_law = exact_law(draft, idx, vocab, n, **options)
    generator = torch.Generator().manual_seed(0)
    counts = torch.zeros(vocab**n, dtype=torch.float64)
    accepted = proposed = 0
    for _ in range(draws):
        out, stats = speculative_generate(target, draft, idx, n, draft_len=2, generator=generator, **options)
        cont = out[0, 2:].tolist()
        counts[(cont[0] * vocab + cont[1]) * vocab + cont[2]] += 1
        accepted += stats.accepted
        proposed += stats.proposed
    assert accepted > 50 and proposed - accepted > 50  # both branches, keep and reject, ran many times
    seen = law > 0
    assert counts[~seen].sum() == 0  # nothing the target cannot produce (top-k removes tokens)
    # pool the rare cells (if any) so that every expected count is at least 5, as the chi-square test needs
    rare = law[seen] * draws < 5

    def pooled(x: torch.Tensor) -> torch.Tensor:
        x = x[seen]
        return torch.cat([x[~rare], x[rare].sum().reshape(1)]) if rare.any() else x

    observed, expected = pooled(counts), pooled(law * draws)
    assert chisquare(observed.numpy(), expected.numpy()).pvalue > 1e-3
    # the same test tells the draft's distribution apart: it has the power to fail
    draft_expected = pooled(draft_law)
    draft_expected *= draws / draft_expected.sum()
    assert chisquare(observed.numpy(), draft_expected.numpy()).pvalue < 1e-6


@pytest.mark.parametrize(
    ("kw", "error", "pattern"),
    [
        (dict(draft_len=0), ValueError, "draft_len"),
        (dict(draft_len=2.0), TypeError, "draft_len"),
        (dict(max_new_tokens=2.0), TypeError, "max_new_tokens"),
        (dict(max_new_tokens=BLOCK), ValueError, "block_size"),
        (dict(idx=prompt(2, 3)), ValueError, "one sequence"),
        (dict(draft=random_model(vocab_size=32)), ValueError, "vocab"),
        (dict(temperature=-1.0), ValueError, "temperature"),
    ],
)
def test_bad_arguments_are_refused(kw: dict[str, object], error: type[Exception], pattern: str) -> None:
    args: dict[str, object] = dict(
        target=random_model(), draft=random_model(seed=1), idx=prompt(1, 3), max_new_tokens=4
    )
    with pytest.raises(error, match=pattern):
        speculative_generate(**{**args, **kw})  # type: ignore[arg-type]
