"""Tests of llmguide.evaluate against independent truths: closed forms, brute force, scipy and scikit-learn."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest
import torch
from torch import nn

from llmguide.evaluate import (
    bits_per_byte,
    bootstrap_interval,
    calibration_bins,
    choose,
    continuation_logprobs,
    expected_calibration_error,
    heldout_loss,
    loss_from_bits_per_byte,
    loss_from_perplexity,
    ngram_overlap,
    paired_difference,
    perplexity,
)
from llmguide.model import GPT, GPTConfig


class Bigram(nn.Module):
    """A model whose next-token distribution depends only on the current token: a fixed table of logits."""

    def __init__(self, vocab: int, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.table = nn.Parameter(torch.randn(vocab, vocab, generator=g), requires_grad=False)
        self.config = GPTConfig(vocab_size=vocab, block_size=8, n_layer=1, n_head=1, n_embd=8)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None) -> tuple[torch.Tensor, None]:
        return self.table[idx], None

    def logprob(self, a: int, b: int) -> float:
        """log P(b | a), computed in float64 by hand."""
        row = self.table[a].double()
        return float(row[b] - torch.logsumexp(row, 0))


# --- units: closed forms ---------------------------------------------------------------------------------


def test_bits_per_byte_closed_form():
    # a byte model that is uniform over 256 bytes pays exactly 8 bits per byte
    assert bits_per_byte(math.log(256), tokens=1000, n_bytes=1000) == pytest.approx(8.0)
    # 2 nats per token, 4 bytes per token: 0.5 nats per byte = 0.5 / ln 2 bits
    assert bits_per_byte(2.0, tokens=10, n_bytes=40) == pytest.approx(0.5 / math.log(2))


def test_units_round_trip():
    for loss, tokens, n_bytes, words in [(3.1, 250, 1000, 180), (0.4, 7, 9, 3)]:
        bpb = bits_per_byte(loss, tokens, n_bytes)
        assert loss_from_bits_per_byte(bpb, tokens, n_bytes) == pytest.approx(loss)
        ppl = perplexity(loss, tokens=tokens, words=words)
        assert ppl == pytest.approx(math.exp(loss) ** (tokens / words))
        assert loss_from_perplexity(ppl, tokens=tokens, words=words) == pytest.approx(loss)
        assert loss_from_perplexity(perplexity(loss)) == pytest.approx(loss)


def test_perplexity_of_uniform_distribution_is_its_size():
    for k in (2, 50, 50257):
        assert perplexity(math.log(k)) == pytest.approx(k)


def test_unit_errors():
    with pytest.raises(ValueError, match="loss"):
        bits_per_byte(-0.1, 1, 1)
    with pytest.raises(TypeError, match="tokens"):
        bits_per_byte(1.0, 1.5, 1)
    with pytest.raises(ValueError, match="n_bytes"):
        loss_from_bits_per_byte(1.0, 1, 0)
    with pytest.raises(ValueError, match="tokens must be given"):
        perplexity(1.0, words=3)
    with pytest.raises(ValueError, match="overflows"):
        perplexity(800.0)
    with pytest.raises(ValueError, match="ppl"):
        loss_from_perplexity(0.5)


# --- held-out loss: brute force ---------------------------------------------------------------------------


def test_heldout_loss_matches_token_by_token_bigram():
    model = Bigram(11)
    ids = torch.randint(11, (53,), generator=torch.Generator().manual_seed(1)).tolist()
    expected = -sum(model.logprob(a, b) for a, b in itertools.pairwise(ids)) / (len(ids) - 1)
    for batch_size in (1, 3, 64):
        assert heldout_loss(model, ids, batch_size=batch_size) == pytest.approx(expected, rel=1e-5)


def test_heldout_loss_gpt_matches_one_window_at_a_time():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=32, block_size=8, n_layer=1, n_head=2, n_embd=16))
    ids = torch.randint(32, (30,), generator=torch.Generator().manual_seed(2))
    total = 0.0
    for start in range(0, 29, 8):  # windows of 8 predictions sharing their edge token
        chunk = ids[start : start + 9]
        with torch.no_grad():
            logits, _ = model(chunk[None, :-1])
        total += float(torch.nn.functional.cross_entropy(logits[0], chunk[1:], reduction="sum"))
    assert heldout_loss(model, ids, batch_size=2) == pytest.approx(total / 29, rel=1e-5)
    assert model.training  # put back in its mode


def test_heldout_loss_errors():
    model = Bigram(5)
    with pytest.raises(ValueError, match="at least 2"):
        heldout_loss(model, [1])
    with pytest.raises(TypeError, match="model"):
        heldout_loss("model", [1, 2])
    with pytest.raises(ValueError, match="block_size must be given"):
        heldout_loss(nn.Embedding(5, 5), [1, 2])
    with pytest.raises(TypeError, match="tokens"):
        heldout_loss(model, torch.tensor([0.5, 1.0]))


# --- multiple choice ---------------------------------------------------------------------------------------


def test_continuation_logprobs_is_the_sum_of_token_logprobs():
    model = Bigram(9)
    contexts = [[1, 2, 3], [4], [1, 2, 3]]
    conts = [[5, 6], [7, 8, 0, 1], [6]]
    got = continuation_logprobs(model, contexts, conts, batch_size=2)
    for i, (ctx, cont) in enumerate(zip(contexts, conts, strict=True)):
        seq = ctx + cont
        expected = sum(model.logprob(seq[j - 1], seq[j]) for j in range(len(ctx), len(seq)))
        assert float(got[i]) == pytest.approx(expected, rel=1e-6)


def test_continuation_logprobs_gpt_matches_full_softmax_and_truncates_left():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=16, block_size=6, n_layer=1, n_head=1, n_embd=8))
    context, cont = [1, 2, 3, 4, 5, 6, 7], [8, 9]  # 9 tokens: the model sees the last 7, predicts 6
    seq = torch.tensor([(context + cont)[-7:]])
    with torch.no_grad():
        logp = torch.log_softmax(model(seq[:, :-1])[0][0].double(), -1)
    expected = float(logp[4, 8] + logp[5, 9])
    got = continuation_logprobs(model, [context], [cont])
    assert float(got[0]) == pytest.approx(expected, rel=1e-5)


def test_continuation_logprobs_errors():
    model = Bigram(5)
    with pytest.raises(ValueError, match="same length"):
        continuation_logprobs(model, [[1]], [[2], [3]])
    with pytest.raises(ValueError, match="empty"):
        continuation_logprobs(model, [[]], [[2]])
    with pytest.raises(ValueError, match="shorter than block_size"):
        continuation_logprobs(model, [[1]], [[2] * 8])


def test_choose_the_three_rules():
    scores = [[-4.0, -6.0, -9.0]]
    assert choose(scores).tolist() == [0]  # summed
    assert choose(scores, [[1, 3, 2]]).tolist() == [1]  # -4, -2, -4.5
    assert choose(scores, [[2, 2, 6]]).tolist() == [2]  # -2, -3, -1.5
    with pytest.raises(ValueError, match="shape"):
        choose(scores, [[1, 2]])
    with pytest.raises(ValueError, match="positive"):
        choose(scores, [[1, 0, 2]])


# --- intervals: scipy.stats.bootstrap and the normal approximation -----------------------------------------


def test_bootstrap_interval_matches_scipy():
    import scipy.stats as stats  # a test dependency: a broken install must fail, not skip

    rng = np.random.default_rng(3)
    for values in (rng.integers(0, 2, 200).astype(float), rng.normal(1.0, 2.0, 150)):
        ours = bootstrap_interval(values, n_resamples=20_000, seed=1)
        ref = stats.bootstrap(
            (values,), np.mean, method="percentile", n_resamples=20_000, random_state=np.random.default_rng(2)
        ).confidence_interval
        width = ref.high - ref.low
        assert abs(ours[0] - ref.low) < 0.03 * width and abs(ours[1] - ref.high) < 0.03 * width


def test_bootstrap_interval_approaches_the_normal_interval():
    p, n = 0.7, 2000
    values = np.array([1.0] * round(p * n) + [0.0] * round((1 - p) * n))
    low, high = bootstrap_interval(values)
    half = 1.959964 * math.sqrt(p * (1 - p) / n)
    assert low == pytest.approx(p - half, abs=0.004) and high == pytest.approx(p + half, abs=0.004)


def test_paired_difference_matches_scipy_paired_bootstrap():
    import scipy.stats as stats  # a test dependency: a broken install must fail, not skip

    rng = np.random.default_rng(0)
    skill = rng.random(300)  # shared item difficulty: the models' scores go together
    a = (rng.random(300) < 0.3 + 0.6 * skill).astype(float)
    b = (rng.random(300) < 0.25 + 0.6 * skill).astype(float)
    d = paired_difference(a, b, n_resamples=20_000)
    ref = stats.bootstrap(
        (a, b),
        lambda x, y: np.mean(x - y),
        paired=True,
        method="percentile",
        n_resamples=20_000,
        random_state=np.random.default_rng(5),
    ).confidence_interval
    width = ref.high - ref.low
    assert abs(d.low - ref.low) < 0.05 * width and abs(d.high - ref.high) < 0.05 * width
    assert d.difference == pytest.approx(float(np.mean(a - b)))
    assert d.wins == int(np.sum(a > b)) and d.losses == int(np.sum(a < b))


def test_paired_difference_sees_what_separate_intervals_miss():
    # b is a, with 12 of 400 right answers turned wrong: the separate intervals overlap, the paired one is clear
    a = np.array([1.0] * 240 + [0.0] * 160)
    b = a.copy()
    b[:12] = 0.0
    low_a, _ = bootstrap_interval(a)
    _, high_b = bootstrap_interval(b)
    assert high_b > low_a  # the separate intervals overlap
    d = paired_difference(a, b)
    assert d.significant and d.low > 0
    assert not paired_difference(a, a).significant


def test_interval_errors():
    with pytest.raises(ValueError, match="values"):
        bootstrap_interval([])
    with pytest.raises(ValueError, match="finite"):
        bootstrap_interval([1.0, float("nan")])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_interval([1.0, 0.0], confidence=1.0)
    with pytest.raises(ValueError, match="same items"):
        paired_difference([1, 0], [1, 0, 1])


# --- calibration: scikit-learn's calibration_curve and closed forms ----------------------------------------


def test_calibration_bins_match_sklearn():
    import sklearn.calibration as calibration  # a test dependency: a broken install must fail, not skip

    rng = np.random.default_rng(0)
    conf = rng.random(1000)
    conf[:20] = [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 0.1, 0.9, 0.6] * 2  # values on the bin edges
    correct = (rng.random(1000) < conf**2).astype(float)
    for n_bins in (5, 10, 15):
        bins = calibration_bins(conf, correct, n_bins=n_bins)
        prob_true, prob_pred = calibration.calibration_curve(correct, conf, n_bins=n_bins, strategy="uniform")
        full = bins.counts > 0
        np.testing.assert_allclose(bins.accuracy[full], prob_true, rtol=1e-12)
        np.testing.assert_allclose(bins.confidence[full], prob_pred, rtol=1e-12)
        assert bins.counts.sum() == 1000


def test_ece_by_hand_and_of_a_calibrated_predictor():
    # brute force: bins of width 0.1, right-closed, weighted by their share of the predictions
    rng = np.random.default_rng(1)
    conf = rng.random(500)
    correct = (rng.random(500) < 0.8 * conf).astype(float)
    groups = Counter(math.ceil(p * 10) - 1 if p > 0 else 0 for p in conf)
    total = 0.0
    for m in groups:
        inside = [
            (p, c) for p, c in zip(conf, correct, strict=True) if (math.ceil(p * 10) - 1 if p > 0 else 0) == m
        ]
        acc = sum(c for _, c in inside) / len(inside)
        mean_conf = sum(p for p, _ in inside) / len(inside)
        total += len(inside) / 500 * abs(acc - mean_conf)
    assert expected_calibration_error(conf, correct) == pytest.approx(total)
    # a predictor whose confidence is the true probability is calibrated: ECE shrinks towards 0
    conf = rng.random(200_000)
    correct = (rng.random(200_000) < conf).astype(float)
    assert expected_calibration_error(conf, correct) < 0.005
    # always 90% sure, right half the time: ECE 0.4
    assert expected_calibration_error([0.9] * 4, [1, 0, 1, 0]) == pytest.approx(0.4)


def test_calibration_errors():
    with pytest.raises(ValueError, match="confidence must lie"):
        calibration_bins([1.2], [1])
    with pytest.raises(ValueError, match="correct must hold"):
        calibration_bins([0.5], [0.5])
    with pytest.raises(ValueError, match="same length"):
        expected_calibration_error([0.5, 0.5], [1])
    with pytest.raises(ValueError, match="n_bins"):
        calibration_bins([0.5], [1], n_bins=0)


# --- contamination --------------------------------------------------------------------------------------------


def test_ngram_overlap_brute_force():
    reference = list(b"abcdefgh abcxyz")
    items = [list(b"bcdef"), list(b"abcxq"), list(b"qq"), list(b"zzzz")]
    # 3-grams: bcd cde def (all in) | abc bcx cxq (2 of 3) | none (too short) | zzz zzz (0 of 2)
    assert ngram_overlap(items, reference, n=3) == pytest.approx([1.0, 2 / 3, 0.0, 0.0])
    with pytest.raises(ValueError, match="n must be"):
        ngram_overlap(items, reference, n=0)
