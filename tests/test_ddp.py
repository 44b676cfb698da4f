"""Two processes with DistributedDataParallel train exactly like one process with the same global batch.

The test launches this file twice as a script: once alone, and once as two CPU processes (backend gloo) set
up as `torchrun` sets them up (RANK, WORLD_SIZE, LOCAL_RANK), meeting through a file instead of torchrun's
TCP store (see `_launch`). Each run trains the same tiny GPT from the same seed for a few steps and writes
its loss history as JSON. With two processes each one trains on half of every global batch and the gradients
are averaged, so the updates are the same as with the whole batch in one process. They differ only in float
rounding (the batch mean is summed in another order), which is why the losses are compared to a relative
tolerance of 1e-5 instead of exactly: over 8 steps the measured relative difference is about 2e-7.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

import pytest
from processes import run_bounded

STEPS = 8
GLOBAL_BATCH = 8


def _train_and_dump(out: Path) -> None:
    import torch

    from llmguide.data import corpus_data
    from llmguide.model import GPT, GPTConfig
    from llmguide.train import train

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=16, n_layer=1, n_head=2, n_embd=16))
    history = train(
        model,
        corpus_data(block_size=16),
        steps=STEPS,
        batch_size=GLOBAL_BATCH,
        lr=1e-2,
        warmup_steps=2,
        eval_interval=4,
        eval_batches=2,
        seed=3,
        device="cpu",
    )
    rank = int(os.environ.get("RANK", "0"))
    weight = model.transformer.wte.weight.detach()
    record = {
        "train_loss": history.train_loss,
        "val_loss": history.val_loss,
        "tokens_seen": history.tokens_seen,
        "world_size": history.world_size,
        "weights": weight.flatten().tolist(),
    }
    out.with_name(f"{out.stem}-rank{rank}.json").write_text(json.dumps(record))


def _run(args: list[str], tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR")
    }
    env["OMP_NUM_THREADS"] = "1"
    # On timeout this ends the launcher and its workers and fails the test saying so, instead of leaving an
    # orphaned worker behind (tests/processes.py). The run takes about 10 s; a hang is retried once. No port is
    # picked in advance any more (torchrun's were, and a notebook kernel of the parallel run could take one in
    # between): the workers meet through a file, and gloo's own connections bind to ports the system assigns.
    try:
        result = run_bounded([sys.executable, *args], timeout=90, cwd=tmp_path, env=env)
    except pytest.fail.Exception as first:
        warnings.warn(f"retrying a run that hung once: {str(first).splitlines()[0]}", stacklevel=1)
        result = run_bounded([sys.executable, *args], timeout=90, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.skipif(
    sys.platform == "win32",
    reason="the workers under tests/processes.py's process groups are POSIX-only (docs/contributing.md)",
)
def test_two_processes_match_one_process_with_the_same_global_batch(tmp_path: Path) -> None:
    pytest.importorskip("torch.distributed")
    import torch.distributed

    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("this torch build has no gloo backend")
    script = str(Path(__file__).resolve())
    _run([script, str(tmp_path / "single.json")], tmp_path)
    _run([script, str(tmp_path / "ddp.json"), "--processes", "2"], tmp_path)
    single = json.loads((tmp_path / "single-rank0.json").read_text())
    rank0 = json.loads((tmp_path / "ddp-rank0.json").read_text())
    rank1 = json.loads((tmp_path / "ddp-rank1.json").read_text())

    assert single["world_size"] == 1 and rank0["world_size"] == rank1["world_size"] == 2
    assert rank0 == rank1  # both processes report the same averaged history and hold the same weights
    assert rank0["tokens_seen"] == single["tokens_seen"] == STEPS * GLOBAL_BATCH * 16
    assert len(rank0["train_loss"]) == STEPS
    for key in ("train_loss", "val_loss"):
        assert rank0[key] == pytest.approx(single[key], rel=1e-5, abs=0), key
    weight_gap = max(abs(a - b) for a, b in zip(rank0["weights"], single["weights"], strict=True))
    assert weight_gap < 1e-5  # the weights are about 0.02 in size; measured gap about 5e-8
    # and the losses did move: the comparison is not between two untrained models
    assert single["train_loss"][-1] < single["train_loss"][0] - 0.3


def _launch(out: Path, world_size: int) -> int:
    """Start `world_size` workers of this script as torchrun would set them up, and wait for all of them.

    The rendezvous is a file in the output's folder (`init_method="file://..."`), not torchrun's TCP store on a
    port picked in advance: under load, a torchrun launch here hung now and then (a run in three, with the
    machine's two cores busy), and neither its agent nor a port is needed to test DDP's arithmetic.
    """
    import subprocess

    store = out.with_name(f"{out.stem}-rendezvous")
    workers = []
    for rank in range(world_size):
        env = {**os.environ, "WORLD_SIZE": str(world_size), "RANK": str(rank), "LOCAL_RANK": str(rank)}
        env["LLMGUIDE_TEST_RENDEZVOUS"] = f"file://{store}"
        workers.append(subprocess.Popen([sys.executable, __file__, str(out)], env=env))
    return max(w.wait() for w in workers)


if __name__ == "__main__":  # the worker (or, with --processes N, the launcher), run by the test above
    if len(sys.argv) == 4 and sys.argv[2] == "--processes":
        sys.exit(_launch(Path(sys.argv[1]), int(sys.argv[3])))
    if "LLMGUIDE_TEST_RENDEZVOUS" in os.environ:  # train() then finds the group made and uses it
        import torch.distributed as dist

        dist.init_process_group(
            "gloo",
            init_method=os.environ["LLMGUIDE_TEST_RENDEZVOUS"],
            rank=int(os.environ["RANK"]),
            world_size=int(os.environ["WORLD_SIZE"]),
        )
    _train_and_dump(Path(sys.argv[1]))
    if "LLMGUIDE_TEST_RENDEZVOUS" in os.environ:
        dist.destroy_process_group()
