"""Measure a language model: loss in comparable units, multiple-choice scores, their noise, and calibration.

- **Units.** A loss in nats per token depends on the tokenizer. `bits_per_byte` divides the text's total
  loss by its size in bytes (and by ln 2), which any two models of the same text share; `perplexity` and
  `loss_from_perplexity` convert to and from perplexity per token or per word, and
  `loss_from_bits_per_byte` goes back to nats per token.
- **Held-out loss.** `heldout_loss` scores every token of a text once, in non-overlapping windows of the
  model's context, batched and without gradients.
- **Multiple choice.** `continuation_logprobs` gives the summed log-probability of each continuation given
  its context, in one batched pass, as evaluation harnesses ask a model for it; `choose` picks a choice per
  item from those sums, raw (lm-evaluation-harness's `acc`) or divided by each choice's length in tokens or
  bytes (its `acc_norm` divides by the length in characters, which is the byte count of ASCII text).
- **Noise.** `bootstrap_interval` gives a percentile bootstrap interval for the mean of any per-item score;
  `paired_difference` compares two models on the same items by resampling the items once for both.
- **Calibration.** `calibration_bins` groups predictions by confidence (the bins of a reliability diagram),
  and `expected_calibration_error` averages the gap between confidence and accuracy over them.
- **Contamination.** `ngram_overlap` gives, for each item, the share of its n-grams that occur in a
  reference text, such as the training data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from llmguide.model import IGNORE_INDEX, eval_logits
from llmguide.validate import check_instance, check_int, check_real

__all__ = [
    "CalibrationBins",
    "PairedDifference",
    "bits_per_byte",
    "bootstrap_interval",
    "calibration_bins",
    "choose",
    "continuation_logprobs",
    "expected_calibration_error",
    "heldout_loss",
    "loss_from_bits_per_byte",
    "loss_from_perplexity",
    "ngram_overlap",
    "paired_difference",
    "perplexity",
]


def bits_per_byte(loss: float, tokens: int, n_bytes: int) -> float:
    """Return the loss of a text in bits per byte: `loss * tokens / (n_bytes * ln 2)`.

    `loss * tokens` is the text's total loss in nats, the same whatever the tokenizer cuts it into; dividing
    by its size in bytes, and by ln 2 to turn nats into bits, gives a number that models with different
    tokenizers share.

    For example, 3 nats per token over 100 tokens that spell 400 bytes:

    ```python
    from llmguide.evaluate import bits_per_byte

    print(f"{bits_per_byte(3.0, tokens=100, n_bytes=400):.4f}")
    #> 1.0820
    ```

    Args:
        loss: mean loss in nats per token, `>= 0`.
        tokens: number of tokens the loss was averaged over, `>= 1`.
        n_bytes: size of the same text in bytes (UTF-8), `>= 1`.

    Returns:
        Bits per byte.

    Raises:
        TypeError: `loss` is not a real number, or `tokens` or `n_bytes` not an integer.
        ValueError: `loss` negative or not finite, `tokens` or `n_bytes` below 1.
    """
    loss = check_real("loss", loss, minimum=0)
    tokens = check_int("tokens", tokens, minimum=1)
    n_bytes = check_int("n_bytes", n_bytes, minimum=1)
    return loss * tokens / (n_bytes * math.log(2))


def loss_from_bits_per_byte(bpb: float, tokens: int, n_bytes: int) -> float:
    """Return the loss in nats per token that `bpb` bits per byte means for a text of `tokens` tokens.

    The inverse of `bits_per_byte`:

    ```python
    from llmguide.evaluate import loss_from_bits_per_byte

    print(f"{loss_from_bits_per_byte(1.0820, tokens=100, n_bytes=400):.3f}")
    #> 3.000
    ```

    Args:
        bpb: bits per byte, `>= 0`.
        tokens: number of tokens in the text, `>= 1`.
        n_bytes: size of the text in bytes, `>= 1`.

    Returns:
        Nats per token.

    Raises:
        TypeError: `bpb` is not a real number, or `tokens` or `n_bytes` not an integer.
        ValueError: `bpb` negative or not finite, `tokens` or `n_bytes` below 1.
    """
    bpb = check_real("bpb", bpb, minimum=0)
    tokens = check_int("tokens", tokens, minimum=1)
    n_bytes = check_int("n_bytes", n_bytes, minimum=1)
    return bpb * n_bytes * math.log(2) / tokens


def _per_unit(tokens: int | None, words: int | None) -> float:
    """Tokens per word (1 when `words` is None): what turns a loss per token into one per word."""
    if words is None:
        if tokens is not None:
            check_int("tokens", tokens, minimum=1)
        return 1.0
    if tokens is None:
        raise ValueError("tokens must be given with words: a loss per word needs the tokens per word")
    return check_int("tokens", tokens, minimum=1) / check_int("words", words, minimum=1)


def perplexity(loss: float, *, tokens: int | None = None, words: int | None = None) -> float:
    """Return the perplexity per token, `exp(loss)`, or per word, `exp(loss * tokens / words)`.

    Perplexity is the number of equally likely choices that would give the same loss: a model that spreads
    its probability evenly over `k` tokens has a loss of `ln k` and a perplexity of `k`. Per word, the
    text's total loss is spread over its words instead of its tokens.

    ```python
    import math

    from llmguide.evaluate import perplexity

    print(f"{perplexity(math.log(50)):.1f}")
    #> 50.0
    print(f"{perplexity(2.0, tokens=130, words=100):.2f}")  # exp(2.6)
    #> 13.46
    ```

    Args:
        loss: mean loss in nats per token, `>= 0`.
        tokens: number of tokens in the text; needed with `words`.
        words: number of words in the text, for the perplexity per word; None for per token.

    Returns:
        The perplexity, `>= 1`.

    Raises:
        TypeError: `loss` is not a real number, or `tokens` or `words` not an integer.
        ValueError: `loss` negative or not finite, `tokens` or `words` below 1, `words` without `tokens`, or
            a perplexity too large for a float.
    """
    loss = check_real("loss", loss, minimum=0)
    exponent = loss * _per_unit(tokens, words)
    if exponent > 709.0:  # exp overflows a float beyond about 709.78
        raise ValueError(f"loss is too large: the perplexity exp({exponent:g}) overflows a float")
    return math.exp(exponent)


def loss_from_perplexity(ppl: float, *, tokens: int | None = None, words: int | None = None) -> float:
    """Return the loss in nats per token from a perplexity per token, or per word with `tokens` and `words`.

    The inverse of `perplexity`:

    ```python
    from llmguide.evaluate import loss_from_perplexity

    print(f"{loss_from_perplexity(13.4637, tokens=130, words=100):.3f}")
    #> 2.000
    ```

    Args:
        ppl: the perplexity, `>= 1`.
        tokens: number of tokens in the text; needed with `words`.
        words: number of words, when `ppl` is per word; None when it is per token.

    Returns:
        Nats per token.

    Raises:
        TypeError: `ppl` is not a real number, or `tokens` or `words` not an integer.
        ValueError: `ppl` below 1 or not finite, `tokens` or `words` below 1, or `words` without `tokens`.
    """
    ppl = check_real("ppl", ppl, minimum=1)
    return math.log(ppl) / _per_unit(tokens, words)


def _context_length(model: torch.nn.Module, block_size: int | None) -> int:
    """The model's context: `block_size` if given, else `model.config.block_size`."""
    if block_size is not None:
        return check_int("block_size", block_size, minimum=1)
    context = getattr(getattr(model, "config", None), "block_size", None)
    if context is None:
        raise ValueError("block_size must be given for a model without config.block_size")
    return int(context)


