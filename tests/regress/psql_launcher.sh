#!/bin/sh
# pg_regress --launcher: runs the psql command line it is given and replaces
# the one run-dependent value psql prints, the server process PID in
# "Asynchronous notification ... received from server process with PID N.",
# with <pid>. Everything else passes through unchanged. psql's exit status
# is kept (pg_regress reports a psql that failed).
status_file=$(mktemp) || exit 2
trap 'rm -f "$status_file"' EXIT
{
  "$@" 2>&1
  echo $? >"$status_file"
} | sed -e 's/\(received from server process with PID \)[0-9][0-9]*\./\1<pid>./'
exit "$(cat "$status_file")"
