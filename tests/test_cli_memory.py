"""Tests of `llmguide memory`: the numbers it prints are checked against closed-form values, not against
the sizing module's own output; bad flags exit with status 2 and a one-line message."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run(cli, *argv: str) -> str:
    result = cli("memory", *argv)
    assert result.status == 0, result.err
    return result.out


def row(out: str, label: str) -> list[str]:
    line = next(line for line in out.splitlines() if line.startswith(label + " "))
    return line[len(label) :].split()


def test_serving_llama_2_7b_bf16(cli):
    out = run(cli, "llama-2-7b", "--dtype", "bf16")
    assert "6,738,415,616 parameters" in out
    assert "GB" in out and "GiB" in out
    n = 6_738_415_616
    assert row(out, "weights") == [f"{2 * n / 1e9:.2f}", f"{2 * n / 2**30:.2f}"]
    # 4096 tokens (the context length) x 2 x 32 layers x 4096 width x 2 bytes = exactly 2 GiB
    assert row(out, "KV cache") == [f"{2**31 / 1e9:.2f}", "2.00"]


def test_serving_int4_halves_a_byte(cli):
    out = run(cli, "llama-2-70b", "--dtype", "int4", "--seq-len", "1")
    # half a byte per block weight; the embedding and the untied head (2 x 32000 x 8192) stay in 16 bits
    emb = 2 * 32000 * 8192
    assert row(out, "weights")[0] == f"{((68_976_648_192 - emb) / 2 + 2 * emb) / 1e9:.2f}"


def test_training_llama_2_70b_zero3_on_8(cli):
    out = run(cli, "llama-2-70b", "--train", "--gpus", "8", "--zero", "3", "--gpu-memory", "80GB")
    n = 68_976_648_192
    assert row(out, "weights")[0] == f"{2 * n / 8 / 1e9:.2f}"
    assert row(out, "gradients")[0] == f"{2 * n / 8 / 1e9:.2f}"
    assert row(out, "optimizer states")[0] == f"{12 * n / 8 / 1e9:.2f}"
    assert "does not fit" in out
    assert "does not fit on any number of GPUs" in out  # 4096-token activations without recomputation


def test_training_fits_with_checkpointing(cli):
    out = run(
        cli,
        "llama-2-70b",
        "--train",
        "--gpus",
        "8",
        "--zero",
        "3",
        "--gpu-memory",
        "80GB",
        "--checkpointing",
        "--flash-attention",
        "--no-dropout",
    )
    n, s, h, layers = 68_976_648_192, 4096, 8192, 80
    # checkpointed: 2 s h bytes per block + one Llama block's s h (12 + 4 h_kv / h + 8 f / h) bytes while it
    # is recomputed; h_kv = 8 kv heads x 128 = 1024, f = 28672: 12 + 0.5 + 28 = 40.5
    # the ends, not checkpointed: the final norm's and output projection's inputs (2 s h each) and the fp32
    # logits and log-softmax of the 32,000-token vocabulary that F.cross_entropy keeps (8 s v)
    acts = 2 * s * h * layers + s * h * 81 // 2 + 4 * s * h + 8 * s * 32000
    assert row(out, "activations")[0] == f"{acts / 1e9:.2f}"
    # 16 bytes/param over N GPUs + the activations must fit in 80 GB: N = ceil(16 n / (80e9 - acts))
    need = -(-16 * n // (80 * 10**9 - acts))
    assert f"smallest number of 80.00 GB GPUs at ZeRO stage 3: {need}" in out


def test_custom_params(cli):
    out = run(cli, "--params", "7e9", "--train")
    assert "a model of 7,000,000,000 parameters" in out
    assert row(out, "total")[0] == "112.00"  # 16 bytes per parameter
    assert "activations need the model's shape" in out


def test_custom_shape_reproduces_llama_3_8b(cli):
    flags = (
        "--layers 32 --hidden 4096 --heads 32 --kv-heads 8 --vocab 128256 --intermediate 14336 --seq-len 8192"
    )
    out = run(cli, *flags.split())
    assert "8,030,261,248 parameters" in out
    assert row(out, "KV cache")[1] == "1.00"  # 8192 tokens x 2 x 32 x 8 x 128 x 2 bytes = 1 GiB


def test_custom_shape_tied_reproduces_llama_3_2_1b(cli):
    # meta-llama/Llama-3.2-1B config.json: 16 layers, 2048 wide, 32 heads, 8 kv heads, 8192 MLP, tied head
    flags = "--layers 16 --hidden 2048 --heads 32 --kv-heads 8 --vocab 128256 --intermediate 8192 --seq-len 8"
    assert "1,498,482,688 parameters" in run(cli, *flags.split())  # untied by default for llama
    assert "1,235,814,400 parameters" in run(cli, *flags.split(), "--tied")


def test_custom_gpt2_shape(cli):
    out = run(cli, *"--arch gpt2 --layers 12 --hidden 768 --heads 12 --vocab 50257 --context 1024".split())
    assert "124,439,808 parameters" in out


def test_list(cli):
    out = run(cli, "--list")
    assert "llama-3-8b" in out and "8,030,261,248" in out and "gpt3-175b" in out


def test_gpu_memory_for_serving(cli):
    out = run(cli, "llama-2-70b", "--seq-len", "4096", "--gpu-memory", "80GB")
    assert "on one 80.00 GB GPU: does not fit" in out
    out = run(cli, "llama-2-7b", "--seq-len", "4096", "--gpu-memory", "24GiB")
    assert "fits" in out and "does not fit" not in out


SHAPE = "--layers 2 --hidden 64 --heads 4 --vocab 10"
CUSTOM = f"{SHAPE} --intermediate 8 --context 8"


@pytest.mark.parametrize(
    ("argv", "flag", "message"),
    [
        # too large for a float: the two examples
        ("gpt2 --gpu-memory 1e400GB", "--gpu-memory", "--gpu-memory: size '1e400GB' is too large"),
        ("--params inf", "--params", "--params must be a finite number such as 7e9, got 'inf'"),
        ("--params nan", "--params", "--params must be a finite number such as 7e9, got 'nan'"),
        ("lama-2-7b", "model", "did you mean 'llama-2-7b'"),
        (
            "llama-2-7b --dtype fp64",
            "--dtype",
            "unknown --dtype 'fp64'; valid: fp32, fp16, bf16, fp8, int8, int4",
        ),
        ("gpt2 --train --precision half", "--precision", "unknown --precision 'half'; valid: mixed, fp32"),
        ("gpt2 --train --optimizer adam", "--optimizer", "unknown --optimizer 'adam'; valid:"),
        ("gpt2 --train --zero 4", "--zero", "--zero must be an integer in [0, 3]"),
        ("gpt2 --train --loss softmax", "--loss", "unknown --loss 'softmax'; valid: cross_entropy, logits"),
        ("gpt2 --train --gpus 0", "--gpus", "--gpus must be an integer >= 1"),
        ("gpt2 --batch-size 0", "--batch-size", "--batch-size must be an integer >= 1"),
        ("gpt2 --seq-len -3", "--seq-len", "--seq-len must be an integer >= 1"),
        ("gpt2 --gpu-memory lots", "--gpu-memory", "--gpu-memory: size must look like"),
        ("gpt2 --gpu-memory 80XB", "--gpu-memory", "--gpu-memory: unknown size unit"),
        ("", "--params", "give exactly one of a preset name, --params or the shape flags"),
        ("gpt2 --params 7e9", "--params", "give exactly one"),
        ("--params seven", "--params", "--params must be a number"),
        ("--params 0", "--params", "--params must be a whole number >= 1"),
        ("--params 7.5", "--params", "--params must be a whole number >= 1"),
        ("--layers 2 --hidden 64", "--heads", "a custom shape needs --heads, --vocab"),
        (f"{SHAPE} --intermediate 8", "--context", "needs --context or --seq-len"),
        (f"{SHAPE} --context 8", "--intermediate", "--intermediate is required for --arch='llama'"),
        (f"{CUSTOM} --heads 5", "--hidden", "--hidden (64) must be divisible by --heads (5)"),
        (f"{CUSTOM} --kv-heads 3", "--kv-heads", "--kv-heads (3) must divide --heads (4)"),
        (f"{CUSTOM} --layers 0", "--layers", "--layers must be an integer >= 1"),
        (f"{CUSTOM} --vocab 0", "--vocab", "--vocab must be an integer >= 1"),
        (f"{SHAPE} --intermediate 8 --context 0", "--context", "--context must be an integer >= 1"),
        (f"{SHAPE} --context 8 --arch bert", "--arch", "unknown --arch 'bert'"),
        ("gpt2 --seq-len 2048", "--seq-len", "--seq-len (2048) exceeds the context length of 'gpt2' (1024)"),
        ("gpt2 --dtype", "--dtype", "expected one argument"),  # argparse's own errors: one line too
    ],
)
def test_bad_input(cli, argv, flag, message):
    result = cli("memory", *argv.split())
    assert result.status == 2
    line = result.fails_naming(flag)
    assert line.startswith("llmguide memory: error: ")
    assert message in line


def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "llmguide", "memory", "gpt2", "--dtype", "fp32", "--seq-len", "1024"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "124,439,808 parameters" in out
    assert row(out, "weights") == [f"{4 * 124_439_808 / 1e6:.2f}", f"{4 * 124_439_808 / 2**20:.2f}"]
    assert out.splitlines()[2].split() == ["MB", "MiB"]  # a total under 1 GB is shown in MB and MiB


def test_tensor_and_sequence_parallel_flags(cli):
    out = run(cli, "llama-2-70b", "--train", "--tensor-parallel", "8", "--sequence-parallel", "--gpus", "4",
              "--zero", "1", "--gpu-memory", "80GB", "--flash-attention", "--no-dropout")  # fmt: skip
    n = 68_976_648_192
    per_gpu = -(-n // 8)
    assert row(out, "weights")[0] == f"{2 * per_gpu / 1e9:.2f}"
    # Llama 2 70B block, 16-bit, flash, no dropout: s h (12 + 0.5 + 28) bytes, all of it divided by t = 8,
    # and the ends: the final norm's and output projection's inputs 4 s h and the logits 8 s v, divided too
    s, h, v = 4096, 8192, 32000
    assert row(out, "activations")[0] == f"{(80 * s * h * 40.5 + 4 * s * h + 8 * s * v) / 8 / 1e9:.2f}"
    assert "on 4 replica(s) x 8 GPUs of 80.00 GB" in out
    assert "GPUs at ZeRO stage 1: 32" in out  # replicas of 8 GPUs each


def test_loss_flag(cli):
    base = ["llama-2-7b", "--train", "--seq-len", "2048", "--flash-attention", "--no-dropout"]
    s, v = 2048, 32000
    acts = {
        loss: float(row(run(cli, *base, "--loss", loss), "activations")[0])
        for loss in ("excluded", "chunked", "logits")
    }
    acts["cross_entropy"] = float(row(run(cli, *base), "activations")[0])  # the default
    assert abs(acts["cross_entropy"] - acts["logits"] - 4 * s * v / 1e9) < 0.011  # the fp32 log-softmax
    assert abs(acts["logits"] - acts["chunked"] - 4 * s * v / 1e9) < 0.011  # the fp32 logits
    assert 0 < acts["chunked"] - acts["excluded"] < 0.1  # the final norm's and projection's inputs only


def test_embedding_dtype_flag(cli):
    out = run(cli, "llama-2-7b", "--dtype", "int4", "--embedding-dtype", "int4", "--seq-len", "1")
    assert row(out, "weights")[0] == f"{6_738_415_616 / 2 / 1e9:.2f}"
