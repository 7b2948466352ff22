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
  # tests/zero: node-gyp builds zero-cache's SQLite module from source
  python3 make g++
  # bench/: certificates for the TLS runs; the plain relay that
  # bench/relay_vs_socat.sh measures pgwarden faults against
  openssl socat
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

# tests/zero: the real zero-cache (@rocicorp/zero, pinned in its package.json).
# Its SQLite module (@rocicorp/zero-sqlite3, a better-sqlite3 fork with SQLite's
# source inside the package) is built here from source against the headers of
# the node that runs it: nothing is downloaded but npm packages. The prebuilt
# binaries the package ships are deleted so that only our build can load.
zero_dir=tests/zero
zero_addon=$zero_dir/node_modules/@rocicorp/zero-sqlite3/build/Release/better_sqlite3.node
zero_stamp=$zero_dir/node_modules/.pgwarden-built-for
zero_node="$(node -p 'process.version + " " + process.execPath')"
if [ ! -f "$zero_addon" ] || [ "$zero_dir/package-lock.json" -nt "$zero_addon" ] ||
  [ "$(cat "$zero_stamp" 2>/dev/null)" != "$zero_node" ]; then
  # node-gyp --nodedir wants DIR/include/node/node.h: the installed node's own
  # prefix (NodeSource and official builds ship it), else Debian's libnode-dev.
  nodedir="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
  if [ ! -f "$nodedir/include/node/node.h" ]; then
    if [ ! -f /usr/include/node/node.h ]; then
      echo "install-deps: installing libnode-dev (node headers for node-gyp)"
      export DEBIAN_FRONTEND=noninteractive
      apt-get install -y -qq --no-install-recommends libnode-dev >/dev/null
    fi
    nodedir=/usr
  fi
  echo "install-deps: installing zero-cache in $zero_dir and building its SQLite module (a few minutes)"
  (
    cd "$zero_dir"
    # --ignore-scripts: no install script may fetch a binary; the one native
    # module is built explicitly below.
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
    rm -rf node_modules/@rocicorp/zero-sqlite3/prebuilds
    npm rebuild @rocicorp/zero-sqlite3 --build-from-source --nodedir="$nodedir" \
      --no-audit --no-fund --loglevel=error >node_modules/.pgwarden-sqlite-build.log 2>&1 || {
      tail -50 node_modules/.pgwarden-sqlite-build.log
      exit 1
    }
  )
  node -e "new (require('./$zero_dir/node_modules/@rocicorp/zero-sqlite3'))(':memory:').close()"
  echo "$zero_node" >"$zero_stamp"
fi
echo "install-deps: ok"
