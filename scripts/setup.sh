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
#   TORCH_VERSION    the torch release to install (default: 2.13.0; pyproject.toml says which are supported)
#   TORCH_INDEX_URL  the index of the CPU build (default: PyTorch's CPU wheel index)
#   DEPENDENCIES     which versions of everything (default: pinned):
#                      pinned  torch $TORCH_VERSION, the rest as pyproject.toml allows (what `make test` uses)
#                      oldest  every direct dependency, torch included, at its lower bound in pyproject.toml
#                      newest  every direct dependency at its newest release, upper bounds ignored
#                    (scripts/dependency_versions.py; the drift workflow runs `make test` with both ends).
#                    Use a fresh VENV for oldest and newest: a torch already in the venv is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
TORCH_INDEX_URL=${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}
DEPENDENCIES=${DEPENDENCIES:-pinned}

say() { printf 'setup: %s\n' "$*" >&2; }

case "$DEPENDENCIES" in
  pinned | oldest | newest) ;;
  *)
    say "DEPENDENCIES is '$DEPENDENCIES'; say pinned, oldest or newest."
    exit 2
    ;;
esac

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

# The two ends of the supported range read pyproject.toml, with `packaging` (and `tomli` before 3.11).
versions() { "$PY" scripts/dependency_versions.py "$@"; }
case "$DEPENDENCIES" in
  pinned) TORCH_SPEC="torch==$TORCH_VERSION" ;;
  oldest) "$PY" -m pip install --quiet packaging "tomli>=2; python_version < '3.11'"
    TORCH_SPEC="torch==$(versions oldest --only torch)" ;;
  newest) "$PY" -m pip install --quiet packaging "tomli>=2; python_version < '3.11'"
    TORCH_SPEC=torch ;;
esac

if "$PY" -c 'import torch' >/dev/null 2>&1; then
  say "torch $("$PY" -c 'import torch; print(torch.__version__)') is already installed"
  if [ "$DEPENDENCIES" != pinned ]; then
    say "note: DEPENDENCIES=$DEPENDENCIES keeps it; a fresh VENV gets the $DEPENDENCIES torch ($TORCH_SPEC)"
  fi
elif [ "$(uname -s)" = "Linux" ] && ! command -v nvidia-smi >/dev/null 2>&1; then
  say "installing the CPU build of $TORCH_SPEC (no NVIDIA GPU found)"
  if [ "$TORCH_SPEC" = torch ]; then
    # The newest release, from the CPU index alone: where PyPI has a newer release than the CPU index, or
    # the CPU index cannot be reached, PyPI would hand over its CUDA build (several GB). Fail instead.
    "$PY" -m pip install torch --index-url "$TORCH_INDEX_URL"
  else
    # --retries 0: where the CPU index cannot be reached, fail over to the other sources at once.
    "$PY" -m pip install --retries 0 "$TORCH_SPEC" \
      --index-url "$TORCH_INDEX_URL" --extra-index-url https://pypi.org/simple
  fi
else
  say "installing $TORCH_SPEC (default build for this platform)"
  "$PY" -m pip install "$TORCH_SPEC"
fi

if [ "$DEPENDENCIES" = pinned ]; then
  say "installing llmguide with the docs and test extras"
  "$PY" -m pip install --quiet -e ".[docs,test]"
else
  # The torch just installed stays: the constraint keeps pip from swapping it for another build.
  constraints="$VENV/torch-constraint.txt"
  # The distribution's version, not torch.__version__: PyPI's CUDA build says 2.15.0 in its metadata and
  # 2.15.0+cu132 at run time, and a constraint with the local label matches no installed distribution.
  echo "torch==$("$PY" -c 'from importlib.metadata import version; print(version("torch"))')" >"$constraints"
  requirements="$VENV/requirements-$DEPENDENCIES.txt"
  versions "$DEPENDENCIES" --without torch >"$requirements"
  say "installing the $DEPENDENCIES releases of the dependencies ($requirements), then llmguide"
  upgrade=""  # newest: also every package that the direct dependencies need, at its newest release
  if [ "$DEPENDENCIES" = newest ]; then upgrade="--upgrade --upgrade-strategy eager"; fi
  # shellcheck disable=SC2086
  "$PY" -m pip install --quiet $upgrade -c "$constraints" -r "$requirements"
  "$PY" -m pip install --quiet --no-deps -e .
  "$PY" -m pip check
  versions installed
fi
say "done: $("$PY" -c 'import torch, llmguide; print(f"llmguide {llmguide.__version__}, torch {torch.__version__}")')"
