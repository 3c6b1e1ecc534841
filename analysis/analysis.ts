/**
 * Judging a canary against thresholds: pure functions over fetched metric series, used by the runAnalysis
 * activity (which fetches) and by the workflow (which reads the verdicts). No I/O.
 */
import { metricEvaluator, type AnalysisMetric, type AnalysisTemplate, type MetricDataQuery } from '../common/spec';
import { evaluate, parseExpression } from '../common/expression';
import { statisticKind } from '../common/statistic';
import { JudgeMetricOptions } from '../common/judge-config';
import { judgeMetric as judgeSamples, scoreCanary, type CanaryScore, type MetricJudgement } from './judge';

/** CloudWatch dimension values of one variant. */
export interface VariantDimensions {
  /** `targetgroup/NAME/ID` */
  targetGroup: string;
  /** `app/NAME/ID` */
  loadBalancer: string;
}

export type Variant = 'canary' | 'baseline' | 'stable';

export interface AnalysisRequest {
  templateName: string;
  template: AnalysisTemplate;
  variants: { canary: VariantDimensions; stable: VariantDimensions; baseline?: VariantDimensions };
  /** Measurements to take in this call, `intervalMs` apart (the first one at once). */
  count: number;
  intervalMs: number;
  /** Counters carried over from earlier calls (background analysis reports in batches). */
  previous?: AnalysisCounters;
  /** Wait one interval before the first measurement too (background analysis: give the canary traffic first). */
  delayFirst?: boolean;
}

export type MetricVerdict = 'pass' | 'fail' | 'nodata';

export interface MetricResult {
  metric: string;
  canary: number | null;
  /** The baseline or stable value a relative bound compared against. */
  reference: number | null;
  referenceVariant?: 'baseline' | 'stable';
  verdict: MetricVerdict;
  critical: boolean;
  /** The bound in words, e.g. `<= 0.01` or `<= 1.2 x stable (0.004)`. */
  threshold: string;
  /** The statistical judge's view of this metric, when the template has a judge. */
  stat?: MetricJudgement & { against: 'baseline' | 'stable' };
}

export type MeasurementVerdict = 'pass' | 'fail' | 'inconclusive' | 'error';

/** The buckets a measurement judged: [start, end), whole periods, the newest complete one at least `delay` old. */
export interface JudgedWindow {
  start: string;
  end: string;
  periodSeconds: number;
}

/** A CloudWatch alarm of the template's `alarms`, as DescribeAlarms answered. */
export interface AlarmResult {
  name: string;
  state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
  /** ALARM fails; INSUFFICIENT_DATA follows the template's noData. */
  verdict: MetricVerdict;
  /** CloudWatch's StateReason, shortened. */
  reason?: string;
}

export interface Measurement {
  at: string;
  verdict: MeasurementVerdict;
  /** The window whose buckets were judged (absent on measurements taken before windows were aligned). */
  window?: JudgedWindow;
  metrics: MetricResult[];
  /** The template's CloudWatch alarms and their states. */
  alarms?: AlarmResult[];
  /** The statistical judge's score, when the template has a judge. */
  score?: Pick<CanaryScore, 'score' | 'verdict' | 'reason' | 'criticalFailures'>;
  /** Why a measurement could not be taken (verdict error). */
  error?: string;
}

export interface AnalysisCounters {
  measurements: number;
  failed: number;
  inconclusive: number;
  errors: number;
  consecutiveErrors: number;
}

export type AnalysisVerdict = 'pass' | 'fail' | 'inconclusive';

export interface AnalysisRun {
  templateName: string;
  verdict: AnalysisVerdict;
  reason: string;
  counters: AnalysisCounters;
  last?: Measurement;
}

export const zeroCounters: AnalysisCounters = { measurements: 0, failed: 0, inconclusive: 0, errors: 0, consecutiveErrors: 0 };

/**
 * Which end of a per-bucket series is the worst for a metric: the highest value when it has an upper bound
 * (max, maxRatio) or no bounds, else the lowest. Used where buckets cannot be combined exactly.
 */
export function worstEnd(metric: AnalysisMetric): 'highest' | 'lowest' {
  const p = metric.pass;
  if (!p || p.max !== undefined || p.maxRatio !== undefined) return 'highest';
  return 'lowest';
}

