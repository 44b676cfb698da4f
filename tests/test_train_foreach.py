"""`train` updates the weights on the CPU with AdamW's multi-tensor (`foreach`) implementation, for speed. It must
be the same arithmetic as torch's reference single-tensor loop: the same weights and losses, bit for bit."""

from __future__ import annotations

import torch

from llmguide.data import corpus_data
from llmguide.model import GPT, GPTConfig
from llmguide.train import train


def _trained(monkeypatch, foreach: bool | None) -> tuple[GPT, list[float]]:
    made = []
    adamw = torch.optim.AdamW

    def recording_adamw(*args, **kwargs):
        if foreach is not None:  # force the implementation, as the reference
            kwargs["foreach"] = foreach
        made.append(adamw(*args, **kwargs))
        return made[-1]

    with monkeypatch.context() as patch:
        patch.setattr(torch.optim, "AdamW", recording_adamw)
        torch.manual_seed(0)
        model = GPT(GPTConfig(block_size=32, n_layer=2, n_head=2, n_embd=16, vocab_size=128, bias=False))
        history = train(model, corpus_data(block_size=32), steps=60, batch_size=8, lr=3e-3, device="cpu")
    assert len(made) == 1
    if foreach is None:
        assert made[0].defaults["foreach"] is True  # what train chose on the CPU
    return model, history.train_loss + history.val_loss


def test_foreach_adamw_gives_the_single_tensor_loops_weights(monkeypatch):
    model, losses = _trained(monkeypatch, foreach=None)
    reference, reference_losses = _trained(monkeypatch, foreach=False)
    assert losses == reference_losses
    for (name, p), q in zip(model.named_parameters(), reference.parameters(), strict=True):
        assert torch.equal(p, q), name
