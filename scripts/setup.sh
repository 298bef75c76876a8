#!/usr/bin/env bash
# Create the virtual environment and install dlbench with its test extras, saying what each step does.
# torch: the CPU build 2.13.0 is installed first when no torch is present, so that pip does not
# fetch a multi-GB CUDA build to satisfy `torch>=2.4`. On a GPU server, install the torch build you
# want into the venv first (or set DLBENCH_TORCH to a pip requirement) and it is kept.
# pip runs without -q: a progress bar per download on a terminal, a line per package in a log (CI, `make demo > log`).
set -euo pipefail
VENV=${VENV:-.venv}
PY=${PY:-python3}
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
step=0
say() { step=$((step + 1)); printf '\n[setup %d/4] %s\n' "$step" "$*"; }

if [ -x "$VENV/bin/python" ]; then
  say "virtual environment $VENV exists ($("$VENV/bin/python" -V 2>&1))"
else
  say "creating the virtual environment $VENV with $("$PY" -V 2>&1)"
  "$PY" -m venv "$VENV"
  echo "upgrading pip in $VENV"
  "${PIP[@]}" install --quiet --upgrade pip || echo "(pip upgrade failed; continuing with $("${PIP[@]}" -V | cut -d' ' -f1-2))"
fi

if "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
  say "torch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)') is installed: kept"
else
  torch_req=${DLBENCH_TORCH:-torch==2.13.0}
  say "installing $torch_req (the largest download; set DLBENCH_TORCH for another build)"
  "${PIP[@]}" install "$torch_req"
fi

say "installing dlbench (editable) with its dependencies and test extras from pyproject.toml"
"${PIP[@]}" install -e ".[test]"

say "checking the command line"
if ! "$VENV/bin/dlbench" --help >/dev/null; then
  echo "dlbench did not start: see the pip output above" >&2
  exit 1
fi
echo "dlbench $("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("dlbench"))') installed in $VENV"
