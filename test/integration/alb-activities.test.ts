/**
 * The activities a release needs on a real ALB, each run against moto (no workflow): attach at weight 0, drift-checked
 * writes, a restore that keeps what someone else changed, per-target health in the failure, drain before delete,
 * several forward actions, pair mode, version tags, instance and outside-VPC targets, and clients per region / role.
 * Activities run in @temporalio/testing's MockActivityEnvironment (heartbeats, cancellation-aware sleep).
 */
import { CreateSubnetCommand, CreateVpcCommand, RunInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { STSClient } from '@aws-sdk/client-sts';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  DescribeListenersCommand,
  DescribeRulesCommand,
  DescribeTagsCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ModifyListenerCommand,
  ModifyRuleCommand,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
  type Action,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { healthPollMs } from '../../activities/environment';
import { createAlbRealism } from '../../dev/alb-realism';
import { startFaultProxy } from '../../dev/fault-proxy';
import { assumedRoleCredentials, motoClients, REFRESH_BEFORE_EXPIRY_MS, type AwsClients } from '../../activities/aws-clients';
import { ErrorTypes, type ForwardState, type ReleaseActivities } from '../../activities/contract';
import { errorRateTemplate, publishTraffic } from '../../dev/aws-state';
import { AnalysisTemplate } from '../../common/spec';
import type { SeededAlb } from '../../dev/seed';
import { seedAlb } from '../../dev/seed';
import { clientsAssuming } from '../support/accounts';
import { testStack, uniqueName } from '../support/env';
import { forwardLiveAndIdle } from '../support/listener';

jest.setTimeout(60_000);

// These tests pin the activities against moto's own answers (a stopped instance's Target.InvalidState, health of
// unattached groups); the realism layer's health answers are covered by alb-realism and the release tests.
const aws = motoClients(testStack.motoEndpoint);
/** Expected failures are asserted on; the mock environment would log each one as a warning. */
const quiet = new DefaultLogger('ERROR');
const acts: ReleaseActivities = createActivities(aws);
afterAll(() => aws.destroy());

/** Runs one activity as a worker would (Context, heartbeats), optionally resuming from heartbeat details. */
async function run<A extends unknown[], R>(fn: (...args: A) => Promise<R>, args: A, heartbeatDetails?: unknown): Promise<{ result: R; beats: unknown[] }> {
  const env = new MockActivityEnvironment(heartbeatDetails === undefined ? {} : { heartbeatDetails }, { logger: quiet });
  const beats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => beats.push(d));
  return { result: await env.run(fn, ...args), beats };
}

/** The ApplicationFailure an activity fails with (the test fails if it succeeds). */
async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ApplicationFailure)) throw new Error(`expected an ApplicationFailure, got ${err === undefined ? 'success' : String(err)}`);
  return err;
}

async function seed(prefix: string, opts: { withRule?: boolean } = {}): Promise<SeededAlb> {
  return seedAlb(aws, { name: uniqueName(prefix).slice(0, 20).replace(/-+$/, ''), ...opts });
}

async function defaultActions(listenerArn: string, via: AwsClients = aws): Promise<Action[]> {
  const out = await via.elbv2.send(new DescribeListenersCommand({ ListenerArns: [listenerArn] }));
  return out.Listeners?.[0]?.DefaultActions ?? [];
}

async function createGroup(seeded: SeededAlb, name: string, targetType: 'ip' | 'instance' = 'ip', tags?: Record<string, string>): Promise<string> {
  const out = await aws.elbv2.send(
    new CreateTargetGroupCommand({
      Name: uniqueName(name).slice(0, 32),
      Protocol: 'HTTP',
      Port: 8080,
      VpcId: seeded.vpcId,
      TargetType: targetType,
      Tags: tags && Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    }),
  );
  return out.TargetGroups?.[0]?.TargetGroupArn as string;
}

async function secondListener(seeded: SeededAlb, port: number, targetGroupArn: string): Promise<string> {
  const out = await aws.elbv2.send(
    new CreateListenerCommand({
      LoadBalancerArn: seeded.loadBalancerArn,
      Protocol: 'HTTP',
      Port: port,
      DefaultActions: [{ Type: 'forward', TargetGroupArn: targetGroupArn }],
    }),
  );
  return out.Listeners?.[0]?.ListenerArn as string;
}

const stableOnly = (seeded: SeededAlb): ForwardState => ({
  targetGroups: [{ targetGroupArn: seeded.stableTargetGroupArn, weight: 1 }],
  stickiness: { enabled: false },
});

