"""Tests of llmguide.checkpoint: a round trip gives the same model; damaged or mismatched files fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from llmguide.checkpoint import load_checkpoint, save_checkpoint
from llmguide.model import GPT, GPTConfig

CONFIG = GPTConfig(vocab_size=64, block_size=16, n_layer=2, n_head=2, n_embd=32, dropout=0.1, bias=False)


@pytest.fixture
def saved(tmp_path: Path) -> tuple[GPT, Path]:
    torch.manual_seed(0)
    model = GPT(CONFIG)
    return model, save_checkpoint(tmp_path / "sub" / "model.pt", model)


def test_round_trip_restores_config_and_weights(saved: tuple[GPT, Path]) -> None:
    model, path = saved
    loaded = load_checkpoint(path, device="cpu")
    assert loaded.config == CONFIG
    assert not loaded.training
    assert loaded.lm_head.weight is loaded.transformer.wte.weight  # still tied after loading
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    idx = torch.randint(0, 64, (2, 16), generator=torch.Generator().manual_seed(1))
    model.eval()
    assert torch.equal(model(idx)[0], loaded(idx)[0])


def test_the_file_holds_plain_data_loadable_with_weights_only(saved: tuple[GPT, Path]) -> None:
    _, path = saved
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == "llmguide-gpt"
    assert payload["config"]["n_embd"] == 32
    assert not list(path.parent.glob("*.partial"))  # the temporary file was renamed away


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        load_checkpoint(tmp_path / "nope.pt")


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.0])
def test_truncated_file(saved: tuple[GPT, Path], keep: float) -> None:
    _, path = saved
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ValueError, match="truncated, corrupt or not a torch file"):
        load_checkpoint(path, device="cpu")


def test_not_a_torch_file(tmp_path: Path) -> None:
    path = tmp_path / "text.pt"
    path.write_text("hello")
    with pytest.raises(ValueError, match="truncated, corrupt or not a torch file"):
        load_checkpoint(path, device="cpu")


def test_pickled_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"format": "llmguide-gpt", "payload": Path("x")}, path)  # a class weights_only will not load
    with pytest.raises(ValueError, match="cannot read the checkpoint"):
        load_checkpoint(path, device="cpu")


def test_another_torch_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    torch.save(GPT(CONFIG).state_dict(), path)  # bare weights, no config
    with pytest.raises(ValueError, match="not an llmguide checkpoint"):
        load_checkpoint(path, device="cpu")


def _edit(path: Path, edit: object) -> None:
    payload = torch.load(path, weights_only=True)
    edit(payload)  # type: ignore[operator]
    torch.save(payload, path)


def test_weights_that_do_not_fit_the_config(saved: tuple[GPT, Path]) -> None:
    _, path = saved
    _edit(path, lambda p: p["config"].update(n_embd=64))
    with pytest.raises(
        ValueError, match=r"do not fit its config.*transformer\.wte\.weight has shape \(64, 32\)"
    ):
        load_checkpoint(path, device="cpu")


def test_missing_and_unexpected_weights(saved: tuple[GPT, Path]) -> None:
    _, path = saved
    _edit(path, lambda p: p["config"].update(n_layer=3))
    with pytest.raises(ValueError, match=r"missing transformer\.h\.2\."):
        load_checkpoint(path, device="cpu")
    _edit(path, lambda p: p["config"].update(n_layer=1))
    with pytest.raises(ValueError, match=r"unexpected transformer\.h\.1\."):
        load_checkpoint(path, device="cpu")


def test_invalid_config(saved: tuple[GPT, Path]) -> None:
    _, path = saved
    _edit(path, lambda p: p["config"].update(n_head=3))
    with pytest.raises(ValueError, match=r"config .* is invalid: n_embd must be divisible by n_head"):
        load_checkpoint(path, device="cpu")
    _edit(path, lambda p: p["config"].update(colour="red"))
    with pytest.raises(ValueError, match="colour"):
        load_checkpoint(path, device="cpu")


def test_bad_arguments(saved: tuple[GPT, Path], tmp_path: Path) -> None:
    _, path = saved
    with pytest.raises(ValueError, match="device"):
        load_checkpoint(path, device="tpu")
    with pytest.raises(TypeError, match="model"):
        save_checkpoint(tmp_path / "x.pt", torch.nn.Linear(2, 2))  # type: ignore[arg-type]
