"""Training FLOPs and the Chinchilla scaling laws.

For a fixed training budget of `C` floating-point operations, how large a model (`N` parameters) and how many
training tokens (`D`) give the lowest loss? This module makes the published answers computable:

- `training_flops`: the `C = 6 N D` rule, and `training_flops_with_attention` with the attention term.
- `Fit`, `HOFFMANN_2022`, `HOFFMANN_2022_UNROUNDED`, `BESIROGLU_2024`: the parametric loss fits, as printed
  in the paper (rounded), with the paper's unrounded constants, and as re-fitted.
- `chinchilla_loss`: `L(N, D) = E + A / N**alpha + B / D**beta`.
- `compute_optimal` / `compute_optimal_tokens`: the compute-optimal allocation by the 20-tokens-per-parameter
  rule or by the closed-form minimiser of a fit.
- `HOFFMANN_2022_TABLE_3`: the paper's own table of compute-optimal sizes, to check the rule against.
- `compute_budget` / `training_hours`: GPUs, hours, peak FLOP/s and the 6ND utilisation (the share of the
  peak that `6 N D` accounts for; PaLM's MFU also counts attention) into FLOPs, and back into time.

Units throughout: parameters and tokens are counts, compute is in FLOPs (floating-point operations, not
FLOP/s), time in hours. Every function accepts plain numbers; `training_flops` and `chinchilla_loss` also accept
numpy arrays (for drawing curves) and then return arrays.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Real
from typing import NamedTuple

import numpy as np

from llmguide.validate import (
    check_finite_result,
    check_instance,
    check_int,
    check_real,
    parameter_error,
)

__all__ = [
    "BESIROGLU_2024",
    "CHINCHILLA_TOKENS_PER_PARAM",
    "FITS",
    "GPU_PEAK_FLOPS",
    "HOFFMANN_2022",
    "HOFFMANN_2022_TABLE_3",
    "HOFFMANN_2022_UNROUNDED",
    "KAPLAN_2020_PARAMS_EXPONENT",
    "METHODS",
    "Fit",
    "Table3Row",
    "chinchilla_loss",
    "compute_budget",
    "compute_optimal",
    "compute_optimal_tokens",
    "get_fit",
    "method_label",
    "peak_flops",
    "scale_allocation",
    "training_flops",
    "training_flops_with_attention",
    "training_hours",
]


# --------------------------------------------------------------------------------------------------------------
# Checking inputs
# --------------------------------------------------------------------------------------------------------------


def _positive(name: str, value: object) -> float | np.ndarray:
    """Return `value` as a float (or float64 array) after checking every entry is finite and > 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (Real, np.ndarray, list, tuple)):
        raise parameter_error(
            TypeError, f"{name} must be a positive number, got {type(value).__name__} {value!r}", name
        )
    if isinstance(value, Real):
        return check_real(name, value, minimum=0, min_open=True)
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise parameter_error(TypeError, f"{name} must hold numbers, got an array of dtype {arr.dtype}", name)
    arr = arr.astype(np.float64)
    if arr.size == 0:
        raise parameter_error(ValueError, f"{name} must not be empty", name)
    if not np.all(np.isfinite(arr)) or not np.all(arr > 0):
        raise parameter_error(
            ValueError, f"{name} must be finite and > 0 everywhere, got min {arr.min()!r}", name
        )
    return arr


def _positive_scalar(name: str, value: object) -> float:
    if isinstance(value, (np.ndarray, list, tuple)):
        raise parameter_error(TypeError, f"{name} must be a single number, got {type(value).__name__}", name)
    out = _positive(name, value)
    assert isinstance(out, float)
    return out


def _positive_int(name: str, value: object) -> int:
    return check_int(name, value, minimum=1)


def _finite(blame: str, what: str, compute: Callable[[], float | np.ndarray]) -> float | np.ndarray:
    """`compute()`, refused with a ValueError blaming `blame` if it overflows (an input too large for floats)."""
    try:
        with np.errstate(over="ignore"):
            value = compute()
    except OverflowError:  # float ** float and int -> float conversions raise instead of giving inf
        value = float("inf")
    return check_finite_result(blame, value, what)


