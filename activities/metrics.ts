/**
 * Analysis measurements: GetMetricData for the canary and its reference variant, judged by the pure helpers
 * in workflows/analysis.ts. One activity call takes a whole series of measurements and heartbeats between them,
 * so a long bake adds a few history events, not a few per measurement.
 */
import { GetMetricDataCommand, type CloudWatchClient, type MetricDataQuery as CwQuery } from '@aws-sdk/client-cloudwatch';
import { activityInfo, CancelledFailure, Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { AnalysisTemplate } from '../common/spec';
import {
  addMeasurement,
  failureReason,
  fillPlaceholders,
  finalVerdict,
  judgeMetric,
  judgeStatistically,
  measurementVerdict,
  metricSamples,
  metricValue,
  referenceVariant,
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

function valuesOnly(byId: Record<string, TimedSeries> | undefined): Record<string, number[]> {
  return Object.fromEntries(Object.entries(byId ?? {}).map(([id, s]) => [id, s.v]));
}

/**
 * The analysis activity over CloudWatch: one client, or a resolver that picks the client of the request's scope
 * (`aws`: the release's region and role).
 */
export function createMetricsActivities(clients: CloudWatchClient | ClientResolver, now: () => number = Date.now) {
  const clientOf = async (req: Scoped): Promise<CloudWatchClient> => (typeof clients === 'function' ? (await clients(req.aws)).cloudwatch : clients);
  async function fetchSeries(cloudwatch: CloudWatchClient, template: AnalysisTemplate, variants: Partial<Record<Variant, VariantDimensions>>): Promise<Series> {
    const queries: CwQuery[] = [];
    const index = new Map<string, { variant: Variant; metric: number; id: string }>();
    let maxPeriod = 1;
    template.metrics.forEach((metric, mi) => {
      const ref = referenceVariant(metric, template, !!variants.baseline);
      const wanted: Variant[] = ['canary', ...(ref ? [ref] : [])];
      for (const variant of wanted) {
        const dims = variants[variant];
        if (!dims) continue;
        for (const q of metric.query) {
          if (!q.MetricStat) continue;
          const filled = fillPlaceholders(q, dims);
          const id = `${variant[0]}${mi}_${q.Id}`;
          index.set(id, { variant, metric: mi, id: q.Id });
          maxPeriod = Math.max(maxPeriod, q.MetricStat.Period);
          queries.push({ Id: id, ReturnData: true, MetricStat: filled.MetricStat as CwQuery['MetricStat'] });
        }
      }
    });
    const end = now();
    // CloudWatch buckets start at StartTime; align it so buckets line up with the period.
    const startMs = Math.floor((end - template.window) / (maxPeriod * 1000)) * maxPeriod * 1000;
    const series: Series = { canary: {}, baseline: {}, stable: {} };
    let nextToken: string | undefined;
    // GetMetricData takes at most 500 queries a call.
    for (let i = 0; i < queries.length; i += 500) {
      const batch = queries.slice(i, i + 500);
      do {
        const out = await aws('GetMetricData', () =>
          cloudwatch.send(
            new GetMetricDataCommand({ MetricDataQueries: batch, StartTime: new Date(startMs), EndTime: new Date(end + 1000), NextToken: nextToken }),
          ),
        );
        for (const r of out.MetricDataResults ?? []) {
          const where = r.Id ? index.get(r.Id) : undefined;
          if (!where) continue;
          const byMetric = (series[where.variant][where.metric] ??= {});
          const s = (byMetric[where.id] ??= { t: [], v: [] });
          (r.Timestamps ?? []).forEach((t, i) => {
            const v = r.Values?.[i];
            if (v !== undefined) {
              s.t.push(new Date(t).getTime());
              s.v.push(v);
            }
          });
        }
        nextToken = out.NextToken;
      } while (nextToken);
    }
    return series;
  }

  /**
   * The window's series, with transient AWS errors (throttling, 5xx, dropped connections) retried a few times inside
   * the measurement: one unlucky GetMetricData must not turn a whole analysis step into "no measurement could be taken".
   */
  async function fetchSeriesRetrying(req: AnalysisRequest & Scoped): Promise<Series> {
    const delaysMs = [500, 1_000, 2_000];
    for (let attempt = 0; ; attempt++) {
      try {
        return await fetchSeries(await clientOf(req), req.template, req.variants);
      } catch (err) {
        const retryable = !(err instanceof ApplicationFailure && err.nonRetryable);
        const delay = delaysMs[attempt];
        if (!retryable || delay === undefined) throw err;
        await Context.current().sleep(delay);
      }
    }
  }

  async function measure(req: AnalysisRequest & Scoped, evidence: JudgeEvidence | undefined): Promise<Measurement> {
    const at = new Date(now()).toISOString();
    try {
      const series = await fetchSeriesRetrying(req);
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
        return { at, verdict: measurementVerdict(seq.metrics, seq.score), metrics: seq.metrics, score: seq.score, evidence: seq.evidence };
      }
      const samples = req.template.metrics.map((metric, mi) => ({
        canary: metricSamples(metric, series.canary[mi] ?? {}),
        reference: metricSamples(metric, series[against][mi] ?? {}),
      }));
      const { metrics, score } = judgeStatistically(req.template, thresholds, samples, against);
      return { at, verdict: measurementVerdict(metrics, score), metrics, score };
    } catch (err) {
      // Cancellation (a stop request, the step's end) is not a failed measurement.
      if (err instanceof CancelledFailure) throw err;
      return { at, verdict: 'error', metrics: [], error: (err as Error).message };
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
      while (progress.taken < req.count) {
        if (progress.taken > 0 || req.delayFirst) await sleepHeartbeating(req.intervalMs, progress);
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
