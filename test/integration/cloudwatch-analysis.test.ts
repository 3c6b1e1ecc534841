/**
 * The runAnalysis activity against CloudWatch as it really answers: percentiles and metric math functions on
 * recorded real-format GetMetricData responses (moto cannot compute them; the dev proxy serves the recording for
 * the one request it was recorded for and forwards everything else to moto), and alarm gates on moto's alarms
 * flipped with SetAlarmState.
 */
import * as path from 'node:path';
import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createMetricsActivities } from '../../activities/metrics';
import { motoClients } from '../../activities/aws-clients';
import type { AnalysisRequest, AnalysisRun } from '../../analysis/analysis';
import { AnalysisTemplate, parseReleaseSpec } from '../../common/spec';
import { cloudWatchFixtureResponder, loadCloudWatchFixtures } from '../../dev/cloudwatch-fixtures';
import { startFaultProxy, type FaultProxy } from '../../dev/fault-proxy';
import { errorRateTemplate, publishTraffic } from '../../dev/aws-state';
import { putTargetErrorAlarm } from '../support/alarms';
import { testAws, testStack, uniqueName } from '../support/env';

const fixtures = loadCloudWatchFixtures(
  ['target-response-time-p99.json', 'fill-if-5xx-rate.json'].map((f) => path.resolve(__dirname, '../fixtures/cloudwatch', f)),
);
/** The moment the fixtures were recorded for: with delay 2m and window 3m, the judged window is 12:00-12:03Z. */
const recordedAt = Date.parse('2026-11-30T12:05:30Z');
const canary = { targetGroup: 'targetgroup/checkout-v2-k3x9q1/0a1b2c3d4e5f6789', loadBalancer: 'app/checkout/50dc6c495c0c9188' };
const stable = { targetGroup: 'targetgroup/checkout-v1/1111111111111111', loadBalancer: 'app/checkout/50dc6c495c0c9188' };

const alb = (Id: string, MetricName: string, Stat: string, extra: Record<string, unknown> = {}) => ({
  Id,
  ...extra,
  MetricStat: {
    Metric: {
      Namespace: 'AWS/ApplicationELB',
      MetricName,
      Dimensions: [
        { Name: 'TargetGroup', Value: '${targetGroup}' },
        { Name: 'LoadBalancer', Value: '${loadBalancer}' },
      ],
    },
    Period: 60,
    Stat,
  },
});

async function runAnalysis(
  endpoint: string,
  template: AnalysisTemplate,
  now: () => number = Date.now,
  variants: AnalysisRequest['variants'] = { canary, stable },
): Promise<AnalysisRun> {
  const aws = motoClients(endpoint);
  try {
    const { runAnalysis } = createMetricsActivities(aws.cloudwatch, now);
    const req: AnalysisRequest = { templateName: 't', template, variants, count: 1, intervalMs: 1_000 };
    return (await new MockActivityEnvironment().run(runAnalysis, req)) as AnalysisRun;
  } finally {
    aws.destroy();
  }
}

