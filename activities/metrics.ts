/**
 * Analysis measurements: each metric's window fetched from its source (activities/sources/: CloudWatch, Prometheus, web) for the
 * canary and its reference variant, judged by the pure helpers of analysis/ (analysis/analysis.ts,
 * analysis/sequential-judge.ts). One activity call takes a whole series of measurements and heartbeats between them,
 * so a long bake adds a few history events, not a few per measurement.
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { activityInfo, CancelledFailure, Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { requestsMetric } from '../common/sources/index';
import {
  addMeasurement,
  analysisWindow,
  firstWindowAfter,
  failureReason,
  finalVerdict,
  judgeAlarms,
  judgeMetric,
  judgeStatistically,
  measurementVerdict,
  metricSamples,
  metricValue,
  minRequestsOf,
  prepareSeries,
  referenceVariant,
  templatePeriodSeconds,
  thinTraffic,
  type TimedSeries,
  zeroCounters,
  type AnalysisCounters,
  type AnalysisRequest,
  type AnalysisRun,
  type Measurement,
  type Variant,
  type VariantTarget,
} from '../analysis/analysis';
import { judgeSequentially } from '../analysis/sequential-judge';
import type { JudgeEvidence } from '../analysis/sequential';
import { isCredentialError } from './errors';
import type { Scoped } from './contract';
import { roleAccount } from './api-pacer';
import type { ClientResolver } from './aws-clients';
import { CloudWatchBudgets } from './sources/cloudwatch';
import { createSources, fetchMetrics } from './sources/index';
import type { SourceSettings } from './sources/settings';
import type { FetchedMetric, MetricFetch } from './sources/source';
import type { AnalysisMetric } from '../common/spec';

interface Progress {
  taken: number;
  counters: AnalysisCounters;
  last?: Measurement;
}

/** The window's series of each variant, by metric index and the metric's series ids. */
type Series = Record<Variant, Record<number, Record<string, TimedSeries>>>;

function valuesOnly(byId: Record<string, TimedSeries> | undefined): Record<string, number[]> {
  return Object.fromEntries(Object.entries(byId ?? {}).map(([id, s]) => [id, s.v]));
}

/** Options of {@link createMetricsActivities}. */
export interface MetricsOptions {
  now?: () => number;
  /** CloudWatch's call budgets of this process (one per account and region); the documented quotas' share by default. */
  cloudwatchBudgets?: CloudWatchBudgets;
  /** The Prometheus servers and web endpoints the worker holds (worker env, sourceSettingsFromEnv); none by default. */
  sources?: SourceSettings;
}

/**
 * The analysis activity over the metric sources: CloudWatch through one client, or a resolver that picks the client
 * of the request's scope (`aws`: the release's region and role).
 */
export function createMetricsActivities(clients: CloudWatchClient | ClientResolver, options: (() => number) | MetricsOptions = {}) {
  const opts: MetricsOptions = typeof options === 'function' ? { now: options } : options;
  const now = opts.now ?? Date.now;
  const budgets = opts.cloudwatchBudgets ?? new CloudWatchBudgets();
  /** The sources of the request's scope, CloudWatch's calls paced per account and region. */
  const sourcesOf = async (req: Scoped) => {
    const cloudwatch = typeof clients === 'function' ? (await clients(req.aws)).cloudwatch : clients;
    const region = req.aws?.region ?? (await cloudwatch.config.region());
    return createSources({ cloudwatch, cloudwatchPace: budgets.for(roleAccount(req.aws?.roleArn) ?? 'worker', region), settings: opts.sources });
  };

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

  /**
   * The window's data: every metric for the canary and the variant it is compared with, and, when a metric has a
   * `minRequests`, each of those variants' request count over the window (null: no datapoint).
   */
  async function fetchWindow(
    sources: ReturnType<typeof createSources>,
    req: AnalysisRequest,
    w: { startMs: number; endMs: number },
  ): Promise<{ fetched: FetchedMetric[]; requests?: Partial<Record<Variant, number | null>> }> {
    const t = req.template;
    const targets = (metric: AnalysisMetric): Partial<Record<Variant, VariantTarget>> => {
      const ref = referenceVariant(metric, t, !!req.variants.baseline);
      return ref && req.variants[ref] ? { canary: req.variants.canary, [ref]: req.variants[ref] } : { canary: req.variants.canary };
    };
    const items: MetricFetch<AnalysisMetric>[] = t.metrics.map((metric) => ({ metric, variants: targets(metric) }));
    const counted = t.metrics.some((m) => minRequestsOf(m, t) > 0) ? requestsMetric(t.requests, templatePeriodSeconds(t)) : undefined;
    if (counted) items.push({ metric: counted, variants: req.variants });
    const fetched = await fetchMetrics(sources, items, w);
    if (!counted) return { fetched };
    const got = fetched[t.metrics.length] ?? {};
    const requests: Partial<Record<Variant, number | null>> = {};
    for (const v of ['canary', 'baseline', 'stable'] as const) {
      if (req.variants[v]) requests[v] = metricValue(counted, valuesOnly(prepareSeries(counted, got[v] ?? {}, w)));
    }
    return { fetched, requests };
  }

  async function measure(req: AnalysisRequest & Scoped, evidence: JudgeEvidence | undefined): Promise<Measurement> {
    const nowMs = now();
    const at = new Date(nowMs).toISOString();
    const w = analysisWindow(nowMs, req.template);
    const window = { start: new Date(w.startMs).toISOString(), end: new Date(w.endMs).toISOString(), periodSeconds: w.periodMs / 1000 };
    try {
      const sources = await sourcesOf(req);
      const { fetched, requests } = await retrying(() => fetchWindow(sources, req, w));
      const gate = req.template.alarms;
      const alarms = gate ? judgeAlarms(await retrying(() => sources.cloudwatch.alarms(gate)), req.template.noData) : undefined;
      // Missing buckets of a count are zero (fill), over the judged window only.
      const series: Series = { canary: {}, baseline: {}, stable: {} };
      for (const variant of ['canary', 'baseline', 'stable'] as const) {
        req.template.metrics.forEach((metric, mi) => {
          const got = fetched[mi]?.[variant];
          if (got || variant === 'canary' || req.variants[variant]) series[variant][mi] = prepareSeries(metric, got ?? {}, w);
        });
      }
      const against = req.variants.baseline ? 'baseline' : 'stable';
      const thin = req.template.metrics.map((metric) =>
        requests ? thinTraffic(metric, req.template, requests, referenceVariant(metric, req.template, !!req.variants.baseline)) : undefined,
      );
      const thresholds = req.template.metrics.map((metric, mi) =>
        judgeMetric(
          metric,
          {
            canary: metricValue(metric, valuesOnly(series.canary[mi])),
            baseline: req.variants.baseline ? metricValue(metric, valuesOnly(series.baseline[mi])) : null,
            stable: metricValue(metric, valuesOnly(series.stable[mi])),
          },
          req.template.noData,
          thin[mi],
        ),
      );
      const judge = req.template.judge;
      if (judge?.kind === 'sequential') {
        const seq = judgeSequentially(req.template, judge, thresholds, { canary: series.canary, reference: series[against] }, against, evidence, thin);
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
      // Cancellation (a stop request, the step's end) is not a failed measurement; nor are missing or expired
      // credentials: the analysis fails at once with the cause (activities/errors.ts) and the release rolls back.
      if (err instanceof CancelledFailure || isCredentialError(err)) throw err;
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
