/**
 * The printed table and the JSON file of a bench run. Formatting only: every figure comes from the measurements.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DetectionResult } from './measure-detection';
import { describeDetectionConfig } from './measure-detection';
import type { HistoryResult } from './measure-history';
import type { JudgeCpuResult } from './measure-judge';
import type { ValidationResult } from './measure-validation';
import type { LongBakeResult } from './measure-long-bake';
import type { OverheadResult } from './measure-overhead';
import type { RollbackResult } from './measure-rollback';
import type { ReportOpenResult } from './measure-report';
import type { ScaleResult } from './measure-scale';
import { formatBytes, formatCount, formatMs, formatPercent, formatRatio, ratio, type Summary } from './stats';

export interface BenchMeta {
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  quick: boolean;
  parts: string[];
  node: string;
  cpus: number;
  cpuModel: string;
  loadAvgStart: number[];
  loadAvgEnd: number[];
  /** Cores used by processes outside the bench's tree over the whole run (other test runs...). */
  foreignCoresMean: number | null;
  systemCoresMean: number | null;
  temporalAddress: string;
  motoEndpoint: string;
  logDir: string;
}

export interface BenchResults {
  meta: BenchMeta;
  rollback?: RollbackResult;
  detection?: DetectionResult;
  overhead?: OverheadResult;
  history?: HistoryResult;
  scale?: ScaleResult;
  report?: ReportOpenResult;
  longbake?: LongBakeResult;
  judge?: JudgeCpuResult;
  validation?: ValidationResult;
  errors: { part: string; message: string }[];
}

function medP90(s: Summary): string {
  return `${formatMs(s.median)} / ${formatMs(s.p90)}`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join(' │ ')
      .trimEnd();
  const rule = widths.map((w) => '─'.repeat(w)).join('─┼─');
  return [line(header), rule, ...rows.map(line)].join('\n');
}