def _check_tokens(name: str, tokens: object) -> torch.Tensor:
    """A 1-D integer tensor, or a sequence of ints, as an int64 tensor."""
    if isinstance(tokens, torch.Tensor):
        if tokens.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
            raise TypeError(f"{name} must hold integer token ids, got a tensor of dtype {tokens.dtype}")
        if tokens.dim() != 1:
            raise ValueError(f"{name} must be 1-D, got shape {tuple(tokens.shape)}")
        return tokens.long().cpu()
    if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Sequence):
        raise TypeError(
            f"{name} must be a 1-D tensor or a sequence of token ids, got {type(tokens).__name__}"
        )
    for i, t in enumerate(tokens):
        check_int(f"{name}[{i}]", t, minimum=0)
    return torch.tensor(list(tokens), dtype=torch.long)


def heldout_loss(
    model: torch.nn.Module,
    tokens: torch.Tensor | Sequence[int],
    *,
    block_size: int | None = None,
    batch_size: int = 64,
) -> float:
    """Return the model's mean loss on a text, in nats per token: every token after the first scored once.

    The text is cut into consecutive, non-overlapping windows of `block_size + 1` tokens that share their
    edge token, so each window predicts `block_size` tokens and every token from the second on is predicted
    exactly once (the last window may be shorter). A token near the start of a window sees a short context,
    so this is slightly pessimistic next to a sliding window; it costs one forward pass per
    `block_size` tokens. The windows go through the model `batch_size` at a time, in eval mode and without
    gradients.

    For example, a model that has learned nothing (all logits equal) pays `ln 256` per byte:

    ```python
    import math

    import torch
    from llmguide.evaluate import heldout_loss
    from llmguide.model import GPT, GPTConfig

    model = GPT(GPTConfig(block_size=16, n_layer=1, n_head=1, n_embd=8))
    torch.nn.init.zeros_(model.lm_head.weight)  # every logit 0
    print(f"{heldout_loss(model, list(b'hello, world')):.4f} = ln 256 = {math.log(256):.4f}")
    #> 5.5452 = ln 256 = 5.5452
    ```

    Args:
        model: a module whose `forward(idx)` returns `(logits, ...)` with logits of shape `(B, T, vocab)`,
            such as `llmguide.model.GPT`; run in eval mode and put back in its mode.
        tokens: the text's token ids, a 1-D integer tensor or a sequence of ints, at least 2 of them.
        block_size: tokens per window; default `model.config.block_size`.
        batch_size: windows per forward pass, `>= 1`.

    Returns:
        Mean loss over the `len(tokens) - 1` predicted tokens, in nats per token.

    Raises:
        TypeError: `model` is not a `torch.nn.Module`, `tokens` not integer ids, or a size not an integer.
        ValueError: fewer than 2 tokens, `block_size` or `batch_size` below 1, or no `block_size` for a model
            without `config.block_size`.
    """
    check_instance("model", model, torch.nn.Module, "a torch.nn.Module")
    ids = _check_tokens("tokens", tokens)
    if ids.numel() < 2:
        raise ValueError(f"tokens must hold at least 2 token ids to predict one, got {ids.numel()}")
    T = _context_length(model, block_size)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    n_windows = math.ceil((ids.numel() - 1) / T)
    x = torch.zeros(n_windows, T, dtype=torch.long)
    y = torch.full((n_windows, T), IGNORE_INDEX, dtype=torch.long)
    for w in range(n_windows):
        chunk = ids[w * T : w * T + T + 1]
        x[w, : chunk.numel() - 1] = chunk[:-1]
        y[w, : chunk.numel() - 1] = chunk[1:]
    total = 0.0
    for start in range(0, n_windows, batch_size):
        logits = eval_logits(model, x[start : start + batch_size]).float()
        targets = y[start : start + batch_size].to(logits.device)
        total += float(
            F.cross_entropy(
                logits.reshape(-1, logits.size(-1)),
                targets.reshape(-1),
                ignore_index=IGNORE_INDEX,
                reduction="sum",
            )
        )
    return total / (ids.numel() - 1)


