/**
 * The release workflow's ALB semantics on the time-skipping test
 * server with the activities replaced at the contract boundary (test/support/fake-alb.ts): the canary is attached at
 * weight 0 before its health wait (ALB health-checks only attached groups), a forward action someone else changed is
 * never overwritten (the drift gate), and a rollback lets traffic settle and the groups drain before deleting them.
 */
import { abortUpdate, resumeUpdate, statusQuery } from '../../common/messages';
import type { WeightedTargetGroup } from '../../common/forward';
import { actionsOf, timeSkippingRelease, waitForStatus } from '../support/time-skipping';
import type { FakeAlb } from '../support/fake-alb';

const releases = timeSkippingRelease();

const ms = (iso: string | undefined): number => Date.parse(iso ?? '');
const canaryName = (fake: FakeAlb): string => (fake.callsOf('ensureTargetGroup')[0]?.input as { name: string }).name;
const target = { id: '10.0.1.17', port: 8080 };
const second = { id: '10.0.1.18', port: 8080 };

function expectPreReleaseState(fake: FakeAlb): void {
  expect(fake.actions).toEqual(fake.originalActions);
  expect(fake.groupNames()).toEqual([fake.stable.name]);
}

describe('attach at weight 0 and target health', () => {
  it('attaches the canary at weight 0 before waiting for it to be healthy, and shows each target health', async () => {
    const { handle, fake } = await releases.start({ steps: [{ setWeight: 20 }, { setWeight: 100 }], promotion: { keepPreviousFor: '0s' } });
    expect(await handle.result()).toMatchObject({ outcome: 'promoted' });
    const canary = canaryName(fake);
    const order = fake.calls.map((c) => c.activity);
    const attach = fake.callsOf('setForwardWeights')[0];
    expect((attach?.input as { weights: WeightedTargetGroup[] }).weights.map((w) => w.weight)).toEqual([100, 0]);
    // The fake reports `unused` (Target.NotInUse) for a group in no forward action, as ALB does: the wait succeeds
    // only because the attach came first.
    expect(order.indexOf('setForwardWeights')).toBeLessThan(order.indexOf('waitHealthy'));
    expect(order.indexOf('registerTargets')).toBeLessThan(order.indexOf('setForwardWeights'));
    const status = await handle.query(statusQuery);
    expect(status.targetHealth?.canary).toEqual([{ target: '10.0.1.17:8080', state: 'healthy' }]);
    const entries = status.timeline.map((t) => t.action);
    expect(entries.indexOf('attach at weight 0')).toBeLessThan(entries.indexOf('canary targets healthy'));
    expect(actionsOf(status, 'create canary target group')).toEqual([expect.objectContaining({ detail: canary })]);
  });

  it('never gives an unhealthy canary traffic: TargetsUnhealthy rolls back with every target state in the status', async () => {
    const { handle, fake } = await releases.start(
      {
        environment: { canaryTargets: [target, second], healthyTimeout: '2m' },
        steps: [{ setWeight: 20 }, { setWeight: 100 }],
      },
      (f) =>
        f.script('waitHealthy', (input) => {
          const arn = (input as { targetGroupArn: string }).targetGroupArn;
          const name = f.groupNames().find((n) => f.targetGroups.get(arn)?.name === n) as string;
          f.setTargetHealth(name, target, 'unhealthy', 'Target.FailedHealthChecks', 'Health checks failed');
        }),
    );
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'rolled-back', by: 'canary', stepsCompleted: 0 });
    expect(result.reason).toMatch(/^error: 1\/2 targets healthy in targetgroup\/.+ after 120s: 10\.0\.1\.17:8080 unhealthy \(Target\.FailedHealthChecks\)$/);
    const canaryArn = fake.callsOf('waitHealthy')[0]?.input as { targetGroupArn: string };
    // Every write the release made gave the canary weight 0.
    const canaryWeights = fake
      .callsOf('setForwardWeights')
      .flatMap((c) => (c.input as { weights: WeightedTargetGroup[] }).weights)
      .filter((w) => w.targetGroupArn === canaryArn.targetGroupArn)
      .map((w) => w.weight);
    expect(canaryWeights).toEqual([0]);
    const status = await handle.query(statusQuery);
    expect(status.phase).toBe('RolledBack');
    expect(status.targetHealth?.canary).toEqual([
      { target: '10.0.1.17:8080', state: 'unhealthy', reason: 'Target.FailedHealthChecks', description: 'Health checks failed' },
      { target: '10.0.1.18:8080', state: 'healthy' },
    ]);
    expectPreReleaseState(fake);
  });
});

