/**
 * Releases against an unreliable AWS: a worker whose activities talk to moto through dev/fault-proxy.ts
 * (throttling, 5xx, dropped connections, validation errors), while the test arranges and inspects AWS directly.
 * The SDK clients make one attempt per call (motoClients), so every retry seen here is Temporal's activity retry.
 */
import { GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeListenersCommand, DescribeTargetGroupsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { isThrottlingError, isTransientError } from '@smithy/core/retry';
import { ApplicationFailure, type Client, type Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { motoClients, type AwsClients } from '../../activities/aws-clients';
import { ErrorTypes } from '../../activities/contract';
import { aws as awsCall } from '../../activities/errors';
import { actions, startRelease } from '../../client/release-client';
import type { ReleaseStatus } from '../../common/status';
import { formatFaultStats, startFaultProxy, type FaultProxy, type FaultRates } from '../../dev/fault-proxy';
import type { SeededAlb } from '../../dev/seed';
import { statusQuery } from '../../common/messages';
import { testAws, testClient, testStack } from '../support/env';
import {
  dimensionOf,
  forwardActions,
  publishAfterTraffic,
  seedService,
  startTestWorker,
  targetGroupsOf,
  testSpec,
  waitForStatus,
} from '../support/release-fixture';

// Generous: under 20% throttling a release waits out retry backoffs (up to 10 s each), slower on a loaded machine.
jest.setTimeout(300_000);

const aws = testAws();
let client: Client;
let connection: Connection;

beforeAll(async () => {
  ({ client, connection } = await testClient());
});
afterAll(async () => {
  // Under a loaded full run a client call retried by the SDK's gRPC backoff could fire after close ("Channel has
  // been shut down" failed the suite once after all its tests passed): let pending retries settle first.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  await connection?.close();
  aws.destroy();
});

const CLOUDWATCH_ACTIONS = new Set(['GetMetricData', 'PutMetricData']);
/** Every ELBv2 call the activities make, describes and mutations alike. */
const elbv2 = (action: string): boolean => !CLOUDWATCH_ACTIONS.has(action);
const MUTATIONS = ['CreateTargetGroup', 'ModifyTargetGroupAttributes', 'RegisterTargets', 'ModifyListener', 'ModifyRule', 'DeleteTargetGroup'];

/** The 20% throttling + 5% 5xx + 5% dropped connections of the issue. */
const UNRELIABLE: FaultRates = { throttle: 0.2, serverError: 0.05, drop: 0.05 };
/**
 * PRNG seeds of the two releases under UNRELIABLE (the abort test uses SEED + 1). A seed fixes the fault sequence:
 * requests reach the proxy in the same order run after run, so outcome and duration are reproducible. Set
 * CANARY_FAULT_SEED to explore others; not every sequence is survivable with SDK retries off (maxAttempts 1): over
 * seeds 1-12, 10 healthy releases were promoted (14-115 s), one rolled back after ensureTargetGroup/setForwardWeights
 * ran out of attempts, and one failed the workflow in Finalizing (see the finalizing test below).
 */
const SEED = Number(process.env.CANARY_FAULT_SEED ?? 5);

interface FaultyWorker {
  proxy: FaultProxy;
  taskQueue: string;
  stop(): Promise<void>;
}

/** A worker on its own task queue whose activities reach moto only through a fault proxy. */
async function faultyWorker(seed: number, rates: FaultRates, match?: (action: string) => boolean): Promise<FaultyWorker> {
  const proxy = await startFaultProxy({ target: testStack.awsEndpoint, seed, rates, match });
  const proxied: AwsClients = motoClients(proxy.endpoint);
  const worker = await startTestWorker(proxied);
  return {
    proxy,
    taskQueue: worker.taskQueue,
    async stop() {
      await worker.stop();
      proxied.destroy();
      await proxy.stop();
    },
  };
}

const running: FaultyWorker[] = [];
async function startFaulty(seed: number, rates: FaultRates, match?: (action: string) => boolean): Promise<FaultyWorker> {
  const w = await faultyWorker(seed, rates, match);
  running.push(w);
  return w;
}
// After the file, not after each test: the release tests run concurrently (their waits on retry backoff overlap),
// and a test's end must not stop the workers of the others.
afterAll(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
});

async function awsState(seeded: SeededAlb): Promise<{ actions: unknown; groups: string[] }> {
  return { actions: await forwardActions(aws, seeded), groups: (await targetGroupsOf(aws, seeded)).map((g) => g.name) };
}

interface ActivityRun {
  type: string;
  /** The attempt that ended it (Temporal records one started event per activity, with the final attempt number). */
  attempts: number;
  outcome: 'completed' | 'failed' | 'timed out' | 'cancelled' | 'running';
  failure?: { type?: string; nonRetryable?: boolean; message?: string };
}

/** Every activity of a run from its history: type, attempts and how it ended. */
async function activityRuns(workflowId: string): Promise<ActivityRun[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const runs = new Map<string, ActivityRun>();
  for (const e of history.events ?? []) {
    const id = String(e.eventId);
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) runs.set(id, { type: scheduled.activityType?.name ?? '?', attempts: 0, outcome: 'running' });
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const r = runs.get(String(started.scheduledEventId));
      if (r) r.attempts = started.attempt ?? 0;
    }
    const completed = e.activityTaskCompletedEventAttributes;
    if (completed) {
      const r = runs.get(String(completed.scheduledEventId));
      if (r) r.outcome = 'completed';
    }
    const failed = e.activityTaskFailedEventAttributes;
    if (failed) {
      const r = runs.get(String(failed.scheduledEventId));
      const info = failed.failure?.applicationFailureInfo;
      if (r) {
        r.outcome = 'failed';
        r.failure = { type: info?.type ?? undefined, nonRetryable: info?.nonRetryable ?? undefined, message: failed.failure?.message ?? undefined };
      }
    }
    if (e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT) {
      const r = runs.get(String(e.activityTaskTimedOutEventAttributes?.scheduledEventId));
      if (r) r.outcome = 'timed out';
    }
    if (e.activityTaskCanceledEventAttributes) {
      const r = runs.get(String(e.activityTaskCanceledEventAttributes.scheduledEventId));
      if (r) r.outcome = 'cancelled';
    }
  }
  return [...runs.values()];
}

