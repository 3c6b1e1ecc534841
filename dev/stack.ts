/**
 * The embedded local stack: Temporal CLI dev server and moto server on free loopback ports, and in front of moto a
 * proxy (./fault-proxy.ts) that counts AWS actions per caller and serves the ALB realism layer (./alb-realism.ts),
 * on unless turned off.
 *
 * Both run under dev/guard.sh, which appends their output to a log file and kills them when the
 * process that started them dies, so a killed test run or demo leaves no server behind.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { releaseSearchAttributes } from '../common/search-attributes';
import { createAlbRealism } from './alb-realism';
import { startFaultProxy, type FaultProxy } from './fault-proxy';
import { motoServer, repoRoot, temporalCli } from './paths';

const guard = path.join(repoRoot, 'dev', 'guard.sh');

/**
 * Seconds of simulated AWS time per real second, for the realism layer (metric buckets and their delivery lag,
 * health-check timings): 60 makes an ALB minute last one real second, so the demo and the tests keep AWS's shape
 * and still run in seconds. CANARY_TIME_SCALE overrides it.
 */
export const DEFAULT_TIME_SCALE = 60;

/** The realism layer's switch: on unless CANARY_REALISM is `off` (or `0`, `false`, `no`). */
export function realismFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return !/^(off|0|false|no)$/i.test((env.CANARY_REALISM ?? '').trim());
}

/** CANARY_TIME_SCALE, else DEFAULT_TIME_SCALE. */
export function timeScaleFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.CANARY_TIME_SCALE;
  if (raw === undefined || raw === '') return DEFAULT_TIME_SCALE;
  const n = Number(raw);
  if (!(n > 0 && Number.isFinite(n))) throw new Error(`CANARY_TIME_SCALE must be a number > 0, got "${raw}"`);
  return n;
}

/** A free TCP port on 127.0.0.1 (the OS picks it; a tiny race with other processes is accepted). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Last `lines` lines of a log file, or '' when it does not exist. */
export function tailFile(file: string, lines = 40): string {
  if (!fs.existsSync(file)) return '';
  const text = fs.readFileSync(file, 'utf8');
  return text
    .split('\n')
    .slice(-lines - 1)
    .join('\n');
}

