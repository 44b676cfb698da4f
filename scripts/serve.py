"""`make serve`: the guide served at once; its figures and the solutions' outputs filled in behind it.

Usage: python scripts/serve.py [--addr 127.0.0.1:8000]

1. Starts `mkdocs serve` (live reload) right away. Under `serve`, the hooks (src/llmguide_docs/hooks.py) show
   a placeholder for each figure not drawn yet and each solution notebook without its outputs; `--no-strict`
   keeps it serving through warnings.
2. Waits for the first answer (HTTP 200) and prints the address: `mkdocs serve` mounts the site under the path
   of `site_url` in mkdocs.yml (`/llmguide/`), so that is where it answers.
3. Then, one job at a time and in the order of the nav, it runs what the figures and the solutions need,
   through the Makefile's own rules, so that only what changed since its last pass runs: every page that
   shows a figure (`make docs/figures/.drawn-PAGE`, the page's blocks) and every solution notebook
   (`make build/notebooks/solutions/NAME.ipynb`). Each figure and executed copy lands where mkdocs is
   watching, and live reload shows it in the open browser.
4. Each job prints one line. A job that fails (a page's block raised, or an output line is stale) prints the
   failing lines, names its full log (`build/serve/NAME.log`) and leaves the page's figures that were not
   drawn before the failure as placeholders; the server keeps serving, and `make test` keeps failing until it
   is fixed.

Ctrl-C stops the server and any job. The exit status is the server's.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from llmguide_docs.pages import figures
from llmguide_docs.site import mkdocs_config, nav_pages, site_url

ROOT = Path(__file__).resolve().parents[1]

LOGS = ROOT / "build" / "serve"
FIRST_ANSWER_TIMEOUT = 900  # seconds: a very slow machine still gets an answer, then a clear error


@dataclass
class Job:
    """One make target that draws a page's figures or runs a solution notebook."""

    label: str  # what the terminal calls it: the page or notebook, relative to docs/
    target: str  # the make target
    name: str  # its log's name


def served_url(addr: str, config: dict | None = None) -> str:
    """Where `mkdocs serve --dev-addr addr` answers: the address, under the path of `site_url`."""
    from urllib.parse import urlsplit

    path = urlsplit(site_url() if config is None else config.get("site_url") or "/").path or "/"
    return f"http://{addr}{path if path.endswith('/') else path + '/'}"


def jobs(config: dict | None = None, docs: Path = ROOT / "docs") -> list[Job]:
    """What fills in the site, in the order of the nav: pages that show figures, then solution notebooks."""
    out = []
    for page in nav_pages(config or mkdocs_config()):
        path = docs / page
        if page.endswith(".md") and "/" not in page and path.is_file():
            if figures(path.read_text("utf8"))[0]:
                out.append(Job(page, f"docs/figures/.drawn-{path.stem}", path.stem))
        elif page.startswith("solutions/") and page.endswith(".ipynb"):
            out.append(Job(page, f"build/notebooks/{page}", f"solutions-{Path(page).stem}"))
    return out


def say(message: str) -> None:
    print(f"make serve: {message}", flush=True)