export function renderReport(r: BenchResults): string {
  const out: string[] = [];
  const m = r.meta;
  out.push(
    `canary bench${m.quick ? ' --quick' : ''}: ${m.parts.join(', ')} — ${m.startedAt}, ${formatMs(m.durationMs)}, node ${m.node}, ${m.cpus} × ${m.cpuModel}`,
    `machine load: load average ${m.loadAvgStart.map((x) => x.toFixed(2)).join(' ')} at start, ${m.loadAvgEnd.map((x) => x.toFixed(2)).join(' ')} at end; ` +
      `processes outside the bench used ${m.foreignCoresMean === null ? '-' : m.foreignCoresMean.toFixed(2)} of ${m.cpus} cores on average (whole machine ${m.systemCoresMean === null ? '-' : m.systemCoresMean.toFixed(2)})`,
    '',
  );
  const rows: string[][] = [];
  if (r.rollback) {
    const x = r.rollback;
    rows.push(
      [
        '1 rollback',
        `analysis fail → listener verified stable (n=${x.latency.n})`,
        medP90(x.latency),
        `direct ModifyListener+DescribeListeners (n=${x.directPair.n}) ${formatMs(x.directPair.median)}`,
        formatRatio(x.ratioToPair),
      ],
      // restoreActions makes the same two calls as the direct pair (write, then describe to verify).
      [
        '',
        '  decide (workflow task) / dispatch / restoreActions run',
        `${formatMs(x.decide.median)} / ${formatMs(x.dispatch.median)} / ${formatMs(x.restore.median)}`,
        `restoreActions run vs direct pair ${formatMs(x.directPair.median)}`,
        formatRatio(ratio(x.restore.median, x.directPair.median)),
      ],
    );
  }
  if (r.detection) {
    const x = r.detection;
    rows.push(
      [
        '2 detection',
        `fault injected → listener on stable (n=${x.toSafety.n})`,
        medP90(x.toSafety),
        `delay + period + interval ${formatMs(x.budgetDelayPeriodIntervalMs)}`,
        formatRatio(x.ratioToDelayPeriodInterval),
      ],
      [
        '',
        '  fault → analysis fail / fail → restore verified',
        `${formatMs(x.toDetection.median)} / ${formatMs(x.reaction.median)}`,
        `delay + window + interval ${formatMs(x.budgetDelayWindowIntervalMs)}`,
        formatRatio(x.ratioToDelayWindowInterval),
      ],
    );
  }
  if (r.overhead) {
    const x = r.overhead;
    for (const b of x.bySteps) {
      rows.push([
        b === x.bySteps[0] ? '3 overhead' : '',
        `${b.steps}-step release, wall (n=${b.wall.n})`,
        `${formatMs(b.wall.median)}`,
        `pauses ${formatMs(b.bakeMs)} → overhead ${formatMs(b.overhead.median)}`,
        formatRatio(b.wall.median === null ? null : b.wall.median / b.bakeMs),
      ]);
    }
    rows.push(
      [
        '',
        'per-step overhead (slope over N)',
        formatMs(x.perStepMs),
        `in activities ${formatMs(x.perStepActivityMs)}, Temporal ${formatMs(x.perStepTemporalMs)}`,
        '',
      ],
      ['', 'fixed overhead (intercept: clone, finalize)', formatMs(x.fixedMs), '', ''],
    );
  }
  if (r.report) {
    const x = r.report;
    rows.push([
      '6 report',
      `3-day release report opens in chromium (${formatCount(x.points)} points, ${x.markers} markers, ${formatBytes(x.htmlBytes)})`,
      medP90(x.drawn),
      `navigation start → all charts drawn, median / p90 of ${x.reps}; page.goto → drawn ${medP90(x.wall)}`,
      '',
    ]);
  }
  if (r.longbake) {
    const x = r.longbake;
    rows.push([
      '7 longbake',
      `largest run of a ${x.days}-day bake at reportEvery 1m (${x.runs} runs, ${x.runsPerWeek.toFixed(1)} per week)`,
      `${formatCount(x.maxEventsPerRun)} events`,
      'Temporal warning 10,240 events',
      formatPercent(x.fractionOfWarnEvents),
    ]);
  }
  if (r.judge) {
    const x = r.judge;
    rows.push([
      '8 judge',
      `one look of the paired AR(1) test over its wide and narrow ρ grids (${formatCount(x.looks)} looks of 10-60 buckets)`,
      `${x.shared.median?.toFixed(1)} / ${x.shared.p90?.toFixed(1)} µs`,
      `one call per grid ${x.perGrid.median?.toFixed(1)} µs; judgeEvidence in full ${x.judge.median?.toFixed(1)} µs (medians of ${x.reps})`,
      formatRatio(x.speedup),
    ]);
  }
  if (r.validation) {
    const x = r.validation;
    rows.push([
      '9 validation',
      "accept the bad-input catalogue's valid spec",
      `${x.valid.median?.toFixed(2)} / ${x.valid.p90?.toFixed(2)} ms`,
      `medians / p90 of ${x.reps}`,
      '',
    ]);
    for (const h of x.huge)
      rows.push(['', `  reject ${h.name}`, `${h.ms.median?.toFixed(2)} / ${h.ms.p90?.toFixed(2)} ms`, '× the valid spec', formatRatio(h.ratio)]);
  }
  if (r.history) {
    const x = r.history;
    rows.push(
      [
        '4 history',
        '6-step release: events total / per step',
        `${x.sixStep.events} / ${x.eventsPerStep.toFixed(1)}`,
        `${formatBytes(x.sixStep.historyBytes)} total, ${formatBytes(x.bytesPerStep)} per step`,
        '',
      ],
      [
        '',
        `background analysis batch (${x.background.measurementsPerBatch} measurements/call)`,
        `${x.background.eventsPerBatch} events`,
        `${formatBytes(x.background.bytesPerBatch)} per batch; ${x.background.batches} batches in a ${formatMs(x.background.bakeMs)} bake`,
        '',
      ],
    );
    for (const p of x.projections) {
      rows.push([
        '',
        `${p.days}-day bake, 1m analysis, reportEvery ${p.reportEveryMs / 60_000}m`,
        `${formatCount(p.events)} events`,
        `warning 10,240 / limit 51,200; ${formatBytes(p.bytes)} of 50 MiB`,
        `${formatPercent(p.fractionOfWarnEvents)} / ${formatPercent(p.fractionOfMaxEvents)}`,
      ]);
    }
  }
  if (r.scale) {
    for (const p of r.scale.phases) {
      rows.push(
        [
          p === r.scale.phases[0] ? '5 scale' : '',
          `${p.releases} concurrent releases: promoted within ${formatMs(p.deadlineMs)}`,
          `${p.completedInDeadline}/${p.releases} (${formatPercent(p.completionRate)})`,
          `all closed ${formatMs(p.allClosedMs)}; ${p.throughputPerSec === null ? '-' : p.throughputPerSec.toFixed(2)} releases/s`,
          '',
        ],
        [
          '',
          '  release duration p50 / p90 / p99',
          `${formatMs(p.releaseDurationMs.median)} / ${formatMs(p.releaseDurationMs.p90)} / ${formatMs(p.releaseDurationMs.p99)}`,
          `pauses ${formatMs(p.idealBakeMs)}`,
          formatRatio(p.releaseDurationMs.median === null ? null : p.releaseDurationMs.median / p.idealBakeMs),
        ],
        [
          '',
          '  workflow task latency p50 / p99',
          `${formatMs(p.workflowTaskLatencyMs.median)} / ${formatMs(p.workflowTaskLatencyMs.p99)}`,
          `${formatCount(p.workflowTaskLatencyMs.n)} workflow tasks, ${p.workflowTaskTimeouts} timed out`,
          '',
        ],
        [
          '',
          '    sticky queue / task queue p50 / p99',
          `${formatMs(p.workflowTaskLatencyStickyMs.median)} / ${formatMs(p.workflowTaskLatencyStickyMs.p99)}`,
          `task queue (first tasks, after timeouts; n=${p.workflowTaskLatencyNormalMs.n}) ${formatMs(p.workflowTaskLatencyNormalMs.median)} / ${formatMs(p.workflowTaskLatencyNormalMs.p99)}`,
          '',
        ],
        [
          '',
          '  activity schedule-to-start p50 / p99',
          `${formatMs(p.activityScheduleToStartMs.median)} / ${formatMs(p.activityScheduleToStartMs.p99)}`,
          `${formatCount(p.activities)} activities, ${p.retriedActivities} retried; run p50/p99 ${formatMs(p.activityRunMs.median)} / ${formatMs(p.activityRunMs.p99)}`,
          '',
        ],
        [
          '',
          '  per release: WFT wait / WFT run / activities / pauses',
          `${formatMs(p.timePerRelease.wftWaitMs)} / ${formatMs(p.timePerRelease.wftRunMs)} / ${formatMs(p.timePerRelease.activityRunMs)} / ${formatMs(p.timePerRelease.timerMs)}`,
          `medians of per-release sums; activity queue ${formatMs(p.timePerRelease.activityQueueMs)}`,
          '',
        ],
        [
          '',
          '  CPU s per release: moto / temporal / worker / total',
          `${p.cpuSecondsPerRelease.moto.toFixed(3)} / ${p.cpuSecondsPerRelease.temporal.toFixed(3)} / ${p.cpuSecondsPerRelease.worker.toFixed(3)} / ${p.cpuSecondsPerRelease.total.toFixed(3)}`,
          `CPU ceiling ${p.cpuCeilingPerSec === null ? '-' : p.cpuCeilingPerSec.toFixed(2)} releases/s; moto ${p.motoCpuMsPerRequest === null ? '-' : p.motoCpuMsPerRequest.toFixed(1)} ms CPU/request`,
          p.queueing ? formatRatio(p.throughputPerSec === null || p.cpuCeilingPerSec === null ? null : p.throughputPerSec / p.cpuCeilingPerSec) : '-',
        ],
        [
          '',
          '  worker RSS before / max / mean',
          `${formatBytes(p.worker.rssBeforeBytes)} / ${formatBytes(p.worker.rssMaxBytes)} / ${formatBytes(p.worker.rssMeanBytes)}`,
          `max in flight: ${p.worker.maxInFlightActivities} activities, ${p.worker.maxInFlightActivations} activations, ${p.worker.maxCachedWorkflows} cached`,
          '',
        ],
        [
          '',
          '  cores used: moto / temporal / worker / bench / others',
          `${p.cpu.coresByGroup.moto.toFixed(2)} / ${p.cpu.coresByGroup.temporal.toFixed(2)} / ${p.cpu.coresByGroup.worker.toFixed(2)} / ${p.cpu.coresByGroup.bench.toFixed(2)} / ${p.cpu.coresForeign.toFixed(2)}`,
          `moto ${formatCount(p.moto.requests)} requests (${formatCount(p.moto.serverErrors)} 5xx), ${p.moto.perSecond === null ? '-' : p.moto.perSecond.toFixed(0)}/s`,
          '',
        ],
      );
    }
    const s = r.scale.seedTotal;
    rows.push(['', `seeding ${s.services} services (${s.calls} AWS calls, sequential)`, formatMs(s.ms), `${formatMs(s.perServiceMs)} per service`, '']);
  }
  out.push(table(['part', 'figure', 'measured (median / p90)', 'against', 'ratio'], rows));

  if (r.detection)
    out.push(
      '',
      `detection config: ${describeDetectionConfig(r.detection.config)}; bad profile ${formatPercent(r.detection.config.badErrorRate)} 5xx vs bound ${r.detection.config.maxErrorRate}`,
    );
  if (r.longbake) {
    const x = r.longbake;
    out.push(
      '',
      `long bake under continue-as-new (time-skipping server, ${x.days} days at reportEvery 1m, historyEventLimit ${formatCount(x.historyEventLimit)}): ${x.outcome}`,
      `  ${x.runs} runs (${x.runsPerWeek.toFixed(1)} per week); events per run ${x.eventsPerRun.map(formatCount).join(', ')}`,
      `  largest run ${formatCount(x.maxEventsPerRun)} events = ${formatPercent(x.fractionOfWarnEvents)} of the 10,240 warning, ${formatPercent(x.fractionOfMaxEvents)} of the 51,200 limit`,
      `  ${formatCount(x.batches)} batches, ${x.eventsPerBatch.toFixed(2)} events per batch over the whole release (${formatCount(x.totalEvents)} events); ${formatMs(x.wallMs)} of wall time`,
    );
  }
  if (r.history) {
    out.push('', 'history arithmetic (events per batch measured above; base = the 6-step release):');
    for (const p of r.history.projections) out.push(`  ${p.arithmetic}`);
    for (const d of r.history.daysUntil) {
      out.push(
        `  reportEvery ${d.reportEveryMs / 60_000}m at 1m analysis: the 10,240-event warning after ${d.warnDays.toFixed(1)} d, the 51,200-event limit after ${d.maxDays.toFixed(1)} d, 50 MiB after ${d.maxBytesDays.toFixed(0)} d`,
      );
    }
    out.push(`  one batch in steady state: ${r.history.background.batchEventTypes.join(', ')}`);
  }
  if (r.scale) {
    out.push(
      '',
      `scale worker options: ${JSON.stringify(r.scale.workerOptions)}; AWS SDK sockets per host ${r.scale.sdkMaxSockets} (socket-capacity warnings: ${r.scale.sdkSocketWarnings})`,
    );
    out.push(`seeding: ${r.scale.seedTotal.layout}`);
    const lim = r.scale.elbLimits;
    if (lim) {
      const over = Object.entries(lim.limited).sort((a, b) => b[1] - a[1]);
      const total = over.reduce((a, [, n]) => a + n, 0);
      out.push(
        `AWS limits: ${lim.bucket}; ${total} of ${lim.requests} worker requests answered Throttling${over.length ? ` (${over.map(([a, n]) => `${a} ${n}`).join(', ')})` : ''}; ${lim.pace ? `the worker paced its Describe calls at ${lim.pace}/s` : 'the worker did not pace itself'}`,
      );
      // Older result files have no per-action counts.
      const asked = Object.entries(lim.byAction ?? {}).sort((a, b) => b[1] - a[1]);
      if (asked.length) out.push(`  requests per action, every phase: ${asked.map(([a, n]) => `${a} ${n}`).join(', ')}`);
    }
    for (const p of r.scale.phases) {
      out.push(
        `  ${p.releases}: outcomes ${Object.entries(p.outcomes)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}; load average at start ${p.loadAvgAtStart.map((l) => l.toFixed(2)).join(' ')}`,
      );
      for (const h of p.hints) out.push(`     - ${h}`);
    }
  }
  for (const e of r.errors) out.push('', `PART FAILED: ${e.part}: ${e.message}`);
  return out.join('\n');
}

export function writeJson(file: string, results: BenchResults): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
}