function attemptsFigure(runs: ActivityRun[]): string {
  const retried = runs.filter((r) => r.attempts > 1);
  const total = runs.reduce((a, r) => a + r.attempts, 0);
  return `${runs.length} activities, ${total} attempts (retried: ${retried.map((r) => `${r.type} x${r.attempts}`).join(', ') || 'none'})`;
}

/** The chain of causes of an error, outermost first. */
function causes(err: unknown): { name: string; type?: string; message: string }[] {
  const out: { name: string; type?: string; message: string }[] = [];
  for (let e = err as (Error & { type?: string; cause?: unknown }) | undefined; e; e = e.cause as typeof e) {
    out.push({ name: e.constructor?.name ?? 'Error', type: e.type, message: e.message });
  }
  return out;
}

const figure = (text: string): void => {
  process.stdout.write(`[figure] ${text}\n`);
};

/** The forward action's weighted groups of the listener's default actions. */
function forwardGroups(actionsJson: unknown): { TargetGroupArn?: string; Weight?: number }[] {
  const first = (actionsJson as { ForwardConfig?: { TargetGroups?: { TargetGroupArn?: string; Weight?: number }[] } }[])[0];
  return (first?.ForwardConfig?.TargetGroups ?? []).map((t) => ({ TargetGroupArn: t.TargetGroupArn, Weight: t.Weight }));
}

