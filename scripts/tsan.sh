#!/usr/bin/env bash
# The ThreadSanitizer pass: builds the pgwarden binary and the proxy
# integration tests in build-tsan/ (nothing else) and runs those tests with
# every report fatal. The proxies the tests start write their stderr to a temp
# dir the harness deletes, so reports go to files (log_path) and any report
# file fails the pass, whatever the test that caught it concluded.
# Suppressions: tests/tsan.supp (third-party false positives only, each explained).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build.sh build-tsan

reports=$(mktemp -d -t pgwarden-tsan.XXXXXX)
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 log_path=$reports/tsan suppressions=$PWD/tests/tsan.supp"
status=0
ctest --test-dir build-tsan/tests/proxy --output-on-failure -j "${PGWARDEN_TEST_JOBS:-2}" \
  --timeout 900 -E '^ZeroCache' || status=$?

if compgen -G "$reports/tsan.*" >/dev/null; then
  for r in "$reports"/tsan.*; do
    echo "tsan: report $r:" >&2
    cat "$r" >&2
  done
  echo "tsan: ThreadSanitizer reported (files kept in $reports)" >&2
  exit 1
fi
rm -rf "$reports"
exit "$status"