def continuation_logprobs(
    model: torch.nn.Module,
    contexts: Sequence[Sequence[int]],
    continuations: Sequence[Sequence[int]],
    *,
    block_size: int | None = None,
    batch_size: int = 256,
) -> torch.Tensor:
    """Return `log P(continuation | context)` for each pair: the sum of its tokens' log-probabilities.

    This is the request an evaluation harness makes of a model for a multiple-choice item (lm-evaluation-
    harness's `loglikelihood`): the context followed by one choice is run through the model, and the
    log-probabilities of the choice's tokens, each given everything before it, are added up. When context and
    continuation together are longer than the model's context, the context is cut from the left. The pairs
    are right-padded and run `batch_size` at a time, in eval mode and without gradients.

    For example, with a model whose logits are all equal, every byte costs `ln 256`:

    ```python
    import torch
    from llmguide.evaluate import continuation_logprobs
    from llmguide.model import GPT, GPTConfig

    model = GPT(GPTConfig(block_size=16, n_layer=1, n_head=1, n_embd=8))
    torch.nn.init.zeros_(model.lm_head.weight)
    lp = continuation_logprobs(model, [list(b"The "), list(b"The ")], [list(b"cat"), list(b"horse")])
    print([round(v / 5.5452, 3) for v in lp.tolist()])  # -3 and -5 bytes' worth of ln 256
    #> [-3.0, -5.0]
    ```

    Args:
        model: a module whose `forward(idx)` returns `(logits, ...)`, e.g. `llmguide.model.GPT`.
        contexts: one sequence of token ids per pair, at least one id each.
        continuations: one sequence of token ids per pair, at least one id each, fewer than `block_size`.
        block_size: the model's context; default `model.config.block_size`.
        batch_size: pairs per forward pass, `>= 1`.

    Returns:
        Shape `(len(contexts),)`, float64, in nats (each entry `<= 0`), on the CPU.

    Raises:
        TypeError: `model` is not a `torch.nn.Module`, or the ids are not sequences of integers.
        ValueError: no pairs, different numbers of contexts and continuations, an empty context or
            continuation, a continuation of `block_size` tokens or more, or no `block_size` for a model
            without `config.block_size`.
    """
    check_instance("model", model, torch.nn.Module, "a torch.nn.Module")
    for name, seqs in (("contexts", contexts), ("continuations", continuations)):
        if isinstance(seqs, (str, bytes)) or not isinstance(seqs, Sequence):
            raise TypeError(f"{name} must be a sequence of token-id sequences, got {type(seqs).__name__}")
    if len(contexts) == 0 or len(contexts) != len(continuations):
        raise ValueError(
            f"contexts and continuations must be non-empty and of the same length, got {len(contexts)} "
            f"and {len(continuations)}"
        )
    T = _context_length(model, block_size)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    rows = []
    for i, (ctx, cont) in enumerate(zip(contexts, continuations, strict=True)):
        c, k = _check_tokens(f"contexts[{i}]", ctx), _check_tokens(f"continuations[{i}]", cont)
        if c.numel() == 0 or k.numel() == 0:
            raise ValueError(f"pair {i} has an empty context or continuation: each needs at least one token")
        if k.numel() >= T:
            raise ValueError(
                f"continuations[{i}] is {k.numel()} tokens long: it must be shorter than block_size={T}"
            )
        rows.append((torch.cat([c, k])[-(T + 1) :], k.numel()))
    out = torch.empty(len(rows), dtype=torch.float64)
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        width = max(seq.numel() - 1 for seq, _ in chunk)
        x = torch.zeros(len(chunk), width, dtype=torch.long)
        y = torch.full((len(chunk), width), IGNORE_INDEX, dtype=torch.long)
        for r, (seq, n) in enumerate(chunk):
            length = seq.numel() - 1
            x[r, :length] = seq[:-1]
            y[r, length - n : length] = seq[-n:]  # only the continuation's tokens are scored
        scored = y != IGNORE_INDEX  # the softmax is taken only where a continuation token is scored
        logits = eval_logits(model, x).cpu()[scored].double()
        picked = torch.log_softmax(logits, dim=-1).gather(1, y[scored].unsqueeze(1)).squeeze(1)
        row = torch.arange(len(chunk)).unsqueeze(1).expand_as(y)[scored]
        out[start : start + len(chunk)] = torch.zeros(len(chunk), dtype=torch.float64).index_add_(
            0, row, picked
        )
    return out


