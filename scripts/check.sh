#!/usr/bin/env bash
# What `npm test` checks besides jest: the types (tsc), lint (eslint) and formatting (prettier), all three at once.
# `check.sh CMD...` runs CMD (jest, in `npm test`) while they run: on 2 cores the checks take about a minute that the
# first test files, which mostly wait on servers and timers, share with them. A tool that fails prints its output
# as soon as it ends (nothing when it passes); the script fails if any of them or CMD failed, with CMD's status if
# CMD failed.
set -uo pipefail
cd "$(dirname "$0")/.."

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
bin=node_modules/.bin
check() {
  local tool=$1
  shift
  if ! "$@" >"$out/$tool" 2>&1; then
    {
      echo "[check] $tool failed:"
      cat "$out/$tool"
    } >&2
    return 1
  fi
}
check tsc "$bin/tsc" --noEmit -p . &
tsc=$!
check eslint "$bin/eslint" . &
eslint=$!
check prettier "$bin/prettier" --check --log-level warn . &
prettier=$!

status=0
if [ $# -gt 0 ]; then
  "$@" || status=$?
fi
failed=()
wait "$tsc" || failed+=(tsc)
wait "$eslint" || failed+=(eslint)
wait "$prettier" || failed+=(prettier)
if [ ${#failed[@]} -gt 0 ]; then
  echo "[check] failed: ${failed[*]} (their output is above)" >&2
  [ "$status" -eq 0 ] && status=1
fi
exit "$status"
