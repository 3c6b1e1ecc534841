/**
 * Analysis measurements: GetMetricData for the canary and its reference variant, judged by the pure helpers of
 * analysis/ (analysis/analysis.ts, analysis/sequential-judge.ts). One activity call takes a whole series of
 * measurements and heartbeats between them, so a long bake adds a few history events, not a few per measurement.
 */
import {
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  type CloudWatchClient,
  type DescribeAlarmsCommandOutput,
  type MetricDataQuery as CwQuery,
} from '@aws-sdk/client-cloudwatch';
import { activityInfo, CancelledFailure, Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { metricEvaluator, type AlarmGate, type AnalysisTemplate } from '../common/spec';
import {
  addMeasurement,
  analysisWindow,
  firstWindowAfter,
  failureReason,
  fillPlaceholders,
  finalVerdict,
  judgeAlarms,
  judgeMetric,
  judgeStatistically,
  measurementVerdict,
  metricSamples,
  metricValue,
  prepareSeries,
  referenceVariant,
  resultQuery,
  type TimedSeries,
  zeroCounters,
  type AnalysisCounters,
  type AnalysisRequest,
  type AnalysisRun,
  type Measurement,
  type Variant,
  type VariantDimensions,
} from '../analysis/analysis';
import { judgeSequentially } from '../analysis/sequential-judge';
import type { JudgeEvidence } from '../analysis/sequential';
import { aws } from './errors';
import type { Scoped } from './contract';
import type { ClientResolver } from './aws-clients';

interface Progress {
  taken: number;
  counters: AnalysisCounters;
  last?: Measurement;
}

/** The fetched series of each variant, by metric index and the template's query Id. */
type Series = Record<Variant, Record<number, Record<string, TimedSeries>>>;

/** What one GetMetricData result feeds: a variant's metric, under the template's query Id. */
type Destination = { variant: Variant; metric: number; id: string };

function valuesOnly(byId: Record<string, TimedSeries> | undefined): Record<string, number[]> {
  return Object.fromEntries(Object.entries(byId ?? {}).map(([id, s]) => [id, s.v]));
}

/**
 * The analysis activity over CloudWatch: one client, or a resolver that picks the client of the request's scope
 * (`aws`: the release's region and role).
 */
export function createMetricsActivities(clients: CloudWatchClient | ClientResolver, now: () => number = Date.now) {
  const clientOf = async (req: Scoped): Promise<CloudWatchClient> => (typeof clients === 'function' ? (await clients(req.aws)).cloudwatch : clients);
  /** One GetMetricData request (paged), its results stored by `index` into `series`. */
  async function getMetricData(
    cloudwatch: CloudWatchClient,
    queries: CwQuery[],
    index: Map<string, Destination>,
    window: { startMs: number; endMs: number },
    series: Series,
  ): Promise<void> {
    let nextToken: string | undefined;
    do {
      const out = await aws('GetMetricData', () =>
        cloudwatch.send(
          new GetMetricDataCommand({
            MetricDataQueries: queries,
            StartTime: new Date(window.startMs),
            EndTime: new Date(window.endMs),
            ScanBy: 'TimestampAscending',
            NextToken: nextToken,
          }),
        ),
      );
      for (const r of out.MetricDataResults ?? []) {
        const where = r.Id ? index.get(r.Id) : undefined;
        if (!where) continue;
        const byMetric = (series[where.variant][where.metric] ??= {});
        const s = (byMetric[where.id] ??= { t: [], v: [] });
        (r.Timestamps ?? []).forEach((t, i) => {
          const v = r.Values?.[i];
          const ms = new Date(t).getTime();
          // A datapoint outside the asked window (a misaligned bucket) would be judged twice or too early.
          if (v !== undefined && ms >= window.startMs && ms < window.endMs) {
            s.t.push(ms);
            s.v.push(v);
          }
        });
      }
      nextToken = out.NextToken;
    } while (nextToken);
  }

  /**
   * The window's series of every variant a metric compares. Plain-arithmetic metrics: their MetricStat queries,
   * batched (ids renamed per variant and metric), combined by canary afterwards. Metrics with a metric math function:
   * one request per variant with the metric's own queries and ids, so CloudWatch evaluates the expression (and
   * METRICS() sees only this metric's queries); only the result series comes back.
   */
  async function fetchSeries(
    cloudwatch: CloudWatchClient,
    template: AnalysisTemplate,
    variants: Partial<Record<Variant, VariantDimensions>>,
    window: { startMs: number; endMs: number },
  ): Promise<Series> {
    const series: Series = { canary: {}, baseline: {}, stable: {} };
    const batched: CwQuery[] = [];
    const batchIndex = new Map<string, Destination>();
    const separate: { queries: CwQuery[]; index: Map<string, Destination> }[] = [];
    template.metrics.forEach((metric, mi) => {
      const ref = referenceVariant(metric, template, !!variants.baseline);
      const wanted: Variant[] = ['canary', ...(ref ? [ref] : [])];
      const byCloudWatch = metricEvaluator(metric) === 'cloudwatch';
      const result = resultQuery(metric);
      for (const variant of wanted) {
        const dims = variants[variant];
        if (!dims) continue;
        if (byCloudWatch) {
          const queries = metric.query.map((q) => {
            const filled = fillPlaceholders(q, dims);
            const out: CwQuery = { Id: q.Id, ReturnData: q.Id === result.Id };
            if (filled.Label) out.Label = filled.Label;
            if (filled.MetricStat) out.MetricStat = filled.MetricStat as CwQuery['MetricStat'];
            if (filled.Expression) out.Expression = filled.Expression;
            return out;
          });
          separate.push({ queries, index: new Map([[result.Id, { variant, metric: mi, id: result.Id }]]) });
          continue;
        }
        for (const q of metric.query) {
          if (!q.MetricStat) continue;
          const filled = fillPlaceholders(q, dims);
          const id = `${variant[0]}${mi}_${q.Id}`;
          batchIndex.set(id, { variant, metric: mi, id: q.Id });
          batched.push({ Id: id, ReturnData: true, MetricStat: filled.MetricStat as CwQuery['MetricStat'] });
        }
      }
    });
    // GetMetricData takes at most 500 queries a call.
    for (let i = 0; i < batched.length; i += 500) await getMetricData(cloudwatch, batched.slice(i, i + 500), batchIndex, window, series);
    for (const one of separate) await getMetricData(cloudwatch, one.queries, one.index, window, series);
    return series;
  }

  /** The states of the gate's alarms: listed names (each must exist) and every alarm under the prefix (at least one). */
  async function describeAlarms(cloudwatch: CloudWatchClient, gate: AlarmGate): Promise<{ name: string; state: string; reason?: string }[]> {
    const found = new Map<string, { name: string; state: string; reason?: string }>();
    const collect = (out: DescribeAlarmsCommandOutput): void => {
      for (const a of [...(out.MetricAlarms ?? []), ...(out.CompositeAlarms ?? [])]) {
        if (a.AlarmName) found.set(a.AlarmName, { name: a.AlarmName, state: a.StateValue ?? 'INSUFFICIENT_DATA', reason: a.StateReason });
      }
    };
    const pages = async (input: { AlarmNames?: string[]; AlarmNamePrefix?: string }): Promise<void> => {
      let NextToken: string | undefined;
      do {
        const out = await aws('DescribeAlarms', () =>
          cloudwatch.send(new DescribeAlarmsCommand({ ...input, AlarmTypes: ['MetricAlarm', 'CompositeAlarm'], NextToken })),
        );
        collect(out);
        NextToken = out.NextToken;
      } while (NextToken);
    };
    if (gate.names.length) await pages({ AlarmNames: gate.names });
    const missing = gate.names.filter((n) => !found.has(n));
    if (missing.length) throw new Error(`alarm(s) ${missing.join(', ')} do not exist (DescribeAlarms)`);
    if (gate.prefix !== undefined) {
      const before = found.size;
      await pages({ AlarmNamePrefix: gate.prefix });
      if (found.size === before && ![...found.keys()].some((n) => n.startsWith(gate.prefix as string))) {
        throw new Error(`no alarm's name starts with "${gate.prefix}" (DescribeAlarms)`);
      }
    }
    return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * The window's series, with transient AWS errors (throttling, 5xx, dropped connections) retried a few times inside
   * the measurement: one unlucky GetMetricData must not turn a whole analysis step into "no measurement could be taken".
   */
  async function retrying<T>(fn: () => Promise<T>): Promise<T> {
    const delaysMs = [500, 1_000, 2_000];
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const retryable = !(err instanceof ApplicationFailure && err.nonRetryable);
        const delay = delaysMs[attempt];
        if (!retryable || delay === undefined) throw err;
        await Context.current().sleep(delay);
      }
    }
  }

  async function measure(req: AnalysisRequest & Scoped, evidence: JudgeEvidence | undefined): Promise<Measurement> {
    const nowMs = now();
    const at = new Date(nowMs).toISOString();
    const w = analysisWindow(nowMs, req.template);
    const window = { start: new Date(w.startMs).toISOString(), end: new Date(w.endMs).toISOString(), periodSeconds: w.periodMs / 1000 };
    try {
      const cloudwatch = await clientOf(req);
      const raw = await retrying(() => fetchSeries(cloudwatch, req.template, req.variants, w));
      const alarms = req.template.alarms
        ? judgeAlarms(await retrying(() => describeAlarms(cloudwatch, req.template.alarms as AlarmGate)), req.template.noData)
        : undefined;
      // Missing buckets of a count are zero (fill), over the judged window only.
      const series: Series = { canary: {}, baseline: {}, stable: {} };
      for (const variant of ['canary', 'baseline', 'stable'] as const) {
        req.template.metrics.forEach((metric, mi) => {
          const got = raw[variant][mi];
          if (got || variant === 'canary' || req.variants[variant]) series[variant][mi] = prepareSeries(metric, got ?? {}, w);
        });
      }
      const thresholds = req.template.metrics.map((metric, mi) =>
        judgeMetric(
          metric,
          {
            canary: metricValue(metric, valuesOnly(series.canary[mi])),
            baseline: req.variants.baseline ? metricValue(metric, valuesOnly(series.baseline[mi])) : null,
            stable: metricValue(metric, valuesOnly(series.stable[mi])),
          },
          req.template.noData,
        ),
      );
      const against = req.variants.baseline ? 'baseline' : 'stable';
      const judge = req.template.judge;
      if (judge?.kind === 'sequential') {
        const seq = judgeSequentially(req.template, judge, thresholds, { canary: series.canary, reference: series[against] }, against, evidence);
        const m: Measurement = {
          at,
          verdict: measurementVerdict(seq.metrics, seq.score, alarms),
          window,
          metrics: seq.metrics,
          score: seq.score,
          evidence: seq.evidence,
        };
        if (alarms) m.alarms = alarms;
        return m;
      }
      const samples = req.template.metrics.map((metric, mi) => ({
        canary: metricSamples(metric, series.canary[mi] ?? {}),
        reference: metricSamples(metric, series[against][mi] ?? {}),
      }));
      const { metrics, score } = judgeStatistically(req.template, thresholds, samples, against);
      const m: Measurement = { at, verdict: measurementVerdict(metrics, score, alarms), window, metrics, score };
      if (alarms) m.alarms = alarms;
      return m;
    } catch (err) {
      // Cancellation (a stop request, the step's end) is not a failed measurement.
      if (err instanceof CancelledFailure) throw err;
      return { at, verdict: 'error', window, metrics: [], error: (err as Error).message };
    }
  }

  return {
    async runAnalysis(req: AnalysisRequest & Scoped): Promise<AnalysisRun> {
      const ctx = Context.current();
      // Intervals may be longer than the heartbeat timeout: keep heartbeating while waiting (and stay cancellable).
      const sleepHeartbeating = async (ms: number, p: Progress): Promise<void> => {
        const until = now() + ms;
        for (let left = ms; left > 0; left = until - now()) {
          await ctx.sleep(Math.min(left, 5_000));
          ctx.heartbeat(p);
        }
      };
      // A retried attempt goes on from where the last heartbeat left off.
      const resumed = activityInfo().heartbeatDetails as Progress | undefined;
      let progress: Progress = resumed ?? { taken: 0, counters: req.previous ?? zeroCounters };
      // The first window must lie wholly after the canary's current traffic began (ALB delivers buckets late).
      if (progress.taken === 0 && req.notBefore) {
        const firstAt = firstWindowAfter(Date.parse(req.notBefore), req.template);
        if (firstAt > now()) await sleepHeartbeating(firstAt - now(), progress);
      }
      while (progress.taken < req.count) {
        if (progress.taken > 0 || (req.delayFirst && !req.notBefore)) await sleepHeartbeating(req.intervalMs, progress);
        const m = await measure(req, progress.counters.evidence);
        progress = { taken: progress.taken + 1, counters: addMeasurement(progress.counters, m), last: m };
        ctx.heartbeat(progress);
        const failed = failureReason(req.template, progress.counters, m);
        if (failed) return { templateName: req.templateName, verdict: 'fail', reason: failed, counters: progress.counters, last: m };
      }
      const { verdict, reason } = finalVerdict(req.template, progress.counters, progress.last);
      return { templateName: req.templateName, verdict, reason, counters: progress.counters, last: progress.last };
    },
  };
}