describe('attaching at weight 0 and drift', () => {
  test('attaches the canary at weight 0: it stays in the forward action and is verified', async () => {
    const seeded = await seed('att0');
    const canary = await createGroup(seeded, 'att0-c');
    const { result } = await run(acts.setForwardWeights, [
      {
        listenerArn: seeded.listenerArn,
        weights: [
          { targetGroupArn: seeded.stableTargetGroupArn, weight: 100 },
          { targetGroupArn: canary, weight: 0 },
        ],
        expected: stableOnly(seeded),
      },
    ]);
    expect(result.unchanged).toBe(false);
    expect(result.forward?.targetGroups).toEqual(
      expect.arrayContaining([
        { targetGroupArn: canary, weight: 0 },
        { targetGroupArn: seeded.stableTargetGroupArn, weight: 100 },
      ]),
    );
    const fc = (await defaultActions(seeded.listenerArn))[0]?.ForwardConfig;
    expect(fc?.TargetGroups).toEqual(expect.arrayContaining([{ TargetGroupArn: canary, Weight: 0 }]));
  });

  test('a forward action someone changed is not overwritten: ForwardActionDrifted names both states, nothing written', async () => {
    const seeded = await seed('drift');
    const canary = await createGroup(seeded, 'drift-c');
    const attached = await run(acts.setForwardWeights, [
      {
        listenerArn: seeded.listenerArn,
        weights: [
          { targetGroupArn: seeded.stableTargetGroupArn, weight: 90 },
          { targetGroupArn: canary, weight: 10 },
        ],
        expected: stableOnly(seeded),
      },
    ]);
    // A person takes the canary out during an incident.
    const hand: Action[] = [{ Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn: seeded.stableTargetGroupArn, Weight: 100 }] } }];
    await aws.elbv2.send(new ModifyListenerCommand({ ListenerArn: seeded.listenerArn, DefaultActions: hand }));
    const before = await defaultActions(seeded.listenerArn);

    const drift = await run(acts.checkDrift, [{ forwards: [{ ref: { listenerArn: seeded.listenerArn }, expected: attached.result.forward as ForwardState }] }]);
    expect(drift.result.drifted).toHaveLength(1);
    expect(drift.result.drifted[0]?.message).toMatch(/target groups \/ weights changed/);

    const err = await failure(
      run(acts.setForwardWeights, [
        {
          listenerArn: seeded.listenerArn,
          weights: [
            { targetGroupArn: seeded.stableTargetGroupArn, weight: 50 },
            { targetGroupArn: canary, weight: 50 },
          ],
          expected: attached.result.forward,
        },
      ]),
    );
    expect(err.type).toBe(ErrorTypes.ForwardActionDrifted);
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toContain(`${canary.split(':').pop()}=10`);
    expect(err.message).toMatch(/found forward targetgroup\/[^=]+=100, no stickiness/);
    expect(await defaultActions(seeded.listenerArn)).toEqual(before);
  });

  test('a stickiness change is drift too; a retry that finds its own write done is not', async () => {
    const seeded = await seed('stick');
    const canary = await createGroup(seeded, 'stick-c');
    const input = {
      listenerArn: seeded.listenerArn,
      weights: [
        { targetGroupArn: seeded.stableTargetGroupArn, weight: 80 },
        { targetGroupArn: canary, weight: 20 },
      ],
      expected: stableOnly(seeded),
    };
    await run(acts.setForwardWeights, [input]);
    // The same call again (a retry after the write took effect): the requested state is there, no drift.
    const again = await run(acts.setForwardWeights, [input]);
    expect(again.result.unchanged).toBe(true);

    const fc = { TargetGroups: input.weights.map((w) => ({ TargetGroupArn: w.targetGroupArn, Weight: w.weight })) };
    await aws.elbv2.send(
      new ModifyListenerCommand({
        ListenerArn: seeded.listenerArn,
        DefaultActions: [{ Type: 'forward', ForwardConfig: { ...fc, TargetGroupStickinessConfig: { Enabled: true, DurationSeconds: 600 } } }],
      }),
    );
    const err = await failure(
      run(acts.setForwardWeights, [{ ...input, weights: input.weights.map((w) => ({ ...w, weight: 50 })), expected: again.result.forward }]),
    );
    expect(err.type).toBe(ErrorTypes.ForwardActionDrifted);
    expect(err.message).toContain('stickiness changed');
    expect(err.message).toContain('stickiness 600s');
  });

  test('readForward reports the forward as AWS holds it, or none', async () => {
    const seeded = await seed('read');
    const { result } = await run(acts.readForward, [{ listenerArn: seeded.listenerArn }]);
    expect(result).toEqual({ forward: stableOnly(seeded), actionTypes: ['forward'] });
    await aws.elbv2.send(
      new ModifyListenerCommand({
        ListenerArn: seeded.listenerArn,
        DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '503', ContentType: 'text/plain', MessageBody: 'maintenance' } }],
      }),
    );
    expect((await run(acts.readForward, [{ listenerArn: seeded.listenerArn }])).result).toEqual({ forward: undefined, actionTypes: ['fixed-response'] });
  });
});

