/**
 * Releases judged on metrics shaped like ALB's (the realism layer of the simulator: one datapoint per bucket of a
 * compressed minute, no datapoint for a zero 5xx count, delivered late), with the README's `errors` template
 * scaled to the compressed minute: `fill: 0` on the 5xx count and a `delay` covering the delivery lag.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { parse } from 'yaml';
import { startRelease } from '../../client/release-client';
import { statusQuery } from '../../common/messages';
import { albBucketSeconds } from '../../dev/metrics-realism';
import { localMetricTiming } from '../../dev/scenarios';
import { startSimulator, type FaultProfile } from '../../dev/simulator';
import { timeScaleFromEnv } from '../../dev/stack';
import { forwardActions, releaseTestEnvironment, seedService, targetGroupsOf, testSpec, waitForStatus } from '../support/release-fixture';

const env = releaseTestEnvironment();
const aws = env.aws;
const timeScale = timeScaleFromEnv();

/**
 * The README's `errors` template as written there (its `5xx-rate` and `connection-errors` metrics; moto computes no
 * p99), its minute compressed by the time scale.
 */
function readmeErrorsTemplate(): Record<string, unknown> {
  const { periodSeconds, delay } = localMetricTiming(timeScale);
  const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
  const yaml = /```yaml\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('## Release spec')))?.[1] ?? '';
  const written = (parse(yaml) as { analysis: { errors: { metrics: { name: string }[] } } }).analysis.errors.metrics;
  const metrics = written
    .filter((m) => m.name === '5xx-rate' || m.name === 'connection-errors')
    // The README's statistical judge options need its template judge, which these releases do not run.
    .map(
      ({ judge: _judge, ...m }: { name: string; judge?: unknown }) =>
        JSON.parse(JSON.stringify(m).replace(/"Period":60\b/g, `"Period":${periodSeconds}`)) as Record<string, unknown>,
    );
  if (metrics.length !== 2)
    throw new Error(`the README's errors template has no 5xx-rate and connection-errors metrics: ${written.map((m) => m.name).join(', ')}`);
  return { metrics, count: 2, interval: `${2 * periodSeconds}s`, window: `${4 * periodSeconds}s`, delay, failureLimit: 0 };
}

async function release(prefix: string, canary: FaultProfile, extra: Record<string, unknown> = {}) {
  const { service, seeded } = await seedService(aws, prefix);
  const before = await forwardActions(aws, seeded);
  const period = albBucketSeconds(timeScale);
  const template = readmeErrorsTemplate();
  // A bake long enough for the window to hold canary buckets ALB has delivered: delay + window + a bucket.
  const bake = `${Number(String(template.delay).replace('s', '')) + 5 * period}s`;
  const simulator = startSimulator({
    aws,
    listenerArn: seeded.listenerArn,
    requestsPerSecond: 200,
    tickMs: 500,
    profiles: { v1: { errorRate: 0, latencyMs: 40 }, v2: canary },
    seed: 11,
    realism: { timeScale },
  });
  try {
    const spec = testSpec(seeded, service, {
      steps: [
        { setWeight: 20 },
        { pause: { duration: bake } },
        { analysis: { template: 'errors' } },
        { setWeight: 50 },
        { pause: { duration: bake } },
        { analysis: { template: 'errors' } },
        { setWeight: 100 },
      ],
      analysis: { errors: template },
      ...extra,
    });
    const handle = await startRelease(env.client, spec, { taskQueue: env.taskQueue });
    const result = await handle.result();
    const status = await handle.query(statusQuery);
    return { result, status, seeded, before, simulator: { ticks: simulator.ticks(), errors: simulator.errors(), buckets: simulator.buckets() } };
  } finally {
    await simulator.stop();
  }
}

