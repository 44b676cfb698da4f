"""Turn a model's logits into a next token: softmax with temperature, top-k / top-p / min-p filters, sampling.

A language model outputs one score (a *logit*) per vocabulary entry for the next position. This module turns
those scores into a choice:

- `softmax(logits, temperature)`: probabilities, computed stably (the row maximum is subtracted first).
- `apply_temperature(logits, temperature)`: `logits / temperature`.
- `top_k_filter`, `top_p_filter`, `min_p_filter`: set the logits of tokens that may not be drawn to `-inf`.
- `sample(logits, temperature=..., top_k=..., top_p=..., min_p=..., order=...)`: one token id per row;
  `temperature=0` is greedy decoding (argmax). `order` says whether the temperature comes before the filters
  (`"temperature_first"`, as in Hugging Face transformers) or after them (`"temperature_last"`, as in
  llama.cpp's default sampler chain).
- `sampling_probs(...)`: the exact distribution that `sample` draws from, with the same options.
- `beam_search(next_logits, prompt, max_new_tokens, beam_width)`: the most probable continuation that a
  beam of `beam_width` partial sequences finds, the deterministic alternative to sampling.
- `check_sample_args(...)`: the checks `sample` makes of its options, without logits, for code that samples
  in a loop and wants a bad option refused before the first step (`llmguide.generation.generate`).

Every function takes logits of any shape `(..., vocab)` (the vocabulary is the last axis; `softmax` takes
`dim=`), as a `torch.Tensor` on any device (CPU, CUDA, MPS) or a NumPy array (the result then comes back as
NumPy). float16 and bfloat16 logits are upcast to float32 for the arithmetic; float64 stays float64. Nothing
loops over rows in Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

from llmguide.validate import (
    check_choice,
    check_instance,
    check_int,
    check_real,
    parameter_error,
)

__all__ = [
    "ORDERS",
    "SamplingOptions",
    "apply_temperature",
    "beam_search",
    "check_generator",
    "check_sample_args",
    "min_p_filter",
    "sample",
    "sampling_probs",
    "softmax",
    "top_k_filter",
    "top_p_filter",
]

Logits = TypeVar("Logits", torch.Tensor, np.ndarray)
"""A `torch.Tensor` or a NumPy array of floating dtype; results come back as the same kind."""

_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_NUMPY_FLOATS = (np.float16, np.float32, np.float64)
_NEG_INF = float("-inf")

ORDERS = ("temperature_first", "temperature_last")
"""Where `sample` applies the temperature: before top-k, top-p and min-p (Hugging Face transformers) or after
them (llama.cpp's default sampler chain)."""


# ----------------------------------------------------------------------------------------------------------
# Input checks and conversions


def _as_tensor(logits: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, bool]:
    """Return `(tensor, was_numpy)` after checking the kind, dtype and size of `logits` (not its values)."""
    was_numpy = isinstance(logits, np.ndarray)
    if was_numpy:
        if logits.dtype.type not in _NUMPY_FLOATS:
            raise TypeError(
                f"logits must have a floating dtype (float16, float32 or float64 for NumPy), got {logits.dtype}"
            )
        tensor = torch.from_numpy(np.array(logits, copy=True))
    elif isinstance(logits, torch.Tensor):
        if logits.dtype not in _FLOAT_DTYPES:
            raise TypeError(
                "logits must have a floating dtype (float16, bfloat16, float32 or float64), "
                f"got {logits.dtype}"
            )
        tensor = logits
    else:
        raise TypeError(f"logits must be a torch.Tensor or a numpy.ndarray, got {type(logits).__name__}")
    if tensor.ndim == 0 or tensor.numel() == 0:
        raise ValueError(
            f"logits must be non-empty with shape (..., vocab) and vocab >= 1, got shape {tuple(tensor.shape)}"
        )
    return tensor, was_numpy


def _back(result: torch.Tensor, was_numpy: bool) -> torch.Tensor | np.ndarray:
    return result.cpu().numpy() if was_numpy else result


def _compute_dtype(tensor: torch.Tensor) -> torch.dtype:
    """float64 stays float64; everything else is computed in float32."""
    return torch.float64 if tensor.dtype == torch.float64 else torch.float32


def _row_max(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Maximum along `dim` (kept as a size-1 axis), after checking that every row has a usable maximum.

    One reduction answers all three value checks: the maximum is NaN if the row contains a NaN (`amax`
    propagates NaN), `+inf` if it contains `+inf`, and `-inf` if every entry is `-inf`.
    """
    m = x.amax(dim=dim, keepdim=True)
    if not bool(torch.isfinite(m).all()):
        if bool(torch.isnan(x).any()):
            raise ValueError("logits contain NaN; every logit must be a real number or -inf")
        if bool(torch.isposinf(x).any()):
            raise ValueError("logits contain +inf; every logit must be finite or -inf")
        raise ValueError(
            "logits have a row whose entries are all -inf; at least one token per row needs a finite logit"
        )
    return m


def _check_dim(dim: int, ndim: int) -> int:
    return check_int("dim", dim, minimum=-ndim, maximum=ndim - 1)


def _check_temperature(temperature: float, *, allow_zero: bool) -> float:
    allowed = "[0, inf) (0 means greedy)" if allow_zero else "(0, inf)"
    try:
        return check_real("temperature", temperature, minimum=0, min_open=not allow_zero)
    except ValueError:
        hint = "; for greedy decoding use sample(..., temperature=0)" if temperature == 0 else ""
        raise parameter_error(
            ValueError, f"temperature must be finite and in {allowed}, got {temperature}{hint}", "temperature"
        ) from None


def _check_top_k(k: int) -> int:
    return check_int("top_k", k, minimum=1)


def _check_fraction(p: float, name: str, *, zero_allowed: bool) -> float:
    allowed = "[0, 1]" if zero_allowed else "(0, 1] (0 excluded, 1 included)"
    try:
        return check_real(name, p, minimum=0, maximum=1, min_open=not zero_allowed)
    except ValueError:
        raise parameter_error(ValueError, f"{name} must be in {allowed}, got {p}", name) from None


def check_generator(generator: torch.Generator | None, device: str | torch.device) -> None:
    """Check that `generator` is None or a `torch.Generator` on `device` (where the logits are).

    Args:
        generator: the generator to draw with, or None.
        device: the logits' device.

    Raises:
        TypeError: `generator` is not a `torch.Generator`.
        ValueError: `generator` is on another device.

    For example:

    ```python
    import torch
    from llmguide.sampling import check_generator

    check_generator(torch.Generator(), "cpu")  # fine: returns None
    ```
    """
    device = torch.device(device)
    if generator is None:
        return
    check_instance("generator", generator, torch.Generator, "a torch.Generator or None")
    g = generator.device
    same = g.type == device.type and (g.index is None or device.index is None or g.index == device.index)
    if not same:
        raise parameter_error(
            ValueError,
            f"generator is on device {g} but logits are on {device}; "
            f"create it with torch.Generator(device=logits.device)",
            "generator",
        )


# ----------------------------------------------------------------------------------------------------------
# Internal kernels: `z` is float32/float64 logits whose values are checked; they return masks of kept tokens.


def _scaled(x: torch.Tensor, m: torch.Tensor, temperature: float) -> torch.Tensor:
    """`(x - m) / temperature` without NaN: the maximum maps to exactly 0, everything else to <= 0 or -inf.

    Subtracting the maximum first means dividing by a tiny temperature can only overflow towards -inf (a
    probability of 0, which is the right answer). A temperature that would round to 0 or inf in float32
    (below about 1e-38 or above 3e38) is applied in float64 instead, where every finite positive Python float
    is representable; MPS has no float64, so there such temperatures are refused.
    """
    shifted = x - m
    info = torch.finfo(x.dtype)
    if not info.tiny <= temperature <= info.max:
        if x.device.type == "mps":
            raise parameter_error(
                ValueError,
                f"temperature must be in [{info.tiny:.3g}, {info.max:.3g}] on MPS (no float64 there), "
                f"got {temperature}; use temperature=0 for greedy decoding",
                "temperature",
            )
        return (shifted.double() / temperature).to(x.dtype)
    return shifted if temperature == 1 else shifted / temperature


def _top_k_keep(z: torch.Tensor, k: int) -> torch.Tensor:
    k = min(k, z.shape[-1])
    kth = torch.topk(z, k, dim=-1).values[..., -1:]
    return z >= kth


_TOP_P_CANDIDATES = (1024, 4096)


def _top_p_keep(z: torch.Tensor, p: float) -> torch.Tensor:
    """Mask of the nucleus: tokens at least as probable as the token whose cumulative probability reaches p.

    On a CPU, sorting whole 50,000-token rows is the slow part, and usually unnecessary: the nucleus tends
    to be a few hundred tokens. So only the 1,024 most probable tokens of each row are taken first (`topk`
    returns them sorted); rows whose nucleus does not fit in them are retried with 4,096, and the rows still
    left with a full sort. The result is the same as sorting everything. On a GPU the full sort is the fast
    way (a large `topk` there is slower than sorting; measured on an H200, benchmarks/RESULTS.md), so other
    devices sort at once.
    """
    vocab = z.shape[-1]
    candidates = _TOP_P_CANDIDATES if z.device.type == "cpu" else ()
    pending = z.reshape(-1, vocab)
    top_logit = pending.amax(dim=-1, keepdim=True)  # log(sum(exp)), computed faster than torch.logsumexp
    log_total = top_logit + torch.exp(pending - top_logit).sum(dim=-1, keepdim=True).log()
    smallest_kept = torch.empty_like(log_total)
    rows = torch.arange(pending.shape[0], device=z.device)
    for k in (*(c for c in candidates if c < vocab), vocab):
        if k < vocab:
            top = torch.topk(pending, k, dim=-1).values
        else:
            top = torch.sort(pending, dim=-1, descending=True).values
        cumulative = torch.exp(top - log_total).cumsum(dim=-1)
        # The tokens strictly before the one that brings the total to >= p, plus that one (at least one).
        n_keep = ((cumulative < p).sum(dim=-1, keepdim=True) + 1).clamp(max=k)
        found = top.gather(-1, n_keep - 1)
        if k == vocab:
            smallest_kept[rows] = found
            break
        done = cumulative[:, -1] >= p
        smallest_kept[rows[done]] = found[done]
        if bool(done.all()):
            break
        rows, pending, log_total = rows[~done], pending[~done], log_total[~done]
    return z >= smallest_kept.reshape(*z.shape[:-1], 1)


def _draw(weights: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One index per row of `weights` (rows, vocab) >= 0, drawn with probability weight / row total.

    Inverse-CDF sampling: one uniform number per row, scaled by the row total and located in the running
    sum of the weights by binary search. `torch.multinomial` instead draws one random number per *entry*
    (an exponential race), which on a CPU costs more than all the rest of `sample`. Both are exact up to
    rounding: here each token's probability is reproduced to within about one float32 (or float64) rounding
    step of the row total, about 6e-8 of it. A token of weight 0 is never returned: its running sum equals
    its predecessor's, so the search cannot stop on it.
    """
    vocab = weights.shape[-1]
    cdf = weights.cumsum(dim=-1)
    u = torch.rand((weights.shape[0], 1), generator=generator, dtype=weights.dtype, device=weights.device)
    # The first position whose running sum exceeds u * total.
    ids = torch.searchsorted(cdf, u * cdf[:, -1:], right=True).clamp_(max=vocab - 1)
    chosen = weights.gather(-1, ids)
    if not bool((chosen > 0).all()):
        # Only if u * total rounded up to the total itself (the last slot may then be a removed token), or a
        # GPU's parallel running sum rounded unevenly. Rare; those rows are drawn again the slow way.
        redo = (chosen <= 0).squeeze(-1)
        ids[redo] = torch.multinomial(weights[redo], 1, generator=generator)
    return ids.squeeze(-1)


def _min_p_keep(z: torch.Tensor, m: torch.Tensor, p: float) -> torch.Tensor:
    # probability_i / largest probability = exp(z_i - max z), whatever the normalisation.
    return torch.exp(z - m) >= p


def _weights(
    x: torch.Tensor,
    m: torch.Tensor,
    t: float,
    top_k: int | None,
    top_p: float | None,
    min_p: float | None,
    order: str,
) -> torch.Tensor:
    """Unnormalised probabilities (the largest exactly 1, removed tokens 0) after temperature and filters.

    `x` is checked float32/float64 logits with row maximum `m`, and `t > 0`. With `"temperature_first"` the
    filters see the tempered logits; with `"temperature_last"` they see the logits at T = 1, and the
    temperature then reshapes only the tokens that survived.
    """
    if order == "temperature_first":
        z = _scaled(x, m, t)  # the row maximum is now exactly 0; every filter below keeps it
    else:
        z = x - m
    if top_k is not None:
        z = z.masked_fill(~_top_k_keep(z, top_k), _NEG_INF)
    if top_p is not None:
        z = z.masked_fill(~_top_p_keep(z, top_p), _NEG_INF)
    if min_p is not None:
        z = z.masked_fill(torch.exp(z) < min_p, _NEG_INF)  # p_i / p_max = exp(z_i - 0)
    if order == "temperature_last":
        z = _scaled(z, torch.zeros_like(m), t)
    return torch.exp(z)


# ----------------------------------------------------------------------------------------------------------
# Public functions


def softmax(logits: Logits, temperature: float = 1.0, dim: int = -1) -> Logits:
    """Probabilities from logits: `exp(logits / T)` normalised along `dim`, computed without overflow.

    The maximum along `dim` is subtracted before dividing by the temperature and exponentiating, so logits
    of +-1e30 or a temperature of 1e-8 give no overflow and no NaN; a `-inf` logit gets probability exactly 0.
    `temperature=0` returns the limit T -> 0: probability shared equally by the entries tied for the maximum.

    Args:
        logits: scores of shape `(..., vocab)` (any float dtype, any device, or a NumPy array).
        temperature: T >= 0 (finite). 1 leaves the logits as they are; below 1 sharpens, above 1 flattens.
        dim: the axis that holds the vocabulary.

    Returns:
        Probabilities of the same shape, summing to 1 along `dim`: float32 (float64 for float64 logits),
        a NumPy array if `logits` was one.

    Raises:
        TypeError: `logits` is not a float tensor/array, or `temperature`/`dim` has the wrong type.
        ValueError: `logits` is empty or contains NaN or +inf or an all `-inf` row; `temperature` is
            negative, NaN or infinite; `dim` is out of range.

    For example:

    ```python
    import torch
    from llmguide.sampling import softmax

    logits = torch.tensor([2.0, 1.0, 0.0])
    print([round(p, 3) for p in softmax(logits).tolist()])
    #> [0.665, 0.245, 0.09]
    print([round(p, 3) for p in softmax(logits, temperature=0.5).tolist()])
    #> [0.867, 0.117, 0.016]
    ```
    """
    tensor, was_numpy = _as_tensor(logits)
    t = _check_temperature(temperature, allow_zero=True)
    dim = _check_dim(dim, tensor.ndim)
    x = tensor.to(_compute_dtype(tensor))
    m = _row_max(x, dim)
    if t == 0:
        at_max = (x == m).to(x.dtype)
        return _back(at_max / at_max.sum(dim=dim, keepdim=True), was_numpy)
    e = torch.exp(_scaled(x, m, t))
    return _back(e / e.sum(dim=dim, keepdim=True), was_numpy)


def apply_temperature(logits: Logits, temperature: float) -> Logits:
    """Divide logits by the temperature T: `logits / T`.

    Softmax of the result is the tempered distribution: with probabilities `p_i = softmax(logits)_i`, it is
    `p_i ** (1 / T)` renormalised. Half-precision logits are upcast to float32 first, so a small T does not
    overflow float16's range (+-65504).

    Args:
        logits: scores of shape `(..., vocab)` (any float dtype, any device, or a NumPy array).
        temperature: T > 0 (finite). T = 0 is refused here (division by zero); `sample(...,
            temperature=0)` is greedy decoding.

    Returns:
        `logits / temperature`, float32 (float64 for float64 logits), a NumPy array if `logits` was one.

    Raises:
        TypeError: `logits` is not a float tensor/array, or `temperature` is not a real number.
        ValueError: `logits` is empty or contains NaN, +inf or an all `-inf` row; `temperature` is not in
            (0, inf); or the quotient overflows (use `softmax`/`sample`, which subtract the maximum first).

    For example:

    ```python
    import torch
    from llmguide.sampling import apply_temperature

    print(apply_temperature(torch.tensor([2.0, 1.0, 0.0]), 0.5).tolist())
    #> [4.0, 2.0, 0.0]
    ```
    """
    tensor, was_numpy = _as_tensor(logits)
    t = _check_temperature(temperature, allow_zero=False)
    x = tensor.to(_compute_dtype(tensor))
    _row_max(x)
    info = torch.finfo(x.dtype)
    out = x / t if info.tiny <= t <= info.max else (x.double() / t).to(x.dtype)
    if bool(torch.isposinf(out).any()) or bool((torch.isneginf(out) & torch.isfinite(x)).any()):
        raise ValueError(
            f"logits / temperature overflows {x.dtype} for temperature={temperature}; "
            "softmax(logits, temperature) and sample(...) subtract the maximum first and do not overflow"
        )
    return _back(out, was_numpy)


def top_k_filter(logits: Logits, k: int) -> Logits:
    """Keep the `k` largest logits per row (and every logit tied with the k-th largest); set the rest to -inf.

    Ties: if the k-th and (k+1)-th largest logits are equal, both are kept, so more than `k` tokens can
    survive and the result never depends on how a sort orders equal values. `k` at or above the vocabulary
    size keeps everything. Because dividing by a temperature T > 0 keeps the order of the logits, top-k keeps
    the same tokens at every temperature.

    Args:
        logits: scores of shape `(..., vocab)` (any float dtype, any device, or a NumPy array).
        k: how many tokens to keep, an integer >= 1.

    Returns:
        Logits of the same shape and dtype (NumPy if `logits` was), removed entries set to `-inf`.

    Raises:
        TypeError: `logits` is not a float tensor/array, or `k` is not an integer.
        ValueError: `logits` is empty or contains NaN, +inf or an all `-inf` row, or `k < 1`.

    For example:

    ```python
    import torch
    from llmguide.sampling import top_k_filter

    print(top_k_filter(torch.tensor([3.0, 1.0, 2.0, 2.0, 0.0]), 2).tolist())
    #> [3.0, -inf, 2.0, 2.0, -inf]
    ```
    """
    tensor, was_numpy = _as_tensor(logits)
    k = _check_top_k(k)
    x = tensor.to(_compute_dtype(tensor))
    _row_max(x)
    return _back(tensor.masked_fill(~_top_k_keep(x, k), _NEG_INF), was_numpy)


def top_p_filter(logits: Logits, p: float) -> Logits:
    """Nucleus (top-p) filtering: keep the smallest set of most probable tokens whose total probability >= p.

    Tokens are taken in order of decreasing probability until their probabilities add up to at least `p`;
    the token that crosses `p` is kept, so at least one token always survives (the most probable one), even
    for a tiny `p`. Tokens tied in probability with the least probable kept token are kept too (as in
    `top_k_filter`). `p = 1` keeps every token. The probabilities are `softmax(logits)`: apply the
    temperature first if there is one, since it changes which tokens make up the nucleus.

    Args:
        logits: scores of shape `(..., vocab)` (any float dtype, any device, or a NumPy array).
        p: the probability mass to cover, in (0, 1]: 0 is excluded, 1 is included.

    Returns:
        Logits of the same shape and dtype (NumPy if `logits` was), removed entries set to `-inf`.

    Raises:
        TypeError: `logits` is not a float tensor/array, or `p` is not a real number.
        ValueError: `logits` is empty or contains NaN, +inf or an all `-inf` row, or `p` is not in (0, 1].

    For example:

    ```python
    import math
    import torch
    from llmguide.sampling import top_p_filter

    logits = torch.tensor([0.5, 0.3, 0.15, 0.05]).log()  # probabilities 0.5, 0.3, 0.15, 0.05
    print(top_p_filter(logits, 0.7).isfinite().tolist())
    #> [True, True, False, False]
    print(top_p_filter(logits, 0.01).isfinite().tolist())
    #> [True, False, False, False]
    ```
    """
    tensor, was_numpy = _as_tensor(logits)
    p = _check_fraction(p, "p", zero_allowed=False)
    x = tensor.to(_compute_dtype(tensor))
    _row_max(x)
    return _back(tensor.masked_fill(~_top_p_keep(x, p), _NEG_INF), was_numpy)


def min_p_filter(logits: Logits, p: float) -> Logits:
    """Min-p filtering: keep the tokens whose probability is >= p times the largest probability in the row.

    The cut-off scales with the model's confidence: a peaked distribution keeps few tokens, a flat one many.
    The most probable token always survives; `p = 0` keeps everything, `p = 1` only the tokens tied for the
    maximum. As with top-p, the temperature changes the ratios, so apply it first.

    Args:
        logits: scores of shape `(..., vocab)` (any float dtype, any device, or a NumPy array).
        p: the fraction of the largest probability a token needs, in [0, 1] (both ends included).

    Returns:
        Logits of the same shape and dtype (NumPy if `logits` was), removed entries set to `-inf`.

    Raises:
        TypeError: `logits` is not a float tensor/array, or `p` is not a real number.
        ValueError: `logits` is empty or contains NaN, +inf or an all `-inf` row, or `p` is not in [0, 1].

    For example:

    ```python
    import torch
    from llmguide.sampling import min_p_filter

    logits = torch.tensor([0.5, 0.3, 0.15, 0.05]).log()
    print(min_p_filter(logits, 0.25).isfinite().tolist())  # cut-off 0.25 * 0.5 = 0.125
    #> [True, True, True, False]
    ```
    """
    tensor, was_numpy = _as_tensor(logits)
    p = _check_fraction(p, "p", zero_allowed=True)
    x = tensor.to(_compute_dtype(tensor))
    m = _row_max(x)
    return _back(tensor.masked_fill(~_min_p_keep(x, m, p), _NEG_INF), was_numpy)


def sample(
    logits: Logits,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
    order: str = "temperature_first",
    generator: torch.Generator | None = None,
) -> Logits:
    """Draw one token id per row of `logits`, after temperature and the optional filters.

    The steps, in this order: divide the logits by the temperature; keep the `top_k` largest; keep the
    nucleus of mass `top_p`; keep the tokens with at least `min_p` times the largest probability; draw from
    the softmax of what is left. The order matters: top-p and min-p look at probabilities, which the
    temperature reshapes (a higher T spreads mass, so the nucleus holds more tokens), and top-p measures its
    mass on the distribution already renormalised over the top-k survivors. Top-k alone is unaffected by the
    temperature. Every filter keeps the most probable token, so a draw is always possible.

    `order="temperature_last"` instead applies top-k, top-p and min-p to the logits as they are (T = 1) and
    divides only the survivors by the temperature, as llama.cpp's default sampler chain does. Then the
    temperature never changes *which* tokens can be drawn, only how often. The two orders agree at T = 1, and
    for top-k alone at every T. `sampling_probs` returns the distribution either order draws from.

    `temperature=0` is greedy decoding: the argmax of each row (the first one on ties), deterministic, with
    no division by zero; the filters cannot change it.

    Args:
        logits: scores of shape `(..., vocab)`: float16, bfloat16, float32 or float64, on any device, or a
            NumPy array. Half precision is upcast to float32 for the arithmetic.
        temperature: T >= 0 (finite); 0 is greedy.
        top_k: keep this many tokens (ties with the k-th kept too), an integer >= 1, or None for no limit.
        top_p: nucleus mass in (0, 1] (0 excluded, 1 included), or None.
        min_p: fraction of the top probability in [0, 1] (both included), or None.
        order: `"temperature_first"` (the default, as in Hugging Face transformers) or
            `"temperature_last"` (as in llama.cpp); see above.
        generator: a `torch.Generator` on the same device as `logits` (CPU for NumPy input); seed it for
            reproducible draws.

    Returns:
        Token ids (int64) of shape `logits.shape[:-1]`, a NumPy array if `logits` was one.

    Raises:
        TypeError: `logits` is not a float tensor/array; a parameter has the wrong type.
        ValueError: `logits` is empty or contains NaN, +inf or an all `-inf` row; `temperature` not in
            [0, inf); `top_k < 1`; `top_p` not in (0, 1]; `min_p` not in [0, 1]; `order` not one of
            `ORDERS`; `generator` on another device.

    For example:

    ```python
    import torch
    from llmguide.sampling import sample

    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.0, 5.0]])
    print(sample(logits, temperature=0).tolist())
    #> [0, 2]
    g = torch.Generator().manual_seed(0)
    print(sample(logits, temperature=1.0, top_p=0.9, generator=g).shape)
    #> torch.Size([2])
    ```
    """
    options = SamplingOptions(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p, order=order)
    return options.draw(logits, generator)


def sampling_probs(
    logits: Logits,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
    order: str = "temperature_first",
) -> Logits:
    """The probabilities with which `sample` draws each token, for the same options.

    The tokens that the filters remove get probability exactly 0, and the rest are renormalised. With
    `temperature=0` (greedy) all the probability goes to the first of the largest logits, the token `sample`
    returns. Comparing the two values of `order` shows which tokens a setting such as "top-p 0.9 at T = 0.7"
    keeps in a library that applies the temperature first and in one that applies it last.

    Args:
        logits: scores of shape `(..., vocab)`, as for `sample`.
        temperature: T >= 0 (finite); 0 is greedy.
        top_k: as for `sample`.
        top_p: as for `sample`.
        min_p: as for `sample`.
        order: `"temperature_first"` or `"temperature_last"`, as for `sample`.

    Returns:
        Probabilities of the same shape, summing to 1 along the last axis: float32 (float64 for float64
        logits), a NumPy array if `logits` was one.

    Raises:
        TypeError: `logits` is not a float tensor/array; a parameter has the wrong type.
        ValueError: `logits` is empty or contains NaN, +inf or an all `-inf` row; an option is out of range.

    For example:

    ```python
    import torch
    from llmguide.sampling import sampling_probs

    logits = torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=torch.float64).log()  # probabilities at T = 1
    for order in ("temperature_first", "temperature_last"):
        probs = sampling_probs(logits, temperature=2.0, top_p=0.75, order=order)
        print(order, [round(p, 3) for p in probs.tolist()])
    #> temperature_first [0.431, 0.334, 0.236, 0.0]
    #> temperature_last [0.564, 0.436, 0.0, 0.0]
    ```
    """
    options = SamplingOptions(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p, order=order)
    return options.probs(logits)


@dataclass(frozen=True)
class SamplingOptions:
    """How the next token is chosen, as one value: the temperature and the filters, checked once, here.

    `sample(logits, temperature=..., ...)` builds one for its call. A loop that draws token after token
    (`llmguide.generation`) builds it once and calls `draw` at every step, so the options are checked once per
    call of the loop rather than once per token; each `draw` checks only what changes from step to step, the
    logits (no NaN, no +inf, no row without a finite logit) and the generator's device.

    Args:
        temperature: T >= 0 (finite); 0 is greedy.
        top_k: keep this many tokens (ties with the k-th kept too), an integer >= 1, or None.
        top_p: nucleus mass in (0, 1], or None.
        min_p: fraction of the top probability in [0, 1], or None.
        order: `"temperature_first"` or `"temperature_last"`; see `sample`.

    Raises:
        TypeError: an option has the wrong type.
        ValueError: an option is out of range.

    For example:

    ```python
    import torch
    from llmguide.sampling import SamplingOptions

    greedy = SamplingOptions(temperature=0)
    print(greedy.draw(torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.0, 5.0]])).tolist())
    #> [0, 2]
    try:
        SamplingOptions(temperature=-1)
    except ValueError as error:
        print(error)
    #> temperature must be finite and in [0, inf) (0 means greedy), got -1
    ```
    """

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None
    order: str = "temperature_first"

    def __post_init__(self) -> None:
        # checked and stored as plain Python numbers (a NumPy or 0-d tensor temperature becomes a float)
        checked = {
            "temperature": _check_temperature(self.temperature, allow_zero=True),
            "top_k": None if self.top_k is None else _check_top_k(self.top_k),
            "top_p": None if self.top_p is None else _check_fraction(self.top_p, "top_p", zero_allowed=False),
            "min_p": None if self.min_p is None else _check_fraction(self.min_p, "min_p", zero_allowed=True),
            "order": check_choice("order", self.order, ORDERS),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def draw(self, logits: Logits, generator: torch.Generator | None = None) -> Logits:
        """Draw one token id per row of `logits` with these options (see `sample`, which this is).

        Args:
            logits: scores of shape `(..., vocab)`, as for `sample`.
            generator: a `torch.Generator` on the logits' device, or None.

        Returns:
            Token ids (int64) of shape `logits.shape[:-1]`, a NumPy array if `logits` was one.

        Raises:
            TypeError: `logits` is not a float tensor/array, or `generator` not a `torch.Generator`.
            ValueError: `logits` is empty or contains NaN, +inf or an all `-inf` row; `generator` is on
                another device.
        """
        x, weights, was_numpy = self._weights(logits, generator)
        if weights is None:  # greedy
            return _back(x.argmax(dim=-1), was_numpy)
        ids = _draw(weights.reshape(-1, weights.shape[-1]), generator)
        return _back(ids.reshape(x.shape[:-1]), was_numpy)

    def probs(self, logits: Logits) -> Logits:
        """The probabilities with which `draw` picks each token (see `sampling_probs`, which this is).

        Args:
            logits: scores of shape `(..., vocab)`, as for `sample`.

        Returns:
            Probabilities of the same shape, summing to 1 along the last axis.

        Raises:
            TypeError: `logits` is not a float tensor/array.
            ValueError: `logits` is empty or contains NaN, +inf or an all `-inf` row.
        """
        x, weights, was_numpy = self._weights(logits, None)
        if weights is None:  # greedy
            first_max = torch.zeros_like(x).scatter_(-1, x.argmax(dim=-1, keepdim=True), 1.0)
            return _back(first_max, was_numpy)
        return _back(weights / weights.sum(dim=-1, keepdim=True), was_numpy)

    def _weights(
        self, logits: Logits, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor | None, bool]:
        """The checked logits in the compute dtype, the chain's unnormalised weights (None at temperature
        0, greedy), and whether the input was a NumPy array."""
        tensor, was_numpy = _as_tensor(logits)
        check_generator(generator, tensor.device)
        x = tensor.to(_compute_dtype(tensor))
        m = _row_max(x)  # checks the values, greedy included
        if self.temperature == 0:
            return x, None, was_numpy
        weights = _weights(x, m, self.temperature, self.top_k, self.top_p, self.min_p, self.order)
        return x, weights, was_numpy


def check_sample_args(
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
    order: str = "temperature_first",
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
) -> None:
    """Check the options of `sample` without any logits, exactly as `sample` checks them.

    A loop that samples step after step calls this once before its first step, so that a bad option is
    refused even when the loop would not run at all (e.g. when asked for 0 new tokens).

    Args:
        temperature: as for `sample`.
        top_k: as for `sample`.
        top_p: as for `sample`.
        min_p: as for `sample`.
        order: as for `sample`.
        generator: as for `sample`.
        device: where the logits will be; `generator` must be on the same device.

    Raises:
        TypeError: an option has the wrong type.
        ValueError: an option is out of range, or `generator` is on another device than `device`.

    For example:

    ```python
    from llmguide.sampling import check_sample_args

    try:
        check_sample_args(temperature=-5)
    except ValueError as error:
        print(error)
    #> temperature must be finite and in [0, inf) (0 means greedy), got -5
    ```
    """
    SamplingOptions(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p, order=order)
    check_generator(generator, torch.device(device))


def beam_search(
    next_logits: Callable[[torch.Tensor], torch.Tensor],
    prompt: torch.Tensor,
    max_new_tokens: int,
    beam_width: int,
) -> tuple[torch.Tensor, float]:
    """The continuation of `prompt` that beam search finds most probable, and its log-probability.

    Greedy decoding keeps one partial continuation and extends it by its most probable token. Beam search
    keeps `beam_width` of them: at each step it scores every one-token extension of every kept continuation
    by its total log-probability (the sum of the log-probabilities of its tokens), and keeps the
    `beam_width` best. It is deterministic, and it ranks whole continuations instead of single tokens, so it
    can find a continuation more probable than greedy's, whose first token is not the most probable one. With
    `beam_width=1` it is greedy decoding. With `beam_width` at least `vocab ** (max_new_tokens - 1)` it keeps
    every partial continuation and returns the most probable one of all (an exhaustive search). Ties are
    broken towards the earlier continuation and the lower token id, as `argmax` does. This is the plain
    fixed-length form: no end-of-text token and no length penalty.

    Args:
        next_logits: a function that takes token ids of shape `(B, T)` (int64) and returns the next-token
            logits after each row, shape `(B, vocab)`, e.g. `lambda ids: model(ids)[0][:, -1]`. It is called
            under `torch.no_grad()`, once per new token, with `B <= beam_width`.
        prompt: token ids of shape `(T,)`, `T >= 1`, an integer tensor.
        max_new_tokens: how many tokens to add, `>= 0`.
        beam_width: how many partial continuations to keep, `>= 1`.

    Returns:
        `(ids, log_prob)`: the prompt followed by the best continuation, shape `(T + max_new_tokens,)`, and
        the continuation's total log-probability in nats (natural log; 0 for no new tokens).

    Raises:
        TypeError: `next_logits` is not callable; `prompt` is not an integer tensor; `max_new_tokens` or
            `beam_width` is not an integer; `next_logits` returns something other than a float tensor.
        ValueError: `prompt` is not 1-D or is empty; `max_new_tokens < 0`; `beam_width < 1`; `next_logits`
            returns the wrong shape, or logits that are NaN, +inf or all -inf in a row.

    For example, a two-token vocabulary where the first token is the more probable one but leads nowhere
    certain, while the second is followed by a sure token:

    ```python
    import torch
    from llmguide.sampling import beam_search

    def next_logits(ids: torch.Tensor) -> torch.Tensor:
        # After 0: 50/50. After 1: token 1 with probability 0.99. At the start: 0.6 / 0.4.
        table = {0: [0.5, 0.5], 1: [0.01, 0.99], 2: [0.6, 0.4]}
        return torch.tensor([table[int(row[-1])] for row in ids]).log()

    for width in (1, 2):
        ids, log_prob = beam_search(next_logits, torch.tensor([2]), 2, beam_width=width)
        print(width, ids.tolist(), round(float(torch.tensor(log_prob).exp()), 3))
    #> 1 [2, 0, 0] 0.3
    #> 2 [2, 1, 1] 0.396
    ```
    """
    if not callable(next_logits):
        raise TypeError(f"next_logits must be callable, got {type(next_logits).__name__}")
    check_instance("prompt", prompt, torch.Tensor, "a torch.Tensor of token ids")
    if prompt.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8, torch.int8):
        raise TypeError(f"prompt must be an integer tensor of token ids, got dtype {prompt.dtype}")
    if prompt.ndim != 1 or prompt.numel() == 0:
        raise ValueError(f"prompt must have shape (T,) with T >= 1, got shape {tuple(prompt.shape)}")
    max_new_tokens = check_int("max_new_tokens", max_new_tokens, minimum=0)
    beam_width = check_int("beam_width", beam_width, minimum=1)

    beams = prompt.to(torch.int64).unsqueeze(0)  # (B, T), B = 1 at first
    scores = torch.zeros(1, dtype=torch.float64, device=prompt.device)
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits = next_logits(beams)
            if not isinstance(logits, torch.Tensor) or logits.dtype not in _FLOAT_DTYPES:
                raise TypeError("next_logits must return a float torch.Tensor of shape (B, vocab)")
            if logits.ndim != 2 or logits.shape[0] != beams.shape[0]:
                raise ValueError(
                    f"next_logits must return shape ({beams.shape[0]}, vocab) for {beams.shape[0]} rows, "
                    f"got {tuple(logits.shape)}"
                )
            x = logits.double()
            m = _row_max(x)
            log_probs = x - m - torch.exp(x - m).sum(dim=-1, keepdim=True).log()
            total = (scores.unsqueeze(1) + log_probs).reshape(-1)  # every extension of every beam
            k = min(beam_width, int(torch.isfinite(total).sum()))
            best = torch.sort(total, descending=True, stable=True).indices[:k]  # stable: earlier wins ties
            vocab = x.shape[-1]
            beams = torch.cat([beams[best // vocab], (best % vocab).unsqueeze(1)], dim=1)
            scores = total[best]
    return beams[0].to(prompt.dtype), float(scores[0])
