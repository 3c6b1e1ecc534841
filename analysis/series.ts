/**
 * Series over an analysis window: the judged window (ending at the last complete bucket older than `delay`), fill with
 * CloudWatch's FILL semantics, reducing a series by its statistic, and a metric's value and samples. Pure.
 */
import { metricEvaluator, type AnalysisMetric, type AnalysisTemplate, type MetricDataQuery } from '../common/spec';
import { evaluate, parseExpression } from '../common/expression';
import { statisticKind } from '../common/statistic';

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
  const { periodMs, spanMs } = windowGrid(template);
  const endMs = Math.floor((nowMs - (template.delay ?? 0)) / periodMs) * periodMs;
  return { startMs: endMs - spanMs, endMs, periodMs };
}

/**
 * The earliest time a measurement's window (see analysisWindow) holds only whole buckets that start at or after
 * `sinceMs`: the first bucket edge at or after it, plus the window's buckets, plus the delay.
 */
export function firstWindowAfter(sinceMs: number, template: AnalysisTemplate): number {
  const { periodMs, spanMs } = windowGrid(template);
  return Math.ceil(sinceMs / periodMs) * periodMs + spanMs + (template.delay ?? 0);
}

/** The template's bucket length and its window rounded up to whole buckets (at least one). */
function windowGrid(template: AnalysisTemplate): { periodMs: number; spanMs: number } {
  const periodMs = templatePeriodSeconds(template) * 1000;
  return { periodMs, spanMs: Math.max(1, Math.ceil(template.window / periodMs)) * periodMs };
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
