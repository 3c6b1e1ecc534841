/**
 * Releases with segment steps against the dev server and moto: groups reach the canary through listener rules the
 * workflow creates, drift-checks and removes; a bad canary judged on its segment's traffic alone rolls back with the
 * listener's rules exactly as before; a hand-made collision is detected, never overwritten.
 */
import { CreateRuleCommand, DescribeRulesCommand, DescribeTagsCommand, SetRulePrioritiesCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { actions, startRelease } from '../../client/release-client';
import { Tags } from '../../activities/contract';
import { statusQuery } from '../../common/messages';
import { localMetricTiming } from '../../dev/scenarios';
import { startSimulator } from '../../dev/simulator';
import { errorRateTemplate, forwardActions, releaseTestEnvironment, seedService, targetGroupsOf, testSpec, waitForStatus } from '../support/release-fixture';

const env = releaseTestEnvironment();
const aws = env.aws;

const staff = { segment: { name: 'staff', match: { sourceIp: ['10.20.0.0/16'] } } };
const beta = { segment: { name: 'beta', match: { cookie: { name: 'beta', value: '1' } } } };

interface RuleView {
  arn: string;
  priority: string;
  conditions: unknown;
  actions: unknown;
}

/** The listener's rules as Describe answers them, in priority order (default last). */
async function rulesOf(listenerArn: string): Promise<RuleView[]> {
  const out = await aws.elbv2.send(new DescribeRulesCommand({ ListenerArn: listenerArn }));
  const rules = (out.Rules ?? []).map(
    (r) => JSON.parse(JSON.stringify({ arn: r.RuleArn, priority: r.Priority, conditions: r.Conditions, actions: r.Actions })) as RuleView,
  );
  const rank = (p: string): number => (p === 'default' ? Infinity : Number(p));
  return rules.sort((a, b) => rank(a.priority) - rank(b.priority));
}

async function segmentTags(arns: string[]): Promise<Record<string, string>[]> {
  if (!arns.length) return [];
  const out = await aws.elbv2.send(new DescribeTagsCommand({ ResourceArns: arns }));
  return (out.TagDescriptions ?? []).map((d) => Object.fromEntries((d.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])));
}

async function handRule(listenerArn: string, priority: number, path: string): Promise<string> {
  const out = await aws.elbv2.send(
    new CreateRuleCommand({
      ListenerArn: listenerArn,
      Priority: priority,
      Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: [path] } }],
      Actions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '418', ContentType: 'text/plain' } }],
    }),
  );
  return out.Rules?.[0]?.RuleArn as string;
}

const forwardTo = (actionsJson: unknown): { TargetGroupArn?: string; Weight?: number }[] =>
  ((actionsJson as { ForwardConfig?: { TargetGroups?: { TargetGroupArn?: string; Weight?: number }[] } }[])[0]?.ForwardConfig?.TargetGroups ?? []).map((t) => ({
    TargetGroupArn: t.TargetGroupArn,
    Weight: t.Weight,
  }));

