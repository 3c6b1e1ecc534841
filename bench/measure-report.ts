/**
 * 6. Release report: how long the report of a long release takes to open in headless chromium. The release is
 * 3 days of 1-minute data (two metrics, canary and stable each: 4 × 4,320 points), a background analysis every
 * 5 minutes (864 measurements with markers) and a weight change every 6 hours; the page is rendered by
 * client/report.ts and opened from a file. Measured: navigation start → every chart drawn (the page's own
 * performance.now()), and the wall time from `page.goto` to the same point as the bench sees it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AnalysisRun } from '../analysis/analysis';
import { renderReport, type ReportData } from '../client/report';
import type { ReleaseStatus, TimelineEntry } from '../common/status';
import { launchChromium, type DrawnReport } from '../dev/browser';
import { summarize, type Summary } from './stats';

export interface ReportOpenResult {
  points: number;
  markers: number;
  htmlBytes: number;
  /** Navigation start → all charts drawn, ms (in the page). */
  drawn: Summary;
  /** page.goto → all charts drawn, ms (as the bench sees it). */
  wall: Summary;
  reps: number;
}

const DAY = 86_400_000;

/** A finished 3-day release with 1-minute CloudWatch series; deterministic. */
export function longReleaseData(days = 3): ReportData {
  const start = Date.UTC(2026, 10, 1);
  const end = start + days * DAY;
  const minutes = Math.floor((end - start) / 60_000);
  const t = Array.from({ length: minutes }, (_, i) => start + i * 60_000);
  const wave = (i: number, base: number, amp: number) => base + amp * Math.sin(i / 97) + amp * 0.3 * Math.sin(i / 7);
  const timeline: TimelineEntry[] = [{ at: new Date(start).toISOString(), by: 'ci', action: 'start', accepted: true }];
  for (let h = 0, w = 5; h < days * 24; h += 6, w = Math.min(100, w + 10)) {
    timeline.push({
      at: new Date(start + h * 3_600_000).toISOString(),
      by: 'canary',
      action: 'setWeight',
      detail: `canary ${w}%, stable ${100 - w}% (verified)`,
      accepted: true,
    });
  }
  const analyses = Array.from({ length: Math.floor(minutes / 5) }, (_, k) => {
    const at = start + (k * 5 + 1) * 60_000;
    const run: AnalysisRun = {
      templateName: 'errors',
      verdict: 'pass',
      reason: 'within bounds',
      counters: { measurements: k + 1, failed: 0, inconclusive: 0, errors: 0, consecutiveErrors: 0 },
      last: {
        at: new Date(at).toISOString(),
        verdict: 'pass',
        metrics: [
          { metric: '5xx-rate', canary: wave(k * 5, 0.004, 0.002), reference: null, verdict: 'pass', critical: false, threshold: '<= 0.02' },
          { metric: 'latency-seconds', canary: wave(k * 5, 0.05, 0.01), reference: null, verdict: 'pass', critical: false, threshold: '<= 0.5' },
        ],
      },
    };
    return { at, kind: 'background' as const, run };
  });
  const status = {
    releaseId: 'release-bench',
    service: 'bench',
    version: 'v2',
    initiator: 'ci',
    phase: 'Succeeded',
    step: 2,
    steps: [],
    requestedWeights: { canary: 100, stable: 0 },
    verifiedWeights: { canary: 100, stable: 0 },
    targetGroups: [],
    paused: false,
    timeline,
    rollbackPlan: [],
    startedAt: new Date(start).toISOString(),
    updatedAt: new Date(end).toISOString(),
  } as unknown as ReleaseStatus;
  const series = (base: number, amp: number, shift: number) => ({ t, v: t.map((_, i) => wave(i + shift, base, amp)) });
  return {
    releaseId: 'release-bench',
    namespace: 'default',
    runs: [{ runId: 'r1', startedAt: start, closedAt: end, status: 'COMPLETED' }],
    status,
    phases: [
      { at: start, phase: 'Progressing' },
      { at: end - 60_000, phase: 'Succeeded' },
    ],
    analyses,
    metrics: [
      { template: 'errors', metric: '5xx-rate', reference: 'stable', max: 0.02, series: { canary: series(0.004, 0.002, 0), stable: series(0.003, 0.002, 50) } },
      {
        template: 'errors',
        metric: 'latency-seconds',
        reference: 'stable',
        max: 0.5,
        series: { canary: series(0.05, 0.01, 0), stable: series(0.045, 0.01, 50) },
      },
    ],
    range: { start, end },
    live: false,
    generatedAt: end,
  };
}

export async function measureReport(opts: { reps: number; log: (l: string) => void }): Promise<ReportOpenResult> {
  const data = longReleaseData(3);
  const html = renderReport(data);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'canary-report-bench-'));
  const file = path.join(dir, 'report.html');
  fs.writeFileSync(file, html);
  const points = data.metrics.reduce((n, m) => n + Object.values(m.series).reduce((k, s) => k + s.t.length, 0), 0);
  const browser = await launchChromium();
  const drawn: number[] = [];
  const wall: number[] = [];
  try {
    // One warm-up open (the browser's first page pays its own start-up), then the measured ones, each in a fresh page.
    for (let i = 0; i <= opts.reps; i++) {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      const t0 = Date.now();
      await page.goto(`file://${file}`);
      await page.waitForFunction(() => (globalThis as unknown as { canaryReport?: DrawnReport }).canaryReport?.ready === true, undefined, { timeout: 60_000 });
      const w = Date.now() - t0;
      const r = await page.evaluate(() => (globalThis as unknown as { canaryReport: DrawnReport }).canaryReport);
      await page.close();
      if (errors.length) throw new Error(`report page errors: ${errors.join('; ')}`);
      if (i === 0) continue;
      drawn.push(r.drawnMs ?? NaN);
      wall.push(w);
      opts.log(`[report] open ${i}/${opts.reps}: drawn after ${Math.round(r.drawnMs ?? NaN)} ms (wall ${w} ms)`);
    }
  } finally {
    await browser.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { points, markers: data.analyses.length, htmlBytes: Buffer.byteLength(html), drawn: summarize(drawn), wall: summarize(wall), reps: opts.reps };
}
