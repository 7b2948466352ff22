#!/usr/bin/env bash
# Installs every build and test dependency of pgwarden from Debian 12 packages
# and the Node.js test clients from npm. Idempotent: safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config clang-format
  libboost1.81-dev libssl-dev libpq-dev libtomlplusplus-dev libcli11-dev
  libfmt-dev libspdlog-dev nlohmann-json3-dev libre2-dev
  zlib1g-dev libgtest-dev libgmock-dev libbenchmark-dev
  postgresql-15 postgresql-client-15 postgresql-contrib pgbouncer redis-server prometheus pgbadger
  procps iproute2
  # bench/: certificates for the TLS runs
  openssl
  # scripts/fuzz.sh: clang with libFuzzer and its sanitizer runtimes
  clang libclang-rt-14-dev
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Use a node already on the machine; otherwise Debian's.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's packages start services on install where an init system runs;
# the tests start their own servers on free ports, so nothing is needed here.

if [ ! -d tests/node/node_modules ] || [ tests/node/package-lock.json -nt tests/node/node_modules ]; then
  (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "install-deps: ok"