describe('restore on rollback', () => {
  async function shifted(prefix: string): Promise<{ seeded: SeededAlb; canary: string; original: Action[] }> {
    const seeded = await seed(prefix, { withRule: true });
    const ruleArn = seeded.ruleArn as string;
    const d = await run(acts.discoverForwards, [{ forwards: [{ listenerArn: seeded.listenerArn, ruleArn }] }]);
    const canary = await createGroup(seeded, `${prefix}-c`);
    await run(acts.setForwardWeights, [
      {
        listenerArn: seeded.listenerArn,
        ruleArn,
        weights: [
          { targetGroupArn: seeded.stableTargetGroupArn, weight: 70 },
          { targetGroupArn: canary, weight: 30 },
        ],
        expected: d.result.forwards[0]?.forward,
      },
    ]);
    return { seeded, canary, original: d.result.originalActions as unknown as Action[] };
  }
  const ruleActions = async (ruleArn: string): Promise<Action[]> =>
    (await aws.elbv2.send(new DescribeRulesCommand({ RuleArns: [ruleArn] }))).Rules?.[0]?.Actions ?? [];

  test('without other changes, the rule is exactly the pre-release one', async () => {
    const { seeded, original } = await shifted('rst');
    const ruleArn = seeded.ruleArn as string;
    const { result } = await run(acts.restoreActions, [{ listenerArn: seeded.listenerArn, ruleArn, actions: original as never }]);
    expect(result.kept).toEqual([]);
    expect(await ruleActions(ruleArn)).toEqual(original);
  });

  test("keeps a person's stickiness change and puts back only the target groups and weights", async () => {
    const { seeded, canary } = await shifted('rsk');
    const ruleArn = seeded.ruleArn as string;
    const d0 = (await aws.elbv2.send(new DescribeRulesCommand({ RuleArns: [ruleArn] }))).Rules?.[0]?.Actions ?? [];
    const pre = [{ Type: 'forward', TargetGroupArn: seeded.stableTargetGroupArn }];
    await aws.elbv2.send(
      new ModifyRuleCommand({
        RuleArn: ruleArn,
        Actions: [
          { ...d0[0], Type: 'forward', ForwardConfig: { ...d0[0]?.ForwardConfig, TargetGroupStickinessConfig: { Enabled: true, DurationSeconds: 3600 } } },
        ],
      }),
    );
    const { result } = await run(acts.restoreActions, [{ listenerArn: seeded.listenerArn, ruleArn, actions: pre }]);
    expect(result.kept).toEqual(['stickiness: stickiness 3600s (was: no stickiness)']);
    const fc = (await ruleActions(ruleArn))[0]?.ForwardConfig;
    expect(fc?.TargetGroups).toEqual([{ TargetGroupArn: seeded.stableTargetGroupArn, Weight: 1 }]);
    expect(fc?.TargetGroupStickinessConfig).toEqual({ Enabled: true, DurationSeconds: 3600 });
    expect(JSON.stringify(fc)).not.toContain(canary);
  });

  test('a forward action replaced by a person (maintenance page) is not recreated', async () => {
    const { seeded, original } = await shifted('rfx');
    const ruleArn = seeded.ruleArn as string;
    const page: Action = { Type: 'fixed-response', FixedResponseConfig: { StatusCode: '503', ContentType: 'text/plain', MessageBody: 'maintenance' } };
    await aws.elbv2.send(new ModifyRuleCommand({ RuleArn: ruleArn, Actions: [page] }));
    const { result } = await run(acts.restoreActions, [{ listenerArn: seeded.listenerArn, ruleArn, actions: original as never }]);
    expect(result.kept[0]).toMatch(/^actions: fixed-response \(were: forward\): the forward action was removed by someone else/);
    expect((await ruleActions(ruleArn))[0]?.Type).toBe('fixed-response');
  });
});