# --------------------------------------------------------------------------------------------------------------
# Training FLOPs
# --------------------------------------------------------------------------------------------------------------


def training_flops(n_params: float | np.ndarray, n_tokens: float | np.ndarray) -> float | np.ndarray:
    """Training compute of a dense transformer by the `C = 6 N D` rule, in FLOPs.

    Why 6: in the forward pass every parameter takes part in one multiply and one add per token, so
    `2 N` FLOPs per token. The backward pass costs about twice the forward: one matrix product gives the
    gradient with respect to the layer's input (to pass further back) and a second one the gradient with
    respect to the weights, `4 N` per token. Together `6 N` per token, `6 N D` for `D` tokens. It ignores the
    attention scores (see `training_flops_with_attention`), layer norms and the optimizer step, all small
    for large models at ordinary context lengths.

    Args:
        n_params: number of parameters `N` (> 0).
        n_tokens: number of training tokens `D` (> 0).

    Returns:
        `6 * n_params * n_tokens` FLOPs (an array if either input is one).

    Raises:
        TypeError: an input is not a number.
        ValueError: an input is not finite or not > 0, or the product overflows a float.

    For example:

    ```python
    from llmguide.scaling import training_flops

    # Chinchilla: 70B parameters on 1.4T tokens
    print(f"{training_flops(70e9, 1.4e12):.2e} FLOPs")
    #> 5.88e+23 FLOPs
    ```
    """
    n, d = _positive("n_params", n_params), _positive("n_tokens", n_tokens)
    return _finite("n_params or n_tokens", "6 * n_params * n_tokens", lambda: 6.0 * n * d)


def training_flops_with_attention(
    n_params: float, n_tokens: float, *, n_layer: int, n_embd: int, context_length: int
) -> float:
    """Training compute including the attention scores, in FLOPs.

    The `6 N D` rule counts only the products with weight matrices. Attention also multiplies the queries
    with the keys (`QK^T`) and the scores with the values: per layer and per token, `2 * context_length *
    n_embd` FLOPs for each of the two in the forward pass, three times that with the backward pass. The
    total per token is `6 N + 12 * n_layer * n_embd * context_length`, the count of Chowdhery et al. 2022
    (PaLM, arXiv:2204.02311, Appendix B). It counts the full attention matrix; a causal kernel that skips the
    masked upper triangle does about half of the attention part.

    Args:
        n_params: number of parameters `N` (> 0).
        n_tokens: number of training tokens `D` (> 0).
        n_layer: number of transformer blocks (>= 1).
        n_embd: model width, the size of the residual stream (>= 1).
        context_length: tokens per training sequence (>= 1).

    Returns:
        Training FLOPs, `(6 N + 12 n_layer n_embd context_length) D`.

    Raises:
        TypeError: an input has the wrong type.
        ValueError: an input is out of range, or the result overflows a float.

    For example:

    ```python
    from llmguide.scaling import training_flops, training_flops_with_attention

    # Chinchilla's shape (Hoffmann et al. 2022, Table 4): 80 layers, width 8192, 2048-token context
    c = training_flops_with_attention(70e9, 1.4e12, n_layer=80, n_embd=8192, context_length=2048)
    print(f"{c:.3e} FLOPs, {c / training_flops(70e9, 1.4e12) - 1:.1%} more than 6ND")
    #> 6.105e+23 FLOPs, 3.8% more than 6ND
    ```
    """
    n = _positive_scalar("n_params", n_params)
    d = _positive_scalar("n_tokens", n_tokens)
    layers = _positive_int("n_layer", n_layer)
    width = _positive_int("n_embd", n_embd)
    ctx = _positive_int("context_length", context_length)
    return _finite(
        "an input", "the training FLOPs", lambda: (6.0 * n + 12.0 * float(layers) * width * ctx) * d
    )


