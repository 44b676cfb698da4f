"""Tests of llmguide.dpo: the loss against its closed form on hand-built log-probabilities, its gradient
against the paper's (Rafailov et al. 2023, section 4), and sequence log-probabilities against a
position-by-position sum."""

from __future__ import annotations

import math

import pytest
import torch

from llmguide.dpo import dpo_loss, mean_token_kl, sequence_logprobs, train_dpo
from llmguide.instruct import CaseTask
from llmguide.model import GPT, GPTConfig


def _closed_form(pc: float, pr: float, rc: float, rr: float, beta: float) -> float:
    margin = beta * ((pc - rc) - (pr - rr))
    return math.log1p(math.exp(-margin))  # -log sigmoid(m) = log(1 + e^-m)


def test_loss_matches_closed_form() -> None:
    # hand-built log-probabilities of four pairs (nats)
    pc = [-4.0, -10.0, -2.5, -7.0]
    pr = [-6.0, -9.0, -2.5, -1.0]
    rc = [-5.0, -9.5, -3.0, -7.0]
    rr = [-5.5, -9.5, -2.0, -3.0]
    for beta in (0.1, 0.5, 2.0):
        loss, chosen, rejected = dpo_loss(*(torch.tensor(v) for v in (pc, pr, rc, rr)), beta=beta)
        expected = [_closed_form(*row, beta) for row in zip(pc, pr, rc, rr, strict=True)]
        assert float(loss) == pytest.approx(sum(expected) / 4, rel=1e-6)
        assert chosen.tolist() == pytest.approx(
            [beta * (a - b) for a, b in zip(pc, rc, strict=True)], rel=1e-6
        )
        assert rejected.tolist() == pytest.approx(
            [beta * (a - b) for a, b in zip(pr, rr, strict=True)], rel=1e-6
        )


def test_loss_at_the_reference_is_log_2_and_falls_with_the_margin() -> None:
    lp = torch.tensor([-3.0, -8.0])
    loss, _, _ = dpo_loss(lp, lp - 2, lp, lp - 2)
    assert float(loss) == pytest.approx(math.log(2), rel=1e-7)
    better, _, _ = dpo_loss(lp + 1, lp - 2, lp, lp - 2)
    assert float(better) < math.log(2)


def test_gradient_is_the_papers() -> None:
    # d loss / d log pi(y_w) = -beta * sigmoid(r_l - r_w) (section 4 of the paper), for one pair
    pc = torch.tensor([-4.0], requires_grad=True)
    pr = torch.tensor([-6.0], requires_grad=True)
    rc, rr, beta = torch.tensor([-5.0]), torch.tensor([-5.5]), 0.5
    loss, chosen, rejected = dpo_loss(pc, pr, rc, rr, beta=beta)
    loss.backward()
    weight = 1 / (1 + math.exp(-(float(rejected) - float(chosen))))
    assert float(pc.grad) == pytest.approx(-beta * weight, rel=1e-6)
    assert float(pr.grad) == pytest.approx(beta * weight, rel=1e-6)


def test_sequence_logprobs_sums_the_targets() -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=8, n_layer=1, n_head=1, n_embd=8))
    x = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 0]])
    y = torch.tensor([[-1, 3, 4, 9], [-1, -1, 8, -1]])
    got = sequence_logprobs(model, x, y)
    logits = model(x)[0].detach()
    expected = []
    for b in range(2):
        total = 0.0
        for t in range(4):
            if y[b, t] >= 0:
                total += float(torch.log_softmax(logits[b, t], dim=-1)[y[b, t]])
        expected.append(total)
    assert got.tolist() == pytest.approx(expected, abs=1e-5)


def test_mean_token_kl() -> None:
    torch.manual_seed(0)
    a = GPT(GPTConfig(block_size=8, n_layer=1, n_head=1, n_embd=8))
    b = GPT(GPTConfig(block_size=8, n_layer=1, n_head=1, n_embd=8))
    x = torch.randint(0, 256, (2, 8), generator=torch.Generator().manual_seed(0))
    assert mean_token_kl(a, a, x) == pytest.approx(0.0, abs=1e-6)
    p = torch.log_softmax(a(x)[0].detach(), -1)
    q = torch.log_softmax(b(x)[0].detach(), -1)
    brute = sum(float((p[i, t].exp() * (p[i, t] - q[i, t])).sum()) for i in range(2) for t in range(8)) / 16
    assert mean_token_kl(a, b, x) == pytest.approx(brute, rel=1e-4)


def test_train_dpo_raises_the_margin() -> None:
    task = CaseTask(word_len=2)
    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=task.block_size + 2, n_layer=1, n_head=2, n_embd=16))
    history = train_dpo(model, task, steps=15, batch_size=8, lr=1e-2, beta=0.5)
    assert history.loss[0] == pytest.approx(math.log(2), rel=1e-5)  # the policy starts as its reference
    assert history.margin[-1] > 0.5 and history.loss[-1] < 0.5


def test_bad_arguments() -> None:
    t = torch.zeros(2)
    with pytest.raises(ValueError, match="beta"):
        dpo_loss(t, t, t, t, beta=0)
    with pytest.raises(ValueError, match="one shape"):
        dpo_loss(t, t, t, torch.zeros(3))
    with pytest.raises(TypeError, match="get_pairs"):
        train_dpo(torch.nn.Linear(2, 2), object(), steps=1, batch_size=1, lr=1e-3)  # type: ignore[arg-type]
