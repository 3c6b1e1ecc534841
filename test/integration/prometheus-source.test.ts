/**
 * The `prometheus` source against a real Prometheus (Debian's, started by dev/prometheus.ts with basic auth, scraping
 * the simulator's business metrics exporter, dev/business-metrics.ts, on the local stack's compressed clock): a
 * release promoted and one rolled back on checkout conversion in a template that mixes it with the ALB's 5xx from
 * CloudWatch, requests for `minRequests` counted from Prometheus, run by the real worker process configured only
 * through its environment (CANARY_PROMETHEUS_MAIN_*), whose password reaches neither the histories nor its logs;
 * each bucket is the counter's increase over it; the source's errors; and `canary doctor`'s check.
 */
import { createHash, createHmac } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import * as YAML from 'yaml';
import { createSources } from '../../activities/sources/index';
import type { PrometheusServerSettings } from '../../activities/sources/settings';
import type { TimedSeries, VariantTarget } from '../../analysis/analysis';
import { main as canaryCli } from '../../client/cli';
import { collectReportData } from '../../client/report-data';
import { startRelease } from '../../client/release-client';
import { statusQuery } from '../../common/messages';
import { PrometheusMetric } from '../../common/sources/prometheus';
import { errorRateMetric } from '../../dev/aws-state';
import { startBusinessMetrics, type BusinessMetricsStack } from '../../dev/business-metrics';
import { albBucketSeconds } from '../../dev/metrics-realism';
import { conversionMetric, localMetricTiming } from '../../dev/scenarios';
import { startSimulator, type FaultProfile } from '../../dev/simulator';
import { testAws, testClient, testStack, uniqueName } from '../support/env';
import { historyText } from '../support/history-text';
import { forwardActions, seedService, testSpec } from '../support/release-fixture';
import { killAllWorkerProcesses, spawnWorker, workerEnv, type WorkerProcess } from '../support/worker-process';

/** Prometheus's basic auth: the password the worker holds, and the bcrypt hash (cost 4) Prometheus checks it against. */
const USER = 'canary';
const PASSWORD = 'prom-test-password-5d1c2b9e7a';
const BCRYPT = '$2b$04$GTYHfPZKKcFd4CGAl9yJpOPI8i3loLJ8dpInFlfta4m64WTfe4nmu';

const aws = testAws();
const timeScale = testStack.timeScale;
const period = albBucketSeconds(timeScale);
const queue = uniqueName('tq-prom');
let business: BusinessMetricsStack;
let worker: WorkerProcess;
let client: Client;
let connection: Connection;

beforeAll(async () => {
  business = await startBusinessMetrics({
    logDir: process.env.CANARY_TEST_LOG_DIR ?? os.tmpdir(),
    timeScale,
    basicAuth: { user: USER, password: PASSWORD, bcryptHash: BCRYPT },
  });
  worker = spawnWorker(
    workerEnv(testStack, queue, {
      CANARY_PROMETHEUS_MAIN_URL: business.prometheus.url,
      CANARY_PROMETHEUS_MAIN_USER: USER,
      CANARY_PROMETHEUS_MAIN_PASSWORD: PASSWORD,
      // Everything the worker logs, so that a credential written anywhere would show.
      CANARY_LOG_LEVEL: 'DEBUG',
    }),
  );
  ({ client, connection } = await testClient());
  await Promise.all([worker.waitForLine(/^canary worker ready/, 90_000), business.prometheus.scraped()]);
});
afterAll(async () => {
  worker?.child.kill('SIGTERM');
  await worker?.exited;
  killAllWorkerProcesses();
  await connection?.close();
  await business?.stop();
  aws.destroy();
});

/** Visits per bucket of the variant's target group, from Prometheus: a count. */
const visits = { id: 'visits', promql: 'sum(increase(checkout_visits_total{target_group="${targetGroupName}"}[${period}]))', combine: 'sum' as const };

