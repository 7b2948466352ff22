#!/usr/bin/env bash
# Builds the libFuzzer targets (build-fuzz/: clang, ASan+UBSan) and runs each
# for a bounded time from a temporary copy of its seed corpus in
# tests/fuzz/corpus/ (the repository is never written). Fails on any crash,
# sanitizer report, leak, timeout or memory blow-up, printing the input.
#   PGWARDEN_FUZZ_SECONDS  seconds per target (default 20)
#   PGWARDEN_FUZZ_TARGETS  space-separated subset, e.g. "frame startup"
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(${PGWARDEN_FUZZ_TARGETS:-frame startup scram_client scram_server config log_prefix logs})
secs=${PGWARDEN_FUZZ_SECONDS:-20}

scripts/build.sh build-fuzz

work=$(mktemp -d -t pgwarden-fuzz.XXXXXX)
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
failed=()
for t in "${targets[@]}"; do
  bin=build-fuzz/tests/fuzz/fuzz_$t
  dir=$work/$t
  mkdir -p "$dir/corpus" "$dir/crash"
  cp -r "tests/fuzz/corpus/$t/." "$dir/corpus/"
  # -timeout: one input slower than 10 s is a hang; -rss_limit_mb: a parser
  # that allocates 2 GiB on hostile input is a bug too.
  if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -detect_leaks=1 \
    -print_final_stats=1 -artifact_prefix="$dir/crash/" "$dir/corpus" >"$dir/log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log")
    echo "fuzz $t: ok, ${runs:-?} inputs in ${secs}s, corpus $(ls "$dir/corpus" | wc -l) files"
  else
    failed+=("$t")
    echo "fuzz $t: FAILED; log $dir/log" >&2
    grep -E '^==[0-9]+== ?ERROR|^SUMMARY|runtime error|deadly signal|out-of-memory' \
      "$dir/log" | head -5 >&2 || true
    for a in "$dir"/crash/*; do
      [ -e "$a" ] && echo "fuzz $t: crashing input $a (replay: $bin $a)" >&2
    done
  fi
done

if ((${#failed[@]})); then
  echo "fuzz: failed: ${failed[*]} (inputs and logs kept in $work)" >&2
  exit 1
fi
rm -rf "$work"
