#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test: the normal build, then
# the same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
# PGWARDEN_SKIP_SANITIZE=1 skips the second pass (for quick local runs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

# Formatting is part of the build's contract.
scripts/check-format.sh

scripts/build.sh build
ctest --test-dir build --output-on-failure -j "${PGWARDEN_TEST_JOBS:-2}" --timeout 600

if [ "${PGWARDEN_SKIP_SANITIZE:-0}" != 1 ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  scripts/build.sh build-asan
  ctest --test-dir build-asan --output-on-failure -j "${PGWARDEN_TEST_JOBS:-2}" --timeout 900
fi
