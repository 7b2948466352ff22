#!/usr/bin/env bash
# Failover drill: a PostgreSQL 15 primary and a streaming standby on
# 127.0.0.1; pgwarden in front with both hosts (target_session_attrs =
# read-write) and, side by side, PgBouncer in front of the primary. The same
# mixed load runs through each (bench/drill/load.mjs: node-postgres and
# postgres.js writers, idle clients, transactions held open). Then the primary
# is stopped (immediate), the standby promoted, PgBouncer's config switched to
# the new primary and reloaded as soon as the promotion completes (what an
# operator's script does), and the old primary restarted as a read-only host.
# Prints, for each proxy: time from promotion to the first good write, errors
# by SQLSTATE, idle clients rescued, held transactions' outcome, writes that
# reached a read-only host (25006).
# Usage: bench/failover_drill.sh [PGWARDEN_BIN] [OUTAGE_SECONDS]
#   OUTAGE_SECONDS: between stopping the primary and promoting (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-build/src/cli/pgwarden}")
outage=${2:-2}
source bench/lib.sh
start_postgres 1
primary_port=$pg_port
as_pg psql -h 127.0.0.1 -p "$primary_port" -U postgres -qc \
  "create table drill (id bigserial primary key, src text, at timestamptz default now())" postgres

# The standby: a base backup that streams from the primary.
as_pg "$pgbin/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres -D "$work/standby" -R -X stream >/dev/null
standby_port=$(free_port 25700)
cat >> "$work/standby/postgresql.conf" <<CONF
port = $standby_port
unix_socket_directories = '$work'
CONF
as_pg "$pgbin/pg_ctl" -D "$work/standby" -l "$work/standby.log" -w start >/dev/null
stop_standby() { as_pg "$pgbin/pg_ctl" -D "$work/standby" -m immediate stop >/dev/null 2>&1 || true; }
trap 'stop_standby; bench_cleanup' EXIT

warden_port=$(free_port 27500)
"$bin" proxy --listen "127.0.0.1:$warden_port" \
  --backend "postgres://postgres:pw@127.0.0.1:$primary_port,127.0.0.1:$standby_port/postgres?target_session_attrs=read-write" \
  --events "file:$work/events.jsonl" >"$work/pgwarden.log" 2>&1 &
pids+=($!)

bouncer_port=$(free_port 26500)
write_pgbouncer_ini "$bouncer_port" "$primary_port"
as_pg pgbouncer -d "$work/pgbouncer.ini"
sleep 0.5
pids+=("$(cat "$work/pgbouncer.pid")")
for p in "$warden_port" "$bouncer_port"; do
  for _ in $(seq 50); do psql -h 127.0.0.1 -p "$p" -U postgres -qAtc "select 1" postgres >/dev/null 2>&1 && break; sleep 0.1; done
done

# The load, one driver per proxy (node resolves the test clients from tests/node).
ln -s "$PWD/tests/node/node_modules" "$work/node_modules"
cp bench/drill/load.mjs "$work/load.mjs"
for target in pgwarden:$warden_port pgbouncer:$bouncer_port; do
  LABEL=${target%%:*} TARGET_PORT=${target##*:} STOP_FILE=$work/stop PROMOTED_FILE=$work/promoted \
    node "$work/load.mjs" >"$work/${target%%:*}.json" 2>"$work/${target%%:*}.err" &
  pids+=($!)
done
load_pids=("${pids[@]: -2}")
sleep 3

echo "drill: stopping the primary (immediate), promoting the standby in ${outage}s"
as_pg "$pgbin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null
sleep "$outage"
as_pg "$pgbin/pg_ctl" -D "$work/standby" -w promote >/dev/null
date +%s%3N > "$work/promoted"
# The operator's script: PgBouncer to the new primary, RELOAD.
write_pgbouncer_ini "$bouncer_port" "$standby_port"
psql -h 127.0.0.1 -p "$bouncer_port" -U postgres -qAtc "RELOAD" pgbouncer >/dev/null 2>&1 || true
# The old primary comes back read-only (a standby that does not stream: it
# only has to be in recovery).
touch "$work/data/standby.signal"
[ "$(id -u)" = 0 ] && chown postgres "$work/data/standby.signal"
as_pg "$pgbin/pg_ctl" -D "$work/data" -l "$work/pg.log" -w start >/dev/null
sleep 5
touch "$work/stop"
for p in "${load_pids[@]}"; do wait "$p" || true; done

summary() { # FILE
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").pop());
    const errs = Object.entries(r.errors).map(([k, v]) => `${k}:${v}`).join(" ") || "none";
    console.log([r.label.padEnd(10), String(r.first_good_after_promotion_ms ?? "never").padStart(8),
      String(r.writes.ok).padStart(7), String(r.writes.failed).padStart(7),
      String(r.errors["25006"] || 0).padStart(6),
      `${r.idle_rescued}/${r.idle_clients}`.padStart(8),
      JSON.stringify(r.held_transactions).padEnd(30), errs].join("  "));
  ' "$1"
}
echo
echo "label       first_ok_ms  writes  failed  25006  idle_ok  held transactions               errors by SQLSTATE/code"
for l in pgwarden pgbouncer; do
  if [ -s "$work/$l.json" ]; then summary "$work/$l.json"; else echo "$l: no summary ($(tail -3 "$work/$l.err"))"; fi
done
echo
echo "pgwarden failover event:"
grep '"event":"failover"' "$work/events.jsonl" || echo "  (none)"
