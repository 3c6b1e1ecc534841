/**
 * A Prometheus server for the local stack, started like moto (./stack.ts): Debian's `prometheus` (scripts/setup.sh
 * installs it; nothing is downloaded at run time) on a free loopback port, under ./guard.sh, with a generated config
 * and a temporary storage directory removed when it stops. It scrapes the given targets (the simulator's business
 * metrics exporter, ./business-metrics.ts) at a sub-second interval, because the local stack compresses time: an
 * ALB minute is one real second (./metrics-realism.ts), and a metric's buckets must be that long here too.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, tailFile } from './stack';
import { prometheusBinary, repoRoot } from './paths';

const guard = path.join(repoRoot, 'dev', 'guard.sh');

export interface PrometheusOptions {
  logDir: string;
  /** `host:port` of each target to scrape at `/metrics`. */
  targets: string[];
  /** Scrape interval; 500 ms by default (two scrapes per compressed minute). */
  scrapeIntervalMs?: number;
  port?: number;
  /**
   * Basic auth on every endpoint (Prometheus's own web config checks it): the user, its password (for this module's
   * own probes) and the password's bcrypt hash (what Prometheus is given).
   */
  basicAuth?: { user: string; password: string; bcryptHash: string };
}

export interface PrometheusServer {
  /** `http://127.0.0.1:PORT`: what CANARY_PROMETHEUS_<NAME>_URL would say. */
  url: string;
  port: number;
  logFile: string;
  /** Resolves once every target was scraped successfully at least once. */
  scraped(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}

/** Starts Prometheus and waits until it is ready. */
export async function startPrometheus(opts: PrometheusOptions): Promise<PrometheusServer> {
  const port = opts.port ?? (await freePort());
  const interval = opts.scrapeIntervalMs ?? 500;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'canary-prometheus-'));
  const config = path.join(dir, 'prometheus.yml');
  // JSON is YAML: no YAML writer needed, and nothing to escape by hand.
  fs.writeFileSync(
    config,
    JSON.stringify({
      global: { scrape_interval: `${interval}ms`, scrape_timeout: `${Math.max(100, Math.floor(interval * 0.8))}ms`, evaluation_interval: '1m' },
      // The business metrics exporter exposes its recent edges again on every scrape (dev/business-metrics.ts): samples
      // Prometheus already holds, which it would otherwise log as out of order on every scrape.
      storage: { tsdb: { out_of_order_time_window: '2m' } },
      scrape_configs: [{ job_name: 'simulator', honor_timestamps: true, static_configs: [{ targets: opts.targets }] }],
    }),
  );
  const args = [
    `--config.file=${config}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--storage.tsdb.retention.time=1d`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ];
  const headers: Record<string, string> = {};
  if (opts.basicAuth) {
    const web = path.join(dir, 'web.yml');
    fs.writeFileSync(web, JSON.stringify({ basic_auth_users: { [opts.basicAuth.user]: opts.basicAuth.bcryptHash } }));
    args.push(`--web.config.file=${web}`);
    headers.authorization = `Basic ${Buffer.from(`${opts.basicAuth.user}:${opts.basicAuth.password}`).toString('base64')}`;
  }
  const logFile = path.join(opts.logDir, `prometheus-${port}.log`);
  const child = spawn(guard, [logFile, prometheusBinary(), ...args], { stdio: 'ignore' });
  let dead = false;
  child.once('exit', () => (dead = true));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (!dead) {
      child.kill('SIGTERM');
      await exited(child);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const until = async (what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (dead) throw new Error(`prometheus exited; last lines of ${logFile}:\n${tailFile(logFile)}`);
      if (await probe().catch(() => false)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${what} within ${timeoutMs} ms; last lines of ${logFile}:\n${tailFile(logFile)}`);
  };
  try {
    await until('prometheus was not ready', async () => (await fetch(`${url}/-/ready`, { headers })).ok, 30_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    port,
    logFile,
    async scraped(timeoutMs = 15_000) {
      await until(
        'not every target was scraped',
        async () => {
          const res = (await (await fetch(`${url}/api/v1/targets`, { headers })).json()) as { data?: { activeTargets?: { health?: string }[] } };
          const targets = res.data?.activeTargets ?? [];
          return targets.length === opts.targets.length && targets.every((t) => t.health === 'up');
        },
        timeoutMs,
      );
    },
    stop,
  };
}
