"""Tests of llmguide.sampling against independent truths.

The references below are written in plain Python / NumPy float64 with explicit loops over rows and tokens
(sorting and accumulating by hand), so they share no code with the vectorised torch implementation.
"""

from __future__ import annotations

import math

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from llmguide import sampling
from llmguide.sampling import apply_temperature, min_p_filter, sample, softmax, top_k_filter, top_p_filter

NEG_INF = float("-inf")
SHAPES = [(7,), (3, 11), (2, 3, 17), (1, 1000)]
DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]


# ----------------------------------------------------------------------------------------------------------
# float64 reference implementations, one row at a time


def ref_softmax_row(row: list[float], temperature: float = 1.0) -> list[float]:
    finite = [v for v in row if v != NEG_INF]
    top = max(finite)
    weights = [0.0 if v == NEG_INF else math.exp((v - top) / temperature) for v in row]
    total = math.fsum(weights)
    return [w / total for w in weights]


def ref_top_k_row(row: list[float], k: int) -> list[bool]:
    ordered = sorted(row, reverse=True)
    kth = ordered[min(k, len(row)) - 1]
    return [v >= kth and v != NEG_INF for v in row]  # a -inf logit counts as removed


def ref_top_p_row(row: list[float], p: float) -> tuple[list[bool], float]:
    """Kept mask, and the distance of the nearest partial sum to p (small means the answer is ill-posed)."""
    probs = ref_softmax_row(row)
    order = sorted(range(len(row)), key=lambda i: -row[i])  # by logit = by probability, exactly
    total, last, margin = 0.0, None, math.inf
    for i in order:
        total += probs[i]
        margin = min(margin, abs(total - p))
        last = i
        if total >= p:
            break
    threshold = row[last]  # ties with the last kept token (equal logits, so equal probabilities) stay
    return [v >= threshold and v != NEG_INF for v in row], margin


def ref_min_p_row(row: list[float], p: float) -> tuple[list[bool], float]:
    probs = ref_softmax_row(row)
    top = max(probs)
    margin = min(abs(q / top - p) for q in probs)
    return [q >= p * top and v != NEG_INF for q, v in zip(probs, row, strict=True)], margin


def removed(row: list[float], mask: list[bool]) -> list[float]:
    return [v if keep else NEG_INF for v, keep in zip(row, mask, strict=True)]


def rows(x: np.ndarray) -> list[list[float]]:
    return [list(map(float, r)) for r in x.reshape(-1, x.shape[-1])]


def kept(filtered: torch.Tensor | np.ndarray) -> list[list[bool]]:
    arr = np.asarray(filtered.float() if isinstance(filtered, torch.Tensor) else filtered, dtype=np.float64)
    return [list(np.isfinite(r)) for r in arr.reshape(-1, arr.shape[-1])]


def random_logits(shape: tuple[int, ...], seed: int, scale: float = 3.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, scale, size=shape)


def chi2_critical(dof: int, z: float = 5.0) -> float:
    """Upper chi-square quantile by the Wilson-Hilferty cube approximation (z = 5: tail ~3e-7)."""
    c = 2.0 / (9.0 * dof)
    return dof * (1.0 - c + z * math.sqrt(c)) ** 3


# ----------------------------------------------------------------------------------------------------------
# softmax and temperature: closed forms, limits, stability


def test_notes_formula_closed_form() -> None:
    # The notes apply softmax to probabilities / T. At T = 1 that is softmax(p), not p:
    p = [0.7, 0.2, 0.1]
    expected = [math.exp(v) / sum(math.exp(u) for u in p) for v in p]
    assert expected == pytest.approx([0.464, 0.281, 0.255], abs=5e-4)
    got = softmax(torch.tensor(p, dtype=torch.float64)).tolist()
    assert got == pytest.approx(expected, rel=1e-12)
    # The standard form (softmax of log p, i.e. of the logits) gives p back at T = 1 ...
    assert softmax(torch.tensor(p, dtype=torch.float64).log()).tolist() == pytest.approx(p, rel=1e-12)


@pytest.mark.parametrize("temperature", [0.25, 0.5, 2.0, 5.0])
def test_temperature_is_power_of_probabilities(temperature: float) -> None:
    # ... and softmax(log p / T) = p^(1/T) / sum_j p_j^(1/T).
    p = np.array([0.5, 0.25, 0.15, 0.07, 0.03])
    powered = p ** (1.0 / temperature)
    expected = powered / powered.sum()
    got = softmax(torch.from_numpy(np.log(p)), temperature=temperature).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("temperature", [0.1, 1.0, 3.0])
def test_softmax_matches_reference(shape: tuple[int, ...], temperature: float) -> None:
    x = random_logits(shape, seed=len(shape))
    got = softmax(torch.from_numpy(x), temperature=temperature).numpy()
    expected = np.array([ref_softmax_row(r, temperature) for r in rows(x)]).reshape(shape)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-300)


