"""Direct preference optimisation (Rafailov et al. 2023, https://arxiv.org/abs/2305.18290).

Given a prompt `x` and two answers, a preferred one `y_w` and a rejected one `y_l`, DPO trains the policy
`pi` directly on the pairs, with a frozen copy of the starting model as the reference `pi_ref` (equation 7 of
the paper):

    L = -log sigmoid( beta * [ (log pi(y_w|x) - log pi_ref(y_w|x)) - (log pi(y_l|x) - log pi_ref(y_l|x)) ] )

`beta * (log pi(y|x) - log pi_ref(y|x))` is the *implicit reward* of an answer; the loss is the logistic loss
of the reward margin, and `beta` sets how far the policy may move from the reference (it is the weight of
the KL penalty in the RLHF objective that DPO solves in closed form).

- `sequence_logprobs`: the summed log-probability of each row's targets (the answer's tokens).
- `dpo_loss`: the loss above and the implicit rewards.
- `train_dpo`: a short training loop on pairs from `llmguide.instruct.CaseTask.get_pairs`.
- `mean_token_kl`: the drift of a model from another, as the KL divergence of their next-token
  distributions averaged over positions.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from llmguide.model import IGNORE_INDEX
from llmguide.validate import check_instance, check_int, check_real

__all__ = ["DPOHistory", "PairSource", "dpo_loss", "mean_token_kl", "sequence_logprobs", "train_dpo"]


class PairSource(Protocol):
    """What `train_dpo` needs: preference pairs, chosen rows first, then the rejected rows in the same order."""

    def get_pairs(
        self, split: str, batch_size: int, *, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return `(x, y)` of shape `(2 * batch_size, T)`: chosen rows, then rejected rows."""
        ...


