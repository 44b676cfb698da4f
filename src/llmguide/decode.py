"""A fast decode path for `llmguide.model.GPT`: a static KV cache, and the decode step as one CUDA graph.

`GPT.generate` is the reference: readable, and on a CPU fast enough. On a GPU a model as small as GPT-2 is
paced by something other than arithmetic: the host's kernel launches. Each new token runs about 580 PyTorch
operator calls (counted with `torch.profiler` on the CPU), and the Python process queued them no faster than
about 2.8 ms per token on an H200, with the KV cache or without it (benchmarks/RESULTS.md). The GPU finishes
each kernel before the next one arrives, so the cache saves arithmetic the GPU never missed.

The cure is to launch fewer things from Python. A CUDA graph records a sequence of kernels once and replays
it with one call. Recording needs every kernel to see the same shapes and the same memory on every replay,
which `GPT.generate`'s cache does not give: it returns the keys of the first `length` positions, a shape
that grows by one per token, and `length` is a Python number. This module keeps the keys and values in
buffers of a fixed size instead, with the position held in a tensor:

- `StaticKVCache`: keys and values preallocated as `(n_layer, batch, n_head, max_len, head_dim)`, and `pos`,
  a one-element tensor holding the next position to write.
- `prefill(model, cache, idx)`: runs the prompt through the model's own `Block`s, storing its keys and values
  at positions `0 .. T-1`, and returns the logits of the next token.
- `decode_step(model, cache, tokens)`: one new token per row, with fixed shapes. It writes the new key and
  value at `pos` (`index_copy_`, the index a tensor), attends over the whole buffer with a mask that hides
  the positions after `pos`, and adds 1 to `pos`. Nothing in it reads a number back to Python, so it can be
  captured once and replayed for every token.
- `generate_fast(model, idx, max_new_tokens, ...)`: `GPT.generate` with the same arguments, the same
  sampling and the same tokens, built on the two functions above. On CUDA it captures `decode_step` as a
  CUDA graph by hand (`mode="graph"`) or through `torch.compile(mode="reduce-overhead")`
  (`mode="compile"`); elsewhere it runs eagerly.

The step reuses the model's modules and weights (embeddings, LayerNorms, `c_attn`, `c_proj`, the MLPs, the
head); only the attention's handling of the cache is written again here, because `CausalSelfAttention`
slices its cache to the positions held so far. Sampling (`llmguide.sampling.sample`) stays outside the graph:
its checks read values back to Python, and it is the same function the reference calls, so a seeded
generator draws the same numbers in the same order.

For example, on a CPU (where the step runs eagerly), the fast path gives the reference's tokens:

```python
import torch
from llmguide.decode import generate_fast
from llmguide.model import GPT, GPTConfig

torch.manual_seed(0)
model = GPT(GPTConfig(block_size=16, n_layer=2, n_head=2, n_embd=32))
prompt = torch.tensor([list(b"ab")])
fast = generate_fast(model, prompt, 20, temperature=0)  # 22 tokens: past block_size=16
print(tuple(fast.shape), torch.equal(fast, model.generate(prompt, 20, temperature=0)))
#> (1, 22) True
```
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from llmguide.model import GPT, CausalSelfAttention
from llmguide.sampling import sample

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
    a CUDA graph. The positions from `pos` on hold stale or zero values; `decode_step` masks them out.

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
        # 0, 1, ..., max_len - 1: compared with `pos` to build the attention mask without allocating
        self.positions = torch.arange(max_len, device=self.keys.device)
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

    def store(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write one position's key and value (shape `(batch, n_head, 1, head_dim)`) at position `pos`.

        The index is the tensor `pos`, so the write is the same kernel for every position. `pos` itself is
        not moved here (`decode_step` adds 1 after the last layer).

        Args:
            layer: the layer's index.
            k: the new key.
            v: the new value.

        Returns:
            This layer's full key and value buffers, `(batch, n_head, max_len, head_dim)` each.
        """
        keys, values = self.keys[layer], self.values[layer]
        keys.index_copy_(2, self.pos, k)
        values.index_copy_(2, self.pos, v)
        return keys, values

    def reset(self) -> None:
        """Forget every position: `pos = 0`. The buffers keep their values; they are masked out."""
        self.pos.zero_()