// The tests run concurrently (each on a service of its own, sharing the file's worker): their waits overlap.
describe('segment steps in a release', () => {
  it.concurrent('goes staff (source IP) → beta (cookie) → 10% → 100% and promotes with no segment rule left', async () => {
    const { service, seeded } = await seedService(aws, 'segok', { withRule: true });
    const before = await rulesOf(seeded.listenerArn);
    const spec = testSpec(seeded, service, {
      steps: [staff, beta, { pause: {} }, { endSegment: 'staff' }, { setWeight: 10 }, { pause: {} }, { setWeight: 100 }],
    });
    const handle = await startRelease(env.client, spec, { taskQueue: env.taskQueue });

    const both = await waitForStatus(handle, (s) => s.gate?.kind === 'pause' && s.gate.step === 2);
    // Only the two groups reach the canary: its weight in the service's forward is still 0.
    expect(both.verifiedWeights).toEqual({ stable: 100, canary: 0 });
    expect(both.segments?.map((s) => [s.name, s.step])).toEqual([
      ['staff', 0],
      ['beta', 1],
    ]);
    const canaryArn = both.targetGroups.find((t) => t.role === 'canary')?.arn as string;
    const during = await rulesOf(seeded.listenerArn);
    const added = during.filter((r) => !before.some((b) => b.arn === r.arn));
    expect(added.map((r) => r.arn).sort()).toEqual((both.segments ?? []).map((s) => s.ruleArn).sort());
    for (const r of added) {
      // Ahead of the service's rule (priority 10), forwarding everything it matches to the canary.
      expect(Number(r.priority)).toBeLessThan(10);
      expect(forwardTo(r.actions)).toEqual([{ TargetGroupArn: canaryArn, Weight: 100 }]);
    }
    expect(JSON.stringify(added.map((r) => r.conditions))).toContain('10.20.0.0/16');
    expect(JSON.stringify(added.map((r) => r.conditions))).toContain('*beta=1*');
    expect((await segmentTags(added.map((r) => r.arn))).map((t) => t[Tags.segment]).sort()).toEqual(['beta', 'staff']);
    expect(both.rollbackPlan.slice(0, 2).map((p) => p.description)).toEqual([
      'remove segment rule beta and verify it is gone',
      'remove segment rule staff and verify it is gone',
    ]);
    await actions.resume(env.client, handle.workflowId, { by: 'alice' });

    const weighted = await waitForStatus(handle, (s) => s.gate?.kind === 'pause' && s.gate.step === 5);
    expect(weighted.segments?.map((s) => s.name)).toEqual(['beta']);
    expect(weighted.verifiedWeights).toEqual({ stable: 90, canary: 10 });
    const staffArn = both.segments?.find((s) => s.name === 'staff')?.ruleArn;
    expect((await rulesOf(seeded.listenerArn)).map((r) => r.arn)).not.toContain(staffArn);
    await actions.resume(env.client, handle.workflowId, { by: 'alice' });

    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'promoted', stepsCompleted: 7 });
    expect(result.warnings).toBeUndefined();
    const after = await rulesOf(seeded.listenerArn);
    // The same rules as before the release; only the service's forward now names the canary.
    expect(after.map((r) => [r.arn, r.priority, r.conditions])).toEqual(before.map((r) => [r.arn, r.priority, r.conditions]));
    expect(forwardTo(after[0]?.actions)).toEqual([{ TargetGroupArn: canaryArn, Weight: 100 }]);
    const status = await handle.query(statusQuery);
    expect(status.segments ?? []).toEqual([]);
    expect(status.timeline.map((t) => t.action)).toEqual(expect.arrayContaining(['segment', 'endSegment', 'remove segment rule']));
    expect(status.timeline.find((t) => t.action === 'remove segment rule')?.detail).toBe('beta: removed (verified)');
  });

  it.concurrent('rolls back a bad canary caught while only the staff segment reaches it, leaving the listener rules exactly as before', async () => {
    const { service, seeded } = await seedService(aws, 'segbad', { withRule: true });
    const before = await rulesOf(seeded.listenerArn);
    const tgBefore = await targetGroupsOf(aws, seeded);
    const sim = startSimulator({
      aws,
      listenerArn: seeded.listenerArn,
      ruleArn: seeded.ruleArn,
      requestsPerSecond: 400,
      tickMs: 250,
      profiles: { v1: { errorRate: 0, latencyMs: 40 }, v2: { errorRate: 0.5, latencyMs: 45 } },
      population: { groups: [{ name: 'staff', share: 0.2, request: { sourceIp: '10.20.3.4' } }] },
      // ALB-shaped metrics (the simulator's default): buckets of a compressed minute, delivered late, no zero 5xx.
    });
    try {
      const { periodSeconds, delay } = localMetricTiming();
      const errors = errorRateTemplate(0.05, { count: 1, interval: `${periodSeconds}s`, window: `${4 * periodSeconds}s`, delay }, periodSeconds);
      // The analysis right after the segment, as in the README: it waits for a window of buckets the rule fed.
      const spec = testSpec(seeded, service, {
        steps: [staff, { analysis: { template: 'errors' } }, { setWeight: 50 }, { setWeight: 100 }],
        analysis: { errors },
      });
      const handle = await startRelease(env.client, spec, { taskQueue: env.taskQueue });
      const result = await handle.result();

      expect(result.outcome).toBe('rolled-back');
      expect(result.reason).toMatch(/analysis errors failed at step 1: .*5xx-rate = 0\.\d+, needs <= 0\.05/);
      const status = await handle.query(statusQuery);
      // The canary never had weight: what the analysis judged came through the staff rule alone.
      expect(status.timeline.filter((t) => t.action === 'setWeight')).toEqual([]);
      expect(status.analysis?.verdict).toBe('fail');
      // Judged on ALB-shaped buckets the staff rule fed: the window starts after the rule was in place.
      const ruleAt = Date.parse(status.timeline.find((t) => t.action === 'segment')?.at ?? '');
      const judged = status.analysis?.last?.window;
      expect(judged?.periodSeconds).toBe(periodSeconds);
      expect(Date.parse(judged?.start ?? '')).toBeGreaterThanOrEqual(ruleAt);
      expect(status.timeline.find((t) => t.action === 'analysis errors: first window')?.detail).toMatch(
        /^waits \d+(\.\d+)?s for buckets after the traffic change$/,
      );
      // The segment rule goes first, before the forward action is restored.
      const undo = status.timeline.map((t) => t.action).filter((a) => a === 'remove segment rule' || a === 'restored pre-release traffic');
      expect(undo).toEqual(['remove segment rule', 'restored pre-release traffic']);
      expect(status.segments ?? []).toEqual([]);
      expect(await rulesOf(seeded.listenerArn)).toEqual(before);
      expect((await targetGroupsOf(aws, seeded)).map((g) => g.name)).toEqual(tgBefore.map((g) => g.name));
    } finally {
      await sim.stop();
    }
  });

  it.concurrent('stops at the drift gate when someone moves the segment rule and takes its priority, and rolls back without touching their rule', async () => {
    const { service, seeded } = await seedService(aws, 'segcol', { withRule: true });
    const before = await rulesOf(seeded.listenerArn);
    const spec = testSpec(seeded, service, { steps: [staff, { pause: {} }, { setWeight: 10 }, { setWeight: 100 }] });
    const handle = await startRelease(env.client, spec, { taskQueue: env.taskQueue });
    const paused = await waitForStatus(handle, (s) => s.gate?.kind === 'pause');
    const ours = paused.segments?.[0];
    expect(ours).toMatchObject({ name: 'staff', priority: 9 });

    // By hand: our rule moved to 5, someone's own rule put at 9.
    await aws.elbv2.send(new SetRulePrioritiesCommand({ RulePriorities: [{ RuleArn: ours?.ruleArn, Priority: 5 }] }));
    const theirs = await handRule(seeded.listenerArn, 9, '/theirs/*');
    const withTheirs = await rulesOf(seeded.listenerArn);
    await actions.resume(env.client, handle.workflowId, { by: 'alice' });

    const drift = await waitForStatus(handle, (s) => s.gate?.kind === 'drift');
    expect(drift.gate?.detail).toContain('its priority is 5, the release wrote 9');
    // Nothing was written past the check: no weight, and every rule as the person left it.
    expect(drift.verifiedWeights).toEqual({ stable: 100, canary: 0 });
    expect(await rulesOf(seeded.listenerArn)).toEqual(withTheirs);
    await actions.abort(env.client, handle.workflowId, { by: 'bob', reason: 'someone is editing the listener' });

    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'aborted', by: 'bob' });
    const after = await rulesOf(seeded.listenerArn);
    expect(after.map((r) => r.arn)).toContain(theirs);
    expect(after.map((r) => r.arn)).not.toContain(ours?.ruleArn);
    expect(after.filter((r) => r.arn !== theirs)).toEqual(before);
    expect(after.find((r) => r.arn === theirs)?.priority).toBe('9');
  });

  it.concurrent('adopts a moved segment rule when someone resumes at the drift gate, and removes it at promotion', async () => {
    const { service, seeded } = await seedService(aws, 'segadopt', { withRule: true });
    const before = await rulesOf(seeded.listenerArn);
    const spec = testSpec(seeded, service, { steps: [staff, { pause: {} }, { setWeight: 10 }, { setWeight: 100 }] });
    const handle = await startRelease(env.client, spec, { taskQueue: env.taskQueue });
    const ours = (await waitForStatus(handle, (s) => s.gate?.kind === 'pause')).segments?.[0];
    await aws.elbv2.send(new SetRulePrioritiesCommand({ RulePriorities: [{ RuleArn: ours?.ruleArn, Priority: 5 }] }));
    await actions.resume(env.client, handle.workflowId, { by: 'alice' });
    await waitForStatus(handle, (s) => s.gate?.kind === 'drift');
    await actions.resume(env.client, handle.workflowId, { by: 'alice' });

    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'promoted' });
    expect(result.warnings).toBeUndefined();
    const status = await handle.query(statusQuery);
    expect(status.timeline.find((t) => t.action === 'drift adopted')?.detail).toBe(`segment staff: rule ${ours?.ruleArn} at priority 5 as it is now`);
    expect(status.timeline.find((t) => t.action === 'remove segment rule')?.detail).toBe('staff: removed (verified)');
    expect((await rulesOf(seeded.listenerArn)).map((r) => [r.arn, r.priority, r.conditions])).toEqual(before.map((r) => [r.arn, r.priority, r.conditions]));
  });

  it.concurrent('refuses a release whose listener has no free priority for its segment, before anything changes', async () => {
    const { service, seeded } = await seedService(aws, 'segfull', { withRule: true });
    for (let p = 1; p <= 9; p++) await handRule(seeded.listenerArn, p, `/full-${p}/*`);
    const before = await rulesOf(seeded.listenerArn);
    const forwardBefore = await forwardActions(aws, seeded);
    const handle = await startRelease(env.client, testSpec(seeded, service, { steps: [staff, { setWeight: 100 }] }), { taskQueue: env.taskQueue });
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('InvalidRelease');
    expect((cause as ApplicationFailure).message).toContain('only 0 free priorities below rule');
    expect(await rulesOf(seeded.listenerArn)).toEqual(before);
    expect(await forwardActions(aws, seeded)).toEqual(forwardBefore);
    expect((await targetGroupsOf(aws, seeded)).map((g) => g.name)).toEqual([seeded.stableTargetGroupName]);
  });
});
