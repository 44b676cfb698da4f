"""Generation: the loop that turns a model and a prompt into new tokens, above `llmguide.model` and `sampling`.

Every way the guide generates runs the same loop, `decode_loop`:

1. The model sees at most its last `block_size` tokens (the *window*). The prompt's window is fed in one
   step (the *prefill*, `GPT.step` on an empty cache) and gives the first token's logits.
2. Each new token is drawn from the logits by a `draw` function (`llmguide.sampling.sample` with the
   options; speculative decoding in `llmguide.speculative` draws its own way).
3. Within the window, the new token is fed as one position after the cached ones (a *decode* step). Once
   the window is full it cannot slide: positions are learned and absolute, so cropping one token from the
   left moves every remaining token to a new position and changes all their keys and values. From then on
   each token refills the cache from the cropped window (another prefill), the same work as without a cache.
4. It stops after `max_new_tokens` tokens; the last one is never fed back.

The loop takes the cache (anything with `llmguide.model.Cache`'s interface, or None for no cache) and the
decode step as arguments. `generate` runs it with the plain `KVCache`; `llmguide.decode.generate_fast` runs it
with a static cache whose step is one CUDA graph replay. Both check their arguments with `check_generate_args`,
once, before the first token, so that the same mistake gives the same error on either path.

For example:

```python
import torch
from llmguide.generation import generate
from llmguide.model import GPT, GPTConfig

torch.manual_seed(0)
model = GPT(GPTConfig(block_size=16, n_layer=2, n_head=2, n_embd=32))
prompt = torch.tensor([list(b"ab")])
out = generate(model, prompt, 5, temperature=0)  # greedy
print(tuple(out.shape))
#> (1, 7)
print(torch.equal(out, generate(model, prompt, 5, temperature=0, use_cache=False)))
#> True
```
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from llmguide.model import GPT, Cache, KVCache
from llmguide.sampling import SamplingOptions, check_generator
from llmguide.validate import check_bool, check_instance, check_int, check_token_ids

__all__ = ["check_generate_args", "decode_loop", "generate", "sampler"]


def check_generate_args(
    model: GPT,
    idx: torch.Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
    generator: torch.Generator | None = None,
) -> SamplingOptions:
    """The checks every generation path makes, before the first token (even when `max_new_tokens` is 0).

    The sampling options come back as one checked `SamplingOptions`, which the loop draws with at every
    step (`sampler`): they are checked once per call, not once per token.

    For example, the same mistake is the same error on every path:

    ```python
    import torch
    from llmguide.generation import check_generate_args
    from llmguide.model import GPT, GPTConfig

    model = GPT(GPTConfig(block_size=8, n_layer=1, n_head=1, n_embd=8))
    try:
        check_generate_args(model, torch.tensor([[1, 2]]), 2.0)
    except TypeError as error:
        print(error)
    #> max_new_tokens must be an integer, got float 2.0
    ```

    Args:
        model: the GPT to sample from.
        idx: prompt token ids, an int64 or int32 tensor of shape `(B, T)`, `T >= 1` (any length: the model
            sees the last `block_size`), ids in `[0, vocab_size)`.
        max_new_tokens: number of tokens to add, `>= 0`.
        temperature: softmax temperature, `>= 0`; 0 means greedy.
        top_k: keep only the `top_k` most likely tokens.
        top_p: keep the smallest set of most likely tokens whose total probability is `>= top_p`.
        min_p: keep the tokens whose probability is `>= min_p` times the largest.
        generator: a `torch.Generator` on the model's device, or None.

    Returns:
        The sampling options, checked.

    Raises:
        TypeError: `model` is not a `GPT`; `idx` is not an int64 or int32 tensor; `max_new_tokens` is not an
            integer; a sampling argument has the wrong type.
        ValueError: `idx` is not 2-D, is empty or holds ids outside the vocabulary; `max_new_tokens < 0`; a
            sampling argument is out of range, or `generator` is on another device than the model.
    """
    check_instance("model", model, GPT, "a llmguide.model.GPT")
    check_token_ids("idx", idx, vocab_size=model.config.vocab_size)
    check_int("max_new_tokens", max_new_tokens, minimum=0)
    check_generator(generator, model.lm_head.weight.device)
    return SamplingOptions(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p)


def sampler(
    options: SamplingOptions, generator: torch.Generator | None = None
) -> Callable[[torch.Tensor], torch.Tensor]:
    """`options.draw` with `generator` fixed: `draw(logits) -> ids`, for `decode_loop`.

    Args:
        options: the checked sampling options (from `check_generate_args`).
        generator: a `torch.Generator` on the logits' device, or None.

    Returns:
        A function from logits `(B, vocab_size)` to token ids `(B,)`.
    """
    return functools.partial(options.draw, generator=generator)


def decode_loop(
    model: GPT,
    idx: torch.Tensor,
    max_new_tokens: int,
    draw: Callable[[torch.Tensor], torch.Tensor],
    cache: Cache | None,
    step: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """The one generation loop: window, prefill, decode steps, refills past `block_size`, stopping.

    The model is in eval mode meanwhile (and put back after); no gradients are recorded. The arguments are
    not checked here: call `check_generate_args` first.

    Args:
        model: the GPT.
        idx: prompt token ids `(B, T)`.
        max_new_tokens: number of tokens to add.
        draw: logits `(B, vocab_size)` to next ids `(B,)` (see `sampler`).
        cache: an empty-able `Cache` able to hold `min(block_size, T + max_new_tokens - 1)` positions, or None
            to run the whole window at every step.
        step: the decode step, `tokens (B, 1) -> logits`, feeding one position into `cache`; by default
            `model.step(tokens, cache)` (a CUDA graph of the same step is the fast path's).

    Returns:
        Token ids `(B, T + max_new_tokens)`, of `idx`'s dtype: the prompt, then the new tokens.
    """
    B, T = idx.shape
    block_size = model.config.block_size
    out = idx.new_empty(B, T + max_new_tokens)
    out[:, :T] = idx
    if max_new_tokens == 0:
        return out
    if step is None:
        step = functools.partial(_model_step, model, cache)
    window = min(T, block_size)
    was_training = model.training
    if was_training:  # eval() walks every module: only where needed
        model.eval()
    try:
        with torch.no_grad():
            logits = _prefill(model, cache, out[:, T - window : T])
            filled = window  # positions in the cache, counted in Python: nothing is read back
            for i in range(max_new_tokens):
                out[:, T + i] = draw(logits)
                if i == max_new_tokens - 1:
                    break
                end = T + i + 1  # the sequence so far is out[:, :end]
                if cache is not None and filled < block_size:  # one position of work
                    logits = step(out[:, end - 1 : end])
                    filled += 1
                else:  # no cache, or the window is full and slides: refill (see the module's docstring)
                    logits = _prefill(model, cache, out[:, max(0, end - block_size) : end])
    finally:
        if was_training:
            model.train()
    return out


def _model_step(model: GPT, cache: Cache | None, tokens: torch.Tensor) -> torch.Tensor:
    return model.step(tokens, cache)


def _prefill(model: GPT, cache: Cache | None, window: torch.Tensor) -> torch.Tensor:
    if cache is not None:
        cache.reset()
    return model.step(window, cache)


def generate(
    model: GPT,
    idx: torch.Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
) -> torch.Tensor:
    """Append `max_new_tokens` sampled tokens to each row of `idx` and return the longer ids.

    Each new token is drawn by `llmguide.sampling.sample` from the logits at the last position (with
    `temperature=0`: the most likely token). The model sees at most the last `block_size` tokens: a longer
    context is cropped from the left. The model is in eval mode while generating (no dropout) and is put
    back in its previous mode afterwards; no gradients are recorded.

    The KV cache (`use_cache=True`, a `llmguide.model.KVCache`) keeps every layer's keys and values, so each
    new token costs one position's work instead of a pass over the whole context, until the sequence
    outgrows `block_size` (then each step refills the cache from the cropped window; see the module's
    docstring). The tokens are the same with and without the cache (tested for greedy and seeded sampling,
    before and after `block_size`); the logits agree up to float rounding. That holds in float32. Under bf16
    or fp16 autocast the two paths round differently, and a long sampled continuation can part ways: on an
    H200, 16 rows sampled for 128 tokens did (benchmarks/RESULTS.md).

    See the module's docstring for an example.

    Args:
        model: the GPT to sample from.
        idx: prompt token ids, an integer tensor of shape `(B, T)`, `T >= 1`, ids in `[0, vocab_size)`.
        max_new_tokens: number of tokens to add, `>= 0`.
        temperature: softmax temperature, `>= 0`; 0 means greedy.
        top_k: keep only the `top_k` most likely tokens (and those tied with the k-th).
        top_p: keep the smallest set of most likely tokens whose total probability is `>= top_p`.
        min_p: keep the tokens whose probability is `>= min_p` times the largest.
        generator: a seeded `torch.Generator` on the model's device makes the draws reproducible.
        use_cache: reuse the keys and values of earlier positions (faster, same tokens).

    Returns:
        Token ids of shape `(B, T + max_new_tokens)`: the prompt followed by the new tokens.

    Raises:
        TypeError: as `check_generate_args`; `use_cache` is not a bool.
        ValueError: as `check_generate_args`. Everything is checked before the first token.
    """
    options = check_generate_args(
        model,
        idx,
        max_new_tokens,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        min_p=min_p,
        generator=generator,
    )
    check_bool("use_cache", use_cache)
    cache = KVCache(model.config.n_layer, model.config.block_size) if use_cache else None
    return decode_loop(model, idx, max_new_tokens, sampler(options, generator), cache)
