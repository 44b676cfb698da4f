"""A fast decode path for `llmguide.model.GPT`: a static KV cache, and the decode step as one CUDA graph.

`llmguide.generation.generate` is the reference: readable, and on a CPU fast enough. On a GPU a model as
small as GPT-2 is paced by something other than arithmetic: the host's kernel launches. Each new token runs about 580 PyTorch
operator calls (counted with `torch.profiler` on the CPU), and the Python process queued them no faster than
about 2.8 ms per token on an H200, with the KV cache or without it (benchmarks/RESULTS.md). The GPU finishes
each kernel before the next one arrives, so the cache saves arithmetic the GPU never missed.

The cure is to launch fewer things from Python. A CUDA graph records a sequence of kernels once and replays
it with one call. Recording needs every kernel to see the same shapes and the same memory on every replay,
which the plain `KVCache` does not give: it returns the keys of the first `length` positions, a shape
that grows by one per token, and `length` is a Python number. This module keeps the keys and values in
buffers of a fixed size instead, with the position held in a tensor:

- `StaticKVCache`: keys and values preallocated as `(n_layer, batch, n_head, max_len, head_dim)`, and `pos`,
  a one-element tensor holding the next position to write. It implements the model's cache interface
  (`llmguide.model.Cache`): it writes the new keys at `pos` (`index_copy_`, the index a tensor) and hands the
  attention the whole buffer with a mask that hides the positions not yet written.
- `prefill(model, cache, idx)`: the prompt through `GPT.step` on the emptied cache; the next token's logits.
- `decode_step(model, cache, tokens)`: one new token per row through `GPT.step`, with fixed shapes. Nothing
  in it reads a number back to Python, so it can be captured once and replayed for every token.
- `generate_fast(model, idx, max_new_tokens, ...)`: `llmguide.generation.generate` with the same arguments,
  the same checks, the same loop (`llmguide.generation.decode_loop`) and the same tokens, on the static
  cache. On CUDA it captures the decode step as a CUDA graph by hand (`mode="graph"`) or through
  `torch.compile(mode="reduce-overhead")` (`mode="compile"`); elsewhere it runs eagerly.

The model's own code runs every step: this module supplies only the cache and the way the step is launched.
Sampling (`llmguide.sampling.sample`) stays outside the graph: it is the same function the reference calls,
so a seeded generator draws the same numbers in the same order.

For example, on a CPU (where the step runs eagerly), the fast path gives the reference's tokens:

```python
import torch
from llmguide.decode import generate_fast
from llmguide.generation import generate
from llmguide.model import GPT, GPTConfig

torch.manual_seed(0)
model = GPT(GPTConfig(block_size=16, n_layer=2, n_head=2, n_embd=32))
prompt = torch.tensor([list(b"ab")])
fast = generate_fast(model, prompt, 20, temperature=0)  # 22 tokens: past block_size=16
print(tuple(fast.shape), torch.equal(fast, generate(model, prompt, 20, temperature=0)))
#> (1, 22) True
```
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch

from llmguide.generation import check_generate_args, decode_loop, sampler
from llmguide.model import GPT
from llmguide.validate import check_choice, check_token_ids

__all__ = ["MODES", "StaticKVCache", "decode_step", "generate_fast", "prefill"]

MODES = ("auto", "eager", "graph", "compile")
"""The values of `generate_fast`'s `mode`: how the one-token step runs."""


