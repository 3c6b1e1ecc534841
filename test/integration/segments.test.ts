/**
 * Segment rules against moto: created at a free priority ahead of the service's forward, idempotent, collisions and
 * a full load balancer refused before anything changes, drift detected, deletion leaving the listener exactly as it
 * was; and the simulator routing a segment's requests to the canary by the real rule it reads back.
 */
import {
  CreateRuleCommand,
  CreateTargetGroupCommand,
  DeleteRuleCommand,
  DescribeRulesCommand,
  DescribeTagsCommand,
  ModifyRuleCommand,
  type RuleTransform,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { createAlbRealism } from '../../dev/alb-realism';
import { startFaultProxy } from '../../dev/fault-proxy';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities } from '../../activities';
import type { SegmentRuleRequest } from '../../activities/contract';
import { seedAlb, type SeededAlb } from '../../dev/seed';
import { startSimulator, type SimulatorTick } from '../../dev/simulator';
import { testAws, testStack, uniqueName } from '../support/env';
import { motoClients } from '../../activities/aws-clients';
import { clientsAssuming, roleIn } from '../support/accounts';

const aws = testAws();
const direct = motoClients(testStack.motoEndpoint);
afterAll(() => {
  aws.destroy();
  direct.destroy();
});
const act = createActivities({ elbv2: aws.elbv2, cloudwatch: aws.cloudwatch });

async function seed(withRule: boolean): Promise<{ seeded: SeededAlb; canary: string; name: string }> {
  const name = uniqueName('seg').slice(0, 20).replace(/-+$/, '');
  const seeded = await seedAlb(aws, { name, withRule });
  const tg = await aws.elbv2.send(
    new CreateTargetGroupCommand({
      Name: `${name}-v2`.slice(0, 32),
      Protocol: 'HTTP',
      Port: 8080,
      VpcId: seeded.vpcId,
      TargetType: 'ip',
      Tags: [{ Key: 'canary:version', Value: 'v2' }],
    }),
  );
  return { seeded, canary: tg.TargetGroups?.[0]?.TargetGroupArn as string, name };
}

/** The listener's rules as Describe answers them, in priority order: what "exactly as before" compares. */
async function rulesOf(listenerArn: string): Promise<unknown[]> {
  const out = await aws.elbv2.send(new DescribeRulesCommand({ ListenerArn: listenerArn }));
  const rules = JSON.parse(JSON.stringify(out.Rules ?? [])) as { Priority: string }[];
  return rules.sort((a, b) => (a.Priority === 'default' ? 1 : b.Priority === 'default' ? -1 : Number(a.Priority) - Number(b.Priority)));
}

/** Someone's own rule, written straight to moto (seeding 99 of them through the realism proxy takes minutes). */
async function handRule(listenerArn: string, priority: number, path = '/elsewhere/*'): Promise<string> {
  const out = await direct.elbv2.send(
    new CreateRuleCommand({
      ListenerArn: listenerArn,
      Priority: priority,
      Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: [path] } }],
      Actions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '418', ContentType: 'text/plain' } }],
    }),
  );
  return out.Rules?.[0]?.RuleArn as string;
}

/** The ApplicationFailure type an activity call failed with. */
async function failureOf(p: Promise<unknown>): Promise<{ type: string; message: string; nonRetryable: boolean; details: unknown[] }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApplicationFailure)
      return { type: err.type ?? '', message: err.message, nonRetryable: err.nonRetryable ?? false, details: [...(err.details ?? [])] };
    throw err;
  }
  throw new Error('expected the activity to fail');
}

function request(seeded: SeededAlb, canary: string, over: Partial<SegmentRuleRequest> = {}): SegmentRuleRequest {
  return {
    listenerArn: seeded.listenerArn,
    ruleArn: seeded.ruleArn,
    releaseId: `release-${seeded.stableTargetGroupName}/run-1`,
    name: 'staff',
    match: { sourceIp: ['10.20.0.0/16'] },
    canaryTargetGroupArn: canary,
    tags: { 'canary:service': 'checkout' },
    ...over,
  };
}

