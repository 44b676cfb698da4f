"""A small GPT: the decoder-only transformer of GPT-2, written to be read top to bottom.

The layout follows Andrej Karpathy's nanoGPT `model.py` (MIT licence), and so GPT-2: a configuration
dataclass, the attention written out by hand (for the guide), the blocks, then the model. The parameter names
(`transformer.wte`, `transformer.h.0.attn.c_attn`, `lm_head`, ...) are GPT-2's, so a GPT-2 state dict's
names match this model's. Its tensors do not all fit as they are: GPT-2's checkpoints (and Hugging Face's
`GPT2LMHeadModel`) store four weights per block, `attn.c_attn`, `attn.c_proj`, `mlp.c_fc` and `mlp.c_proj`,
in the `Conv1D` layout `(in_features, out_features)`, the transpose of `nn.Linear`'s, so those four must be
transposed when loaded. And `MLP` uses the exact GELU (with `erf`, PyTorch's default), where GPT-2 used its
tanh approximation; the two differ by less than 1e-3 anywhere.

- `GPTConfig`: the sizes, checked when the config is built.
- `causal_mask`: which keys each query may see, also when a cache holds the earlier positions.
- `attention_weights` and `attention`: softmax(Q K^T / sqrt(d)) V, spelled out. The model itself calls
  `torch.nn.functional.scaled_dot_product_attention`, which computes the same thing with fused kernels
  (flash attention on CUDA) and is tested equal to `attention`.
- `CausalSelfAttention`, `MLP`, `Block`: one pre-LayerNorm transformer block. In a `GPT` their four linear
  layers and the head store the weight input-major (`input_major`): GPT-2's `Conv1D` layout in memory under
  `nn.Linear`'s shape, with which a CPU decodes faster.
- `Cache`: what the model asks of a KV cache (`positions`, `update`, `advance`, `reset`), and `KVCache`, the
  plain one: the keys and values of the positions already seen, so that generation does one position's work
  per new token. `llmguide.decode.StaticKVCache` is the other, with fixed shapes for CUDA graphs.
- `GPT`: embeddings, blocks, final LayerNorm and a language-model head tied to the token embedding;
  `forward` gives logits for every position and the loss; `step` feeds new positions after a cache (a prompt:
  prefill; one token: decode) and gives the next token's logits. Sampling loops live above the model, in
  `llmguide.generation`.

The same code runs on CPU, CUDA and MPS: move the model and the token ids with `.to(device)`
(see `llmguide.device`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from llmguide.validate import (
    check_bool,
    check_instance,
    check_int,
    check_real,
    check_token_ids,
    parameter_error,
)

__all__ = [
    "GPT",
    "IGNORE_INDEX",
    "MLP",
    "Block",
    "Cache",
    "CausalSelfAttention",
    "GPTConfig",
    "KVCache",
    "attention",
    "attention_weights",
    "causal_mask",
    "check_targets",
    "eval_logits",
    "input_major",
]

IGNORE_INDEX = -1
"""Target value that marks a position without a target: the loss of `GPT.forward` (and of
`llmguide.rnn.LSTM`) leaves it out. The synthetic tasks of `llmguide.tasks` use it for the positions they do
not score."""


@dataclass
class GPTConfig:
    """The sizes of a GPT. The defaults are the small byte-level model the guide trains on a CPU.

    For example:

    ```python
    from llmguide.model import GPTConfig

    config = GPTConfig(n_layer=2, n_head=4, n_embd=64)
    print(config.n_embd // config.n_head)  # the width of one head
    #> 16
    ```

    Attributes:
        vocab_size: number of token ids (256 for the byte tokenizer; 50257 for GPT-2's BPE).
        block_size: longest context in tokens, i.e. the number of learned positions.
        n_layer: number of transformer blocks.
        n_head: attention heads per block; must divide `n_embd`.
        n_embd: width of the residual stream (the embedding size).
        dropout: dropout probability in [0, 1) used while training (0 turns it off).
        bias: whether the linear layers and LayerNorms have biases (GPT-2: yes).

    Raises:
        TypeError: a size is not an integer, `dropout` is not a number, or `bias` is not a bool.
        ValueError: a size is below 1, `n_embd` is not divisible by `n_head`, or `dropout` is outside [0, 1).
            The message names the field.
    """

    vocab_size: int = 256
    block_size: int = 256
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            check_int(name, getattr(self, name), minimum=1)
        if self.n_embd % self.n_head != 0:
            raise parameter_error(
                ValueError,
                f"n_embd must be divisible by n_head, got n_embd={self.n_embd} and n_head={self.n_head}",
                ("n_embd", "n_head"),
            )
        check_real("dropout", self.dropout, minimum=0, maximum=1, max_open=True)
        check_bool("bias", self.bias)


def causal_mask(T: int, S: int, device: str | torch.device | None = None) -> torch.Tensor:
    """Return the `(T, S)` causal mask: `True` where query `i` may attend to key `j`.

    The `T` queries are the last `T` of `S` positions (the first `S - T` are earlier positions, e.g. held in a
    KV cache), so query `i` sits at position `S - T + i` and sees the keys `0 .. S - T + i`. With `T == S` this
    is the lower triangle.

    For example, two new queries after three cached positions:

    ```python
    from llmguide.model import causal_mask

    print(causal_mask(2, 5).int())
    #> tensor([[1, 1, 1, 1, 0],
    #>         [1, 1, 1, 1, 1]], dtype=torch.int32)
    ```

    Args:
        T: number of queries, `>= 1`.
        S: number of keys, `>= T`.
        device: where to build the mask.

    Returns:
        A bool tensor of shape `(T, S)`.

    Raises:
        TypeError: `T` or `S` is not an integer.
        ValueError: `T < 1` or `S < T`.
    """
    T = check_int("T", T, minimum=1)
    S = check_int("S", S, minimum=T)
    return torch.ones(T, S, dtype=torch.bool, device=device).tril(diagonal=S - T)


def attention_weights(q: torch.Tensor, k: torch.Tensor, causal: bool = True) -> torch.Tensor:
    """Return the attention weights softmax(Q K^T / sqrt(d)): one row per query, each row summing to 1.

    For example:

    ```python
    import torch
    from llmguide.model import attention_weights

    q = k = torch.zeros(1, 3, 4)  # equal scores: each query spreads evenly over what it may see
    print(attention_weights(q, k)[0])
    #> tensor([[1.0000, 0.0000, 0.0000],
    #>         [0.5000, 0.5000, 0.0000],
    #>         [0.3333, 0.3333, 0.3333]])
    ```

    Args:
        q: queries, shape `(..., T, d)`.
        k: keys, shape `(..., S, d)`.
        causal: if true, a query may not look at keys after its own position. With fewer queries than keys
            (`T < S`) the queries are the last `T` positions, as when a cache holds the earlier keys.

    Returns:
        Weights of shape `(..., T, S)`; masked entries are exactly 0.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (..., T, S)
    if causal:
        scores = scores.masked_fill(~causal_mask(*scores.shape[-2:], device=q.device), float("-inf"))
    return scores.softmax(dim=-1)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = True) -> torch.Tensor:
    """Scaled dot-product attention written out: softmax(Q K^T / sqrt(d)) V.

    This is what `torch.nn.functional.scaled_dot_product_attention` computes; the model uses that one, whose
    fused kernels never build the T x T matrix of weights. This version is for reading and for checking.

    For example:

    ```python
    import torch
    import torch.nn.functional as F
    from llmguide.model import attention

    q, k, v = torch.randn(3, 2, 4, 5, 8, generator=torch.Generator().manual_seed(0))
    ours = attention(q, k, v)
    theirs = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    print(torch.allclose(ours, theirs, atol=1e-6))
    #> True
    ```

    Args:
        q: queries, shape `(..., T, d)`.
        k: keys, shape `(..., S, d)`.
        v: values, shape `(..., S, d_v)`.
        causal: mask out the keys after each query's position (see `attention_weights`).

    Returns:
        Shape `(..., T, d_v)`: each output row is a weighted average of the rows of `v`.
    """
    return attention_weights(q, k, causal) @ v


