import { actions, MessageRejectedError, ReleaseAlreadyRunningError, startRelease } from '../../client/release-client';
import { Tags } from '../../activities/contract';
import { SpecValidationError } from '../../common/spec';
import { statusQuery } from '../../common/messages';
import {
  dimensionOf,
  forwardActions,
  historyOf,
  publishAfterTraffic,
  seedService,
  releaseTestEnvironment,
  targetGroupsOf,
  testSpec,
  waitForStatus,
} from '../support/release-fixture';

const env = releaseTestEnvironment();
const aws = env.aws;

const forwardOnly = (actionsJson: unknown): { TargetGroupArn?: string; Weight?: number }[] =>
  ((actionsJson as { ForwardConfig?: { TargetGroups?: { TargetGroupArn?: string; Weight?: number }[] } }[])[0]?.ForwardConfig?.TargetGroups ?? []).map((t) => ({
    TargetGroupArn: t.TargetGroupArn,
    Weight: t.Weight,
  }));

// The tests run concurrently (each on a service of its own, sharing the file's worker): their waits overlap.
describe('release workflow against the dev server and moto', () => {
  it.concurrent('promotes a healthy release to 100% and removes the old stable target group after keepPreviousFor', async () => {
    const { service, seeded } = await seedService(aws, 'ok');
    const spec = testSpec(seeded, service, {
      steps: [{ setWeight: 10 }, { pause: { duration: '1s' } }, { setWeight: 25 }, { setWeight: 50 }, { pause: { duration: '1s' } }, { setWeight: 100 }],
    });
    const handle = await startRelease(env.client, spec, { taskQueue: env.taskQueue });
    const result = await handle.result();

    expect(result).toMatchObject({ outcome: 'promoted', stepsCompleted: 6, steps: 6 });
    const groups = await targetGroupsOf(aws, seeded);
    expect(groups.map((g) => g.name)).not.toContain(seeded.stableTargetGroupName);
    expect(groups).toHaveLength(1);
    const canary = groups[0];
    expect(canary?.tags).toMatchObject({ [Tags.service]: service, [Tags.version]: 'v2', [Tags.role]: 'canary', service });
    expect(forwardOnly(await forwardActions(aws, seeded))).toEqual([{ TargetGroupArn: canary?.arn, Weight: 100 }]);

    const status = await handle.query(statusQuery);
    expect(status.phase).toBe('Succeeded');
    expect(status.timeline.filter((t) => t.action === 'setWeight').map((t) => t.detail)).toEqual([
      'canary 10%, stable 90% (verified)',
      'canary 25%, stable 75% (verified)',
      'canary 50%, stable 50% (verified)',
      'canary 100%, stable 0% (verified)',
    ]);
    const history = await historyOf(env.client, handle.workflowId);
    // Figure for the closing note: history size of a 6-step release.
    process.stdout.write(`[figure] history events of a 6-step release (4 weights, 2 pauses): ${history.count}\n`);
    expect(history.count).toBeLessThan(150);
  });

  it.concurrent('restores the exact pre-release listener when analysis fails at 25%, leaving no target group behind', async () => {
    const { service, seeded } = await seedService(aws, 'bad');
    const before = await forwardActions(aws, seeded);
    const spec = testSpec(seeded, service, {
      steps: [{ setWeight: 25 }, { pause: {} }, { analysis: { template: 'errors' } }, { setWeight: 100 }],
    });
    const handle = await startRelease(env.client, spec, { taskQueue: env.taskQueue });
    const paused = await waitForStatus(handle, (s) => s.gate?.kind === 'pause');
    expect(paused.verifiedWeights).toEqual({ stable: 75, canary: 25 });
    const canaryArn = paused.targetGroups.find((t) => t.role === 'canary')?.arn as string;
    const lb = seeded.loadBalancerArn.slice(seeded.loadBalancerArn.indexOf(':loadbalancer/') + 14);
    await publishAfterTraffic(aws, { targetGroup: dimensionOf(canaryArn), loadBalancer: lb }, 200, 40, paused.trafficSince);
    await actions.resume(env.client, handle.workflowId, { by: 'alice' });

    const result = await handle.result();
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/analysis errors failed at step 2: .*5xx-rate = 0\.2, needs <= 0\.05/);
    expect(await forwardActions(aws, seeded)).toEqual(before);
    expect((await targetGroupsOf(aws, seeded)).map((g) => g.name)).toEqual([seeded.stableTargetGroupName]);
    const status = await handle.query(statusQuery);
    expect(status.phase).toBe('RolledBack');
    expect(status.rollbackPlan).toEqual([]);
  });

  it.concurrent('rolls back to the exact pre-release rule when aborted at an approval gate', async () => {
    const { service, seeded } = await seedService(aws, 'abort', { withRule: true, forwardConfig: true });
    const before = await forwardActions(aws, seeded);
    const spec = testSpec(seeded, service, {
      steps: [{ setWeight: 30 }, { approval: { approvers: ['alice'], timeout: '10m' } }, { setWeight: 100 }],
    });
    const handle = await startRelease(env.client, spec, { taskQueue: env.taskQueue });
    const gated = await waitForStatus(handle, (s) => s.phase === 'AwaitingApproval');
    expect(gated.gate).toMatchObject({ kind: 'approval', step: 1, approvers: ['alice'] });
    const ack = await actions.abort(env.client, handle.workflowId, { by: 'bob', reason: 'customer complaints' });
    expect(ack.accepted).toBe(true);

    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'aborted', by: 'bob', reason: 'customer complaints' });
    expect(await forwardActions(aws, seeded)).toEqual(before);
    expect((await targetGroupsOf(aws, seeded)).map((g) => g.name)).toEqual([seeded.stableTargetGroupName]);
    const status = await handle.query(statusQuery);
    expect(status.timeline.find((t) => t.action === 'abort')).toMatchObject({ by: 'bob', detail: 'customer complaints', accepted: true });
  });

  it.concurrent('rolls back when an approval times out with onTimeout rollback', async () => {
    const { service, seeded } = await seedService(aws, 'tmo');
    const before = await forwardActions(aws, seeded);
    const spec = testSpec(seeded, service, {
      steps: [{ setWeight: 10 }, { approval: { approvers: ['alice'], timeout: '2s' } }, { setWeight: 100 }],
    });
    const handle = await startRelease(env.client, spec, { taskQueue: env.taskQueue });
    const result = await handle.result();
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toBe('approval at step 1 timed out after 2s');
    expect(await forwardActions(aws, seeded)).toEqual(before);
  });

  it.concurrent('refuses invalid approvals with a reason and writes nothing to history, then accepts the right approver', async () => {
    const { service, seeded } = await seedService(aws, 'appr');
    const spec = testSpec(seeded, service, {
      initiator: 'carol',
      steps: [{ setWeight: 10 }, { approval: { approvers: ['alice', 'carol'], timeout: '10m' } }, { setWeight: 100 }],
    });
    const handle = await startRelease(env.client, spec, { taskQueue: env.taskQueue });
    await waitForStatus(handle, (s) => s.phase === 'AwaitingApproval');
    const before = await historyOf(env.client, handle.workflowId);

    const rejected = async (p: Promise<unknown>): Promise<string> => {
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(MessageRejectedError);
      return (err as MessageRejectedError).reason;
    };
    expect(await rejected(actions.approve(env.client, handle.workflowId, { by: 'carol' }))).toMatch(/carol started this release and cannot approve it/);
    expect(await rejected(actions.approve(env.client, handle.workflowId, { by: 'mallory' }))).toMatch(
      /mallory is not an approver of step 1 \(approvers: alice, carol\)/,
    );
    expect(await rejected(actions.approve(env.client, handle.workflowId, { by: 'alice', step: 0 }))).toMatch(
      /stale approval: it is for step 0, the open gate is step 1/,
    );
    expect(await rejected(actions.resume(env.client, handle.workflowId, { by: 'alice' }))).toMatch(/not paused/);
    expect(await rejected(actions.promote(env.client, handle.workflowId, { by: 'mallory', full: true }))).toMatch(
      /promotion would skip the approval at step 1/,
    );
    expect(await rejected(actions.approve(env.client, handle.workflowId, { by: '' }))).toMatch(/by: say who you are/);

    const after = await historyOf(env.client, handle.workflowId);
    expect(after.count).toBe(before.count);
    expect(after.types.filter((t) => /UPDATE/.test(t))).toEqual([]);

    const ack = await actions.approve(env.client, handle.workflowId, { by: 'alice', step: 1, comment: 'dashboards look fine' });
    expect(ack).toMatchObject({ accepted: true, message: 'approved step 1' });
    const result = await handle.result();
    expect(result.outcome).toBe('promoted');
    const status = await handle.query(statusQuery);
    expect(status.timeline.find((t) => t.action === 'approve')).toMatchObject({ by: 'alice', detail: 'step 1: dashboards look fine', accepted: true });
    const history = await historyOf(env.client, handle.workflowId);
    expect(history.types.filter((t) => /UPDATE_ACCEPTED|UPDATE_COMPLETED/.test(t)).length).toBe(2);
  });

  it.concurrent('refuses a second release of the same service while one runs, naming the running one', async () => {
    const { service, seeded } = await seedService(aws, 'dup');
    const spec = testSpec(seeded, service, { steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 100 }] });
    const first = await startRelease(env.client, spec, { taskQueue: env.taskQueue });
    await waitForStatus(first, (s) => s.gate?.kind === 'pause');
    const err = await startRelease(env.client, { ...spec, version: 'v3' }, { taskQueue: env.taskQueue }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReleaseAlreadyRunningError);
    expect((err as Error).message).toMatch(new RegExp(`already running: release-${service} \\(version v2, started by ci-bot at `));
    await actions.promote(env.client, first.workflowId, { by: 'alice', full: true });
    expect((await first.result()).outcome).toBe('promoted');
  });

  it.concurrent('runs the same spec for the next release after a promotion, the new version replacing the previous one', async () => {
    const { service, seeded } = await seedService(aws, 'next');
    const spec = testSpec(seeded, service);
    const r1 = await (await startRelease(env.client, spec, { taskQueue: env.taskQueue, version: 'v2' })).result();
    expect(r1.outcome).toBe('promoted');
    const afterFirst = await targetGroupsOf(aws, seeded);
    const r2 = await (await startRelease(env.client, spec, { taskQueue: env.taskQueue, version: 'v3' })).result();
    expect(r2.outcome).toBe('promoted');
    const afterSecond = await targetGroupsOf(aws, seeded);
    expect(afterFirst.map((g) => g.tags[Tags.version])).toEqual(['v2']);
    expect(afterSecond.map((g) => g.tags[Tags.version])).toEqual(['v3']);
    expect(forwardOnly(await forwardActions(aws, seeded))).toEqual([{ TargetGroupArn: afterSecond[0]?.arn, Weight: 100 }]);
  });

  it.concurrent('routes the same weight to a fresh baseline and the canary, and removes both old groups after promotion', async () => {
    const { service, seeded } = await seedService(aws, 'base');
    const spec = testSpec(seeded, service, {
      environment: { canaryTargets: [{ id: '10.0.0.21', port: 8080 }], baselineTargets: [{ id: '10.0.0.22', port: 8080 }] },
      steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 60 }, { setWeight: 100 }],
    });
    const handle = await startRelease(env.client, spec, { taskQueue: env.taskQueue });
    const paused = await waitForStatus(handle, (s) => s.gate?.kind === 'pause');
    expect(paused.verifiedWeights).toEqual({ stable: 80, canary: 10, baseline: 10 });
    const groups = await targetGroupsOf(aws, seeded);
    const baseline = groups.find((g) => g.tags[Tags.role] === 'baseline');
    expect(baseline?.name).toMatch(new RegExp(`^${service}-base-[0-9a-z]{6}$`));
    // The baseline is a clone of stable: same tags as the stable group plus the release's own.
    expect(baseline?.tags).toMatchObject({ service, version: 'v1', [Tags.service]: service });
    await actions.resume(env.client, handle.workflowId, { by: 'alice' });
    const result = await handle.result();
    expect(result.outcome).toBe('promoted');
    const after = await targetGroupsOf(aws, seeded);
    expect(after.map((g) => g.tags[Tags.role])).toEqual(['canary']);
    const status = await handle.query(statusQuery);
    expect(status.timeline.filter((t) => t.action === 'setWeight').map((t) => t.detail)).toEqual([
      'canary 10%, baseline 10%, stable 80% (verified)',
      'canary 60%, baseline 0%, stable 40% (verified)',
      'canary 100%, baseline 0%, stable 0% (verified)',
    ]);
  });

  it.concurrent('rolls back before ending as cancelled when the workflow itself is cancelled', async () => {
    const { service, seeded } = await seedService(aws, 'cncl');
    const before = await forwardActions(aws, seeded);
    const spec = testSpec(seeded, service, { steps: [{ setWeight: 40 }, { pause: {} }, { setWeight: 100 }] });
    const handle = await startRelease(env.client, spec, { taskQueue: env.taskQueue });
    await waitForStatus(handle, (s) => s.gate?.kind === 'pause');
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow();
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    expect(await forwardActions(aws, seeded)).toEqual(before);
    expect((await targetGroupsOf(aws, seeded)).map((g) => g.name)).toEqual([seeded.stableTargetGroupName]);
    const status = await handle.query(statusQuery);
    expect(status).toMatchObject({ phase: 'RolledBack', result: { outcome: 'aborted', reason: 'the workflow was cancelled' } });
  });

  it.concurrent('rejects an invalid spec before starting anything, naming each wrong field', async () => {
    const { service, seeded } = await seedService(aws, 'inv');
    const before = await forwardActions(aws, seeded);
    const spec = testSpec(seeded, service, { steps: [{ setWeight: 120 }, { analysis: { template: 'latency' } }] });
    const err = await startRelease(env.client, spec, { taskQueue: env.taskQueue }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpecValidationError);
    const fields = (err as SpecValidationError).errors.map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['steps[0].setWeight', 'steps[1].analysis.template']));
    expect(await forwardActions(aws, seeded)).toEqual(before);
    await expect(env.client.workflow.getHandle(`release-${service}`).describe()).rejects.toThrow(/not found/i);
  });
});