/**
 * Reduces one series over the window the way its statistic combines: Sum and SampleCount add up, Average is the
 * mean of the buckets, Minimum/Maximum the extreme. An extended statistic (p99, tm90, ...) cannot be combined
 * exactly; the window's value lies between its buckets' values, so the worst bucket is taken (`worst`).
 */
export function reduceSeries(stat: string, values: number[], worst: 'highest' | 'lowest' = 'highest'): number | null {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return null;
  switch (statisticKind(stat)) {
    case 'additive':
      return finite.reduce((a, b) => a + b, 0);
    case 'average':
      return finite.reduce((a, b) => a + b, 0) / finite.length;
    case 'minimum':
      return Math.min(...finite);
    case 'maximum':
      return Math.max(...finite);
    case 'extended':
      return worst === 'highest' ? Math.max(...finite) : Math.min(...finite);
  }
}

/** The longest MetricStat Period of a template, in seconds (windows are aligned to it); 60 with none (alarms only). */
export function templatePeriodSeconds(template: AnalysisTemplate): number {
  const periods = template.metrics.flatMap((m) => m.query.flatMap((q) => (q.MetricStat ? [q.MetricStat.Period] : [])));
  return periods.length ? Math.max(...periods) : 60;
}

/**
 * The window a measurement at `nowMs` judges: it ends at the end of the last complete bucket that closed at least
 * `delay` ago (bucket boundaries are multiples of the period, as CloudWatch's are), and spans `window` rounded up
 * to whole periods. The bucket in progress, and the ones CloudWatch may not have yet, are never judged.
 * A template parsed before `delay` existed (an old running release) has none: 0.
 */
export function analysisWindow(nowMs: number, template: AnalysisTemplate): { startMs: number; endMs: number; periodMs: number } {
  const periodMs = templatePeriodSeconds(template) * 1000;
  const endMs = Math.floor((nowMs - (template.delay ?? 0)) / periodMs) * periodMs;
  const buckets = Math.max(1, Math.ceil(template.window / periodMs));
  return { startMs: endMs - buckets * periodMs, endMs, periodMs };
}

/**
 * Fills the buckets of [startMs, endMs) a series has no datapoint for, with CloudWatch's FILL semantics: a number
 * fills every missing bucket (all of them when the series is empty: a count with no datapoint is zero); `repeat`
 * carries the most recent earlier value forward (a leading gap has none and stays empty); `linear` interpolates
 * between the values either side of a gap (gaps at the ends stay empty). Datapoints off the bucket grid are kept.
 */
export function fillSeries(series: TimedSeries, fill: number | 'repeat' | 'linear', window: { startMs: number; endMs: number }, periodMs: number): TimedSeries {
  const byTime = new Map<number, number>();
  series.t.forEach((t, i) => {
    const v = series.v[i];
    if (v !== undefined && Number.isFinite(v)) byTime.set(t, v);
  });
  const actual = [...byTime.entries()].sort((a, b) => a[0] - b[0]);
  let after = 0; // index of the first actual datapoint later than the bucket being filled
  for (let t = window.startMs; t < window.endMs; t += periodMs) {
    while (after < actual.length && (actual[after] as [number, number])[0] <= t) after++;
    if (byTime.has(t)) continue;
    if (typeof fill === 'number') {
      byTime.set(t, fill);
      continue;
    }
    const prev = actual[after - 1];
    const next = actual[after];
    if (!prev) continue;
    if (fill === 'repeat') byTime.set(t, prev[1]);
    else if (next) byTime.set(t, prev[1] + ((next[1] - prev[1]) * (t - prev[0])) / (next[0] - prev[0]));
  }
  const t = [...byTime.keys()].sort((a, b) => a - b);
  return { t, v: t.map((x) => byTime.get(x) as number) };
}

/**
 * The series of a metric ready to judge: each MetricStat query's `fill` applied over the window (its own period's
 * buckets). Series of ids the metric does not declare (CloudWatch-evaluated results) pass through.
 */
