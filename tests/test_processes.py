"""Tests of tests/processes.py: a command that overruns its time limit is ended with everything it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from processes import run_bounded

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process tree from /proc")


def alive(pid: int) -> bool:
    """Whether `pid` still runs (a zombie does not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, whatever its session: what run_bounded ends on a timeout."""
    return [p.pid for p in psutil.Process(pid).children(recursive=True)]


# A launcher like torchrun: it starts a worker in a session of its own (so killing the launcher's process
# group does not reach it), writes the worker's pid, and then both sleep. The launcher ignores SIGTERM, so
# the SIGKILL that follows the grace period is needed too.
LAUNCHER = textwrap.dedent(
    """
    import signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    open(sys.argv[1], "w").write(str(worker.pid))
    print("worker started", flush=True)
    time.sleep(120)
    """
)


@pytest.mark.slow
def test_a_timeout_ends_the_whole_tree_and_says_it_timed_out(tmp_path: Path) -> None:
    pid_file = tmp_path / "worker.pid"
    start = time.monotonic()
    with pytest.raises(pytest.fail.Exception, match=r"timed out after 3 s") as failure:
        run_bounded([sys.executable, "-c", LAUNCHER, str(pid_file)], timeout=3, grace=1)
    assert time.monotonic() - start < 30
    assert "worker started" in str(failure.value)  # the command's output is shown
    worker = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(worker), f"worker {worker} outlived the timeout"


def test_a_command_within_its_time_returns_its_result() -> None:
    result = run_bounded([sys.executable, "-c", "print('hi'); raise SystemExit(3)"], timeout=60)
    assert (result.returncode, result.stdout) == (3, "hi\n")


def test_descendants_follow_the_tree_across_sessions(tmp_path: Path) -> None:
    pid_file = tmp_path / "worker.pid"
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(pid_file)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "worker started\n"
        assert int(pid_file.read_text()) in descendants(proc.pid)
    finally:
        for pid in descendants(proc.pid):
            os.kill(pid, signal.SIGKILL)
        proc.kill()
        proc.wait()
