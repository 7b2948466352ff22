#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test, pass by pass:
#   normal  the whole suite, RelWithDebInfo
#   asan    the same suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   fuzz    every libFuzzer target for 20 s (scripts/fuzz.sh)
#   tsan    the proxy integration tests under ThreadSanitizer (scripts/tsan.sh)
# The sanitizer passes leave out the real zero-cache test (ZeroCache*: a
# minute of node processes, run alone); the rescue and replication code it
# drives has its own tests in every pass.
# PGWARDEN_SKIP_SANITIZE=1, PGWARDEN_SKIP_FUZZ=1, PGWARDEN_SKIP_TSAN=1 skip a
# pass (for quick local runs). Each pass prints its wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

# Formatting is part of the build's contract.
scripts/check-format.sh

normal_pass() {
  scripts/build.sh build &&
    ctest --test-dir build --output-on-failure -j "${PGWARDEN_TEST_JOBS:-2}" --timeout 600
}
asan_pass() (
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  scripts/build.sh build-asan &&
    ctest --test-dir build-asan --output-on-failure -j "${PGWARDEN_TEST_JOBS:-2}" --timeout 900 \
      -E '^ZeroCache' 
)
# Runs one pass and prints its wall time, failed or not.
pass() {
  local name=$1 start=$SECONDS status=0
  shift
  "$@" || status=$?
  echo "test.sh: $name pass: $((SECONDS - start)) s$( ((status == 0)) || echo ", FAILED")"
  return "$status"
}

pass normal normal_pass
if [ "${PGWARDEN_SKIP_SANITIZE:-0}" != 1 ]; then pass asan asan_pass; fi
if [ "${PGWARDEN_SKIP_FUZZ:-0}" != 1 ]; then pass fuzz scripts/fuzz.sh; fi
if [ "${PGWARDEN_SKIP_TSAN:-0}" != 1 ]; then pass tsan scripts/tsan.sh; fi