describe('health', () => {
  test('reports each target that is not healthy with its state and reason, and fails non-retryable after the timeout', async () => {
    const seeded = await seed('hlth');
    const run1 = await aws.ec2.send(new RunInstancesCommand({ ImageId: 'ami-12c6146b', MinCount: 2, MaxCount: 2 }));
    const ids = (run1.Instances ?? []).map((i) => i.InstanceId as string);
    const group = await createGroup(seeded, 'hlth-i', 'instance');
    await run(acts.registerTargets, [{ targetGroupArn: group, targets: ids.map((id) => ({ id })) }]);
    await aws.ec2.send(new StopInstancesCommand({ InstanceIds: [ids[1] as string] }));
    const missing = 'i-0123456789abcdef0';
    const { beats, result } = await run(acts.waitHealthy, [{ targetGroupArn: group, targets: [{ id: ids[0] as string }], timeoutMs: 5_000 }]);
    expect(result.targets).toEqual([{ target: `${ids[0]}:8080`, state: 'healthy' }]);
    expect(beats.length).toBeGreaterThan(0);

    const env = new MockActivityEnvironment({}, { logger: quiet });
    const beats2: { targets?: string[] }[] = [];
    env.on('heartbeat', (d: { targets?: string[] }) => beats2.push(d));
    const t1 = Date.now();
    const err = await failure(
      env.run(acts.waitHealthy, { targetGroupArn: group, targets: ids.map((id) => ({ id })).concat({ id: missing }), timeoutMs: 1_500 }),
    );
    expect(err.type).toBe(ErrorTypes.TargetsUnhealthy);
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toContain(`1/3 targets healthy`);
    expect(err.message).toContain(`${ids[1]}:8080 unused (Target.InvalidState)`);
    // moto answers for an instance it never registered at the instance default port 80.
    expect(err.message).toContain(`${missing}:80 unused (Target.NotRegistered: not registered in the group)`);
    expect(beats2.at(-1)?.targets).toEqual([
      `${ids[1]}:8080 unused (Target.InvalidState)`,
      `${missing}:80 unused (Target.NotRegistered: not registered in the group)`,
    ]);
    // It failed at its deadline, not before (and the test's own timeout bounds it from above).
    expect(Date.now() - t1).toBeGreaterThanOrEqual(1_500);
  });

  test('the deadline spans retries: a retry resumes from the first attempt start in the heartbeat', async () => {
    const seeded = await seed('hres');
    const err = await failure(
      run(acts.waitHealthy, [{ targetGroupArn: seeded.stableTargetGroupArn, targets: [{ id: '10.0.0.99', port: 8080 }], timeoutMs: 60_000 }], {
        startedAt: Date.now() - 61_000,
      }),
    );
    expect(err.type).toBe(ErrorTypes.TargetsUnhealthy);
    expect(err.message).toContain('10.0.0.99:8080 unavailable (Target.NotRegistered');
  });

  test('asks at the group’s health check cadence, read once, not every second: every wait spends the account’s Describe budget', async () => {
    // A realism layer of this test's own (AWS time ×60): a default health check (30 s × 5) takes 2.5 s. Its clock
    // stands still until the first health answer, then runs: the checks end 2.5 s after the first ask however slowly
    // the set-up before it ran (under load it once took longer than the checks, and the first ask found it healthy).
    const held = Date.now();
    let firstAnswerAt: number | undefined;
    const realismNow = (): number => (firstAnswerAt === undefined ? held : held + Date.now() - firstAnswerAt);
    const proxy = await startFaultProxy({
      target: testStack.motoEndpoint,
      realism: createAlbRealism({ motoEndpoint: testStack.motoEndpoint, timeScale: 60, now: realismNow }),
    });
    const via = motoClients(proxy.endpoint);
    let asked = 0;
    via.elbv2.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'DescribeTargetHealthCommand') return next(args);
        asked++;
        const out = await next(args);
        firstAnswerAt ??= Date.now();
        return out;
      },
      { step: 'initialize' },
    );
    try {
      const seeded = await seedAlb(via, { name: uniqueName('hcad').slice(0, 20).replace(/-+$/, '') });
      const out = await via.elbv2.send(
        new CreateTargetGroupCommand({
          Name: uniqueName('hcad-v2').slice(0, 32),
          Protocol: 'HTTP',
          Port: 8080,
          VpcId: seeded.vpcId,
          TargetType: 'ip',
          HealthCheckIntervalSeconds: 30,
          HealthyThresholdCount: 5,
        }),
      );
      const group = out.TargetGroups?.[0]?.TargetGroupArn as string;
      await via.elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: group, Targets: [{ Id: '10.0.0.41', Port: 8080 }] }));
      await forwardLiveAndIdle(via.elbv2, seeded.listenerArn, seeded.stableTargetGroupArn, group);
      // This worker's AWS time runs ×10: the 30 s interval is a 3 s cadence, longer than the 2.5 s the checks take.
      const paced = createActivities({ elbv2: via.elbv2, cloudwatch: via.cloudwatch, timeScale: 10 });
      await new Promise((r) => setTimeout(r, 3_000));
      const t0 = Date.now();
      const { result, beats } = await run(paced.waitHealthy, [{ targetGroupArn: group, targets: [{ id: '10.0.0.41', port: 8080 }], timeoutMs: 30_000 }]);
      expect(result.targets).toEqual([{ target: '10.0.0.41:8080', state: 'healthy' }]);
      // Once while initial, once a cadence later (healthy): a wait of 1 s polls would have asked three or four times.
      expect(asked).toBe(2);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(3_000);
      expect(beats[0]).toMatchObject({
        pollMs: 3_000,
        healthy: 0,
        targets: [expect.stringMatching(/^10\.0\.0\.41:8080 initial \(Elb\.InitialHealthChecking/)],
      });
    } finally {
      via.destroy();
      await proxy.stop();
    }
  });

  test('the cadence: the health check interval, at most 30 s, at least a second, in the endpoint’s time', () => {
    expect([healthPollMs(30), healthPollMs(5), healthPollMs(300), healthPollMs(undefined)]).toEqual([30_000, 5_000, 30_000, 30_000]);
    // The local stack's compressed time: a 10 s interval at ×60 is asked no faster than once a second.
    expect([healthPollMs(10, 60), healthPollMs(30, 10)]).toEqual([1_000, 3_000]);
  });
});