# --------------------------------------------------------------------------------------------------------------
# Fitted loss surfaces
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fit:
    """A fitted Chinchilla loss surface `L(N, D) = E + A / N**alpha + B / D**beta` (loss in nats per token).

    Attributes:
        name: short key, e.g. `"besiroglu-2024"`.
        label: how tables print it.
        E: the irreducible loss, what an infinite model on infinite data would still pay.
        A: scale of the model-size term.
        B: scale of the data term.
        alpha: exponent of the model-size term.
        beta: exponent of the data term.
        source: where the numbers come from.
    """

    name: str
    label: str
    E: float
    A: float
    B: float
    alpha: float
    beta: float
    source: str

    @property
    def params_exponent(self) -> float:
        """`a = beta / (alpha + beta)`: the compute-optimal size grows as `C**a`."""
        return self.beta / (self.alpha + self.beta)

    @property
    def tokens_exponent(self) -> float:
        """`b = alpha / (alpha + beta)`: the compute-optimal token count grows as `C**b`."""
        return self.alpha / (self.alpha + self.beta)

    @property
    def G(self) -> float:
        """`G = (alpha A / (beta B)) ** (1 / (alpha + beta))`, the prefactor of the optimal size."""
        return (self.alpha * self.A / (self.beta * self.B)) ** (1.0 / (self.alpha + self.beta))


HOFFMANN_2022 = Fit(
    name="hoffmann-2022",
    label="Hoffmann 2022 rounded",
    E=1.69,
    A=406.4,
    B=410.7,
    alpha=0.34,
    beta=0.28,
    source="Hoffmann et al. 2022, arXiv:2203.15556, Approach 3 (Eq. 10), constants as printed (rounded)",
)
"""Hoffmann et al. 2022 Approach 3, with the rounded constants printed in the paper."""

HOFFMANN_2022_UNROUNDED = Fit(
    name="hoffmann-2022-unrounded",
    label="Hoffmann 2022 unrounded",
    E=1.6934,
    A=406.401,
    B=410.723,
    alpha=0.33917084,
    beta=0.2849083,
    source="Hoffmann et al. 2022, arXiv:2203.15556, Approach 3 (Eq. 10), the unrounded constants of the "
    "paper's LaTeX source, as used by Besiroglu et al. 2024 (arXiv:2404.10102) in their replication",
)
"""Hoffmann et al. 2022 Approach 3 with its unrounded constants: `a = 0.457`, about 40B parameters at 5.76e23
FLOPs, as the paper's Table 2 (`a = 0.46`) and Figure 4 (40B) report; the rounded exponents move both."""

BESIROGLU_2024 = Fit(
    name="besiroglu-2024",
    label="Besiroglu 2024 (refit)",
    E=1.8172,
    A=482.01,
    B=2085.43,
    alpha=0.3478,
    beta=0.3658,
    source="Besiroglu et al. 2024, 'Chinchilla Scaling: A replication attempt', arXiv:2404.10102, "
    "fit to data reconstructed from Hoffmann et al.'s Figure 4",
)
"""Besiroglu et al. 2024's re-fit of Approach 3 to data read back from the Chinchilla paper's plots."""

FITS: dict[str, Fit] = {f.name: f for f in (HOFFMANN_2022, HOFFMANN_2022_UNROUNDED, BESIROGLU_2024)}
"""The fits by name."""

KAPLAN_2020_PARAMS_EXPONENT = 0.73
"""Kaplan et al. 2020 (arXiv:2001.08361, Section 6): compute-efficient size grows as `C**0.73`, tokens as
`C**0.27`. Their `N` excludes embedding parameters and their runs were not trained to convergence of the
learning-rate schedule, so only the exponent is used here, for contrast (see `scale_allocation`)."""

CHINCHILLA_TOKENS_PER_PARAM = 20.0
"""The popular rule: about 20 training tokens per parameter at the compute-optimal point (Chinchilla itself:
70B parameters, 1.4T tokens)."""

RULE = "rule-of-20"
METHODS: tuple[str, ...] = (RULE, *FITS)
"""Valid `method` names for `compute_optimal`: the 20-tokens-per-parameter rule, then each fit."""

_LABELS = {RULE: "20 tokens/param", **{f.name: f.label for f in FITS.values()}}


