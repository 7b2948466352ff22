#!/usr/bin/env bash
# Quick start (a): installs and builds pgwarden, starts a throwaway PostgreSQL
# 15 on 127.0.0.1, puts `pgwarden proxy` in front of it, drives a short
# workload through it (pgbench, a terminated server connection, a wrong
# password, an exhausted pool) and prints what the proxy saw.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
exec scripts/run-demo.sh build/src/cli/pgwarden
