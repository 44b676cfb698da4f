"""Measure the memory one training step holds, counted from its tensors (exact on any device).

A training step holds four kinds of tensors: the model's weights (trained or frozen), the gradients of the
trained ones, the optimizer's state (AdamW: two moments per trained parameter and a step counter per
tensor), and the activations that autograd saves during the forward pass for the backward pass. `measure_step`
runs one AdamW step and counts the bytes of each from the tensors themselves: every storage once, the saved
activations through `torch.autograd.graph.saved_tensors_hooks`, leaving out the weights that autograd saves
(already counted as weights). Temporaries that live within one operation, and the allocator's own headroom,
are not counted, so the sum is the step's floor, and the part that a fine-tuning method changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from llmguide.validate import check_instance

__all__ = ["StepMemory", "measure_step"]


@dataclass(frozen=True)
class StepMemory:
    """Bytes held by one training step, by kind (see `measure_step`).

    Attributes:
        weights: bytes of the parameters and buffers, trained and frozen.
        gradients: bytes of the gradients after the backward pass.
        optimizer_state: bytes of the optimizer's state after the step.
        activations: bytes of the tensors saved for the backward pass, weights left out.
        trainable: number of trained parameters (scalars).
    """

    weights: int
    gradients: int
    optimizer_state: int
    activations: int
    trainable: int

    @property
    def total(self) -> int:
        """All four kinds together, in bytes."""
        return self.weights + self.gradients + self.optimizer_state + self.activations


def _nbytes(tensors: list[torch.Tensor]) -> int:
    seen: dict[int, int] = {}
    for t in tensors:
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
    return sum(seen.values())


def measure_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, lr: float = 1e-4) -> StepMemory:
    """Run one AdamW step on the model's trainable parameters and count the bytes it holds.

    For example, a full fine-tune of a linear layer in fp32: 4 bytes per weight, 4 per gradient, 8 for Adam's
    two moments (plus 4 bytes of step counter per tensor):

    ```python
    import torch
    from llmguide.stepmemory import measure_step

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(10, 10, bias=False)

        def forward(self, x, y):
            return None, ((self.lin(x.float()) - y) ** 2).mean()

    mem = measure_step(Tiny(), torch.ones(2, 10), torch.zeros(2, 10))
    print(mem.weights, mem.gradients, mem.optimizer_state)
    #> 400 400 804
    ```

    Args:
        model: a module whose `forward(x, y)` returns `(logits, loss)`; its parameters with `requires_grad`
            train. It is updated in place by one step of learning rate `lr`.
        x: the inputs of one batch.
        y: its targets.
        lr: the step's learning rate.

    Returns:
        A `StepMemory`.

    Raises:
        TypeError: `model` is not an `nn.Module`.
        ValueError: no parameter of the model trains.
    """
    check_instance("model", model, nn.Module, "a torch.nn.Module")
    trained = [p for p in model.parameters() if p.requires_grad]
    if not trained:
        raise ValueError("no parameter of the model has requires_grad: there is nothing to train")
    optimizer = torch.optim.AdamW(trained, lr=lr, foreach=False)
    held = list(model.parameters()) + list(model.buffers())
    held_storages = {t.untyped_storage().data_ptr() for t in held}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in held_storages:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        _, loss = model(x, y)
    loss.backward()
    optimizer.step()
    gradients = _nbytes([p.grad for p in trained if p.grad is not None])
    state = [v for s in optimizer.state.values() for v in s.values() if isinstance(v, torch.Tensor)]
    memory = StepMemory(
        weights=_nbytes(held),
        gradients=gradients,
        optimizer_state=_nbytes(state),
        activations=sum(saved.values()),
        trainable=sum(p.numel() for p in trained),
    )
    optimizer.zero_grad(set_to_none=True)
    return memory
