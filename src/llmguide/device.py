"""Pick the device to run on, and the mixed precision that suits it.

The same code runs on a CPU, an NVIDIA GPU (CUDA) or an Apple GPU (MPS); only the device changes:

- `default_device()`: CUDA if there is a GPU, else MPS, else the CPU (`LLMGUIDE_DEVICE=cpu` overrides it).
- `resolve_device(device)`: turn `"cpu"`, `"cuda"`, `"cuda:1"`, `"mps"`, a `torch.device` or `None` (the
  default) into a `torch.device` that exists on this machine, or say clearly why not.
- `autocast_dtype(device)`, `autocast(device)`, `make_grad_scaler(device)`: mixed precision. On CUDA the
  forward pass runs in bfloat16 where the GPU supports it (Ampere and newer), else in float16, whose narrow
  range needs a gradient scaler to keep small gradients from flushing to zero. On the CPU and on MPS
  everything stays in float32.
- `synchronize(device)`: wait for queued GPU work, for timing.

A training step then reads the same on every device:

```python
import torch
from llmguide.device import autocast, make_grad_scaler, resolve_device

device = resolve_device("cpu")  # or None: the best device available
model = torch.nn.Linear(4, 1).to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
scaler = make_grad_scaler(device)  # a no-op unless float16 on CUDA
x = torch.ones(8, 4, device=device)
with autocast(device):
    loss = model(x).pow(2).mean()
scaler.scale(loss).backward()
scaler.step(optimizer)
scaler.update()
print(loss.dtype)
#> torch.float32
```

Nothing here calls a CUDA-only function unless CUDA is available, so it is safe on any machine.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import torch

from llmguide.validate import (
    check_instance,
    parameter_error,
)

__all__ = [
    "autocast",
    "autocast_dtype",
    "default_device",
    "make_grad_scaler",
    "resolve_device",
    "synchronize",
]

_KINDS = ("cpu", "cuda", "mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


DEVICE_ENV = "LLMGUIDE_DEVICE"


def default_device() -> torch.device:
    """Return the best device on this machine: CUDA, then MPS, then the CPU.

    The environment variable `LLMGUIDE_DEVICE` overrides the choice: `LLMGUIDE_DEVICE=cpu` runs everything
    on the CPU on a machine with a GPU, for example to reproduce the guide's printed numbers, which were
    made on a CPU. A value this machine cannot honour raises the ValueError of `resolve_device`.

    For example, on a machine without a GPU:

    ```python
    import torch
    from llmguide.device import default_device

    device = default_device()
    print(device.type in ("cuda", "mps", "cpu"))
    #> True
    ```

    Returns:
        `torch.device("cuda")`, `torch.device("mps")` or `torch.device("cpu")`.

    Raises:
        ValueError: `LLMGUIDE_DEVICE` names a device this machine does not have.
    """
    chosen = os.environ.get(DEVICE_ENV, "").strip()
    if chosen:
        try:
            return resolve_device(chosen)
        except ValueError as error:
            raise ValueError(f"{DEVICE_ENV}={chosen!r}: {error}") from None
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """Turn a device name into a `torch.device` that this machine has.

    For example:

    ```python
    from llmguide.device import resolve_device

    print(resolve_device("cpu"))
    #> cpu
    try:
        resolve_device("tpu")
    except ValueError as error:
        print(error)
    #> device must be one of 'cpu', 'cuda', 'cuda:N', 'mps', or None for the best available; got 'tpu'
    ```

    Args:
        device: `"cpu"`, `"cuda"`, `"cuda:N"` (GPU number N), `"mps"`, a `torch.device`, or `None` for
            `default_device()`.

    Returns:
        The device.

    Raises:
        TypeError: `device` is not a string, a `torch.device` or None.
        ValueError: `device` names an unknown kind of device, or one this machine does not have
            (CUDA or MPS not available, or no GPU with that number).
    """
    if device is None:
        return default_device()
    check_instance("device", device, (str, torch.device), "a str, a torch.device or None")
    allowed = "one of 'cpu', 'cuda', 'cuda:N', 'mps', or None for the best available"
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError):
        raise parameter_error(ValueError, f"device must be {allowed}; got {device!r}", "device") from None
    if resolved.type not in _KINDS:
        raise parameter_error(ValueError, f"device must be {allowed}; got {device!r}", "device")
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise parameter_error(
                ValueError,
                f"device={str(device)!r} asks for CUDA, but no CUDA GPU is available here",
                "device",
            )
        count = torch.cuda.device_count()
        if resolved.index is not None and resolved.index >= count:
            raise parameter_error(
                ValueError,
                f"device={str(device)!r}: this machine has {count} CUDA GPU(s), numbered from 0",
                "device",
            )
    if resolved.type == "mps" and not _mps_available():
        raise parameter_error(
            ValueError, f"device={str(device)!r} asks for MPS, but MPS is not available here", "device"
        )
    return resolved


def autocast_dtype(device: str | torch.device | None = None) -> torch.dtype | None:
    """Return the reduced precision that `autocast(device)` uses, or None where it keeps float32.

    For example:

    ```python
    from llmguide.device import autocast_dtype

    print(autocast_dtype("cpu"))
    #> None
    ```

    Args:
        device: as for `resolve_device`.

    Returns:
        `torch.bfloat16` on a CUDA GPU that supports it, `torch.float16` on an older CUDA GPU, `None` on
        the CPU and on MPS.

    Raises:
        TypeError, ValueError: as `resolve_device`.
    """
    device = resolve_device(device)
    if device.type != "cuda":
        return None
    # including_emulation=False: by default torch says yes on any GPU that can hold a bf16 tensor (a V100 or a
    # T4 emulates bf16 matmuls, slowly); only native bf16 (compute capability 8.0, Ampere, and later) counts.
    return torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) else torch.float16


def autocast(device: str | torch.device | None = None) -> contextlib.AbstractContextManager[Any]:
    """Return a context manager that runs the forward pass in the device's mixed precision.

    On CUDA this is `torch.autocast("cuda", dtype=autocast_dtype(device))`: matrix multiplies run in
    bfloat16 (or float16), while the operations that need the range (softmax, LayerNorm, the loss) stay in
    float32. On the CPU and MPS it does nothing. Run only the forward pass and the loss inside it, not the
    backward pass or the optimizer step.

    For example:

    ```python
    import torch
    from llmguide.device import autocast

    with autocast("cpu"):
        y = torch.ones(2, 2) @ torch.ones(2, 2)
    print(y.dtype)
    #> torch.float32
    ```

    Args:
        device: as for `resolve_device`.

    Returns:
        A context manager.

    Raises:
        TypeError, ValueError: as `resolve_device`.
    """
    dtype = autocast_dtype(device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=dtype)


def make_grad_scaler(device: str | torch.device | None = None) -> torch.amp.GradScaler:
    """Return a gradient scaler: active for float16 autocast on CUDA, a pass-through everywhere else.

    float16 cannot hold numbers below about 6e-8, so small gradients would become 0. The scaler multiplies
    the loss by a large factor before `backward`, divides the gradients back before the optimizer step, and
    skips steps whose gradients overflowed. bfloat16 has float32's range and needs none of this, so there
    (and on the CPU and MPS) the scaler is disabled: `scale(loss)` returns `loss` and `step(optimizer)`
    calls `optimizer.step()`.

    For example:

    ```python
    from llmguide.device import make_grad_scaler

    print(make_grad_scaler("cpu").is_enabled())
    #> False
    ```

    Args:
        device: as for `resolve_device`.

    Returns:
        A `torch.amp.GradScaler`.

    Raises:
        TypeError, ValueError: as `resolve_device`.
    """
    resolved = resolve_device(device)
    enabled = autocast_dtype(resolved) == torch.float16
    return torch.amp.GradScaler("cuda" if resolved.type == "cuda" else "cpu", enabled=enabled)


def synchronize(device: str | torch.device | None = None) -> None:
    """Wait until all work queued on `device` has finished (GPUs run asynchronously); a no-op on the CPU.

    Call it before reading a clock, or a GPU timing measures only how fast work was queued.

    For example:

    ```python
    from llmguide.device import synchronize

    synchronize("cpu")  # nothing to wait for
    ```

    Args:
        device: as for `resolve_device`.

    Raises:
        TypeError, ValueError: as `resolve_device`.
    """
    device = resolve_device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
