#!/usr/bin/env bash
# Configures and builds one tree. Usage: scripts/build.sh [DIR] [extra cmake args...]
# DIR defaults to build/. build-asan/ gets the ASan+UBSan configuration.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
args=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [[ $dir == *asan* ]]; then args=(-G Ninja -DCMAKE_BUILD_TYPE=Debug -DPGWARDEN_SANITIZE=ON); fi
cmake -S . -B "$dir" "${args[@]}" "$@" >/dev/null
cmake --build "$dir" -j "${PGWARDEN_JOBS:-$(nproc)}"