describe('drift: a forward action someone else changed', () => {
  /** A release paused at step 1 (canary 10%); a person edits the listener, then the release is resumed into step 2. */
  async function driftedAtStep2(edit: (fake: FakeAlb) => void, overrides: Record<string, unknown> = {}) {
    const started = await releases.start({ steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { setWeight: 100 }], ...overrides });
    const { handle, fake } = started;
    await waitForStatus(handle, (s) => s.gate?.kind === 'pause', 'pause at step 1');
    edit(fake);
    const edited = fake.forwardState();
    await handle.executeUpdate(resumeUpdate, { args: [{ by: 'alice' }] });
    const gated = await waitForStatus(handle, (s) => s.gate?.kind === 'drift', 'drift gate');
    // Refused, not overwritten: the listener is exactly as the person left it.
    expect(fake.forwardState()).toEqual(edited);
    expect(fake.callsOf('setForwardWeights').at(-1)?.outcome).toMatch(/was changed by someone else since this release last verified it; nothing was written/);
    expect(gated).toMatchObject({ phase: 'Paused', step: 2, gate: { kind: 'drift', step: 2, onTimeout: 'rollback' } });
    return { ...started, gated };
  }

  it('stops at a drift gate; resume adopts the change (readForward) and the release goes on with it', async () => {
    const { handle, fake, gated } = await driftedAtStep2((f) => f.editByHand({ stickinessSeconds: 3600 }), { notifications: { webhook: 'ops' } });
    expect(gated.gate?.detail).toMatch(/nothing was written\. stickiness changed: expected .*=10, no stickiness, found .*=10, stickiness 3600s$/);
    await handle.executeUpdate(resumeUpdate, { args: [{ by: 'alice', comment: 'sticky sessions are intended' }] });

    expect(await handle.result()).toMatchObject({ outcome: 'promoted', stepsCompleted: 4 });
    expect(fake.callsOf('readForward')).toHaveLength(1);
    expect(fake.notifications.map((n) => n.event)).toEqual(['drift', 'promoted']);
    // The adopted stickiness stays through every later write, up to the end.
    expect(fake.forwardState()).toEqual({
      targetGroups: [{ targetGroupArn: fake.targetGroups.values().next().value?.arn, weight: 100 }],
      stickiness: { enabled: true, durationSeconds: 3600 },
    });
    const status = await handle.query(statusQuery);
    expect(actionsOf(status, 'drift adopted')).toEqual([expect.objectContaining({ detail: expect.stringContaining('stickiness 3600s') })]);
    expect(actionsOf(status, 'ALERT: drift')).toHaveLength(1);
  });

  it('abort at the drift gate rolls back to the pre-release forward', async () => {
    const { handle, fake } = await driftedAtStep2((f) => f.editByHand({ weights: { [f.stable.name]: 95, [canaryName(f)]: 5 } }));
    await handle.executeUpdate(abortUpdate, { args: [{ by: 'bob', reason: 'someone is mitigating' }] });
    expect(await handle.result()).toMatchObject({ outcome: 'aborted', by: 'bob' });
    expect(fake.callsOf('readForward')).toEqual([]);
    expectPreReleaseState(fake);
  });

  it('rolls back by itself when nobody answers within environment.driftTimeout', async () => {
    const { handle, fake, gated } = await driftedAtStep2((f) => f.editByHand({ weights: { [f.stable.name]: 95, [canaryName(f)]: 5 } }), {
      environment: { canaryTargets: [target], healthyTimeout: '1m', driftTimeout: '2h' },
    });
    expect(ms(gated.gate?.deadline) - ms(gated.gate?.openedAt)).toBe(2 * 3_600_000);
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'rolled-back', by: 'canary' });
    expect(result.reason).toMatch(
      /^nobody answered the drift gate within 2h: .* target groups \/ weights changed: expected .*=10, no stickiness, found .*=95, .*=5, no stickiness$/,
    );
    expect(fake.callsOf('readForward')).toEqual([]);
    expectPreReleaseState(fake);
  });
});

describe('rollback order', () => {
  it('restores the forward, lets it settle, drains the canary, then deletes it', async () => {
    const { handle, fake } = await releases.start({
      environment: { canaryTargets: [target], healthyTimeout: '1m', settle: '30s' },
      steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 100 }],
    });
    await waitForStatus(handle, (s) => s.gate?.kind === 'pause', 'pause at step 1');
    await handle.executeUpdate(abortUpdate, { args: [{ by: 'bob', reason: 'stop' }] });
    expect(await handle.result()).toMatchObject({ outcome: 'aborted' });
    const canary = canaryName(fake);
    expect(fake.writes().slice(-3)).toEqual(['restoreActions', `drainTargetGroup ${canary}`, `deleteTargetGroup ${canary}`]);
    expect(fake.callsOf('drainTargetGroup')[0]?.input).toMatchObject({ capMs: 300_000 });

    // In the history: the restore completes, then the settle timer (30 s) fires, then the drain runs, then the delete.
    const events = (await handle.fetchHistory()).events ?? [];
    const scheduled = new Map<string, string>();
    const seq: string[] = [];
    for (const e of events) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s) scheduled.set(String(e.eventId), s.activityType?.name ?? '');
      const done = e.activityTaskCompletedEventAttributes;
      if (done) seq.push(`done ${scheduled.get(String(done.scheduledEventId))}`);
      if (s) seq.push(`start ${s.activityType?.name}`);
      if (e.timerStartedEventAttributes) seq.push(`timer ${Number(e.timerStartedEventAttributes.startToFireTimeout?.seconds ?? 0)}s`);
      if (e.timerFiredEventAttributes) seq.push('timer fired');
    }
    const from = seq.lastIndexOf('start restoreActions');
    expect(seq.slice(from).filter((x) => !x.includes('notify'))).toEqual([
      'start restoreActions',
      'done restoreActions',
      'timer 30s',
      'timer fired',
      'start drainTargetGroup',
      'done drainTargetGroup',
      'start deleteTargetGroup',
      'done deleteTargetGroup',
    ]);
    // The delete checks every listener of the load balancer first (behind a shared scan when many releases end at
    // once): it heartbeats through that check instead of having 15 s for it.
    const deletes = events.flatMap((e) => {
      const a = e.activityTaskScheduledEventAttributes;
      if (a?.activityType?.name !== 'deleteTargetGroup') return [];
      return [{ heartbeatTimeout: Number(a.heartbeatTimeout?.seconds ?? 0), startToCloseTimeout: Number(a.startToCloseTimeout?.seconds ?? 0) }];
    });
    expect(deletes).toEqual([{ heartbeatTimeout: 30, startToCloseTimeout: 300 }]);
    expectPreReleaseState(fake);
  });
});
