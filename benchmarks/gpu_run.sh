#!/usr/bin/env bash
# Every check and benchmark that needs a CUDA GPU, in one run, for a machine lent for a few minutes.
#
#   OUT=gpu-out bash benchmarks/gpu_run.sh        # logs under $OUT (default gpu-out/)
#
# Stages, most important first, each with its own time limit inside an overall budget (BUDGET seconds,
# default 540), so that a slow stage cannot eat the ones after it:
#   cuda_tests   the tests marked `cuda` (skipped on machines without a GPU)
#   gpt2         benchmarks/gpu_gpt2.py --baseline: GPT-2 124M shape, eager and torch.compile, MFU (PaLM's:
#                6N + attention) and 6ND utilisation (6N alone); table in gpt2.md
#   sizing_alone the CUDA memory test in a process of its own (no earlier CUDA test warms cuBLAS for it)
#   generate, generate_gpt2, memory, sampling
#                benchmarks/generate.py (small and GPT-2 shapes), memory_measured.py and
#                sampling_throughput.py on cuda (logs in small.log)
#   docs         every docs page's blocks on the GPU (default_device() picks cuda), with --update-outputs so
#                that a printed number that differs from the CPU's is recorded (docs.diff), not a failure;
#                asserts inside blocks still fail. It runs in a copy of docs/, src/ and tests/ under a
#                temporary folder, so the checkout's tracked files are never rewritten
#   unit         the rest of the unit tests, on a machine where CUDA is available
# Not in the default run (name them in STAGES; each writes Markdown, and figures where it draws any, to $OUT):
#   decode       benchmarks/decode_gpu.py: decode tokens/s at the GPT-2 124M shape in bf16, batch 1 and 16,
#                reference / fast path (CUDA graph, compile) / Hugging Face if installed, bandwidth ceiling,
#                cache crossover (decode.md, decode.json)
#   train_throughput
#                benchmarks/train_throughput.py: training tokens/s against sequence length, LSTM (cuDNN)
#                against the GPT (SDPA) at equal parameters (train_throughput.md, .svg, .json)
#   gpt2_mfu     gpu_gpt2.py compiled, vocabulary 50257 against 50304 (padded to a multiple of 64)
#   gpt2_autotune
#                gpu_gpt2.py with torch.compile(mode="max-autotune") (compiling takes minutes)
# STAGES="gpt2 unit" runs only the named stages (a rerun inside the same lease).
# It runs on a CPU-only machine too (the CUDA stages then skip or exit 2), which is how it was tested before
# it was spent on a GPU; SMOKE=1 passes --smoke to the benchmarks that have it (gpt2*, decode,
# train_throughput), which then run tiny shapes on the CPU. It uses whatever python3 has torch (PY=...);
# llmguide is taken from src/.
set -u
OUT=${OUT:-gpu-out}
PY=${PY:-python3}
BUDGET=${BUDGET:-540}
SMOKE_ARGS=()
[[ -n ${SMOKE:-} ]] && SMOKE_ARGS=(--smoke)
STAGES=" ${STAGES:-cuda_tests sizing_alone gpt2 generate generate_gpt2 memory sampling docs unit} "
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MPLBACKEND=Agg
T0=$(date +%s)
SUMMARY="$OUT/summary.txt"

stage() {  # stage NAME LIMIT_S LOGFILE CMD...
    local name=$1 limit=$2 log=$3 left start rc
    shift 3
    [[ $STAGES == *" $name "* ]] || return 0
    left=$((T0 + BUDGET - $(date +%s) - 5))
    if ((left < 10)); then
        echo "$name: not run, the budget is spent" | tee -a "$SUMMARY"
        return
    fi
    ((limit > left)) && limit=$left
    echo "== $name (limit ${limit}s): $*" >>"$log"
    start=$(date +%s)
    timeout "$limit" "$@" >>"$log" 2>&1
    rc=$?
    local note=""
    ((rc == 124)) && note=" (TIMED OUT)"
    echo "$name: rc=$rc in $(($(date +%s) - start)) s$note" | tee -a "$SUMMARY"
}

