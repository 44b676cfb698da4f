"""Tests of llmguide.lora against independent truths: Hugging Face peft's LoRA with the same A and B, the
closed-form count of llmguide.sizing.lora_params, the dense update W + (alpha / r) B A written out, and
three separate layers standing in for the fused query-key-value projection."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from llmguide.lora import (
    Int8Linear,
    LoRALinear,
    add_lora,
    lora_layers,
    merge_lora,
    quantize_int8,
    trainable_params,
    unmerge_lora,
)
from llmguide.model import GPT, GPTConfig
from llmguide.sizing import lora_params

CONFIG = GPTConfig(block_size=16, n_layer=2, n_head=2, n_embd=32)


def _trained_like(layer: LoRALinear, seed: int) -> None:
    """Give B non-zero values, as training would."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        layer.lora_B.copy_(torch.randn(layer.lora_B.shape, generator=g) * 0.1)


def _gpt(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(CONFIG)


@pytest.mark.parametrize("rank", [1, 4, 16])
@pytest.mark.parametrize("targets", ["all", "attention"])
def test_trainable_count_is_sizing_lora_params(rank: int, targets: str) -> None:
    model = _gpt()
    add_lora(model, rank=rank, targets=targets)
    assert trainable_params(model) == lora_params(CONFIG, rank=rank, targets=targets)
    # and only the adapters train
    assert all(("lora_" in n) == p.requires_grad for n, p in model.named_parameters())


def test_one_adapter_on_the_fused_layer_counts_fewer() -> None:
    # peft's count for GPT-2's fused c_attn: r (d + 3d) instead of three adapters' 3 r (d + d)
    model = _gpt()
    add_lora(model, rank=4, targets=["attn.c_attn"], splits={})
    d = CONFIG.n_embd
    assert trainable_params(model) == CONFIG.n_layer * 4 * (d + 3 * d)


def test_starts_as_the_base_and_equals_the_dense_update() -> None:
    torch.manual_seed(0)
    base = nn.Linear(8, 6)
    x = torch.randn(5, 8)
    reference = base(x)
    layer = LoRALinear(base, rank=3, alpha=6)
    assert torch.equal(layer(x), reference)  # B = 0: the adapted layer is the base
    _trained_like(layer, 1)
    a, b = layer.lora_A[0], layer.lora_B[0]
    dense = x @ (base.weight + (6 / 3) * b @ a).T + base.bias
    torch.testing.assert_close(layer(x), dense, rtol=1e-5, atol=1e-6)


def test_merge_and_unmerge() -> None:
    model = _gpt()
    idx = torch.randint(0, 256, (2, 16), generator=torch.Generator().manual_seed(0))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    add_lora(model, rank=4, alpha=8)
    for i, (_, layer) in enumerate(lora_layers(model)):
        _trained_like(layer, i)
    adapted = model(idx)[0]
    assert (adapted - _gpt()(idx)[0]).abs().max() > 1e-4  # B != 0 changes the model
    assert merge_lora(model) == 4 * CONFIG.n_layer
    torch.testing.assert_close(model(idx)[0], adapted, rtol=0, atol=1e-5)
    with pytest.raises(RuntimeError, match="already merged"):
        merge_lora(model)
    unmerge_lora(model)
    torch.testing.assert_close(model(idx)[0], adapted, rtol=0, atol=1e-5)
    for name, p in model.named_parameters():
        if "lora_" not in name:  # the frozen weights are back, up to one rounding of the update
            torch.testing.assert_close(p, before[name.replace(".base", "")], rtol=0, atol=1e-6)
    with pytest.raises(RuntimeError, match="not merged"):
        unmerge_lora(model)


def test_changes_the_model_once_trained() -> None:
    plain = _gpt()
    model = _gpt()
    add_lora(model, rank=2)
    idx = torch.randint(0, 256, (1, 8), generator=torch.Generator().manual_seed(0))
    assert torch.equal(model(idx)[0], plain(idx)[0])
    for i, (_, layer) in enumerate(lora_layers(model)):
        _trained_like(layer, i)
    assert (model(idx)[0] - plain(idx)[0]).abs().max() > 1e-4


def test_split_adapters_equal_three_separate_layers() -> None:
    # a fused projection with three rank-r adapters == three separate linear layers, each with its own
    torch.manual_seed(0)
    d = 8
    q, k, v = (nn.Linear(d, d) for _ in range(3))
    fused = nn.Linear(d, 3 * d)
    with torch.no_grad():
        fused.weight.copy_(torch.cat([q.weight, k.weight, v.weight]))
        fused.bias.copy_(torch.cat([q.bias, k.bias, v.bias]))
    layer = LoRALinear(fused, rank=2, alpha=4, splits=3)
    _trained_like(layer, 0)
    x = torch.randn(4, d)
    parts = []
    for i, lin in enumerate((q, k, v)):
        a, b = layer.lora_A[i], layer.lora_B[i]
        parts.append(lin(x) + 2.0 * x @ a.T @ b.T)
    torch.testing.assert_close(layer(x), torch.cat(parts, dim=-1), rtol=1e-5, atol=1e-6)


def test_same_logits_as_peft(monkeypatch: pytest.MonkeyPatch) -> None:
    import peft  # a test dependency: a broken install must fail here, not skip

    # peft before 0.18 reads a model's config as a dict or through `to_dict()`; GPTConfig is a dataclass.
    monkeypatch.setattr(GPTConfig, "to_dict", dataclasses.asdict, raising=False)
    model = _gpt()
    theirs_base = _gpt()
    names = ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"]
    add_lora(model, rank=4, alpha=8, targets=names, splits={})
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=names, lora_dropout=0.0, bias="none")
    theirs = peft.get_peft_model(theirs_base, config)
    ours = dict(lora_layers(model))
    copied = 0
    for name, module in theirs.named_modules():
        if isinstance(module, peft.tuners.lora.LoraLayer):
            layer = ours[name.removeprefix("base_model.model.")]
            _trained_like(layer, copied)
            with torch.no_grad():  # the same A and B in both
                module.lora_A["default"].weight.copy_(layer.lora_A[0])
                module.lora_B["default"].weight.copy_(layer.lora_B[0])
            copied += 1
    assert copied == 4 * CONFIG.n_layer
    assert trainable_params(model) == sum(p.numel() for p in theirs.parameters() if p.requires_grad)
    idx = torch.randint(0, 256, (2, 16), generator=torch.Generator().manual_seed(1))
    ours_logits = model(idx)[0]
    theirs_logits = theirs(idx)[0]
    assert (ours_logits - _gpt()(idx)[0]).abs().max() > 1e-3  # the adapters do something
    torch.testing.assert_close(ours_logits, theirs_logits, rtol=1e-5, atol=1e-5)
    merge_lora(model)
    merged = theirs.merge_and_unload()
    torch.testing.assert_close(model(idx)[0], merged(idx)[0], rtol=1e-5, atol=1e-5)


