"""Save a `GPT` to a file and load it back: its config and its weights, nothing else.

A checkpoint is a plain dictionary written with `torch.save`:
`{"format": "llmguide-gpt", "version": 1, "config": {...GPTConfig fields...}, "state_dict": {...}}`.
Loading treats the file as untrusted:

- `torch.load(..., weights_only=True)` reads tensors and plain Python values only and never runs code stored
  in the file, so a checkpoint from elsewhere cannot execute anything when you load it. A file that holds
  anything else is refused; the advice torch gives then (retry with `weights_only=False`) is not passed on,
  since following it for an untrusted file is exactly the danger.
- Before torch reads the file, its zip structure is checked: every entry must be stored uncompressed, so
  nothing in the file can expand beyond the file's own size.
- Before the model is built, its config and weights are checked against each other: the config's fields and
  bounds (`GPTConfig`), then the name, shape and dtype of every tensor against those the config implies
  (worked out on the meta device, which allocates no memory), and that every weight is finite. A config
  that claims `vocab_size = 2**40` next to an empty state dict is refused in microseconds instead of
  making the loader allocate a model of terabytes.

```python
import tempfile
from pathlib import Path

import torch
from llmguide.checkpoint import load_checkpoint, save_checkpoint
from llmguide.model import GPT, GPTConfig

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
import pickle
import re
import tempfile
import zipfile
from pathlib import Path

import torch

from llmguide.device import resolve_device
from llmguide.model import GPT, GPTConfig
from llmguide.validate import check_instance

__all__ = ["check_checkpoint_path", "load_checkpoint", "save_checkpoint"]

FORMAT = "llmguide-gpt"
VERSION = 1

_FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


def check_checkpoint_path(path: str | os.PathLike[str]) -> Path:
    """Check that a checkpoint can be written at `path`, before any work is spent on what to write.

    `path` must not be a directory, and its nearest existing parent folder must be a folder that this
    process can create files in (tested by creating and removing an empty file there). Missing folders on
    the way are fine: `save_checkpoint` creates them. Nothing is left behind.

    For example:

    ```python
    import tempfile
    from llmguide.checkpoint import check_checkpoint_path

    with tempfile.TemporaryDirectory() as tmp:
        try:
            check_checkpoint_path(tmp)  # a folder, not a file path
        except ValueError as error:
            print(str(error).split(": ")[1])
    #> it is a directory; give a file path such as checkpoints/tiny.pt
    ```

    Args:
        path: where the checkpoint is to be written.

    Returns:
        `path` as a `Path`.

    Raises:
        TypeError: `path` is not a string or a path.
        ValueError: `path` is a directory, a parent of it is not a directory, or its folder is not writable.
    """
    check_instance("path", path, (str, os.PathLike), "a file path")
    path = Path(path)
    if path.is_dir():
        raise ValueError(
            f"cannot write a checkpoint to {str(path)!r}: it is a directory; give a file path "
            f"such as checkpoints/tiny.pt"
        )
    if path.exists() and not path.is_file():
        raise ValueError(f"cannot write a checkpoint to {str(path)!r}: it exists and is not a regular file")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ValueError(f"cannot write a checkpoint to {str(path)!r}: {str(folder)!r} is not a directory")
    try:  # the only sure test of writability (permissions, read-only file systems, ACLs) is to write
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".llmguide-write-test-")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ValueError(
            f"cannot write a checkpoint to {str(path)!r}: cannot create files in {str(folder)!r} ({reason})"
        ) from None
    os.close(handle)
    os.unlink(probe)
    return path


def save_checkpoint(path: str | os.PathLike[str], model: GPT) -> Path:
    """Write `model`'s config and weights to `path` (creating its folder) and return the path.

    The file is written under a temporary name (`path` + `.partial`) and then renamed, so an interrupted save
    never leaves a half-written checkpoint under `path`; if the write fails (a full disk, say), the partial
    file is removed before the error is raised. Tensors are saved from whatever device they are on; the tied
    embedding / head matrix is stored once.

    Args:
        path: where to write, e.g. `"checkpoints/tiny.pt"`.
        model: the `GPT` to save.

    Returns:
        `path` as a `Path`.

    Raises:
        TypeError: `model` is not a `GPT`, or `path` is not a path.
        ValueError: `path` is a directory or cannot be written (see `check_checkpoint_path`).
        OSError: writing failed part-way (no file is left at `path` or beside it).
    """
    check_instance("model", model, GPT, "an llmguide.model.GPT")
    path = check_checkpoint_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "config": dataclasses.asdict(model.config),
        "state_dict": model.state_dict(),
    }
    partial = path.with_name(path.name + ".partial")
    try:
        torch.save(payload, partial)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike[str], device: str | torch.device | None = None) -> GPT:
    """Rebuild the `GPT` saved at `path`, on `device`, in eval mode (call `.train()` to train it further).

    The file is treated as untrusted: see the module's description for what is checked, and in which order.
    Every problem with the file's content is a `ValueError` with a one-line message.

    Args:
        path: a file written by `save_checkpoint`.
        device: where to put the model (see `llmguide.device.resolve_device`); None for the best available.

    Returns:
        The model, with the saved config and weights.

    Raises:
        FileNotFoundError: there is no file at `path`.
        ValueError: the file is truncated, corrupt or not a torch zip file; holds objects other than tensors
            and plain values; is not an llmguide checkpoint; holds an invalid config; or holds weights that do
            not fit the config (missing, extra or wrongly shaped tensors, tensors that are not floating point,
            or weights that are NaN or infinite).
        TypeError, ValueError: `device` is invalid (see `resolve_device`).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {str(path)!r}")
    device = resolve_device(device)
    where = repr(str(path))
    payload = _read(path, where)

    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{where} is not an llmguide checkpoint (no 'format': {FORMAT!r} entry)")
    if payload.get("version") != VERSION:
        raise ValueError(
            f"{where} has checkpoint version {payload.get('version')!r}; this code reads {VERSION}"
        )
    config_dict, state_dict = payload.get("config"), payload.get("state_dict")
    if not isinstance(config_dict, dict) or not isinstance(state_dict, dict):
        raise ValueError(f"{where} lacks its 'config' or 'state_dict' dictionary")
    fields = {f.name for f in dataclasses.fields(GPTConfig)}
    if set(config_dict) != fields:
        raise ValueError(
            f"the config in {where} has fields {sorted(map(str, config_dict))}, expected {sorted(fields)}"
        )
    try:
        config = GPTConfig(**config_dict)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the config in {where} is invalid: {exc}") from None

    _check_weights(state_dict, config, where)
    model = GPT(config)  # only now, with weights that fit it: its size is bounded by the file's
    model.load_state_dict(state_dict)
    return model.to(device).eval()


