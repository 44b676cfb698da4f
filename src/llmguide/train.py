"""Train a language model: AdamW, warmup then cosine decay, gradient clipping, and a validation loss.

`train(model, data, steps=..., batch_size=..., lr=...)` works for any model with the interface
`forward(idx, targets) -> (logits, loss)` (`llmguide.model.GPT`, `llmguide.rnn.LSTM`) and any data source with
`get_batch(split, batch_size, *, generator, device) -> (x, y)` (`llmguide.data.TextData`,
`llmguide.tasks.RecallTask`, `llmguide.tasks.ParityEpisodes`). It returns a `History` of the losses.

- **Reproducible.** Batches come from a `torch.Generator` seeded with `seed`, and torch's global generator
  (dropout) is seeded with it too, so on a CPU two runs with the same arguments give bit-for-bit the same
  losses and weights.
- **Any device.** `device=None` picks CUDA, then MPS, then the CPU (`llmguide.device`); on CUDA the forward
  pass runs under bf16 autocast where the GPU supports it (fp16 with a gradient scaler otherwise), on the CPU
  in fp32. The code is the same everywhere.
- **Several processes.** Started by `torchrun --nproc_per_node=N` (so that the environment variable
  `WORLD_SIZE` is above 1), `train` wraps the model in `DistributedDataParallel` (backend gloo on the CPU,
  nccl on CUDA). Every process draws the same global batch of `batch_size` rows and trains on its own
  `batch_size / N` of them; gradients are averaged across processes, so the updates, and the recorded losses,
  are those of one process with the whole batch, up to float rounding.
- **Stops when training diverges.** A loss that is NaN or infinite (typically from a learning rate far too
  high) raises `FloatingPointError` at that step, instead of training on and returning a broken model.
- **Quiet unless watched.** A one-line progress report is written to stderr only when stderr is a terminal
  (and only by the first process), so documentation builds and tests print nothing.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import nn

from llmguide.validate import (
    check_bool,
    check_instance,
    check_int,
    check_real,
    parameter_error,
)

#: The largest `seed` that `train` accepts: each process adds its rank (and the held-out batches add 1) to the
#: seed, and torch's generators take at most a signed 64-bit integer.
MAX_SEED = 2**63 - 1 - 2**20


__all__ = ["MAX_SEED", "BatchSource", "History", "lr_at", "train"]


class BatchSource(Protocol):
    """What `train` needs from a data set: batches of inputs and targets, drawn with a generator."""

    def get_batch(
        self,
        split: str,
        batch_size: int,
        *,
        generator: torch.Generator,
        device: str | torch.device = "cpu",
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return `(x, y)`, token ids and targets of shape `(batch_size, T)`, for `split` "train" or "val"."""
        ...


@dataclass
class History:
    """What happened during `train`: the losses over time and the cost.

    Attributes:
        steps: optimizer steps, 1 to `steps`; `train_loss[i]` is the loss of the batch of step `steps[i]`.
        train_loss: training loss of each step's batch, in nats per target token (before that step's update).
        lr: learning rate used at each step.
        val_steps: number of updates done when each validation loss was measured (0 is the untrained model).
        val_loss: mean loss over the same held-out batches at each of `val_steps`, in nats per target token.
        tokens_seen: input tokens processed in training, over all processes (`steps * batch_size * T`).
        wall_time_s: seconds the training took, validation included.
        world_size: number of processes that shared each batch (1 without `torchrun`).
    """

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    tokens_seen: int = 0
    wall_time_s: float = 0.0
    world_size: int = 1


