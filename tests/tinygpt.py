"""A tiny GPT with varied weights, and generation the obvious way: shared by test_generate and test_decode."""

from __future__ import annotations

import torch

from llmguide.model import GPT, GPTConfig
from llmguide.sampling import sample

BLOCK = 16  # the tiny model's context window


def random_model(seed: int = 0, **overrides: object) -> GPT:
    """A tiny GPT with all weights drawn from N(0, 0.1^2), so that its outputs vary with the context.

    At GPT-2 init the logits of a tiny model differ by very little; with these weights the top two logits
    of the greedy runs in the tests differ by more than 1e-3, far above float32 rounding, so an equality of
    tokens tests the cache and not luck.
    """
    torch.manual_seed(seed)
    config = dict(vocab_size=64, block_size=BLOCK, n_layer=2, n_head=2, n_embd=32)
    model = GPT(GPTConfig(**{**config, **overrides}))
    with torch.no_grad():
        for p in model.parameters():  # drawn in the order of the shape, whatever the parameter's strides
            p.copy_(torch.empty(p.shape).normal_(0.0, 0.1))
    return model.eval()


def reference_generate(
    model: GPT, idx: torch.Tensor, n: int, generator: torch.Generator | None, **kw: object
) -> torch.Tensor:
    """Generation the obvious way: run the whole cropped context through `forward` for every new token."""
    with torch.no_grad():
        for _ in range(n):
            logits = model(idx[:, -model.config.block_size :])[0][:, -1]
            idx = torch.cat([idx, sample(logits, generator=generator, **kw).unsqueeze(1)], dim=1)
    return idx


def prompt(batch: int, length: int, seed: int = 1) -> torch.Tensor:
    """`batch` prompts of `length` token ids below 64, from a seeded generator."""
    return torch.randint(0, 64, (batch, length), generator=torch.Generator().manual_seed(seed))
