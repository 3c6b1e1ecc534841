/**
 * Abort in every phase, analysis failure, cancellation and a failing rollback, on the time-skipping test server
 * with the activities replaced at the contract boundary (test/support/fake-alb.ts). Every rollback must leave the
 * fake listener exactly as it was before the release and no target group but the stable one.
 */
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { abortSignal, abortUpdate, resumeUpdate, statusQuery, type MessageAck } from '../../common/messages';
import { ErrorTypes } from '../../activities/contract';
import { actionsOf, cancelRequested, timeSkippingRelease, waitForStatus } from '../support/time-skipping';
import { analysisRun, type FakeAlb, type Hold } from '../support/fake-alb';

const releases = timeSkippingRelease();

/** The pre-release state: the listener's actions exactly as before and only the stable target group. */
function expectPreReleaseState(fake: FakeAlb): void {
  expect(fake.actions).toEqual(fake.originalActions);
  expect(fake.groupNames()).toEqual([fake.stable.name]);
}

async function abort(handle: { executeUpdate: (u: typeof abortUpdate, o: { args: [{ by: string; reason: string }] }) => Promise<MessageAck> }, reason: string) {
  return handle.executeUpdate(abortUpdate, { args: [{ by: 'bob', reason }] });
}

describe('abort in every phase', () => {
  it('Validating: stops before anything is created', async () => {
    let discovering!: Hold;
    const { handle, fake } = await releases.start({}, (f) => (discovering = f.hold('discoverForwards')));
    await discovering.reached;
    expect(await abort(handle, 'wrong version')).toMatchObject({ accepted: true, phase: 'Validating' });
    discovering.release();

    expect(await handle.result()).toMatchObject({ outcome: 'aborted', by: 'bob', reason: 'wrong version', stepsCompleted: 0 });
    expect(fake.writes()).toEqual([]);
    expectPreReleaseState(fake);
    const status = await handle.query(statusQuery);
    expect(status.phase).toBe('RolledBack');
    expect(actionsOf(status, 'abort')).toEqual([expect.objectContaining({ by: 'bob', detail: 'wrong version', accepted: true })]);
  });

  it('CloningEnvironment: cancels the health wait and deletes the half-made canary target group', async () => {
    let waiting!: Hold;
    let deleting!: Hold;
    const { handle, fake } = await releases.start({}, (f) => {
      waiting = f.hold('waitHealthy');
      deleting = f.hold('deleteTargetGroup');
    });
    await waiting.reached;
    const cloning = await handle.query(statusQuery);
    expect(cloning.phase).toBe('CloningEnvironment');
    // The inverse is registered before the group is created: the plan already says how to undo it.
    // The restore is registered before the attach at weight 0, which comes before the health wait.
    expect(cloning.rollbackPlan).toEqual([
      { kind: 'restoreActions', description: 'restore the pre-release listener actions (forward) and verify them' },
      {
        kind: 'deleteTargetGroup',
        description: expect.stringMatching(/^delete target group .+ once no forward action references it and its deregistration delay has passed$/),
      },
    ]);
    expect(await abort(handle, 'bad build')).toMatchObject({ accepted: true, phase: 'CloningEnvironment' });

    // The rollback's delete waits until the health wait has heard of its cancellation, so the workflow cannot
    // close while that activity still runs (see FakeAlb.settled).
    expect(await waiting.ended).toBe('cancelled');
    await deleting.reached;
    deleting.release();
    expect(await handle.result()).toMatchObject({ outcome: 'aborted', reason: 'bad build' });
    expect(await cancelRequested(handle, 'waitHealthy')).toBe(true);
    const canary = (fake.callsOf('ensureTargetGroup')[0]?.input as { name: string }).name;
    expect(fake.writes()).toEqual([
      `ensureTargetGroup ${canary}`,
      'registerTargets',
      `setForwardWeights ${fake.stable.name}=100,${canary}=0`,
      'restoreActions',
      `drainTargetGroup ${canary}`,
      `deleteTargetGroup ${canary}`,
    ]);
    expectPreReleaseState(fake);
  });

  it('Progressing: lets the weight change in flight finish, then restores the listener first and deletes after', async () => {
    let shifting!: Hold;
    const { handle, fake } = await releases.start(
      { steps: [{ setWeight: 10 }, { setWeight: 50 }, { setWeight: 100 }] },
      (f) => (shifting = f.hold('setForwardWeights', (i: { weights: { weight: number }[] }) => i.weights.some((w) => w.weight === 50))),
    );
    await shifting.reached;
    expect(await abort(handle, 'error budget')).toMatchObject({ accepted: true, phase: 'Progressing', step: 1 });
    shifting.release();

    // The step in flight completed (its write was verified) before the abort took effect.
    expect(await handle.result()).toMatchObject({ outcome: 'aborted', reason: 'error budget', stepsCompleted: 2 });
    const canary = (fake.callsOf('ensureTargetGroup')[0]?.input as { name: string }).name;
    expect(fake.writes().slice(-5)).toEqual([
      `setForwardWeights ${fake.stable.name}=90,${canary}=10`,
      `setForwardWeights ${fake.stable.name}=50,${canary}=50`,
      'restoreActions',
      `drainTargetGroup ${canary}`,
      `deleteTargetGroup ${canary}`,
    ]);
    expectPreReleaseState(fake);
    expect((await handle.query(statusQuery)).verifiedWeights).toEqual({ stable: 100 });
  });

  it('Paused: ends a pause step and rolls back', async () => {
    const { handle, fake } = await releases.start({ steps: [{ setWeight: 10 }, { pause: { duration: '1h' } }, { setWeight: 100 }] });
    await waitForStatus(handle, (s) => s.gate?.kind === 'pause', 'timed pause');
    expect(await abort(handle, 'latency')).toMatchObject({ accepted: true, phase: 'Paused' });
    expect(await handle.result()).toMatchObject({ outcome: 'aborted', reason: 'latency', stepsCompleted: 1 });
    expectPreReleaseState(fake);
    const status = await handle.query(statusQuery);
    expect(status.gate).toBeUndefined();
    expect(actionsOf(status, 'pause ended')).toEqual([]);
  });

  it('AwaitingApproval: an abort signal ends the gate and rolls back, and a second abort is ignored', async () => {
    // The rollback's first call is held, so the second abort reaches a release that is stopping, not one that ended.
    let restoring!: Hold;
    const { handle, fake } = await releases.start(
      { notifications: { webhook: 'ops' }, steps: [{ setWeight: 30 }, { approval: { approvers: ['alice'], timeout: '1h' } }, { setWeight: 100 }] },
      (f) => (restoring = f.hold('restoreActions')),
    );
    await waitForStatus(handle, (s) => s.phase === 'AwaitingApproval', 'approval gate');
    await handle.signal(abortSignal, { by: 'bob', reason: 'customer complaints' });
    await handle.signal(abortSignal, { by: 'carol', reason: 'me too' });
    await waitForStatus(handle, (s) => actionsOf(s, 'abort').length === 2, 'both aborts recorded');
    await restoring.reached;
    restoring.release();

    expect(await handle.result()).toMatchObject({ outcome: 'aborted', by: 'bob', reason: 'customer complaints' });
    expectPreReleaseState(fake);
    const status = await handle.query(statusQuery);
    expect(actionsOf(status, 'abort').map((t) => [t.by, t.accepted, t.detail])).toEqual([
      ['bob', true, 'customer complaints'],
      ['carol', false, 'ignored: the release is already stopping (customer complaints)'],
    ]);
    expect(fake.notifications.map((n) => n.event)).toEqual(['approval-needed', 'aborted']);
    expect(fake.notifications[1]?.message).toBe('customer complaints (by bob); traffic is back on the previous version');
  });

  it('Promoting: while the previous stable is kept, an abort still puts traffic back on it', async () => {
    const { handle, fake } = await releases.start({ steps: [{ setWeight: 50 }, { setWeight: 100 }], promotion: { keepPreviousFor: '10m' } });
    const kept = await waitForStatus(handle, (s) => actionsOf(s, 'keep previous stable').length > 0, 'keep previous stable');
    expect(kept).toMatchObject({ phase: 'Promoting', verifiedWeights: { stable: 0, canary: 100 } });
    expect(fake.groupNames()).toContain(fake.stable.name);
    expect(await abort(handle, 'slow checkout')).toMatchObject({ accepted: true, phase: 'Promoting' });

    expect(await handle.result()).toMatchObject({ outcome: 'aborted', reason: 'slow checkout', stepsCompleted: 2 });
    expectPreReleaseState(fake);
    const canary = (fake.callsOf('ensureTargetGroup')[0]?.input as { name: string }).name;
    expect(fake.writes().slice(-3)).toEqual(['restoreActions', `drainTargetGroup ${canary}`, `deleteTargetGroup ${canary}`]);
  });

  it('Finalizing: refuses an abort as too late (update rejected, signal ignored) and ends promoted', async () => {
    let deleting!: Hold;
    // keepPreviousFor 0s: no timer between Promoting and Finalizing. (Skipping time while a call is held would also
    // skip past the held call's start-to-close timeout, and the retry would not be held.)
    const { handle, fake } = await releases.start(
      { steps: [{ setWeight: 100 }], promotion: { keepPreviousFor: '0s' } },
      (f) => (deleting = f.hold('deleteTargetGroup')),
    );
    await deleting.reached;
    expect((await handle.query(statusQuery)).phase).toBe('Finalizing');
    let refused: Error | undefined;
    await abort(handle, 'too late?').catch((err: Error) => (refused = err));
    expect((refused as { cause?: Error } | undefined)?.cause?.message).toBe('the release is Finalizing: too late to abort');
    await handle.signal(abortSignal, { by: 'carol', reason: 'still too late' });
    await waitForStatus(handle, (s) => actionsOf(s, 'abort').length > 0, 'ignored abort');
    deleting.release();

    expect(await handle.result()).toMatchObject({ outcome: 'promoted' });
    const status = await handle.query(statusQuery);
    expect(actionsOf(status, 'abort')).toEqual([
      expect.objectContaining({ by: 'carol', accepted: false, detail: 'ignored: the release is Finalizing: too late to abort' }),
    ]);
    expect(fake.groupNames()).not.toContain(fake.stable.name);
    expect(fake.forward()).toEqual([{ name: fake.groupNames()[0], weight: 100 }]);
  });
});

