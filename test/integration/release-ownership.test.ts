/**
 * What a release may do to a load balancer infrastructure code owns, and what it must not: the room for its target
 * groups is checked before anything changes (ALB allows 100 per load balancer), a previous stable group owned by
 * CloudFormation or tagged as the worker's CANARY_OWNERSHIP_TAGS say is detached but never deleted (unless the spec
 * says so), and `traffic.stickiness` is set for the release and the forward action's own setting put back after it.
 */
import { AddTagsCommand, DescribeListenersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { WorkflowFailedError, type ApplicationFailure, type Client, type Connection } from '@temporalio/client';
import { motoClients } from '../../activities/aws-clients';
import { actions, startRelease } from '../../client/release-client';
import { statusQuery } from '../../common/messages';
import { startSimulator, type SimulatorTick } from '../../dev/simulator';
import { testAws, testClient, testStack } from '../support/env';
import { forwardActions, seedService, startTestWorker, targetGroupsOf, testSpec, waitForStatus } from '../support/release-fixture';
import { fillToGroupLimit } from '../support/listener';

const aws = testAws();
let client: Client;
let connection: Connection;
let worker: Awaited<ReturnType<typeof startTestWorker>>;

beforeAll(async () => {
  ({ client, connection } = await testClient());
  // The worker counts groups tagged ManagedBy=terraform as owned by infrastructure code, besides CloudFormation's.
  worker = await startTestWorker(aws, undefined, { ownershipTags: ['ManagedBy=terraform'] });
});
afterAll(async () => {
  await worker.stop();
  await connection.close();
  aws.destroy();
});

const tag = (arn: string, tags: Record<string, string>) =>
  aws.elbv2.send(new AddTagsCommand({ ResourceArns: [arn], Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }));

/** The listener's default forward stickiness as AWS holds it now. */
async function stickinessOf(listenerArn: string): Promise<{ Enabled?: boolean; DurationSeconds?: number } | undefined> {
  const out = await aws.elbv2.send(new DescribeListenersCommand({ ListenerArns: [listenerArn] }));
  return out.Listeners?.[0]?.DefaultActions?.find((a) => a.Type === 'forward')?.ForwardConfig?.TargetGroupStickinessConfig;
}

describe('infrastructure code owns the previous stable group', () => {
  it.each([
    ['CloudFormation', { 'aws:cloudformation:stack-name': 'checkout-prod' }, 'tagged aws:cloudformation:stack-name=checkout-prod'],
    ["a tag of the worker's CANARY_OWNERSHIP_TAGS", { ManagedBy: 'terraform' }, 'tagged ManagedBy=terraform'],
  ])('promotes, detaches the group owned by %s, keeps it and says so', async (_owner, tags, words) => {
    const { service, seeded } = await seedService(aws, 'own');
    await tag(seeded.stableTargetGroupArn, tags);
    const handle = await startRelease(client, testSpec(seeded, service), { taskQueue: worker.taskQueue });
    const result = await handle.result();

    expect(result.outcome).toBe('promoted');
    expect(result.warnings).toEqual([expect.stringContaining(`${seeded.stableTargetGroupName} was kept: it is owned by infrastructure code (${words})`)]);
    const groups = (await targetGroupsOf(aws, seeded)).map((g) => g.name);
    expect(groups).toEqual(expect.arrayContaining([seeded.stableTargetGroupName, expect.stringMatching(/-v2-[0-9a-z]{6}$/)]));
    expect(groups).toHaveLength(2);
    // Detached all the same: the new group alone gets the traffic.
    const forward = (await forwardActions(aws, seeded))[0];
    expect(forward?.ForwardConfig?.TargetGroups?.map((g) => g.TargetGroupArn)).not.toContain(seeded.stableTargetGroupArn);
    const status = await handle.query(statusQuery);
    expect(status.timeline.find((e) => e.action === 'kept previous stable target group')?.detail).toContain(words);
  });

  it('deletes an owned previous stable group when the spec says environment.deleteOwnedStable, and a group a release made whatever it copied', async () => {
    const { service, seeded } = await seedService(aws, 'owndel');
    await tag(seeded.stableTargetGroupArn, { 'aws:cloudformation:stack-name': 'checkout-prod', ManagedBy: 'terraform' });
    const spec = testSpec(seeded, service, { environment: { ...(testSpec(seeded, service).environment as object), deleteOwnedStable: true } });
    const first = await (await startRelease(client, spec, { taskQueue: worker.taskQueue })).result();
    expect(first).toMatchObject({ outcome: 'promoted' });
    expect(first.warnings).toBeUndefined();
    const after = await targetGroupsOf(aws, seeded);
    expect(after.map((g) => g.name)).toEqual([expect.stringMatching(/-v2-[0-9a-z]{6}$/)]);
    // The copy carries the stable group's ManagedBy tag, but a release made it: the next release deletes it.
    expect(after[0]?.tags).toMatchObject({ ManagedBy: 'terraform' });
    const next = await (await startRelease(client, { ...testSpec(seeded, service), version: 'v3' }, { taskQueue: worker.taskQueue })).result();
    expect(next).toMatchObject({ outcome: 'promoted' });
    expect(next.warnings).toBeUndefined();
    expect((await targetGroupsOf(aws, seeded)).map((g) => g.name)).toEqual([expect.stringMatching(/-v3-[0-9a-z]{6}$/)]);
  });
});

describe('room for target groups', () => {
  it('refuses a clone release on a load balancer already forwarding to 100 target groups, with the numbers, before anything changes', async () => {
    const { service, seeded } = await seedService(aws, 'room');
    // 99 more groups in rules of the listener, written to moto directly (fast): 100 with stable.
    const direct = motoClients(testStack.motoEndpoint);
    try {
      await fillToGroupLimit(direct.elbv2, seeded, `${service}-f`, 'f');
    } finally {
      direct.destroy();
    }
    const before = await forwardActions(aws, seeded);
    const groupsBefore = (await targetGroupsOf(aws, seeded)).map((g) => g.name);
    const handle = await startRelease(client, testSpec(seeded, service), { taskQueue: worker.taskQueue });
    const err = await handle.result().catch((e: unknown) => e);

    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('InvalidRelease');
    expect(cause.message).toMatch(
      /has 100 target groups in its listeners' forward actions and ALB allows 100 \(not adjustable\); the release would add 1 \(canary\)/,
    );
    expect(await forwardActions(aws, seeded)).toEqual(before);
    expect((await targetGroupsOf(aws, seeded)).map((g) => g.name)).toEqual(groupsBefore);
  });
});

describe('traffic.stickiness', () => {
  it('keeps users on their version during the release, says weights count sessions, and puts the listener’s own stickiness back at promotion', async () => {
    const { service, seeded } = await seedService(aws, 'stick');
    const ticks: SimulatorTick[] = [];
    // 30 users at a time, each staying 400 ms: new sessions keep arriving, as they do on a real service.
    const sim = startSimulator({
      aws,
      listenerArn: seeded.listenerArn,
      requestsPerSecond: 400,
      tickMs: 100,
      profiles: {},
      users: 30,
      userLifetimeMs: 400,
      realism: false,
      onTick: (t) => ticks.push(t),
    });
    try {
      const spec = testSpec(seeded, service, {
        traffic: { listenerArn: seeded.listenerArn, stickiness: '1h' },
        steps: [{ setWeight: 30 }, { pause: {} }, { setWeight: 70 }, { pause: {} }, { setWeight: 100 }],
      });
      const handle = await startRelease(client, spec, { taskQueue: worker.taskQueue });
      const at30 = await waitForStatus(handle, (s) => s.phase === 'Paused' && s.step === 1);
      expect(at30.stickiness).toEqual({ durationSeconds: 3600, note: expect.stringContaining('weights count new sessions, not requests') });
      expect(await stickinessOf(seeded.listenerArn)).toEqual({ Enabled: true, DurationSeconds: 3600 });
      expect(at30.rollbackPlan.map((p) => p.kind)).toEqual(['restoreStickiness', 'restoreActions', 'deleteTargetGroup']);
      // From 30% through the move to 70%: every user stays on the version it got; new users reach both.
      const from = ticks.length;
      await actions.resume(client, handle.workflowId, { by: 'alice' });
      await waitForStatus(handle, (s) => s.phase === 'Paused' && s.step === 3);
      const to = ticks.length;
      const seenAt = (list: SimulatorTick[]) => {
        const m = new Map<string, Set<string>>();
        for (const t of list) for (const [u, arns] of Object.entries(t.users ?? {})) for (const a of arns) m.set(u, (m.get(u) ?? new Set()).add(a));
        return m;
      };
      const during = seenAt(ticks.slice(from, to));
      expect(during.size).toBeGreaterThan(10);
      expect([...during.values()].filter((g) => g.size > 1)).toEqual([]);
      const canaryArn = at30.targetGroups.find((g) => g.role === 'canary')?.arn as string;
      expect([...during.values()].filter((g) => g.has(canaryArn)).length).toBeGreaterThan(0);
      expect([...during.values()].filter((g) => g.has(seeded.stableTargetGroupArn)).length).toBeGreaterThan(0);
      await actions.resume(client, handle.workflowId, { by: 'alice' });

      const result = await handle.result();
      expect(result.outcome).toBe('promoted');
      expect(await stickinessOf(seeded.listenerArn)).not.toMatchObject({ Enabled: true });
      const status = await handle.query(statusQuery);
      expect(status.stickiness).toBeUndefined();
      expect(status.timeline.find((e) => e.action === 'restored stickiness')?.detail).toContain('no stickiness (verified by describe)');
    } finally {
      await sim.stop();
    }
  });

  it('puts the pre-release stickiness back on rollback, before the weights', async () => {
    const { service, seeded } = await seedService(aws, 'stickrb');
    const before = await forwardActions(aws, seeded);
    const spec = testSpec(seeded, service, {
      traffic: { listenerArn: seeded.listenerArn, stickiness: '10m' },
      steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 100 }],
    });
    const handle = await startRelease(client, spec, { taskQueue: worker.taskQueue });
    await waitForStatus(handle, (s) => s.phase === 'Paused');
    expect(await stickinessOf(seeded.listenerArn)).toEqual({ Enabled: true, DurationSeconds: 600 });
    await actions.abort(client, handle.workflowId, { by: 'alice', reason: 'test' });
    const result = await handle.result();

    expect(result.outcome).toBe('aborted');
    expect(await forwardActions(aws, seeded)).toEqual(before);
    const status = await handle.query(statusQuery);
    const order = status.timeline.map((e) => e.action).filter((a) => a === 'restored stickiness' || a === 'restored pre-release traffic');
    expect(order).toEqual(['restored stickiness', 'restored pre-release traffic']);
    expect(status.keptOnRestore).toBeUndefined();
  });
});
