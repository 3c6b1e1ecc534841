/**
 * The `web` source against a real HTTP server (node:http on a free loopback port) standing in for a synthetic
 * monitoring service: the variant and the window in the request, one number per answer judged by the same rules as
 * every metric (bounds, relative to stable, noData), a 429 retried within the measurement and one that stays,
 * a server that never answers, missing data and data that is not a number; and a release judged on it whose
 * endpoint token reaches neither the history nor the server without being asked for.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createActivities } from '../../activities';
import { motoClients } from '../../activities/aws-clients';
import { createMetricsActivities } from '../../activities/metrics';
import { createSources } from '../../activities/sources/index';
import type { SourceSettings, WebEndpointSettings } from '../../activities/sources/settings';
import type { AnalysisRun, VariantTarget } from '../../analysis/analysis';
import { startRelease } from '../../client/release-client';
import { statusQuery } from '../../common/messages';
import { WebMetric } from '../../common/sources/web';
import { AnalysisTemplate } from '../../common/spec';
import { tagCaller, workerCaller } from '../../dev/iam-check';
import { activityScheduledNow } from '../support/activity-env';
import { testAws, testClient, testStack, testWorker, uniqueName } from '../support/env';
import { historyText } from '../support/history-text';
import { seedService, testSpec } from '../support/release-fixture';

const TOKEN = 'synthetics-token-8c41f0a2d9';
const aws = testAws();

/** What the server was asked, per request. */
interface Asked {
  path: string;
  query: Record<string, string>;
  auth?: string;
  body?: unknown;
}

let server: http.Server;
let base: string;
const asked: Asked[] = [];
/** Success rate per target group name the server answers with, else per prefix of the name. */
const rates = new Map<string, number>();
const prefixRates = new Map<string, number>();
const rateOf = (group: string): number | undefined => rates.get(group) ?? [...prefixRates].find(([p]) => group.startsWith(p))?.[1];
let flaky = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const entry: Asked = {
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        auth: req.headers.authorization,
        ...(raw ? { body: JSON.parse(raw) as unknown } : {}),
      };
      asked.push(entry);
      const json = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
      };
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return json(401, { error: 'unauthorized' });
      switch (url.pathname) {
        case '/rate': {
          const rate = rateOf(url.searchParams.get('group') ?? '');
          return json(200, { data: rate === undefined ? {} : { success_rate: rate, checks: 120 } });
        }
        case '/query': {
          const q = (entry.body as { filter?: { group?: string } }).filter;
          return json(200, { results: [{ series: 'success', value: String(rateOf(q?.group ?? '') ?? 'n/a') }] });
        }
        case '/busy':
          return json(429, { error: 'slow down' }, { 'retry-after': '2' });
        case '/flaky':
          return flaky++ % 2 === 0 ? json(429, { error: 'slow down' }) : json(200, { data: { success_rate: 0.999 } });
        case '/null':
          return json(200, { data: { success_rate: null } });
        case '/slow':
          return; // never answers
        default:
          return json(404, { error: 'no such path' });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  aws.destroy();
});

/** The worker's endpoints: each a path of the server, all with the token, the given timeout. */
function settings(timeoutMs = 2_000): SourceSettings {
  const at = (p: string): WebEndpointSettings => ({ url: `${base}${p}`, header: { name: 'Authorization', value: `Bearer ${TOKEN}` }, timeoutMs });
  return {
    prometheus: {},
    web: { synthetics: at('/rate'), search: at('/query'), busy: at('/busy'), flaky: at('/flaky'), nulls: at('/null'), slow: at('/slow') },
  };
}

const variantOf = (name: string): VariantTarget => ({ targetGroup: `targetgroup/${name}/0123456789abcdef`, loadBalancer: 'app/web/0123456789abcdef' });
const rate = (overrides: Record<string, unknown> = {}) => ({
  name: 'synthetic-success',
  source: 'web',
  endpoint: 'synthetics',
  params: { group: '${targetGroupName}', variant: '${variant}', from: '${start}', to: '${end}' },
  value: '$.data.success_rate',
  period: 1,
  ...overrides,
});