describe('segment rules on a real (moto) listener', () => {
  it('creates the rule at the highest free priority ahead of the service rule, idempotently, and deletes it back to the exact listener', async () => {
    const { seeded, canary, name } = await seed(true);
    // Someone else's rule right ahead of the service's (priority 10): the segment goes below it, never onto it.
    await handRule(seeded.listenerArn, 9);
    const before = await rulesOf(seeded.listenerArn);
    const req = request(seeded, canary);

    const room = await act.checkSegmentRoom({ ...req, segments: [req], concurrent: 1 });
    expect(room).toEqual({ rulesOnLoadBalancer: 2, limit: 100, needed: 1, servicePriority: 10 });
    const plan = await act.planSegmentRule(req);
    expect(plan).toEqual({ priority: 8 });
    expect(await rulesOf(seeded.listenerArn)).toEqual(before);

    const rule = await act.ensureSegmentRule({ ...req, priority: plan.priority });
    expect(rule).toMatchObject({ priority: 8, created: true, actionTypes: ['forward'] });
    const again = await act.ensureSegmentRule({ ...req, priority: plan.priority });
    expect(again).toEqual({ ...rule, created: false });
    expect(await act.planSegmentRule(req)).toEqual({ priority: 8, existingRuleArn: rule.ruleArn });

    const described = (await aws.elbv2.send(new DescribeRulesCommand({ RuleArns: [rule.ruleArn] }))).Rules?.[0];
    expect(described?.Priority).toBe('8');
    expect(described?.Conditions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Field: 'path-pattern', PathPatternConfig: { Values: [`/${name}/*`] } }),
        expect.objectContaining({ Field: 'source-ip', SourceIpConfig: { Values: ['10.20.0.0/16'] } }),
      ]),
    );
    expect(described?.Actions?.[0]?.ForwardConfig?.TargetGroups).toEqual([{ TargetGroupArn: canary, Weight: 100 }]);
    const tags = (await aws.elbv2.send(new DescribeTagsCommand({ ResourceArns: [rule.ruleArn] }))).TagDescriptions?.[0]?.Tags;
    expect(tags).toEqual(
      expect.arrayContaining([
        { Key: 'canary:release-id', Value: req.releaseId },
        { Key: 'canary:role', Value: 'segment' },
        { Key: 'canary:segment', Value: 'staff' },
      ]),
    );
    await act.checkSegmentRule({ listenerArn: seeded.listenerArn, name: 'staff', rule, canaryTargetGroupArn: canary });

    // Found by its tags when the ARN was never recorded (a crash between create and record).
    expect(await act.deleteSegmentRule({ listenerArn: seeded.listenerArn, releaseId: req.releaseId, name: 'staff' })).toEqual({ deleted: true });
    expect(await act.deleteSegmentRule({ listenerArn: seeded.listenerArn, releaseId: req.releaseId, name: 'staff', ruleArn: rule.ruleArn })).toEqual({
      deleted: false,
    });
    expect(await rulesOf(seeded.listenerArn)).toEqual(before);
  });

  it('puts a segment for a listener default after every other rule, and leaves rules of other releases alone', async () => {
    const { seeded, canary } = await seed(false);
    await handRule(seeded.listenerArn, 50_000);
    const req = request(seeded, canary, { match: { cookie: { name: 'beta', value: '1' } }, name: 'beta' });
    const rule = await act.ensureSegmentRule({ ...req, priority: (await act.planSegmentRule(req)).priority });
    expect(rule.priority).toBe(49_999);
    expect(rule.conditions).toEqual([{ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'Cookie', Values: ['*beta=1*'] } }]);
    // Another release's rule of the same name is not ours to delete.
    expect(await act.deleteSegmentRule({ listenerArn: seeded.listenerArn, releaseId: 'release-other/run-9', name: 'beta' })).toEqual({ deleted: false });
    const notOurs = await failureOf(
      act.deleteSegmentRule({ listenerArn: seeded.listenerArn, releaseId: 'release-other/run-9', name: 'beta', ruleArn: rule.ruleArn }),
    );
    expect(notOurs).toMatchObject({ type: 'SegmentRuleNotOurs', nonRetryable: true });
    expect((await aws.elbv2.send(new DescribeRulesCommand({ RuleArns: [rule.ruleArn] }))).Rules).toHaveLength(1);
    expect(await act.deleteSegmentRule({ listenerArn: seeded.listenerArn, releaseId: req.releaseId, name: 'beta', ruleArn: rule.ruleArn })).toEqual({
      deleted: true,
    });
  });

  it('refuses a priority taken by hand between the plan and the write, and overwrites nothing', async () => {
    const { seeded, canary } = await seed(true);
    const req = request(seeded, canary);
    const plan = await act.planSegmentRule(req);
    const theirs = await handRule(seeded.listenerArn, plan.priority);
    const before = await rulesOf(seeded.listenerArn);

    const refused = await failureOf(act.ensureSegmentRule({ ...req, priority: plan.priority }));
    expect(refused).toMatchObject({ type: 'SegmentPriorityTaken', nonRetryable: true });
    expect(refused.message).toContain(`priority ${plan.priority} was free when planned and is now taken by ${theirs}`);
    expect(await rulesOf(seeded.listenerArn)).toEqual(before);
  });

  it('refuses, before anything changes, a listener without a free priority ahead of the service rule', async () => {
    const { seeded, canary } = await seed(true);
    for (let p = 1; p <= 9; p++) await handRule(seeded.listenerArn, p, `/p${p}/*`);
    const before = await rulesOf(seeded.listenerArn);
    const req = request(seeded, canary);
    const refused = await failureOf(act.checkSegmentRoom({ ...req, segments: [req], concurrent: 1 }));
    expect(refused).toMatchObject({ type: 'NoRoomForSegmentRule', nonRetryable: true });
    expect(refused.message).toContain('only 0 free priorities below rule');
    expect(await failureOf(act.planSegmentRule(req))).toMatchObject({ type: 'NoRoomForSegmentRule' });
    expect(await rulesOf(seeded.listenerArn)).toEqual(before);
  });

  it("refuses, before anything changes, a load balancer at its rules quota (DescribeAccountLimits' 100)", async () => {
    const { seeded, canary } = await seed(false);
    for (let p = 1; p <= 99; p++) await handRule(seeded.listenerArn, p, `/p${p}/*`);
    const req = request(seeded, canary);
    // 99 rules: room for one segment, not for two at once.
    expect(await act.checkSegmentRoom({ ...req, segments: [req], concurrent: 1 })).toMatchObject({ rulesOnLoadBalancer: 99, limit: 100, needed: 1 });
    const two = await failureOf(act.checkSegmentRoom({ ...req, segments: [req], concurrent: 2 }));
    expect(two.message).toContain('has 99 listener rules and its quota is 100 (DescribeAccountLimits); the release needs 2 more');
    await handRule(seeded.listenerArn, 100, '/p100/*');
    const before = await rulesOf(seeded.listenerArn);
    expect(await failureOf(act.checkSegmentRoom({ ...req, segments: [req], concurrent: 1 }))).toMatchObject({
      type: 'NoRoomForSegmentRule',
      nonRetryable: true,
    });
    expect(await failureOf(act.planSegmentRule(req))).toMatchObject({ type: 'NoRoomForSegmentRule' });
    expect(await failureOf(act.ensureSegmentRule({ ...req, priority: 200 }))).toMatchObject({ type: 'NoRoomForSegmentRule' });
    expect(await rulesOf(seeded.listenerArn)).toEqual(before);
  });

  it('reports a segment rule changed or deleted by someone else as SegmentRuleDrifted', async () => {
    const { seeded, canary } = await seed(true);
    const req = request(seeded, canary);
    const rule = await act.ensureSegmentRule({ ...req, priority: (await act.planSegmentRule(req)).priority });
    const check = () => act.checkSegmentRule({ listenerArn: seeded.listenerArn, name: 'staff', rule, canaryTargetGroupArn: canary });
    await aws.elbv2.send(
      new ModifyRuleCommand({
        RuleArn: rule.ruleArn,
        Conditions: [...rule.conditions.slice(0, 1), { Field: 'source-ip', SourceIpConfig: { Values: ['0.0.0.0/1'] } }],
      }),
    );
    const changed = await failureOf(check());
    expect(changed).toMatchObject({ type: 'SegmentRuleDrifted', nonRetryable: true });
    expect(changed.message).toContain('its conditions are');
    // What the rule is now, for a workflow that adopts the change.
    expect(changed.details[0]).toMatchObject({
      ruleArn: rule.ruleArn,
      priority: rule.priority,
      conditions: expect.arrayContaining([{ Field: 'source-ip', SourceIpConfig: { Values: ['0.0.0.0/1'] } }]),
    });
    await aws.elbv2.send(new DeleteRuleCommand({ RuleArn: rule.ruleArn }));
    const gone = await failureOf(check());
    expect(gone.message).toContain('it no longer exists');
    expect(gone.details).toEqual([null]);
  });

  it('copies the service rule’s Transforms (URL and host-header rewrite) into the segment rule, and sees them changed as drift', async () => {
    // moto drops Transforms; the realism layer keeps them (a layer of this test's own, whatever CANARY_REALISM says).
    const proxy = await startFaultProxy({
      target: testStack.motoEndpoint,
      realism: createAlbRealism({ motoEndpoint: testStack.motoEndpoint, timeScale: testStack.timeScale }),
    });
    const via = motoClients(proxy.endpoint);
    const acts = createActivities({ elbv2: via.elbv2, cloudwatch: via.cloudwatch });
    try {
      const { seeded, canary, name } = await seed(true);
      const service = (await via.elbv2.send(new DescribeRulesCommand({ RuleArns: [seeded.ruleArn as string] }))).Rules?.[0];
      const transforms: RuleTransform[] = [
        { Type: 'url-rewrite', UrlRewriteConfig: { Rewrites: [{ Regex: `^/${name}/(.*)$`, Replace: '/$1' }] } },
        { Type: 'host-header-rewrite', HostHeaderRewriteConfig: { Rewrites: [{ Regex: '^shop\\.(.*)$', Replace: 'checkout.$1' }] } },
      ];
      await via.elbv2.send(new ModifyRuleCommand({ RuleArn: seeded.ruleArn, Conditions: service?.Conditions, Transforms: transforms }));
      const req = request(seeded, canary);

      await acts.checkSegmentRoom({ ...req, segments: [req], concurrent: 1 });
      const rule = await acts.ensureSegmentRule({ ...req, priority: (await acts.planSegmentRule(req)).priority });
      const described = (await via.elbv2.send(new DescribeRulesCommand({ RuleArns: [rule.ruleArn] }))).Rules?.[0];
      expect(described?.Transforms).toEqual(transforms);
      expect(rule.copied).toEqual({ Transforms: transforms });
      expect(await acts.ensureSegmentRule({ ...req, priority: rule.priority })).toEqual({ ...rule, created: false });

      // Someone removes the rewrite from the segment rule: its users would reach the canary un-rewritten.
      await via.elbv2.send(new ModifyRuleCommand({ RuleArn: rule.ruleArn, Conditions: described?.Conditions, ResetTransforms: true }));
      const changed = await failureOf(acts.checkSegmentRule({ listenerArn: seeded.listenerArn, name: 'staff', rule, canaryTargetGroupArn: canary }));
      expect(changed).toMatchObject({ type: 'SegmentRuleDrifted', nonRetryable: true });
      expect(changed.message).toContain('Transforms');
      expect(await acts.deleteSegmentRule({ listenerArn: seeded.listenerArn, releaseId: req.releaseId, name: 'staff', ruleArn: rule.ruleArn })).toEqual({
        deleted: true,
      });
    } finally {
      via.destroy();
      await proxy.stop();
    }
  });
});

