import * as fs from 'node:fs';
import * as path from 'node:path';
import { runScenario } from '../../dev/demo';
import { launchChromium, type DrawnReport } from '../../dev/browser';
import { collectReportData, renderReport, weightSeries, type ReportData } from '../../client/report';
import { getStatus } from '../../client/release-client';
import { testStack, uniqueName } from '../support/env';
import { releaseTestEnvironment } from '../support/release-fixture';

const env = releaseTestEnvironment();
const outDir = path.resolve(__dirname, '../../.canary');

/** Opens a rendered report in headless chromium; returns what it drew and every console error. */
async function openReport(data: ReportData, name: string): Promise<{ drawn: DrawnReport; errors: string[]; screenshot: string }> {
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${name}.html`);
  fs.writeFileSync(file, renderReport(data));
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    // Offline: the page must not fetch anything.
    await page.route('**/*', (route) => (route.request().url().startsWith('file:') ? route.continue() : route.abort()));
    await page.goto(`file://${file}`);
    await page.waitForFunction(() => (globalThis as unknown as { canaryReport?: DrawnReport }).canaryReport?.ready === true, undefined, { timeout: 10_000 });
    const drawn = await page.evaluate(() => (globalThis as unknown as { canaryReport: DrawnReport }).canaryReport);
    const screenshot = path.join(outDir, `${name}.png`);
    await page.screenshot({ path: screenshot, fullPage: true });
    return { drawn, errors, screenshot };
  } finally {
    await browser.close();
  }
}

/** What each chart must have drawn, from the report data (not from the page). */
function expectedCharts(data: ReportData): { id: string; series: { label: string; points: number }[] }[] {
  const w = weightSeries(data.status.timeline, { requested: data.status.requestedWeights, verified: data.status.verifiedWeights }, data.range.end);
  const weights = {
    id: 'chart-weights',
    series: Object.keys(w.verified).flatMap((role) => [
      { label: `${role} requested`, points: w.t.length },
      { label: `${role} verified`, points: w.t.length },
    ]),
  };
  const metrics = data.metrics.map((m, i) => ({
    id: `metric-${i}`,
    series: (['canary', m.reference] as const).filter((v) => m.series[v]).map((v) => ({ label: v, points: m.series[v]?.t.length ?? 0 })),
  }));
  return [weights, ...metrics];
}

describe('release report', () => {
  it('draws the bad canary: its 5xx spike over the stable, a failed measurement and the rollback, live and finished', async () => {
    const service = uniqueName('report').slice(0, 18).replace(/-+$/, '');
    const lines: string[] = [];
    const running = runScenario({
      client: env.client,
      aws: env.aws,
      taskQueue: env.taskQueue,
      scenario: 'bad-canary',
      scale: 0.5,
      service,
      temporalAddress: testStack.temporalAddress,
      out: (l) => lines.push(l),
    });
    // A live report, taken once the canary has traffic.
    let live: ReportData | undefined;
    for (let i = 0; i < 200 && !live; i++) {
      const st = await getStatus(env.client, service).catch(() => undefined);
      if (st && (st.verifiedWeights.canary ?? 0) > 0 && !st.result)
        live = await collectReportData({ client: env.client, release: service, cloudwatch: env.aws.cloudwatch });
      else await new Promise((r) => setTimeout(r, 250));
    }
    const run = await running;
    expect(run.result.outcome).toBe('rolled-back');
    expect(live?.live).toBe(true);
    const liveOpened = await openReport(live as ReportData, 'report-live');
    expect(liveOpened.errors).toEqual([]);
    expect(liveOpened.drawn.charts.map((c) => ({ id: c.id, series: c.series }))).toEqual(expectedCharts(live as ReportData));

    // CloudWatch as the CLI gets it: for the release's scope (its spec's region, no role here), the session named for it.
    const asked: unknown[] = [];
    const cloudwatch = async (scope: unknown, session: string) => {
      asked.push({ scope, session });
      return env.aws.cloudwatch;
    };
    const data = await collectReportData({ client: env.client, release: service, cloudwatch, uiUrl: 'http://127.0.0.1:8233' });
    expect(asked).toEqual([{ scope: { region: 'us-east-1' }, session: `release-${service}` }]);
    expect(data.metricsSource).toEqual({ region: 'us-east-1' });
    expect(data.live).toBe(false);
    expect(data.status.result?.outcome).toBe('rolled-back');
    const { drawn, errors, screenshot } = await openReport(data, 'report-bad-canary');
    process.stdout.write(`bad-canary report screenshot: ${screenshot}\n`);
    expect(errors).toEqual([]);
    // Every chart drew every series with as many points as the data has: traffic + the template's three metrics.
    expect(drawn.charts.map((c) => ({ id: c.id, series: c.series }))).toEqual(expectedCharts(data));
    expect(drawn.charts.map((c) => c.title)).toEqual(['traffic', '5xx-rate (errors)', 'latency-seconds (errors)', 'connection-errors (errors)']);
    // bad-canary answers 5xx but never fails a connection: ALB publishes no zero counts, so that chart has no points.
    for (const c of drawn.charts.slice(0, 3)) for (const s of c.series) expect(s.points).toBeGreaterThan(1);
    expect(drawn.charts[3]?.series.map((s) => s.points)).toEqual([0, 0]);

    // Each threshold is labelled inside its plot, whatever text alignment uPlot's axes left on the canvas.
    const thresholds = data.metrics.map((m, i) => ({
      id: `metric-${i}`,
      texts: [m.max, m.min].filter((b) => typeof b === 'number').map((b) => `threshold ${b}`),
    }));
    expect(thresholds.some((t) => t.texts.length > 0)).toBe(true);
    for (const t of thresholds) {
      const labels = drawn.labels[t.id] ?? [];
      expect(labels.map((l) => l.text)).toEqual(t.texts);
      for (const l of labels) {
        expect(l.left).toBeGreaterThanOrEqual(l.plotLeft);
        expect(l.right).toBeLessThanOrEqual(l.plotRight);
      }
    }
    // The spike: the canary's 5xx rate crossed the 0.02 bound while the stable stayed under it.
    const rate = data.metrics.find((m) => m.metric === '5xx-rate');
    expect(Math.max(...(rate?.series.canary?.v ?? []))).toBeGreaterThan(0.02);
    expect(Math.max(...(rate?.series.stable?.v ?? [0]))).toBeLessThan(0.02);
    // The verdict markers: at least one failed measurement on the 5xx chart.
    expect(drawn.charts.find((c) => c.id === 'metric-0')?.markers).toBeGreaterThan(0);
    expect(data.analyses.some((a) => a.run.last?.metrics.some((m) => m.metric === '5xx-rate' && m.verdict === 'fail'))).toBe(true);
    // The rollback: traffic back on stable at the end, verified.
    const w = weightSeries(data.status.timeline, { requested: data.status.requestedWeights, verified: data.status.verifiedWeights }, data.range.end);
    expect(w.verified.canary?.at(-1)).toBe(0);
    expect(w.verified.stable?.at(-1)).toBe(100);
    expect(Math.max(...(w.verified.canary ?? []))).toBeGreaterThan(0);
    const html = fs.readFileSync(path.join(outDir, 'report-bad-canary.html'), 'utf8');
    expect(html).toContain(`http://127.0.0.1:8233/namespaces/default/workflows/release-${service}`);
    expect(html).toContain('restored pre-release traffic');
    expect(html).toContain('Metrics read in us-east-1.');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/);
  });
});
