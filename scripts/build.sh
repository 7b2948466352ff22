#!/usr/bin/env bash
# Configures and builds one tree. Usage: scripts/build.sh [DIR] [extra cmake args...]
# DIR defaults to build/. The name picks the configuration:
#   build-asan/  ASan+UBSan, the whole tree
#   build-tsan/  ThreadSanitizer, only the pgwarden binary and the proxy tests
#   build-fuzz/  clang, ASan+UBSan+libFuzzer, only core, wire, logs and tests/fuzz
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
args=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo)
targets=()
if [[ $dir == *asan* ]]; then args=(-G Ninja -DCMAKE_BUILD_TYPE=Debug -DPGWARDEN_SANITIZE=ON); fi
if [[ $dir == *tsan* ]]; then
  args+=(-DPGWARDEN_TSAN=ON)
  targets=(--target proxy_tests)  # the TSan pass runs nothing else
fi
if [[ $dir == *fuzz* ]]; then args+=(-DCMAKE_CXX_COMPILER=clang++ -DPGWARDEN_FUZZ=ON); fi
cmake -S . -B "$dir" "${args[@]}" "$@" >/dev/null
cmake --build "$dir" -j "${PGWARDEN_JOBS:-$(nproc)}" "${targets[@]}"
