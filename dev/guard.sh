#!/usr/bin/env bash
# guard.sh LOGFILE CMD [ARGS...]
# Runs CMD with its output appended to LOGFILE, and kills it as soon as the process that started us
# (a test run, the demo) or this wrapper itself is gone, even after a SIGKILL, so that no server
# outlives the run that started it.
set -u
log=$1; shift
owner=$PPID
self=$$
"$@" >>"$log" 2>&1 &
child=$!
trap 'kill -TERM $child 2>/dev/null; wait $child; exit 143' TERM INT HUP
(
  while kill -0 "$owner" 2>/dev/null && kill -0 "$self" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.5; done
  kill -TERM "$child" 2>/dev/null
  sleep 3
  kill -KILL "$child" 2>/dev/null
) </dev/null >/dev/null 2>&1 &
wait "$child"