def _read(path: Path, where: str) -> object:
    """`torch.load` of a checked zip file, weights only; every failure is one line, without torch's advice."""
    damaged = f"cannot read the checkpoint {where}: it is truncated, corrupt or not a torch file"
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise ValueError(f"{damaged} (not a zip archive, which torch.save writes)") from None
    size = path.stat().st_size
    for entry in entries:
        if entry.compress_type != zipfile.ZIP_STORED or entry.file_size > size:
            raise ValueError(
                f"{damaged} (entry {entry.filename!r} is compressed or larger than the file; torch.save "
                f"stores entries uncompressed)"
            )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        what = f" ({found.group(1)})" if found else ""
        raise ValueError(
            f"cannot read the checkpoint {where}: it holds Python objects other than tensors and plain "
            f"values{what}, which are refused: loading them could run code from the file"
        ) from None
    except Exception as exc:  # RuntimeError, EOFError, ... depending on the damage
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{damaged} ({first[:200]})") from None


def _check_weights(state_dict: dict, config: GPTConfig, where: str) -> None:
    """Refuse a state dict that does not hold exactly the tensors `GPT(config)` has, before building it."""
    problem = f"the weights in {where} do not fit its config {config}"
    tensors = {
        name: t for name, t in state_dict.items() if isinstance(name, str) and isinstance(t, torch.Tensor)
    }
    if len(tensors) != len(state_dict):
        raise ValueError(f"{problem}: its state_dict holds entries that are not named tensors")
    # A model has more tensors than layers: a config claiming more layers than the file has tensors cannot
    # fit, and refusing it here keeps the skeleton below (one module per layer) as small as the file.
    if config.n_layer > len(tensors):
        raise ValueError(
            f"{problem}: n_layer={config.n_layer}, but the file holds only {len(tensors)} tensors"
        )
    try:
        with torch.device("meta"):  # shapes and dtypes only: no memory, whatever the config claims
            expected = {name: (tuple(t.shape), t.dtype) for name, t in GPT(config).state_dict().items()}
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{problem}: the config describes a model too large to build ({reason})") from None
    problems = [f"missing {name}" for name in expected if name not in tensors]
    problems += [f"unexpected {name}" for name in tensors if name not in expected]
    for name, (shape, _) in expected.items():
        if name in tensors:
            t = tensors[name]
            if tuple(t.shape) != shape:
                problems.append(f"{name} has shape {tuple(t.shape)}, the config needs {shape}")
            elif t.dtype not in _FLOAT_DTYPES:
                problems.append(f"{name} has dtype {t.dtype}, the model needs floating-point weights")
            elif t.is_sparse or t.device.type != "cpu":
                problems.append(f"{name} is not a dense tensor")
    if problems:
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        raise ValueError(f"{problem}: {shown}")
    for name, t in tensors.items():
        if not bool(torch.isfinite(t).all()):
            raise ValueError(
                f"the weights in {where} are not all finite: {name} holds NaN or infinite values"
            )