def test_softmax_along_other_dim() -> None:
    x = random_logits((4, 6), seed=3)
    got = softmax(torch.from_numpy(x), dim=0).numpy()
    expected = np.array([ref_softmax_row(r) for r in rows(x.T)]).T
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_limits_of_temperature() -> None:
    x = torch.tensor([1.0, 3.0, 2.0, -1.0], dtype=torch.float64)
    assert softmax(x, temperature=1e-3).tolist() == pytest.approx([0.0, 1.0, 0.0, 0.0], abs=1e-12)
    assert softmax(x, temperature=1e6).tolist() == pytest.approx([0.25] * 4, abs=1e-5)
    # The notes' form has the same two limits (on probabilities instead of logits).
    p = torch.tensor([0.7, 0.2, 0.1], dtype=torch.float64)
    assert softmax(p, temperature=1e-3).tolist() == pytest.approx([1.0, 0.0, 0.0], abs=1e-12)
    assert softmax(p, temperature=1e6).tolist() == pytest.approx([1 / 3] * 3, abs=1e-6)


def test_temperature_zero_splits_ties_equally() -> None:
    x = torch.tensor([[2.0, 5.0, 5.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    assert softmax(x, temperature=0).tolist() == [[0.0, 0.5, 0.5, 0.0], [0.25] * 4]


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_stable_at_extremes(dtype: torch.dtype) -> None:
    big = torch.finfo(dtype).max / 4
    x = torch.tensor([big, -big, 0.0, NEG_INF], dtype=dtype)
    for temperature in [1e-8, 1e-45, 1e-300, 1.0, 1e30, 1e300]:
        probs = softmax(x, temperature=temperature)
        assert torch.isfinite(probs).all(), temperature
        assert probs[0].item() == pytest.approx(1.0 if temperature < 1e30 else probs[0].item())
        assert probs[3].item() == 0.0
        assert probs.sum().item() == pytest.approx(1.0, abs=1e-6)
    huge = torch.tensor([1e30, -1e30, 0.0])
    assert softmax(huge, temperature=1e-8).tolist() == [1.0, 0.0, 0.0]
    assert softmax(huge, temperature=1e-8).tolist() == softmax(huge, temperature=1.0).tolist()


def test_minus_inf_gets_zero_and_large_temperature_keeps_it_zero() -> None:
    x = torch.tensor([0.0, NEG_INF, 1.0])
    for temperature in [0.0, 1e-6, 1.0, 1e6, 1e300]:
        assert softmax(x, temperature=temperature)[1].item() == 0.0


def test_apply_temperature_divides() -> None:
    x = random_logits((3, 5), seed=9)
    np.testing.assert_allclose(apply_temperature(x, 0.3), x / 0.3, rtol=1e-15)
    half = apply_temperature(torch.tensor([10.0, -3.0], dtype=torch.float16), 1e-4)
    assert half.dtype == torch.float32 and half.tolist() == pytest.approx([1e5, -3e4], rel=1e-6)
    with pytest.raises(ValueError, match="overflows"):
        apply_temperature(torch.tensor([1e30, 0.0]), 1e-10)


# ----------------------------------------------------------------------------------------------------------
# Filters against the references


def test_top_k_ties_are_kept() -> None:
    x = torch.tensor([3.0, 1.0, 2.0, 2.0, 0.0])
    assert kept(top_k_filter(x, 2)) == [[True, False, True, True, False]]
    assert kept(top_k_filter(x, 1)) == [[True, False, False, False, False]]
    assert kept(top_k_filter(x, 99)) == [[True] * 5]


def test_top_p_worked_examples() -> None:
    x = torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=torch.float64).log()
    assert kept(top_p_filter(x, 0.7)) == [[True, True, False, False]]
    assert kept(top_p_filter(x, 0.9)) == [[True, True, True, False]]
    assert kept(top_p_filter(x, 1e-9)) == [[True, False, False, False]]  # at least one token
    assert kept(top_p_filter(x, 1.0)) == [[True] * 4]
    flat = torch.zeros(4)
    assert kept(top_p_filter(flat, 0.3)) == [[True] * 4]  # ties with the last kept token stay


def test_min_p_worked_examples() -> None:
    x = torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=torch.float64).log()
    assert kept(min_p_filter(x, 0.2)) == [[True, True, True, False]]  # cut-off 0.1
    assert kept(min_p_filter(x, 0.5)) == [[True, True, False, False]]  # cut-off 0.25
    assert kept(min_p_filter(x, 0.0)) == [[True] * 4]
    assert kept(min_p_filter(torch.tensor([1.0, 1.0, 0.0]), 1.0)) == [[True, True, False]]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("k", [1, 2, 5, 50])
def test_top_k_matches_reference(shape: tuple[int, ...], k: int) -> None:
    x = np.round(random_logits(shape, seed=k), 1)  # rounding creates ties
    assert kept(top_k_filter(torch.from_numpy(x), k)) == [ref_top_k_row(r, k) for r in rows(x)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("p", [0.05, 0.5, 0.9, 0.99])
def test_top_p_matches_reference(shape: tuple[int, ...], p: float) -> None:
    x = random_logits(shape, seed=int(p * 100))
    refs = [ref_top_p_row(r, p) for r in rows(x)]
    assert min(margin for _, margin in refs) > 1e-6  # the draw avoids ill-posed boundaries
    assert kept(top_p_filter(torch.from_numpy(x), p)) == [mask for mask, _ in refs]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("p", [0.01, 0.1, 0.5])
def test_min_p_matches_reference(shape: tuple[int, ...], p: float) -> None:
    x = random_logits(shape, seed=int(p * 1000))
    refs = [ref_min_p_row(r, p) for r in rows(x)]
    assert min(margin for _, margin in refs) > 1e-9
    assert kept(min_p_filter(torch.from_numpy(x), p)) == [mask for mask, _ in refs]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("path", ["cpu: candidates first", "gpu: full sort"])
def test_top_p_large_vocabulary_matches_reference(
    dtype: torch.dtype, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rows whose nucleus fits in the first 1,024 candidates, needs a retry (4,096), or needs a full sort.
    # On GPUs the filter sorts at once; the same path is taken here by emptying the candidate list.
    if path.startswith("gpu"):
        monkeypatch.setattr(sampling, "_TOP_P_CANDIDATES", ())
    rng = np.random.default_rng(21)
    vocab = 12_000
    x = np.stack([rng.normal(0, scale, vocab) for scale in (4.0, 2.0, 0.05, 3.0)])
    p = 0.9
    refs = [ref_top_p_row(r, p) for r in rows(x)]
    sizes = [sum(mask) for mask, _ in refs]
    assert sizes[0] <= 1024 < sizes[1] <= 4096 < sizes[2], sizes  # the three cases are covered
    assert min(margin for _, margin in refs) > 1e-6
    out = kept(top_p_filter(torch.from_numpy(x).to(dtype), p))
    assert out == [mask for mask, _ in refs]


logit_arrays = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=12),
    elements=st.one_of(
        st.floats(-30, 30, allow_nan=False, allow_infinity=False),
        st.just(NEG_INF),
    ),
)


def usable(x: np.ndarray) -> bool:
    return bool(np.isfinite(x).any(axis=-1).all())


@settings(max_examples=150, deadline=None)
@given(x=logit_arrays, k=st.integers(1, 15))
def test_top_k_property(x: np.ndarray, k: int) -> None:
    assume(usable(x))
    out = top_k_filter(x, k)
    assert isinstance(out, np.ndarray) and out.dtype == x.dtype
    assert kept(out) == [ref_top_k_row(r, k) for r in rows(x)]
    survivors = np.where(np.isfinite(out), out, 0.0)
    assert np.array_equal(survivors, np.where(np.isfinite(out), x, 0.0))  # survivors are unchanged


@settings(max_examples=150, deadline=None)
@given(x=logit_arrays, p=st.floats(1e-6, 1.0))
def test_top_p_property(x: np.ndarray, p: float) -> None:
    assume(usable(x))
    refs = [ref_top_p_row(r, p) for r in rows(x)]
    assume(min(margin for _, margin in refs) > 1e-9)
    out = kept(top_p_filter(x, p))
    assert out == [mask for mask, _ in refs]
    assert all(any(row) for row in out)


@settings(max_examples=150, deadline=None)
@given(x=logit_arrays, p=st.floats(0.0, 1.0))
def test_min_p_property(x: np.ndarray, p: float) -> None:
    assume(usable(x))
    refs = [ref_min_p_row(r, p) for r in rows(x)]
    assume(min(margin for _, margin in refs) > 1e-9)
    assert kept(min_p_filter(x, p)) == [mask for mask, _ in refs]


@settings(max_examples=100, deadline=None)
@given(x=logit_arrays, temperature=st.floats(0.05, 20.0))
def test_softmax_property(x: np.ndarray, temperature: float) -> None:
    assume(usable(x))
    expected = np.array([ref_softmax_row(r, temperature) for r in rows(x)]).reshape(x.shape)
    np.testing.assert_allclose(softmax(x, temperature=temperature), expected, rtol=1e-9, atol=1e-300)


@pytest.mark.parametrize("temperature", [0.1, 0.7, 1.0, 4.0, 100.0])
def test_top_k_invariant_to_temperature(temperature: float) -> None:
    x = np.round(random_logits((5, 40), seed=1), 1)
    for k in (1, 3, 10):
        assert kept(top_k_filter(apply_temperature(x, temperature), k)) == kept(top_k_filter(x, k))


def test_top_p_depends_on_temperature() -> None:
    x = torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64).log()
    assert kept(top_p_filter(x, 0.85)) == [[True, True, False]]
    assert kept(top_p_filter(apply_temperature(x, 3.0), 0.85)) == [[True, True, True]]


