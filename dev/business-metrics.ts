/**
 * The simulator's business metrics, the way a service exports them to Prometheus: per version and target group, the
 * checkout visits and the orders they ended in, as counters (`checkout_visits_total`, `checkout_orders_total`, labels
 * `version` and `target_group`) on a `/metrics` endpoint a real Prometheus (./prometheus.ts) scrapes. Fed by the
 * simulator's ticks (./simulator.ts `onTick`): a tick's requests to a group, a share of them checkout visits, each
 * visit converting with its version's `conversion`.
 *
 * On the local stack's clock: a counter is exposed as of each bucket edge (the compressed minute of
 * ./metrics-realism.ts) once it is `lagMs` old, with that edge as its explicit timestamp, so Prometheus holds exactly
 * one sample per counter and bucket edge and `increase(x[${period}])` at an edge is exactly the bucket's count, as a
 * 15-second scrape makes it nearly so for a real 60-second period.
 *
 * A scrape must not lose an edge: on a loaded machine this process may answer a scrape after its timeout, or after
 * the next edge has passed. So an edge's values are frozen when it first passes (a tick recorded later counts at a
 * later edge, as a late one does in CloudWatch), and every scrape exposes the edges of the last `keepMs` again, older
 * ones first. Prometheus stores the ones it missed and keeps the ones it holds (an identical sample changes nothing;
 * ./prometheus.ts gives it an out-of-order window, so it does not log each of them as out of order).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SourceSettings } from '../activities/sources/settings';
import { targetGroupDimension } from '../activities/traffic';
import { albBucketSeconds } from './metrics-realism';
import { startPrometheus, type PrometheusServer } from './prometheus';
import { mulberry32, type FaultProfile, type SimulatorTick } from './simulator';
import { timeScaleFromEnv } from './stack';

/** The counters' names. */
export const BUSINESS_METRICS = { visits: 'checkout_visits_total', orders: 'checkout_orders_total' } as const;

/** A version's conversion unless its profile says otherwise. */
export const DEFAULT_CONVERSION = 0.3;

/** Share of a target group's requests that are checkout visits. */
export const CHECKOUT_SHARE = 0.5;

interface Counts {
  visits: number;
  orders: number;
}

interface SeriesState {
  version: string;
  targetGroup: string;
  /** Everything recorded. */
  total: Counts;
  /** Counts of buckets not yet behind a frozen edge, by bucket start. */
  pending: Map<number, Counts>;
  /** The counters as of each frozen edge of the last `keepMs`, oldest first. */
  edges: { at: number; counts: Counts }[];
}

export interface BusinessExporter {
  /** `127.0.0.1:PORT`, a scrape target. */
  address: string;
  /** Adds one simulator tick's draws; `profileOf` gives a version's conversion (a scenario's own versions). */
  record(tick: SimulatorTick, profileOf: (version: string) => FaultProfile | undefined): void;
  /** The exposition served at `nowMs` (what `/metrics` answers). */
  exposition(nowMs: number): string;
  stop(): Promise<void>;
}

export interface BusinessExporterOptions {
  /** Real milliseconds of one bucket (the compressed ALB minute). */
  bucketMs: number;
  /** How old a bucket edge must be before it is exposed (a tick reports after its AWS calls); 500 ms by default. */
  lagMs?: number;
  /** How far back every scrape exposes the frozen edges again; 60 s by default (Prometheus takes 2 minutes). */
  keepMs?: number;
  seed?: number;
}