describe('the fault proxy', () => {
  it('answers faults the SDK parses as the AWS errors they imitate, in both protocols', async () => {
    const proxy = await startFaultProxy({ target: testStack.awsEndpoint, seed: 7, rates: {} });
    const via = motoClients(proxy.endpoint);
    const gmd = (): Promise<unknown> =>
      via.cloudwatch.send(
        new GetMetricDataCommand({
          MetricDataQueries: [{ Id: 'q', MetricStat: { Metric: { Namespace: 'canary/test', MetricName: 'none' }, Period: 60, Stat: 'Sum' } }],
          StartTime: new Date(Date.now() - 120_000),
          EndTime: new Date(),
        }),
      );
    const dtg = (): Promise<unknown> => via.elbv2.send(new DescribeTargetGroupsCommand({ PageSize: 1 }));
    const failure = async (call: () => Promise<unknown>): Promise<Error & { code?: string; $metadata?: { httpStatusCode?: number } }> => {
      const err = await call().then(
        () => new Error('the call succeeded'),
        (e: unknown) => e as Error,
      );
      return err;
    };
    try {
      for (const [protocol, call] of [
        ['awsQuery (ELBv2)', dtg],
        ['JSON 1.0 (CloudWatch)', gmd],
      ] as const) {
        proxy.setRates({ throttle: 1 });
        const throttled = await failure(call);
        expect({ protocol, name: throttled.name, status: throttled.$metadata?.httpStatusCode, throttling: isThrottlingError(throttled as never) }).toEqual({
          protocol,
          name: 'Throttling',
          status: 400,
          throttling: true,
        });
        // Through the activities' classifier: retryable, typed by the AWS error name.
        const wrapped = (await awsCall('probe', call).then(
          () => undefined,
          (e: unknown) => e,
        )) as ApplicationFailure;
        expect(wrapped).toBeInstanceOf(ApplicationFailure);
        expect({ type: wrapped.type, nonRetryable: wrapped.nonRetryable }).toEqual({ type: 'Throttling', nonRetryable: false });

        proxy.setRates({ serverError: 1 });
        for (let i = 0; i < 4; i++) {
          const e = await failure(call);
          expect(['InternalFailure', 'ServiceUnavailable']).toContain(e.name);
          expect([500, 503]).toContain(e.$metadata?.httpStatusCode);
          expect(isTransientError(e as never)).toBe(true);
        }

        proxy.setRates({ drop: 1 });
        const dropped = await failure(call);
        // Under jest the socket error comes from another realm and the SDK wraps it ("AWS SDK error wrapper for
        // TimeoutError: socket hang up"); in a plain Node process it is a TimeoutError with code ECONNRESET.
        expect({ protocol, error: dropped.code ?? dropped.message }).toEqual({ protocol, error: expect.stringMatching(/ECONNRESET|socket hang up/) as string });
        const lost = (await awsCall('probe', call).then(
          () => undefined,
          (e: unknown) => e,
        )) as ApplicationFailure;
        expect({ protocol, failure: lost instanceof ApplicationFailure, nonRetryable: lost.nonRetryable }).toEqual({
          protocol,
          failure: true,
          nonRetryable: false,
        });

        proxy.setRates({ slowRate: 1, slowMs: 300 });
        const t0 = Date.now();
        await call();
        expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
      }
      proxy.setRates({ validation: 1 });
      const invalid = (await awsCall('ModifyListener', dtg).then(
        () => undefined,
        (e: unknown) => e,
      )) as ApplicationFailure;
      expect({ type: invalid.type, nonRetryable: invalid.nonRetryable, details: invalid.details }).toEqual({
        type: ErrorTypes.InvalidAwsRequest,
        nonRetryable: true,
        details: ['ValidationError'],
      });

      proxy.setRates({ throttle: 1, maxFaults: 2 });
      await expect(dtg()).rejects.toThrow('Rate exceeded');
      await expect(dtg()).rejects.toThrow('Rate exceeded');
      await expect(dtg()).resolves.toBeDefined();

      // The real service errors pass through untouched.
      proxy.setRates({});
      const missing = await failure(() =>
        via.elbv2.send(
          new DescribeListenersCommand({
            ListenerArns: ['arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/none/0123456789abcdef/0123456789abcdef'],
          }),
        ),
      );
      expect(missing.name).toBe('ListenerNotFoundException');
      const s = proxy.stats();
      expect(s.faults).toMatchObject({ throttle: 6, serverError: 8, validation: 1, drop: 4, slow: 2 });
      expect(s.byAction.DescribeTargetGroups?.requests).toBeGreaterThan(0);
      expect(s.byAction.GetMetricData?.requests).toBeGreaterThan(0);
      figure(`fault proxy self-check: ${formatFaultStats(s)}`);
    } finally {
      via.destroy();
      await proxy.stop();
    }
  });
});

/** Runs `spec` to its end on the faulty worker `w`: its result, wall time, activity runs and the proxy's fault counts. */
async function runToEnd(w: Awaited<ReturnType<typeof startFaulty>>, spec: Record<string, unknown>) {
  const t0 = Date.now();
  const handle = await startRelease(client, spec, { taskQueue: w.taskQueue });
  const result = await handle.result();
  const ms = Date.now() - t0;
  return { handle, result, ms, runs: await activityRuns(handle.workflowId), stats: w.proxy.stats() };
}