/** A seeded service, a simulator feeding the exporter, a release judged on `template`: its result and status. */
async function release(prefix: string, canary: FaultProfile) {
  const { service, seeded } = await seedService(aws, prefix);
  const before = await forwardActions(aws, seeded);
  const stable: FaultProfile = { errorRate: 0, latencyMs: 40, conversion: 0.3 };
  const simulator = startSimulator({
    aws,
    listenerArn: seeded.listenerArn,
    requestsPerSecond: 200,
    tickMs: 500,
    profiles: { v1: stable, v2: canary },
    seed: 31,
    realism: { timeScale },
    onTick: (t) => business.exporter.record(t, (v) => (v === 'v2' ? canary : stable)),
  });
  try {
    const { delay } = localMetricTiming(timeScale);
    const spec = testSpec(seeded, service, {
      steps: [{ setWeight: 50 }, { analysis: { template: 'checkout' } }, { setWeight: 100 }],
      analysis: {
        checkout: {
          // Mixed: the ALB's view from CloudWatch, conversion from Prometheus; requests counted from Prometheus.
          metrics: [errorRateMetric(0.05, period), conversionMetric(period, 0.5)],
          requests: { source: 'prometheus', server: 'main', period, query: [visits] },
          minRequests: 20,
          count: 2,
          interval: `${period}s`,
          window: `${4 * period}s`,
          delay,
        },
      },
    });
    const handle = await startRelease(client, spec, { taskQueue: queue });
    const result = await handle.result();
    return { result, status: await handle.query(statusQuery), workflowId: handle.workflowId, seeded, before };
  } finally {
    await simulator.stop();
  }
}

/** One tick of 40 requests to `group` (a target group's `targetgroup/name/id`), straight into the exporter. */
function recordTick(group: string, version: string): void {
  business.exporter.record(
    {
      at: new Date(),
      split: [
        {
          targetGroupArn: `arn:aws:elasticloadbalancing:us-east-1:123456789012:${group}`,
          version,
          weight: 1,
          requests: 40,
          errors: 0,
          connectionErrors: 0,
          meanLatencyMs: 40,
        },
      ],
    },
    () => undefined,
  );
}

/**
 * The canary's checkout visits per bucket (`increase`) and the counter as of each bucket's end, from the real
 * Prometheus through the source.
 */
async function readVisits(target: VariantTarget, window: { startMs: number; endMs: number }): Promise<{ increase: TimedSeries; counter: TimedSeries }> {
  const metric = (promql: string): PrometheusMetric =>
    PrometheusMetric.parse({ name: 'm', source: 'prometheus', server: 'main', period, query: [{ id: 'v', promql }] });
  const sources = createSources({ cloudwatch: aws.cloudwatch, settings: business.sources });
  const [a, b] = await sources.prometheus.fetch(
    [
      { metric: metric('sum(increase(checkout_visits_total{target_group="${targetGroupName}"}[${period}]))'), variants: { canary: target } },
      { metric: metric('sum(checkout_visits_total{target_group="${targetGroupName}"})'), variants: { canary: target } },
    ],
    window,
  );
  return { increase: a?.canary?.v ?? { t: [], v: [] }, counter: b?.canary?.v ?? { t: [], v: [] } };
}

