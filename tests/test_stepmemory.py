"""Tests of llmguide.stepmemory against byte counts written out by hand: 4 bytes per fp32 weight and gradient,
8 for AdamW's two moments plus a 4-byte step counter per tensor, 1 byte per int8 weight."""

from __future__ import annotations

import pytest
import torch

from llmguide.lora import add_lora, quantize_int8
from llmguide.model import GPT, GPTConfig
from llmguide.stepmemory import measure_step

CONFIG = GPTConfig(block_size=16, n_layer=2, n_head=2, n_embd=32)


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randint(0, 256, (4, 16), generator=torch.Generator().manual_seed(0))
    return x, x


def test_full_fine_tune_bytes() -> None:
    torch.manual_seed(0)
    model = GPT(CONFIG)
    n, tensors = model.num_params(), len(list(model.parameters()))
    mem = measure_step(model, *_batch())
    assert mem.trainable == n
    assert mem.weights == 4 * n
    assert mem.gradients == 4 * n
    assert mem.optimizer_state == 8 * n + 4 * tensors
    assert mem.activations > 4 * 4 * 16 * 256  # at least the logits of the batch
    assert mem.total == mem.weights + mem.gradients + mem.optimizer_state + mem.activations


def test_lora_and_int8_bytes() -> None:
    torch.manual_seed(0)
    full = GPT(CONFIG)
    lora = GPT(CONFIG)
    add_lora(lora, rank=4)
    int8 = GPT(CONFIG)
    quantize_int8(int8)
    add_lora(int8, rank=4)
    full_mem = measure_step(full, *_batch())
    lora_mem = measure_step(lora, *_batch())
    int8_mem = measure_step(int8, *_batch())
    adapters = lora_mem.trainable
    assert lora_mem.gradients == 4 * adapters
    assert lora_mem.optimizer_state == 8 * adapters + 4 * 2 * 4 * CONFIG.n_layer  # A and B of 8 layers
    assert lora_mem.weights == full_mem.weights + 4 * adapters
    # the four linear layers of each block go from 4 bytes per weight to 1, plus a 4-byte scale per row
    d = CONFIG.n_embd
    matrices = [(3 * d, d), (d, d), (4 * d, d), (d, 4 * d)]
    saved = CONFIG.n_layer * sum(3 * o * i - 4 * o for o, i in matrices)
    assert int8_mem.weights == lora_mem.weights - saved
    assert int8_mem.activations <= lora_mem.activations  # int8 weights saved for backward are not activations


def test_nothing_to_train() -> None:
    model = GPT(CONFIG).requires_grad_(False)
    with pytest.raises(ValueError, match="requires_grad"):
        measure_step(model, *_batch())