describe('releases against an unreliable ELBv2 API', () => {
  // Alone, before the others, so that its figure (the time to roll back without a retry) is not stretched by the
  // releases running at once. That no retry happened is asserted from the attempts and requests, not from the time.
  it('does not retry a ValidationError from ModifyListener: one attempt, then an exact rollback', async () => {
    // The third ModifyListener (attach at 0, 10%, then the 40% step) is refused by AWS; the rollback's own is not.
    let modifies = 0;
    const w = await startFaulty(3, { validation: 1, maxFaults: 1 }, (a) => a === 'ModifyListener' && ++modifies === 3);
    const { service, seeded } = await seedService(aws, 'invalid');
    const before = await awsState(seeded);
    const spec = testSpec(seeded, service, { steps: [{ setWeight: 10 }, { setWeight: 40 }, { setWeight: 100 }] });
    const { handle, result, ms, runs, stats } = await runToEnd(w, spec);
    figure(
      `ValidationError on ModifyListener: ${result.outcome} in ${(ms / 1000).toFixed(1)} s; ${attemptsFigure(runs)}; ${formatFaultStats(stats, ['ModifyListener'])}`,
    );

    const shifts = runs.filter((r) => r.type === 'setForwardWeights');
    expect(shifts.map((r) => ({ outcome: r.outcome, attempts: r.attempts }))).toEqual([
      { outcome: 'completed', attempts: 1 },
      { outcome: 'completed', attempts: 1 },
      { outcome: 'failed', attempts: 1 },
    ]);
    expect(shifts[2]?.failure).toMatchObject({
      type: ErrorTypes.InvalidAwsRequest,
      nonRetryable: true,
      message: expect.stringContaining('ValidationError') as string,
    });
    expect(stats.faults.validation).toBe(1);
    // attach + 2 shifts + the rollback's restore; a retried refusal would show more.
    expect(stats.byAction.ModifyListener?.requests).toBe(4);

    expect(result.outcome).toBe('rolled-back');
    expect(await awsState(seeded)).toEqual(before);
    const status = await handle.query(statusQuery);
    expect(status.phase).toBe('RolledBack');
    expect(status.timeline.filter((t) => t.action === 'setWeight').map((t) => t.detail)).toEqual(['canary 10%, stable 90% (verified)']);
    expect(status.timeline.map((t) => t.action)).toContain('restored pre-release traffic');

    // What `canary start --wait` and the Temporal UI show as the reason says what AWS refused.
    expect(result.reason).toMatch(/^error: ModifyListener: ValidationError: /);
  });

  it.concurrent('promotes a healthy release with 20% throttling, 5% 5xx and 5% dropped connections on every ELBv2 call', async () => {
    const w = await startFaulty(SEED, UNRELIABLE, elbv2);
    const { service, seeded } = await seedService(aws, 'flaky');
    const spec = testSpec(seeded, service, { steps: [{ setWeight: 10 }, { setWeight: 25 }, { setWeight: 50 }, { setWeight: 100 }] });
    const { handle, result, ms, runs, stats } = await runToEnd(w, spec);
    figure(`healthy release under ${JSON.stringify(UNRELIABLE)}, seed ${SEED}: ${result.outcome} in ${(ms / 1000).toFixed(1)} s; ${attemptsFigure(runs)}`);
    figure(`healthy release faults: ${formatFaultStats(stats)}`);

    expect(result).toMatchObject({ outcome: 'promoted', stepsCompleted: 4 });
    const groups = await targetGroupsOf(aws, seeded);
    expect(groups.map((g) => g.name)).toEqual([expect.stringMatching(new RegExp(`^${service}-v2-`)) as string]);
    expect(forwardGroups(await forwardActions(aws, seeded))).toEqual([{ TargetGroupArn: groups[0]?.arn, Weight: 100 }]);
    const status = await handle.query(statusQuery);
    expect(status.timeline.filter((t) => t.action === 'setWeight').map((t) => t.detail)).toEqual([
      'canary 10%, stable 90% (verified)',
      'canary 25%, stable 75% (verified)',
      'canary 50%, stable 50% (verified)',
      'canary 100%, stable 0% (verified)',
    ]);
    // The faults really happened, to describes and mutations alike, and were retried through.
    expect(stats.faults.throttle + stats.faults.serverError + stats.faults.drop).toBeGreaterThan(5);
    expect(MUTATIONS.some((a) => Object.keys(stats.byAction[a] ?? {}).length > 1)).toBe(true);
    expect(runs.some((r) => r.attempts > 1)).toBe(true);
    expect(runs.every((r) => r.outcome === 'completed')).toBe(true);
  });

  it.concurrent('restores the exact pre-release listener and leaves no target group when aborted under the same faults', async () => {
    const w = await startFaulty(SEED + 1, UNRELIABLE, elbv2);
    const { service, seeded } = await seedService(aws, 'flakyab', { forwardConfig: true });
    const before = await awsState(seeded);
    const spec = testSpec(seeded, service, { steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 60 }, { setWeight: 100 }] });
    const t0 = Date.now();
    const handle = await startRelease(client, spec, { taskQueue: w.taskQueue });
    const paused = await waitForStatus(handle, (s) => s.gate?.kind === 'pause', 180_000);
    expect(paused.verifiedWeights).toEqual({ stable: 80, canary: 20 });
    expect((await awsState(seeded)).groups).toHaveLength(2);
    await actions.abort(client, handle.workflowId, { by: 'oncall', reason: 'fault drill' });
    const result = await handle.result();
    const ms = Date.now() - t0;

    const runs = await activityRuns(handle.workflowId);
    figure(`aborted release under ${JSON.stringify(UNRELIABLE)}, seed ${SEED + 1}: ${result.outcome} in ${(ms / 1000).toFixed(1)} s; ${attemptsFigure(runs)}`);
    figure(`aborted release faults: ${formatFaultStats(w.proxy.stats())}`);

    expect(result).toMatchObject({ outcome: 'aborted', by: 'oncall', reason: 'fault drill' });
    expect(await awsState(seeded)).toEqual(before);
    const status = await handle.query(statusQuery);
    expect(status.phase).toBe('RolledBack');
    expect(status.rollbackPlan).toEqual([]);
  });

  it.concurrent('reports RollbackFailed with an alert while ModifyListener fails, then restores the exact listener once AWS heals', async () => {
    const w = await startFaulty(11, {});
    const { service, seeded } = await seedService(aws, 'rbfail', { withRule: false });
    const before = await awsState(seeded);
    const spec = testSpec(seeded, service, { steps: [{ setWeight: 30 }, { pause: {} }, { setWeight: 100 }], rollback: { retryInterval: '1s' } });
    const handle = await startRelease(client, spec, { taskQueue: w.taskQueue });
    const paused = await waitForStatus(handle, (s) => s.gate?.kind === 'pause', 180_000);
    const canaryArn = paused.targetGroups.find((t) => t.role === 'canary')?.arn;

    // From now on every ModifyListener fails with a 5xx: the rollback cannot put the listener back.
    w.proxy.setRates({ serverError: 1 }, (a) => a === 'ModifyListener');
    const t0 = Date.now();
    await actions.abort(client, handle.workflowId, { by: 'oncall', reason: 'bad deploy' });
    const failing: ReleaseStatus = await waitForStatus(handle, (s) => s.phase === 'RollbackFailed' && !!s.rollbackError, 180_000);
    const alertAfterMs = Date.now() - t0;
    expect(failing.rollbackError).toBeTruthy();
    expect(failing.timeline.some((t) => t.action === 'ALERT: rollback failed' && t.accepted === false)).toBe(true);
    expect(failing.rollbackPlan.map((p) => p.kind)).toEqual(['restoreActions', 'deleteTargetGroup']);
    // Nothing was torn down while the listener still sends the canary traffic.
    expect(forwardGroups(await forwardActions(aws, seeded))).toEqual([
      { TargetGroupArn: seeded.stableTargetGroupArn, Weight: 70 },
      { TargetGroupArn: canaryArn, Weight: 30 },
    ]);
    expect((await awsState(seeded)).groups).toHaveLength(2);
    const failedModifies = w.proxy.stats().faults.serverError;

    w.proxy.setRates({});
    const healedAt = Date.now();
    const result = await handle.result();
    const recoveredMs = Date.now() - healedAt;
    const status = await handle.query(statusQuery);
    figure(
      `rollback under a ModifyListener outage: RollbackFailed after ${(alertAfterMs / 1000).toFixed(1)} s (${failedModifies} failed ModifyListener calls), ` +
        `RolledBack ${(recoveredMs / 1000).toFixed(1)} s after healing; rollbackError was ${JSON.stringify(failing.rollbackError)}`,
    );
    figure(`rollback outage faults: ${formatFaultStats(w.proxy.stats(), ['ModifyListener', 'DescribeListeners'])}`);

    expect(result).toMatchObject({ outcome: 'aborted', by: 'oncall', reason: 'bad deploy' });
    expect(status.phase).toBe('RolledBack');
    expect(status.rollbackError).toBeUndefined();
    expect(await awsState(seeded)).toEqual(before);

    // The alert says what failed, so the on-call can act on it.
    expect(failing.rollbackError).toMatch(/^ModifyListener: (InternalFailure|ServiceUnavailable): /);
  });

  it.concurrent('stays promoted when AWS refuses to delete the previous stable target group after the point of no return', async () => {
    const w = await startFaulty(5, { validation: 1, maxFaults: 1 }, (a) => a === 'DeleteTargetGroup');
    const { service, seeded } = await seedService(aws, 'finfail');
    const handle = await startRelease(client, testSpec(seeded, service, { steps: [{ setWeight: 50 }, { setWeight: 100 }] }), { taskQueue: w.taskQueue });
    const outcome = await handle.result().then(
      (r) => ({ ended: 'completed' as const, outcome: r.outcome, reason: r.reason }),
      (e: unknown) => ({ ended: 'failed' as const, error: causes(e).map((c) => `${c.type ?? c.name}: ${c.message}`) }),
    );
    const status = await handle.query(statusQuery);
    const groups = await targetGroupsOf(aws, seeded);
    const canary = groups.find((g) => g.name !== seeded.stableTargetGroupName);
    figure(
      `DeleteTargetGroup refused while finalizing: workflow ${outcome.ended}, phase ${status.phase}; ${formatFaultStats(w.proxy.stats(), ['DeleteTargetGroup'])}`,
    );

    // Traffic is on the new version either way.
    expect(forwardGroups(await forwardActions(aws, seeded))).toEqual([{ TargetGroupArn: canary?.arn, Weight: 100 }]);
    expect(w.proxy.stats().faults.validation).toBe(1);
    expect(outcome).toMatchObject({ ended: 'completed', outcome: 'promoted' });
    expect(status.phase).toBe('Succeeded');
    // The refusal is said out loud, and the next round deletes the old stable group.
    expect(status.timeline.find((t) => t.action.startsWith('ALERT: could not delete stable target group'))).toMatchObject({
      accepted: false,
      detail: expect.stringMatching(/^round 1\/3: DeleteTargetGroup .*ValidationError/),
    });
    expect(groups.map((g) => g.name)).toEqual([canary?.name]);
  });

  it.concurrent('takes an analysis measurement despite throttled GetMetricData calls instead of calling it inconclusive', async () => {
    const w = await startFaulty(7, { throttle: 1, maxFaults: 2 }, (a) => a === 'GetMetricData');
    const { service, seeded } = await seedService(aws, 'cwthr');
    const spec = testSpec(seeded, service, { steps: [{ setWeight: 20 }, { pause: {} }, { analysis: { template: 'errors' } }, { setWeight: 100 }] });
    const handle = await startRelease(client, spec, { taskQueue: w.taskQueue });
    const paused = await waitForStatus(handle, (s) => s.gate?.kind === 'pause');
    const canaryArn = paused.targetGroups.find((t) => t.role === 'canary')?.arn as string;
    const lb = seeded.loadBalancerArn.slice(seeded.loadBalancerArn.indexOf(':loadbalancer/') + 14);
    await publishAfterTraffic(aws, { targetGroup: dimensionOf(canaryArn), loadBalancer: lb }, 500, 1, paused.trafficSince);
    await actions.resume(client, handle.workflowId, { by: 'alice' });
    const result = await handle.result();
    const status = await handle.query(statusQuery);
    figure(`throttled GetMetricData during analysis: ${formatFaultStats(w.proxy.stats(), ['GetMetricData'])}`);
    expect(w.proxy.stats().faults.throttle).toBe(2);
    expect(status.analysis).toMatchObject({ verdict: 'pass', counters: { measurements: 1, errors: 0 } });
    expect(result.outcome).toBe('promoted');
  });
});