def get_fit(fit: str | Fit) -> Fit:
    """Return the `Fit` named `fit` (or `fit` itself if it is already a `Fit`).

    Args:
        fit: a name in `FITS` (`"hoffmann-2022"`, `"hoffmann-2022-unrounded"`, `"besiroglu-2024"`) or a `Fit`.

    Returns:
        The fit.

    Raises:
        TypeError: `fit` is neither a string nor a `Fit`.
        ValueError: unknown name (the message lists the valid ones).

    For example:

    ```python
    from llmguide.scaling import get_fit

    print(get_fit("besiroglu-2024").alpha)
    #> 0.3478
    ```
    """
    if isinstance(fit, Fit):
        return fit
    check_instance("fit", fit, str, "a fit name or a Fit")
    if fit not in FITS:
        raise parameter_error(ValueError, f"unknown fit {fit!r}; valid fits: {', '.join(FITS)}", "fit")
    return FITS[fit]


def chinchilla_loss(
    n_params: float | np.ndarray, n_tokens: float | np.ndarray, *, fit: str | Fit = "besiroglu-2024"
) -> float | np.ndarray:
    """Predicted training loss `L(N, D) = E + A / N**alpha + B / D**beta`, in nats per token.

    The loss is that of the fit's setting (MassiveText, the Chinchilla tokenizer, their training recipe);
    it says how loss trades between model size and data there, not what any other model will reach.

    Args:
        n_params: number of parameters `N` (> 0).
        n_tokens: number of training tokens `D` (> 0).
        fit: `"besiroglu-2024"` (default), `"hoffmann-2022"`, `"hoffmann-2022-unrounded"` or a `Fit`.

    Returns:
        The predicted loss (an array if either input is one).

    Raises:
        TypeError, ValueError: bad sizes or an unknown fit.

    For example:

    ```python
    from llmguide.scaling import chinchilla_loss

    print(f"{chinchilla_loss(70e9, 1.4e12, fit='hoffmann-2022'):.3f}")
    #> 1.937
    ```
    """
    f = get_fit(fit)
    n = _positive("n_params", n_params)
    d = _positive("n_tokens", n_tokens)
    return f.E + f.A / n**f.alpha + f.B / d**f.beta


# --------------------------------------------------------------------------------------------------------------
# Compute-optimal allocation
# --------------------------------------------------------------------------------------------------------------


def _check_method(method: object) -> str:
    check_instance("method", method, str, "a string")
    if method not in METHODS:
        raise parameter_error(
            ValueError, f"unknown method {method!r}; valid methods: {', '.join(METHODS)}", "method"
        )
    return method


def compute_optimal(compute_flops: float, *, method: str = "besiroglu-2024") -> tuple[float, float]:
    """The model size and token count that minimise the loss for a budget of `compute_flops`, with `C = 6ND`.

    - `"rule-of-20"`: `D = 20 N`, so `N = sqrt(C / 120)`.
    - a fit name: minimise `E + A / N**alpha + B / D**beta` subject to `6 N D = C`. Substituting
      `D = C / (6N)` and setting the derivative to zero gives `alpha A / N**alpha = beta B / D**beta`, whose
      solution is `N_opt = G (C/6)**a`, `D_opt = (C/6) / N_opt` with `a = beta / (alpha + beta)` and
      `G = (alpha A / (beta B)) ** (1 / (alpha + beta))` (Hoffmann et al. 2022, Eq. 4).

    Args:
        compute_flops: the training budget `C` in FLOPs (> 0).
        method: one of `METHODS`: `"rule-of-20"`, `"hoffmann-2022"`, `"hoffmann-2022-unrounded"`,
            `"besiroglu-2024"` (default).

    Returns:
        `(n_params, n_tokens)`, with `6 * n_params * n_tokens == compute_flops`.

    Raises:
        TypeError, ValueError: a bad budget or an unknown method (the message lists the valid ones).

    For example:

    ```python
    from llmguide.scaling import compute_optimal

    n, d = compute_optimal(1e21, method="rule-of-20")
    print(f"{n:.3g} parameters, {d:.3g} tokens")
    #> 2.89e+09 parameters, 5.77e+10 tokens
    ```
    """
    c = _positive_scalar("compute_flops", compute_flops)
    method = _check_method(method)
    if method == RULE:
        n = math.sqrt(c / (6.0 * CHINCHILLA_TOKENS_PER_PARAM))
    else:
        f = FITS[method]
        n = f.G * (c / 6.0) ** f.params_exponent
    return n, c / (6.0 * n)