describe('drain before delete', () => {
  /** The waits a drain's heartbeats announce: each distinct deadline, in ms after the drain's start. */
  function waits(beats: unknown[]): number[] {
    const out = new Set<number>();
    for (const b of beats as { startedAt?: number; deadline?: string }[]) {
      if (b.deadline !== undefined && b.startedAt !== undefined) out.add(Date.parse(b.deadline) - b.startedAt);
    }
    return [...out];
  }

  test('refuses while referenced (any listener of the load balancer), then waits the deregistration delay capped by capMs', async () => {
    const seeded = await seed('drn');
    const old = await createGroup(seeded, 'drn-o');
    await aws.elbv2.send(
      new ModifyTargetGroupAttributesCommand({ TargetGroupArn: old, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '2' }] }),
    );
    // Another listener of the same load balancer still forwards to it.
    const other = await secondListener(seeded, 8081, old);
    const refused = await failure(run(acts.drainTargetGroup, [{ listenerArn: seeded.listenerArn, targetGroupArn: old, capMs: 60_000 }]));
    expect(refused.type).toBe(ErrorTypes.TargetGroupStillRouted);
    expect(refused.nonRetryable).toBe(false);
    const notDeleted = await failure(run(acts.deleteTargetGroup, [{ listenerArn: seeded.listenerArn, name: old.split('/')[1] as string }]));
    expect(notDeleted.type).toBe(ErrorTypes.TargetGroupStillRouted);

    await aws.elbv2.send(new ModifyListenerCommand({ ListenerArn: other, DefaultActions: [{ Type: 'forward', TargetGroupArn: seeded.stableTargetGroupArn }] }));
    const t0 = Date.now();
    const full = await run(acts.drainTargetGroup, [{ listenerArn: seeded.listenerArn, targetGroupArn: old, capMs: 60_000 }]);
    expect(full.result).toMatchObject({ delayMs: 2_000, capped: false });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_900);
    expect(full.beats.length).toBeGreaterThan(0);

    expect(waits(full.beats).filter((w) => w !== 2_000)).toEqual([]);

    // What it waits for is read from its heartbeats, not from the wall clock (under load the checks before the wait
    // took longer than the wait): each beat of the wait names the deadline it sleeps to, counted from before the
    // checks. So a wait the checks outlasted announces none (run 25), and none may announce the full delay.
    const capped = await run(acts.drainTargetGroup, [{ listenerArn: seeded.listenerArn, targetGroupArn: old, capMs: 500 }]);
    expect(capped.result).toMatchObject({ delayMs: 2_000, capped: true });
    expect(waits(capped.beats).filter((w) => w !== 500)).toEqual([]);

    // A retry resumes the first attempt's deadline instead of starting over: that deadline has passed, so it does not
    // sleep at all.
    const resumed = await run(acts.drainTargetGroup, [{ listenerArn: seeded.listenerArn, targetGroupArn: old, capMs: 60_000 }], {
      startedAt: Date.now() - 10_000,
      delayMs: 2_000,
    });
    expect(resumed.result).toMatchObject({ delayMs: 2_000, capped: false });
    expect(waits(resumed.beats)).toEqual([]);
    expect((await run(acts.deleteTargetGroup, [{ listenerArn: seeded.listenerArn, name: old.split('/')[1] as string }])).result).toEqual({ deleted: true });
  });
});

