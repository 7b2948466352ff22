#!/usr/bin/env bash
# Side-by-side: pgbench -S against direct PostgreSQL, PgBouncer and pgwarden in
# one run, same pool mode (transaction) and size (20). Prints TPS, average
# latency and each proxy's CPU seconds per 100k transactions (from /proc),
# with ratios. Usage: bench/proxy_vs_pgbouncer.sh [PGWARDEN_BIN] [SECONDS]
# BENCH_SERVER_TLS=1: PostgreSQL takes TLS and both proxies reach it with
# sslmode=require (PgBouncer: server_tls_sslmode); pgbench reaches the proxies
# in plaintext and the direct server with sslmode=require.
# BENCH_CLIENT_TLS=1: both proxies take TLS from clients (client_tls_sslmode =
# require, the same certificate) and pgbench reaches them with sslmode=require.
# Both set: TLS on both sides.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-build/src/cli/pgwarden}")
secs=${2:-10}
source bench/lib.sh
start_postgres 10
server_tls=${BENCH_SERVER_TLS:-0}
client_tls=${BENCH_CLIENT_TLS:-0}
bouncer_tls_line="" backend_params="" warden_config=()
if [ "$server_tls" = 1 ]; then
  bouncer_tls_line="server_tls_sslmode = require"
  backend_params="?sslmode=require"
fi
if [ "$client_tls" = 1 ]; then
  bouncer_tls_line+=$'\n'"client_tls_sslmode = require"$'\n'"client_tls_cert_file = $work/tls.crt"$'\n'"client_tls_key_file = $work/tls.key"
  cat > "$work/pgwarden.toml" <<CONF
[proxy]
client_tls_sslmode = "require"
client_tls_cert_file = "$work/tls.crt"
client_tls_key_file = "$work/tls.key"
CONF
  warden_config=(--config "$work/pgwarden.toml")
fi

bouncer_port=$(free_port 26500)
write_pgbouncer_ini "$bouncer_port" "$pg_port" "$bouncer_tls_line"
as_pg pgbouncer -d "$work/pgbouncer.ini"
sleep 0.5
bouncer_pid=$(cat "$work/pgbouncer.pid"); pids+=("$bouncer_pid")

warden_port=$(free_port 27500)
"$bin" proxy "${warden_config[@]}" --listen "127.0.0.1:$warden_port" --backend "postgres://postgres:pw@127.0.0.1:$pg_port/postgres$backend_params" \
  --mode transaction --pool-size 20 --log-level warn ${PGWARDEN_ARGS:-} &
warden_pid=$!; pids+=("$warden_pid")
sleep 0.5

hz=$(getconf CLK_TCK)
printf '| case | target | TPS | avg latency ms | proxy CPU s / 100k tx | TPS vs PgBouncer | CPU vs PgBouncer |\n'
printf '|---|---|---:|---:|---:|---:|---:|\n'
run_case() {
  local name=$1; shift
  local -A tps lat cpu
  for target in direct pgbouncer pgwarden; do
    local port pid=""
    case $target in
      direct) port=$pg_port ;;
      pgbouncer) port=$bouncer_port; pid=$bouncer_pid ;;
      pgwarden) port=$warden_port; pid=$warden_pid ;;
    esac
    local before=0; [ -n "$pid" ] && before=$(cpu_ticks "$pid")
    local sslmode=disable
    if [ "$target" = direct ] && [ "$server_tls" = 1 ]; then sslmode=require; fi
    if [ "$target" != direct ] && [ "$client_tls" = 1 ]; then sslmode=require; fi
    local out; out=$(PGSSLMODE=$sslmode pgbench -n -S -T "$secs" "$@" -h 127.0.0.1 -p "$port" -U postgres postgres 2>&1)
    local after=0; [ -n "$pid" ] && after=$(cpu_ticks "$pid")
    local tx; tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
    tps[$target]=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out")
    lat[$target]=$(sed -n 's/^latency average = \([0-9.]*\).*/\1/p' <<<"$out")
    if [ -n "$pid" ] && [ "${tx:-0}" -gt 0 ]; then
      cpu[$target]=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$tx" 'BEGIN{printf "%.2f", t / hz / n * 100000}')
    else
      cpu[$target]="-"
    fi
  done
  for target in direct pgbouncer pgwarden; do
    local r_tps r_cpu
    r_tps=$(awk -v a="${tps[$target]}" -v b="${tps[pgbouncer]}" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "-" }')
    r_cpu="-"
    [ "$target" = pgwarden ] && r_cpu=$(awk -v a="${cpu[pgwarden]}" -v b="${cpu[pgbouncer]}" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "-" }')
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$target" "${tps[$target]}" "${lat[$target]}" "${cpu[$target]}" "$r_tps" "$r_cpu"
  done
}
run_case "20 clients" -c 20 -j 2
run_case "100 clients" -c 100 -j 2
run_case "20 clients, -C" -c 20 -j 2 -C
echo
echo "server TLS: $server_tls, client TLS: $client_tls"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(pgbouncer --version | head -1), pgwarden $("$bin" --version | awk '{print $2}'), ${secs}s per run"
