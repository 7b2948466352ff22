#!/usr/bin/env bash
# What observability costs: pgbench -S through two pgwarden processes side by
# side in one run, one with everything off (no event sink, no admin listener,
# forensics off) and one with everything on (events to a file, /metrics
# scraped every second, forensics and an alert rule evaluating every second).
# Each case runs four rounds, alternating which proxy goes first; prints TPS
# and CPU per 100k transactions with on/off ratios, then the proxy's memory
# per idle client.
# Clients log in with trust so that the -C case measures the proxy's
# per-connection work, not pgbench's own SCRAM computation.
# Usage: bench/observability_overhead.sh [PGWARDEN_BIN] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-build/src/cli/pgwarden}")
secs=${2:-10}
rounds=4
source bench/lib.sh
start_postgres 10

common="[proxy]
pool_mode = \"transaction\"
default_pool_size = 20
max_client_conn = 2000
auth_type = \"trust\"
[databases.postgres]
host = \"127.0.0.1\"
port = $pg_port
[users.postgres]
password = \"pw\"
"
off_port=$(free_port 27500)
on_port=$(free_port 28500)
admin_port=$(free_port 29500)
cat > "$work/off.toml" <<CONF
$common
[forensics]
enabled = false
CONF
cat > "$work/on.toml" <<CONF
$common
[events]
recent = 10000
[[events.sink]]
type = "file"
path = "$work/events.jsonl"
[admin]
listen = "127.0.0.1:$admin_port"
[forensics]
evaluate_every = "1s"
[alerts]
evaluate_every = "1s"
[[alerts.rule]]
name = "server_drops"
kind = "close_rate"
initiator = "server"
threshold = 5
CONF
"$bin" proxy --config "$work/off.toml" --listen "127.0.0.1:$off_port" --log-level warn &
off_pid=$!; pids+=("$off_pid")
"$bin" proxy --config "$work/on.toml" --listen "127.0.0.1:$on_port" --log-level warn &
on_pid=$!; pids+=("$on_pid")
sleep 0.5
for p in "$off_pid" "$on_pid"; do
  kill -0 "$p" 2>/dev/null || { echo "a pgwarden proxy did not start (see above)" >&2; exit 1; }
done
( while kill -0 "$on_pid" 2>/dev/null; do
    # bash's /dev/tcp, not curl: no process spawned per scrape to skew the CPU numbers
    (exec 3<>"/dev/tcp/127.0.0.1/$admin_port" && printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3 && cat <&3 >/dev/null) || true
    sleep 1
  done ) &
pids+=($!)

hz=$(getconf CLK_TCK)
# run PORT PID ARGS... -> "tps cpu_per_100k"
run() {
  local port=$1 pid=$2; shift 2
  local before after out tx tps
  before=$(cpu_ticks "$pid")
  out=$(pgbench -n -S -T "$secs" "$@" -h 127.0.0.1 -p "$port" -U postgres postgres 2>&1)
  after=$(cpu_ticks "$pid")
  tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out")
  awk -v t=$((after - before)) -v hz="$hz" -v n="${tx:-0}" -v tps="${tps:-0}" \
    'BEGIN{ printf "%s %.2f\n", tps, (n > 0 ? t / hz / n * 100000 : 0) }'
}

printf '| case | TPS off | TPS on | TPS on/off | CPU s/100k tx off | on | CPU on/off |\n'
printf '|---|---:|---:|---:|---:|---:|---:|\n'
# Sums of TPS and CPU per proxy; the order alternates each round (off first,
# then on first) so neither proxy always inherits the other's TIME_WAIT sockets
# and warm caches.
bench_case() {
  local name=$1; shift
  local -A tps=([off]=0 [on]=0) cpu=([off]=0 [on]=0)
  local order which port pid t c
  for ((round = 0; round < rounds; round++)); do
    order="off on"; ((round % 2)) && order="on off"
    for which in $order; do
      port=${which}_port; pid=${which}_pid
      read -r t c <<<"$(run "${!port}" "${!pid}" "$@")"
      tps[$which]=$(awk -v a="${tps[$which]}" -v b="$t" 'BEGIN{print a+b}')
      cpu[$which]=$(awk -v a="${cpu[$which]}" -v b="$c" 'BEGIN{print a+b}')
    done
  done
  awk -v r="$rounds" -v n="$name" -v a="${tps[off]}" -v b="${tps[on]}" -v c="${cpu[off]}" -v d="${cpu[on]}" 'BEGIN{
    printf "| %s | %.0f | %.0f | %.3f | %.2f | %.2f | %.2f |\n", n, a/r, b/r, b/a, c/r, d/r, (c > 0 ? d/c : 0) }'
}
bench_case "20 clients" -c 20 -j 2
bench_case "100 clients" -c 100 -j 2
bench_case "20 clients, -C (an event pair per transaction)" -c 20 -j 2 -C
# The same at a fixed rate both proxies sustain: TPS is equal by design, so
# the CPU ratio is the cost of observability per connection, free of the
# throughput noise of the case above.
bench_case "20 clients, -C at a fixed 1000 connections/s" -c 20 -j 2 -C -R 1000

# Memory per idle client: 500 clients that log in and sleep.
echo '\sleep 6 s' > "$work/idle.sql"
echo
printf '| proxy | RSS before KiB | RSS with 500 idle clients KiB | KiB per idle client |\n|---|---:|---:|---:|\n'
for which in off on; do
  port=${which}_port; pid=${which}_pid
  before=$(rss_kb "${!pid}")
  pgbench -n -c 500 -j 2 -T 5 -f "$work/idle.sql" -h 127.0.0.1 -p "${!port}" -U postgres postgres >/dev/null 2>&1 &
  load=$!
  sleep 4
  during=$(rss_kb "${!pid}")
  wait "$load" || true
  awk -v w="$which" -v a="$before" -v b="$during" 'BEGIN{ printf "| %s | %d | %d | %.1f |\n", w, a, b, (b-a)/500 }'
done
echo
echo "events written: $(wc -l < "$work/events.jsonl"); machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), pgwarden $("$bin" --version | awk '{print $2}'), ${secs}s per run"
