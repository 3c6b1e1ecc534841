/**
 * `canary doctor`'s check of the metric sources that are not CloudWatch (./aws.ts reads CloudWatch's): with --spec,
 * every Prometheus and web metric of the spec's analysis templates (and each template's `requests`) is fetched the way
 * a release fetches it (activities/sources/, with the Prometheus servers and web endpoints of the environment doctor
 * runs in: run it where the worker runs, with its CANARY_PROMETHEUS_* / CANARY_SOURCE_* variables) for the stable
 * target group over the last hour, and must answer with data.
 */
import { createSources, fetchMetrics } from '../../activities/sources/index';
import { sourceSettingsFromEnv } from '../../activities/sources/settings';
import type { ParsedReleaseSpec } from '../../common/spec';
import { metricShape, requestsMetric, sourceOf, type AnalysisMetric } from '../../common/sources/index';
import { oneLine, stableGroupCheck, type CheckResult, type DoctorCheck } from './checks';

/** How far back the check looks. */
const LOOK_BACK_MS = 3_600_000;

/** The spec's metrics (and request counts) whose source is not CloudWatch, each with where it is. */
function otherSourceMetrics(spec: ParsedReleaseSpec): { where: string; metric: AnalysisMetric }[] {
  return Object.entries(spec.analysis).flatMap(([name, t]) => [
    ...t.metrics.filter((m) => sourceOf(m) !== 'cloudwatch').map((metric) => ({ where: `${name}/${metric.name}`, metric })),
    ...(t.requests && sourceOf(t.requests) !== 'cloudwatch' ? [{ where: `${name}/requests`, metric: requestsMetric(t.requests, 60) }] : []),
  ]);
}

const sourcesAnswer = stableGroupCheck({
  id: 'metric-sources',
  title: 'Prometheus and web metrics have data',
  async run(spec, { discovered: d, stable }, ctx): Promise<CheckResult> {
    const wanted = otherSourceMetrics(spec);
    if (!wanted.length) return { status: 'skip', text: 'the spec has no Prometheus or web metric' };
    const sources = createSources({ cloudwatch: (await ctx.scoped()).cloudwatch, settings: sourceSettingsFromEnv() });
    const failed: string[] = [];
    const seen: string[] = [];
    for (const { where, metric } of wanted) {
      const periodMs = Math.max(...metricShape(metric).series.map((s) => s.periodSeconds)) * 1000;
      const endMs = Math.floor(Date.now() / periodMs) * periodMs;
      try {
        const [fetched = {}] = await fetchMetrics(sources, [{ metric, variants: { stable } }], { startMs: endMs - LOOK_BACK_MS, endMs });
        // A series with `fill` may rightly be empty (no order in the hour); every other one must have data.
        const needData = metricShape(metric).series.filter((s) => s.fill === undefined);
        const counts = needData.map((s) => fetched.stable?.[s.id]?.t.length ?? 0);
        if (counts.some((n) => n === 0)) failed.push(`${where}: no data for ${d.stableTargetGroupName} in the last hour`);
        else seen.push(`${where} ${counts.reduce((a, b) => a + b, 0)} datapoint(s)`);
      } catch (e) {
        failed.push(`${where}: ${oneLine(e).slice(0, 300)}`);
      }
    }
    if (failed.length) {
      return {
        status: 'fail',
        text: failed.join('; '),
        fix: 'set the server or endpoint the metric names where the worker runs (CANARY_PROMETHEUS_<NAME>_URL, CANARY_SOURCE_<NAME>_URL and their credentials: docs/METRIC-SOURCES.md), and check the query selects the stable target group',
      };
    }
    return { status: 'ok', text: `${d.stableTargetGroupName}, last hour: ${seen.join('; ')}` };
  },
});

export const sourceChecks: readonly DoctorCheck[] = [sourcesAnswer];