@pytest.mark.parametrize("dtype", DTYPES)
def test_filters_keep_dtype_and_shape(dtype: torch.dtype) -> None:
    x = torch.from_numpy(random_logits((2, 3, 9), seed=4)).to(dtype)
    for out in (top_k_filter(x, 3), top_p_filter(x, 0.5), min_p_filter(x, 0.2)):
        assert out.dtype == dtype and out.shape == x.shape
    assert softmax(x).dtype == (torch.float64 if dtype == torch.float64 else torch.float32)


# ----------------------------------------------------------------------------------------------------------
# sample


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_greedy_is_argmax(shape: tuple[int, ...], dtype: torch.dtype) -> None:
    x = torch.from_numpy(random_logits(shape, seed=2)).to(dtype)
    ids = sample(x, temperature=0)
    expected = np.array([int(np.argmax(r)) for r in rows(x.double().numpy())]).reshape(shape[:-1])
    assert ids.dtype == torch.int64 and ids.shape == shape[:-1]
    assert np.array_equal(ids.numpy(), expected)
    filtered = sample(x, temperature=0, top_k=2, top_p=0.1, min_p=0.9)
    assert torch.equal(filtered, ids)


def test_greedy_takes_first_of_ties_and_ignores_generator() -> None:
    x = torch.tensor([[1.0, 4.0, 4.0], [NEG_INF, 0.0, 0.0]])
    assert sample(x, temperature=0, generator=torch.Generator().manual_seed(3)).tolist() == [1, 1]


