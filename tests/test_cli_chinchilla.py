"""Tests for `llmguide chinchilla`: the table it prints agrees with llmguide.scaling and with hand-computed
values, and bad input exits with status 2 and a one-line message naming the flag."""

from __future__ import annotations

import subprocess
import sys

import pytest

from llmguide.scaling import compute_optimal


def _rows(out: str) -> dict[str, list[float]]:
    """The table rows by method label: the numbers at the end of each line."""
    rows = {}
    for line in out.splitlines()[2:]:
        label, numbers = line[:24].strip(), [float(x) for x in line[24:].split()]
        rows[label] = numbers
    return rows


def run(cli, *argv: str) -> str:
    result = cli("chinchilla", *argv)
    assert result.status == 0, result.err
    return result.out


def test_flops(cli):
    out = run(cli, "--flops", "1e21")
    assert out.splitlines()[0] == "Budget: 1.00e+21 FLOPs"
    rows = _rows(out)
    labels = ["20 tokens/param", "Hoffmann 2022 rounded", "Hoffmann 2022 unrounded", "Besiroglu 2024 (refit)"]
    assert list(rows) == labels
    n, _tokens, ratio, flops = rows["20 tokens/param"]
    assert n == pytest.approx((1e21 / 120) ** 0.5, rel=5e-3)  # N = sqrt(C / (6 * 20))
    assert ratio == 20.0
    assert flops == 1e21
    n_fit, d_fit = compute_optimal(1e21, method="besiroglu-2024")
    assert rows["Besiroglu 2024 (refit)"][:2] == pytest.approx([n_fit, d_fit], rel=5e-3)
    # the unrounded Approach 3 at 1e21 FLOPs: about 34 tokens per parameter (hand-computed closed form)
    assert rows["Hoffmann 2022 unrounded"][2] == pytest.approx(33.9, abs=0.05)


def test_params(cli):
    rows = _rows(run(cli, "--params", "7e9"))
    assert rows["20 tokens/param"] == pytest.approx([7e9, 1.4e11, 20.0, 5.88e21], rel=5e-3)
    for n, _, _, _ in rows.values():
        assert n == 7e9


def test_hardware_budget(cli):
    out = run(cli, "--gpus", "8", "--hours", "24", "--gpu", "h100", "--utilisation", "0.4")
    expected = 8 * 24 * 3600 * 989e12 * 0.4
    assert out.splitlines()[0].startswith(
        "Budget: 8 x h100 (989 TFLOP/s peak) for 24 h at 40% 6ND utilisation = "
    )
    assert float(out.splitlines()[0].split("= ")[1].split()[0]) == pytest.approx(expected, rel=5e-3)
    for row in _rows(out).values():
        assert row[3] == pytest.approx(expected, rel=5e-3)


def test_time_column_with_params(cli):
    out = run(cli, "--params", "7e9", "--gpus", "8", "--gpu", "h100")
    assert out.splitlines()[1].split()[-1] == "hours"
    # 6 * 7e9 * 140e9 FLOPs / (8 * 989e12 * 0.4 FLOP/s) / 3600 s/h = 516 h
    assert _rows(out)["20 tokens/param"][-1] == 516


def test_console_script_runs():
    result = subprocess.run(
        [sys.executable, "-m", "llmguide", "chinchilla", "--flops", "5.76e23"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Besiroglu 2024 (refit)" in result.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "give one of --flops, --params or --hours"),
        # values too large for a float: the example, and the other inputs that can overflow
        (["--params", "1e300"], "--params is too large: computing the compute-optimal token count overflows"),
        (["--params", "inf"], "--params must be a finite number > 0"),
        (["--flops", "1e309"], "--flops must be a finite number > 0"),
        (["--gpus", "8", "--hours", "1e300", "--gpu", "h100"], "--gpus or --hours is too large"),
        (["--gpus", "8", "--hours", "24", "--gpu", "inf"], "--gpu (peak FLOP/s) must be a finite number > 0"),
        (["--gpus", "8", "--hours", "24", "--gpu", "nan"], "--gpu (peak FLOP/s) must be a finite number > 0"),
        (["--flops=-1e21"], "--flops must be a finite number > 0"),
        (["--flops", "nan"], "--flops must be a finite number > 0"),
        (["--params", "0"], "--params must be a finite number > 0"),
        (["--hours", "24"], "--hours needs --gpus and --gpu"),
        (["--gpus", "8", "--hours", "-3", "--gpu", "h100"], "--hours must be a finite number > 0"),
        (["--gpus", "8", "--hours", "24", "--gpu", "h900"], "unknown --gpu 'h900'; known: h100"),
        (
            ["--gpus", "8", "--hours", "24", "--gpu", "h100", "--utilisation", "1.5"],
            r"--utilisation must be in (0, 1]",
        ),
        (
            ["--gpus", "8", "--hours", "24", "--gpu", "h100", "--utilisation", "0"],
            r"--utilisation must be in (0, 1]",
        ),
        (["--gpus", "0", "--hours", "24", "--gpu", "h100"], "--gpus must be a whole number >= 1"),
        (
            ["--gpus", "8", "--hours", "24", "--gpu", "h100", "--utilisation", "nan"],
            r"--utilisation must be in (0, 1]",
        ),
        (["--gpus", "8", "--hours", "24"], "--gpus and --gpu go together"),
        # --utilisation has a default, so a bad one is refused even where no hardware flag uses it
        (["--flops", "1e21", "--utilisation", "-3"], r"--utilisation must be in (0, 1]"),
        (["--params", "7e9", "--utilisation", "inf"], r"--utilisation must be in (0, 1]"),
        (["--flops", "1e21", "--params", "7e9"], "not allowed with argument"),
        (["--flops", "lots"], "invalid float value"),
    ],
)
def test_bad_input_exits_2_with_one_line(cli, argv, message):
    result = cli("chinchilla", *argv)
    assert result.status == 2
    line = result.fails_naming("--")
    assert line.startswith("llmguide chinchilla: error: ")
    assert message in line
    assert result.out == ""  # nothing is printed before the error: no half table
