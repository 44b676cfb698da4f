"""LoRA from scratch: low-rank adapters on a frozen model, and a frozen int8 base under them.

LoRA (Hu et al. 2021, https://arxiv.org/abs/2106.09685) freezes a linear layer `y = x W^T + b` and trains a
low-rank update beside it: `y = x W^T + b + (alpha / r) x A^T B^T`, with `A` of shape `r x d_in`, `B` of
shape `d_out x r`, `B` initialised to zero (so training starts from the unchanged model) and `A` at random.
Only `A` and `B` train: `r (d_in + d_out)` parameters per adapted matrix instead of `d_in d_out`, and no
gradients or optimizer state for the frozen weights.

- `LoRALinear`: the wrapper. With `splits=3` on a fused query-key-value projection (the GPT's `c_attn`) it
  trains three independent adapters, one per projection, as a model with separate `q_proj`, `k_proj` and
  `v_proj` layers would; `merge` folds the update into the frozen weight (inference then costs nothing
  extra) and `unmerge` takes it out again.
- `add_lora`: freeze a model and wrap its named linear layers (`"all"` or `"attention"`, as in
  `llmguide.sizing.lora_params`, whose count it matches for a `llmguide.model.GPT`).
- `merge_lora`, `unmerge_lora`, `lora_layers`, `trainable_params`: over a whole model.
- `Int8Linear` and `quantize_int8`: a frozen base stored in int8 with one fp32 scale per output row, which
  the adapters sit on: QLoRA (Dettmers et al. 2023, https://arxiv.org/abs/2305.14314) in miniature, with int8
  instead of its 4-bit NF4. The backward pass saves the int8 weight, not a dequantised copy.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from llmguide.validate import check_instance, check_int, check_real

__all__ = [
    "LORA_TARGETS",
    "Int8Linear",
    "LoRALinear",
    "add_lora",
    "lora_layers",
    "merge_lora",
    "quantize_int8",
    "trainable_params",
    "unmerge_lora",
]

LORA_TARGETS: dict[str, tuple[str, ...]] = {
    "attention": ("attn.c_attn", "attn.c_proj"),
    "all": ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"),
}
"""The GPT's linear layers that `add_lora` adapts for each preset of `llmguide.sizing.lora_params`: the
attention's fused query-key-value projection and its output projection, and for `"all"` the MLP's two."""

_QKV_SPLITS = {"attn.c_attn": 3}  # the fused projection holds the queries, keys and values


class _Int8Matmul(torch.autograd.Function):
    """`x W^T` with `W = scale[:, None] * w_int8`, saving the int8 weight (not a float copy) for backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, w_int8: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(w_int8, scale)
        return F.linear(x, w_int8.to(x.dtype) * scale[:, None].to(x.dtype))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        w_int8, scale = ctx.saved_tensors
        weight = w_int8.to(grad.dtype) * scale[:, None].to(grad.dtype)  # dequantised again, then dropped
        return grad @ weight, None, None