describe('several forward actions', () => {
  test('discovers HTTP and HTTPS-style listeners forwarding to one stable group, and refuses when they differ', async () => {
    const seeded = await seed('multi');
    const second = await secondListener(seeded, 8443, seeded.stableTargetGroupArn);
    const { result } = await run(acts.discoverForwards, [{ forwards: [{ listenerArn: seeded.listenerArn }, { listenerArn: second }] }]);
    expect(result.stableTargetGroupArn).toBe(seeded.stableTargetGroupArn);
    expect(result.forwards.map((f) => f.forward)).toEqual([stableOnly(seeded), stableOnly(seeded)]);
    expect(result.targetType).toBe('ip');

    const elsewhere = await createGroup(seeded, 'multi-x');
    await aws.elbv2.send(new ModifyListenerCommand({ ListenerArn: second, DefaultActions: [{ Type: 'forward', TargetGroupArn: elsewhere }] }));
    const err = await failure(run(acts.discoverForwards, [{ forwards: [{ listenerArn: seeded.listenerArn }, { listenerArn: second }] }]));
    expect(err.type).toBe(ErrorTypes.UnsupportedListener);
    expect(err.message).toMatch(/^traffic\[1\] .* forwards to targetgroup\/multi-x.*, traffic\[0\] to targetgroup\//);
  });
});

describe('pair mode', () => {
  test('finds the live group, fills the idle one, and deregisters old targets only once they get no traffic', async () => {
    const seeded = await seed('pair');
    const green = await createGroup(seeded, 'pair-g');
    const pair = { blue: seeded.stableTargetGroupArn, green };
    // Terraform keeps both in the forward action, the idle one at weight 0.
    await forwardLiveAndIdle(aws.elbv2, seeded.listenerArn, pair.blue, green);
    const d = await run(acts.discoverForwards, [{ forwards: [{ listenerArn: seeded.listenerArn }], pair }]);
    expect(d.result.live).toBe('blue');
    expect(d.result.idle).toMatchObject({ role: 'green', targetGroupArn: green, attached: true });
    // Without pair, a weight-0 group in the action is a split a release must not build on.
    expect((await failure(run(acts.discoverForwards, [{ forwards: [{ listenerArn: seeded.listenerArn }] }]))).type).toBe(ErrorTypes.UnsupportedListener);

    const targets = [{ id: '10.0.0.40', port: 8080 }];
    expect((await failure(run(acts.prepareIdleGroup, [{ targetGroupArn: green }]))).type).toBe(ErrorTypes.IdleGroupEmpty);
    const prepared = await run(acts.prepareIdleGroup, [{ targetGroupArn: green, targets }]);
    expect(prepared.result).toEqual({ targets, registered: targets });
    expect((await run(acts.prepareIdleGroup, [{ targetGroupArn: green }])).result.targets).toEqual(targets);
    const stranger = await failure(run(acts.prepareIdleGroup, [{ targetGroupArn: green, targets: [{ id: '10.0.0.41', port: 8080 }] }]));
    expect(stranger.type).toBe(ErrorTypes.IdleGroupNotEmpty);
    expect(stranger.message).toContain('10.0.0.40:8080');

    // Blue still serves: its targets stay.
    const refused = await failure(run(acts.deregisterTargets, [{ listenerArn: seeded.listenerArn, targetGroupArn: pair.blue }]));
    expect(refused.type).toBe(ErrorTypes.TargetGroupStillRouted);
    await run(acts.setForwardWeights, [
      {
        listenerArn: seeded.listenerArn,
        weights: [
          { targetGroupArn: pair.blue, weight: 0 },
          { targetGroupArn: green, weight: 100 },
        ],
        expected: d.result.forwards[0]?.forward,
      },
    ]);
    const gone = await run(acts.deregisterTargets, [{ listenerArn: seeded.listenerArn, targetGroupArn: pair.blue }]);
    expect(gone.result.deregistered.map((t) => t.id).sort()).toEqual(['10.0.0.11', '10.0.1.12']);
    const left = await aws.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: pair.blue }));
    expect(left.TargetHealthDescriptions ?? []).toEqual([]);
    // Nothing was created or deleted.
    const groups = await aws.elbv2.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [pair.blue, green] }));
    expect(groups.TargetGroups).toHaveLength(2);
    // After the swap, green is live.
    expect((await run(acts.discoverForwards, [{ forwards: [{ listenerArn: seeded.listenerArn }], pair }])).result.live).toBe('green');
  });
});

