#!/usr/bin/env bash
# System programs some tests use for real: PostgreSQL (tune's multi-worker test) and Chromium
# (the report's browser check). Installed with apt-get when missing and when we are root; the tests
# that need them skip with a clear message where they cannot be installed.
set -uo pipefail
need=()
command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: cannot install ${need[*]} (not root or no apt-get); the tests that need them will skip"
  exit 0
fi
echo "system-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
(apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}") >/tmp/dlbench-apt.log 2>&1 \
  || echo "system-deps: apt-get failed (see /tmp/dlbench-apt.log); the tests that need ${need[*]} will skip"
exit 0
