/**
 * 4. History cost: events (and encoded bytes) per step and in total for a 6-step release; events per background
 * analysis batch measured on a real bake with short intervals, then extrapolated to multi-day bakes and set
 * against Temporal's history limits.
 */
import { startRelease } from '../client/release-client';
import { localMetricTiming } from '../dev/scenarios';
import { startSimulator } from '../dev/simulator';
import { statusQuery } from '../common/messages';
import { seedService, type BenchContext } from './context';
import { encodedEventBytes, eventTypeCounts, loadHistory, type HistoryEvent } from './history';
import { runTimedRelease, type TimedRun } from './measure-overhead';
import { benchSpec, errorRateTemplate } from './specs';
import { formatBytes, formatCount, formatPercent, gaps, median } from './stats';

/** Temporal's defaults (dynamic config limit.historyCount.* and limit.historySize.*). */
export const historyLimits = {
  warnEvents: 10_240,
  maxEvents: 51_200,
  warnBytes: 10 * 1024 * 1024,
  maxBytes: 50 * 1024 * 1024,
} as const;

export interface BakeProjection {
  days: number;
  intervalMs: number;
  reportEveryMs: number;
  measurementsPerBatch: number;
  batches: number;
  events: number;
  bytes: number;
  /** The arithmetic, as printed. */
  arithmetic: string;
  fractionOfWarnEvents: number;
  fractionOfMaxEvents: number;
  fractionOfMaxBytes: number;
}

export interface HistoryResult {
  sixStep: TimedRun;
  twoStep: TimedRun;
  eventsPerStep: number;
  bytesPerStep: number;
  sixStepEventTypes: Record<string, number>;
  background: {
    workflowId: string;
    intervalMs: number;
    reportEveryMs: number;
    bakeMs: number;
    measurementsPerBatch: number;
    batches: number;
    measurementsTaken: number | null;
    /** Events between consecutive runAnalysis ActivityTaskScheduled events while baking (median). */
    eventsPerBatch: number;
    bytesPerBatch: number;
    /** The event types of one steady-state batch. */
    batchEventTypes: string[];
    totalEvents: number;
    totalBytes: number;
  };
  projections: BakeProjection[];
  /** Days of bake with 1-minute analysis until the warning / the hard limit, per reportEvery. */
  daysUntil: { reportEveryMs: number; warnDays: number; maxDays: number; maxBytesDays: number }[];
}

function project(
  days: number,
  intervalMs: number,
  reportEveryMs: number,
  perBatchEvents: number,
  perBatchBytes: number,
  baseEvents: number,
  baseBytes: number,
): BakeProjection {
  const perBatch = Math.max(1, Math.floor(reportEveryMs / intervalMs));
  const batchesPerDay = 86_400_000 / (perBatch * intervalMs);
  const batches = Math.ceil(days * batchesPerDay);
  const events = baseEvents + batches * perBatchEvents;
  const bytes = baseBytes + batches * perBatchBytes;
  const mins = (ms: number): string => `${ms / 60_000}m`;
  const arithmetic =
    `${days} d × ${formatCount(batchesPerDay)} batches/d (1 per ${mins(perBatch * intervalMs)}, ${perBatch} measurement(s) of ${mins(intervalMs)} each) = ${formatCount(batches)} batches; ` +
    `${formatCount(batches)} × ${perBatchEvents} events + ${baseEvents} (the 6-step release) = ${formatCount(events)} events ` +
    `(${formatPercent(events / historyLimits.warnEvents)} of the 10,240 warning, ${formatPercent(events / historyLimits.maxEvents)} of the 51,200 limit); ` +
    `${formatCount(batches)} × ${formatBytes(perBatchBytes)} + ${formatBytes(baseBytes)} = ${formatBytes(bytes)} (${formatPercent(bytes / historyLimits.maxBytes, 1)} of 50 MiB)`;
  return {
    days,
    intervalMs,
    reportEveryMs,
    measurementsPerBatch: perBatch,
    batches,
    events,
    bytes,
    arithmetic,
    fractionOfWarnEvents: events / historyLimits.warnEvents,
    fractionOfMaxEvents: events / historyLimits.maxEvents,
    fractionOfMaxBytes: bytes / historyLimits.maxBytes,
  };
}

/** Positions (in `events`) of the runAnalysis ActivityTaskScheduled events. */
function analysisScheduledAt(events: HistoryEvent[]): number[] {
  const out: number[] = [];
  events.forEach((e, i) => {
    if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'runAnalysis') out.push(i);
  });
  return out;
}