describe('analysis on CloudWatch-computed statistics and expressions (recorded responses)', () => {
  let proxy: FaultProxy;
  const responder = cloudWatchFixtureResponder(fixtures);
  beforeAll(async () => {
    proxy = await startFaultProxy({ target: testStack.motoEndpoint, respond: responder.respond });
  });
  afterAll(async () => proxy.stop());

  it('validates a TargetResponseTime p99 template and judges it on the worst minute CloudWatch returned', async () => {
    const spec = parseReleaseSpec({
      service: 'checkout',
      version: 'v2',
      region: 'us-east-1',
      traffic: { listenerArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/checkout/50dc6c495c0c9188/f2f7dc8efc522ab2' },
      environment: { canaryTargets: [{ id: '10.0.0.1', port: 8080 }] },
      steps: [{ setWeight: 10 }, { analysis: { template: 'latency' } }, { setWeight: 100 }],
      analysis: { latency: { metrics: [{ name: 'latency-p99', query: [alb('p99', 'TargetResponseTime', 'p99')], pass: { max: 0.5 } }], window: '3m' } },
    });
    const template = spec.analysis.latency as AnalysisTemplate;

    const run = await runAnalysis(proxy.endpoint, template, () => recordedAt);

    expect(responder.served()[0]).toBe(1);
    expect(run.verdict).toBe('fail');
    expect(run.last?.window).toEqual({ start: '2026-11-30T12:00:00.000Z', end: '2026-11-30T12:03:00.000Z', periodSeconds: 60 });
    expect(run.last?.metrics).toEqual([expect.objectContaining({ metric: 'latency-p99', canary: 0.874, verdict: 'fail', threshold: '<= 0.5' })]);
    expect(run.reason).toMatch(/latency-p99 = 0\.874, needs <= 0\.5/);
  });

  it('is an error, not a verdict, on moto alone: moto answers 500 to a percentile (what the recording stands in for)', async () => {
    const template = AnalysisTemplate.parse({
      metrics: [{ name: 'latency-p99', query: [alb('p99', 'TargetResponseTime', 'p99')], pass: { max: 0.5 } }],
      window: '3m',
      consecutiveErrorLimit: 5,
    });
    // moto computes a statistic only for a bucket that has data: give it some.
    const aws = testAws();
    await aws.cloudwatch.send(
      new PutMetricDataCommand({
        Namespace: 'AWS/ApplicationELB',
        MetricData: [
          {
            MetricName: 'TargetResponseTime',
            Dimensions: [
              { Name: 'TargetGroup', Value: canary.targetGroup },
              { Name: 'LoadBalancer', Value: canary.loadBalancer },
            ],
            Timestamp: new Date('2026-11-30T12:01:00Z'),
            Unit: 'Seconds',
            Values: [0.2, 0.9],
          },
        ],
      }),
    );
    aws.destroy();
    const run = await runAnalysis(testStack.motoEndpoint, template, () => recordedAt);
    expect(run.last?.verdict).toBe('error');
  });

  it('sends a FILL/IF expression to CloudWatch with its own queries and judges the series it returns', async () => {
    const template = AnalysisTemplate.parse({
      metrics: [
        {
          name: '5xx-rate',
          query: [
            alb('errors', 'HTTPCode_Target_5XX_Count', 'Sum'),
            alb('requests', 'RequestCount', 'Sum'),
            { Id: 'rate', Expression: 'IF(requests > 0, FILL(errors, 0) / requests)' },
          ],
          pass: { max: 0.02 },
        },
      ],
      window: '3m',
    });

    const run = await runAnalysis(proxy.endpoint, template, () => recordedAt);

    expect(responder.served()[1]).toBe(1);
    expect(run.verdict).toBe('pass');
    // The worst of the buckets CloudWatch evaluated: 2 of 160 requests in the second minute.
    expect(run.last?.metrics).toEqual([expect.objectContaining({ metric: '5xx-rate', canary: 0.0125, verdict: 'pass' })]);
    expect(run.last?.window).toMatchObject({ start: '2026-11-30T12:00:00.000Z', end: '2026-11-30T12:03:00.000Z' });
  });
});

describe('CloudWatch alarms as gates (moto alarms, SetAlarmState)', () => {
  const aws = testAws();
  afterAll(() => aws.destroy());

  async function alarm(name: string, state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA'): Promise<void> {
    await putTargetErrorAlarm(aws.cloudwatch, name, { value: state, reason: `set by the test: ${state}` });
  }

  it.each([
    ['thresholds only', {}],
    ['the sequential judge', { judge: {} }],
  ])('fails the measurement when a listed alarm is in ALARM, though every metric passes (%s)', async (_, judged) => {
    const prefix = uniqueName('alarm');
    const dims = { targetGroup: `targetgroup/${prefix}/0123456789abcdef`, loadBalancer: canary.loadBalancer };
    await publishTraffic(aws, dims, 500, 0);
    await alarm(`${prefix}-5xx`, 'OK');
    await alarm(`${prefix}-latency`, 'ALARM');
    const template = AnalysisTemplate.parse({ ...errorRateTemplate(0.05), ...judged, alarms: { prefix } });
    const result = await runAnalysis(testStack.motoEndpoint, template, Date.now, { canary: dims, stable });
    expect(result.verdict).toBe('fail');
    expect(result.last?.metrics).toEqual([expect.objectContaining({ metric: '5xx-rate', canary: 0, verdict: 'pass' })]);
    expect(result.last?.alarms).toEqual([
      { name: `${prefix}-5xx`, state: 'OK', verdict: 'pass', reason: 'set by the test: OK' },
      { name: `${prefix}-latency`, state: 'ALARM', verdict: 'fail', reason: 'set by the test: ALARM' },
    ]);
    expect(result.reason).toContain(`alarm ${prefix}-latency is ALARM`);
  });

  it('leaves INSUFFICIENT_DATA to noData, and calls a listed alarm that does not exist an error', async () => {
    const prefix = uniqueName('alarm');
    const dims = { targetGroup: `targetgroup/${prefix}/0123456789abcdef`, loadBalancer: canary.loadBalancer };
    await publishTraffic(aws, dims, 500, 0);
    await alarm(`${prefix}-new`, 'INSUFFICIENT_DATA');
    const judge = (alarms: Record<string, unknown>) =>
      runAnalysis(testStack.motoEndpoint, AnalysisTemplate.parse({ ...errorRateTemplate(0.05), alarms }), Date.now, { canary: dims, stable });
    const insufficient = await judge({ names: [`${prefix}-new`] });
    expect(insufficient.verdict).toBe('inconclusive');
    expect(insufficient.reason).toContain(`alarm ${prefix}-new`);
    const missing = await judge({ names: [`${prefix}-gone`] });
    expect(missing.last).toMatchObject({ verdict: 'error', error: expect.stringContaining(`alarm(s) ${prefix}-gone do not exist`) });
  });
});