@pytest.mark.parametrize("temperature", [0.01, 1.0, 50.0])
def test_top_k_one_is_greedy_at_any_temperature(temperature: float) -> None:
    x = torch.from_numpy(random_logits((50, 30), seed=5))
    g = torch.Generator().manual_seed(0)
    assert torch.equal(sample(x, temperature=temperature, top_k=1, generator=g), x.argmax(-1))


def test_seeded_reproducibility() -> None:
    x = torch.from_numpy(random_logits((4, 100), seed=6, scale=1.0))

    def draw(seed: int) -> torch.Tensor:
        return sample(x.expand(50, 4, 100), top_p=0.95, generator=torch.Generator().manual_seed(seed))

    assert torch.equal(draw(1), draw(1))
    assert not torch.equal(draw(1), draw(2))


def test_numpy_in_numpy_out() -> None:
    x = random_logits((3, 2, 8), seed=7).astype(np.float32)
    ids = sample(x, generator=torch.Generator().manual_seed(0))
    assert isinstance(ids, np.ndarray) and ids.shape == (3, 2) and ids.dtype == np.int64
    one = sample(x[0, 0], temperature=0)
    assert isinstance(one, np.ndarray) and one.shape == () and int(one) == int(np.argmax(x[0, 0]))
    assert isinstance(softmax(x), np.ndarray)


def frequencies_ok(counts: np.ndarray, probs: np.ndarray) -> None:
    """Chi-square over the tokens with p > 0, and a 5-sigma binomial bound on each frequency."""
    n = counts.sum()
    assert counts[probs == 0].sum() == 0, "a filtered token was drawn"
    live = probs > 0
    expected = n * probs[live]
    chi2 = float(((counts[live] - expected) ** 2 / expected).sum())
    dof = int(live.sum()) - 1
    if dof > 0:
        assert chi2 < chi2_critical(dof), (chi2, chi2_critical(dof))
    sigma = np.sqrt(probs * (1 - probs) / n)
    assert np.all(np.abs(counts / n - probs) <= 5 * sigma + 1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"temperature": 0.5},
        {"temperature": 2.0},
        {"top_k": 3},
        {"top_p": 0.8},
        {"min_p": 0.1},
        {"temperature": 1.5, "top_k": 6, "top_p": 0.9, "min_p": 0.05},
    ],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_sampling_frequencies(kwargs: dict, dtype: torch.dtype) -> None:
    x = torch.tensor([2.0, 1.5, 1.0, 0.5, 0.0, -0.5, -1.0, NEG_INF], dtype=dtype)
    row = list(map(float, x.double()))
    temperature = kwargs.get("temperature", 1.0)
    z = [v / temperature for v in row]
    mask = [True] * len(z)
    if "top_k" in kwargs:
        mask = ref_top_k_row(z, kwargs["top_k"])
        z = removed(z, mask)
    if "top_p" in kwargs:
        mask, _ = ref_top_p_row(z, kwargs["top_p"])
        z = removed(z, mask)
    if "min_p" in kwargs:
        mask, _ = ref_min_p_row(z, kwargs["min_p"])
        z = removed(z, mask)
    probs = np.array(ref_softmax_row(z))
    n = 200_000
    ids = sample(x.expand(n, -1), generator=torch.Generator().manual_seed(11), **kwargs)
    frequencies_ok(np.bincount(ids.numpy(), minlength=len(row)), probs)


