/**
 * The registry of metric sources' schemas: a metric's `source` picks its schema (absent: `cloudwatch`), and each
 * source says how analysis/ reads its metrics (their {@link MetricShape}) and how a template without `requests`
 * counts a variant's requests. Adding a source: its schema file here, one entry in each table below, and its fetcher
 * in activities/sources/ (docs/METRIC-SOURCES.md). Workflow-safe.
 */
import { z } from 'zod';
import type { MetricShape } from '../metric';
import { albRequestCount, cloudWatchShape, CloudWatchMetric, CloudWatchRequests } from './cloudwatch';
import { prometheusShape, PrometheusMetric, PrometheusRequests } from './prometheus';
import { webShape, WebMetric } from './web';

/** The error of a `source` no schema is registered for (`iss.input`: the metric). */
function unknownSource(iss: { code?: string; input?: unknown }): string | undefined {
  if (iss.code !== 'invalid_union') return undefined;
  const named = JSON.stringify((iss.input as { source?: unknown } | null)?.source) ?? 'undefined';
  return `unknown metric source ${named.slice(0, 64)}: one of ${SOURCE_NAMES.join(', ')} (cloudwatch when absent)`;
}

/** An analysis metric of any source, told apart by `source`. */
export const AnalysisMetric = z.discriminatedUnion('source', [CloudWatchMetric, PrometheusMetric, WebMetric], { error: (iss) => unknownSource(iss) });
export type AnalysisMetric = z.infer<typeof AnalysisMetric>;

/** How a template counts each variant's requests for `minRequests`, in any source. */
export const RequestsDefinition = z.discriminatedUnion('source', [CloudWatchRequests, PrometheusRequests], { error: (iss) => unknownSource(iss) });
export type RequestsDefinition = z.infer<typeof RequestsDefinition>;

/** The sources a metric may name. */
export type SourceName = NonNullable<AnalysisMetric['source']>;
export const SOURCE_NAMES: readonly SourceName[] = ['cloudwatch', 'prometheus', 'web'];

/** A metric of one source. */
export type MetricOf<S extends SourceName> = Extract<AnalysisMetric, { source?: S }>;

/** The source a metric (or a requests definition) names; `cloudwatch` when it names none. */
export function sourceOf(metric: { source?: SourceName }): SourceName {
  return metric.source ?? 'cloudwatch';
}

/** How analysis/ reads each source's metrics. */
const SHAPES: { [S in SourceName]: (metric: MetricOf<S>) => MetricShape } = {
  cloudwatch: cloudWatchShape,
  prometheus: prometheusShape,
  web: webShape,
};

/** A metric as analysis/ reads it, whatever its source. */
export function metricShape(metric: AnalysisMetric): MetricShape {
  return (SHAPES[sourceOf(metric)] as (m: AnalysisMetric) => MetricShape)(metric);
}

/** The metric that counts requests for `minRequests`: the template's `requests`, else the load balancer's RequestCount. */
export function requestsMetric(requests: RequestsDefinition | undefined, periodSeconds: number): AnalysisMetric {
  return { ...(requests ?? albRequestCount(periodSeconds)), name: 'requests', critical: false };
}