def _check_size(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


class StaticKVCache:
    """Keys and values of every layer in buffers of a fixed shape, with the next position as a tensor.

    Both buffers have the shape `(n_layer, batch, n_head, max_len, head_dim)` and start as zeros. `pos` is a
    one-element int64 tensor on the same device: the number of positions stored, which is also where the
    next key goes. The shapes and the memory never change, which is what lets `decode_step` be captured as
    a CUDA graph. The positions from `pos` on hold stale or zero values; the mask that `update` returns
    hides them. It implements `llmguide.model.Cache`; nothing here reads `pos` back, so nothing checks that
    the positions fit: the caller keeps `pos` below `max_len`.

    Memory: `2 * n_layer * batch * max_len * n_head * head_dim` elements (for GPT-2 small in bf16, 36,864
    bytes per position per row).

    For example:

    ```python
    import torch
    from llmguide.decode import StaticKVCache

    cache = StaticKVCache(n_layer=2, batch=3, n_head=4, max_len=16, head_dim=8)
    print(tuple(cache.keys.shape), cache.pos.tolist(), f"{cache.nbytes:,} bytes")
    #> (2, 3, 4, 16, 8) [0] 24,576 bytes
    ```

    Args:
        n_layer: number of layers.
        batch: number of rows (sequences) decoded together.
        n_head: attention heads per layer.
        max_len: most positions the cache holds (at most the model's `block_size`).
        head_dim: width of one head's keys and values.
        dtype: element type of the keys and values: the dtype the model computes them in (float32, or
            bfloat16 for a bf16 model or under bf16 autocast).
        device: where the buffers live (default: torch's default device).

    Raises:
        TypeError: a size is not an integer, `dtype` is not a floating `torch.dtype`.
        ValueError: a size is below 1.
    """

    def __init__(
        self,
        n_layer: int,
        batch: int,
        n_head: int,
        max_len: int,
        head_dim: int,
        *,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device | None = None,
    ) -> None:
        shape = tuple(
            _check_size(name, value)
            for name, value in [
                ("n_layer", n_layer),
                ("batch", batch),
                ("n_head", n_head),
                ("max_len", max_len),
                ("head_dim", head_dim),
            ]
        )
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        self.keys = torch.zeros(shape, dtype=dtype, device=device)
        self.values = torch.zeros(shape, dtype=dtype, device=device)
        self.pos = torch.zeros(1, dtype=torch.long, device=self.keys.device)
        # 0, 1, ..., max_len - 1: the buffer's positions, compared with the new ones to build the mask
        self.slots = torch.arange(max_len, device=self.keys.device)
        self._new = self.pos  # the positions of the step under way (set by `positions`)
        self._visible = self.slots[None] <= self.pos  # and which slots their queries see
        # a captured CUDA graph of `decode_step` for this cache, reused by later calls (see generate_fast)
        self._graph: _GraphedStep | None = None

    @classmethod
    def for_model(
        cls, model: GPT, batch: int, max_len: int, *, dtype: torch.dtype | None = None
    ) -> StaticKVCache:
        """A cache shaped for `model`, on the device of its weights.

        Args:
            model: the GPT the cache is for.
            batch: number of rows decoded together.
            max_len: most positions to hold, `1 <= max_len <= model.config.block_size`.
            dtype: the keys' dtype; by default the one `model` computes them in right now (its weights'
                dtype, or the autocast dtype inside an autocast region).

        Returns:
            A new, empty cache.

        Raises:
            TypeError: `model` is not a `GPT`; as the constructor.
            ValueError: `max_len` is outside `[1, block_size]`; as the constructor.
        """
        if not isinstance(model, GPT):
            raise TypeError(f"model must be a llmguide.model.GPT, got {type(model).__name__}")
        config = model.config
        _check_size("max_len", max_len)
        if max_len > config.block_size:
            raise ValueError(f"max_len must be at most block_size={config.block_size}, got {max_len}")
        weight = model.lm_head.weight
        return cls(
            config.n_layer,
            batch,
            config.n_head,
            max_len,
            config.n_embd // config.n_head,
            dtype=dtype if dtype is not None else _kv_dtype(model),
            device=weight.device,
        )

    @property
    def batch(self) -> int:
        """Number of rows."""
        return self.keys.size(1)

    @property
    def max_len(self) -> int:
        """Most positions held."""
        return self.keys.size(3)

    @property
    def nbytes(self) -> int:
        """Bytes of the key and value buffers together."""
        return 2 * self.keys.numel() * self.keys.element_size()

    def positions(self, T: int, device: torch.device) -> torch.Tensor:
        """The positions `pos .. pos + T - 1` of the next `T`, as a tensor (nothing is read back).

        Args:
            T: number of new positions.
            device: ignored: the positions are on the cache's device.

        Returns:
            An int64 tensor of shape `(T,)`.
        """
        self._new = self.pos + self.slots[:T]  # (T,)
        self._visible = self.slots[None] <= self._new[:, None]  # (T, max_len): a query sees up to itself
        return self._new

    def update(
        self, layer: int, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Write the new positions' keys and values (shape `(batch, n_head, T, head_dim)`) at `pos ..`.

        The index is a tensor, so the write is the same kernel for every position.

        Args:
            layer: the layer's index.
            k: the new keys.
            v: the new values.

        Returns:
            This layer's full key and value buffers, `(batch, n_head, max_len, head_dim)` each, and the
            `(T, max_len)` mask of the slots each new query sees (those written, up to its own position).
        """
        keys, values = self.keys[layer], self.values[layer]
        keys.index_copy_(2, self._new, k)
        values.index_copy_(2, self._new, v)
        return keys, values, self._visible

    def advance(self, n: int) -> None:
        """Add `n` to `pos`, on the device.

        Args:
            n: the number of positions just written.
        """
        self.pos.add_(n)

    def reset(self) -> None:
        """Forget every position: `pos = 0`. The buffers keep their values; they are masked out."""
        self.pos.zero_()


def _kv_dtype(model: GPT) -> torch.dtype:
    """The dtype `model` computes keys in here and now: its weights', or autocast's inside an autocast region."""
    weight = model.lm_head.weight
    if torch.is_autocast_enabled(weight.device.type):
        return torch.get_autocast_dtype(weight.device.type)
    return weight.dtype


def prefill(model: GPT, cache: StaticKVCache, idx: torch.Tensor) -> torch.Tensor:
    """Run a prompt through `model`, store its keys and values at positions `0 .. T-1`, set `pos = T`.

    This is generation's first step, `GPT.step` on the emptied cache. Its shapes depend on T, so it runs
    eagerly.

    Args:
        model: the GPT (in eval mode, under `torch.no_grad()`, for generation).
        cache: a cache for `model` with `cache.batch == B` and `cache.max_len >= T`.
        idx: token ids, an integer tensor of shape `(B, T)`, `1 <= T <= block_size`.

    Returns:
        The logits of the token after the prompt, shape `(B, vocab_size)`.

    Raises:
        TypeError: `model`, `cache` or `idx` is of the wrong kind.
        ValueError: `idx` has the wrong shape or ids outside the vocabulary; `cache` does not fit `model`
            or `idx`.
    """
    _check_model_and_cache(model, cache)
    check_token_ids("idx", idx, vocab_size=model.config.vocab_size)
    if idx.size(0) != cache.batch or idx.size(1) > cache.max_len:
        raise ValueError(
            f"cache holds {cache.batch} rows of {cache.max_len} positions, too few for idx of shape "
            f"{tuple(idx.shape)}"
        )
    cache.reset()
    return model.step(idx, cache)


def _decode_step(model: GPT, cache: StaticKVCache, tokens: torch.Tensor) -> torch.Tensor:
    return model.step(tokens, cache)


def decode_step(model: GPT, cache: StaticKVCache, tokens: torch.Tensor) -> torch.Tensor:
    """Feed one token per row at position `cache.pos`; store its key and value; add 1 to `pos`.

    This is `GPT.step` on the static cache. Every tensor in the step has the same shape at every position,
    and nothing is read back to Python, so the step can be recorded as a CUDA graph and replayed (what
    `generate_fast` does on CUDA). The attention runs over all `max_len` positions of the buffer with a mask
    that keeps positions `0 .. pos`.

    The caller keeps `pos < cache.max_len` and `pos < block_size` (the position embedding has `block_size`
    rows); the step does not check, since checking would read `pos` back from the device.

    For example, the logits after a prefill of 4 tokens and one step equal those of a forward pass over all 5:

    ```python
    import torch
    from llmguide.decode import StaticKVCache, decode_step, prefill
    from llmguide.model import GPT, GPTConfig

    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=16, n_layer=2, n_head=2, n_embd=32)).eval()
    idx = torch.tensor([list(b"hello")])
    cache = StaticKVCache.for_model(model, batch=1, max_len=8)
    with torch.no_grad():
        prefill(model, cache, idx[:, :4])
        logits = decode_step(model, cache, idx[:, 4:])
        print(torch.allclose(logits, model(idx)[0][:, -1], atol=1e-5), cache.pos.tolist())
    #> True [5]
    ```

    Args:
        model: the GPT (in eval mode, under `torch.no_grad()`).
        cache: a cache for `model`, filled up to `pos` (by `prefill` and earlier steps).
        tokens: the new token ids, an integer tensor of shape `(cache.batch, 1)`.

    Returns:
        The logits of the token that follows, shape `(batch, vocab_size)`.

    Raises:
        TypeError: `model`, `cache` or `tokens` is of the wrong kind.
        ValueError: `tokens` is not of shape `(cache.batch, 1)`; `cache` does not fit `model`.
    """
    _check_model_and_cache(model, cache)
    if not isinstance(tokens, torch.Tensor) or tokens.is_floating_point() or tokens.dtype == torch.bool:
        raise TypeError(f"tokens must be an integer tensor of token ids, got {type(tokens).__name__}")
    if tuple(tokens.shape) != (cache.batch, 1):
        raise ValueError(f"tokens must have shape ({cache.batch}, 1), got {tuple(tokens.shape)}")
    return _decode_step(model, cache, tokens)


def _check_model_and_cache(model: GPT, cache: StaticKVCache) -> None:
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a llmguide.model.GPT, got {type(model).__name__}")
    if not isinstance(cache, StaticKVCache):
        raise TypeError(f"cache must be a StaticKVCache, got {type(cache).__name__}")
    c = model.config
    want = (c.n_layer, c.n_head, c.n_embd // c.n_head)
    have = (cache.keys.size(0), cache.keys.size(2), cache.keys.size(4))
    if have != want or cache.max_len > c.block_size:
        raise ValueError(
            f"cache has (n_layer, n_head, head_dim) = {have} and max_len {cache.max_len}; the model needs "
            f"{want} and max_len <= block_size={c.block_size}"
        )


# ----------------------------------------------------------------------------------------------------------
# Running the step: eagerly, as a hand-captured CUDA graph, or through torch.compile


class _GraphedStep:
    """The decode step recorded once as a CUDA graph; calling it copies the tokens in and replays.

    Recording follows PyTorch's recipe (torch.cuda.graphs): a few warm-up runs on a side stream (so that
    lazy initialisation, cuBLAS workspaces and the caching allocator's first allocations happen outside the
    graph), then capture. The graph reads and writes the same memory on every replay: the model's weights,
    the cache's buffers and `pos`, its own `tokens` input and `logits` output. Warming up writes at `pos` and
    moves it, so `pos` is put back after each run; what was written at `pos` is rewritten by the first
    replay before anything reads it.
    """

    def __init__(self, model: GPT, cache: StaticKVCache, tokens: torch.Tensor) -> None:
        self.model = model
        with torch.cuda.device(cache.keys.device):
            self._record(model, cache, tokens)

    def _record(self, model: GPT, cache: StaticKVCache, tokens: torch.Tensor) -> None:
        device = cache.keys.device
        self.tokens = tokens.clone()
        start = cache.pos.clone()
        # autocast keeps a cache of weights cast to bf16 that it frees on leaving the autocast region; a
        # graph must not point into it. Without the cache the casts become kernels inside the graph (a
        # model converted with .to(torch.bfloat16) needs none).
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side), _autocast_without_cache():
            for _ in range(2):
                cache.pos.copy_(start)
                _decode_step(model, cache, self.tokens)
        torch.cuda.current_stream(device).wait_stream(side)
        cache.pos.copy_(start)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph), _autocast_without_cache():
            self.logits = _decode_step(model, cache, self.tokens)
        cache.pos.copy_(start)  # capture runs nothing, but say so

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        self.tokens.copy_(tokens)
        self.graph.replay()
        return self.logits  # overwritten by the next replay: use it before calling again


def _autocast_without_cache() -> contextlib.AbstractContextManager[Any]:
    """The CUDA autocast now in force, with its cache of cast weights turned off; else a null context."""
    if not torch.is_autocast_enabled("cuda"):
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=torch.get_autocast_dtype("cuda"), cache_enabled=False)


_compiled_step: Callable[..., torch.Tensor] | None = None


def _make_step(
    model: GPT, cache: StaticKVCache, mode: str, tokens: torch.Tensor
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return `step(tokens) -> logits` running `decode_step` on `cache` the way `mode` says."""
    if mode == "eager":
        return lambda t: _decode_step(model, cache, t)
    if mode == "graph":
        if cache._graph is None or cache._graph.model is not model:
            cache._graph = _GraphedStep(model, cache, tokens)
        return cache._graph
    # mode == "compile": one compiled function for the whole process; torch.compile keeps a compiled
    # version per shape, and on CUDA "reduce-overhead" records CUDA graphs of it. The cache's buffers are
    # marked static so that the graphs may write into them in place (as Hugging Face's StaticCache does).
    global _compiled_step
    if _compiled_step is None:
        _compiled_step = torch.compile(_decode_step, mode="reduce-overhead", fullgraph=True)
    for t in (cache.keys, cache.values, cache.pos, cache.slots):
        torch._dynamo.mark_static_address(t)
    compiled = _compiled_step

    def step(t: torch.Tensor) -> torch.Tensor:
        if t.is_cuda:
            torch.compiler.cudagraph_mark_step_begin()  # the previous step's logits are used up
        return compiled(model, cache, t)

    return step


def generate_fast(
    model: GPT,
    idx: torch.Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
    generator: torch.Generator | None = None,
    mode: str = "auto",
    cache: StaticKVCache | None = None,
) -> torch.Tensor:
    """`llmguide.generation.generate` with a static KV cache, and on CUDA one CUDA graph replay per new token.

    The arguments, their checks (`llmguide.generation.check_generate_args`), the loop
    (`llmguide.generation.decode_loop`), the sampling and the result are `generate`'s: a seeded generator
    gives the same tokens as `generate` with the same seed (tested on the CPU, greedy and sampled,
    batch > 1, past `block_size`). The logits agree with the reference's up to float rounding (the
    attention sums over a longer, masked buffer), so under bf16 a long sampled continuation can part ways
    with the reference's, as the reference's own cached and uncached paths can.

    Past `block_size` this path does what the reference does: each further token re-runs the cropped window
    (eagerly), since positions are absolute and the cache cannot slide. The fast path therefore pays off
    within the window, which is where the static cache is sized.

    A call needs `min(block_size, T + max_new_tokens - 1)` positions (T the prompt length, capped at
    `block_size`; the last new token is never fed back). Without `cache` it makes a cache of that many,
    rounded up to a multiple of 16 (within `block_size`) for the attention kernels. Passing the same cache to
    later calls of the same shape reuses its CUDA graph (`mode="graph"`) or compiled graphs
    (`mode="compile"`), so that only the first call pays for recording or compiling.

    For example, seeded sampling gives the reference's tokens:

    ```python
    import torch
    from llmguide.decode import generate_fast
    from llmguide.generation import generate
    from llmguide.model import GPT, GPTConfig

    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=32, n_layer=2, n_head=2, n_embd=32))
    prompt = torch.tensor([list(b"hi"), list(b"yo")])  # batch of 2
    fast = generate_fast(model, prompt, 8, top_k=50, generator=torch.Generator().manual_seed(1))
    ref = generate(model, prompt, 8, top_k=50, generator=torch.Generator().manual_seed(1))
    print(tuple(fast.shape), torch.equal(fast, ref))
    #> (2, 10) True
    ```

    Args:
        model: the GPT to sample from.
        idx: prompt token ids, an integer tensor of shape `(B, T)`, `T >= 1`, ids in `[0, vocab_size)`, on
            the model's device.
        max_new_tokens: number of tokens to add, `>= 0`.
        temperature: softmax temperature, `>= 0`; 0 means greedy.
        top_k: keep only the `top_k` most likely tokens (and those tied with the k-th).
        top_p: keep the smallest set of most likely tokens whose total probability is `>= top_p`.
        min_p: keep the tokens whose probability is `>= min_p` times the largest.
        generator: a seeded `torch.Generator` on the model's device makes the draws reproducible.
        mode: how the one-token step runs: `"eager"` (plain PyTorch calls, any device), `"graph"` (recorded
            by hand as a CUDA graph and replayed; CUDA only), `"compile"` (`torch.compile(mode=
            "reduce-overhead")`, which on CUDA fuses kernels and records CUDA graphs; the first call of
            each shape compiles, for tens of seconds), or `"auto"`: `"graph"` on CUDA, else `"eager"`.
        cache: a `StaticKVCache` for `model` to reuse, with `B` rows and at least the positions above;
            its contents are overwritten. None makes a new one.

    Returns:
        Token ids of shape `(B, T + max_new_tokens)`, of `idx`'s dtype: the prompt followed by the new tokens.

    Raises:
        TypeError: as `llmguide.generation.check_generate_args`; `mode` is not a string; `cache` is not a
            `StaticKVCache`.
        ValueError: as `llmguide.generation.check_generate_args`; `mode` is unknown, or `"graph"` off CUDA;
            `cache` has the wrong shape, dtype or device.
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
    mode = check_choice("mode", mode, MODES)
    if mode == "auto":
        mode = "graph" if idx.is_cuda else "eager"
    if mode == "graph" and not idx.is_cuda:
        raise ValueError(
            f"mode='graph' records a CUDA graph and needs idx on a CUDA device, not {idx.device}"
        )
    B, T = idx.shape
    block_size = model.config.block_size
    needed = max(1, min(block_size, min(T, block_size) + max_new_tokens - 1))
    if cache is None:
        # rounded up to a multiple of 16 positions: the fused attention kernels want the mask's rows
        # 16-aligned and would otherwise pad it in every layer
        with torch.no_grad():
            cache = StaticKVCache.for_model(model, B, min(block_size, -(-needed // 16) * 16))
    else:
        _check_reused_cache(model, cache, idx, needed)
    made: list[Callable[[torch.Tensor], torch.Tensor]] = []

    def step(tokens: torch.Tensor) -> torch.Tensor:  # made at the first decode step, from its tokens
        if not made:
            made.append(_make_step(model, cache, mode, tokens))
        return made[0](tokens)

    return decode_loop(model, idx, max_new_tokens, sampler(options, generator), cache, step)


def _check_reused_cache(model: GPT, cache: StaticKVCache, idx: torch.Tensor, needed: int) -> None:
    _check_model_and_cache(model, cache)
    dtype = _kv_dtype(model)
    if cache.batch != idx.size(0) or cache.max_len < needed:
        raise ValueError(
            f"cache holds {cache.batch} rows of {cache.max_len} positions; this call needs {idx.size(0)} "
            f"rows of {needed}"
        )
    if cache.keys.dtype != dtype or cache.keys.device != model.lm_head.weight.device:
        raise ValueError(
            f"cache holds {cache.keys.dtype} on {cache.keys.device}; the model computes {dtype} on "
            f"{model.lm_head.weight.device}"
        )
