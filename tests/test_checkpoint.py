"""Tests of llmguide.checkpoint: a round trip gives the same model; damaged or mismatched files fail clearly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from llmguide.checkpoint import check_checkpoint_path, load_checkpoint, save_checkpoint
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


# --------------------------------------------------------------------------------------------------------
# Hostile files: each is a few hundred bytes made here, and must be refused before any model is built
# --------------------------------------------------------------------------------------------------------

SMALL = dict(vocab_size=64, block_size=16, n_layer=2, n_head=2, n_embd=32, dropout=0.0, bias=False)


def _hostile(tmp_path: Path, name: str, config: dict, state_dict: dict | None = None) -> Path:
    path = tmp_path / name
    payload = {"format": "llmguide-gpt", "version": 1, "config": config, "state_dict": state_dict or {}}
    torch.save(payload, path)
    return path


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The default device each `GPT` that load_checkpoint builds is built on ('meta' allocates nothing)."""
    import llmguide.checkpoint as checkpoint

    devices: list[str] = []

    class SpyGPT(GPT):
        def __init__(self, config: GPTConfig) -> None:
            devices.append(torch.empty(0).device.type)
            super().__init__(config)

    monkeypatch.setattr(checkpoint, "GPT", SpyGPT)
    return devices


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"vocab_size": 2**40}, r"n_layer=2, but the file holds only 0 tensors"),  # the example
        ({"n_layer": 10**9}, r"n_layer=1000000000, but the file holds only 0 tensors"),
    ],
)
def test_a_huge_config_with_an_empty_state_dict_is_refused_without_building(
    tmp_path: Path, builds: list[str], overrides: dict, match: str
) -> None:
    path = _hostile(tmp_path, "huge.pt", {**SMALL, **overrides})
    assert path.stat().st_size < 2000  # a kilobyte and a half (mostly zip headers) claims terabytes
    with pytest.raises(ValueError, match=match):
        load_checkpoint(path, device="cpu")
    assert builds == []


def test_a_huge_config_next_to_real_weights_is_refused_on_the_meta_device(
    tmp_path: Path, builds: list[str]
) -> None:
    weights = GPT(GPTConfig(**SMALL)).state_dict()
    path = _hostile(tmp_path, "huge.pt", {**SMALL, "vocab_size": 2**40}, weights)
    with pytest.raises(ValueError, match=r"transformer\.wte\.weight has shape \(64, 32\), the config needs"):
        load_checkpoint(path, device="cpu")
    path = _hostile(tmp_path, "wide.pt", {**SMALL, "n_embd": 2**40, "n_head": 1}, weights)
    with pytest.raises(ValueError, match="do not fit its config"):  # 2**81 numbers: not even a meta tensor
        load_checkpoint(path, device="cpu")
    assert builds and set(builds) == {"meta"}  # only the shape-only skeletons were built
    # and the spy sees real builds: a good file is built on the CPU after its check
    load_checkpoint(_hostile(tmp_path, "good.pt", SMALL, weights), device="cpu")
    assert builds[-2:] == ["meta", "cpu"]


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda sd: sd.update({"lm_head.weight": sd["lm_head.weight"].long()}), "dtype torch.int64"),
        (lambda sd: sd["transformer.h.0.attn.c_attn.weight"].fill_(float("nan")), "not all finite"),
        (lambda sd: sd["transformer.ln_f.weight"].fill_(float("inf")), "not all finite"),
        (lambda sd: sd.update({"transformer.wpe.weight": [0.0] * 16}), "not named tensors"),
        (lambda sd: sd.update({7: torch.zeros(1)}), "not named tensors"),
    ],
)
def test_weights_of_the_wrong_dtype_or_values_are_refused(tmp_path: Path, edit: object, match: str) -> None:
    weights = {k: v.clone() for k, v in GPT(GPTConfig(**SMALL)).state_dict().items()}
    edit(weights)  # type: ignore[operator]
    with pytest.raises(ValueError, match=match):
        load_checkpoint(_hostile(tmp_path, "bad.pt", SMALL, weights), device="cpu")


@pytest.mark.parametrize("field", ["n_layer", "bias", "dropout"])
def test_a_config_field_of_the_wrong_kind_is_a_value_error_about_the_file(tmp_path: Path, field: str) -> None:
    path = _hostile(tmp_path, "kind.pt", {**SMALL, field: "2"})
    with pytest.raises(ValueError, match=rf"the config in .* is invalid: {field} must be"):
        load_checkpoint(path, device="cpu")


def _one_line_without_torch_advice(error: pytest.ExceptionInfo[ValueError]) -> str:
    message = str(error.value)
    assert "\n" not in message
    assert "weights_only" not in message  # torch's advice to retry with weights_only=False is not passed on
    return message


def test_random_bytes_get_a_one_line_message(tmp_path: Path) -> None:
    path = tmp_path / "random.pt"
    path.write_bytes(bytes(range(256)) * 3)
    with pytest.raises(ValueError) as error:
        load_checkpoint(path, device="cpu")
    assert "truncated, corrupt or not a torch file (not a zip archive" in _one_line_without_torch_advice(
        error
    )


def test_pickled_objects_get_a_one_line_message_without_the_weights_only_advice(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"format": "llmguide-gpt", "payload": Path("x")}, path)
    with pytest.raises(ValueError) as error:
        load_checkpoint(path, device="cpu")
    message = _one_line_without_torch_advice(error)
    assert "holds Python objects other than tensors" in message and "could run code" in message
    assert "Path" in message  # it names what it found


def test_a_compressed_entry_is_refused_before_torch_reads_it(saved: tuple[GPT, Path], tmp_path: Path) -> None:
    import zipfile

    _, path = saved
    packed = tmp_path / "deflated.pt"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as dst:
        for entry in src.infolist():
            dst.writestr(entry.filename, src.read(entry.filename))
    with pytest.raises(ValueError, match="is compressed or larger than the file"):
        load_checkpoint(packed, device="cpu")


# --------------------------------------------------------------------------------------------------------
# Saving: the path is checked first, and a failed save leaves nothing behind
# --------------------------------------------------------------------------------------------------------


def test_saving_to_a_directory_or_under_a_file_is_refused_first(tmp_path: Path) -> None:
    model = GPT(GPTConfig(**SMALL))
    with pytest.raises(ValueError, match="it is a directory"):
        save_checkpoint(tmp_path, model)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="is not a directory"):
        save_checkpoint(blocker / "sub" / "m.pt", model)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs file permissions (not root)")
def test_an_unwritable_folder_is_refused_first(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(ValueError, match="cannot create files in"):
        check_checkpoint_path(locked / "m.pt")


@pytest.mark.parametrize("failing", ["torch.save", "os.replace"])
def test_a_failed_save_removes_its_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    import llmguide.checkpoint as checkpoint

    def disk_full(*args: object, **kwargs: object) -> None:
        Path(f"{tmp_path / 'm.pt'}.partial").write_bytes(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    module, name = failing.split(".")
    monkeypatch.setattr(getattr(checkpoint, module), name, disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(tmp_path / "m.pt", GPT(GPTConfig(**SMALL)))
    assert list(tmp_path.iterdir()) == []