export function prepareSeries(
  metric: AnalysisMetric,
  raw: Record<string, TimedSeries>,
  window: { startMs: number; endMs: number },
): Record<string, TimedSeries> {
  const out: Record<string, TimedSeries> = { ...raw };
  for (const q of metric.query) {
    if (!q.MetricStat || q.fill === undefined) continue;
    out[q.Id] = fillSeries(raw[q.Id] ?? { t: [], v: [] }, q.fill, window, q.MetricStat.Period * 1000);
  }
  return out;
}

/** The query whose value is the metric: the one with ReturnData true when exactly one says so, else the last. */
export function resultQuery(metric: AnalysisMetric): MetricDataQuery {
  const marked = metric.query.filter((q) => q.ReturnData === true);
  const q = marked.length === 1 ? marked[0] : metric.query[metric.query.length - 1];
  if (!q) throw new Error(`metric ${metric.name} has no query`);
  return q;
}

/**
 * The metric's value for one variant from its fetched series (by query Id): MetricStat series reduced over the
 * window, then Expression queries evaluated on those values. null when there is no data (or 0/0).
 */
export function metricValue(metric: AnalysisMetric, series: Record<string, number[]>): number | null {
  const worst = worstEnd(metric);
  if (metricEvaluator(metric) === 'cloudwatch') {
    // CloudWatch returned the expression's per-bucket values; they do not combine exactly, so the worst bucket counts.
    const v = reduceSeries('extended', series[resultQuery(metric).Id] ?? [], worst);
    return v === null || !Number.isFinite(v) ? null : v;
  }
  const values: Record<string, number | undefined> = {};
  for (const q of metric.query) {
    if (q.MetricStat) values[q.Id] = reduceSeries(q.MetricStat.Stat, series[q.Id] ?? [], worst) ?? undefined;
  }
  // Expressions may reference expressions; evaluate in order, as CloudWatch users write them.
  for (const q of metric.query) {
    if (q.Expression) {
      const v = evaluate(parseExpression(q.Expression), values);
      values[q.Id] = Number.isFinite(v) ? v : undefined;
    }
  }
  const v = values[resultQuery(metric).Id];
  return v === undefined || !Number.isFinite(v) ? null : v;
}

/** A fetched series: datapoint timestamps (ms) and values, in the same order. */
export interface TimedSeries {
  t: number[];
  v: number[];
}

/**
 * The metric's datapoints over the window, one per bucket: MetricStat series as they are, Expression queries
 * evaluated per timestamp where every input has a datapoint (the samples a statistical judge compares).
 */
export function metricSamples(metric: AnalysisMetric, series: Record<string, TimedSeries>): number[] {
  if (metricEvaluator(metric) === 'cloudwatch') return (series[resultQuery(metric).Id]?.v ?? []).filter((v) => Number.isFinite(v));
  const byTime = new Map<number, Record<string, number | undefined>>();
  for (const q of metric.query) {
    const s = q.MetricStat ? series[q.Id] : undefined;
    s?.t.forEach((t, i) => {
      const row = byTime.get(t) ?? {};
      row[q.Id] = s.v[i];
      byTime.set(t, row);
    });
  }
  const result = resultQuery(metric);
  const out: number[] = [];
  for (const t of [...byTime.keys()].sort((a, b) => a - b)) {
    const row = byTime.get(t) as Record<string, number | undefined>;
    for (const q of metric.query) if (q.Expression) row[q.Id] = evaluate(parseExpression(q.Expression), row);
    const v = row[result.Id];
    if (v !== undefined && Number.isFinite(v)) out.push(v);
  }
  return out;
}

/** Which variant a metric is compared with: its relative bound's, else (for the judge) baseline when present. */
export function referenceVariant(metric: AnalysisMetric, template: AnalysisTemplate, hasBaseline: boolean): 'baseline' | 'stable' | undefined {
  if (metric.pass?.relativeTo) return metric.pass.relativeTo;
  if (template.judge) return hasBaseline ? 'baseline' : 'stable';
  return undefined;
}

/**
 * Adds the statistical judge's per-metric verdicts and score to threshold results (same order as the template's
 * metrics). Samples: per metric, the canary's and the reference's datapoints.
 */
