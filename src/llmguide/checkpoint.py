"""Save a `GPT` to a file and load it back: its config and its weights, nothing else.

A checkpoint is a plain dictionary written with `torch.save`:
`{"format": "llmguide-gpt", "version": 1, "config": {...GPTConfig fields...}, "state_dict": {...}}`.
Loading uses `torch.load(..., weights_only=True)`, which reads tensors and plain Python values only and never
runs code stored in the file, so a checkpoint from elsewhere cannot execute anything when you load it.

```python
import tempfile
from pathlib import Path

import torch
from llmguide.checkpoint import load_checkpoint, save_checkpoint
from llmguide.model import GPT, GPTConfig
from llmguide.validate import check_instance

torch.manual_seed(0)
model = GPT(GPTConfig(block_size=32, n_layer=2, n_head=2, n_embd=32))
with tempfile.TemporaryDirectory() as tmp:
    path = save_checkpoint(Path(tmp) / "tiny.pt", model)
    loaded = load_checkpoint(path, device="cpu")
idx = torch.tensor([list(b"same weights")])
print(torch.equal(loaded(idx)[0], model(idx)[0]))
#> True
```
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch

from llmguide.device import resolve_device
from llmguide.model import GPT, GPTConfig
from llmguide.validate import check_instance

__all__ = ["load_checkpoint", "save_checkpoint"]

FORMAT = "llmguide-gpt"
VERSION = 1


def save_checkpoint(path: str | os.PathLike[str], model: GPT) -> Path:
    """Write `model`'s config and weights to `path` (creating its folder) and return the path.

    The file is written under a temporary name and then renamed, so an interrupted save never leaves a
    half-written checkpoint under `path`. Tensors are saved from whatever device they are on; the tied
    embedding / head matrix is stored once.

    Args:
        path: where to write, e.g. `"checkpoints/tiny.pt"`.
        model: the `GPT` to save.

    Returns:
        `path` as a `Path`.

    Raises:
        TypeError: `model` is not a `GPT`.
    """
    check_instance("model", model, GPT, "an llmguide.model.GPT")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "config": dataclasses.asdict(model.config),
        "state_dict": model.state_dict(),
    }
    partial = path.with_name(path.name + ".partial")
    torch.save(payload, partial)
    os.replace(partial, path)
    return path


def load_checkpoint(path: str | os.PathLike[str], device: str | torch.device | None = None) -> GPT:
    """Rebuild the `GPT` saved at `path`, on `device`, in eval mode (call `.train()` to train it further).

    Args:
        path: a file written by `save_checkpoint`.
        device: where to put the model (see `llmguide.device.resolve_device`); None for the best available.

    Returns:
        The model, with the saved config and weights.

    Raises:
        FileNotFoundError: there is no file at `path`.
        ValueError: the file is truncated or corrupt, is not an llmguide checkpoint, holds an invalid config,
            or holds weights that do not fit the config (missing, extra or wrongly shaped tensors).
        TypeError, ValueError: `device` is invalid (see `resolve_device`).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {str(path)!r}")
    device = resolve_device(device)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (
        Exception
    ) as exc:  # torch raises RuntimeError, EOFError or UnpicklingError, depending on the damage
        raise ValueError(
            f"cannot read the checkpoint {str(path)!r}: it is truncated, corrupt or not a torch file ({exc})"
        ) from exc

    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not an llmguide checkpoint (no 'format': {FORMAT!r} entry)")
    if payload.get("version") != VERSION:
        raise ValueError(
            f"{str(path)!r} has checkpoint version {payload.get('version')!r}; this code reads {VERSION}"
        )
    config_dict, state_dict = payload.get("config"), payload.get("state_dict")
    if not isinstance(config_dict, dict) or not isinstance(state_dict, dict):
        raise ValueError(f"{str(path)!r} lacks its 'config' or 'state_dict' dictionary")
    fields = {f.name for f in dataclasses.fields(GPTConfig)}
    if set(config_dict) != fields:
        raise ValueError(
            f"the config in {str(path)!r} has fields {sorted(config_dict)}, expected {sorted(fields)}"
        )
    try:
        config = GPTConfig(**config_dict)
    except ValueError as exc:
        raise ValueError(f"the config in {str(path)!r} is invalid: {exc}") from exc

    model = GPT(config)
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    found = {name: tuple(t.shape) for name, t in state_dict.items() if isinstance(t, torch.Tensor)}
    problems = [f"missing {name}" for name in expected if name not in found]
    problems += [f"unexpected {name}" for name in state_dict if name not in expected]
    problems += [
        f"{name} has shape {found[name]}, the config needs {shape}"
        for name, shape in expected.items()
        if name in found and found[name] != shape
    ]
    if problems:
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        raise ValueError(f"the weights in {str(path)!r} do not fit its config {config}: {shown}")
    model.load_state_dict(state_dict)
    return model.to(device).eval()