describe('the prometheus source on a real Prometheus', () => {
  it('promotes a canary that converts like stable, rolls back one whose conversion broke (HTTP healthy), and keeps the password out of both histories and the logs', async () => {
    const [good, bad] = await Promise.all([
      release('promok', { errorRate: 0, latencyMs: 40, conversion: 0.3 }),
      release('prombad', { errorRate: 0, latencyMs: 40, conversion: 0.05 }),
    ]);

    expect(good.result.outcome).toBe('promoted');
    const judged = good.status.analysis?.last;
    expect(judged?.metrics.map((m) => [m.metric, m.verdict])).toEqual([
      ['5xx-rate', 'pass'],
      ['checkout-conversion', 'pass'],
    ]);
    // Counted from Prometheus, over the judged window: enough visits to judge, and a rate near the 30% drawn.
    const conversion = judged?.metrics[1];
    expect(conversion?.thin).toBeUndefined();
    expect(conversion?.canary).toBeGreaterThan(0.15);
    expect(conversion?.canary).toBeLessThan(0.45);

    expect(bad.result.outcome).toBe('rolled-back');
    expect(bad.result.reason).toMatch(/analysis checkout failed at step 1: .*checkout-conversion = 0\.\d+, needs >= 0\.5 x stable \(0\.1\d*\)/);
    expect(bad.status.analysis?.last?.metrics.find((m) => m.metric === '5xx-rate')).toMatchObject({ canary: 0, verdict: 'pass' });
    expect(await forwardActions(aws, bad.seeded)).toEqual(bad.before);

    const basic = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
    for (const run of [good, bad]) {
      const text = await historyText(client, run.workflowId);
      expect(text).toContain('checkout-conversion');
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(basic);
    }
    const logs = worker.stdout() + worker.stderr();
    expect(logs).toMatch(/canary worker ready/);
    expect(logs).not.toContain(PASSWORD);
    expect(logs).not.toContain(basic);

    // canary report charts the Prometheus metric like the CloudWatch one, through the same sources.
    const report = await collectReportData({ client, release: bad.workflowId, cloudwatch: aws.cloudwatch, sources: business.sources });
    const charted = Object.fromEntries(report.metrics.map((m) => [m.metric, m]));
    expect(charted['5xx-rate']).toMatchObject({ template: 'checkout', reference: 'stable' });
    expect(charted['5xx-rate']?.error).toBeUndefined();
    const chart = charted['checkout-conversion'];
    expect(chart).toMatchObject({ template: 'checkout', reference: 'stable' });
    expect(chart?.error).toBeUndefined();
    expect(chart?.series.canary?.t.length).toBeGreaterThan(2);
    expect(chart?.series.stable?.t.length).toBeGreaterThan(2);
    expect(Math.min(...(charted['checkout-conversion']?.series.canary?.v ?? []))).toBeLessThan(0.15);
  });

  it("returns each bucket's increase at the bucket's start, as CloudWatch returns its buckets", async () => {
    // Ticks straight into the exporter for a target group of our own: a counter, scraped as it grows.
    const group = `targetgroup/${uniqueName('align')}/0123456789abcdef`;
    const target: VariantTarget = { targetGroup: group, loadBalancer: 'app/align/0123456789abcdef' };
    const bucketMs = period * 1000;
    const startMs = Math.ceil(Date.now() / bucketMs) * bucketMs;
    const feed = setInterval(() => recordTick(group, 'v7'), 100);
    try {
      // The exporter exposes the counter only at bucket edges, each with its edge as timestamp. `increase` over the
      // last bucket has a value only once Prometheus holds the sample at the window's end edge, while the counter
      // there has one before it too (its lookback answers with the previous edge's sample). So: first wait until the
      // increase has all four buckets (that sample is stored), then read both; stored samples do not change.
      const endMs = startMs + 4 * bucketMs;
      const read = () => readVisits(target, { startMs, endMs });
      let stored = false;
      for (const deadline = Date.now() + 20_000; !stored && Date.now() < deadline;) {
        stored = (await read()).increase.t.length === 4;
        if (!stored) await new Promise((r) => setTimeout(r, 250));
      }
      expect(stored).toBe(true);
      const got = await read();
      expect(got.increase.t).toEqual([0, 1, 2, 3].map((i) => startMs + i * bucketMs));
      // The bucket [b, b + period) is the counter at its end minus the counter at its start.
      const i = got.increase;
      const c = got.counter;
      for (let k = 1; k < 4; k++) expect(i.v[k]).toBe((c.v[k] as number) - (c.v[k - 1] as number));
      expect(i.v.every((v) => v > 0 && Number.isInteger(v))).toBe(true);
    } finally {
      clearInterval(feed);
    }
  });

  it('keeps every bucket when the process behind the exporter stalls past several scrapes', async () => {
    // A loaded machine answers scrapes late or not at all (their timeout is 400 ms); every edge must still reach
    // Prometheus. The event loop is held for 3.5 buckets: no tick is recorded and no scrape is answered meanwhile.
    const group = `targetgroup/${uniqueName('stall')}/0123456789abcdef`;
    const target: VariantTarget = { targetGroup: group, loadBalancer: 'app/stall/0123456789abcdef' };
    const bucketMs = period * 1000;
    const tick = () => recordTick(group, 'v8');
    tick();
    const feed = setInterval(tick, 100);
    const startMs = Math.ceil(Date.now() / bucketMs) * bucketMs;
    const buckets = 8;
    const endMs = startMs + buckets * bucketMs;
    try {
      await new Promise((r) => setTimeout(r, startMs + bucketMs - Date.now()));
      const stallFrom = Date.now();
      const stallUntil = stallFrom + 3.5 * bucketMs;
      while (Date.now() < stallUntil) {
        // Busy: the exporter answers no scrape, and the feed records nothing.
      }
      const read = () => readVisits(target, { startMs, endMs });
      // Wait for the sample at the last edge (the increase of the last bucket needs it), then read once more.
      let got = await read();
      for (const deadline = Date.now() + 30_000; !got.increase.t.includes(endMs - bucketMs) && Date.now() < deadline;) {
        await new Promise((r) => setTimeout(r, 250));
        got = await read();
      }
      got = await read();
      // Every bucket, the stalled ones too (they hold nothing: no tick was recorded), none lost.
      // Bucket k is [startMs + k·period, +period). The stall began at bucket 1 (later on a loaded machine) and held
      // at least two buckets whole: those hold no tick.
      expect(got.increase.t).toEqual(Array.from({ length: buckets }, (_, k) => startMs + k * bucketMs));
      const held = got.increase.t.flatMap((t, k) => (t >= stallFrom && t + bucketMs <= stallUntil ? [k] : []));
      expect(held.length).toBeGreaterThanOrEqual(2);
      expect(held.map((k) => got.increase.v[k])).toEqual(held.map(() => 0));
      // The counter is returned at a bucket's start as of its end: buckets 1 to 7 add up to its growth over them.
      const c = got.counter.v as number[];
      expect(got.increase.v.slice(1).reduce((a, b) => a + b, 0)).toBe((c[buckets - 1] as number) - (c[0] as number));
      expect(got.increase.v[buckets - 1]).toBeGreaterThan(0);
    } finally {
      clearInterval(feed);
    }
  });

  it('fails a measurement with what went wrong: the server the metric names, a query Prometheus refuses or that returns many series, a wrong password', async () => {
    const target: VariantTarget = { targetGroup: 'targetgroup/none/0123456789abcdef', loadBalancer: 'app/none/0123456789abcdef' };
    const window = { startMs: Math.floor(Date.now() / 1000) * 1000 - 10_000, endMs: Math.floor(Date.now() / 1000) * 1000 };
    const ask = async (query: string, server = 'main', settings: Record<string, PrometheusServerSettings> = business.sources.prometheus): Promise<string> => {
      const m = PrometheusMetric.parse({ name: 'm', source: 'prometheus', server, period, query: [{ id: 'v', promql: query }] });
      const sources = createSources({ cloudwatch: aws.cloudwatch, settings: { prometheus: settings, web: {} } });
      return sources.prometheus.fetch([{ metric: m, variants: { canary: target } }], window).then(
        () => 'answered',
        (e: Error) => e.message,
      );
    };
    expect(await ask('sum(nosuchfunction(checkout_visits_total))')).toMatch(
      /^Prometheus server "main" \(http:\/\/127\.0\.0\.1:\d+\) answered HTTP 400: bad_data: .*nosuchfunction/,
    );
    expect(await ask('label_replace(vector(1), "a", "x", "", "") or label_replace(vector(2), "a", "y", "", "")')).toMatch(
      /returned 2 series \(\{a="x"\}, \{a="y"\}\): aggregate it to one per variant, e\.g\. sum\(\.\.\.\)$/,
    );
    expect(await ask('up', 'other')).toBe('Prometheus server "other" is not configured on this worker: set CANARY_PROMETHEUS_OTHER_URL');
    const wrong = await ask('up', 'main', { main: { ...business.sources.prometheus.main!, password: 'not-the-password-123' } });
    expect(wrong).toMatch(/^Prometheus server "main" \(http:\/\/127\.0\.0\.1:\d+\) answered HTTP 401 \(check its credentials variables\)/);
    expect(wrong).not.toContain('not-the-password-123');
  });

  it('canary doctor fetches each Prometheus metric for the stable target group and says which have no data, or cannot be asked', async () => {
    const { service, seeded } = await seedService(aws, 'promdoc');
    // Its stable group's traffic, for a few buckets.
    const simulator = startSimulator({
      aws,
      listenerArn: seeded.listenerArn,
      requestsPerSecond: 100,
      tickMs: 500,
      profiles: {},
      realism: { timeScale },
      onTick: (t) => business.exporter.record(t, () => undefined),
    });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'canary-prom-doctor-'));
    const saved = { ...process.env };
    const checkout = { metrics: [conversionMetric(period, 0.5)], count: 1, window: `${4 * period}s`, delay: '3s' };
    const write = (name: string, analysis: Record<string, unknown>): string => {
      const file = path.join(dir, name);
      fs.writeFileSync(
        file,
        YAML.stringify(testSpec(seeded, service, { steps: [{ setWeight: 50 }, { analysis: { template: 'checkout' } }, { setWeight: 100 }], analysis })),
      );
      return file;
    };
    const doctor = async (file: string): Promise<string> => {
      let out = '';
      const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true));
      try {
        await canaryCli(['node', 'canary', 'doctor', '--spec', file]);
      } finally {
        spy.mockRestore();
      }
      return out.split('\n').find((l) => l.includes('Prometheus and web metrics')) ?? out;
    };
    try {
      Object.assign(process.env, {
        TEMPORAL_ADDRESS: testStack.temporalAddress,
        TEMPORAL_CONFIG_FILE: path.join(dir, 'none.toml'),
        AWS_ENDPOINT_URL: testStack.awsEndpoint,
        AWS_ACCESS_KEY_ID: 'testing',
        AWS_SECRET_ACCESS_KEY: 'testing',
        AWS_REGION: 'us-east-1',
        AWS_MAX_ATTEMPTS: '1',
        CANARY_PROMETHEUS_MAIN_URL: business.prometheus.url,
        CANARY_PROMETHEUS_MAIN_USER: USER,
        CANARY_PROMETHEUS_MAIN_PASSWORD: PASSWORD,
      });
      await business.prometheus.scraped();
      // Data for the stable group: poll until the exporter's buckets for it are in Prometheus.
      let ok = '';
      for (const deadline = Date.now() + 20_000; Date.now() < deadline && !ok.startsWith('✔'); await new Promise((r) => setTimeout(r, 500))) {
        ok = await doctor(write('ok.yaml', { checkout }));
      }
      expect(ok).toMatch(
        new RegExp(`^✔ Prometheus and web metrics have data: ${seeded.stableTargetGroupName}, last hour: checkout/checkout-conversion \\d+ datapoint\\(s\\)$`),
      );
      const other = { ...checkout, metrics: [{ ...conversionMetric(period, 0.5), server: 'nowhere' }] };
      expect(await doctor(write('bad.yaml', { checkout, other }))).toBe(
        '✖ Prometheus and web metrics have data: other/checkout-conversion: Prometheus server "nowhere" is not configured on this worker: set CANARY_PROMETHEUS_NOWHERE_URL — fix: set the server or endpoint the metric names where the worker runs (CANARY_PROMETHEUS_<NAME>_URL, CANARY_SOURCE_<NAME>_URL and their credentials: docs/METRIC-SOURCES.md), and check the query selects the stable target group',
      );
    } finally {
      process.env = saved;
      await simulator.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the prometheus source's credentials on the wire", () => {
  /** Amazon Managed Service for Prometheus's side of SigV4, written out from the specification (not the SDK's signer). */
  function sigv4Valid(req: { method: string; path: string; headers: http.IncomingHttpHeaders; body: string }, secret: string): { ok: boolean; scope?: string } {
    const auth = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
      String(req.headers.authorization),
    );
    if (!auth) return { ok: false };
    const [, , date, region, service, signed, signature] = auth as unknown as string[];
    const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
    const hmac = (key: string | Buffer, s: string): Buffer => createHmac('sha256', key).update(s).digest();
    const names = (signed as string).split(';');
    const canonical = [
      req.method,
      req.path,
      '',
      ...names.map(
        (n) =>
          `${n}:${String(req.headers[n] ?? '')
            .trim()
            .replace(/\s+/g, ' ')}`,
      ),
      '',
      signed,
      sha(req.body),
    ].join('\n');
    const amzDate = String(req.headers['x-amz-date']);
    const toSign = ['AWS4-HMAC-SHA256', amzDate, `${date}/${region}/${service}/aws4_request`, sha(canonical)].join('\n');
    const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date as string), region as string), service as string), 'aws4_request');
    return { ok: createHmac('sha256', key).update(toSign).digest('hex') === signature && names.includes('host'), scope: `${region}/${service}` };
  }

  it('signs for aps with SigV4, sends a bearer token, and turns credentials in the URL into basic auth', async () => {
    const seen: { path: string; auth?: string; sigv4?: { ok: boolean; scope?: string } }[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const path = req.url ?? '';
        seen.push({
          path,
          auth: req.headers.authorization,
          ...(path.startsWith('/workspaces/')
            ? { sigv4: sigv4Valid({ method: req.method ?? '', path, headers: req.headers, body }, 'sigv4-test-secret') }
            : {}),
        });
        const at = Number(new URLSearchParams(body).get('end'));
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [[at, '5']] }] } }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const sources = createSources({
        cloudwatch: aws.cloudwatch,
        settings: {
          prometheus: {
            amp: { url: `http://${origin}/workspaces/ws-0123/`, sigv4Region: 'eu-west-1', timeoutMs: 2_000 },
            bearer: { url: `http://${origin}`, bearerToken: 'prom-bearer-token-77', timeoutMs: 2_000 },
            inurl: { url: `http://reader:p%40ss@${origin}`, timeoutMs: 2_000 },
          },
          web: {},
        },
        prometheus: { credentials: { accessKeyId: 'AKIDSIGV4TEST', secretAccessKey: 'sigv4-test-secret' } },
      });
      const target: VariantTarget = { targetGroup: 'targetgroup/tg/0123456789abcdef', loadBalancer: 'app/lb/0123456789abcdef' };
      const window = { startMs: 1_800_000_000_000, endMs: 1_800_000_060_000 };
      for (const server of ['amp', 'bearer', 'inurl']) {
        const metric = PrometheusMetric.parse({ name: 'm', source: 'prometheus', server, query: [{ id: 'v', promql: 'sum(up{tg="${targetGroup}"})' }] });
        const [got] = await sources.prometheus.fetch([{ metric, variants: { canary: target } }], window);
        // One bucket, its value at its start (the query evaluated at its end).
        expect(got?.canary?.v).toEqual({ t: [window.startMs], v: [5] });
      }
      expect(seen).toEqual([
        {
          path: '/workspaces/ws-0123/api/v1/query_range',
          auth: expect.stringMatching(/^AWS4-HMAC-SHA256 Credential=AKIDSIGV4TEST\//),
          sigv4: { ok: true, scope: 'eu-west-1/aps' },
        },
        { path: '/api/v1/query_range', auth: 'Bearer prom-bearer-token-77' },
        { path: '/api/v1/query_range', auth: `Basic ${Buffer.from('reader:p@ss').toString('base64')}` },
      ]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