def compute_optimal_tokens(n_params: float, *, method: str = "besiroglu-2024") -> float:
    """The training tokens that make a model of `n_params` parameters compute-optimal.

    The inverse of `compute_optimal`: find the budget `C` whose optimal size is `n_params`, and return its
    `D = C / (6 N)`. For the rule that is simply `20 N`; for a fit, `C / 6 = (N / G) ** (1 / a)`.

    Args:
        n_params: model size `N` (> 0).
        method: one of `METHODS`.

    Returns:
        Number of training tokens `D`; the budget is `6 * n_params * D` FLOPs.

    Raises:
        TypeError, ValueError: a bad size or an unknown method; ValueError also when `n_params` is so large
            that the token count overflows a float.

    For example:

    ```python
    from llmguide.scaling import compute_optimal_tokens

    print(f"{compute_optimal_tokens(7e9, method='rule-of-20'):.3g} tokens")
    #> 1.4e+11 tokens
    ```
    """
    n = _positive_scalar("n_params", n_params)
    method = _check_method(method)
    what = "the compute-optimal token count"
    if method == RULE:
        return _finite("n_params", what, lambda: CHINCHILLA_TOKENS_PER_PARAM * n)
    f = FITS[method]
    return _finite("n_params", what, lambda: (n / f.G) ** (1.0 / f.params_exponent) / n)


def scale_allocation(
    compute_flops: float, *, reference_flops: float, reference_params: float, params_exponent: float
) -> tuple[float, float]:
    """Extrapolate a known allocation to another budget with a power law `N ∝ C**params_exponent`.

    Used to compare exponents without trusting anyone's prefactor: start from one allocation everybody
    accepts and see where each exponent takes you. Kaplan et al. 2020 use `0.73`
    (`KAPLAN_2020_PARAMS_EXPONENT`), the Chinchilla fits about 0.45 to 0.51 (`Fit.params_exponent`).

    Args:
        compute_flops: the new budget `C` in FLOPs (> 0).
        reference_flops: the budget of the known allocation (> 0).
        reference_params: the model size at `reference_flops` (> 0).
        params_exponent: the exponent, in (0, 1).

    Returns:
        `(n_params, n_tokens)` at `compute_flops`, tokens from `C = 6ND`.

    Raises:
        TypeError, ValueError: a non-positive input or an exponent outside (0, 1); ValueError also when the
            extrapolated size overflows a float.

    For example:

    ```python
    from llmguide.scaling import scale_allocation

    # 100x the compute with Kaplan's exponent: 100**0.73 = 28.8x the parameters
    n, d = scale_allocation(1e23, reference_flops=1e21, reference_params=1e9, params_exponent=0.73)
    print(f"{n:.3g} parameters")
    #> 2.88e+10 parameters
    ```
    """
    c = _positive_scalar("compute_flops", compute_flops)
    c0 = _positive_scalar("reference_flops", reference_flops)
    n0 = _positive_scalar("reference_params", reference_params)
    a = check_real("params_exponent", params_exponent, minimum=0, maximum=1, min_open=True, max_open=True)
    n = _finite("compute_flops / reference_flops", "the extrapolated size", lambda: n0 * (c / c0) ** a)
    return n, c / (6.0 * n)


# --------------------------------------------------------------------------------------------------------------
# The paper's Table 3
# --------------------------------------------------------------------------------------------------------------


class Table3Row(NamedTuple):
    """One row of Hoffmann et al. 2022, Table 3: a model size and its compute-optimal budget and tokens."""

    n_params: float
    flops: float
    n_tokens: float