describe('tags and targets', () => {
  test('the canary copy says the new version in copied version tags; retagVersion fixes a promoted group', async () => {
    const seeded = await seed('tags');
    const name = uniqueName('tags-c').slice(0, 32);
    const { result } = await run(acts.ensureTargetGroup, [
      {
        sourceTargetGroupArn: seeded.stableTargetGroupArn,
        name,
        tags: { 'canary:version': 'v2', 'canary:release-id': 'r1' },
        versionTags: { keys: ['version', 'Version', 'app.kubernetes.io/version'], version: 'v2' },
      },
    ]);
    const tagsOf = async (arn: string): Promise<Record<string, string>> =>
      Object.fromEntries(
        ((await aws.elbv2.send(new DescribeTagsCommand({ ResourceArns: [arn] }))).TagDescriptions?.[0]?.Tags ?? []).map((t) => [t.Key, t.Value]),
      );
    expect(await tagsOf(result.targetGroupArn)).toMatchObject({ version: 'v2', 'canary:version': 'v2', service: expect.any(String) });
    expect((await tagsOf(result.targetGroupArn))['app.kubernetes.io/version']).toBeUndefined();

    const retag = await run(acts.retagVersion, [{ targetGroupArn: seeded.stableTargetGroupArn, keys: ['version', 'Version'], version: 'v3' }]);
    expect(retag.result.changed).toEqual(['version']);
    expect((await tagsOf(seeded.stableTargetGroupArn)).version).toBe('v3');
  });

  test('instance-id targets and IP targets outside the VPC (AvailabilityZone all) register; the wrong kind is refused', async () => {
    const seeded = await seed('tgt');
    const ipOutside = [{ id: '192.168.7.7', port: 8080, availabilityZone: 'all' }];
    await run(acts.registerTargets, [{ targetGroupArn: seeded.stableTargetGroupArn, targets: ipOutside }]);
    await run(acts.registerTargets, [{ targetGroupArn: seeded.stableTargetGroupArn, targets: ipOutside }]);
    const h = await aws.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: seeded.stableTargetGroupArn }));
    expect((h.TargetHealthDescriptions ?? []).map((d) => d.Target?.Id)).toContain('192.168.7.7');

    const inst = await aws.ec2.send(new RunInstancesCommand({ ImageId: 'ami-12c6146b', MinCount: 1, MaxCount: 1 }));
    const id = inst.Instances?.[0]?.InstanceId as string;
    const group = await createGroup(seeded, 'tgt-i', 'instance');
    await run(acts.registerTargets, [{ targetGroupArn: group, targets: [{ id }] }]);
    const hi = await aws.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: group }));
    expect(hi.TargetHealthDescriptions?.map((d) => [d.Target?.Id, d.TargetHealth?.State])).toEqual([[id, 'healthy']]);

    const wrong = await failure(run(acts.registerTargets, [{ targetGroupArn: group, targets: [{ id: '10.0.0.5', port: 8080 }] }]));
    expect(wrong.type).toBe(ErrorTypes.TargetTypeMismatch);
    expect(wrong.message).toContain('takes EC2 instance ids (target type instance); 10.0.0.5 is not');
  });
});

