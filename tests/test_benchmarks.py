"""The GPU benchmarks refuse to run without a CUDA GPU in one line and exit status 2, and point to --smoke."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
GPU_SCRIPTS = ["decode_gpu.py", "train_throughput.py", "gpu_gpt2.py", "serving_gpu.py"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU: the scripts would run")
@pytest.mark.parametrize("script", GPU_SCRIPTS)
def test_a_gpu_benchmark_without_a_gpu_says_so_in_one_line(script: str) -> None:
    args = [sys.executable, str(BENCHMARKS / script)]
    if script != "gpu_gpt2.py":
        args += ["--device", "cuda"]  # their default, said outright (they measure the CPU when asked)
    result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{script} needs a CUDA GPU and none is available here; run with --smoke to check the script on the CPU."
    ]


def test_refusal_only_for_cuda(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    from gpu_required import refuse_without_cuda

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert refuse_without_cuda("x.py", wanted="cpu") is False
    assert refuse_without_cuda("x.py", wanted="cuda") is True
    assert "x.py needs a CUDA GPU" in capsys.readouterr().err
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert refuse_without_cuda("x.py", wanted="cuda") is False