{
    date -u +"%Y-%m-%d %H:%M UTC"
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1 || echo "no nvidia-smi"
    "$PY" -c "import torch, platform; print('python', platform.python_version(), 'torch', torch.__version__, \
'cuda', torch.version.cuda, 'available', torch.cuda.is_available(), \
torch.cuda.get_device_name() if torch.cuda.is_available() else '')"
    nproc
} >"$SUMMARY" 2>&1

# The test harness needs pytest-markdown-docs; a machine with no package index gets it as a carried wheel,
# installed into the interpreter's own environment (the harness's own tests start pytest in subprocesses with
# a PYTHONPATH of their own, so a --target folder on PYTHONPATH would not reach them).
if ! "$PY" -c "import pytest_markdown_docs" 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-cache-dir .whl/*.whl >>"$SUMMARY" 2>&1
fi

# The tool-only tests (ruff, the workflow schema) need tools a GPU image may lack and say nothing about CUDA.
PYTEST_OPTS=(--ignore=tests/test_lint.py --ignore=tests/test_workflows.py -p no:cacheprovider)

stage cuda_tests 120 "$OUT/cuda_tests.log" "$PY" -m pytest "${PYTEST_OPTS[@]}" -m cuda tests -rA
stage gpt2 270 "$OUT/gpt2.log" "$PY" benchmarks/gpu_gpt2.py --baseline --out "$OUT" "${SMOKE_ARGS[@]}"
stage sizing_alone 60 "$OUT/cuda_tests.log" "$PY" -m pytest "${PYTEST_OPTS[@]}" -m cuda tests/test_sizing.py -rA
stage generate 90 "$OUT/small.log" "$PY" benchmarks/generate.py --device cuda
stage generate_gpt2 120 "$OUT/small.log" "$PY" benchmarks/generate.py --device cuda --shape gpt2 \
    --new-tokens 128 256 --repeats 1
stage memory 60 "$OUT/small.log" "$PY" benchmarks/memory_measured.py
stage sampling 60 "$OUT/small.log" "$PY" benchmarks/sampling_throughput.py --device cuda
stage decode 360 "$OUT/decode.log" "$PY" benchmarks/decode_gpu.py --out "$OUT" "${SMOKE_ARGS[@]}"
stage train_throughput 180 "$OUT/train_throughput.log" "$PY" benchmarks/train_throughput.py --out "$OUT" \
    "${SMOKE_ARGS[@]}"
stage gpt2_mfu 200 "$OUT/gpt2.log" "$PY" benchmarks/gpu_gpt2.py --modes compile --pad-vocab-to 1 64 \
    --out "$OUT" "${SMOKE_ARGS[@]}"
stage gpt2_autotune 360 "$OUT/gpt2.log" "$PY" benchmarks/gpu_gpt2.py --modes max-autotune --out "$OUT" \
    "${SMOKE_ARGS[@]}"
# The docs stage rewrites output lines (--update-outputs): it works on a copy, and docs.diff shows the changes.
if [[ $STAGES == *" docs "* ]]; then
    DOCS_COPY=$(mktemp -d)
    cp -r docs src tests conftest.py pyproject.toml "$DOCS_COPY"/
    rm -rf "$DOCS_COPY/docs/figures"
    stage docs 200 "$OUT/docs.log" env -C "$DOCS_COPY" PYTHONPATH="$DOCS_COPY/src" \
        "$PY" -m pytest "${PYTEST_OPTS[@]}" docs --update-outputs -q
    diff -ru -x figures -x '*.pyc' -x __pycache__ docs "$DOCS_COPY/docs" >"$OUT/docs.diff"
    rm -rf "$DOCS_COPY"
fi
stage unit 200 "$OUT/unit.log" "$PY" -m pytest "${PYTEST_OPTS[@]}" -m "not cuda" tests src -q

echo "total $(($(date +%s) - T0)) s" | tee -a "$SUMMARY"
for f in cuda_tests gpt2 small decode train_throughput docs unit; do
    [ -f "$OUT/$f.log" ] && { echo "--- $f"; tail -n 14 "$OUT/$f.log"; }
done
