"""Run a command from a test with a time limit that ends the command and everything it started.

`subprocess.run(..., timeout=...)` kills only the process it started. A launcher such as `torchrun` starts its
workers in sessions of their own, so when the launcher is killed they live on: under load, a 2-process DDP
test left a worker sleeping for minutes after the test had timed out. `run_bounded` instead, when the time is up:

1. notes every descendant of the command (from /proc, while the parent links still hold),
2. sends SIGTERM to the command's process group (torchrun then stops its workers itself) and waits `grace`
   seconds,
3. sends SIGKILL to the group and to every descendant noted in 1 or still found, checking each one's start
   time so that a process id reused in the meantime is left alone,

and then fails the test with a message that says it timed out, and shows the end of the command's output.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

PROC = Path("/proc")


def _processes() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, start time in clock ticks), read from /proc (empty where there is no /proc)."""
    table = {}
    if not PROC.is_dir():
        return table
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it ended meanwhile
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # after "pid (comm) ": state, ppid, ..., starttime
        table[int(entry.name)] = (int(fields[1]), int(fields[19]))
    return table


def descendants(pid: int) -> dict[int, int]:
    """Every process below `pid` in the process tree, whatever its session: pid -> start time."""
    table = _processes()
    children: dict[int, list[int]] = {}
    for child, (parent, _) in table.items():
        children.setdefault(parent, []).append(child)
    found, todo = {}, [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found[child] = table[child][1]
                todo.append(child)
    return found


def alive(pid: int, start: int | None = None) -> bool:
    """Whether `pid` still runs (a zombie does not) and, if `start` is given, is the same process."""
    table = _processes()
    if pid not in table:
        return False
    try:
        state = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and (start is None or table[pid][1] == start)


def _kill(pid: int, start: int) -> None:
    if alive(pid, start):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_bounded(
    args: Sequence[str], *, timeout: float, grace: float = 10.0, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """`subprocess.run(args, capture_output=True, text=True, **kwargs)` that cannot outlive `timeout` seconds.

    On timeout the command and all its descendants are ended (see the module's description) and the test
    fails with "timed out after ... s".
    """
    proc = subprocess.Popen(
        list(args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **kwargs,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    except subprocess.TimeoutExpired:
        pass
    tree = descendants(proc.pid)
    with contextlib.suppress(ProcessLookupError):  # the group may be gone
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and (proc.poll() is None or any(alive(p, s) for p, s in tree.items())):
        time.sleep(0.1)
    tree |= descendants(proc.pid)
    with contextlib.suppress(ProcessLookupError):  # the group may be gone
        os.killpg(proc.pid, signal.SIGKILL)
    for pid, start in tree.items():
        _kill(pid, start)
    try:  # a process that escaped (one /proc could not show) would hold the pipes open: do not wait for it
        out, err = proc.communicate(timeout=grace)
    except subprocess.TimeoutExpired:
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.wait()
        out, err = "", "(its output was lost: a process it started still held the pipes)"
    tail = (out[-2000:] + err[-2000:]).strip()
    pytest.fail(
        f"timed out after {timeout:g} s: {' '.join(map(str, args))}\n"
        f"ended it and the {len(tree)} processes it had started; its output ended with:\n{tail}",
        pytrace=False,
    )