def test_draw_never_returns_a_zero_weight_token(monkeypatch: pytest.MonkeyPatch) -> None:
    # Force the uniform number to the edges: u = 0, a running-sum boundary, and u = 1 (which can arise
    # when u * total rounds up). Zero-weight tokens around and between the positive ones must be skipped.
    x = torch.tensor([NEG_INF, 0.0, NEG_INF, 0.0, NEG_INF], dtype=torch.float64)  # weights 0, 1, 0, 1, 0
    real_rand = torch.rand
    for u, expected in [(0.0, {1}), (0.25, {1}), (0.5, {3}), (0.75, {3}), (1.0, {1, 3})]:
        monkeypatch.setattr(torch, "rand", lambda *a, u=u, **k: torch.full_like(real_rand(*a, **k), u))
        assert sample(x).item() in expected, u
    monkeypatch.setattr(torch, "rand", real_rand)


def test_top_p_applies_after_temperature_in_sample() -> None:
    # At T = 1 the 0.85-nucleus is tokens {0, 1}; at T = 3 the flatter distribution needs all three.
    x = torch.tensor([0.6, 0.3, 0.1]).log()
    g = torch.Generator().manual_seed(0)
    assert set(sample(x.expand(5000, 3), top_p=0.85, generator=g).tolist()) == {0, 1}
    assert set(sample(x.expand(5000, 3), temperature=3.0, top_p=0.85, generator=g).tolist()) == {0, 1, 2}


def test_chi2_critical_value_against_table() -> None:
    # Published chi-square quantiles (p = 0.999): dof 1 -> 10.83, dof 5 -> 20.52, dof 20 -> 45.31.
    assert chi2_critical(5, z=3.0902) == pytest.approx(20.52, rel=0.02)
    assert chi2_critical(20, z=3.0902) == pytest.approx(45.31, rel=0.01)


# ----------------------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("temperature", [-0.1, float("nan"), float("inf"), float("-inf")])
def test_bad_temperature(temperature: float) -> None:
    x = torch.zeros(3)
    for call in (lambda: sample(x, temperature=temperature), lambda: softmax(x, temperature)):
        with pytest.raises(ValueError, match=r"temperature .*\[0, inf\)"):
            call()
    with pytest.raises(ValueError, match=r"temperature .*\(0, inf\)"):
        apply_temperature(x, temperature)


def test_temperature_zero_refused_by_apply_temperature() -> None:
    with pytest.raises(ValueError, match=r"temperature .*\(0, inf\).*temperature=0"):
        apply_temperature(torch.zeros(3), 0.0)


@pytest.mark.parametrize("temperature", ["1", None, True, torch.tensor(1.0)])
def test_temperature_type(temperature: object) -> None:
    with pytest.raises(TypeError, match="temperature must be a real number"):
        sample(torch.zeros(3), temperature=temperature)


@pytest.mark.parametrize("k, error", [(0, ValueError), (-3, ValueError), (2.0, TypeError), (True, TypeError)])
def test_bad_top_k(k: object, error: type) -> None:
    match = r"top_k must be an integer >= 1" if error is ValueError else r"top_k must be an integer, got"
    with pytest.raises(error, match=match):
        sample(torch.zeros(3), top_k=k)
    with pytest.raises(error, match=match):
        top_k_filter(torch.zeros(3), k)


@pytest.mark.parametrize("p", [0.0, -0.1, 1.0001, float("nan"), float("inf")])
def test_bad_top_p(p: float) -> None:
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\]"):
        sample(torch.zeros(3), top_p=p)
    with pytest.raises(ValueError, match=r"p must be in \(0, 1\]"):
        top_p_filter(torch.zeros(3), p)


@pytest.mark.parametrize("p", [-0.01, 1.5, float("nan")])
def test_bad_min_p(p: float) -> None:
    with pytest.raises(ValueError, match=r"min_p must be in \[0, 1\]"):
        sample(torch.zeros(3), min_p=p)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        min_p_filter(torch.zeros(3), p)


def test_fraction_types() -> None:
    with pytest.raises(TypeError, match="top_p must be a real number"):
        sample(torch.zeros(3), top_p="0.9")
    with pytest.raises(TypeError, match="min_p must be a real number"):
        sample(torch.zeros(3), min_p=[0.1])


ALL_CALLS = [
    lambda x: softmax(x),
    lambda x: apply_temperature(x, 1.0),
    lambda x: top_k_filter(x, 2),
    lambda x: top_p_filter(x, 0.5),
    lambda x: min_p_filter(x, 0.1),
    lambda x: sample(x),
    lambda x: sample(x, temperature=0),
]