class _PrefillView:
    """`llmguide.model.KVCache`'s interface over a `StaticKVCache`, so that a prompt can run through the
    model's own `Block.forward`: with `length == 0` the attention stores the keys of all T positions with
    `update` and attends causally among them, exactly as in `GPT.generate`'s first step."""

    length = 0

    def __init__(self, cache: StaticKVCache) -> None:
        self.cache = cache

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        T = k.size(2)
        self.cache.keys[layer, :, :, :T] = k
        self.cache.values[layer, :, :, :T] = v
        return k, v


def _kv_dtype(model: GPT) -> torch.dtype:
    """The dtype `model` computes keys in here and now: run its first `c_attn` on one zero vector."""
    c_attn = model.transformer.h[0].attn.c_attn
    with torch.no_grad():
        probe = torch.zeros(1, c_attn.in_features, dtype=c_attn.weight.dtype, device=c_attn.weight.device)
        return c_attn(probe).dtype


def _prefill(model: GPT, cache: StaticKVCache, idx: torch.Tensor) -> torch.Tensor:
    T = idx.size(1)
    tr = model.transformer
    x = tr.drop(tr.wte(idx) + tr.wpe(torch.arange(T, device=idx.device)))
    view = _PrefillView(cache)
    for layer, block in enumerate(tr.h):
        x = block(x, view, layer)  # the model's own block; its attention stores k, v through `view`
    cache.pos.fill_(T)
    return model.lm_head(tr.ln_f(x)[:, -1])