class Int8Linear(nn.Module):
    """A frozen linear layer stored in int8: one byte per weight and one fp32 scale per output row.

    Each row of the weight is scaled so that its largest magnitude maps to 127 and rounded (absmax
    quantisation, per output channel); the forward pass multiplies by the dequantised weight. Nothing in it
    trains: the weight and scales are buffers. Build it with `Int8Linear.from_linear`.

    For example:

    ```python
    import torch
    from torch import nn
    from llmguide.lora import Int8Linear

    torch.manual_seed(0)
    linear = nn.Linear(64, 32)
    q = Int8Linear.from_linear(linear)
    print(q.weight_int8.dtype, q.weight_int8.element_size(), "byte per weight")
    #> torch.int8 1 byte per weight
    error = (q.dequantized_weight() - linear.weight).abs().max()
    print(bool(error <= q.scale.max() / 2))  # rounding moves a weight by at most half a step
    #> True
    ```

    Args:
        weight_int8: int8 tensor of shape `(out_features, in_features)`.
        scale: fp32 tensor of shape `(out_features,)`: the value of one int8 step in each row.
        bias: fp32 tensor of shape `(out_features,)`, or None.

    Raises:
        TypeError: `weight_int8` is not an int8 tensor, or `scale` or `bias` is not a float tensor.
        ValueError: the shapes do not match.
    """

    def __init__(self, weight_int8: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None) -> None:
        super().__init__()
        check_instance("weight_int8", weight_int8, torch.Tensor, "an int8 tensor")
        if weight_int8.dtype != torch.int8 or weight_int8.dim() != 2:
            raise TypeError(
                f"weight_int8 must be a 2-D int8 tensor, got dtype {weight_int8.dtype} and shape "
                f"{tuple(weight_int8.shape)}"
            )
        out_features, in_features = weight_int8.shape
        for name, t in (("scale", scale), ("bias", bias)):
            if t is None and name == "bias":
                continue
            check_instance(name, t, torch.Tensor, "a float tensor")
            if not t.is_floating_point():
                raise TypeError(f"{name} must be a float tensor, got dtype {t.dtype}")
            if tuple(t.shape) != (out_features,):
                raise ValueError(f"{name} must have shape ({out_features},), got {tuple(t.shape)}")
        self.in_features, self.out_features = in_features, out_features
        self.register_buffer("weight_int8", weight_int8)
        self.register_buffer("scale", scale)
        self.register_buffer("bias", bias)

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> Int8Linear:
        """Quantise an `nn.Linear` (per output row, absmax to 127); the bias is kept in fp32.

        Args:
            linear: the layer to quantise.

        Returns:
            A new `Int8Linear`; `linear` is left unchanged.

        Raises:
            TypeError: `linear` is not an `nn.Linear`.
        """
        check_instance("linear", linear, nn.Linear, "an nn.Linear")
        w = linear.weight.detach().float()
        scale = w.abs().amax(dim=1).clamp_min(torch.finfo(torch.float32).tiny) / 127
        w_int8 = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8)
        bias = None if linear.bias is None else linear.bias.detach().float().clone()
        return cls(w_int8, scale, bias)

    def dequantized_weight(self) -> torch.Tensor:
        """Return the weight the layer multiplies by, in fp32, shape `(out_features, in_features)`."""
        return self.weight_int8.float() * self.scale[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return `x W^T + b` with the dequantised weight `W`; `x` has shape `(..., in_features)`."""
        y = _Int8Matmul.apply(x, self.weight_int8, self.scale)
        return y if self.bias is None else y + self.bias.to(y.dtype)


class LoRALinear(nn.Module):
    """A frozen linear layer plus a trained low-rank update: `base(x) + (alpha / rank) x A^T B^T`.

    `A` (`lora_A`) starts uniform, as PyTorch initialises a linear layer (Kaiming uniform with `a = sqrt(5)`,
    as peft does), and `B` (`lora_B`) starts at zero, so the wrapped layer first computes exactly what the
    base does. With `splits=s` the output is cut into `s` equal parts, each with its own `A` and `B` of rank
    `rank`: three adapters on a fused query-key-value projection, as on separate `q_proj`, `k_proj` and
    `v_proj` layers. The parameters are stored stacked, `lora_A` of shape `(splits, rank, in_features)` and
    `lora_B` of shape `(splits, out_features / splits, rank)`.

    For example, a rank-2 adapter on a 6 x 4 layer: 2 * (6 + 4) trainable parameters, and the same output as
    the base until `B` is trained:

    ```python
    import torch
    from torch import nn
    from llmguide.lora import LoRALinear

    torch.manual_seed(0)
    base = nn.Linear(6, 4)
    lora = LoRALinear(base, rank=2, alpha=4)
    print(sum(p.numel() for p in lora.parameters() if p.requires_grad))
    #> 20
    x = torch.randn(3, 6)
    print(torch.equal(lora(x), base(x)))
    #> True
    ```

    Args:
        base: the layer to adapt: an `nn.Linear` (frozen here: its `requires_grad` is turned off) or an
            `Int8Linear`.
        rank: the rank `r` of each adapter, `>= 1`.
        alpha: the scaling numerator: the update is multiplied by `alpha / rank` (default `alpha = rank`,
            a scaling of 1).
        splits: number of independent adapters, each on an equal slice of the outputs; must divide
            `out_features`.

    Raises:
        TypeError: `base` is neither an `nn.Linear` nor an `Int8Linear`, or `rank`, `alpha` or `splits` has
            the wrong type.
        ValueError: `rank` or `splits` below 1, `alpha` not positive, or `splits` not dividing the outputs.
    """

    def __init__(self, base: nn.Module, rank: int, alpha: float | None = None, splits: int = 1) -> None:
        super().__init__()
        check_instance("base", base, (nn.Linear, Int8Linear), "an nn.Linear or an Int8Linear")
        self.rank = check_int("rank", rank, minimum=1)
        self.alpha = float(rank if alpha is None else check_real("alpha", alpha, minimum=0, min_open=True))
        self.splits = check_int("splits", splits, minimum=1)
        if base.out_features % splits != 0:
            raise ValueError(f"splits={splits} must divide the layer's out_features={base.out_features}")
        self.scaling = self.alpha / self.rank
        for p in base.parameters():
            p.requires_grad_(False)
        self.base = base
        self.in_features, self.out_features = base.in_features, base.out_features
        device = next(base.buffers(), None) if isinstance(base, Int8Linear) else base.weight
        factory = dict(device=device.device, dtype=torch.float32)
        self.lora_A = nn.Parameter(torch.empty(splits, rank, self.in_features, **factory))
        self.lora_B = nn.Parameter(torch.zeros(splits, self.out_features // splits, rank, **factory))
        for a in self.lora_A.data:  # each adapter's A as nn.Linear(in_features, rank) would start
            nn.init.kaiming_uniform_(a, a=math.sqrt(5))
        self.merged = False

    def delta_weight(self) -> torch.Tensor:
        """Return the update `(alpha / rank) B A` to the base weight, shape `(out_features, in_features)`.

        With several splits, the adapters' updates are stacked along the outputs.
        """
        return (self.lora_B @ self.lora_A).reshape(self.out_features, self.in_features) * self.scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the base's output plus the update's, for `x` of shape `(..., in_features)`."""
        y = self.base(x)
        if self.merged:
            return y
        h = torch.einsum("...i,sri->...sr", x, self.lora_A.to(x.dtype))  # (..., splits, rank)
        u = torch.einsum("...sr,sor->...so", h, self.lora_B.to(x.dtype))  # (..., splits, out / splits)
        return y + self.scaling * u.flatten(-2)

    def merge(self) -> None:
        """Add the update into the base weight: the forward pass is then one matrix multiply.

        In exact arithmetic the output is unchanged; in float32 it differs by rounding (the tests bound it).

        Raises:
            TypeError: the base is an `Int8Linear`, whose int8 weight cannot hold the sum.
            RuntimeError: already merged.
        """
        self._fold(+1)

    def unmerge(self) -> None:
        """Subtract the update from the base weight again, undoing `merge` (up to float32 rounding).

        Raises:
            TypeError: the base is an `Int8Linear`.
            RuntimeError: not merged.
        """
        self._fold(-1)

    def _fold(self, sign: int) -> None:
        if isinstance(self.base, Int8Linear):
            raise TypeError(
                "an adapter on an Int8Linear cannot be merged: the int8 weight cannot hold the sum; "
                "dequantise the base into an nn.Linear first"
            )
        if self.merged == (sign > 0):
            raise RuntimeError(
                "the adapter is already merged" if self.merged else "the adapter is not merged"
            )
        with torch.no_grad():
            self.base.weight += sign * self.delta_weight().to(self.base.weight.dtype)
        self.merged = sign > 0


def add_lora(
    model: nn.Module,
    *,
    rank: int,
    alpha: float | None = None,
    targets: str | Sequence[str] = "all",
    splits: Mapping[str, int] | None = None,
) -> list[str]:
    """Freeze `model` and wrap its target linear layers in `LoRALinear` adapters, in place.

    Every parameter of the model stops training; only the adapters' `A` and `B` train. For a
    `llmguide.model.GPT`, `targets="all"` adapts the four linear layers of every block, with three adapters on
    the fused `c_attn` (queries, keys, values), so that the trainable count is `llmguide.sizing.lora_params`
    for the model's config:

    ```python
    import torch
    from llmguide.lora import add_lora, trainable_params
    from llmguide.model import GPT, GPTConfig
    from llmguide.sizing import lora_params

    torch.manual_seed(0)
    config = GPTConfig(n_layer=2, n_head=2, n_embd=32, block_size=16)
    model = GPT(config)
    names = add_lora(model, rank=4)
    print(names[:2])
    #> ['transformer.h.0.attn.c_attn', 'transformer.h.0.attn.c_proj']
    print(trainable_params(model), lora_params(config, rank=4))
    #> 4608 4608
    ```

    Args:
        model: the model; its modules whose qualified name ends with a target are adapted.
        rank: the adapters' rank, `>= 1`.
        alpha: the scaling numerator (`LoRALinear`); default `rank`.
        targets: `"all"` or `"attention"` (the presets of `LORA_TARGETS`), or a sequence of name suffixes
            such as `["attn.c_attn"]`. A suffix matches whole name parts (`"c_proj"` matches
            `attn.c_proj` and `mlp.c_proj`).
        splits: adapters per target, by suffix; default `{"attn.c_attn": 3}` (one per projection of the fused
            layer). Pass `{}` for one adapter on each layer, as peft puts on a fused layer.

    Returns:
        The qualified names of the adapted layers, in the model's order.

    Raises:
        TypeError: `model` is not an `nn.Module`, `targets` has the wrong kind, or a target is a module other
            than an `nn.Linear` or `Int8Linear`.
        ValueError: an unknown preset, no layer matches the targets, or a layer is already adapted.
    """
    check_instance("model", model, nn.Module, "a torch.nn.Module")
    if isinstance(targets, str):
        if targets not in LORA_TARGETS:
            raise ValueError(
                f"targets must be one of {sorted(LORA_TARGETS)} or a sequence of names, got {targets!r}"
            )
        suffixes = LORA_TARGETS[targets]
    else:
        if not isinstance(targets, Sequence) or not all(isinstance(t, str) and t for t in targets):
            raise TypeError(
                f"targets must be a preset name or a sequence of non-empty names, got {targets!r}"
            )
        suffixes = tuple(targets)
    splits = dict(_QKV_SPLITS if splits is None else splits)
    rank = check_int("rank", rank, minimum=1)

    def matches(name: str, suffix: str) -> bool:
        return name == suffix or name.endswith("." + suffix)

    chosen = [(n, m) for n, m in model.named_modules() if any(matches(n, s) for s in suffixes)]
    if not chosen:
        raise ValueError(f"no module of the model matches the targets {list(suffixes)}")
    for name, module in chosen:
        if isinstance(module, LoRALinear):
            raise ValueError(f"{name} already has a LoRA adapter")
        check_instance(name, module, (nn.Linear, Int8Linear), "an nn.Linear or an Int8Linear")
    for p in model.parameters():
        p.requires_grad_(False)
    for name, module in chosen:
        s = next((v for k, v in splits.items() if matches(name, k)), 1)
        _replace(model, name, LoRALinear(module, rank, alpha, splits=s))
    return [name for name, _ in chosen]


def quantize_int8(model: nn.Module, targets: str | Sequence[str] = "all") -> list[str]:
    """Replace the model's target `nn.Linear` layers by frozen `Int8Linear` copies, in place.

    Call it before `add_lora` to train adapters on an int8 base. The embeddings, the LayerNorms and the
    output head stay in fp32 (bitsandbytes leaves them in 16 bits for QLoRA).

    Args:
        model: the model.
        targets: as in `add_lora`.

    Returns:
        The qualified names of the quantised layers.

    Raises:
        TypeError, ValueError: as `add_lora`; a target that is not an `nn.Linear` raises `TypeError`.
    """
    check_instance("model", model, nn.Module, "a torch.nn.Module")
    suffixes = LORA_TARGETS.get(targets) if isinstance(targets, str) else tuple(targets)
    if suffixes is None:
        raise ValueError(
            f"targets must be one of {sorted(LORA_TARGETS)} or a sequence of names, got {targets!r}"
        )
    chosen = [
        (n, m) for n, m in model.named_modules() if any(n == s or n.endswith("." + s) for s in suffixes)
    ]
    if not chosen:
        raise ValueError(f"no module of the model matches the targets {list(suffixes)}")
    for name, module in chosen:
        check_instance(name, module, nn.Linear, "an nn.Linear")
        _replace(model, name, Int8Linear.from_linear(module))
    return [name for name, _ in chosen]


def lora_layers(model: nn.Module) -> Iterator[tuple[str, LoRALinear]]:
    """Yield `(qualified name, layer)` for every `LoRALinear` in `model`.

    Args:
        model: any module.
    """
    for name, module in model.named_modules():
        if isinstance(module, LoRALinear):
            yield name, module


def merge_lora(model: nn.Module) -> int:
    """Merge every adapter of `model` into its base weight (see `LoRALinear.merge`).

    Args:
        model: a model with adapters.

    Returns:
        The number of layers merged.

    Raises:
        TypeError: an adapter sits on an `Int8Linear`.
        RuntimeError: an adapter is already merged.
    """
    layers = [layer for _, layer in lora_layers(model)]
    for layer in layers:
        layer.merge()
    return len(layers)


def unmerge_lora(model: nn.Module) -> int:
    """Take every adapter of `model` out of its base weight again (see `LoRALinear.unmerge`).

    Args:
        model: a model whose adapters were merged.

    Returns:
        The number of layers unmerged.

    Raises:
        RuntimeError: an adapter is not merged.
    """
    layers = [layer for _, layer in lora_layers(model)]
    for layer in layers:
        layer.unmerge()
    return len(layers)


def trainable_params(model: nn.Module) -> int:
    """Count the parameters that train (`requires_grad`); a tied matrix counts once.

    Args:
        model: any module.

    Returns:
        The number of trainable scalars.
    """
    check_instance("model", model, nn.Module, "a torch.nn.Module")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    """Put `new` in place of the submodule called `name`."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)
