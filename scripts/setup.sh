#!/usr/bin/env bash
# Create the virtual environment and install dlbench with its test extras.
# torch: the CPU build 2.13.0 is installed first when no torch is present, so that pip does not
# fetch a multi-GB CUDA build to satisfy `torch>=2.4`. On a GPU server, install the torch build you
# want into the venv first (or set DLBENCH_TORCH to a pip requirement) and it is kept.
set -euo pipefail
VENV=${VENV:-.venv}
PY=${PY:-python3}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
  "$VENV/bin/python" -m pip install -q "${DLBENCH_TORCH:-torch==2.13.0}"
fi
"$VENV/bin/python" -m pip install -q -e ".[test]"
"$VENV/bin/dlbench" --help >/dev/null
echo "dlbench installed in $VENV"