def prefill(model: GPT, cache: StaticKVCache, idx: torch.Tensor) -> torch.Tensor:
    """Run a prompt through `model`, store its keys and values at positions `0 .. T-1`, set `pos = T`.

    This is `GPT.generate`'s first step: the model's own `Block`s, causal attention among the T positions.
    Its shapes depend on T, so it runs eagerly; `generate_fast` also calls it to refill the cache once the
    sequence outgrows `block_size` (see there).

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
    model._check_idx(idx)
    if idx.size(0) != cache.batch or idx.size(1) > cache.max_len:
        raise ValueError(
            f"cache holds {cache.batch} rows of {cache.max_len} positions, too few for idx of shape "
            f"{tuple(idx.shape)}"
        )
    return _prefill(model, cache, idx)


def _attend_one(
    attn: CausalSelfAttention, x: torch.Tensor, cache: StaticKVCache, layer: int, visible: torch.Tensor
) -> torch.Tensor:
    """`CausalSelfAttention.forward` for one new position per row, over the static buffers."""
    B, T, C = x.shape  # T == 1
    q, k, v = attn.c_attn(x).split(attn.n_embd, dim=2)
    q = q.view(B, T, attn.n_head, C // attn.n_head).transpose(1, 2)
    k = k.view(B, T, attn.n_head, C // attn.n_head).transpose(1, 2)
    v = v.view(B, T, attn.n_head, C // attn.n_head).transpose(1, 2)
    keys, values = cache.store(layer, k, v)
    # all max_len positions, the ones after `pos` masked out: the same shapes at every step
    y = F.scaled_dot_product_attention(q, keys, values, attn_mask=visible)
    y = y.transpose(1, 2).contiguous().view(B, T, C)
    return attn.resid_dropout(attn.c_proj(y))


def _decode_step(model: GPT, cache: StaticKVCache, tokens: torch.Tensor) -> torch.Tensor:
    tr = model.transformer
    x = tr.drop(tr.wte(tokens) + tr.wpe(cache.pos))  # (B, 1, C): the new token at position pos
    visible = (cache.positions <= cache.pos)[None]  # (1, max_len) bool: the positions held, and this one
    for layer, block in enumerate(tr.h):  # Block.forward, with the attention above
        x = x + _attend_one(block.attn, block.ln_1(x), cache, layer, visible)
        x = x + block.mlp(block.ln_2(x))
    cache.pos.add_(1)
    return model.lm_head(tr.ln_f(x)[:, -1])


def decode_step(model: GPT, cache: StaticKVCache, tokens: torch.Tensor) -> torch.Tensor:
    """Feed one token per row at position `cache.pos`; store its key and value; add 1 to `pos`.

    Every tensor in the step has the same shape at every position, and nothing is read back to Python, so
    the step can be recorded as a CUDA graph and replayed (what `generate_fast` does on CUDA). The attention
    runs over all `max_len` positions of the buffer with a mask that keeps positions `0 .. pos`.

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
    """`decode_step` recorded once as a CUDA graph; calling it copies the tokens in and replays.

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
    for t in (cache.keys, cache.values, cache.pos, cache.positions):
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
    """`GPT.generate` with a static KV cache, and on CUDA one CUDA graph replay per new token.

    The arguments, the sampling and the result are `GPT.generate`'s: each new token is drawn by
    `llmguide.sampling.sample` from the logits at the last position, the model sees at most the last
    `block_size` tokens, it is in eval mode meanwhile (and put back after), no gradients are recorded, and
    a seeded generator gives the same tokens as `model.generate` with the same seed (tested on the CPU,
    greedy and sampled, batch > 1, past `block_size`). The logits agree with the reference's up to float
    rounding (the attention sums over a longer, masked buffer), so under bf16 a long sampled continuation
    can part ways with the reference's, as the reference's own cached and uncached paths can.

    Past `block_size` this path does what the reference does. Positions are learned and absolute, so once
    the sequence is longer than the window, cropping one token from the left moves every remaining token to
    a new position and changes all their keys and values: the cache cannot slide. Each further token then
    re-runs the cropped window through `prefill` (eagerly), the same work as the reference. The fast path
    therefore pays off within the window, which is where the static cache is sized.

    A call needs `min(block_size, T + max_new_tokens - 1)` positions (T the prompt length, capped at
    `block_size`; the last new token is never fed back). Without `cache` it makes a cache of that many,
    rounded up to a multiple of 16 (within `block_size`) for the attention kernels. Passing the same cache to
    later calls of the same shape reuses its CUDA graph (`mode="graph"`) or compiled graphs
    (`mode="compile"`), so that only the first call pays for recording or compiling.

    For example, seeded sampling gives the reference's tokens:

    ```python
    import torch
    from llmguide.decode import generate_fast
    from llmguide.model import GPT, GPTConfig

    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=32, n_layer=2, n_head=2, n_embd=32))
    prompt = torch.tensor([list(b"hi"), list(b"yo")])  # batch of 2
    fast = generate_fast(model, prompt, 8, top_k=50, generator=torch.Generator().manual_seed(1))
    ref = model.generate(prompt, 8, top_k=50, generator=torch.Generator().manual_seed(1))
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
        TypeError: `model` is not a `GPT`; `idx` is not an integer tensor; `mode` is not a string; `cache`
            is not a `StaticKVCache`.
        ValueError: `idx` is not 2-D, is empty or holds ids outside the vocabulary; `max_new_tokens` is
            not an integer `>= 0`; `mode` is unknown, or `"graph"` off CUDA; `cache` has the wrong shape,
            dtype or device; a sampling argument is out of range (raised by `sample` at the first draw,
            as in `GPT.generate`).
    """
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a llmguide.model.GPT, got {type(model).__name__}")
    model._check_idx(idx, any_length=True)
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an integer >= 0, got {max_new_tokens!r}")
    if not isinstance(mode, str):
        raise TypeError(f"mode must be a string, one of {MODES}, got {type(mode).__name__}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "auto":
        mode = "graph" if idx.is_cuda else "eager"
    if mode == "graph" and not idx.is_cuda:
        raise ValueError(
            f"mode='graph' records a CUDA graph and needs idx on a CUDA device, not {idx.device}"
        )

    B, T = idx.shape
    block_size = model.config.block_size
    out = idx.new_empty(B, T + max_new_tokens)
    out[:, :T] = idx
    if max_new_tokens == 0:
        return out
    window = min(T, block_size)
    needed = min(block_size, window + max_new_tokens - 1)  # the last new token is never fed back
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            if cache is None:
                # rounded up to a multiple of 16 positions: the fused attention kernels want the mask's
                # rows 16-aligned and would otherwise pad it in every layer
                cache = StaticKVCache.for_model(model, B, min(block_size, -(-needed // 16) * 16))
            else:
                _check_reused_cache(model, cache, idx, needed)
            logits = _prefill(model, cache, out[:, T - window : T])
            filled = window  # positions in the cache, tracked in Python so that nothing is read back
            step = None
            for i in range(max_new_tokens):
                next_id = sample(
                    logits,
                    temperature=temperature,
                    top_k=top_k,
                    top_p=top_p,
                    min_p=min_p,
                    generator=generator,
                )
                out[:, T + i] = next_id
                if i == max_new_tokens - 1:
                    break
                new = out[:, T + i : T + i + 1]
                if filled < block_size:  # within the window: one position of work, fixed shapes
                    if step is None:
                        step = _make_step(model, cache, mode, new)
                    logits = step(new)
                    filled += 1
                else:  # the window is full and slides: every position moves, refill (see above)
                    logits = _prefill(model, cache, out[:, T + i + 1 - block_size : T + i + 1])
    finally:
        model.train(was_training)
    return out


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
