"""Memory of a training step, measured against llmguide.sizing's predictions.

For a few shapes of the package's GPT, one fp32 training step (forward with loss, backward, AdamW step) is run
and the memory it holds is measured:

- on the CPU, exactly, from the tensors: bytes of the parameters, gradients, AdamW moments and step counters
  after the step, and the bytes of the tensors autograd saves for the backward pass (one entry per storage,
  parameters excluded), compared with `training_memory(precision="fp32")` and with
  `activation_bytes(flash_attention=True, dropout=False, bytes_per_value=4)` (the CPU attention kernel is a
  fused one; the models have no dropout), which counts the final norm, the head's input, the fp32 logits and
  the log-softmax that `F.cross_entropy` saves. The logits are not saved by autograd but held by the caller
  until the backward pass, so the measurement adds them to the saved tensors;
- on a CUDA GPU, when there is one: `torch.cuda.memory_allocated()` after the step (the steady state: weights,
  gradients, AdamW state) and `torch.cuda.max_memory_allocated()` over the step, against the same predictions.
  Without a GPU that part prints that it was not run.

    .venv/bin/python benchmarks/memory_measured.py
    .venv/bin/python benchmarks/memory_measured.py --quick     # the smallest shape only
"""

from __future__ import annotations

import argparse
import platform
import sys

import torch

from llmguide.model import GPT, GPTConfig
from llmguide.sizing import activation_bytes, training_memory

# (n_layer, n_head, n_embd, block_size, batch); vocab 256 (byte tokens). The first is the training benchmark's
# shape (benchmarks/train_step.py).
SHAPES = [(4, 4, 128, 256, 16), (6, 8, 256, 256, 8), (8, 8, 512, 512, 4)]


def nbytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def cpu_measurement(cfg: GPTConfig, batch: int) -> dict[str, int]:
    torch.manual_seed(0)
    model = GPT(cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    params = list(model.parameters())
    param_storages = {p.untyped_storage().data_ptr() for p in params}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in param_storages:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    idx = torch.randint(
        0, cfg.vocab_size, (batch, cfg.block_size), generator=torch.Generator().manual_seed(0)
    )
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        logits, loss = model(idx, idx)
    saved[logits.untyped_storage().data_ptr()] = logits.untyped_storage().nbytes()  # held by the caller
    loss.backward()
    optimizer.step()
    moments = [optimizer.state[p][k] for p in params for k in ("exp_avg", "exp_avg_sq")]
    return {
        "weights": nbytes(params),
        "gradients": nbytes(p.grad for p in params),
        "AdamW moments": nbytes(moments),
        "AdamW step counters": nbytes(optimizer.state[p]["step"] for p in params),
        "activations saved": sum(saved.values()),  # and the logits
    }


def cuda_training_step(cfg: GPTConfig, batch: int) -> None:
    """One throwaway fp32 training step on the GPU, so that the measured step finds cuBLAS ready.

    The first matrix product of a thread creates a cuBLAS handle with a workspace (32 MiB on an H100/H200)
    that stays allocated, and the backward pass runs in autograd's own thread, which gets one of its own.
    Without this, the first measurement counts about 64 MiB that are no part of the model.
    """
    model = GPT(cfg).cuda()
    idx = torch.randint(0, cfg.vocab_size, (batch, cfg.block_size), device="cuda")
    _, loss = model(idx, idx)
    loss.backward()
    del model, loss, idx
    torch.cuda.synchronize()
    torch.cuda.empty_cache()


def cuda_measurement(cfg: GPTConfig, batch: int) -> dict[str, int]:
    cuda_training_step(cfg, batch)
    torch.manual_seed(0)
    model = GPT(cfg).cuda()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    idx = torch.randint(0, cfg.vocab_size, (batch, cfg.block_size), device="cuda")
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated() - nbytes(model.parameters()) - nbytes([idx])
    torch.cuda.reset_peak_memory_stats()
    logits, loss = model(idx, idx)
    loss.backward()
    optimizer.step()
    del logits, loss  # what is left: weights, gradients, AdamW state, the batch
    torch.cuda.synchronize()
    out = {
        "allocated after step": torch.cuda.memory_allocated() - base - nbytes([idx]),
        "peak during step": torch.cuda.max_memory_allocated() - base - nbytes([idx]),
    }
    del model, optimizer, idx
    torch.cuda.empty_cache()
    return out


def row(label: str, measured: int, predicted: int | None) -> str:
    ratio = f"{measured / predicted:>10.4f}" if predicted else f"{'-':>10}"
    pred = f"{predicted:>15,}" if predicted is not None else f"{'n/a':>15}"
    return f"  {label:<22}{measured:>15,}{pred}{ratio}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the smallest shape only")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    print(
        f"torch {torch.__version__}, python {platform.python_version()}, {platform.processor() or platform.machine()}"
    )
    shapes = SHAPES[:1] if args.quick else SHAPES
    for n_layer, n_head, n_embd, block, batch in shapes:
        cfg = GPTConfig(
            vocab_size=256, block_size=block, n_layer=n_layer, n_head=n_head, n_embd=n_embd, dropout=0.0
        )
        pred = training_memory(cfg, precision="fp32", optimizer="adamw", batch_size=batch, seq_len=block)
        acts = activation_bytes(
            cfg, batch_size=batch, seq_len=block, flash_attention=True, dropout=False, bytes_per_value=4
        )
        print(
            f"\nGPT n_layer={n_layer} n_head={n_head} n_embd={n_embd}, batch {batch} x {block} tokens, fp32, AdamW"
        )
        print(f"  {'CPU (bytes)':<22}{'measured':>15}{'predicted':>15}{'ratio':>10}")
        m = cpu_measurement(cfg, batch)
        print(row("weights", m["weights"], pred.weights))
        print(row("gradients", m["gradients"], pred.gradients))
        print(row("AdamW moments", m["AdamW moments"], pred.optimizer_states))
        print(row("AdamW step counters", m["AdamW step counters"], None))
        print(row("activations + logits", m["activations saved"], acts))
        print(
            f"  (of which the fp32 logits and log-softmax: {2 * batch * block * cfg.vocab_size * 4:,} bytes)"
        )
        if torch.cuda.is_available():
            steady = pred.weights + pred.gradients + pred.optimizer_states
            g = cuda_measurement(cfg, batch)
            print(f"  {'CUDA ' + torch.cuda.get_device_name(0):<22}")
            print(row("allocated after step", g["allocated after step"], steady))
            print(row("peak during step", g["peak during step"], steady + acts))
    if not torch.cuda.is_available():
        print("\nCUDA: no GPU on this machine; the GPU comparison was not run.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
