"""`train` steps AdamW with its multi-tensor (`foreach`) implementation on the CPU (`llmguide.train.make_optimizer`),
for speed. It must be the same arithmetic as torch's reference single-tensor loop, the same weights and losses bit
for bit, with the decay on the matrices only."""

from __future__ import annotations

import torch

from llmguide.data import corpus_data
from llmguide.model import GPT, GPTConfig
from llmguide.train import make_optimizer, train


def _trained(monkeypatch, reference: bool) -> tuple[GPT, list[float]]:
    made = []
    adamw = torch.optim.AdamW

    def recording_adamw(*args, **kwargs):
        if reference:  # torch's single-tensor loop, the reference implementation
            kwargs.update(fused=None, foreach=False)
        made.append(adamw(*args, **kwargs))
        return made[-1]

    with monkeypatch.context() as patch:
        patch.setattr(torch.optim, "AdamW", recording_adamw)
        torch.manual_seed(0)
        model = GPT(GPTConfig(block_size=32, n_layer=2, n_head=2, n_embd=16, vocab_size=128, bias=False))
        history = train(model, corpus_data(block_size=32), steps=60, batch_size=8, lr=3e-3, device="cpu")
    assert len(made) == 1
    assert made[0].defaults["foreach"] is (not reference)  # what train chose on the CPU: foreach
    return model, history.train_loss + history.val_loss


def test_foreach_adamw_gives_the_single_tensor_loops_weights(monkeypatch):
    model, losses = _trained(monkeypatch, reference=False)
    reference, reference_losses = _trained(monkeypatch, reference=True)
    assert losses == reference_losses
    for (name, p), q in zip(model.named_parameters(), reference.parameters(), strict=True):
        assert torch.equal(p, q), name


def test_make_optimizer_decays_the_matrices_only():
    model = GPT(GPTConfig(block_size=16, n_layer=1, n_head=2, n_embd=8, vocab_size=32))
    decayed, plain = make_optimizer(model, lr=1e-3, weight_decay=0.2).param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    assert decayed["weight_decay"] == 0.2 and plain["weight_decay"] == 0.0
    assert {names[id(p)] for p in decayed["params"]} == {
        n for n, p in model.named_parameters() if p.dim() == 2
    }
    assert all(p.dim() == 1 for p in plain["params"])  # biases and LayerNorm gains
    assert len(decayed["params"]) + len(plain["params"]) == len(list(model.parameters()))
