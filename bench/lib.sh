# Shared by the bench/ scripts: a throwaway PostgreSQL 15 on 127.0.0.1 with
# pgbench data, process bookkeeping, free ports and CPU accounting. Source it
# after `set -euo pipefail`; it sets $work, $pg_port, PGPASSWORD=pw and an EXIT
# trap that stops everything it and the caller started (add PIDs to `pids`).
# KEEP_BENCH_DIR=1 keeps $work (PostgreSQL log, configs) for a look afterwards.
pgbin=/usr/lib/postgresql/15/bin
work=$(mktemp -d /tmp/pgwarden-bench-XXXXXX)
pids=()
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/data/postmaster.pid" ] && as_pg "$pgbin/pg_ctl" -D "$work/data" -m fast stop >/dev/null 2>&1 || true
  [ -n "${KEEP_BENCH_DIR:-}" ] || rm -rf "$work"
}
trap bench_cleanup EXIT
[ "$(id -u)" = 0 ] && chown postgres "$work"
# free_port START: the first port from START that nothing answers on. Callers
# start below the ephemeral range (32768+): pgbench -C churns through that, and
# a client socket holding the port would make bind() fail.
free_port() { local p; for p in $(seq "$1" $(($1 + 200))); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo "$p"; return; }; done; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# start_postgres SCALE: initdb, start, pgbench -i; sets pg_port. With
# BENCH_SERVER_TLS=1 the server takes TLS; BENCH_CLIENT_TLS=1 or either
# makes a throwaway self-signed certificate at $work/tls.{crt,key}.
start_postgres() {
  echo "pw" > "$work/pw"; [ "$(id -u)" = 0 ] && chown postgres "$work/pw"
  as_pg "$pgbin/initdb" -D "$work/data" -U postgres --pwfile="$work/pw" -A scram-sha-256 --no-sync >/dev/null
  pg_port=$(free_port 25500)
  cat >> "$work/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$work'
max_connections = 200
fsync = off
synchronous_commit = off
CONF
  if [ "${BENCH_SERVER_TLS:-0}" = 1 ] || [ "${BENCH_CLIENT_TLS:-0}" = 1 ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
      -subj /CN=localhost -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
    chmod 600 "$work/tls.key"
    [ "$(id -u)" = 0 ] && chown postgres "$work/tls.key" "$work/tls.crt"
  fi
  if [ "${BENCH_SERVER_TLS:-0}" = 1 ]; then
    cp -p "$work/tls.key" "$work/data/server.key"
    cp -p "$work/tls.crt" "$work/data/server.crt"
    echo "ssl = on" >> "$work/data/postgresql.conf"
  fi
  as_pg "$pgbin/pg_ctl" -D "$work/data" -l "$work/pg.log" -w start >/dev/null
  export PGPASSWORD=pw
  pgbench -i -q -s "${1:-10}" -h 127.0.0.1 -p "$pg_port" -U postgres postgres >/dev/null 2>&1
}

# write_pgbouncer_ini LISTEN_PORT SERVER_PORT [EXTRA_LINES]: $work/pgbouncer.ini
# for the database "postgres" (transaction pooling, 20 per pool, user postgres
# from $work/userlist.txt, admin console for postgres).
write_pgbouncer_ini() {
  cat > "$work/pgbouncer.ini" <<CONF
[databases]
postgres = host=127.0.0.1 port=$2 dbname=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $1
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $work/userlist.txt
admin_users = postgres
pool_mode = transaction
default_pool_size = 20
max_client_conn = 1000
${3:-}
logfile = $work/pgbouncer.log
pidfile = $work/pgbouncer.pid
CONF
  echo '"postgres" "pw"' > "$work/userlist.txt"
  if [ "$(id -u)" = 0 ]; then chown postgres "$work/pgbouncer.ini" "$work/userlist.txt"; fi
}