/** Starts the exporter on a free loopback port. */
export async function startBusinessExporter(opts: BusinessExporterOptions): Promise<BusinessExporter> {
  const lagMs = opts.lagMs ?? 500;
  const keepMs = opts.keepMs ?? 60_000;
  const random = mulberry32(opts.seed ?? 0xb12);
  const series = new Map<string, SeriesState>();
  const binomial = (n: number, p: number): number => {
    let k = 0;
    for (let i = 0; i < n; i++) if (random() < p) k++;
    return k;
  };

  /** The newest frozen edge, for every series alike. */
  let frozenUntil: number | undefined;

  /** Freezes every edge that has passed since the last call: each series' counters as of that edge. */
  function freeze(nowMs: number): void {
    const edge = Math.floor((nowMs - lagMs) / opts.bucketMs) * opts.bucketMs;
    const from = frozenUntil === undefined ? edge : Math.max(frozenUntil + opts.bucketMs, edge - keepMs);
    for (let at = from; at <= edge; at += opts.bucketMs) {
      for (const s of series.values()) {
        const counts: Counts = { ...s.total };
        for (const [start, c] of s.pending) {
          if (start < at) continue;
          counts.visits -= c.visits;
          counts.orders -= c.orders;
        }
        s.edges.push({ at, counts });
      }
    }
    frozenUntil = Math.max(frozenUntil ?? edge, edge);
    for (const s of series.values()) {
      for (const start of s.pending.keys()) if (start < edge) s.pending.delete(start);
      while ((s.edges[0]?.at ?? edge) < edge - keepMs) s.edges.shift();
    }
  }

  function exposition(nowMs: number): string {
    freeze(nowMs);
    const byMetric: Record<keyof Counts, string[]> = { visits: [], orders: [] };
    for (const s of series.values()) {
      const labels = `{version="${s.version}",target_group="${s.targetGroup}"}`;
      for (const { at, counts } of s.edges) {
        byMetric.visits.push(`${BUSINESS_METRICS.visits}${labels} ${counts.visits} ${at}`);
        byMetric.orders.push(`${BUSINESS_METRICS.orders}${labels} ${counts.orders} ${at}`);
      }
    }
    return [`# TYPE ${BUSINESS_METRICS.visits} counter`, ...byMetric.visits, `# TYPE ${BUSINESS_METRICS.orders} counter`, ...byMetric.orders, ''].join('\n');
  }

  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(exposition(Date.now()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    record(tick, profileOf) {
      const bucket = Math.floor(tick.at.getTime() / opts.bucketMs) * opts.bucketMs;
      for (const s of tick.split) {
        if (s.requests <= 0) continue;
        const targetGroup = targetGroupDimension(s.targetGroupArn).split('/')[1] ?? s.targetGroupArn;
        const key = `${s.version} ${targetGroup}`;
        let state = series.get(key);
        if (!state) series.set(key, (state = { version: s.version, targetGroup, total: { visits: 0, orders: 0 }, pending: new Map(), edges: [] }));
        const visits = binomial(s.requests, CHECKOUT_SHARE);
        const orders = binomial(visits, profileOf(s.version)?.conversion ?? DEFAULT_CONVERSION);
        state.total.visits += visits;
        state.total.orders += orders;
        const c = state.pending.get(bucket) ?? { visits: 0, orders: 0 };
        state.pending.set(bucket, { visits: c.visits + visits, orders: c.orders + orders });
      }
    },
    exposition,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The exporter, the Prometheus server scraping it, and the worker's settings for it as `server: <name>`. */
export interface BusinessMetricsStack {
  exporter: BusinessExporter;
  prometheus: PrometheusServer;
  /** What the worker's environment would say: CANARY_PROMETHEUS_<NAME>_URL (and the basic auth, when on). */
  sources: SourceSettings;
  stop(): Promise<void>;
}

/**
 * Starts the exporter and a Prometheus scraping it on the local stack's clock (one bucket per compressed ALB minute
 * at `timeScale`), for the demo's business-metric scenario and the tests.
 */
export async function startBusinessMetrics(opts: {
  logDir: string;
  timeScale?: number;
  /** The name metrics give in `server:`; `main` by default. */
  server?: string;
  basicAuth?: { user: string; password: string; bcryptHash: string };
}): Promise<BusinessMetricsStack> {
  const bucketMs = albBucketSeconds(opts.timeScale ?? timeScaleFromEnv()) * 1000;
  const exporter = await startBusinessExporter({ bucketMs });
  let prometheus: PrometheusServer;
  try {
    prometheus = await startPrometheus({
      logDir: opts.logDir,
      targets: [exporter.address],
      scrapeIntervalMs: Math.min(500, bucketMs / 2),
      basicAuth: opts.basicAuth,
    });
  } catch (err) {
    await exporter.stop();
    throw err;
  }
  const auth = opts.basicAuth ? { user: opts.basicAuth.user, password: opts.basicAuth.password } : {};
  return {
    exporter,
    prometheus,
    sources: { prometheus: { [opts.server ?? 'main']: { url: prometheus.url, timeoutMs: 10_000, ...auth } }, web: {} },
    async stop() {
      await prometheus.stop();
      await exporter.stop();
    },
  };
}
