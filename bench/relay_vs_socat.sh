#!/usr/bin/env bash
# Side-by-side: what `pgwarden faults` with no toxic adds to a TCP connection,
# against a plain socat relay and against no relay, in one run on loopback.
# Round trips of 64-byte messages (p50/p99 and the p50 added over direct) and
# a one-way push of MIB mebibytes to a sink that confirms it all arrived.
# Usage: bench/relay_vs_socat.sh [PGWARDEN_BIN] [ROUND_TRIPS] [MIB]
# Needs build/bench/tcp_probe/tcp_probe (built with the tree) and socat.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-build/src/cli/pgwarden}")
probe=$(realpath "$(dirname "$bin")/../../bench/tcp_probe/tcp_probe")
trips=${2:-20000}
mib=${3:-4096}
source bench/lib.sh
command -v socat >/dev/null || { echo "relay_vs_socat: socat is not installed (scripts/install-deps.sh installs it)" >&2; exit 1; }

wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return; sleep 0.05; done; echo "nothing listens on $1" >&2; exit 1; }

target_port=$(free_port 26100)
"$probe" serve "$target_port" & pids+=($!)
wait_port "$target_port"

relay_port=$(free_port 26300)
api_port=$(free_port 26500)
cat > "$work/faults.toml" <<CONF
[[proxies]]
name = "bench"
listen = "127.0.0.1:$relay_port"
upstream = "127.0.0.1:$target_port"
CONF
"$bin" faults --api "127.0.0.1:$api_port" --config "$work/faults.toml" >"$work/faults.log" 2>&1 &
pids+=($!)
warden_pid=$!
wait_port "$relay_port"

socat_port=$(free_port 26700)
socat TCP-LISTEN:"$socat_port",bind=127.0.0.1,reuseaddr,fork TCP:127.0.0.1:"$target_port" &
pids+=($!)
socat_pid=$!
wait_port "$socat_port"

declare -A port=([direct]=$target_port [socat]=$socat_port [pgwarden]=$relay_port)
declare -A p50 p99 rate
for target in direct socat pgwarden; do
  out=$("$probe" rtt 127.0.0.1 "${port[$target]}" "$trips" 64)
  p50[$target]=$(sed -n 's/.*p50_us=\([0-9.]*\).*/\1/p' <<<"$out")
  p99[$target]=$(sed -n 's/.*p99_us=\([0-9.]*\).*/\1/p' <<<"$out")
  out=$("$probe" push 127.0.0.1 "${port[$target]}" "$mib")
  rate[$target]=$(sed -n 's/.*mib_per_s=\([0-9.]*\).*/\1/p' <<<"$out")
done
echo "| path | p50 round trip (µs) | p99 (µs) | p50 added over direct (µs) | push (MiB/s) | push vs socat |"
echo "|---|---|---|---|---|---|"
for target in direct socat pgwarden; do
  added=$(awk -v a="${p50[$target]}" -v b="${p50[direct]}" 'BEGIN{printf "%.1f", a - b}')
  ratio=$(awk -v a="${rate[$target]}" -v b="${rate[socat]}" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "-" }')
  printf '| %s | %s | %s | %s | %s | %s |\n' "$target" "${p50[$target]}" "${p99[$target]}" "$added" "${rate[$target]}" "$ratio"
done
echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(socat -V | sed -n 's/^socat version \([^ ]*\).*/socat \1/p'), pgwarden $("$bin" --version | awk '{print $2}'), $trips round trips of 64 B, $mib MiB pushed"