describe('rollback', () => {
  it('on a failed analysis restores the pre-release listener first, then deletes baseline and canary, newest first', async () => {
    const { handle, fake } = await releases.start(
      {
        notifications: { webhook: 'ops' },
        environment: { canaryTargets: [{ id: '10.0.1.17', port: 8080 }], baselineTargets: [{ id: '10.0.1.30', port: 8080 }], healthyTimeout: '1m' },
        steps: [{ setWeight: 20 }, { pause: {} }, { analysis: { template: 'errors' } }, { setWeight: 100 }],
      },
      (f) => f.verdicts.push(analysisRun('errors', 'fail', '5xx-rate = 0.2, needs <= 0.05')),
    );
    const paused = await waitForStatus(handle, (s) => s.gate?.kind === 'pause', 'pause before the analysis');
    expect(paused.verifiedWeights).toEqual({ stable: 60, canary: 20, baseline: 20 });
    const [canary, baseline] = fake.callsOf('ensureTargetGroup').map((c) => (c.input as { name: string }).name) as [string, string];
    expect(paused.rollbackPlan.map((r) => r.kind)).toEqual(['restoreActions', 'deleteTargetGroup', 'deleteTargetGroup']);
    expect(paused.rollbackPlan[1]?.description).toContain(baseline);
    expect(paused.rollbackPlan[2]?.description).toContain(canary);
    await handle.executeUpdate(resumeUpdate, { args: [{ by: 'alice' }] });

    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'rolled-back', by: 'canary', reason: 'analysis errors failed at step 2: 5xx-rate = 0.2, needs <= 0.05' });
    expect(result.finalForward).toEqual([{ name: fake.stable.name, weight: 100 }]);
    const writes = fake.writes();
    expect(writes.slice(writes.indexOf('restoreActions'))).toEqual([
      'restoreActions',
      `drainTargetGroup ${baseline}`,
      `deleteTargetGroup ${baseline}`,
      `drainTargetGroup ${canary}`,
      `deleteTargetGroup ${canary}`,
    ]);
    expect(fake.callsOf('deleteTargetGroup').every((c) => c.outcome === 'ok')).toBe(true);
    expectPreReleaseState(fake);

    const status = await handle.query(statusQuery);
    expect(status).toMatchObject({ phase: 'RolledBack', rollbackPlan: [], verifiedWeights: { stable: 100 }, analysis: { verdict: 'fail' } });
    const from = status.timeline.findIndex((t) => t.action === 'rollback');
    expect(status.timeline.slice(from).map((t) => [t.action, t.detail])).toEqual([
      ['rollback', 'analysis errors failed at step 2: 5xx-rate = 0.2, needs <= 0.05'],
      ['restored pre-release traffic', 'verified by describe'],
      ['drained target group', `${baseline}: 5m`],
      ['delete target group', baseline],
      ['drained target group', `${canary}: 5m`],
      ['delete target group', canary],
    ]);
    expect(fake.notifications.map((n) => n.event)).toEqual(['rolled-back']);
  });

  it('on workflow cancellation rolls back and ends cancelled, with the result in the status', async () => {
    const { handle, fake } = await releases.start({ steps: [{ setWeight: 40 }, { approval: { timeout: '1h' } }, { setWeight: 100 }] });
    await waitForStatus(handle, (s) => s.phase === 'AwaitingApproval', 'approval gate');
    await handle.cancel();

    const failure = await handle.result().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expectPreReleaseState(fake);
    const status = await handle.query(statusQuery);
    expect(status).toMatchObject({ phase: 'RolledBack', rollbackPlan: [], result: { outcome: 'aborted', reason: 'the workflow was cancelled' } });
    expect(actionsOf(status, 'rollback')).toEqual([expect.objectContaining({ detail: 'the workflow was cancelled' })]);
  });

  it('on a background analysis failure stops an open pause and rolls back', async () => {
    const { handle, fake } = await releases.start(
      { steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 100 }], backgroundAnalysis: { template: 'errors', interval: '1m', reportEvery: '5m' } },
      (f) => f.backgroundVerdicts.push(analysisRun('errors', 'pass'), analysisRun('errors', 'fail', '5xx-rate = 0.3, needs <= 0.05')),
    );
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'rolled-back', by: 'canary', reason: 'background analysis errors failed: 5xx-rate = 0.3, needs <= 0.05' });
    const status = await handle.query(statusQuery);
    // One call per report batch (reportEvery / interval measurements), so history stays small on long bakes. The
    // first measures first on the first window of buckets after the canary got traffic (ALB's come late, and none
    // from before the first weight would hold canary data); the next ones one interval after the last.
    const batches = fake.callsOf('runAnalysis').map((c) => c.input);
    const trafficSince = actionsOf(status, 'setWeight')[0]?.at;
    expect(batches[0]).toMatchObject({ templateName: 'errors', count: 5, intervalMs: 60_000, delayFirst: true, notBefore: trafficSince });
    expect(batches[1]).toMatchObject({ templateName: 'errors', count: 5, intervalMs: 60_000, delayFirst: true });
    expect(batches[1]).not.toHaveProperty('notBefore');
    expect(actionsOf(status, 'background analysis errors: first window')).toEqual([
      expect.objectContaining({ detail: expect.stringMatching(/^waits \d+(m\d+s|s|m) for buckets after the traffic change$/) }),
    ]);
    expectPreReleaseState(fake);
    expect(actionsOf(status, 'background analysis errors: fail')).toHaveLength(1);
    expect(status.backgroundAnalysis?.verdict).toBe('fail');
  });

  it('on an AWS call that keeps failing rolls back with the error as the reason', async () => {
    const { handle, fake } = await releases.start({ steps: [{ setWeight: 10 }, { setWeight: 50 }, { setWeight: 100 }] }, (f) =>
      f.script('setForwardWeights', (input) => {
        if ((input as { weights: { weight: number }[] }).weights.some((w) => w.weight === 50)) {
          throw ApplicationFailure.create({ type: ErrorTypes.InvalidAwsRequest, nonRetryable: true, message: 'ModifyListener: ValidationError: too many' });
        }
      }),
    );
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'rolled-back', by: 'canary', stepsCompleted: 1 });
    expect(result.reason).toBe('error: ModifyListener: ValidationError: too many');
    expectPreReleaseState(fake);
  });

  it('keeps retrying a failing rollback (RollbackFailed, alert) until the listener is restored', async () => {
    // More failures than one round's six attempts: the first round fails, the second succeeds.
    const { handle, fake } = await releases.start(
      {
        notifications: { webhook: 'ops' },
        rollback: { retryInterval: '1m' },
        steps: [{ setWeight: 10 }, { approval: { timeout: '10m' } }, { setWeight: 100 }],
      },
      (f) => f.fail('restoreActions', 'ModifyListener: Throttling: Rate exceeded', 8),
    );
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'rolled-back', reason: 'approval at step 1 timed out after 10m' });
    expectPreReleaseState(fake);
    expect(fake.callsOf('restoreActions').map((c) => c.outcome)).toEqual([...Array(8).fill('ModifyListener: Throttling: Rate exceeded'), 'ok']);

    const status = await handle.query(statusQuery);
    expect(status.phase).toBe('RolledBack');
    expect(status.rollbackError).toBeUndefined();
    expect(actionsOf(status, 'ALERT: rollback failed')).toEqual([
      expect.objectContaining({ accepted: false, detail: 'round 1: ModifyListener: Throttling: Rate exceeded; retrying in 1m' }),
    ]);
    expect(fake.notifications.map((n) => n.event)).toEqual(['approval-needed', 'rollback-failed', 'rolled-back']);
  });
});

describe('invalid input', () => {
  it('fails as InvalidRelease without touching AWS when the listener cannot be released', async () => {
    const { handle, fake } = await releases.start({}, (f) =>
      f.script('discoverForwards', () => {
        throw ApplicationFailure.create({ type: ErrorTypes.UnsupportedListener, nonRetryable: true, message: 'listener forwards to 2 target groups' });
      }),
    );
    const failure = await handle.result().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause).toMatchObject({ type: 'InvalidRelease', message: 'listener forwards to 2 target groups', nonRetryable: true });
    expect(fake.writes()).toEqual([]);
    expect((await handle.query(statusQuery)).phase).toBe('RolledBack');
  });
});