HOFFMANN_2022_TABLE_3: tuple[Table3Row, ...] = (
    # Hoffmann et al. 2022, arXiv:2203.15556, Table 3 ("Estimated optimal training FLOPs and training tokens for
    # various model sizes", from Approach 1). Parameters, FLOPs, tokens, as printed.
    Table3Row(400e6, 1.92e19, 8.0e9),
    Table3Row(1e9, 1.21e20, 20.2e9),
    Table3Row(10e9, 1.23e22, 205.1e9),
    Table3Row(67e9, 5.76e23, 1.5e12),
    Table3Row(175e9, 3.85e24, 3.7e12),
    Table3Row(280e9, 9.90e24, 5.9e12),
    Table3Row(520e9, 3.43e25, 11.0e12),
    Table3Row(1e12, 1.27e26, 21.2e12),
    Table3Row(10e12, 1.30e28, 216.2e12),
)
"""Hoffmann et al. 2022 (arXiv:2203.15556), Table 3: compute-optimal FLOPs and tokens by model size."""


# --------------------------------------------------------------------------------------------------------------
# Hardware budgets
# --------------------------------------------------------------------------------------------------------------

GPU_PEAK_FLOPS: dict[str, float] = {
    # Dense (no structured sparsity) 16-bit tensor-core peaks, FLOP/s, from the vendors' datasheets.
    "h100": 989e12,  # NVIDIA H100 SXM5, BF16 dense (datasheet: 1,979 TFLOPS with sparsity)
    "h100-pcie": 756e12,  # NVIDIA H100 PCIe, BF16 dense (1,513 TFLOPS with sparsity)
    "h200": 989e12,  # NVIDIA H200 SXM, BF16 dense: same compute as H100 SXM, more and faster memory
    "a100": 312e12,  # NVIDIA A100 (SXM and PCIe), BF16 dense
    "a10": 125e12,  # NVIDIA A10, BF16 dense (250 TFLOPS with sparsity)
    "l4": 121e12,  # NVIDIA L4, BF16 dense (242 TFLOPS with sparsity)
    "v100": 125e12,  # NVIDIA V100 SXM2, FP16 tensor core (no BF16 on Volta)
    "rtx4090": 165.2e12,  # GeForce RTX 4090, FP16/BF16 with FP32 accumulate, dense (Ada whitepaper)
    "tpu-v4": 275e12,  # Google Cloud TPU v4 chip, BF16
}
"""Peak dense 16-bit FLOP/s per accelerator, by lowercase name (sources in the code)."""


def peak_flops(gpu: str | float) -> float:
    """Peak FLOP/s of one accelerator: a name from `GPU_PEAK_FLOPS`, or the number itself.

    Args:
        gpu: a name such as `"h100"` (case-insensitive), or a peak in FLOP/s (> 0).

    Returns:
        Peak FLOP/s per device.

    Raises:
        TypeError: `gpu` is neither a name nor a number.
        ValueError: unknown name (the message lists the known ones) or a non-positive number.

    For example:

    ```python
    from llmguide.scaling import peak_flops

    print(f"{peak_flops('A100'):.3g} FLOP/s, {peak_flops(500e12):.3g} FLOP/s")
    #> 3.12e+14 FLOP/s, 5e+14 FLOP/s
    ```
    """
    if isinstance(gpu, str):
        key = gpu.strip().lower()
        if key not in GPU_PEAK_FLOPS:
            raise parameter_error(
                ValueError,
                f"unknown gpu {gpu!r}; known: {', '.join(GPU_PEAK_FLOPS)} (or give the peak FLOP/s as a number)",
                "gpu",
            )
        return GPU_PEAK_FLOPS[key]
    if isinstance(gpu, bool) or not isinstance(gpu, Real):
        raise parameter_error(
            TypeError, f"gpu must be a name or a peak FLOP/s number, got {type(gpu).__name__}", "gpu"
        )
    return _positive_scalar("gpu (peak FLOP/s)", gpu)


def _check_utilisation(utilisation: object) -> float:
    try:
        return check_real("utilisation", utilisation, minimum=0, maximum=1, min_open=True)
    except ValueError:
        raise parameter_error(
            ValueError,
            f"utilisation must be in (0, 1] (a fraction of peak, e.g. 0.4), got {utilisation!r}",
            "utilisation",
        ) from None