def lr_at(step: int, *, lr: float, steps: int, warmup_steps: int, min_lr: float) -> float:
    """Return the learning rate of step `step` (counted from 0): linear warmup, then cosine decay.

    For the first `warmup_steps` steps the rate climbs linearly to `lr` (step 0 uses `lr / warmup_steps`);
    over the remaining steps it follows half a cosine from `lr` down towards `min_lr`.

    For example:

    ```python
    from llmguide.train import lr_at

    rates = [lr_at(s, lr=1.0, steps=6, warmup_steps=2, min_lr=0.0) for s in range(6)]
    print([round(r, 3) for r in rates])
    #> [0.5, 1.0, 1.0, 0.854, 0.5, 0.146]
    ```

    Args:
        step: the step, `>= 0`; steps at and past `steps` get `min_lr`.
        lr: peak learning rate.
        steps: total number of steps.
        warmup_steps: steps of linear warmup, in [0, steps).
        min_lr: learning rate that the cosine approaches at the end.

    Returns:
        The learning rate.
    """
    step = check_int("step", step, minimum=0)
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    # Past the last step the rate stays at `min_lr`: the cosine must not climb back up (progress capped at 1).
    progress = min(1.0, (step - warmup_steps) / max(1, steps - warmup_steps))
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * progress))


def make_optimizer(
    model: nn.Module,
    *,
    lr: float,
    weight_decay: float = 0.1,
    betas: tuple[float, float] = (0.9, 0.95),
    device: str | torch.device = "cpu",
) -> torch.optim.AdamW:
    """The AdamW that `train` steps: weight decay on the matrices (2-D and up) only, not on biases and gains.

    Fused on CUDA. On the CPU, the multi-tensor (`foreach`) implementation: the same arithmetic as torch's
    single-tensor loop (the same weights, bit for bit, `tests/test_train_optimizer.py`), at less overhead
    for the guide's small models (0.58 to 0.64 of the loop's time for a 120,576-parameter model,
    `benchmarks/adamw_step.py`). torch's fused CPU kernel is faster still (a quarter to a half of the loop's
    time) but rounds differently, and with it one assert of `docs/prompting.md` failed at 2 and 4 torch
    threads: it waits until the pages are checked again with it (`benchmarks/RESULTS.md`).

    For example:

    ```python
    from llmguide.model import GPT, GPTConfig
    from llmguide.train import make_optimizer

    model = GPT(GPTConfig(block_size=32, n_layer=1, n_head=2, n_embd=32))
    optimizer = make_optimizer(model, lr=3e-3)
    print([(len(g["params"]), g["weight_decay"]) for g in optimizer.param_groups], optimizer.defaults["foreach"])
    #> [(6, 0.1), (10, 0.0)] True
    ```

    Args:
        model: the module whose parameters (those that require a gradient) are optimized.
        lr: learning rate (`train` sets it again at every step, from its schedule).
        weight_decay: decoupled weight decay of the matrices and embeddings.
        betas: AdamW's moment coefficients.
        device: where the parameters live (`"cpu"`, `"cuda"`, a `torch.device`).

    Returns:
        A `torch.optim.AdamW` with two parameter groups: decayed, then not decayed.
    """
    device = torch.device(device)
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    foreach = True if device.type == "cpu" else None
    return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=device.type == "cuda", foreach=foreach)