def wait_for_first_answer(url: str, server: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    return False


def failure_lines(log: str, limit: int = 8) -> list[str]:
    """The lines of a failed job's output that say what failed: pytest's summary and `FILE:LINE:` messages."""
    wanted = re.compile(r"^(FAILED |ERROR |E\s+\S|\S+\.(md|ipynb|py):\d+: )")
    found = [line for line in log.splitlines() if wanted.match(line)]
    seen: list[str] = []
    for line in found:
        if line not in seen:
            seen.append(line)
    return seen[:limit]


_current: list[subprocess.Popen] = []  # the job running now, stopped with the server


def job_env() -> dict[str, str]:
    """The environment of a job: torch's OpenMP threads wait passively instead of spinning.

    While a page's blocks run, the server rebuilds and other programs run too; on two cores a spinning
    thread burns the time slices that the thread it waits for needs. The thread count, and so every number
    the page prints, is unchanged (`--torch-threads`, 2 by default).
    """
    return {"OMP_WAIT_POLICY": "PASSIVE", **os.environ}


def run_job(
    job: Job, make: list[str], server: subprocess.Popen, *, root: Path = ROOT, logs: Path = LOGS
) -> str:
    """Run one job; return 'up to date', 'done in N s' or 'failed' (a failure prints its lines here)."""
    if subprocess.call([*make, "-q", job.target], cwd=root, stdout=subprocess.DEVNULL) == 0:
        return "up to date"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{job.name}.log"
    start = time.monotonic()
    with log_path.open("w", encoding="utf8") as log:
        process = subprocess.Popen(
            [*make, job.target],
            cwd=root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches it through stop_job, after the server's own shutdown
            env=job_env(),
        )
        _current[:] = [process]
        while process.poll() is None:
            if server.poll() is not None:  # the server stopped: stop drawing too
                stop_job()
                return "failed"
            time.sleep(0.5)
    _current.clear()
    seconds = time.monotonic() - start
    if process.returncode == 0:
        return f"done in {seconds:.0f} s"
    lines = failure_lines(log_path.read_text("utf8", errors="replace"))
    rel = log_path.relative_to(root) if log_path.is_relative_to(root) else log_path
    say(f"{job.label} FAILED after {seconds:.0f} s; the server keeps serving (full log: {rel}):")
    for line in lines:
        print(f"    {line}", flush=True)
    return "failed"


def stop_job() -> None:
    """Stop the running job: make and the pytest under it (their own process group)."""
    import signal

    for process in _current:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
    _current.clear()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    import signal

    # Ctrl-C in the terminal, or SIGTERM (a `make serve &` stopped with kill): stop the job and the server. SIGINT
    # is set explicitly because a shell starts background commands with it ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--addr", default="127.0.0.1:8000", help="host:port to serve on")
    args = parser.parse_args(argv)
    start = time.monotonic()
    url = served_url(args.addr)
    python = sys.executable
    # --no-strict: a warning (a link being edited, say) must not stop a reader's server; `make build` is strict.
    # --dirty: after the first build, a rebuild renders only the pages whose source changed. A figure that
    # arrives changes no page (the placeholder was at its address), so each of the many rebuilds while the
    # figures are drawn takes seconds instead of a full build's half minute, and leaves the CPU to the drawing.
    command = [python, "-m", "mkdocs", "serve", "--no-strict", "--dirty", "--dev-addr", args.addr]
    # MkDocs 1.x is pinned on purpose (README): no notice about MkDocs 2 on every build, as in the Makefile.
    server = subprocess.Popen(command, cwd=ROOT, env={"NO_MKDOCS_2_WARNING": "1", **os.environ})
    make = [os.environ.get("MAKE", "make"), "--no-print-directory"]
    if "VENV" in os.environ:
        make.append(f"VENV={os.environ['VENV']}")
    try:
        say(f"building the pages; the guide will be at {url}")
        if not wait_for_first_answer(url, server, FIRST_ANSWER_TIMEOUT):
            if server.poll() is None:
                say(f"no answer from {url} after {FIRST_ANSWER_TIMEOUT} s")
                server.terminate()
            return server.wait() or 1
        say(f"the guide is at {url} (first answer {time.monotonic() - start:.0f} s after starting)")
        todo = jobs()
        say(
            f"now drawing the figures and running the solutions in the background, in the order of the nav "
            f"({len(todo)} jobs); a figure not drawn yet shows a placeholder, and the page reloads as each arrives"
        )
        failed = []
        for n, job in enumerate(todo, start=1):
            if server.poll() is not None:
                break
            outcome = run_job(job, make, server)
            if outcome == "failed":
                failed.append(job.label)
            else:
                say(f"[{n}/{len(todo)}] {job.label}: {outcome}")
        if server.poll() is None:
            total = time.monotonic() - start
            if failed:
                say(
                    f"finished {total:.0f} s after starting, with failures in {', '.join(failed)}: their figures not "
                    "drawn before the failure keep their placeholders; `make test` fails until they pass"
                )
            else:
                say(f"every figure and solution is in, {total:.0f} s after starting; still serving {url}")
        return server.wait()
    except KeyboardInterrupt:
        stop_job()
        server.send_signal(signal.SIGINT)  # mkdocs serve shuts down cleanly on it
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