def compute_budget(*, gpus: int, hours: float, gpu: str | float, utilisation: float) -> float:
    """Training FLOPs (`6 N D`) that `gpus` accelerators deliver in `hours` at a 6ND utilisation `utilisation`.

    `C = gpus * hours * 3600 * peak * utilisation`. The 6ND utilisation is the fraction of the peak that the
    `6 N D` count accounts for. It is not quite MFU: model FLOPs utilisation as PaLM defines it (Chowdhery et
    al. 2022, appendix B) counts `6 N + 12 L H Q T` FLOPs per token, the attention's matrix products included,
    so for the same run MFU reads higher by that term's share (`training_flops_with_attention`): 15% at GPT-2
    small's shape and context, about 4% for Chinchilla 70B. Well-tuned large runs reach an MFU of 0.35 to 0.5.

    Args:
        gpus: number of accelerators (>= 1).
        hours: wall-clock training time in hours (> 0).
        gpu: accelerator name from `GPU_PEAK_FLOPS`, or its peak FLOP/s.
        utilisation: the 6ND utilisation, in (0, 1].

    Returns:
        The budget in FLOPs.

    Raises:
        TypeError, ValueError: an input of the wrong type or out of range, an unknown GPU name; ValueError
            also when the result overflows a float.

    For example:

    ```python
    from llmguide.scaling import compute_budget

    print(f"{compute_budget(gpus=8, hours=24, gpu='h100', utilisation=0.4):.3e} FLOPs")
    #> 2.734e+20 FLOPs
    ```
    """
    n = _positive_int("gpus", gpus)
    h = _positive_scalar("hours", hours)
    peak, share = peak_flops(gpu), _check_utilisation(utilisation)
    return _finite("gpus or hours", "the budget", lambda: float(n) * h * 3600.0 * peak * share)


def training_hours(
    n_params: float, n_tokens: float, *, gpus: int, gpu: str | float, utilisation: float
) -> float:
    """Wall-clock hours to train `n_params` parameters on `n_tokens` tokens (`6 N D` FLOPs).

    The inverse of `compute_budget`: `hours = 6 N D / (gpus * peak * utilisation * 3600)`, with the 6ND
    utilisation (see `compute_budget` for how it differs from MFU).

    Args:
        n_params: model size `N` (> 0).
        n_tokens: training tokens `D` (> 0).
        gpus: number of accelerators (>= 1).
        gpu: accelerator name from `GPU_PEAK_FLOPS`, or its peak FLOP/s.
        utilisation: the 6ND utilisation, in (0, 1].

    Returns:
        Hours of training.

    Raises:
        TypeError, ValueError: an input of the wrong type or out of range, an unknown GPU name; ValueError
            also when the result overflows a float.

    For example:

    ```python
    from llmguide.scaling import training_hours

    # A 7B model on 140B tokens on 8 H100s at a 6ND utilisation of 40%
    print(f"{training_hours(7e9, 140e9, gpus=8, gpu='h100', utilisation=0.4):.0f} hours")
    #> 516 hours
    ```
    """
    c = training_flops(_positive_scalar("n_params", n_params), _positive_scalar("n_tokens", n_tokens))
    n = _positive_int("gpus", gpus)
    peak, share = peak_flops(gpu), _check_utilisation(utilisation)
    # a huge gpus (beyond a float's range) would raise OverflowError in float(n): treat it as infinitely fast
    return _finite("gpus", "the hours", lambda: c / (float(n) * peak * share * 3600.0))


def method_label(method: str) -> str:
    """Short printable name of a method (`"rule-of-20"` -> `"20 tokens/param"`).

    Args:
        method: one of `METHODS`.

    Returns:
        The label tables print.

    Raises:
        ValueError: unknown method.

    For example:

    ```python
    from llmguide.scaling import method_label

    print(method_label("hoffmann-2022"))
    #> Hoffmann 2022 rounded
    ```
    """
    return _LABELS[_check_method(method)]
