#!/usr/bin/env bash
# Run the whole suite. pytest's exit code 5 (no tests collected) is a failure here, never a pass.
set -uo pipefail
VENV=${VENV:-.venv}
bash scripts/system-deps.sh
"$VENV/bin/python" -m pytest -q --durations=20 tests "$@"
rc=$?
if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi
exit "$rc"