describe("segment rules in the release's account and region", () => {
  it('plans, creates, checks and deletes the rule on a listener of the role account (aws.roleArn), and nowhere else', async () => {
    const scope = { region: 'us-east-1', roleArn: roleIn('444455556666'), externalId: 'seg-1' };
    const owner = await clientsAssuming(testStack.awsEndpoint, scope.roleArn);
    try {
      const name = uniqueName('sacct').slice(0, 20).replace(/-+$/, '');
      const seeded = await seedAlb(owner, { name, withRule: true });
      expect(seeded.listenerArn).toContain(':444455556666:');
      const tg = await owner.elbv2.send(
        new CreateTargetGroupCommand({ Name: `${name}-v2`, Protocol: 'HTTP', Port: 8080, VpcId: seeded.vpcId, TargetType: 'ip' }),
      );
      const canary = tg.TargetGroups?.[0]?.TargetGroupArn as string;
      const rulesThere = async (): Promise<unknown[]> =>
        (await owner.elbv2.send(new DescribeRulesCommand({ ListenerArn: seeded.listenerArn }))).Rules?.map((r) => r.RuleArn) ?? [];
      const before = await rulesThere();
      // The worker's pool (createAwsClients) resolves the scope to the assumed role's clients.
      const scoped = createActivities(aws);
      const req = { ...request(seeded, canary), aws: scope };

      const room = await scoped.checkSegmentRoom({ ...req, segments: [{ name: 'staff', match: req.match }], concurrent: 1 });
      expect(room).toMatchObject({ needed: 1, servicePriority: 10 });
      const plan = await scoped.planSegmentRule(req);
      const rule = await scoped.ensureSegmentRule({ ...req, priority: plan.priority });
      expect(rule).toMatchObject({ priority: 9, created: true });
      expect(rule.ruleArn).toContain(':444455556666:');
      expect(await rulesThere()).toContain(rule.ruleArn);
      await scoped.checkSegmentRule({ listenerArn: seeded.listenerArn, name: 'staff', rule, canaryTargetGroupArn: canary, aws: scope });
      expect(await scoped.deleteSegmentRule({ listenerArn: seeded.listenerArn, releaseId: req.releaseId, name: 'staff', aws: scope })).toEqual({
        deleted: true,
      });
      expect(await rulesThere()).toEqual(before);
      // Without the scope the worker's own account is asked, where this listener does not exist.
      expect(await failureOf(scoped.planSegmentRule({ ...req, aws: undefined }))).toMatchObject({ type: 'ListenerNotFound' });
    } finally {
      owner.destroy();
    }
  });
});