// The tests run concurrently (each on a service of its own, sharing the file's worker): their waits overlap.
describe('releases on ALB-shaped metrics (sparse, 60 s-shaped buckets, delivered late)', () => {
  it.concurrent('promotes a healthy release with the README template and no inconclusive gate, though the canary has no 5xx datapoint at all', async () => {
    const { periodSeconds } = localMetricTiming(timeScale);
    const run = await release(
      'albok',
      { errorRate: 0, latencyMs: 40 },
      { backgroundAnalysis: { template: 'errors', interval: `${periodSeconds}s`, reportEvery: `${2 * periodSeconds}s` } },
    );

    expect(run.simulator.buckets).toBeDefined();
    expect(run.result.outcome).toBe('promoted');
    const analyses = run.status.timeline.filter((t) => t.action.startsWith('analysis errors'));
    expect(analyses.map((t) => t.action)).toEqual(['analysis errors: pass', 'analysis errors: pass']);
    expect(run.status.timeline.some((t) => /inconclusive/.test(t.action))).toBe(false);
    // The background analysis too: its first window began after the canary got traffic, so every measurement had data.
    expect(run.status.backgroundAnalysis?.counters.measurements ?? 0).toBeGreaterThan(0);
    expect(run.status.backgroundAnalysis?.counters).toMatchObject({ inconclusive: 0, failed: 0, errors: 0 });
    // Missing 5xx buckets counted as zero; the window ended at least `delay` before the measurement, on a bucket edge.
    const last = run.status.analysis?.last;
    expect(last?.metrics[0]).toMatchObject({ metric: '5xx-rate', canary: 0, verdict: 'pass' });
    // No connection failed either: no TargetConnectionErrorCount datapoint at all, filled with 0.
    expect(last?.metrics[1]).toMatchObject({ metric: 'connection-errors', canary: 0, verdict: 'pass' });
    const period = albBucketSeconds(timeScale) * 1000;
    const end = Date.parse(last?.window?.end ?? '');
    expect(end % period).toBe(0);
    expect(Date.parse(last?.at ?? '') - end).toBeGreaterThanOrEqual(Number(String(readmeErrorsTemplate().delay).replace('s', '')) * 1000);
  });

  it.concurrent('rolls a bad canary back to the exact pre-release listener', async () => {
    const run = await release('albbad', { errorRate: 0.3, latencyMs: 40 });

    expect(run.result.outcome).toBe('rolled-back');
    expect(run.result.reason).toMatch(/analysis errors failed at step 2: .*5xx-rate = 0\.\d+, needs <= 0\.01/);
    expect(await forwardActions(aws, run.seeded)).toEqual(run.before);
    expect((await targetGroupsOf(aws, run.seeded)).map((g) => g.name)).toEqual([run.seeded.stableTargetGroupName]);
  });

  it.concurrent('rolls a crashing canary back on its connection errors alone: no 5xx from its targets, the ALB answered 502/504 itself', async () => {
    const run = await release('albcrash', { errorRate: 0, latencyMs: 40, connectionErrorRate: 0.3 });

    expect(run.result.outcome).toBe('rolled-back');
    expect(run.result.reason).toMatch(/analysis errors failed at step 2: .*connection-errors = 0\.\d+, needs <= 0\.01/);
    // The targets answered every request they got without a 5xx: the 5xx rate passed, the connection errors did not.
    const last = run.status.analysis?.last;
    expect(last?.metrics.find((m) => m.metric === '5xx-rate')).toMatchObject({ canary: 0, verdict: 'pass' });
    expect(last?.metrics.find((m) => m.metric === 'connection-errors')).toMatchObject({ verdict: 'fail' });
    expect(await forwardActions(aws, run.seeded)).toEqual(run.before);
    expect((await targetGroupsOf(aws, run.seeded)).map((g) => g.name)).toEqual([run.seeded.stableTargetGroupName]);
  });

  it.concurrent('rolls back mid-bake when a CloudWatch alarm the release watches goes to ALARM', async () => {
    const { service, seeded } = await seedService(aws, 'albalarm');
    const before = await forwardActions(aws, seeded);
    const alarm = `${service}-p99-latency`;
    // A team's own alarm on the service (moto keeps the state it is set to: it evaluates no alarm).
    await aws.cloudwatch.send(
      new PutMetricAlarmCommand({
        AlarmName: alarm,
        Namespace: 'AWS/ApplicationELB',
        MetricName: 'TargetResponseTime',
        ExtendedStatistic: 'p99',
        Period: 60,
        EvaluationPeriods: 3,
        Threshold: 0.5,
        ComparisonOperator: 'GreaterThanThreshold',
        Dimensions: [{ Name: 'LoadBalancer', Value: 'app/shared/0123456789abcdef' }],
      }),
    );
    await aws.cloudwatch.send(new SetAlarmStateCommand({ AlarmName: alarm, StateValue: 'OK', StateReason: 'quiet' }));
    const spec = testSpec(seeded, service, {
      steps: [{ setWeight: 20 }, { pause: { duration: '10m' } }, { setWeight: 100 }],
      analysis: { alarms: { alarms: { names: [alarm] } } },
      backgroundAnalysis: { template: 'alarms', interval: '1s', reportEvery: '1s' },
    });
    const handle = await startRelease(env.client, spec, { taskQueue: env.taskQueue });
    // Baking, with the alarm seen OK by the background analysis.
    const baking = await waitForStatus(handle, (s) => s.phase === 'Paused' && (s.backgroundAnalysis?.counters.measurements ?? 0) >= 1);
    expect(baking.backgroundAnalysis?.verdict).toBe('pass');

    await aws.cloudwatch.send(new SetAlarmStateCommand({ AlarmName: alarm, StateValue: 'ALARM', StateReason: 'Threshold Crossed: 3 datapoints > 0.5' }));
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'rolled-back', by: 'canary', stepsCompleted: 1 });
    expect(result.reason).toContain(`background analysis alarms failed`);
    expect(result.reason).toContain(`alarm ${alarm} is ALARM`);
    expect(await forwardActions(aws, seeded)).toEqual(before);
    expect((await targetGroupsOf(aws, seeded)).map((g) => g.name)).toEqual([seeded.stableTargetGroupName]);
  });
});
