"""Tests of llmguide.rnn: the LSTM language model against a float64 LSTM written out from its equations."""

from __future__ import annotations

import math

import pytest
import torch

from llmguide.rnn import LSTM, LSTMConfig


def _model(**kwargs: object) -> LSTM:
    torch.manual_seed(0)
    config = {"vocab_size": 11, "n_embd": 6, "n_hidden": 5, "n_layer": 2, **kwargs}
    return LSTM(LSTMConfig(**config)).eval()  # type: ignore[arg-type]


def _reference_logits(model: LSTM, idx: torch.Tensor) -> torch.Tensor:
    """The LSTM equations (Hochreiter & Schmidhuber 1997, with a forget gate) in float64, one step at a time.

    i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of W_ih x + b_ih + W_hh h + b_hh (PyTorch's gate order);
    c = f * c + i * g; h = o * tanh(c).
    """
    p = {k: v.double() for k, v in model.state_dict().items()}
    n_layer, H = model.config.n_layer, model.config.n_hidden
    B, T = idx.shape
    h = [torch.zeros(B, H, dtype=torch.float64) for _ in range(n_layer)]
    c = [torch.zeros(B, H, dtype=torch.float64) for _ in range(n_layer)]
    out = []
    for t in range(T):
        x = p["wte.weight"][idx[:, t]]
        for layer in range(n_layer):
            gates = (
                x @ p[f"lstm.weight_ih_l{layer}"].T
                + p[f"lstm.bias_ih_l{layer}"]
                + h[layer] @ p[f"lstm.weight_hh_l{layer}"].T
                + p[f"lstm.bias_hh_l{layer}"]
            )
            i, f, g, o = gates.chunk(4, dim=1)
            c[layer] = torch.sigmoid(f) * c[layer] + torch.sigmoid(i) * torch.tanh(g)
            h[layer] = torch.sigmoid(o) * torch.tanh(c[layer])
            x = h[layer]
        out.append(x @ p["lm_head.weight"].T + p["lm_head.bias"])
    return torch.stack(out, dim=1)


def test_forward_matches_the_lstm_equations_in_float64() -> None:
    model = _model()
    idx = torch.randint(0, 11, (3, 9), generator=torch.Generator().manual_seed(1))
    logits, loss = model(idx)
    assert loss is None and logits.shape == (3, 9, 11)
    torch.testing.assert_close(logits.double(), _reference_logits(model, idx), atol=1e-5, rtol=1e-5)


def test_loss_is_the_mean_negative_log_likelihood_of_the_targets() -> None:
    model = _model()
    idx = torch.randint(0, 11, (2, 5), generator=torch.Generator().manual_seed(2))
    targets = torch.randint(0, 11, (2, 5), generator=torch.Generator().manual_seed(3))
    _, loss = model(idx, targets)
    ref = _reference_logits(model, idx).log_softmax(-1)
    nll = -ref.gather(-1, targets[..., None]).mean()
    assert loss is not None and math.isclose(loss.item(), float(nll), rel_tol=1e-5)


def test_targets_of_minus_one_are_left_out_of_the_loss() -> None:
    model = _model()
    idx = torch.randint(0, 11, (2, 5), generator=torch.Generator().manual_seed(4))
    targets = torch.full((2, 5), -1)
    targets[1, 3] = 7
    _, loss = model(idx, targets)
    expected = -_reference_logits(model, idx).log_softmax(-1)[1, 3, 7]
    assert loss is not None and math.isclose(loss.item(), float(expected), rel_tol=1e-5)


def test_step_by_step_gives_the_logits_of_forward() -> None:
    model = _model()
    idx = torch.randint(0, 11, (4, 7), generator=torch.Generator().manual_seed(5))
    full, _ = model(idx)
    state = None
    for t in range(7):
        logits, state = model.step(idx[:, t], state)
        torch.testing.assert_close(logits, full[:, t], atol=1e-6, rtol=1e-5)
    assert state[0].shape == (2, 4, 5)  # (n_layer, batch, n_hidden)


