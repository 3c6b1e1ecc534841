#!/usr/bin/env bash
# What `npm test` checks before jest: the types (tsc), lint (eslint) and formatting (prettier), all three at once.
# Each uses one core, so on 2 cores they end well before one after the other would. A tool's output is printed
# whole once it has ended (nothing when it passes), and the script fails if any of them failed.
set -uo pipefail
cd "$(dirname "$0")/.."

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
bin=node_modules/.bin
"$bin/tsc" --noEmit -p . >"$out/tsc" 2>&1 &
tsc=$!
"$bin/eslint" . >"$out/eslint" 2>&1 &
eslint=$!
"$bin/prettier" --check --log-level warn . >"$out/prettier" 2>&1 &
prettier=$!

failed=()
wait "$tsc" || failed+=(tsc)
wait "$eslint" || failed+=(eslint)
wait "$prettier" || failed+=(prettier)
for tool in "${failed[@]}"; do
  echo "[check] $tool failed:" >&2
  cat "$out/$tool" >&2
done
[ ${#failed[@]} -eq 0 ]
