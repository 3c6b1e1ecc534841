/**
 * The metric-source seam: what every source of analysis data does, whatever it speaks (CloudWatch GetMetricData,
 * Prometheus range queries, an HTTP JSON endpoint). A source fetches a window of buckets of its metrics for the variants
 * asked and returns each series under the id the metric's shape names (common/metric.ts); windows, fill, thresholds,
 * `minRequests` and the judges (analysis/) work on what it returns and never on the source's own query language.
 * The analysis activity (activities/metrics.ts) and `canary report` (client/report-data.ts) fetch through it.
 */
import type { TimedSeries, Variant, VariantTarget } from '../../analysis/analysis';
import type { MetricOf, SourceName } from '../../common/sources/index';

/** The buckets to fetch: [startMs, endMs), bucket edges a multiple of the period. */
export interface SourceWindow {
  startMs: number;
  endMs: number;
  /**
   * Buckets at least this long, a multiple of it (`canary report` over a long or old release: coarser buckets, or
   * the only ones the source still keeps); absent: each series' own period, as an analysis judges it.
   */
  minPeriodSeconds?: number;
}

/** One metric to fetch and the variants to fetch it for, each with the target group that serves it. */
export interface MetricFetch<M> {
  metric: M;
  variants: Partial<Record<Variant, VariantTarget>>;
}

/**
 * What came back for one metric: per variant, its series by the ids of the metric's shape (only the result's when the
 * source evaluates the metric itself). Datapoints lie in the window; a bucket without one is left out.
 */
export type FetchedMetric = Partial<Record<Variant, Record<string, TimedSeries>>>;

/**
 * A source of metric data. `fetch` answers every metric of one call together (a source may batch them in one request)
 * in the order asked, and throws when it cannot: the measurement is then an error (retried, then counted against
 * `consecutiveErrorLimit`), never a pass.
 */
export interface MetricSource<S extends SourceName = SourceName> {
  readonly name: S;
  fetch(metrics: MetricFetch<MetricOf<S>>[], window: SourceWindow): Promise<FetchedMetric[]>;
}