export function newLogDir(label: string): string {
  const dir = path.join(repoRoot, '.canary', 'logs', `${label}-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export interface TemporalServer {
  env: TestWorkflowEnvironment;
  address: string;
  namespace: string;
  uiUrl?: string;
  logFile: string;
  stop(): Promise<void>;
}

export interface StartTemporalOptions {
  logDir: string;
  /** Serve the Temporal UI (on uiPort, or a free port). */
  ui?: boolean;
  uiPort?: number;
  /** Keep state in this SQLite file (survives a restart of the server); in memory when absent. */
  dbFilename?: string;
  port?: number;
}

/**
 * Starts `temporal server start-dev` through @temporalio/testing with the release search attributes registered.
 * The executable is a generated wrapper that runs the pinned CLI under guard.sh.
 */
export async function startTemporal(opts: StartTemporalOptions): Promise<TemporalServer> {
  const logFile = path.join(opts.logDir, 'temporal.log');
  const wrapper = path.join(opts.logDir, 'temporal-guarded');
  fs.writeFileSync(wrapper, `#!/usr/bin/env bash\nexec ${JSON.stringify(guard)} ${JSON.stringify(logFile)} ${JSON.stringify(temporalCli())} "$@"\n`, {
    mode: 0o755,
  });
  const port = opts.port ?? (await freePort());
  const uiPort = opts.ui ? (opts.uiPort ?? (await freePort())) : undefined;
  let env: TestWorkflowEnvironment;
  try {
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: wrapper },
        ip: '127.0.0.1',
        port,
        ui: opts.ui ?? false,
        uiPort,
        dbFilename: opts.dbFilename,
        searchAttributes: releaseSearchAttributes,
        log: { format: 'pretty', level: 'warn' },
      },
    });
  } catch (err) {
    throw new Error(`Temporal dev server did not start; last lines of ${logFile}:\n${tailFile(logFile)}`, { cause: err });
  }
  return {
    env,
    address: `127.0.0.1:${port}`,
    namespace: 'default',
    uiUrl: uiPort ? `http://127.0.0.1:${uiPort}` : undefined,
    logFile,
    async stop() {
      await env.teardown();
      // The SDK kills guard.sh; the server itself exits a moment later. Wait for its port, so that a restart on the
      // same port (and SQLite file) does not meet the dying server.
      await waitFor('the Temporal dev server to release its port', logFile, async () => !(await portOpen(port)), 15_000);
    },
  };
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface MotoServer {
  endpoint: string;
  port: number;
  logFile: string;
  /** Wipes all moto state (POST /moto-api/reset). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

async function waitFor(what: string, logFile: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not answer within ${timeoutMs} ms; last lines of ${logFile}:\n${tailFile(logFile)}`);
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}

/** Starts moto's server (./moto-server.py) on a free loopback port and waits until its API answers. */
export async function startMoto(opts: { logDir: string; port?: number }): Promise<MotoServer> {
  const port = opts.port ?? (await freePort());
  const logFile = path.join(opts.logDir, 'moto.log');
  const child = spawn(guard, [logFile, ...motoServer(), '-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const endpoint = `http://127.0.0.1:${port}`;
  let dead = false;
  child.once('exit', () => (dead = true));
  await waitFor('moto server', logFile, async () => {
    if (dead) throw new Error('moto exited');
    const res = await fetch(`${endpoint}/moto-api/data.json`);
    return res.ok;
  }).catch(async (err) => {
    child.kill('SIGTERM');
    throw err;
  });
  return {
    endpoint,
    port,
    logFile,
    async reset() {
      const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!res.ok) throw new Error(`moto reset failed: HTTP ${res.status}`);
    },
    async stop() {
      if (dead) return;
      child.kill('SIGTERM');
      await exited(child);
    },
  };
}

export interface LocalStackOptions extends Omit<StartTemporalOptions, 'logDir'> {
  logDir?: string;
  label?: string;
  /** Put the ALB realism layer in front of moto (target health like a real ALB); from CANARY_REALISM when absent (on). */
  realism?: boolean;
  /** Simulated AWS seconds per real second, shared by the realism layer and the simulator; CANARY_TIME_SCALE or DEFAULT_TIME_SCALE when absent. */
  timeScale?: number;
}

export interface LocalStack {
  temporal: TemporalServer;
  moto: MotoServer;
  /** Where AWS clients of the demo, the tests and the worker go: the proxy in front of moto (realism layer on or off). */
  awsEndpoint: string;
  /** The proxy in front of moto: it counts AWS actions per caller, and serves the realism layer when that is on. */
  proxy: FaultProxy;
  /** Whether the realism layer answers (target health) and the simulator publishes ALB-shaped metrics; false: plain moto. */
  realism: boolean;
  /** Simulated AWS seconds per real second (see DEFAULT_TIME_SCALE). */
  timeScale: number;
  logDir: string;
  /** The last lines of both servers' logs, for a failure report. */
  tail(lines?: number): string;
  stop(): Promise<void>;
}

/** Starts Temporal and moto side by side (and the realism layer in front of moto); stops whichever started if another fails. */
export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const logDir = opts.logDir ?? newLogDir(opts.label ?? 'stack');
  const timeScale = opts.timeScale ?? timeScaleFromEnv();
  const realismOn = opts.realism ?? realismFromEnv();
  const [temporal, moto] = await Promise.allSettled([startTemporal({ ...opts, logDir }), startMoto({ logDir })]);
  if (temporal.status === 'rejected' || moto.status === 'rejected') {
    if (temporal.status === 'fulfilled') await temporal.value.stop();
    if (moto.status === 'fulfilled') await moto.value.stop();
    throw temporal.status === 'rejected' ? temporal.reason : (moto as PromiseRejectedResult).reason;
  }
  let proxy: FaultProxy;
  try {
    proxy = await startFaultProxy({
      target: moto.value.endpoint,
      realism: realismOn ? createAlbRealism({ motoEndpoint: moto.value.endpoint, timeScale }) : undefined,
    });
  } catch (err) {
    await Promise.allSettled([temporal.value.stop(), moto.value.stop()]);
    throw err;
  }
  const stack: LocalStack = {
    temporal: temporal.value,
    moto: moto.value,
    awsEndpoint: proxy.endpoint,
    proxy,
    realism: realismOn,
    timeScale,
    logDir,
    tail: (lines = 30) =>
      `--- ${temporal.value.logFile}\n${tailFile(temporal.value.logFile, lines)}\n--- ${moto.value.logFile}\n${tailFile(moto.value.logFile, lines)}`,
    async stop() {
      await proxy.stop();
      await Promise.allSettled([temporal.value.stop(), moto.value.stop()]);
    },
  };
  return stack;
}