def _as_array(name: str, values: object, *, dim: int = 1) -> np.ndarray:
    """`values` (a sequence or tensor of numbers) as a float64 array of `dim` axes, non-empty and finite."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must hold numbers, got {type(values).__name__}")
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a sequence or tensor of numbers, got {type(values).__name__}"
        ) from None
    if array.ndim != dim or array.size == 0:
        raise ValueError(f"{name} must be a non-empty {dim}-D array of numbers, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must hold finite numbers (no NaN or infinity)")
    return array


def choose(scores: torch.Tensor | Sequence[Sequence[float]], lengths: object = None) -> torch.Tensor:
    """Return each item's chosen choice: the argmax of its scores, or of its scores divided by `lengths`.

    With `scores` the summed log-probabilities of `continuation_logprobs`, arranged one row per item and one
    column per choice, `choose(scores)` is lm-evaluation-harness's `acc` rule; with `lengths` the choices'
    lengths in bytes (characters, for the harness) it is `acc_norm`; with their lengths in tokens it is the
    per-token average that GPT-3 used. Ties go to the first choice.

    ```python
    from llmguide.evaluate import choose

    scores = [[-6.0, -9.0]]  # a 2-byte choice and an 6-byte one
    print(choose(scores).tolist(), choose(scores, lengths=[[2, 6]]).tolist())
    #> [0] [1]
    ```

    Args:
        scores: shape `(items, choices)`, e.g. log-probabilities in nats.
        lengths: None, or positive numbers of the same shape to divide the scores by.

    Returns:
        Shape `(items,)`, int64: the index of the chosen choice per item.

    Raises:
        TypeError: `scores` or `lengths` does not hold numbers.
        ValueError: `scores` is not a non-empty 2-D array of finite numbers, or `lengths` has another shape
            or a value that is not positive.
    """
    s = _as_array("scores", scores, dim=2)
    if lengths is not None:
        n = _as_array("lengths", lengths, dim=2)
        if n.shape != s.shape:
            raise ValueError(f"lengths must have the shape of scores {s.shape}, got {n.shape}")
        if np.any(n <= 0):
            raise ValueError("lengths must all be positive")
        s = s / n
    return torch.from_numpy(np.argmax(s, axis=1).astype(np.int64))


def _resample_means(values: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """Means of `n_resamples` bootstrap resamples (items drawn with replacement) of each column of `values`."""
    rng = np.random.default_rng(seed)
    n = values.shape[0]
    means = np.empty((n_resamples, *values.shape[1:]))
    for start in range(0, n_resamples, 1000):  # in chunks, to bound the memory of the index array
        stop = min(n_resamples, start + 1000)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = values[idx].mean(axis=1)
    return means


def _check_interval_args(confidence: float, n_resamples: int, seed: int) -> None:
    check_real("confidence", confidence, minimum=0, maximum=1, min_open=True, max_open=True)
    check_int("n_resamples", n_resamples, minimum=100)
    check_int("seed", seed, minimum=0)


def bootstrap_interval(
    values: torch.Tensor | Sequence[float],
    *,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Return a percentile bootstrap confidence interval for the mean of per-item scores.

    The items are resampled with replacement `n_resamples` times; the interval runs from the
    `(1 - confidence) / 2` quantile of the resampled means to the `(1 + confidence) / 2` quantile. This is
    `scipy.stats.bootstrap(..., method="percentile")` for the mean (tested against it). For 0/1 scores
    (right or wrong) on `n` items it is close to `p ± 1.96 sqrt(p (1 - p) / n)` when `n` is large.

    ```python
    from llmguide.evaluate import bootstrap_interval

    right = [1] * 70 + [0] * 30  # 70 right of 100
    low, high = bootstrap_interval(right)
    print(f"accuracy 0.70, 95% interval [{low:.2f}, {high:.2f}]")
    #> accuracy 0.70, 95% interval [0.61, 0.78]
    ```

    Args:
        values: one score per item (1-D), e.g. 1.0 for right and 0.0 for wrong.
        confidence: the interval's level, in (0, 1).
        n_resamples: number of resamples, `>= 100`.
        seed: seeds the resampling (NumPy's `default_rng`).

    Returns:
        `(low, high)`.

    Raises:
        TypeError: `values` does not hold numbers, or a setting has the wrong kind.
        ValueError: `values` is empty, not 1-D or not finite, or a setting is out of range.
    """
    x = _as_array("values", values)
    _check_interval_args(confidence, n_resamples, seed)
    means = _resample_means(x, n_resamples, seed)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(low), float(high)