@pytest.mark.parametrize("call", ALL_CALLS)
@pytest.mark.parametrize(
    "logits, message",
    [
        (torch.zeros(0), "non-empty"),
        (torch.zeros(3, 0), "non-empty"),
        (torch.zeros(0, 5), "non-empty"),
        (torch.tensor(1.0), "non-empty"),
        (torch.tensor([[0.0, 1.0], [NEG_INF, NEG_INF]]), "all -inf"),
        (torch.tensor([0.0, float("nan"), 1.0]), "NaN"),
        (torch.tensor([0.0, float("inf")]), r"\+inf"),
        (np.array([1.0, np.nan]), "NaN"),
    ],
)
def test_bad_logits_values(call, logits, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(logits)


@pytest.mark.parametrize("call", ALL_CALLS)
@pytest.mark.parametrize(
    "logits",
    [torch.tensor([1, 2, 3]), torch.tensor([True, False]), np.array([1, 2]), [0.1, 0.2], torch.zeros(2) + 0j],
)
def test_bad_logits_type(call, logits) -> None:
    with pytest.raises(TypeError, match="logits must"):
        call(logits)


def test_bad_dim() -> None:
    with pytest.raises(ValueError, match=r"dim must be an integer in \[-2, 1\]"):
        softmax(torch.zeros(2, 3), dim=2)
    with pytest.raises(TypeError, match="dim must be an integer"):
        softmax(torch.zeros(2, 3), dim=1.0)


def test_generator_type_and_device() -> None:
    with pytest.raises(TypeError, match=r"generator must be a torch\.Generator"):
        sample(torch.zeros(3), generator=0)
    # A CPU generator with logits elsewhere (the meta device stands in for a GPU on a CPU-only machine).
    with pytest.raises(ValueError, match="generator is on device cpu but logits are on meta"):
        sample(torch.zeros(3, device="meta"), generator=torch.Generator())


# ----------------------------------------------------------------------------------------------------------
# CUDA


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda() -> None:
    x_cpu = torch.from_numpy(random_logits((64, 1000), seed=8)).float()
    x = x_cpu.cuda()
    for dtype in DTYPES:
        ids = sample(x.to(dtype), temperature=0)
        assert ids.device.type == "cuda"
        assert torch.equal(ids.cpu(), x_cpu.to(dtype).double().argmax(-1))
        for out, ref in [
            (top_k_filter(x.to(dtype), 5), top_k_filter(x_cpu.to(dtype), 5)),
            (min_p_filter(x.to(dtype), 0.1), min_p_filter(x_cpu.to(dtype), 0.1)),
        ]:
            assert kept(out.cpu()) == kept(ref)
    g = torch.Generator(device="cuda").manual_seed(0)
    assert torch.equal(sample(x, top_p=0.9, generator=g), sample(x, top_p=0.9, generator=g.manual_seed(0)))
    small = torch.tensor([2.0, 1.5, 1.0, 0.5, 0.0, -0.5, -1.0, NEG_INF], device="cuda")
    ids = sample(small.expand(200_000, -1), temperature=1.5, top_p=0.9, generator=g)
    z = [v / 1.5 for v in small.tolist()]
    mask, _ = ref_top_p_row(z, 0.9)
    probs = np.array(ref_softmax_row(removed(z, mask)))
    frequencies_ok(np.bincount(ids.cpu().numpy(), minlength=8), probs)
    with pytest.raises(ValueError, match="generator is on device cpu but logits are on cuda"):
        sample(x, generator=torch.Generator())
    with pytest.raises(ValueError, match="generator is on device cuda"):
        sample(x_cpu, generator=g)


# ----------------------------------------------------------------------------------------------------------
# Order of the chain: temperature first (Hugging Face) or last (llama.cpp)


def ref_chain_probs(row: list[float], temperature: float, order: str, **filters: float) -> list[float]:
    """The distribution `sample` should draw from, by the plain-Python references, one step at a time."""
    z = [v / temperature for v in row] if order == "temperature_first" else list(row)
    if "top_k" in filters:
        z = removed(z, ref_top_k_row(z, filters["top_k"]))
    if "top_p" in filters:
        z = removed(z, ref_top_p_row(z, filters["top_p"])[0])
    if "min_p" in filters:
        z = removed(z, ref_min_p_row(z, filters["min_p"])[0])
    if order == "temperature_last":
        z = [v / temperature for v in z]
    return ref_softmax_row(z)


FILTER_SETTINGS = [
    {},
    {"top_k": 3},
    {"top_p": 0.8},
    {"min_p": 0.1},
    {"top_k": 6, "top_p": 0.9, "min_p": 0.05},
]


@pytest.mark.parametrize("order", sampling.ORDERS)
@pytest.mark.parametrize("temperature", [0.4, 1.0, 2.5])
@pytest.mark.parametrize("filters", FILTER_SETTINGS)
def test_sampling_probs_matches_reference(order: str, temperature: float, filters: dict) -> None:
    x = random_logits((20, 13), seed=3)
    got = sampling.sampling_probs(
        torch.from_numpy(x), temperature=temperature, order=order, **filters
    ).numpy()
    for r, row in enumerate(rows(x)):
        expected = ref_chain_probs(row, temperature, order, **filters)
        np.testing.assert_allclose(got[r], expected, rtol=1e-9, atol=1e-300)


def test_orders_keep_different_tokens_worked_example() -> None:
    # Six words with probabilities (at T = 1) 0.507, 0.228, 0.153, 0.069, 0.038, 0.006 (the page's example).
    # At T = 1 the running sums are 0.507, 0.735, 0.888, 0.957: the 0.9-nucleus holds 4 tokens. At T = 0.7
    # the probabilities become p^(1/0.7) renormalised, 0.632, 0.201, 0.114, ...: sums 0.632, 0.833, 0.947,
    # so the nucleus holds 3 tokens.
    logits = torch.tensor([3.0, 2.2, 1.8, 1.0, 0.4, -1.5], dtype=torch.float64)
    first = sampling.sampling_probs(logits, temperature=0.7, top_p=0.9, order="temperature_first")
    last = sampling.sampling_probs(logits, temperature=0.7, top_p=0.9, order="temperature_last")
    assert (first > 0).tolist() == [True, True, True, False, False, False]
    assert (last > 0).tolist() == [True, True, True, True, False, False]
    # Within the kept set, both are the tempered distribution: p_i^(1/T) renormalised over the survivors.
    p = torch.softmax(logits, -1) ** (1 / 0.7)
    assert torch.allclose(first[:3], p[:3] / p[:3].sum())
    assert torch.allclose(last[:4], p[:4] / p[:4].sum())


@pytest.mark.parametrize("filters", FILTER_SETTINGS)
def test_orders_agree_at_temperature_one(filters: dict) -> None:
    x = torch.from_numpy(random_logits((30, 9), seed=8))
    a = sampling.sampling_probs(x, order="temperature_first", **filters)
    b = sampling.sampling_probs(x, order="temperature_last", **filters)
    assert torch.equal(a > 0, b > 0) and torch.allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("temperature", [0.3, 3.0])
def test_orders_agree_for_top_k_alone(temperature: float) -> None:
    x = torch.from_numpy(random_logits((30, 9), seed=9))
    a = sampling.sampling_probs(x, temperature=temperature, top_k=4, order="temperature_first")
    b = sampling.sampling_probs(x, temperature=temperature, top_k=4, order="temperature_last")
    assert torch.allclose(a, b, rtol=1e-12)


def test_temperature_last_keeps_the_same_tokens_at_every_temperature() -> None:
    x = torch.from_numpy(random_logits((30, 11), seed=10))
    kept_at_one = sampling.sampling_probs(x, top_p=0.7, min_p=0.05, order="temperature_last") > 0
    for temperature in (0.2, 5.0):
        probs = sampling.sampling_probs(
            x, temperature=temperature, top_p=0.7, min_p=0.05, order="temperature_last"
        )
        assert torch.equal(probs > 0, kept_at_one)


def test_sampling_probs_greedy_is_one_hot_on_first_argmax() -> None:
    x = torch.tensor([[1.0, 3.0, 3.0, 0.0], [5.0, 1.0, 1.0, 5.0]])
    assert sampling.sampling_probs(x, temperature=0).tolist() == [[0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]]
    assert sampling.sampling_probs(x, temperature=0).argmax(-1).tolist() == sample(x, temperature=0).tolist()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"temperature": 0.5, "top_p": 0.8},
        {"temperature": 2.0, "top_p": 0.6, "min_p": 0.2},
        {"temperature": 1.5, "top_k": 6, "top_p": 0.9, "min_p": 0.05},
    ],
)
def test_sampling_frequencies_temperature_last(kwargs: dict) -> None:
    x = torch.tensor([2.0, 1.5, 1.0, 0.5, 0.0, -0.5, -1.0, NEG_INF])
    row = list(map(float, x.double()))
    filters = {k: v for k, v in kwargs.items() if k != "temperature"}
    probs = np.array(ref_chain_probs(row, kwargs["temperature"], "temperature_last", **filters))
    n = 200_000
    ids = sample(
        x.expand(n, -1), order="temperature_last", generator=torch.Generator().manual_seed(12), **kwargs
    )
    frequencies_ok(np.bincount(ids.numpy(), minlength=len(row)), probs)


