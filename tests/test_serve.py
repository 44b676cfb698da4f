"""`make serve` (scripts/serve.py, and the serve part of llmguide_docs/hooks.py): pages at once, figures after.

- the address printed is where `mkdocs serve` really answers: under the path of `site_url`;
- the background jobs follow the nav: the pages that show figures and the solution notebooks, in order;
- a failing job is reported in the terminal with its failing lines and its log, and the server is left alone;
- in a planted project, `mkdocs serve` answers with a placeholder image for a figure not drawn yet, and live
  reload replaces it by the figure once drawn, while `mkdocs build --strict` still fails on the missing figure.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# scripts/serve.py is a script, not a module of a package: load it from its file, leaving sys.path alone
_spec = importlib.util.spec_from_file_location("serve", ROOT / "scripts" / "serve.py")
serve = importlib.util.module_from_spec(_spec)
sys.modules["serve"] = serve  # its dataclasses look their module up by name
_spec.loader.exec_module(serve)


def test_the_address_is_where_mkdocs_serve_answers():
    from mkdocs.commands.serve import _serve_url  # how `mkdocs serve` itself mounts the site

    config = {"site_url": "https://llmguide.github.io/llmguide/"}
    assert serve.served_url("127.0.0.1:8000", config) == "http://127.0.0.1:8000/llmguide/"
    assert serve.served_url("127.0.0.1:8000", config) == _serve_url("127.0.0.1", 8000, "/llmguide/")
    assert serve.served_url("localhost:9000", {"site_url": None}) == "http://localhost:9000/"
    # the project's own configuration, as the README and `make help` state it
    assert serve.served_url("127.0.0.1:8000").endswith(":8000/llmguide/") or os.environ.get("SITE_URL")


def test_jobs_follow_the_nav(tmp_path: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    fence = "```"
    (docs / "index.md").write_text("# Index\n\n![A figure](figures/intro.svg)\n")
    (docs / "plain.md").write_text("# No figure\n")
    (docs / "shown-in-a-fence.md").write_text(f"# Example\n\n{fence}markdown\n![x](figures/x.svg)\n{fence}\n")
    (docs / "b.md").write_text("# B\n\n![B](figures/b.svg)\n")
    config = {
        "nav": [
            {"Introduction": "index.md"},
            {"B": [{"B": "b.md"}, {"Exercises, solved": "solutions/b.ipynb"}]},
            {"Plain": [{"Plain": "plain.md"}, {"Exercises, solved": "solutions/plain.ipynb"}]},
            {"Example": "shown-in-a-fence.md"},
        ]
    }
    found = [(j.label, j.target) for j in serve.jobs(config, docs)]
    assert found == [
        ("index.md", "docs/figures/.drawn-index"),
        ("b.md", "docs/figures/.drawn-b"),
        ("solutions/b.ipynb", "build/notebooks/solutions/b.ipynb"),
        ("solutions/plain.ipynb", "build/notebooks/solutions/plain.ipynb"),
    ]


def test_the_project_jobs_cover_every_figure_page_and_solution():
    labels = [j.label for j in serve.jobs()]
    assert labels[0] == "index.md"
    assert {p.name for p in (ROOT / "docs" / "solutions").glob("*.ipynb")} == {
        Path(label).name for label in labels if label.startswith("solutions/")
    }
    assert "contributing.md" not in labels  # its figure link is an example inside a fence


def test_a_failing_job_is_reported_and_the_server_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    (tmp_path / "Makefile").write_text(
        "fail:\n\t@echo 'docs/x.md:12: stale output: the statement at line 11 prints something else'\n"
        "\t@echo 'FAILED docs/x.md::[CodeFence#2][line:10]'\n\t@exit 1\n"
        "ok:\n\t@touch ok\n"
    )
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        make = ["make", "--no-print-directory"]
        outcome = serve.run_job(
            serve.Job("x.md", "fail", "x"), make, server, root=tmp_path, logs=tmp_path / "logs"
        )
        assert outcome == "failed"
        out = capsys.readouterr().out
        assert "make serve: x.md FAILED after" in out and "the server keeps serving" in out
        assert "docs/x.md:12: stale output" in out and "FAILED docs/x.md::" in out
        assert "logs/x.log" in out and (tmp_path / "logs" / "x.log").is_file()
        assert server.poll() is None  # still serving
        assert serve.run_job(
            serve.Job("ok", "ok", "ok"), make, server, root=tmp_path, logs=tmp_path
        ).startswith("done")
        assert (
            serve.run_job(serve.Job("ok", "ok", "ok"), make, server, root=tmp_path, logs=tmp_path)
            == "up to date"
        )
    finally:
        server.kill()
        server.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode("utf8", "replace")
    except OSError:
        return 0, ""


def test_serve_shows_a_placeholder_until_the_figure_is_drawn_and_build_stays_strict(tmp_path: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (tmp_path / "mkdocs.yml").write_text(
        "site_name: planted\nsite_url: https://example.org/planted/\nstrict: true\n"
        f"hooks:\n  - {ROOT / 'src' / 'llmguide_docs' / 'hooks.py'}\nnav:\n  - index.md\n"
    )
    (docs / "index.md").write_text("# Planted\n\n![The curve](figures/curve.svg)\n")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert build.returncode != 0 and "figures/curve.svg" in build.stderr, build.stderr  # strict, as before

    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "serve",
            "--no-strict",
            "--dirty",
            "--dev-addr",
            f"127.0.0.1:{port}",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/planted/"
    try:
        deadline = time.monotonic() + 120
        while _get(base)[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.3)
        status, page = _get(base)
        assert status == 200 and 'src="figures/curve.svg"' in page
        status, figure = _get(base + "figures/curve.svg")
        assert status == 200 and "Figure not drawn yet" in figure and "figures/curve.svg" in figure
        # The page's code draws the figure: live reload serves it at the same address.
        (docs / "figures").mkdir()
        (docs / "figures" / "curve.svg").write_text(
            '<svg xmlns="http://www.w3.org/2000/svg"><title>drawn</title></svg>'
        )
        deadline = time.monotonic() + 120
        while (
            "<title>drawn</title>" not in _get(base + "figures/curve.svg")[1] and time.monotonic() < deadline
        ):
            time.sleep(0.3)
        assert "<title>drawn</title>" in _get(base + "figures/curve.svg")[1]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_failure_lines_pick_what_failed():
    log = (
        ".venv/bin/python -m pytest docs/x.md -q\n..F.\n=== FAILURES ===\n"
        "docs/x.md:40: this block raised an exception\nE   ValueError: boom\n"
        "FAILED docs/x.md::[CodeFence#3][line:40]\nFAILED docs/x.md::[CodeFence#3][line:40]\n1 failed\n"
    )
    assert serve.failure_lines(log) == [
        "docs/x.md:40: this block raised an exception",
        "E   ValueError: boom",
        "FAILED docs/x.md::[CodeFence#3][line:40]",
    ]