export function judgeStatistically(
  template: AnalysisTemplate,
  results: MetricResult[],
  samples: { canary: number[]; reference: number[] }[],
  against: 'baseline' | 'stable',
): { metrics: MetricResult[]; score?: Measurement['score'] } {
  const judge = template.judge;
  if (!judge) return { metrics: results };
  const judged = template.metrics.map((m, i) => {
    const opts = m.judge ?? JudgeMetricOptions.parse({});
    const s = samples[i] ?? { canary: [], reference: [] };
    return { name: m.name, group: opts.group, critical: m.critical || opts.critical, judgement: judgeSamples(s.canary, s.reference, opts, judge.confidence) };
  });
  const score = scoreCanary(judged, judge);
  return {
    metrics: results.map((r, i) => ({ ...r, stat: { ...(judged[i] as (typeof judged)[number]).judgement, against } })),
    score: { score: score.score, verdict: score.verdict, reason: score.reason, criticalFailures: score.criticalFailures },
  };
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(4)));
}

/** Judges one metric. With no data, the template's noData policy decides. */
export function judgeMetric(
  metric: AnalysisMetric,
  values: { canary: number | null; baseline?: number | null; stable?: number | null },
  noData: AnalysisTemplate['noData'],
): MetricResult {
  const p = metric.pass ?? {};
  const refVariant = p.relativeTo;
  const reference = refVariant ? (values[refVariant] ?? null) : null;
  const bounds: string[] = [];
  if (p.min !== undefined) bounds.push(`>= ${fmt(p.min)}`);
  if (p.max !== undefined) bounds.push(`<= ${fmt(p.max)}`);
  if (p.minRatio !== undefined) bounds.push(`>= ${fmt(p.minRatio)} x ${refVariant}${reference === null ? '' : ` (${fmt(reference * p.minRatio)})`}`);
  if (p.maxRatio !== undefined) bounds.push(`<= ${fmt(p.maxRatio)} x ${refVariant}${reference === null ? '' : ` (${fmt(reference * p.maxRatio)})`}`);
  const base = {
    metric: metric.name,
    canary: values.canary,
    reference,
    referenceVariant: refVariant,
    critical: metric.critical,
    threshold: bounds.join(' and '),
  };
  const c = values.canary;
  const needsRef = p.minRatio !== undefined || p.maxRatio !== undefined;
  if (c === null || (needsRef && reference === null)) {
    const verdict: MetricVerdict = noData === 'pass' ? 'pass' : noData === 'fail' ? 'fail' : 'nodata';
    return { ...base, verdict };
  }
  let ok = true;
  if (p.min !== undefined && c < p.min) ok = false;
  if (p.max !== undefined && c > p.max) ok = false;
  if (reference !== null && p.minRatio !== undefined && c < reference * p.minRatio) ok = false;
  if (reference !== null && p.maxRatio !== undefined && c > reference * p.maxRatio) ok = false;
  return { ...base, verdict: ok ? 'pass' : 'fail' };
}

/**
 * A measurement fails if any metric breaks its bounds or the judge's score fails, is inconclusive if a metric
 * has no data or the score is marginal or without data, and passes otherwise.
 */
export function measurementVerdict(metrics: MetricResult[], score?: Measurement['score'], alarms: AlarmResult[] = []): MeasurementVerdict {
  if (metrics.some((m) => m.verdict === 'fail') || score?.verdict === 'fail' || alarms.some((a) => a.verdict === 'fail')) return 'fail';
  if (metrics.some((m) => m.verdict === 'nodata') || alarms.some((a) => a.verdict === 'nodata') || score?.verdict === 'marginal' || score?.verdict === 'nodata')
    return 'inconclusive';
  return 'pass';
}

/** Judges alarm states: ALARM fails, INSUFFICIENT_DATA follows noData (as a metric without data does), OK passes. */
export function judgeAlarms(alarms: { name: string; state: string; reason?: string }[], noData: AnalysisTemplate['noData']): AlarmResult[] {
  return alarms.map((a) => {
    const state: AlarmResult['state'] = a.state === 'ALARM' ? 'ALARM' : a.state === 'OK' ? 'OK' : 'INSUFFICIENT_DATA';
    const verdict: MetricVerdict = state === 'ALARM' ? 'fail' : state === 'OK' ? 'pass' : noData === 'pass' ? 'pass' : noData === 'fail' ? 'fail' : 'nodata';
    const reason = a.reason && a.reason.length > 200 ? `${a.reason.slice(0, 197)}...` : a.reason;
    return reason ? { name: a.name, state, verdict, reason } : { name: a.name, state, verdict };
  });
}

