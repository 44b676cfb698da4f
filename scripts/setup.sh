#!/usr/bin/env bash
# Create the virtual environment (.venv) and install llmguide with its docs and test extras.
# Called by `make setup` (and so by `make serve` and `make test`); safe to run again.
#
# torch comes first, on purpose: a bare `torch` requirement on a machine without torch pulls the default
# build from PyPI, which on Linux is the CUDA build (several GB). Where no NVIDIA GPU is visible we ask for
# the CPU build instead (about 200 MB); with a GPU, or on macOS (MPS), the default build is the right one.
#
# Settings (environment variables):
#   PYTHON           the interpreter to build the venv from (default: python3; needs >= 3.10)
#   VENV             where the venv goes (default: .venv)
#   TORCH_VERSION    the torch release to install (default: 2.13.0; the package accepts >= 2.3)
#   TORCH_INDEX_URL  the index of the CPU build (default: PyTorch's CPU wheel index)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
TORCH_INDEX_URL=${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}

say() { printf 'setup: %s\n' "$*" >&2; }

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  say "'$PYTHON' was not found. Install Python 3.10 or newer, or run with PYTHON=/path/to/python3."
  exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  say "llmguide needs Python >= 3.10, but $PYTHON is $("$PYTHON" -V 2>&1). Run with PYTHON=python3.11 (say)."
  exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
  say "creating the virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install --quiet --upgrade pip

if "$PY" -c 'import torch' >/dev/null 2>&1; then
  say "torch $("$PY" -c 'import torch; print(torch.__version__)') is already installed"
elif [ "$(uname -s)" = "Linux" ] && ! command -v nvidia-smi >/dev/null 2>&1; then
  say "installing the CPU build of torch $TORCH_VERSION (no NVIDIA GPU found)"
  # --retries 0: where the CPU index cannot be reached, fail over to the other sources at once.
  "$PY" -m pip install --retries 0 "torch==$TORCH_VERSION" \
    --index-url "$TORCH_INDEX_URL" --extra-index-url https://pypi.org/simple
else
  say "installing torch $TORCH_VERSION (default build for this platform)"
  "$PY" -m pip install "torch==$TORCH_VERSION"
fi

say "installing llmguide with the docs and test extras"
"$PY" -m pip install --quiet -e ".[docs,test]"
say "done: $("$PY" -c 'import torch, llmguide; print(f"llmguide {llmguide.__version__}, torch {torch.__version__}")')"
