/**
 * The metric-source seam's pure parts: a metric names its source (cloudwatch when absent), analysis reads every
 * metric through its shape, `minRequests` keeps a thin window from being judged (by the thresholds and by both
 * judges), a report asks CloudWatch for the buckets the data's age still has, and an assumed role's session is named
 * for the release.
 */
import type { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { AnalysisTemplate, fieldErrors } from '../../common/spec';
import { metricShape, requestsMetric } from '../../common/sources/index';
import type { CloudWatchMetric } from '../../common/sources/cloudwatch';
import { judgeMetric, judgeStatistically, measurementVerdict, metricValue, thinTraffic, type MetricResult, type TimedSeries } from '../../analysis/analysis';
import { judgeSequentially, type VariantSeries } from '../../analysis/sequential-judge';
import { formatMetric } from '../../client/format';
import { reportPeriod } from '../../client/report-data';
import { assumedRoleCredentials, roleSessionName } from '../../activities/aws-clients';
import { fillPlaceholders } from '../../activities/sources/cloudwatch';
import { albMetricQuery } from '../../dev/alb-metrics';

const alb = (Id: string, MetricName: string, Stat: string, Period = 60) => albMetricQuery(Id, MetricName, Stat, Period);
const latency = { name: 'latency-p99', query: [alb('p99', 'TargetResponseTime', 'p99')], pass: { max: 0.5 } };
const errors = {
  name: '5xx-rate',
  query: [
    { ...alb('errors', 'HTTPCode_Target_5XX_Count', 'Sum'), fill: 0 },
    alb('requests', 'RequestCount', 'Sum'),
    { Id: 'rate', Expression: 'errors / requests' },
  ],
  pass: { max: 0.05 },
};

function problems(template: Record<string, unknown>): string[] {
  const r = AnalysisTemplate.safeParse(template);
  return r.success ? [] : fieldErrors(r.error).map((e) => `${e.field}: ${e.message}`);
}

describe('each metric names its source', () => {
  it('reads a metric without `source` as CloudWatch, as every spec before sources did, and `source: cloudwatch` alike', () => {
    const parsed = AnalysisTemplate.parse({ metrics: [latency, { ...errors, source: 'cloudwatch' }] });
    expect(parsed.metrics[0]).not.toHaveProperty('source');
    expect(parsed.metrics[1]?.source).toBe('cloudwatch');
    expect(metricShape(parsed.metrics[1]!)).toEqual({
      series: [
        { id: 'errors', periodSeconds: 60, combine: 'additive', fill: 0, path: ['query', 0, 'MetricStat', 'Period'] },
        { id: 'requests', periodSeconds: 60, combine: 'additive', path: ['query', 1, 'MetricStat', 'Period'] },
      ],
      expressions: [{ id: 'rate', expression: 'errors / requests' }],
      result: 'rate',
      bySource: false,
    });
  });

  it('names an unknown source as a field error, and keeps reporting a CloudWatch field by its path', () => {
    expect(problems({ metrics: [{ ...latency, source: 'datadog' }] })).toEqual([
      'metrics[0].source: unknown metric source "datadog": one of cloudwatch, prometheus, web (cloudwatch when absent)',
    ]);
    expect(problems({ metrics: [{ ...latency, query: [alb('p99', 'TargetResponseTime', 'p99', 45)] }] })).toEqual([
      'metrics[0].query[0].MetricStat.Period: Period is 1, 5, 10 or 30 seconds, or a multiple of 60',
    ]);
    expect(problems({ metrics: [latency, { ...errors, query: [alb('errors', 'E', 'Sum', 120), alb('requests', 'R', 'Sum', 180), errors.query[2]] }] })).toEqual(
      ["metrics[1].query[0].MetricStat.Period: Period 120 does not divide the template's longest Period 180: buckets would not line up"],
    );
  });

  it('takes minRequests per template and per metric; requests must count something, and only for minRequests', () => {
    expect(problems({ metrics: [latency], minRequests: 100 })).toEqual([]);
    expect(problems({ metrics: [{ ...latency, minRequests: 50 }] })).toEqual([]);
    expect(problems({ metrics: [latency], minRequests: 1.5 })).toEqual(['minRequests: minRequests is a whole number of requests']);
    expect(problems({ metrics: [latency], requests: { query: [alb('requests', 'RequestCount', 'Sum')] } })).toEqual([
      'requests: requests are counted for minRequests: set minRequests (here or on a metric)',
    ]);
    expect(problems({ metrics: [latency], minRequests: 10, requests: { query: [alb('requests', 'RequestCount', 'Average')] } })).toEqual([
      'requests.query[0].MetricStat.Stat: requests are a count: Stat Sum or SampleCount',
    ]);
  });

  it("counts requests by the template's query, else by each target group's ALB RequestCount at the template's period", () => {
    const byDefault = requestsMetric(undefined, 300);
    expect(metricShape(byDefault).series).toEqual([
      { id: 'requests', periodSeconds: 300, combine: 'additive', fill: 0, path: ['query', 0, 'MetricStat', 'Period'] },
    ]);
    expect(
      fillPlaceholders((byDefault as CloudWatchMetric).query[0]!, { targetGroup: 'targetgroup/c/1', loadBalancer: 'app/lb/2' }).MetricStat?.Metric.Dimensions,
    ).toEqual([
      { Name: 'TargetGroup', Value: 'targetgroup/c/1' },
      { Name: 'LoadBalancer', Value: 'app/lb/2' },
    ]);
    const own = AnalysisTemplate.parse({
      metrics: [latency],
      minRequests: 5,
      requests: { query: [alb('a', 'A', 'Sum'), alb('b', 'B', 'Sum'), { Id: 'n', Expression: 'a + b' }] },
    });
    const counted = requestsMetric(own.requests, 60);
    // Summed over the window, a missing bucket counting as nothing.
    expect(metricValue(counted, { a: [3, 4], b: [1] })).toBe(8);
  });
});

describe('minRequests: a window the variant served too few requests in is not judged', () => {
  // One slow request among three: the p99 of a thin window is the slowest of a few.
  const values = { canary: 2.4, stable: 0.2 };

  it('fails the p99 without minRequests, and leaves the thin window to noData with it (never pass, never fail)', () => {
    const without = AnalysisTemplate.parse({ metrics: [latency] });
    expect(judgeMetric(without.metrics[0]!, values, 'inconclusive').verdict).toBe('fail');

    const t = AnalysisTemplate.parse({ metrics: [latency], minRequests: 100 });
    const thin = thinTraffic(t.metrics[0]!, t, { canary: 3, stable: 5000 }, undefined);
    expect(thin).toBe('too few requests to judge: canary 3 in the window, minRequests 100');
    const result = judgeMetric(t.metrics[0]!, values, 'inconclusive', thin);
    expect(result).toMatchObject({ verdict: 'nodata', canary: 2.4, thin });
    expect(measurementVerdict([result])).toBe('inconclusive');
    expect(formatMetric(result)).toBe('latency-p99: canary 2.4, needs <= 0.5 → nodata (too few requests to judge: canary 3 in the window, minRequests 100)');
    // noData decides, as for a window without data.
    expect(judgeMetric(t.metrics[0]!, values, 'pass', thin).verdict).toBe('pass');
    // Enough requests: judged.
    expect(thinTraffic(t.metrics[0]!, t, { canary: 100, stable: 5000 }, undefined)).toBeUndefined();
  });

  it("counts the reference's requests too when the metric is compared with it; a metric's own minimum wins, 0 turns it off", () => {
    const t = AnalysisTemplate.parse({
      metrics: [
        { ...latency, pass: { relativeTo: 'stable', maxRatio: 1.5 } },
        { ...errors, minRequests: 0 },
      ],
      minRequests: 100,
    });
    expect(thinTraffic(t.metrics[0]!, t, { canary: 500, stable: 40 }, 'stable')).toBe('too few requests to judge: stable 40 in the window, minRequests 100');
    expect(thinTraffic(t.metrics[0]!, t, { canary: null, stable: null }, 'stable')).toBe(
      'too few requests to judge: canary 0, stable 0 in the window, minRequests 100',
    );
    expect(thinTraffic(t.metrics[1]!, t, { canary: 1 }, undefined)).toBeUndefined();
  });

  it('the Mann-Whitney judge sees no data in a thin window, where it would fail the canary otherwise', () => {
    const t = AnalysisTemplate.parse({ metrics: [latency], minRequests: 100, judge: { kind: 'mann-whitney' } });
    const samples = [{ canary: [2.1, 2.3, 2.2, 2.4, 2.5], reference: [0.1, 0.12, 0.11, 0.13, 0.1] }];
    const judged = judgeStatistically(t, [judgeMetric(t.metrics[0]!, values, 'pass')], samples, 'stable');
    expect(judged.metrics[0]?.stat).toMatchObject({ verdict: 'high', failed: true });
    const thin = 'too few requests to judge: canary 3 in the window, minRequests 100';
    const skipped = judgeStatistically(t, [judgeMetric(t.metrics[0]!, values, 'pass', thin)], samples, 'stable');
    expect(skipped.metrics[0]?.stat).toMatchObject({ verdict: 'nodata', failed: false, reason: thin });
    expect(skipped.score?.verdict).toBe('nodata');
    expect(measurementVerdict(skipped.metrics, skipped.score)).toBe('inconclusive');
  });

  it('the sequential judge absorbs none of a thin window: its evidence stays as it was, and it gets no verdict', () => {
    const t = AnalysisTemplate.parse({ metrics: [{ name: 'latency', query: [alb('rt', 'TargetResponseTime', 'Average')] }], judge: {}, minRequests: 100 });
    const series = (end: number, v: (i: number) => number): VariantSeries => {
      const ts = Array.from({ length: 10 }, (_, i) => (end - 10 + i) * 60_000);
      return { 0: { rt: { t: ts, v: ts.map((_, i) => v(i)) } satisfies TimedSeries } };
    };
    const thresholds: MetricResult[] = [judgeMetric(t.metrics[0]!, { canary: 1 }, 'pass')];
    const judge = (end: number, previous: Parameters<typeof judgeSequentially>[5], thin: (string | undefined)[] = []) =>
      judgeSequentially(
        t,
        { kind: 'sequential', confidence: 0.95 },
        thresholds,
        { canary: series(end, (i) => 130 + (i % 3)), reference: series(end, (i) => 100 + (i % 2)) },
        'stable',
        previous,
        thin,
      );
    const first = judge(10, undefined);
    expect(first.evidence.latency).toMatchObject({ test: 'paired', buckets: 10 });
    // A 30% regression over ten more buckets fails the canary...
    expect(judge(20, first.evidence).score.verdict).toBe('fail');
    // ...but a thin window adds nothing and decides nothing.
    const thin = judge(20, first.evidence, ['too few requests to judge: canary 12 in the window, minRequests 100']);
    expect(thin.evidence.latency).toEqual(first.evidence.latency);
    expect(thin.metrics[0]?.stat).toMatchObject({
      verdict: 'nodata',
      failed: false,
      reason: 'too few requests to judge: canary 12 in the window, minRequests 100',
    });
    expect(thin.score).toMatchObject({ verdict: 'nodata', criticalFailures: [] });
  });
});

describe('canary report: the buckets CloudWatch still keeps for the data of a release', () => {
  const DAY = 86_400_000;
  const now = Date.parse('2026-12-10T12:00:00Z');
  const range = (startDaysAgo: number, hours = 2) => ({ start: now - startDaysAgo * DAY, end: now - startDaysAgo * DAY + hours * 3_600_000 });

  it("asks for each query's own period for a recent release, 1-minute buckets within 15 days", () => {
    expect(reportPeriod({ start: now - 3_600_000, end: now }, now)).toEqual({});
    expect(reportPeriod(range(14), now)).toEqual({ minPeriodSeconds: 60 });
  });

  it('asks for 5-minute buckets after 15 days and hourly ones after 63, and says so', () => {
    expect(reportPeriod(range(20), now)).toEqual({
      minPeriodSeconds: 300,
      note: 'CloudWatch keeps 1-minute datapoints for 15 days: this release began 20 days ago, so its metrics are shown in 5-minute buckets',
    });
    expect(reportPeriod(range(100), now)).toEqual({
      minPeriodSeconds: 3600,
      note: 'CloudWatch keeps 5-minute datapoints for 63 days: this release began 100 days ago, so its metrics are shown in 60-minute buckets',
    });
  });

  it('says when the data has expired, and asks nothing for it', () => {
    expect(reportPeriod(range(500), now)).toEqual({
      expired: true,
      note: 'CloudWatch keeps metrics for 455 days: this release ended 499 days ago and its metrics have expired',
    });
    expect(reportPeriod({ start: now - 460 * DAY, end: now - 450 * DAY }, now)).toMatchObject({
      minPeriodSeconds: 3600,
      note: expect.stringContaining('CloudWatch keeps metrics for 455 days: the datapoints before 2025-09-11T12:00:00.000Z have expired'),
    });
  });

  it('asks for buckets coarse enough for one answer of a long release, on the grid of its age', () => {
    // 90 days in 5-minute buckets would be 25,920 points: fine; 10 days of 1-second data would not.
    expect(reportPeriod({ start: now - 10 * DAY, end: now - 10 * DAY + 2 * DAY }, now)).toEqual({ minPeriodSeconds: 60 });
    expect(reportPeriod({ start: now - 400 * DAY, end: now - 10 * DAY }, now).minPeriodSeconds).toBe(3600);
  });
});

describe("an assumed role's session is named for the release (CloudTrail tells releases apart)", () => {
  it('makes the release id a valid RoleSessionName', () => {
    expect(roleSessionName('release-checkout')).toBe('release-checkout');
    expect(roleSessionName('release checkout/x')).toBe('release-checkout-x');
    expect(roleSessionName(`release-${'x'.repeat(80)}`)).toHaveLength(64);
    expect(roleSessionName(undefined)).toBe('canary-release');
  });

  it('assumes the role with the session name it is given', async () => {
    const sent: unknown[] = [];
    const sts = {
      send: async (cmd: AssumeRoleCommand) => {
        sent.push(cmd.input);
        return { Credentials: { AccessKeyId: 'ASIAX', SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(Date.now() + 3_600_000) } };
      },
    } as unknown as STSClient;
    await assumedRoleCredentials(sts, { roleArn: 'arn:aws:iam::111111111111:role/canary-release', sessionName: 'release-checkout' })();
    expect(sent).toEqual([expect.objectContaining({ RoleArn: 'arn:aws:iam::111111111111:role/canary-release', RoleSessionName: 'release-checkout' })]);
  });
});
