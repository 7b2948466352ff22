#!/usr/bin/env bash
# The demo itself, against an already built binary: scripts/run-demo.sh PGWARDEN_BIN
set -euo pipefail
bin=$(realpath "$1")
pgbin=/usr/lib/postgresql/15/bin
work=$(mktemp -d /tmp/pgwarden-demo-XXXXXX)
proxy_pid=""
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null && wait "$proxy_pid" 2>/dev/null || true
  [ -f "$work/data/postmaster.pid" ] && as_pg "$pgbin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() {
  local p
  for p in $(seq "$1" $(($1 + 200))); do
    (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo "$p"; return; }
  done
  return 1
}
[ "$(id -u)" = 0 ] && chown postgres "$work"

echo "== starting a throwaway PostgreSQL 15 in $work"
echo "postgres-pw" > "$work/pw"; [ "$(id -u)" = 0 ] && chown postgres "$work/pw"
as_pg "$pgbin/initdb" -D "$work/data" -U postgres --pwfile="$work/pw" -A scram-sha-256 --no-sync >/dev/null
pg_port=$(free_port 54320)
cat >> "$work/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$work'
fsync = off
log_connections = on
log_disconnections = on
CONF
as_pg "$pgbin/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null
export PGPASSWORD=postgres-pw
psql -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -c "create role app login password 'app-pw'" -c "create database app owner app"
PGPASSWORD=app-pw pgbench -i -q -s 1 -h 127.0.0.1 -p "$pg_port" -U app app >/dev/null 2>&1

proxy_port=$(free_port 64320)
admin_port=$(free_port 64380)
cat > "$work/pgwarden.toml" <<CONF
[proxy]
listen = ["127.0.0.1:$proxy_port"]
pool_mode = "transaction"
default_pool_size = 4

[timeouts]
query_wait_timeout = "2s"

[databases.app]
host = "127.0.0.1"
port = $pg_port

[users.app]
password = "app-pw"

[admin]
listen = "127.0.0.1:$admin_port"
admin_users = ["app"]

[forensics]
evaluate_every = "1s"
CONF
echo "== pgwarden proxy on 127.0.0.1:$proxy_port (transaction mode, pool of 4) -> PostgreSQL on $pg_port"
"$bin" proxy --config "$work/pgwarden.toml" --events "file:$work/events.jsonl" --summary \
  2> "$work/proxy.log" &
proxy_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/proxy.log" 2>/dev/null && break; sleep 0.05; done

export PGPASSWORD=app-pw
px=(-h 127.0.0.1 -p "$proxy_port" -U app)
echo "== 1. pgbench: 16 clients over 4 server connections for 5 s"
pgbench -n -S -T 5 -c 16 -j 2 "${px[@]}" app 2>&1 | grep -E "^tps|failed transactions" || true

echo "== 2. the server terminates the proxy's idle server connections (pg_terminate_backend)"
PGPASSWORD=postgres-pw psql -X -q -A -t -h 127.0.0.1 -p "$pg_port" -U postgres -c \
  "select count(pg_terminate_backend(pid)) || ' server connections terminated' from pg_stat_activity where usename = 'app' and state = 'idle'"
sleep 1.5
psql -X -q -A -t "${px[@]}" -d app -c "select 'the next query still works: ' || count(*) from pgbench_branches"

echo "== 3. a client with a wrong password"
PGPASSWORD=wrong psql -X -q "${px[@]}" -d app -c "select 1" 2>&1 | sed 's/^/   /' || true

echo "== 4. four clients hold every server connection in open transactions; a fifth waits"
for i in 1 2 3 4; do
  psql -X -q "${px[@]}" -d app -c "begin" -c "select pg_sleep(4)" -c "commit" >/dev/null 2>&1 &
done
sleep 0.5
psql -X -q "${px[@]}" -d app -c "select 'got a server'" 2>&1 | sed 's/^/   /' || true
wait_jobs=$(jobs -p | grep -v "^$proxy_pid$" || true)
[ -n "$wait_jobs" ] && wait $wait_jobs 2>/dev/null || true

echo "== 5. the PgBouncer-compatible admin console: psql ... -d pgbouncer -c 'SHOW POOLS'"
psql -X "${px[@]}" -d pgbouncer -c "show pools" 2>&1 | sed 's/^/   /' || true

echo "== 6. drop forensics: GET http://127.0.0.1:$admin_port/api/diagnosis (also /metrics, /api/drops)"
sleep 1.5
http_get() { exec 3<>"/dev/tcp/127.0.0.1/$admin_port" && printf 'GET %s HTTP/1.0\r\n\r\n' "$1" >&3 && cat <&3; exec 3>&-; }
http_get /api/diagnosis | tr '{' '\n' | grep '"kind":' \
  | sed -E 's/.*"fix":"([^"]*)".*"kind":"([^"]*)".*"summary":"([^"]*)".*/   \2: \3\n      fix: \1/'
echo "   metrics, e.g.:"
http_get /metrics | grep -E '^pgwarden_connection_closes_total' | sed 's/^/   /' | head -8

kill "$proxy_pid"; wait "$proxy_pid" || true; proxy_pid=""
echo
echo "== what the proxy saw (every event: $work/events.jsonl, one JSON object per line)"
sed -n '/what it saw/,$p' "$work/proxy.log"
echo
echo "== the drops, explained (one line per close that was not a clean client logout)"
grep '"event":"\(client\|server\)\.close"\|"event":"pool\.timeout"' "$work/events.jsonl" \
  | grep -v '"cause":"client_terminate"' \
  | sed -E 's/.*"event":"([^"]*)".*"state":"([^"]*)".*"initiator":"([^"]*)","cause":"([^"]*)"(,"sqlstate":"([^"]*)")?(,"message":"([^"]*)")?.*/  \1 in state \2: initiator=\3 cause=\4 sqlstate=\6 \8/' \
  | sort | uniq -c | sort -rn | head -20
