"""The GPT's MLP uses the exact GELU, x * Phi(x), not GPT-2's tanh approximation (as model.py documents)."""

from __future__ import annotations

import math

import torch

from llmguide.model import MLP, GPTConfig


def test_mlp_gelu_is_the_exact_one():
    mlp = MLP(GPTConfig(vocab_size=8, block_size=4, n_layer=1, n_head=1, n_embd=4))
    xs = [-3.0, -1.0, -0.5, 0.0, 0.7, 2.0]
    phi = [0.5 * (1 + math.erf(x / math.sqrt(2))) for x in xs]  # the standard normal CDF, from math
    got = mlp.gelu(torch.tensor(xs, dtype=torch.float64)).tolist()
    for x, p, g in zip(xs, phi, got, strict=True):
        assert abs(g - x * p) < 1e-12
    # the tanh approximation differs measurably (by about 1e-4 near x = -1)
    tanh = 0.5 * -1.0 * (1 + math.tanh(math.sqrt(2 / math.pi) * (-1.0 + 0.044715 * -1.0)))
    assert abs(got[1] - tanh) > 1e-5