/** One measurement of the analysis activity over the web source, as the worker runs it. */
async function analyse(template: Record<string, unknown>, canary: string, stable: string, timeoutMs?: number): Promise<AnalysisRun> {
  const { runAnalysis } = createMetricsActivities(async () => aws, { sources: settings(timeoutMs) });
  const env = activityScheduledNow();
  return (await env.run(runAnalysis, {
    templateName: 'synthetics',
    template: AnalysisTemplate.parse({ window: '5s', delay: '1s', ...template }),
    variants: { canary: variantOf(canary), stable: variantOf(stable) },
    count: 1,
    intervalMs: 10,
  })) as AnalysisRun;
}

describe('the web source on a real HTTP server', () => {
  it('asks for each variant with its placeholders filled and the token, and judges the number it reads by the bounds', async () => {
    const [c, s] = [uniqueName('wc'), uniqueName('ws')];
    rates.set(c, 0.95).set(s, 0.999);
    const run = await analyse({ metrics: [rate({ pass: { min: 0.99 } }), rate({ name: 'vs-stable', pass: { relativeTo: 'stable', minRatio: 0.99 } })] }, c, s);
    expect(run.verdict).toBe('fail');
    expect(run.last?.metrics).toEqual([
      expect.objectContaining({ metric: 'synthetic-success', canary: 0.95, verdict: 'fail', threshold: '>= 0.99' }),
      expect.objectContaining({ metric: 'vs-stable', canary: 0.95, reference: 0.999, verdict: 'fail' }),
    ]);
    // Placeholders filled per variant; the window the measurement judged, its end on a bucket edge.
    const canaryAsk = asked.find((a) => a.query.group === c);
    expect(canaryAsk).toMatchObject({
      path: '/rate',
      auth: `Bearer ${TOKEN}`,
      query: { variant: 'canary', from: run.last?.window?.start, to: run.last?.window?.end },
    });
    expect(asked.find((a) => a.query.group === s)?.query.variant).toBe('stable');

    rates.set(c, 0.998);
    expect((await analyse({ metrics: [rate({ pass: { min: 0.99 } })] }, c, s)).verdict).toBe('pass');
  });

  it('POSTs a JSON body with the placeholders filled, and reads a numeric string', async () => {
    const [c, s] = [uniqueName('pc'), uniqueName('ps')];
    rates.set(c, 0.991).set(s, 0.999);
    const metric = rate({
      endpoint: 'search',
      method: 'POST',
      params: undefined,
      body: { filter: { group: '${targetGroupName}' }, range: ['${startSeconds}', '${endSeconds}'] },
      value: '$.results[0].value',
      pass: { min: 0.99 },
    });
    const run = await analyse({ metrics: [metric] }, c, s);
    expect(run.last?.metrics[0]).toMatchObject({ canary: 0.991, verdict: 'pass' });
    const body = asked.find((a) => (a.body as { filter?: { group?: string } } | undefined)?.filter?.group === c)?.body as { range: string[] };
    expect(body.range).toEqual([String(Date.parse(run.last?.window?.start ?? '') / 1000), String(Date.parse(run.last?.window?.end ?? '') / 1000)]);
  });

  it('takes no answer as no data: a missing or null value leaves the measurement to noData', async () => {
    const missing = await analyse({ metrics: [rate({ pass: { min: 0.99 } })] }, uniqueName('none'), uniqueName('none'));
    expect(missing.last).toMatchObject({ verdict: 'inconclusive', metrics: [expect.objectContaining({ canary: null, verdict: 'nodata' })] });
    const nulls = await analyse({ metrics: [rate({ endpoint: 'nulls', pass: { min: 0.99 } })], noData: 'fail' }, 'a', 'b');
    expect(nulls.last).toMatchObject({ verdict: 'fail', metrics: [expect.objectContaining({ canary: null, verdict: 'fail' })] });
  });

  it('retries a 429 within the measurement, and fails one that stays, a server that never answers, and a value that is not a number', async () => {
    const flakyRun = await analyse({ metrics: [rate({ endpoint: 'flaky', pass: { min: 0.99 } })] }, 'a', 'b');
    expect(flakyRun.last).toMatchObject({ verdict: 'pass', metrics: [expect.objectContaining({ canary: 0.999 })] });

    const target = { canary: variantOf('x') };
    const window = { startMs: 1_000_000, endMs: 1_005_000 };
    const ask = (endpoint: string, over: Record<string, unknown> = {}, timeoutMs?: number): Promise<string> =>
      createSources({ cloudwatch: aws.cloudwatch, settings: settings(timeoutMs) })
        .web.fetch([{ metric: WebMetric.parse(rate({ endpoint, pass: { min: 0 }, ...over })), variants: target }], window)
        .then(
          (r) => JSON.stringify(r),
          (e: Error) => e.message,
        );
    expect(await ask('busy')).toBe(`web endpoint "busy" (${base}) answered HTTP 429 (too many requests), retry after 2: {"error":"slow down"}`);
    // The server never answers /slow: the message is the timeout's, and the server was asked once (a timeout is not
    // retried), as it has seen by the time it answers the next request.
    const slowAsked = (): number => asked.filter((a) => a.path === '/slow').length;
    const before = slowAsked();
    expect(await ask('slow', {}, 300)).toBe(`web endpoint "slow" (${base}): no answer within 300ms`);
    rates.set('x', 0.5);
    expect(await ask('synthetics', { value: '$.data' })).toBe(`web endpoint "synthetics" (${base}): $.data is an object, not a number`);
    expect(slowAsked() - before).toBe(1);
    expect(await ask('nowhere')).toBe('web endpoint "nowhere" is not configured on this worker: set CANARY_SOURCE_NOWHERE_URL');
    const refused = await createSources({
      cloudwatch: aws.cloudwatch,
      settings: { prometheus: {}, web: { synthetics: { url: `${base}/rate`, timeoutMs: 1000 } } },
    })
      .web.fetch([{ metric: WebMetric.parse(rate({ pass: { min: 0 } })), variants: target }], window)
      .catch((e: Error) => e.message);
    expect(refused).toBe(`web endpoint "synthetics" (${base}) answered HTTP 401 (check its credentials variables): {"error":"unauthorized"}`);
  });

  it('runs a release judged on it, and the endpoint token never reaches the history', async () => {
    const { connection, client } = await testClient();
    const taskQueue = uniqueName('tq-web');
    const workerAws = tagCaller(motoClients(aws.config.endpoint ?? '', aws.config.region), workerCaller);
    const { worker, connection: native } = await testWorker({
      taskQueue,
      activities: createActivities({ ...workerAws, sources: settings(), timeScale: testStack.timeScale }),
    });
    const running = worker.run();
    try {
      const { service, seeded } = await seedService(aws, 'webrel');
      const spec = testSpec(seeded, service, {
        steps: [{ setWeight: 50 }, { analysis: { template: 'synthetics' } }, { setWeight: 100 }],
        analysis: { synthetics: { metrics: [rate({ pass: { min: 0.99 } })], window: '2s', delay: '1s', count: 1 } },
      });
      // Every target group of this service (its name starts with the service's) succeeds.
      prefixRates.set(service, 0.997);
      const handle = await startRelease(client, spec, { taskQueue });
      let timer: NodeJS.Timeout | undefined;
      const result = await Promise.race([
        handle.result(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            void handle.query(statusQuery).then((s) => reject(new Error(`no result in 60 s: ${s.phase}, ${JSON.stringify(s.timeline.slice(-3))}`)), reject);
            void handle.terminate('test timed out').catch(() => undefined);
          }, 60_000);
        }),
      ]).finally(() => clearTimeout(timer));
      expect(result.outcome).toBe('promoted');
      const status = await handle.query(statusQuery);
      expect(status.analysis?.last?.metrics[0]).toMatchObject({ metric: 'synthetic-success', canary: 0.997, verdict: 'pass' });
      const text = await historyText(client, handle.workflowId);
      expect(text).toContain('synthetic-success');
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain(base.replace('http://', ''));
    } finally {
      worker.shutdown();
      await running;
      await native.close();
      await connection.close();
      workerAws.destroy();
    }
  });
});