def test_the_model_is_causal() -> None:
    model = _model()
    idx = torch.randint(0, 11, (1, 8), generator=torch.Generator().manual_seed(6))
    changed = idx.clone()
    changed[0, 5] = (changed[0, 5] + 1) % 11
    a, _ = model(idx)
    b, _ = model(changed)
    assert torch.equal(a[:, :5], b[:, :5]) and not torch.allclose(a[:, 5:], b[:, 5:])


def test_num_params_matches_the_closed_form() -> None:
    V, E, H, L = 11, 6, 5, 2
    model = _model()
    lstm = 4 * H * (E + H) + 8 * H + (L - 1) * (4 * H * (H + H) + 8 * H)  # weights + two biases per layer
    assert model.num_params() == V * E + lstm + H * V + V


def test_dropout_is_active_only_in_training() -> None:
    model = _model(dropout=0.5)
    idx = torch.randint(0, 11, (2, 6), generator=torch.Generator().manual_seed(7))
    assert torch.equal(model(idx)[0], model(idx)[0])
    model.train()
    assert not torch.equal(model(idx)[0], model(idx)[0])


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("vocab_size", 0, ValueError),
        ("n_embd", -1, ValueError),
        ("n_hidden", 0, ValueError),
        ("n_layer", 0, ValueError),
        ("n_layer", 1.5, TypeError),
        ("dropout", 1.0, ValueError),
        ("dropout", -0.1, ValueError),
        ("dropout", "0", TypeError),
    ],
)
def test_config_rejects_values_that_cannot_work(field: str, value: object, error: type) -> None:
    with pytest.raises(error, match=f"^{field} must be"):
        LSTMConfig(**{field: value})  # type: ignore[arg-type]


def test_model_rejects_bad_inputs() -> None:
    model = _model()
    with pytest.raises(TypeError, match="config"):
        LSTM({"vocab_size": 3})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="idx"):
        model(torch.tensor([[1, 11]]))  # 11 is outside the vocabulary
    with pytest.raises(ValueError, match="idx"):
        model(torch.tensor([[-1, 2]]))
    with pytest.raises(TypeError, match="idx"):
        model(torch.zeros(1, 3))  # float ids
    with pytest.raises(ValueError, match="idx"):
        model(torch.tensor([1, 2, 3]))  # 1-D
    with pytest.raises(ValueError, match="targets"):
        model(torch.tensor([[1, 2]]), torch.tensor([[1, 2, 3]]))
    with pytest.raises(ValueError, match="token"):
        model.step(torch.tensor([[1]]))  # step takes one token per row, shape (batch,)


@pytest.mark.parametrize("shape", [(1, 0), (0, 3), (0, 0)])
def test_empty_input_is_refused_before_torch(shape: tuple[int, int]) -> None:
    # without the check, nn.LSTM fails inside torch on an empty sequence
    with pytest.raises(ValueError, match=r"^idx must have shape \(batch, positions\) with every axis >= 1"):
        _model()(torch.zeros(shape, dtype=torch.long))
    with pytest.raises(ValueError, match=r"^token must have shape \(batch,\)"):
        _model().step(torch.zeros(0, dtype=torch.long))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16])
def test_small_integer_dtypes_are_a_type_error(dtype: torch.dtype) -> None:
    with pytest.raises(TypeError, match=f"^idx must be a tensor of dtype int64 or int32.*{dtype}"):
        _model()(torch.ones(1, 3, dtype=dtype))


@pytest.mark.parametrize("bad", [11, 300, -5])
def test_targets_outside_the_vocabulary_are_refused(bad: int) -> None:
    idx = torch.ones(1, 3, dtype=torch.long)
    with pytest.raises(ValueError, match=rf"^targets holds token ids outside \[0, vocab_size=11\).*{bad}$"):
        _model()(idx, torch.tensor([[1, -1, bad]]))