class Cache(Protocol):
    """What `GPT.step` needs of a KV cache: the interface `KVCache` and `llmguide.decode.StaticKVCache` share.

    A step of `T` new positions asks the cache for their position ids (`positions`), hands every layer's keys
    and values of those positions to `update` (which stores them and returns what the layer attends over),
    and after the last layer calls `advance(T)`. `reset` forgets every position, for a new prompt.
    """

    def positions(self, T: int, device: torch.device) -> torch.Tensor:
        """The position ids of the next `T` positions, an int64 tensor of shape `(T,)` on `device`."""
        ...

    def update(
        self, layer: int, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Store layer `layer`'s keys and values of the new positions (`(B, n_head, T, head_dim)` each).

        Returns:
            `(keys, values, mask)`: what the layer's `T` queries attend over, `(B, n_head, S, head_dim)` each,
            and the mask: `None` when the queries are the last `T` of the `S` positions and each sees the
            keys up to its own (causal attention, `causal_mask(T, S)`), else a bool tensor that broadcasts to
            `(B, n_head, T, S)`, `True` where a query may attend.
        """
        ...

    def advance(self, n: int) -> None:
        """Count the `n` positions just stored (all layers have called `update`)."""
        ...

    def reset(self) -> None:
        """Forget every position."""
        ...


class KVCache:
    """The keys and values of every layer for the positions seen so far, in buffers of `max_len` positions.

    `llmguide.generation.generate` makes one; you rarely need it yourself. It implements `Cache`: each
    attention layer stores the keys and values of the new positions with `update` and attends over everything
    stored; once every layer has, the model calls `advance` to count the new positions in `length`.

    For example, a prompt of 4 tokens (prefill), then one more (decode), give the logits of a full pass:

    ```python
    import torch
    from llmguide.model import GPT, GPTConfig, KVCache

    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=16, n_layer=2, n_head=2, n_embd=32)).eval()
    idx = torch.tensor([list(b"hello")])
    cache = KVCache(model.config.n_layer, max_len=16)
    with torch.no_grad():
        model.step(idx[:, :4], cache)
        logits = model.step(idx[:, 4:], cache)
        print(cache.length, torch.allclose(logits, model(idx)[0][:, -1], atol=1e-5))
    #> 5 True
    ```

    Args:
        n_layer: number of layers to hold keys and values for.
        max_len: most positions the cache can hold (the model's `block_size`).
    """

    def __init__(self, n_layer: int, max_len: int) -> None:
        n_layer = check_int("n_layer", n_layer, minimum=1)
        self.max_len = check_int("max_len", max_len, minimum=1)
        self.length = 0  # positions stored so far
        self.keys: list[torch.Tensor | None] = [None] * n_layer
        self.values: list[torch.Tensor | None] = [None] * n_layer

    def positions(self, T: int, device: torch.device) -> torch.Tensor:
        """The position ids `length .. length + T - 1`.

        Args:
            T: number of new positions.
            device: where to put them.

        Returns:
            An int64 tensor of shape `(T,)`.

        Raises:
            ValueError: the new positions do not fit in `max_len`.
        """
        self._check_fits(T)
        return torch.arange(self.length, self.length + T, device=device)

    def update(
        self, layer: int, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Store `k` and `v` (shape `(B, n_head, T, head_dim)`) after the `length` positions already held.

        Args:
            layer: index of the calling layer.
            k: keys of the new positions.
            v: values of the new positions.

        Returns:
            The keys and values of all `length + T` positions, shape `(B, n_head, length + T, head_dim)`, and
            `None` for the mask: the new positions are the last ones, so attention is plain causal.

        Raises:
            ValueError: the new positions do not fit in `max_len`.
        """
        end = self._check_fits(k.size(2))
        if self.keys[layer] is None:  # allocate on first use, in the dtype and on the device of k
            B, n_head, _, head_dim = k.shape
            self.keys[layer] = k.new_empty(B, n_head, self.max_len, head_dim)
            self.values[layer] = v.new_empty(B, n_head, self.max_len, v.size(-1))
        keys, values = self.keys[layer], self.values[layer]
        keys[:, :, self.length : end] = k
        values[:, :, self.length : end] = v
        return keys[:, :, :end], values[:, :, :end], None

    def advance(self, n: int) -> None:
        """Count `n` more positions as stored: call it once all layers have `update`d with them.

        Args:
            n: number of new positions, `>= 0`.

        Raises:
            TypeError: `n` is not an integer.
            ValueError: `n < 0`, or `length + n` exceeds `max_len`.
        """
        self.length = self._check_fits(check_int("n", n, minimum=0))

    def reset(self) -> None:
        """Forget every position (`length = 0`); the buffers are kept and overwritten."""
        self.length = 0

    def crop(self, length: int) -> None:
        """Keep only the first `length` positions (speculative decoding drops the rejected guesses this way).

        Args:
            length: positions to keep, in `[0, self.length]`.

        Raises:
            TypeError: `length` is not an integer.
            ValueError: `length` is outside `[0, self.length]`.
        """
        self.length = check_int("length", length, minimum=0, maximum=self.length)

    def _check_fits(self, n: int) -> int:
        end = self.length + n
        if end > self.max_len:
            raise ValueError(f"the KV cache holds at most {self.max_len} positions, asked for {end}")
        return end


def input_major(linear: nn.Linear) -> nn.Linear:
    """Store `linear`'s weight input-major, as GPT-2's `Conv1D` does, keeping its `(out, in)` shape.

    `nn.Linear` computes `x @ weight.T`. With the weight stored row by row, `(out_features, in_features)`,
    the matrix library gets a transposed operand; stored column by column (strides `(1, out_features)`),
    `weight.T` is an ordinary row-major `(in, out)` matrix, the layout Hugging Face's GPT-2 multiplies by.
    On a CPU decoding at batch 1, where each step is one vector times each matrix, that layout ran the
    blocks' matrix products about a quarter faster, and GPT-2 small's head nearly twice as fast
    (`benchmarks/decode_hf.py`; `benchmarks/RESULTS.md`).
    Nothing else changes: the shape, the state dict's names and shapes, `load_state_dict`, `.to()` and
    optimisers all keep or accept the strides.

    For example:

    ```python
    from torch import nn
    from llmguide.model import input_major

    layer = input_major(nn.Linear(3, 2))
    print(tuple(layer.weight.shape), layer.weight.stride(), layer.weight.t().is_contiguous())
    #> (2, 3) (1, 2) True
    ```

    Args:
        linear: the layer; its weight is replaced by an equal parameter with the new strides.

    Returns:
        The same layer.
    """
    check_instance("linear", linear, nn.Linear, "a torch.nn.Linear")
    linear.weight = nn.Parameter(linear.weight.detach().t().contiguous().t())
    return linear


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention: every position attends to itself and the positions before it.

    Args:
        config: the model's sizes.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        self.dropout = config.dropout
        # queries, keys and values of all heads in one matrix multiply, then the output projection
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, cache: Cache | None = None, layer: int = 0) -> torch.Tensor:
        """Attend over the sequence `x` of shape `(B, T, n_embd)`; return the same shape.

        Args:
            x: the LayerNorm-ed residual stream.
            cache: if given, `x` holds the positions that follow those in the cache; their keys and values
                are added to it, and the queries attend over what `cache.update` returns (see `Cache`).
            layer: this layer's index in `cache`.

        Returns:
            Shape `(B, T, n_embd)`.
        """
        B, T, C = x.size()  # batch, new positions, width (n_embd)
        hs = C // self.n_head  # head size
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)  # each (B, T, C)
        # each head attends with its own slice of the width
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        mask = None
        if cache is not None:  # (B, nh, S, hs): the cached positions, then these (see `Cache.update`)
            k, v, mask = cache.update(layer, k, v)
        S = k.size(2)
        # Without a mask from the cache the T queries are the last T of the S positions: query i sees keys
        # 0 .. S - T + i (`causal_mask`). With nothing cached that is SDPA's own causal mask (is_causal, which
        # lets it use its fastest kernels); a single new query sees every key, so it needs no mask at all.
        if mask is None and 1 < T < S:
            mask = causal_mask(T, S, device=x.device)
        dropout_p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=dropout_p, is_causal=mask is None and T == S
        )  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C): the heads side by side again
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    """The position-wise feed-forward network: widen 4x, GELU, project back.

    The GELU is the exact one, `x * Phi(x)` with the standard normal CDF `Phi` computed with `erf`
    (`nn.GELU()`); GPT-2 used the tanh approximation (`nn.GELU(approximate="tanh")`).

    Args:
        config: the model's sizes.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the MLP to each position of `x` (shape `(B, T, n_embd)`) independently.

        Args:
            x: the LayerNorm-ed residual stream.

        Returns:
            Shape `(B, T, n_embd)`.
        """
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """One transformer block, pre-LayerNorm as in GPT-2: `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`.

    Args:
        config: the model's sizes.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, cache: Cache | None = None, layer: int = 0) -> torch.Tensor:
        """Update the residual stream `x` (shape `(B, T, n_embd)`).

        Args:
            x: the residual stream.
            cache: passed on to the attention (see `CausalSelfAttention.forward`).
            layer: this block's index in `cache`.

        Returns:
            Shape `(B, T, n_embd)`.
        """
        x = x + self.attn(self.ln_1(x), cache, layer)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """A GPT-2 style language model.

    Token embedding plus learned position embedding, `n_layer` blocks, a final LayerNorm, and a linear head
    without bias whose weight is the token embedding matrix (weight tying, as in GPT-2). Weights start as in
    GPT-2: normal with standard deviation 0.02, biases 0, and the two projections in each block that add into
    the residual stream (`attn.c_proj`, `mlp.c_proj`) scaled down by 1/sqrt(2 * n_layer), so that the stream's
    variance does not grow with depth.

    For example:

    ```python
    import torch
    from llmguide.model import GPT, GPTConfig

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=256, block_size=16, n_layer=2, n_head=2, n_embd=32))
    idx = torch.tensor([list(b"hello")])  # bytes are token ids
    logits, loss = model(idx)
    print(tuple(logits.shape))  # (batch, positions, vocab): a prediction at every position
    #> (1, 5, 256)
    print(f"{model.num_params():,} parameters")
    #> 34,176 parameters
    ```

    Args:
        config: the sizes; see `GPTConfig`.

    Raises:
        TypeError: `config` is not a `GPTConfig`.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = check_instance("config", config, GPTConfig, "a GPTConfig")
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),  # token embedding
                wpe=nn.Embedding(config.block_size, config.n_embd),  # position embedding
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
            )
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying: one matrix, two uses

        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):  # the projections that add into the residual stream
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))
        # Input-major weights (see `input_major`), after the init, so that a seed gives the same weights; the
        # tied head too, whose (vocab_size, n_embd) matrix is a quarter of GPT-2 small's bytes.
        for block in self.transformer.h:
            for linear in (block.attn.c_attn, block.attn.c_proj, block.mlp.c_fc, block.mlp.c_proj):
                input_major(linear)
        input_major(self.lm_head)
        self.transformer.wte.weight = self.lm_head.weight  # tied again, to the new parameter

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self, non_embedding: bool = False) -> int:
        """Count the parameters; the tied token-embedding / head matrix counts once.

        For example, GPT-2 small, built on the meta device (shapes only, no memory):

        ```python
        import torch
        from llmguide.model import GPT, GPTConfig

        with torch.device("meta"):
            gpt2 = GPT(GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768))
        print(f"{gpt2.num_params():,}")
        #> 124,439,808
        ```

        Args:
            non_embedding: leave out the token and position embeddings. This is the count N of Kaplan et al.
                (2020), "Scaling Laws for Neural Language Models", about 12 * n_layer * n_embd^2. (nanoGPT's
                `get_num_params(non_embedding=True)` leaves out only the position embedding.)

        Returns:
            The number of parameters (scalars).
        """
        n = sum(p.numel() for p in self.parameters())  # parameters() yields the tied matrix once
        if non_embedding:
            n -= self.transformer.wte.weight.numel() + self.transformer.wpe.weight.numel()
        return n

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Predict the next token at every position.

        Args:
            idx: token ids, an int64 or int32 tensor of shape `(B, T)` with `1 <= T <= block_size` and every
                id in `[0, vocab_size)`.
            targets: optional, an int64 or int32 tensor of shape `(B, T)`: the token that follows each
                position, in `[0, vocab_size)`. Entries equal to `IGNORE_INDEX` (-1) are left out of the loss.

        Returns:
            `(logits, loss)`: logits of shape `(B, T, vocab_size)` (unnormalised log-probabilities of the
            next token), and the mean cross-entropy in nats per token, or `None` without `targets`.

        Raises:
            TypeError: `idx` or `targets` is not an int64 or int32 tensor.
            ValueError: `idx` is not 2-D, is empty, is longer than `block_size` or holds an id outside the
                vocabulary; `targets` has another shape than `idx` or holds an id outside the vocabulary other
                than `IGNORE_INDEX`.
            RuntimeError: on an accelerator, an id outside the vocabulary fails when the device is next
                waited for: the check is queued on the device, so that no training step waits for the host.
        """
        # The ids' values are checked without a host sync (on an accelerator the check is queued on the
        # device): the model runs on every training step, and the ids were checked where they entered.
        self._check_idx(idx, sync=False)
        if targets is not None:
            check_targets(targets, idx, self.config.vocab_size, sync=False)
        logits = self.lm_head(self._hidden(idx))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(
                logits.view(-1, logits.size(-1)), targets.reshape(-1).long(), ignore_index=IGNORE_INDEX
            )
        return logits, loss

    def step(
        self, idx: torch.Tensor, cache: Cache | None = None, *, all_logits: bool = False
    ) -> torch.Tensor:
        """Feed the new positions `idx` after those held in `cache`; return the logits of the token after them.

        This is the step generation is made of. On an empty cache it is the *prefill*: the whole prompt in
        one pass, every position's keys and values stored. With one token per row it is a *decode* step:
        one position of work, attending over the cached keys. Without a cache it is a pass over `idx` alone
        (generation without a cache runs the whole window at every step). Only the last position goes
        through the head, since only it is sampled from, unless `all_logits` asks for every position's (as
        speculative decoding's verification step does, `llmguide.speculative`).

        The ids' values are not checked here (that would read them back from the device, one sync per
        token, and a CUDA graph could not be recorded): check them where they come in, as
        `llmguide.generation.generate` does with the prompt. The caller keeps the positions within
        `block_size` and the cache's length. See `KVCache` for an example.

        Args:
            idx: token ids, an int64 or int32 tensor of shape `(B, T)`, ids in `[0, vocab_size)`.
            cache: a `Cache` holding the earlier positions (it is updated), or None.
            all_logits: return the logits after every new position, not only after the last.

        Returns:
            Logits of shape `(B, vocab_size)`, or `(B, T, vocab_size)` with `all_logits`.

        Raises:
            TypeError: `idx` is not an int64 or int32 tensor.
            ValueError: `idx` is not 2-D or is empty, or is longer than `block_size`.
        """
        if not isinstance(idx, torch.Tensor) or idx.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"idx must be an int64 or int32 tensor of token ids, got {_kind(idx)}")
        if idx.dim() != 2 or 0 in idx.shape or idx.size(1) > self.config.block_size:
            raise ValueError(
                f"idx must have shape (batch, positions) with 1 <= positions <= block_size="
                f"{self.config.block_size}, got {tuple(idx.shape)}"
            )
        hidden = self._hidden(idx, cache)
        return self.lm_head(hidden if all_logits else hidden[:, -1])

    def _hidden(self, idx: torch.Tensor, cache: Cache | None = None) -> torch.Tensor:
        """The final, LayerNorm-ed residual stream, shape `(B, T, n_embd)`; positions continue the cache."""
        T = idx.size(1)
        pos = torch.arange(T, device=idx.device) if cache is None else cache.positions(T, idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for layer, block in enumerate(self.transformer.h):
            x = block(x, cache, layer)
        if cache is not None:
            cache.advance(idx.size(1))
        return self.transformer.ln_f(x)

    def _check_idx(self, idx: torch.Tensor, any_length: bool = False, sync: bool = True) -> None:
        """Raise a clear error unless `idx` is a non-empty (B, T) tensor of ids in the vocabulary.

        `sync=False` checks the ids' values on the device, without a host sync (see `check_token_ids`).
        """
        if not any_length and isinstance(idx, torch.Tensor) and idx.dim() == 2:
            if idx.size(1) > self.config.block_size:
                raise ValueError(
                    f"idx has {idx.size(1)} positions, more than block_size={self.config.block_size}; "
                    f"crop it to the last {self.config.block_size} tokens"
                )
        check_token_ids("idx", idx, vocab_size=self.config.vocab_size, sync=sync)


def check_targets(targets: torch.Tensor, idx: torch.Tensor, vocab_size: int, sync: bool = True) -> None:
    """Check a language model's `targets` against its input `idx` (shared by `GPT` and `llmguide.rnn.LSTM`).

    For example:

    ```python
    import torch
    from llmguide.model import check_targets

    idx = torch.tensor([[1, 2, 3]])
    check_targets(torch.tensor([[2, 3, -1]]), idx, vocab_size=10)  # -1 is IGNORE_INDEX: allowed
    try:
        check_targets(torch.tensor([[2, 3, -5]]), idx, vocab_size=10)
    except ValueError as error:
        print(error)
    #> targets holds token ids outside [0, vocab_size=10) (other than the ignored -1), e.g. -5
    ```

    Args:
        targets: the next token at every position: an int64 or int32 tensor of the shape of `idx`, each entry
            in `[0, vocab_size)` or `IGNORE_INDEX`.
        idx: the model's input token ids.
        vocab_size: the model's vocabulary size.
        sync: on an accelerator, check the ids' values now (a host sync) or on the device (see
            `llmguide.validate.check_token_ids`).

    Raises:
        TypeError: `targets` is not an int64 or int32 tensor.
        ValueError: `targets` has another shape than `idx`, or holds an id outside the vocabulary other than
            `IGNORE_INDEX`.
    """
    integer = isinstance(targets, torch.Tensor) and targets.dtype in (torch.int64, torch.int32)
    if integer and targets.shape != idx.shape:
        raise ValueError(f"targets must have the shape of idx {tuple(idx.shape)}, got {tuple(targets.shape)}")
    check_token_ids(
        "targets", targets, vocab_size=vocab_size, dim=idx.dim(), ignore_index=IGNORE_INDEX, sync=sync
    )


def eval_logits(model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
    """Return a model's logits for `idx`, computed in eval mode and without gradients.

    What scoring a model needs, as opposed to training it: dropout off (`model.eval()`), no autograd graph
    (`torch.no_grad()`), and the model left in the mode it was in, even when the forward pass raises. `idx`
    is moved to the device of the model's parameters; the logits stay there, in the model's dtype.

    For example, a GPT in training mode, with dropout, gives the same logits twice, and stays in training
    mode:

    ```python
    import torch
    from llmguide.model import GPT, GPTConfig, eval_logits

    model = GPT(GPTConfig(block_size=8, n_layer=1, n_head=1, n_embd=8, dropout=0.5)).train()
    idx = torch.tensor([[1, 2, 3]])
    first, second = eval_logits(model, idx), eval_logits(model, idx)
    print(tuple(first.shape), torch.equal(first, second), first.requires_grad, model.training)
    #> (1, 3, 256) True False True
    ```

    Args:
        model: a module whose `forward(idx)` returns `(logits, ...)`, such as `GPT` or `llmguide.rnn.LSTM`.
        idx: token ids, shape `(B, T)`, as the model's `forward` takes them.

    Returns:
        The logits, shape `(B, T, vocab_size)`, on the model's device, detached.

    Raises:
        TypeError: `model` is not a `torch.nn.Module`.
    """
    check_instance("model", model, nn.Module, "a torch.nn.Module")
    device = next(model.parameters(), torch.empty(0)).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits, *_ = model(idx.to(device))
    finally:
        model.train(was_training)
    return logits


def _kind(value: object) -> str:
    return f"a tensor of dtype {value.dtype}" if isinstance(value, torch.Tensor) else type(value).__name__