def test_int8_linear_matches_dequantised_dense() -> None:
    torch.manual_seed(0)
    linear = nn.Linear(16, 8)
    q = Int8Linear.from_linear(linear)
    # the quantisation by hand: each row's absmax is 127 steps
    w = linear.weight.detach()
    step = w.abs().amax(dim=1, keepdim=True) / 127
    assert torch.equal(q.weight_int8, torch.round(w / step).to(torch.int8))
    assert q.weight_int8.abs().amax(dim=1).eq(127).all()
    x = torch.randn(3, 16, requires_grad=True)
    y = q(x)
    torch.testing.assert_close(y, x @ (q.weight_int8.float() * step).T + linear.bias, rtol=1e-5, atol=1e-6)
    (y**2).sum().backward()
    x2 = x.detach().clone().requires_grad_(True)
    ((x2 @ (q.weight_int8.float() * step).T + linear.bias) ** 2).sum().backward()
    torch.testing.assert_close(x.grad, x2.grad, rtol=1e-5, atol=1e-5)
    assert not any(True for _ in q.parameters())  # nothing trains


def test_lora_on_int8_base_trains_and_refuses_merge() -> None:
    model = _gpt()
    quantize_int8(model)
    add_lora(model, rank=4)
    assert trainable_params(model) == lora_params(CONFIG, rank=4)
    idx = torch.randint(0, 256, (2, 16), generator=torch.Generator().manual_seed(0))
    _, loss = model(idx, idx)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads) and any(g.abs().max() > 0 for g in grads)
    with pytest.raises(TypeError, match="Int8Linear"):
        merge_lora(model)


def test_init_matches_nn_linear_bound() -> None:
    layer = LoRALinear(nn.Linear(100, 10), rank=8)
    assert layer.lora_A.abs().max() <= 1 / math.sqrt(100)  # Kaiming uniform with a = sqrt(5)
    assert torch.count_nonzero(layer.lora_B) == 0


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="base"):
        LoRALinear(nn.Conv1d(2, 2, 1), rank=2)
    with pytest.raises(ValueError, match="rank"):
        LoRALinear(nn.Linear(4, 4), rank=0)
    with pytest.raises(ValueError, match="alpha"):
        LoRALinear(nn.Linear(4, 4), rank=2, alpha=0)
    with pytest.raises(ValueError, match="splits"):
        LoRALinear(nn.Linear(4, 4), rank=2, splits=3)
    with pytest.raises(ValueError, match="targets"):
        add_lora(_gpt(), rank=2, targets="mlp")
    with pytest.raises(ValueError, match="no module"):
        add_lora(_gpt(), rank=2, targets=["q_proj"])
    model = _gpt()
    add_lora(model, rank=2)
    with pytest.raises(ValueError, match="already"):
        add_lora(model, rank=2)
    with pytest.raises(TypeError, match=r"transformer\.wte"):
        add_lora(_gpt(), rank=2, targets=["wte"])
