"""Tests of llmguide.device: device choice, validation, and mixed precision per device."""

from __future__ import annotations

import pytest
import torch

from llmguide import device as dev
from llmguide.device import (
    autocast,
    autocast_dtype,
    default_device,
    make_grad_scaler,
    resolve_device,
    synchronize,
)

HAS_CUDA = torch.cuda.is_available()


def _fake(
    monkeypatch: pytest.MonkeyPatch, *, cuda: bool, mps: bool, bf16: bool = True, count: int = 1
) -> None:
    """Pretend the machine has (or lacks) CUDA / MPS, without touching a real GPU."""
    monkeypatch.delenv("LLMGUIDE_DEVICE", raising=False)  # a reader's override must not decide the test
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count if cuda else 0)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    monkeypatch.setattr(dev, "_mps_available", lambda: mps)


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_default_device_prefers_cuda_then_mps_then_cpu(
    monkeypatch: pytest.MonkeyPatch, cuda: bool, mps: bool, expected: str
) -> None:
    _fake(monkeypatch, cuda=cuda, mps=mps)
    assert default_device() == torch.device(expected)
    assert resolve_device(None) == torch.device(expected)


def test_environment_variable_overrides_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, cuda=True, mps=False)
    monkeypatch.setenv("LLMGUIDE_DEVICE", "cpu")
    assert default_device() == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")
    monkeypatch.setenv("LLMGUIDE_DEVICE", "")  # empty: no override
    assert default_device() == torch.device("cuda")
    monkeypatch.setenv("LLMGUIDE_DEVICE", "mps")  # a device this machine lacks is an error, not a fallback
    with pytest.raises(ValueError, match=r"^LLMGUIDE_DEVICE='mps': .*MPS is not available"):
        default_device()
    monkeypatch.setenv("LLMGUIDE_DEVICE", "tpu")
    with pytest.raises(ValueError, match=r"^LLMGUIDE_DEVICE='tpu': device must be one of"):
        default_device()


def test_resolve_device_accepts_names_and_devices() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("name", ["tpu", "gpu", "", "cuda:x", "xla"])
def test_resolve_device_rejects_unknown_names(name: str) -> None:
    with pytest.raises(ValueError, match="device must be one of"):
        resolve_device(name)


def test_resolve_device_rejects_wrong_types() -> None:
    with pytest.raises(TypeError, match="device"):
        resolve_device(0)  # type: ignore[arg-type]


def test_resolve_device_rejects_missing_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, cuda=False, mps=False)
    with pytest.raises(ValueError, match=r"device='cuda'.*no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match=r"device='mps'.*MPS is not available"):
        resolve_device("mps")
    _fake(monkeypatch, cuda=True, mps=False, count=2)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(ValueError, match=r"device='cuda:2'.*2 CUDA GPU"):
        resolve_device("cuda:2")


def test_autocast_dtype_on_a_gpu_that_only_emulates_bf16_is_fp16(monkeypatch: pytest.MonkeyPatch) -> None:
    # What torch 2.13 answers on a V100 or T4 (compute capability 7.x): True by default, because a bf16 tensor
    # can be made there (emulated), and False for native support only. Such a GPU needs float16 and a scaler.
    _fake(monkeypatch, cuda=True, mps=False)

    def is_bf16_supported(including_emulation: bool = True) -> bool:
        return including_emulation

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    assert autocast_dtype("cuda") == torch.float16


def test_is_bf16_supported_takes_including_emulation() -> None:
    # The argument the check above relies on (torch's own signature, not a fake).
    import inspect

    assert "including_emulation" in inspect.signature(torch.cuda.is_bf16_supported).parameters


@pytest.mark.parametrize(("bf16", "expected"), [(True, torch.bfloat16), (False, torch.float16)])
def test_autocast_dtype_on_cuda_is_bf16_where_supported_else_fp16(
    monkeypatch: pytest.MonkeyPatch, bf16: bool, expected: torch.dtype
) -> None:
    _fake(monkeypatch, cuda=True, mps=False, bf16=bf16)
    assert autocast_dtype("cuda") == expected
    assert make_grad_scaler("cuda").is_enabled() == (expected == torch.float16)


def test_cpu_and_mps_stay_in_float32_without_touching_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a CUDA-only function was called")

    _fake(monkeypatch, cuda=False, mps=True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", forbidden)
    monkeypatch.setattr(torch.cuda, "synchronize", forbidden)
    assert autocast_dtype("cpu") is None
    assert autocast_dtype("mps") is None
    assert not make_grad_scaler("cpu").is_enabled()
    synchronize("cpu")
    with autocast("cpu"):
        y = torch.ones(3, 3) @ torch.ones(3, 3)
        assert not torch.is_autocast_enabled("cpu")
    assert y.dtype == torch.float32


def test_disabled_grad_scaler_is_a_pass_through() -> None:
    layer = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.5)
    scaler = make_grad_scaler("cpu")
    loss = layer(torch.ones(2, 3)).sum()
    assert scaler.scale(loss) is loss
    before = layer.weight.detach().clone()
    loss.backward()
    grad = layer.weight.grad.clone()
    scaler.step(optimizer)
    scaler.update()
    assert torch.allclose(layer.weight, before - 0.5 * grad)


@pytest.mark.cuda
@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")
def test_autocast_on_a_real_cuda_gpu() -> None:
    device = resolve_device("cuda")
    x = torch.ones(4, 4, device=device)
    with autocast(device):
        y = x @ x
    assert y.dtype == autocast_dtype(device)
    assert y.dtype in (torch.bfloat16, torch.float16)
    synchronize(device)
