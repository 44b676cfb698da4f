"""Run a command from a test with a time limit that ends the command and everything it started.

`subprocess.run(..., timeout=...)` kills only its own process; a launcher such as `torchrun` starts workers
in sessions of their own, which would live on. On timeout, `run_bounded` notes every descendant (psutil),
sends SIGTERM to the command's process group (torchrun then stops its workers), waits `grace` seconds, kills
what is left (psutil checks start times: a reused pid is spared), and fails the test with the output's end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Sequence
from subprocess import PIPE

import psutil
import pytest


def run_bounded(
    args: Sequence[str], *, timeout: float, grace: float = 10.0, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """`subprocess.run(args, capture_output=True, text=True, **kwargs)` that cannot outlive `timeout` seconds."""
    proc = subprocess.Popen(list(args), stdout=PIPE, stderr=PIPE, text=True, start_new_session=True, **kwargs)
    with contextlib.suppress(subprocess.TimeoutExpired):
        out, err = proc.communicate(timeout=timeout)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    root = psutil.Process(proc.pid)
    tree = [root, *root.children(recursive=True)]
    with contextlib.suppress(ProcessLookupError):  # the group may be gone
        os.killpg(proc.pid, signal.SIGTERM)
    psutil.wait_procs(tree, timeout=grace)
    with contextlib.suppress(psutil.Error):
        tree += [p for p in root.children(recursive=True) if p not in tree]
    for p in tree:
        with contextlib.suppress(psutil.Error):
            p.kill()  # psutil checks that the pid is still this process
    try:  # a process that escaped would hold the pipes open: do not wait for it
        out, err = proc.communicate(timeout=grace)
    except subprocess.TimeoutExpired:
        for pipe in (proc.stdout, proc.stderr):
            pipe.close()
        proc.wait()
        out, err = "", "(its output was lost: a process it started still held the pipes)"
    tail = (out[-2000:] + err[-2000:]).strip()
    pytest.fail(
        f"timed out after {timeout:g} s: {' '.join(map(str, args))}\nended it and the {len(tree) - 1} "
        f"processes it had started; its output ended with:\n{tail}",
        pytrace=False,
    )