def test_bad_order() -> None:
    x = torch.zeros(3)
    with pytest.raises(ValueError, match="order"):
        sample(x, order="temperature_middle")
    with pytest.raises(TypeError, match="order"):
        sampling.sampling_probs(x, order=1)
    with pytest.raises(ValueError, match="order"):
        sampling.check_sample_args(order="last")


# ----------------------------------------------------------------------------------------------------------
# Beam search: greedy at width 1, exhaustive search at a wide enough beam


def toy_model(vocab: int, seed: int):
    """next_logits for a model whose logits are arbitrary (random) for every distinct prefix."""
    rng = np.random.default_rng(seed)
    table: dict[tuple[int, ...], np.ndarray] = {}

    def logits_after(prefix: tuple[int, ...]) -> np.ndarray:
        if prefix not in table:
            table[prefix] = rng.normal(0.0, 2.0, size=vocab)
        return table[prefix]

    def next_logits(ids: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.stack([logits_after(tuple(r)) for r in ids.tolist()]))

    return logits_after, next_logits


def ref_log_prob(logits_after, prompt: tuple[int, ...], continuation: tuple[int, ...]) -> float:
    total, prefix = 0.0, prompt
    for token in continuation:
        z = logits_after(prefix)
        top = max(z)
        total += z[token] - top - math.log(math.fsum(math.exp(v - top) for v in z))
        prefix = (*prefix, token)
    return total