export function addMeasurement(c: AnalysisCounters, m: Measurement): AnalysisCounters {
  return {
    measurements: c.measurements + 1,
    failed: c.failed + (m.verdict === 'fail' ? 1 : 0),
    inconclusive: c.inconclusive + (m.verdict === 'inconclusive' ? 1 : 0),
    errors: c.errors + (m.verdict === 'error' ? 1 : 0),
    consecutiveErrors: m.verdict === 'error' ? c.consecutiveErrors + 1 : 0,
  };
}

/**
 * Whether the analysis is already decided as failed: more failed measurements than failureLimit, more
 * consecutive errors than consecutiveErrorLimit, or a critical metric failing.
 */
export function failureReason(template: AnalysisTemplate, c: AnalysisCounters, last: Measurement | undefined): string | undefined {
  if (last?.score?.criticalFailures.length) return `judge: ${last.score.reason}`;
  const critical = last?.metrics.find((m) => m.critical && m.verdict === 'fail');
  if (critical) return `critical metric ${critical.metric} = ${critical.canary === null ? 'no data' : fmt(critical.canary)}, needs ${critical.threshold}`;
  if (c.failed > template.failureLimit) {
    const failing = last?.metrics.filter((m) => m.verdict === 'fail') ?? [];
    const detail = [
      ...failing.map((m) => `${m.metric} = ${m.canary === null ? 'no data' : fmt(m.canary)}, needs ${m.threshold}`),
      ...(last?.alarms ?? []).filter((a) => a.verdict === 'fail').map((a) => `alarm ${a.name} is ${a.state}`),
      ...(last?.score?.verdict === 'fail' ? [`judge: ${last.score.reason}`] : []),
    ].join('; ');
    return `${c.failed} failed measurement(s), failureLimit ${template.failureLimit}${detail ? `: ${detail}` : ''}`;
  }
  if (c.consecutiveErrors > template.consecutiveErrorLimit) {
    return `${c.consecutiveErrors} consecutive measurements could not be taken (consecutiveErrorLimit ${template.consecutiveErrorLimit}): ${last?.error ?? ''}`;
  }
  return undefined;
}

/** The verdict once all measurements of a step are taken: any inconclusive one leaves it to a human. */
export function finalVerdict(template: AnalysisTemplate, c: AnalysisCounters, last: Measurement | undefined): { verdict: AnalysisVerdict; reason: string } {
  const failed = failureReason(template, c, last);
  if (failed) return { verdict: 'fail', reason: failed };
  if (c.inconclusive > 0) {
    const missing = [
      ...(last?.metrics.filter((m) => m.verdict === 'nodata').map((m) => m.metric) ?? []),
      ...(last?.alarms?.filter((a) => a.verdict === 'nodata').map((a) => `alarm ${a.name}`) ?? []),
    ];
    return {
      verdict: 'inconclusive',
      reason: `${c.inconclusive} of ${c.measurements} measurement(s) had no data${missing.length ? ` (${missing.join(', ')})` : ''}`,
    };
  }
  if (c.measurements === c.errors) return { verdict: 'inconclusive', reason: 'no measurement could be taken' };
  return { verdict: 'pass', reason: `${c.measurements - c.failed - c.errors} of ${c.measurements} measurement(s) passed` };
}

/** Replaces `${targetGroup}` and `${loadBalancer}` in a query's dimension values for one variant. */
export function fillPlaceholders(query: MetricDataQuery, dims: VariantDimensions): MetricDataQuery {
  if (!query.MetricStat) return query;
  const fill = (v: string): string => v.replace(/\$\{targetGroup\}/g, dims.targetGroup).replace(/\$\{loadBalancer\}/g, dims.loadBalancer);
  return {
    ...query,
    MetricStat: {
      ...query.MetricStat,
      Metric: { ...query.MetricStat.Metric, Dimensions: query.MetricStat.Metric.Dimensions.map((d) => ({ Name: d.Name, Value: fill(d.Value) })) },
    },
  };
}
