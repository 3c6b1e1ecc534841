/**
 * The registry of metric sources: one fetcher per source a metric may name (their schemas: common/sources/index.ts).
 * Adding a source is its file here and one entry in {@link createSources} (docs/METRIC-SOURCES.md).
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { sourceOf, type AnalysisMetric, type MetricOf, type SourceName } from '../../common/sources/index';
import { cloudWatchSource, type CloudWatchPace, type CloudWatchSource } from './cloudwatch';
import { prometheusSource, type PrometheusDeps } from './prometheus';
import { NO_SOURCE_SETTINGS, type SourceSettings } from './settings';
import { webSource } from './web';
import type { FetchedMetric, MetricFetch, MetricSource, SourceWindow } from './source';

/** Every source, by the name a metric gives in `source`. */
export type MetricSources = { [S in SourceName]: MetricSource<S> } & { cloudwatch: CloudWatchSource };

/**
 * What the sources of one release's scope are built from: CloudWatch's client of its account and region, and the
 * Prometheus servers and web endpoints the worker holds (./settings.ts; none when absent).
 */
export interface SourceClients {
  cloudwatch: CloudWatchClient;
  /** The account and region's CloudWatch budgets (activities/sources/cloudwatch.ts CloudWatchBudgets). */
  cloudwatchPace?: CloudWatchPace;
  /** The named Prometheus servers and web endpoints (sourceSettingsFromEnv). */
  settings?: SourceSettings;
  /** SigV4 credentials for Prometheus servers that sign (default: the AWS SDK's default chain). */
  prometheus?: PrometheusDeps;
}

/** The sources, over the clients of one scope. */
export function createSources(clients: SourceClients): MetricSources {
  const settings = clients.settings ?? NO_SOURCE_SETTINGS;
  return {
    cloudwatch: cloudWatchSource(clients.cloudwatch, clients.cloudwatchPace),
    prometheus: prometheusSource(settings.prometheus, clients.prometheus),
    web: webSource(settings.web),
  };
}

/**
 * Fetches each metric from its own source (one call per source, its metrics together) over one window; the answers
 * come in the order asked.
 */
export async function fetchMetrics(sources: MetricSources, items: MetricFetch<AnalysisMetric>[], window: SourceWindow): Promise<FetchedMetric[]> {
  const out: FetchedMetric[] = items.map(() => ({}));
  const bySource = new Map<SourceName, number[]>();
  items.forEach((item, i) => bySource.set(sourceOf(item.metric), [...(bySource.get(sourceOf(item.metric)) ?? []), i]));
  for (const [name, indexes] of bySource) {
    const source = sources[name] as MetricSource<SourceName>;
    const fetched = await source.fetch(
      indexes.map((i) => items[i] as MetricFetch<MetricOf<SourceName>>),
      window,
    );
    indexes.forEach((i, k) => (out[i] = fetched[k] ?? {}));
  }
  return out;
}