describe('accounts and regions', () => {
  test('activities reach the spec region through the client pool', async () => {
    const west = motoClients(testStack.motoEndpoint, 'eu-west-1');
    try {
      const seeded = await seedAlb(west, { name: uniqueName('west').slice(0, 20).replace(/-+$/, '') });
      const ref = { listenerArn: seeded.listenerArn };
      expect((await failure(run(acts.discoverForwards, [{ forwards: [ref] }]))).type).toBe(ErrorTypes.ListenerNotFound);
      const { result } = await run(acts.discoverForwards, [{ forwards: [ref], aws: { region: 'eu-west-1' } }]);
      expect(result.stableTargetGroupArn).toBe(seeded.stableTargetGroupArn);
    } finally {
      west.destroy();
    }
  });

  test('the analysis reads CloudWatch in the spec region', async () => {
    const west = motoClients(testStack.motoEndpoint, 'eu-west-2');
    try {
      const dims = { targetGroup: `targetgroup/${uniqueName('cw')}/0123456789abcdef`, loadBalancer: 'app/west-alb/0123456789abcdef' };
      await publishTraffic(west, dims, 200, 40);
      const req = {
        templateName: 'errors',
        template: AnalysisTemplate.parse(errorRateTemplate(0.05)),
        variants: { canary: dims, stable: dims },
        count: 1,
        intervalMs: 1_000,
      };
      expect((await run(acts.runAnalysis, [req])).result.verdict).toBe('inconclusive');
      const there = await run(acts.runAnalysis, [{ ...req, aws: { region: 'eu-west-2' } }]);
      expect(there.result.verdict).toBe('fail');
      expect(there.result.last?.metrics[0]?.canary).toBeCloseTo(0.2);
    } finally {
      west.destroy();
    }
  });

  test('a release with roleArn works in the role account through STS AssumeRole, credentials never in the result', async () => {
    const account = '111111111111';
    const scope = { region: 'us-east-1', roleArn: `arn:aws:iam::${account}:role/canary-release`, externalId: 'ci-4711' };
    // Seed the other account's ALB as its owner would (moto keeps state per account, found from the access key).
    const owner = await clientsAssuming(testStack.motoEndpoint, scope.roleArn);
    const seeded = await seedElbOnly(owner);
    owner.destroy();
    expect(seeded.listenerArn).toContain(`:${account}:`);
    expect((await failure(run(acts.readForward, [{ listenerArn: seeded.listenerArn }]))).type).toBe(ErrorTypes.ListenerNotFound);
    const { result } = await run(acts.readForward, [{ listenerArn: seeded.listenerArn, aws: scope }]);
    expect(result.forward?.targetGroups).toEqual([{ targetGroupArn: seeded.targetGroupArn, weight: 1 }]);
    expect(JSON.stringify(result)).not.toMatch(/ASIA|secret|token/i);
    // One assumed session per scope, reused.
    expect(await aws.clientsFor(scope)).toStrictEqual(await aws.clientsFor({ ...scope }));
  });
});

test('assumed-role credentials are reused, and renewed five minutes before they expire', async () => {
  const sts = new STSClient({ region: 'us-east-1', endpoint: testStack.motoEndpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  let clock = Date.now();
  const provider = assumedRoleCredentials(sts, { roleArn: 'arn:aws:iam::222222222222:role/canary' }, () => clock);
  const [a, b] = await Promise.all([provider(), provider()]);
  expect(b.accessKeyId).toBe(a.accessKeyId);
  expect(a.expiration?.getTime()).toBeGreaterThan(clock + 50 * 60_000);
  clock = (a.expiration?.getTime() ?? 0) - REFRESH_BEFORE_EXPIRY_MS - 1_000;
  expect((await provider()).accessKeyId).toBe(a.accessKeyId);
  clock += 2_000;
  expect((await provider()).accessKeyId).not.toBe(a.accessKeyId);
  sts.destroy();
});

/** A load balancer in the account `via` is in: moto's ELBv2 needs that account's own VPC and subnets. */
async function seedElbOnly(via: { elbv2: AwsClients['elbv2']; ec2: AwsClients['ec2'] }): Promise<{ listenerArn: string; targetGroupArn: string }> {
  const vpc = await via.ec2.send(new CreateVpcCommand({ CidrBlock: '10.2.0.0/16' }));
  const vpcId = vpc.Vpc?.VpcId as string;
  const subnets: string[] = [];
  for (const [i, az] of ['a', 'b'].entries()) {
    const s = await via.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `10.2.${i}.0/24`, AvailabilityZone: `us-east-1${az}` }));
    subnets.push(s.Subnet?.SubnetId as string);
  }
  const name = uniqueName('acct').slice(0, 20);
  const lb = await via.elbv2.send(new CreateLoadBalancerCommand({ Name: name, Subnets: subnets, Type: 'application', Scheme: 'internal' }));
  const tg = await via.elbv2.send(
    new CreateTargetGroupCommand({ Name: `${name}-tg`.slice(0, 32), Protocol: 'HTTP', Port: 8080, VpcId: vpcId, TargetType: 'ip' }),
  );
  const targetGroupArn = tg.TargetGroups?.[0]?.TargetGroupArn as string;
  await via.elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: targetGroupArn, Targets: [{ Id: '10.2.0.10', Port: 8080 }] }));
  const l = await via.elbv2.send(
    new CreateListenerCommand({
      LoadBalancerArn: lb.LoadBalancers?.[0]?.LoadBalancerArn,
      Protocol: 'HTTP',
      Port: 80,
      DefaultActions: [{ Type: 'forward', TargetGroupArn: targetGroupArn }],
    }),
  );
  return { listenerArn: l.Listeners?.[0]?.ListenerArn as string, targetGroupArn };
}