@dataclass(frozen=True)
class PairedDifference:
    """The mean difference of two models' per-item scores on the same items, with its bootstrap interval.

    Attributes:
        difference: mean of `a - b` over the items.
        low: lower end of the interval.
        high: upper end of the interval.
        wins: items where `a` scored higher than `b`.
        losses: items where `b` scored higher than `a`.
    """

    difference: float
    low: float
    high: float
    wins: int
    losses: int

    @property
    def significant(self) -> bool:
        """Whether the interval excludes 0: the difference is larger than the noise of the items drawn."""
        return self.low > 0 or self.high < 0


def paired_difference(
    a: torch.Tensor | Sequence[float],
    b: torch.Tensor | Sequence[float],
    *,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> PairedDifference:
    """Compare two models scored on the same items: the mean of `a - b` and a paired bootstrap interval.

    Each resample draws the items once and uses both models' scores on those items, so what the two models
    share (easy and hard items) cancels; the interval is that of the per-item differences. It is narrower
    than the two models' separate intervals would suggest whenever their scores go together.

    ```python
    from llmguide.evaluate import paired_difference

    a = [1] * 60 + [0] * 40
    b = [1] * 50 + [0] * 10 + [0] * 40  # b gets 10 of a's right answers wrong, never the reverse
    d = paired_difference(a, b)
    print(f"{d.difference:+.2f} [{d.low:+.2f}, {d.high:+.2f}], {d.wins} wins, {d.losses} losses")
    #> +0.10 [+0.05, +0.16], 10 wins, 0 losses
    ```

    Args:
        a: one score per item for the first model.
        b: the second model's scores on the same items, in the same order.
        confidence: the interval's level, in (0, 1).
        n_resamples: number of resamples, `>= 100`.
        seed: seeds the resampling.

    Returns:
        A `PairedDifference`.

    Raises:
        TypeError: `a` or `b` does not hold numbers, or a setting has the wrong kind.
        ValueError: `a` and `b` differ in length, are empty or not finite, or a setting is out of range.
    """
    x, y = _as_array("a", a), _as_array("b", b)
    if x.shape != y.shape:
        raise ValueError(f"a and b must score the same items: got {x.size} and {y.size} scores")
    low, high = bootstrap_interval(x - y, confidence=confidence, n_resamples=n_resamples, seed=seed)
    return PairedDifference(
        difference=float((x - y).mean()),
        low=low,
        high=high,
        wins=int((x > y).sum()),
        losses=int((x < y).sum()),
    )


@dataclass(frozen=True)
class CalibrationBins:
    """The bins of a reliability diagram: predictions grouped by confidence.

    Attributes:
        edges: the `n_bins + 1` bin edges, from 0 to 1; bin `m` holds confidences in `(edges[m], edges[m+1]]`
            (the first bin also holds 0).
        counts: predictions per bin, shape `(n_bins,)`.
        confidence: mean confidence in each bin (NaN for an empty bin).
        accuracy: share of right predictions in each bin (NaN for an empty bin).
    """

    edges: np.ndarray
    counts: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray


def calibration_bins(
    confidence: torch.Tensor | Sequence[float], correct: torch.Tensor | Sequence[float], *, n_bins: int = 10
) -> CalibrationBins:
    """Group predictions into `n_bins` equal-width bins of confidence, with each bin's accuracy.

    The bins are those of Guo et al. (2017): bin `m` holds the confidences in `((m - 1) / M, m / M]`.
    scikit-learn's `calibration_curve(correct, confidence, n_bins=M)` returns the non-empty bins' accuracy
    and mean confidence (tested against it).

    ```python
    from llmguide.evaluate import calibration_bins

    bins = calibration_bins([0.9, 0.9, 0.6, 0.6], [1, 0, 1, 1], n_bins=2)
    print(bins.counts.tolist(), bins.confidence.tolist(), bins.accuracy.tolist())
    #> [0, 4] [nan, 0.75] [nan, 0.75]
    ```

    Args:
        confidence: the probability each prediction was given, in [0, 1].
        correct: 1 (or True) where the prediction was right, 0 where wrong; same length.
        n_bins: number of bins, `>= 1`.

    Returns:
        A `CalibrationBins`.

    Raises:
        TypeError: an argument does not hold numbers, or `n_bins` is not an integer.
        ValueError: empty or different lengths, a confidence outside [0, 1], a `correct` other than 0 or 1,
            or `n_bins < 1`.
    """
    p, c = _as_array("confidence", confidence), _as_array("correct", correct)
    if p.shape != c.shape:
        raise ValueError(f"confidence and correct must have the same length, got {p.size} and {c.size}")
    if np.any((p < 0) | (p > 1)):
        raise ValueError("confidence must lie in [0, 1]")
    if np.any((c != 0) & (c != 1)):
        raise ValueError("correct must hold only 0 and 1 (or False and True)")
    n_bins = check_int("n_bins", n_bins, minimum=1)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.searchsorted(edges[1:-1], p, side="left")  # (edge_m, edge_m+1]; 0 in the first bin
    counts = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(which, weights=p, minlength=n_bins) / counts
        acc = np.bincount(which, weights=c, minlength=n_bins) / counts
    return CalibrationBins(edges=edges, counts=counts, confidence=conf, accuracy=acc)


def expected_calibration_error(
    confidence: torch.Tensor | Sequence[float], correct: torch.Tensor | Sequence[float], *, n_bins: int = 10
) -> float:
    """Return the expected calibration error: the bins' |accuracy - confidence|, weighted by their share.

    `ECE = sum over bins of (n_m / n) |acc_m - conf_m|`, with the bins of `calibration_bins` (Guo et al. 2017,
    equation 3). 0 for a calibrated model: among the predictions made with confidence 0.8, 80% are right.

    ```python
    from llmguide.evaluate import expected_calibration_error

    # confident (0.95) but right 3 times in 4, and unsure (0.55) but right 1 time in 2
    ece = expected_calibration_error([0.95] * 4 + [0.55] * 2, [1, 1, 1, 0, 1, 0], n_bins=10)
    print(f"{ece:.4f}")  # (4 * 0.2 + 2 * 0.05) / 6
    #> 0.1500
    ```

    Args:
        confidence: the probability each prediction was given, in [0, 1].
        correct: 1 where the prediction was right, 0 where wrong.
        n_bins: number of equal-width bins, `>= 1`.

    Returns:
        The ECE, in [0, 1].

    Raises:
        TypeError, ValueError: as `calibration_bins`.
    """
    bins = calibration_bins(confidence, correct, n_bins=n_bins)
    full = bins.counts > 0
    gaps = np.abs(bins.accuracy[full] - bins.confidence[full])
    return float((bins.counts[full] * gaps).sum() / bins.counts.sum())


def ngram_overlap(
    items: Sequence[Sequence[int]], reference: Sequence[int] | torch.Tensor, *, n: int
) -> list[float]:
    """Return, for each item, the share of its n-grams (runs of `n` tokens) that occur in `reference`.

    A contamination check of the kind GPT-3's authors ran (13-grams of words): an item whose n-grams all
    occur in the training text was very likely in it; one with none was not. An item shorter than `n` has no
    n-grams and scores 0.

    ```python
    from llmguide.evaluate import ngram_overlap

    train = list(b"the ferry crossed the river at noon")
    print(ngram_overlap([list(b"crossed the river"), list(b"rowed the lake")], train, n=8))
    #> [1.0, 0.0]
    ```

    Args:
        items: token ids of each item.
        reference: token ids of the text to look in, e.g. the training data.
        n: n-gram length in tokens, `>= 1`.

    Returns:
        One share in [0, 1] per item.

    Raises:
        TypeError: the ids are not integers, or `n` is not an integer.
        ValueError: `n < 1`.
    """
    n = check_int("n", n, minimum=1)
    ref = _check_tokens("reference", reference).tolist()
    seen = {tuple(ref[i : i + n]) for i in range(len(ref) - n + 1)}
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise TypeError(f"items must be a sequence of token-id sequences, got {type(items).__name__}")
    shares = []
    for i, item in enumerate(items):
        ids = _check_tokens(f"items[{i}]", item).tolist()
        grams = [tuple(ids[j : j + n]) for j in range(len(ids) - n + 1)]
        shares.append(sum(g in seen for g in grams) / len(grams) if grams else 0.0)
    return shares
