#!/usr/bin/env bash
# pgwarden logs vs pgBadger vs grep -c on the same PostgreSQL stderr log.
#
# Usage: bench/logs_vs_pgbadger.sh [SIZE_MB] [LOGFILE]
#   SIZE_MB  size of the generated log (default 200); ignored when LOGFILE exists
#   LOGFILE  log to use, or where to generate it (default /tmp/pgwarden-bench/postgresql.log)
# Env: PGWARDEN (binary, default build/src/cli/pgwarden), PREFIX (log_line_prefix),
#      PGBADGER_MB (feed pgBadger only the first N MB and scale; default: the whole file).
# Single-threaded runs (-j 1 for pgBadger and pgwarden). Not a ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${1:-200}
LOG=${2:-/tmp/pgwarden-bench/postgresql.log}
PGWARDEN=${PGWARDEN:-build/src/cli/pgwarden}
PREFIX=${PREFIX:-'%t [%p]: user=%u,db=%d,app=%a,client=%h '}
mkdir -p "$(dirname "$LOG")"
work=$(mktemp -d /tmp/pgwarden-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT

if [ ! -s "$LOG" ]; then
  echo "generating ${SIZE_MB} MB of stderr log in $LOG ..."
  # Sessions of a web app, a worker and zero-cache: connection received/authorized,
  # statements with durations (some multi-line), errors with DETAIL/STATEMENT,
  # disconnections (some cut at ~350 s), and a sprinkle of connection failures.
  SIZE_MB=$SIZE_MB perl -e '
    use strict; use warnings;
    my $limit = $ENV{SIZE_MB} * 1024 * 1024; my $bytes = 0; my $t = 1787220000; my $pid = 1000;
    my @apps = ("api", "worker", "zero-sync-worker-1-cvr", "zero-replicator", "psql");
    my @users = ("app", "app", "zero", "zero", "admin");
    my @fail = ("FATAL:  terminating connection due to administrator command",
                "LOG:  could not receive data from client: Connection reset by peer",
                "FATAL:  sorry, too many clients already",
                "FATAL:  terminating connection due to idle-in-transaction timeout",
                "LOG:  unexpected EOF on client connection with an open transaction",
                "ERROR:  canceling statement due to statement timeout",
                "FATAL:  password authentication failed for user \"app\"");
    sub ts { my @g = gmtime($_[0]); sprintf("%04d-%02d-%02d %02d:%02d:%02d UTC", $g[5]+1900, $g[4]+1, $g[3], $g[2], $g[1], $g[0]) }
    open(my $out, ">", $ARGV[0]) or die;
    while ($bytes < $limit) {
      my $buf = "";
      for my $s (1..200) {
        $pid++; $t += 1 if $pid % 3 == 0;
        my $i = $pid % 5; my ($a, $u) = ($apps[$i], $users[$i]); my $h = "10.0.1." . ($pid % 200);
        my $p = ts($t) . " [$pid]: user=$u,db=appdb,app=$a,client=$h ";
        my $bg = ts($t) . " [$pid]: user=,db=,app=,client= ";
        $buf .= ts($t) . " [$pid]: user=[unknown],db=[unknown],app=[unknown],client=$h LOG:  connection received: host=$h port=" . (30000 + $pid % 30000) . "\n";
        $buf .= $p . "LOG:  connection authorized: user=$u database=appdb application_name=$a\n";
        for my $q (1..8) {
          $buf .= $p . sprintf("LOG:  duration: %.3f ms  statement: SELECT id, name, email FROM users WHERE id = %d AND tenant = %d\n", ($pid*7+$q)%997/10, $pid*$q, $q);
        }
        $buf .= $p . "LOG:  duration: 12.345 ms  statement: UPDATE orders SET status = \x27paid\x27\n\tWHERE id = $pid\n\t  AND tenant = 3\n";
        if ($pid % 7 == 0) {
          $buf .= $p . "ERROR:  duplicate key value violates unique constraint \"orders_pkey\"\n" . $p . "DETAIL:  Key (id)=($pid) already exists.\n" . $p . "STATEMENT:  INSERT INTO orders VALUES ($pid)\n";
        }
        if ($pid % 53 == 0) { $buf .= $p . $fail[$pid % scalar(@fail)] . "\n"; }
        if ($pid % 97 == 0) { $buf .= $bg . "LOG:  checkpoint starting: time\n"; }
        my $secs = ($pid % 11 == 0) ? 350 + $pid % 3 : $pid % 40;
        $buf .= $p . sprintf("LOG:  disconnection: session time: 0:%02d:%02d.%03d user=$u database=appdb host=$h port=%d\n", int($secs/60), $secs%60, $pid%1000, 30000 + $pid % 30000);
      }
      print $out $buf; $bytes += length($buf);
    }
    close($out);' "$LOG"
fi

bytes=$(stat -c %s "$LOG")
mb=$(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1048576}')
cat "$LOG" > /dev/null  # warm the page cache for every tool alike
now() { date +%s.%N; }
rate() { awk -v mb="$1" -v s="$2" 'BEGIN{ if (s <= 0) s = 0.000001; printf "%.1f", mb/s }'; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
echo "log: $LOG, ${mb} MB, $(wc -l < "$LOG") lines, prefix '$PREFIX'"

t0=$(now); n=$(grep -c 'disconnection' "$LOG" || true); t1=$(now)
grep_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')
echo "grep -c disconnection: ${grep_s}s ($(rate "$mb" "$grep_s") MB/s), $n matches"

t0=$(now)
"$PGWARDEN" logs --prefix "$PREFIX" -j 1 --progress never --output json -o "$work/pgwarden.json" "$LOG" || true
t1=$(now)
pgw_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')
echo "pgwarden logs: ${pgw_s}s ($(rate "$mb" "$pgw_s") MB/s), max RSS $( { /usr/bin/time -f %M "$PGWARDEN" logs --prefix "$PREFIX" -j 1 --progress never --output json -o /dev/null "$LOG" >/dev/null; } 2>&1 | tail -1) KB"

badger_in=$LOG; badger_mb=$mb
if [ -n "${PGBADGER_MB:-}" ]; then
  head -c "$((PGBADGER_MB * 1048576))" "$LOG" > "$work/head.log"
  badger_in=$work/head.log
  badger_mb=$(awk -v b="$(stat -c %s "$badger_in")" 'BEGIN{printf "%.1f", b/1048576}')
fi
t0=$(now)
pgbadger -f stderr --prefix "$PREFIX" -j 1 -q -o "$work/pgbadger.txt" "$badger_in" || true
t1=$(now)
pgb_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')
pgb_rate=$(rate "$badger_mb" "$pgb_s")
echo "pgbadger (-j 1, ${badger_mb} MB): ${pgb_s}s (${pgb_rate} MB/s)"

pgw_rate=$(rate "$mb" "$pgw_s"); grep_rate=$(rate "$mb" "$grep_s")
awk -v w="$pgw_rate" -v b="$pgb_rate" -v g="$grep_rate" 'BEGIN{
  printf "pgwarden / pgbadger throughput: %.0fx\n", w/b;
  printf "grep -c / pgwarden throughput: %.2fx\n", g/w }'