export async function measureHistory(ctx: BenchContext, opts: { bakeMs: number }): Promise<HistoryResult> {
  const { service, seeded } = await seedService(ctx.aws, 'hs');
  const two = await runTimedRelease(ctx, seeded, service, 'hs2', 2, 500);
  const six = await runTimedRelease(ctx, seeded, service, 'hs6', 6, 500);
  const eventsPerStep = (six.run.events - two.run.events) / 4;
  const bytesPerStep = (six.run.historyBytes - two.run.historyBytes) / 4;
  ctx.log(
    `[history] 6-step release: ${six.run.events} events, ${formatBytes(six.run.historyBytes)}; 2-step: ${two.run.events} events → ${eventsPerStep} events per step`,
  );

  // A bake with frequent background analysis, on real simulated traffic.
  const bg = await seedService(ctx.aws, 'hb');
  const intervalMs = 500;
  const reportEveryMs = 2_000;
  const simulator = startSimulator({
    aws: ctx.aws,
    listenerArn: bg.seeded.listenerArn,
    requestsPerSecond: 100,
    tickMs: 1000,
    profiles: {},
    defaultProfile: { errorRate: 0, latencyMs: 40, latencyJitter: 0.1 },
    seed: 11,
  });
  let background: HistoryResult['background'];
  try {
    const spec = benchSpec(bg.seeded, bg.service, 'hb1', {
      steps: [{ setWeight: 20 }, { pause: { duration: `${opts.bakeMs}ms` } }, { setWeight: 100 }],
      backgroundAnalysis: { template: 'errors', interval: `${intervalMs}ms`, reportEvery: `${reportEveryMs}ms` },
      analysis: { errors: errorRateTemplate({ max: 0.05, periodSeconds: 1, window: '10s', delay: localMetricTiming().delay }) },
    });
    ctx.log(`[history] baking ${opts.bakeMs / 1000}s with background analysis every ${intervalMs} ms, reporting every ${reportEveryMs} ms...`);
    const handle = await startRelease(ctx.client, spec, { taskQueue: ctx.taskQueue });
    const result = await handle.result();
    const status = await handle.query(statusQuery).catch(() => undefined);
    const h = await loadHistory(ctx.client, handle.workflowId, handle.firstExecutionRunId);
    const at = analysisScheduledAt(h.events);
    // Consecutive scheduled events while nothing else happens (the pause timer is pending): one batch each.
    const perBatch = gaps(at);
    const bytes = at.slice(1).map((end, i) => h.events.slice(at[i] as number, end).reduce((s, e) => s + encodedEventBytes(e), 0));
    // Show a batch from the middle of the bake (the first one also holds the pause's start, the last the promotion).
    const steady = perBatch.map((g, i) => ({ g, i })).filter((x) => x.g === median(perBatch));
    const k = steady[Math.floor(steady.length / 2)]?.i ?? 0;
    const first = at[k] ?? 0;
    const second = at[k + 1] ?? first;
    background = {
      workflowId: handle.workflowId,
      intervalMs,
      reportEveryMs,
      bakeMs: opts.bakeMs,
      measurementsPerBatch: Math.floor(reportEveryMs / intervalMs),
      batches: at.length,
      measurementsTaken: status?.backgroundAnalysis?.counters.measurements ?? null,
      eventsPerBatch: median(perBatch) ?? Number.NaN,
      bytesPerBatch: median(bytes) ?? Number.NaN,
      batchEventTypes: Object.entries(eventTypeCounts(h.events.slice(first, second))).map(([k, v]) => `${k}${v > 1 ? ` ×${v}` : ''}`),
      totalEvents: h.events.length,
      totalBytes: h.bytes,
    };
    ctx.log(
      `[history] bake ${result.outcome}: ${background.batches} analysis batches (${background.measurementsTaken ?? '?'} measurements) → ` +
        `${background.eventsPerBatch} events and ${formatBytes(background.bytesPerBatch)} per batch [${background.batchEventTypes.join(', ')}]; total ${h.events.length} events`,
    );
  } finally {
    await simulator.stop();
  }

  const base = six.run.events;
  const baseBytes = six.run.historyBytes;
  const projections: BakeProjection[] = [];
  for (const reportEvery of [600_000, 60_000]) {
    for (const days of [3, 7]) projections.push(project(days, 60_000, reportEvery, background.eventsPerBatch, background.bytesPerBatch, base, baseBytes));
  }
  const daysUntil = [600_000, 60_000].map((reportEveryMs) => {
    const perDay = 86_400_000 / (Math.max(1, Math.floor(reportEveryMs / 60_000)) * 60_000);
    return {
      reportEveryMs,
      warnDays: (historyLimits.warnEvents - base) / (perDay * background.eventsPerBatch),
      maxDays: (historyLimits.maxEvents - base) / (perDay * background.eventsPerBatch),
      maxBytesDays: (historyLimits.maxBytes - baseBytes) / (perDay * background.bytesPerBatch),
    };
  });
  return {
    sixStep: six.run,
    twoStep: two.run,
    eventsPerStep,
    bytesPerStep,
    sixStepEventTypes: eventTypeCounts(six.history.events),
    background,
    projections,
    daysUntil,
  };
}