def sequence_logprobs(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Return, for each row, the sum of the log-probabilities the model gives its targets, in nats.

    Positions whose target is `IGNORE_INDEX` (the prompt, the padding) count for nothing, so with the prompt
    masked this is `log pi(answer | prompt)`.

    For example, an untrained byte model scores each token about `log(1/256)`:

    ```python
    import torch
    from llmguide.dpo import sequence_logprobs
    from llmguide.model import GPT, GPTConfig

    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=8, n_layer=1, n_head=1, n_embd=8))
    x = torch.tensor([[1, 2, 3]])
    y = torch.tensor([[-1, 3, 4]])  # two targets
    per_token = float(sequence_logprobs(model, x, y)[0]) / 2
    print(abs(per_token - -torch.log(torch.tensor(256.0)).item()) < 0.1)  # an untrained model: near uniform
    #> True
    ```

    Args:
        model: a model whose `forward(x)` returns `(logits, ...)` with logits of shape `(B, T, vocab)`.
        x: token ids, shape `(B, T)`.
        y: targets of the same shape; `IGNORE_INDEX` where there is none.

    Returns:
        Shape `(B,)`, with gradients if the model has them.

    Raises:
        ValueError: `x` and `y` have different shapes.
    """
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    logits, _ = model(x)
    logp = F.log_softmax(logits.float(), dim=-1)
    keep = y != IGNORE_INDEX
    picked = logp.gather(-1, y.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    return (picked * keep).sum(dim=-1)


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    reference_chosen: torch.Tensor,
    reference_rejected: torch.Tensor,
    beta: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The DPO loss of a batch of pairs (Rafailov et al. 2023, equation 7), and the implicit rewards.

    For example, a policy that still equals its reference has margin 0 and loss `log 2`:

    ```python
    import math
    import torch
    from llmguide.dpo import dpo_loss

    lp = torch.tensor([-3.0, -5.0])
    loss, _, _ = dpo_loss(lp, lp - 1, lp, lp - 1, beta=0.5)
    print(f"{float(loss):.4f} {math.log(2):.4f}")
    #> 0.6931 0.6931
    ```

    Args:
        policy_chosen: `log pi(y_w|x)` per pair, shape `(B,)`, in nats.
        policy_rejected: `log pi(y_l|x)` per pair.
        reference_chosen: `log pi_ref(y_w|x)` per pair.
        reference_rejected: `log pi_ref(y_l|x)` per pair.
        beta: the strength of the pull towards the reference, `> 0`.

    Returns:
        `(loss, chosen_rewards, rejected_rewards)`: the mean loss over the batch, and each pair's implicit
        rewards `beta * (log pi - log pi_ref)` of the chosen and the rejected answers (detached).

    Raises:
        TypeError: an input is not a tensor or `beta` not a number.
        ValueError: the four inputs do not have one shape, or `beta <= 0`.
    """
    beta = check_real("beta", beta, minimum=0, min_open=True)
    inputs = (policy_chosen, policy_rejected, reference_chosen, reference_rejected)
    names = ("policy_chosen", "policy_rejected", "reference_chosen", "reference_rejected")
    for name, t in zip(names, inputs, strict=True):
        check_instance(name, t, torch.Tensor, "a tensor of log-probabilities")
    if len({tuple(t.shape) for t in inputs}) != 1:
        raise ValueError(
            f"the four log-probabilities must have one shape, got {[tuple(t.shape) for t in inputs]}"
        )
    chosen = beta * (policy_chosen - reference_chosen)
    rejected = beta * (policy_rejected - reference_rejected)
    loss = -F.logsigmoid(chosen - rejected).mean()
    return loss, chosen.detach(), rejected.detach()


@dataclass
class DPOHistory:
    """What happened during `train_dpo`.

    Attributes:
        loss: the DPO loss of each step's batch (before that step's update).
        margin: the mean reward margin `chosen - rejected` of each step's batch, in nats times `beta`.
    """

    loss: list[float] = field(default_factory=list)
    margin: list[float] = field(default_factory=list)


def train_dpo(
    model: nn.Module,
    pairs: PairSource,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    beta: float = 0.1,
    seed: int = 0,
    reference: nn.Module | None = None,
) -> DPOHistory:
    """Train `model` in place with DPO on pairs from `pairs`, against a frozen reference.

    The reference is a frozen copy of `model` as it is when called (unless one is given), so the policy
    starts with a margin of 0 and a loss of `log 2`. AdamW at a constant learning rate, no weight decay, the
    gradient norm clipped to 1; only the parameters with `requires_grad` train (so LoRA adapters work too).

    Args:
        model: the policy, e.g. a fine-tuned `llmguide.model.GPT`, on the CPU.
        pairs: a `PairSource`, e.g. `llmguide.instruct.CaseTask()`.
        steps: optimizer steps, `>= 1`.
        batch_size: pairs per step, `>= 1`.
        lr: learning rate, `> 0`.
        beta: see `dpo_loss`.
        seed: seeds the generator that draws the pairs.
        reference: the reference model; default a frozen copy of `model`.

    Returns:
        The `DPOHistory`.

    Raises:
        TypeError: `model` is not an `nn.Module` or `pairs` has no `get_pairs`.
        ValueError: a non-positive `steps`, `batch_size`, `lr` or `beta`.
    """
    check_instance("model", model, nn.Module, "a torch.nn.Module")
    if not callable(getattr(pairs, "get_pairs", None)):
        raise TypeError(f"pairs must have a get_pairs method (a PairSource), got {type(pairs).__name__}")
    steps = check_int("steps", steps, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    lr = check_real("lr", lr, minimum=0, min_open=True)
    beta = check_real("beta", beta, minimum=0, min_open=True)
    if reference is None:
        reference = copy.deepcopy(model)
    reference.eval().requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0, foreach=True)
    generator = torch.Generator().manual_seed(seed)
    history = DPOHistory()
    was_training = model.training
    model.train()
    try:
        for _ in range(steps):
            x, y = pairs.get_pairs("train", batch_size, generator=generator)
            with torch.no_grad():
                ref = sequence_logprobs(reference, x, y)
            pol = sequence_logprobs(model, x, y)
            loss, chosen, rejected = dpo_loss(
                pol[:batch_size], pol[batch_size:], ref[:batch_size], ref[batch_size:], beta
            )
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            history.loss.append(float(loss.detach()))
            history.margin.append(float((chosen - rejected).mean()))
    finally:
        model.train(was_training)
    return history


@torch.no_grad()
def mean_token_kl(model: nn.Module, reference: nn.Module, x: torch.Tensor) -> float:
    """Return the KL divergence KL(model || reference) of the next-token distributions, averaged over positions.

    Computed exactly over the vocabulary at every position of `x`, in nats per token: 0 when the two models
    agree everywhere. This is the per-token penalty that the RLHF objective charges for drifting from the
    reference, measured on any text (held-out corpus text shows how much the model's language changed).

    Args:
        model: the trained model.
        reference: the model it started from.
        x: token ids, shape `(B, T)`.

    Returns:
        The mean KL in nats per token.
    """
    was = model.training, reference.training
    model.eval()
    reference.eval()
    try:
        logp = F.log_softmax(model(x)[0].float(), dim=-1)
        logq = F.log_softmax(reference(x)[0].float(), dim=-1)
    finally:
        model.train(was[0])
        reference.train(was[1])
    return float((logp.exp() * (logp - logq)).sum(-1).mean())
