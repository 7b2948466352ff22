#!/usr/bin/env bash
# pgwarden logs vs pgBadger vs grep -c on the same PostgreSQL stderr log.
#
# Usage: bench/logs_vs_pgbadger.sh [SIZE_MB] [LOGFILE]
#   SIZE_MB  size of the generated log (default 200); ignored when LOGFILE exists
#   LOGFILE  log to use, or where to generate it (default /tmp/pgwarden-bench/postgresql.log)
# Env: PGWARDEN (binary, default build/src/cli/pgwarden), PREFIX (log_line_prefix),
#      PGBADGER_MB (feed pgBadger only the first N MB and scale; default: the whole file),
#      GENERATE_ONLY=1 (write the log and stop).
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

[ -n "${GENERATE_ONLY:-}" ] && exit 0
bytes=$(stat -c %s "$LOG")
mb=$(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1048576}')
cat "$LOG" > /dev/null  # warm the page cache for every tool alike
rate() { awk -v mb="$1" -v s="$2" 'BEGIN{ if (s <= 0) s = 0.000001; printf "%.1f", mb/s }'; }
# measure NAME CMD...: wall and CPU (user+sys) seconds and max RSS, via GNU time
measure() {
  local name=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$work/$name.time" "$@" > "$work/$name.out" 2>/dev/null || true
  read -r wall user sys rss < <(tail -n 1 "$work/$name.time")
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN{print u+s}')
  eval "${name}_wall=$wall ${name}_cpu=$cpu ${name}_rss=$rss"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "log: $LOG, ${mb} MB, $(wc -l < "$LOG") lines, prefix '$PREFIX'"

measure grep grep -c disconnection "$LOG"
echo "grep -c disconnection: wall ${grep_wall}s, cpu ${grep_cpu}s ($(rate "$mb" "$grep_cpu") MB/s cpu), $(cat "$work/grep.out") matches"

GREP_RE='connection (received|authorized)|disconnection|FATAL|PANIC|could not (receive|send|accept|fork)|terminating|too many|slot|was terminated by signal|EOF'
measure grepre grep -c -E "$GREP_RE" "$LOG"
echo "grep -c -E '<13 connection patterns>': wall ${grepre_wall}s, cpu ${grepre_cpu}s ($(rate "$mb" "$grepre_cpu") MB/s cpu), $(cat "$work/grepre.out") matches"

measure pgw "$PGWARDEN" logs --prefix "$PREFIX" -j 1 --progress never --output json -o "$work/pgwarden.json" "$LOG"
echo "pgwarden logs -j 1: wall ${pgw_wall}s, cpu ${pgw_cpu}s ($(rate "$mb" "$pgw_cpu") MB/s cpu), max RSS ${pgw_rss} KB"

badger_in=$LOG; badger_mb=$mb
if [ -n "${PGBADGER_MB:-}" ]; then
  head -c "$((PGBADGER_MB * 1048576))" "$LOG" > "$work/head.log"
  badger_in=$work/head.log
  badger_mb=$(awk -v b="$(stat -c %s "$badger_in")" 'BEGIN{printf "%.1f", b/1048576}')
fi
measure pgb pgbadger -f stderr --prefix "$PREFIX" -j 1 -q -o "$work/pgbadger.txt" "$badger_in"
echo "pgbadger -j 1 (${badger_mb} MB): wall ${pgb_wall}s, cpu ${pgb_cpu}s ($(rate "$badger_mb" "$pgb_cpu") MB/s cpu), max RSS ${pgb_rss} KB"

pgw_rate=$(rate "$mb" "$pgw_cpu"); grep_rate=$(rate "$mb" "$grep_cpu"); pgb_rate=$(rate "$badger_mb" "$pgb_cpu")
grepre_rate=$(rate "$mb" "$grepre_cpu")
awk -v w="$pgw_rate" -v b="$pgb_rate" -v g="$grep_rate" -v r="$grepre_rate" 'BEGIN{
  printf "pgwarden / pgbadger throughput (cpu): %.0fx\n", w/b;
  printf "grep -c literal / pgwarden throughput (cpu): %.2fx\n", g/w;
  printf "grep -c -E patterns / pgwarden throughput (cpu): %.2fx\n", r/w }'