def _world() -> tuple[int, int, int]:
    """(world_size, rank, local_rank) from the environment that torchrun sets; (1, 0, 0) otherwise."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return 1, 0, 0
    rank = int(os.environ.get("RANK", "0"))
    return world_size, rank, int(os.environ.get("LOCAL_RANK", str(rank)))


def train(
    model: nn.Module,
    data: BatchSource,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    weight_decay: float = 0.1,
    warmup_steps: int | None = None,
    min_lr: float | None = None,
    grad_clip: float | None = 1.0,
    betas: tuple[float, float] = (0.9, 0.95),
    eval_interval: int | None = None,
    eval_batches: int = 4,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool | None = None,
) -> History:
    """Train `model` in place on batches from `data` and return the loss history.

    For example:

    ```python
    import torch
    from llmguide.data import corpus_data
    from llmguide.model import GPT, GPTConfig
    from llmguide.train import train

    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=32, n_layer=1, n_head=2, n_embd=32))
    history = train(model, corpus_data(block_size=32), steps=20, batch_size=8, lr=3e-3, device="cpu")
    print(f"val loss {history.val_loss[0]:.1f} -> {history.val_loss[-1]:.1f} nats per byte")
    #> val loss 5.5 -> 3.9 nats per byte
    ```

    Args:
        model: a module whose `forward(idx, targets)` returns `(logits, loss)`.
        data: a `BatchSource`, e.g. `llmguide.data.corpus_data(block_size=64)`.
        steps: number of optimizer steps.
        batch_size: rows per step over all processes; with `torchrun` it must be divisible by their number.
        lr: peak learning rate.
        weight_decay: AdamW weight decay applied to weight matrices and embeddings (not biases or norms).
        warmup_steps: steps of linear warmup; default `min(100, steps // 10)`.
        min_lr: learning rate at the end of the cosine decay; default `lr / 10`.
        grad_clip: clip the global gradient norm to this value; None turns clipping off.
        betas: AdamW's moment coefficients.
        eval_interval: measure the validation loss every this many steps (and after the last step and before
            the first); default `max(1, steps // 10)`.
        eval_batches: validation batches of `batch_size` rows per measurement (the same batches every time).
        seed: seeds the batch generator and torch's global generator (dropout).
        device: `"cpu"`, `"cuda"`, `"cuda:1"`, `"mps"`, a `torch.device`, or None for the best available.
            The model is moved there.
        progress: write a progress line to stderr; None means only if stderr is a terminal.

    Returns:
        The `History` of the run; with `torchrun` every process returns the same one.

    Raises:
        TypeError: `model` is not a `torch.nn.Module`, `data` has no `get_batch`, or an argument has the wrong
            kind (e.g. a float `steps`).
        ValueError: a non-positive `steps`, `batch_size`, `lr`, `eval_interval`, `eval_batches` or
            `grad_clip`; `warmup_steps` outside [0, steps); negative `weight_decay`; `min_lr` outside [0, lr];
            `betas` outside [0, 1); `batch_size` not divisible by the number of processes; data windows longer
            than the model's `block_size` (the model's own input check, at the first batch: the data owns
            its window length, the model its context, and only the model compares the two).
        FloatingPointError: a training or validation loss is not finite (NaN or infinite): training diverged,
            usually because `lr` is too high. Training stops at that step; the model's weights are then
            unusable.
    """
    check_instance("model", model, nn.Module, "a torch.nn.Module")
    if not callable(getattr(data, "get_batch", None)):
        raise TypeError(f"data must have a get_batch method (a BatchSource), got {type(data).__name__}")
    steps = check_int("steps", steps, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    lr = check_real("lr", lr, minimum=0, min_open=True)
    eval_batches = check_int("eval_batches", eval_batches, minimum=1)
    eval_interval = (
        max(1, steps // 10) if eval_interval is None else check_int("eval_interval", eval_interval, minimum=1)
    )
    warmup_steps = min(100, steps // 10) if warmup_steps is None else warmup_steps
    warmup_steps = check_int("warmup_steps", warmup_steps, minimum=0, maximum=steps - 1)
    min_lr = check_real("min_lr", lr / 10 if min_lr is None else min_lr, minimum=0, maximum=lr)
    weight_decay = check_real("weight_decay", weight_decay, minimum=0)
    if grad_clip is not None:
        grad_clip = check_real("grad_clip", grad_clip, minimum=0, min_open=True)
    check_instance("betas", betas, (tuple, list), "a pair of numbers (beta1, beta2)")
    if len(betas) != 2:
        raise ValueError(f"betas must hold two numbers (beta1, beta2), got {len(betas)}")
    betas = (
        check_real("betas[0]", betas[0], minimum=0, maximum=1, max_open=True),
        check_real("betas[1]", betas[1], minimum=0, maximum=1, max_open=True),
    )
    seed = check_int("seed", seed, minimum=0, maximum=MAX_SEED)
    if progress is not None:
        check_bool("progress", progress)

    from llmguide.device import autocast_dtype, make_grad_scaler, resolve_device

    world_size, rank, local_rank = _world()
    if batch_size % world_size != 0:
        raise parameter_error(
            ValueError,
            f"batch_size={batch_size} must be divisible by the number of processes ({world_size})",
            "batch_size",
        )
    device = resolve_device(device)  # resolved once, here: everything below uses this torch.device
    if world_size > 1 and device.type == "cuda":
        device = torch.device("cuda", local_rank)  # one GPU per process
        torch.cuda.set_device(device)
    amp_dtype = autocast_dtype(device)  # the step's mixed precision, decided once (None: float32)

    def autocast() -> contextlib.AbstractContextManager[object]:
        """The forward pass's mixed precision on `device` (see `llmguide.device.autocast`)."""
        if amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=amp_dtype)

    local = batch_size // world_size
    rows = slice(rank * local, (rank + 1) * local)

    torch.manual_seed(seed + rank)  # dropout masks; batches come from their own generators below
    model.to(device)
    was_training = model.training
    model.train()
    optimizer = make_optimizer(model, lr=lr, weight_decay=weight_decay, betas=betas, device=device)
    scaler = make_grad_scaler(device)

    created_group = False
    net: nn.Module = model
    if world_size > 1:
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel

        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
            created_group = True
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    def mean_over_processes(value: torch.Tensor) -> torch.Tensor:
        if world_size > 1:
            import torch.distributed as dist

            dist.all_reduce(value, op=dist.ReduceOp.SUM)
            value = value / world_size
        return value

    def batch(split: str, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = data.get_batch(split, batch_size, generator=generator, device="cpu")  # the global batch
        return x[rows].to(device), y[rows].to(device)  # this process's share

    @torch.no_grad()
    def validation_loss() -> float:
        model.eval()
        generator = torch.Generator().manual_seed(seed + 1)  # the same held-out batches every time
        total = torch.zeros((), device=device)
        for _ in range(eval_batches):
            x, y = batch("val", generator)
            with autocast():
                _, loss = model(x, y)
            total += loss.float()
        model.train()
        value = float(mean_over_processes(total / eval_batches))
        if not math.isfinite(value):
            done = history.val_steps[-1]
            raise parameter_error(
                FloatingPointError,
                f"the validation loss is {value} after {done} of {steps} steps: training diverged; "
                f"try a lower lr than {lr:g}",
                "lr",
            )
        return value

    show = (sys.stderr.isatty() if progress is None else bool(progress)) and rank == 0
    history = History(world_size=world_size)
    losses = torch.zeros(steps, device=device)
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    try:
        history.val_steps.append(0)
        history.val_loss.append(validation_loss())
        for step in range(steps):
            rate = lr_at(step, lr=lr, steps=steps, warmup_steps=warmup_steps, min_lr=min_lr)
            for group in optimizer.param_groups:
                group["lr"] = rate
            x, y = batch("train", generator)
            with autocast():
                _, loss = net(x, y)
            scaler.scale(loss).backward()
            if grad_clip is not None:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            losses[step] = mean_over_processes(loss.detach().float())
            if not bool(torch.isfinite(losses[step])):  # the same on every process: the mean over all
                raise parameter_error(
                    FloatingPointError,
                    f"the training loss is {float(losses[step])} at step {step + 1} of {steps}: training "
                    f"diverged; try a lower lr than {lr:g}"
                    + ("" if grad_clip is not None else ", or clip the gradients (grad_clip)"),
                    ("lr", "grad_clip"),
                )
            history.lr.append(rate)
            history.tokens_seen += x.numel() * world_size
            if (step + 1) % eval_interval == 0 or step + 1 == steps:
                history.val_steps.append(step + 1)
                history.val_loss.append(validation_loss())
            if show and ((step + 1) % max(1, steps // 100) == 0 or step + 1 == steps):
                print(
                    f"\rstep {step + 1}/{steps}  loss {float(losses[step]):.3f}  "
                    f"val {history.val_loss[-1]:.3f}",
                    end="\n" if step + 1 == steps else "",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        if created_group:
            import torch.distributed as dist

            # Wait for every process before tearing the group down: with gloo, a process that destroys the
            # group while its peer is still finishing its last collective can leave that peer hanging.
            dist.barrier()
            dist.destroy_process_group()
        model.train(was_training)
    history.steps = list(range(1, steps + 1))
    history.train_loss = losses.tolist()
    history.wall_time_s = time.perf_counter() - start
    return history