@pytest.mark.parametrize("seed", range(5))
def test_beam_search_wide_enough_is_exhaustive(seed: int) -> None:
    import itertools

    vocab, n_new, prompt = 4, 3, (1, 2)
    logits_after, next_logits = toy_model(vocab, seed)
    scored = {c: ref_log_prob(logits_after, prompt, c) for c in itertools.product(range(vocab), repeat=n_new)}
    best = max(scored, key=scored.get)
    ids, log_prob = sampling.beam_search(
        next_logits, torch.tensor(prompt), n_new, beam_width=vocab ** (n_new - 1)
    )
    assert tuple(ids.tolist()) == prompt + best
    assert log_prob == pytest.approx(scored[best], rel=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_beam_search_width_one_is_greedy(seed: int) -> None:
    vocab, n_new, prompt = 6, 5, (0,)
    logits_after, next_logits = toy_model(vocab, seed)
    prefix = prompt
    for _ in range(n_new):
        z = logits_after(prefix)
        prefix = (*prefix, int(np.argmax(z)))
    ids, log_prob = sampling.beam_search(next_logits, torch.tensor(prompt), n_new, beam_width=1)
    assert tuple(ids.tolist()) == prefix
    assert log_prob == pytest.approx(ref_log_prob(logits_after, prompt, prefix[1:]), rel=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_beam_search_score_is_the_log_probability_of_its_answer(seed: int) -> None:
    vocab, n_new, prompt = 5, 6, (3, 1)
    logits_after, next_logits = toy_model(vocab, seed)
    ids, log_prob = sampling.beam_search(next_logits, torch.tensor(prompt), n_new, beam_width=3)
    assert ids.shape == (len(prompt) + n_new,) and tuple(ids[:2].tolist()) == prompt
    assert log_prob == pytest.approx(ref_log_prob(logits_after, prompt, tuple(ids[2:].tolist())), rel=1e-12)


def test_beam_search_zero_tokens_and_minus_inf() -> None:
    ids, log_prob = sampling.beam_search(lambda ids: torch.zeros(len(ids), 3), torch.tensor([2]), 0, 4)
    assert ids.tolist() == [2] and log_prob == 0.0
    # Only token 1 is possible: a beam wider than the finite candidates keeps just those.
    only_one = torch.tensor([NEG_INF, 0.0, NEG_INF])
    ids, log_prob = sampling.beam_search(lambda ids: only_one.expand(len(ids), 3), torch.tensor([0]), 3, 5)
    assert ids.tolist() == [0, 1, 1, 1] and log_prob == 0.0


def test_beam_search_errors() -> None:
    def fine(ids: torch.Tensor) -> torch.Tensor:
        return torch.zeros(len(ids), 3)

    with pytest.raises(TypeError, match="next_logits"):
        sampling.beam_search(3, torch.tensor([0]), 2, 2)
    with pytest.raises(TypeError, match="prompt"):
        sampling.beam_search(fine, torch.tensor([0.0]), 2, 2)
    with pytest.raises(ValueError, match="prompt"):
        sampling.beam_search(fine, torch.tensor([[0]]), 2, 2)
    with pytest.raises(ValueError, match="beam_width"):
        sampling.beam_search(fine, torch.tensor([0]), 2, 0)
    with pytest.raises(ValueError, match="max_new_tokens"):
        sampling.beam_search(fine, torch.tensor([0]), -1, 2)
    with pytest.raises(ValueError, match="shape"):
        sampling.beam_search(lambda ids: torch.zeros(3), torch.tensor([0]), 2, 2)
    with pytest.raises(TypeError, match="float"):
        sampling.beam_search(lambda ids: torch.zeros(len(ids), 3, dtype=torch.int64), torch.tensor([0]), 2, 2)