describe('the simulator routes segment traffic by the real rule', () => {
  it("sends the staff share to the canary through the segment rule while the service's weights keep everyone else on stable", async () => {
    const { seeded, canary } = await seed(true);
    const req = request(seeded, canary);
    const ticks: SimulatorTick[] = [];
    const sim = startSimulator({
      aws,
      listenerArn: seeded.listenerArn,
      ruleArn: seeded.ruleArn,
      requestsPerSecond: 400,
      tickMs: 100,
      profiles: { v2: { errorRate: 1, latencyMs: 300 } },
      population: { groups: [{ name: 'staff', share: 0.25, request: { sourceIp: '10.20.3.4' } }] },
      onTick: (t) => ticks.push(t),
    });
    const waitTicks = async (n: number): Promise<SimulatorTick[]> => {
      const from = ticks.length;
      const deadline = Date.now() + 20_000;
      while (ticks.length < from + n) {
        if (Date.now() > deadline) throw new Error(`no ${n} ticks in 20 s: ${sim.lastError()?.message}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return ticks.slice(from, from + n);
    };
    try {
      const before = await waitTicks(3);
      for (const t of before) {
        expect(t.error).toBeUndefined();
        // No segment rule yet: the canary is not even in the forward action, everything reaches stable.
        expect(t.split.map((s) => s.targetGroupArn)).toEqual([seeded.stableTargetGroupArn]);
        expect(t.split[0]?.requests).toBe(40);
      }

      const rule = await act.ensureSegmentRule({ ...req, priority: (await act.planSegmentRule(req)).priority });
      await waitTicks(1);
      const during = await waitTicks(5);
      for (const t of during) {
        expect(t.error).toBeUndefined();
        const toCanary = t.split.find((s) => s.targetGroupArn === canary);
        const toStable = t.split.find((s) => s.targetGroupArn === seeded.stableTargetGroupArn);
        expect(toCanary).toMatchObject({ requests: 10, version: 'v2', classShares: { staff: 0.25 } });
        // The bad canary's errors come only from the staff it was given.
        expect(toCanary?.errors).toBe(10);
        expect(toStable).toMatchObject({ requests: 30, errors: 0, classShares: { everyone: 0.75 } });
      }

      await act.deleteSegmentRule({ listenerArn: seeded.listenerArn, releaseId: req.releaseId, name: 'staff', ruleArn: rule.ruleArn });
      await waitTicks(1);
      for (const t of await waitTicks(2)) expect(t.split.map((s) => [s.targetGroupArn, s.requests])).toEqual([[seeded.stableTargetGroupArn, 40]]);
    } finally {
      await sim.stop();
    }
    expect(sim.errors()).toBe(0);
  });
});
