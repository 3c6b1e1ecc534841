/**
 * The release workflow's gates and messages, on the time-skipping test server with the activities replaced at the
 * contract boundary (test/support/fake-alb.ts). Pins behaviour through the public interface only: workflow type
 * `release` with `{ spec }`, the verbs of common/messages.ts and the `status` query.
 */
import { abortUpdate, approveSignal, approveUpdate, pauseUpdate, promoteSignal, promoteUpdate, resumeUpdate, statusQuery } from '../../common/messages';
import { ReleasePhase, CanaryWeight, ReleaseService, ReleaseVersion } from '../../common/search-attributes';
import { actionsOf, atGate, cancelRequested, refusal, timeSkippingRelease, waitForStatus } from '../support/time-skipping';
import type { Hold } from '../support/fake-alb';

const releases = timeSkippingRelease();

const ms = (iso: string | undefined): number => Date.parse(iso ?? '');

describe('approval gates', () => {
  it('promotes after an allowed approver approves through the update, and ends with only the canary serving', async () => {
    const { handle, fake } = await releases.start({
      steps: [{ setWeight: 10 }, { approval: { approvers: ['alice', 'bob'], timeout: '1h' } }, { setWeight: 100 }],
    });
    const gated = await waitForStatus(handle, atGate('approval', 1), 'approval gate');
    expect(gated.phase).toBe('AwaitingApproval');
    expect(gated.gate).toMatchObject({ approvers: ['alice', 'bob'], onTimeout: 'rollback', allowSelfApproval: false });
    expect(ms(gated.gate?.deadline) - ms(gated.gate?.openedAt)).toBe(3_600_000);
    expect(gated.verifiedWeights).toEqual({ stable: 90, canary: 10 });

    const ack = await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice', comment: 'dashboards look fine', step: 1 }] });
    expect(ack).toMatchObject({ accepted: true, message: 'approved step 1' });

    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'promoted', stepsCompleted: 3, steps: 3 });
    const canary = fake.groupNames().find((n) => n !== fake.stable.name) as string;
    expect(fake.forward()).toEqual([{ name: canary, weight: 100 }]);
    expect(fake.groupNames()).toEqual([canary]);
    expect(result.finalForward).toEqual([{ name: canary, weight: 100 }]);

    const status = await handle.query(statusQuery);
    expect(status.phase).toBe('Succeeded');
    expect(status.gate).toBeUndefined();
    expect(status.verifiedWeights).toEqual({ canary: 100 });
    expect(status.rollbackPlan).toEqual([]);
    expect(actionsOf(status, 'approve')).toEqual([expect.objectContaining({ by: 'alice', detail: 'step 1: dashboards look fine', accepted: true })]);
    // Attached at weight 0 before any traffic (health-checked, no users); the previous stable is drained before its delete.
    expect(fake.writes()).toEqual([
      `ensureTargetGroup ${canary}`,
      'registerTargets',
      `setForwardWeights ${fake.stable.name}=100,${canary}=0`,
      `setForwardWeights ${fake.stable.name}=90,${canary}=10`,
      `setForwardWeights ${fake.stable.name}=0,${canary}=100`,
      `setForwardWeights ${canary}=100`,
      `drainTargetGroup ${fake.stable.name}`,
      `deleteTargetGroup ${fake.stable.name}`,
    ]);
    expect(actionsOf(status, 'attach at weight 0')).toEqual([expect.objectContaining({ by: 'canary', detail: 'canary 0%, stable 100% (verified)' })]);
  });

  it('keeps the search attributes and the current details of the Temporal UI up to date', async () => {
    const { handle } = await releases.start({ steps: [{ setWeight: 30 }, { approval: { timeout: '1h' } }, { setWeight: 100 }] });
    await waitForStatus(handle, atGate('approval', 1), 'approval gate');
    const during = await handle.describe();
    expect(during.typedSearchAttributes.get(ReleasePhase)).toBe('AwaitingApproval');
    expect(during.typedSearchAttributes.get(CanaryWeight)).toBe(30);
    expect(during.typedSearchAttributes.get(ReleaseVersion)).toBe('v2');
    const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toMatch(/AwaitingApproval[\s\S]*canary 30% \/ stable 70%[\s\S]*waiting: approval at step 1 until /);

    await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
    await handle.result();
    const after = await handle.describe();
    expect(after.typedSearchAttributes.get(ReleasePhase)).toBe('Succeeded');
    expect(after.typedSearchAttributes.get(CanaryWeight)).toBe(100);
    expect(after.typedSearchAttributes.get(ReleaseService)).toBe((await handle.query(statusQuery)).service);
  });

  it('refuses an approver who is not listed (update rejected, signal ignored and recorded), then accepts one who is', async () => {
    const { handle } = await releases.start({
      steps: [{ setWeight: 10 }, { approval: { approvers: ['alice'], timeout: '1h' } }, { setWeight: 100 }],
    });
    await waitForStatus(handle, atGate('approval', 1), 'approval gate');

    expect(await refusal(handle.executeUpdate(approveUpdate, { args: [{ by: 'mallory' }] }))).toBe('mallory is not an approver of step 1 (approvers: alice)');
    await handle.signal(approveSignal, { by: 'mallory', comment: 'trust me' });
    const ignored = await waitForStatus(handle, (s) => actionsOf(s, 'approve').length > 0, 'ignored approve signal');
    expect(actionsOf(ignored, 'approve')).toEqual([
      expect.objectContaining({ by: 'mallory', accepted: false, detail: 'ignored: mallory is not an approver of step 1 (approvers: alice)' }),
    ]);
    expect(ignored.phase).toBe('AwaitingApproval');
    expect(ignored.gate?.kind).toBe('approval');

    await handle.signal(approveSignal, { by: 'alice' });
    expect((await handle.result()).outcome).toBe('promoted');
    const status = await handle.query(statusQuery);
    expect(actionsOf(status, 'approve').map((t) => [t.by, t.accepted])).toEqual([
      ['mallory', false],
      ['alice', true],
    ]);
  });

  it('refuses a malformed approval with the field that is wrong', async () => {
    const { handle } = await releases.start({ steps: [{ setWeight: 10 }, { approval: { timeout: '1h' } }, { setWeight: 100 }] });
    await waitForStatus(handle, atGate('approval', 1), 'approval gate');
    expect(await refusal(handle.executeUpdate(approveUpdate, { args: [{ by: 'alice', stepp: 1 } as never] }))).toBe('stepp: unknown field');
    expect(await refusal(handle.executeUpdate(approveUpdate, { args: [{} as never] }))).toBe('by: say who you are: {"by": "alice"}');
    await handle.executeUpdate(abortUpdate, { args: [{ by: 'alice', reason: 'done testing' }] });
    expect((await handle.result()).outcome).toBe('aborted');
  });

  it('refuses self-approval by the initiator unless the gate allows it', async () => {
    const { handle } = await releases.start({
      initiator: 'carol',
      steps: [
        { setWeight: 10 },
        { approval: { approvers: ['alice', 'carol'], timeout: '1h' } },
        { setWeight: 50 },
        { approval: { approvers: ['carol'], timeout: '1h', allowSelfApproval: true } },
        { setWeight: 100 },
      ],
    });
    await waitForStatus(handle, atGate('approval', 1), 'first approval gate');
    expect(await refusal(handle.executeUpdate(approveUpdate, { args: [{ by: 'carol' }] }))).toBe(
      'carol started this release and cannot approve it (allowSelfApproval is off)',
    );
    await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice', step: 1 }] });

    await waitForStatus(handle, atGate('approval', 3), 'second approval gate');
    const ack = await handle.executeUpdate(approveUpdate, { args: [{ by: 'carol', step: 3 }] });
    expect(ack.message).toBe('approved step 3');
    expect((await handle.result()).outcome).toBe('promoted');
  });

  it('refuses a stale approval meant for an earlier gate', async () => {
    const { handle } = await releases.start({
      steps: [{ setWeight: 10 }, { approval: { timeout: '1h' } }, { setWeight: 50 }, { approval: { timeout: '1h' } }, { setWeight: 100 }],
    });
    await waitForStatus(handle, atGate('approval', 1), 'first approval gate');
    expect(await refusal(handle.executeUpdate(approveUpdate, { args: [{ by: 'alice', step: 3 }] }))).toBe(
      'stale approval: it is for step 3, the open gate is step 1',
    );
    await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice', step: 1 }] });

    await waitForStatus(handle, atGate('approval', 3), 'second approval gate');
    expect(await refusal(handle.executeUpdate(approveUpdate, { args: [{ by: 'alice', step: 1 }] }))).toBe(
      'stale approval: it is for step 1, the open gate is step 3',
    );
    // The same stale approval as a signal (e.g. a retried webhook) is recorded as ignored and leaves the gate open.
    await handle.signal(approveSignal, { by: 'alice', step: 1 });
    const s = await waitForStatus(handle, (x) => actionsOf(x, 'approve').some((t) => !t.accepted), 'ignored stale approval');
    expect(s.gate).toMatchObject({ kind: 'approval', step: 3 });
    expect(actionsOf(s, 'approve').at(-1)).toMatchObject({ accepted: false, detail: 'ignored: stale approval: it is for step 1, the open gate is step 3' });

    await handle.executeUpdate(approveUpdate, { args: [{ by: 'bob', step: 3 }] });
    expect((await handle.result()).outcome).toBe('promoted');
  });

  it('rolls back when an approval times out with onTimeout rollback', async () => {
    const { handle, fake } = await releases.start({
      steps: [{ setWeight: 10 }, { approval: { approvers: ['alice'], timeout: '10m', onTimeout: 'rollback' } }, { setWeight: 100 }],
    });
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'rolled-back', reason: 'approval at step 1 timed out after 10m', by: 'canary', stepsCompleted: 1 });
    expect(fake.actions).toEqual(fake.originalActions);
    expect(fake.groupNames()).toEqual([fake.stable.name]);
    const status = await handle.query(statusQuery);
    expect(status.phase).toBe('RolledBack');
    expect(actionsOf(status, 'approval timed out')).toEqual([expect.objectContaining({ detail: 'after 10m: rollback' })]);
    expect(status.verifiedWeights).toEqual({ stable: 100 });
  });

  it('goes on when an approval times out with onTimeout continue', async () => {
    const { handle, fake } = await releases.start({
      steps: [{ setWeight: 10 }, { approval: { approvers: ['alice'], timeout: '10m', onTimeout: 'continue' } }, { setWeight: 100 }],
    });
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'promoted', stepsCompleted: 3 });
    const status = await handle.query(statusQuery);
    expect(actionsOf(status, 'approval timed out')).toEqual([expect.objectContaining({ detail: 'after 10m: continue' })]);
    expect(actionsOf(status, 'approve')).toEqual([]);
    expect(fake.groupNames()).not.toContain(fake.stable.name);
  });

  it('lets a 24 h approval gate expire in milliseconds of wall time, at its deadline in workflow time', async () => {
    const { handle, fake } = await releases.start({
      notifications: { webhook: 'ops' },
      steps: [{ setWeight: 5 }, { approval: { approvers: ['alice'], timeout: '24h' } }, { setWeight: 100 }],
    });
    const gated = await waitForStatus(handle, atGate('approval', 1), 'approval gate');
    const deadline = ms(gated.gate?.deadline);
    expect(deadline - ms(gated.gate?.openedAt)).toBe(24 * 3_600_000);

    const wallStart = Date.now();
    const result = await handle.result();
    const wallMs = Date.now() - wallStart;
    expect(result).toMatchObject({ outcome: 'rolled-back', reason: 'approval at step 1 timed out after 1d' });
    expect(result.durationMs).toBeGreaterThanOrEqual(24 * 3_600_000);
    const status = await handle.query(statusQuery);
    const timedOut = actionsOf(status, 'approval timed out')[0];
    expect(ms(timedOut?.at)).toBeGreaterThanOrEqual(deadline);
    expect(fake.notifications.map((n) => n.event)).toEqual(['approval-needed', 'rolled-back']);
    expect(fake.notifications[0]?.message).toMatch(/^step 1 waits for alice until /);
    // A figure, not an assertion (the jest timeout bounds it): how long a day of gate took here.
    process.stdout.write(`[figure] a 24 h approval gate expired after ${wallMs} ms of wall time\n`);
  });
});

describe('promote', () => {
  it('ends a timed pause early without skipping the steps after it', async () => {
    const { handle, fake } = await releases.start({
      steps: [{ setWeight: 10 }, { pause: { duration: '1h' } }, { setWeight: 50 }, { analysis: { template: 'errors' } }, { setWeight: 100 }],
    });
    await waitForStatus(handle, atGate('pause', 1), 'timed pause');
    const ack = await handle.executeUpdate(promoteUpdate, { args: [{ by: 'alice' }] });
    expect(ack.message).toBe('skipping the current pause');

    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'promoted', stepsCompleted: 5 });
    const status = await handle.query(statusQuery);
    expect(actionsOf(status, 'pause ended')).toEqual([expect.objectContaining({ by: 'alice', detail: 'promoted by alice' })]);
    expect(actionsOf(status, 'setWeight').map((t) => t.detail)).toEqual([
      'canary 10%, stable 90% (verified)',
      'canary 50%, stable 50% (verified)',
      'canary 100%, stable 0% (verified)',
    ]);
    expect(fake.callsOf('runAnalysis')).toHaveLength(1);
    // The pause ended when promoted, not after its hour.
    expect(result.durationMs).toBeLessThan(3_600_000);
  });

  it('ends an approval gate when the caller could approve it, and is refused when not', async () => {
    const { handle } = await releases.start({
      steps: [{ setWeight: 10 }, { approval: { approvers: ['alice'], timeout: '1h' } }, { setWeight: 100 }],
    });
    await waitForStatus(handle, atGate('approval', 1), 'approval gate');
    expect(await refusal(handle.executeUpdate(promoteUpdate, { args: [{ by: 'bob' }] }))).toBe(
      'promotion would skip the approval at step 1: bob is not an approver of step 1 (approvers: alice)',
    );
    await handle.executeUpdate(promoteUpdate, { args: [{ by: 'alice' }] });
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'promoted', stepsCompleted: 3 });
  });

  it('with full, skips every remaining step and analysis and goes to 100% at once', async () => {
    const { handle, fake } = await releases.start({
      steps: [
        { setWeight: 10 },
        { pause: {} },
        { analysis: { template: 'errors' } },
        { setWeight: 25 },
        { approval: { timeout: '1h' } },
        { setWeight: 50 },
        { setWeight: 100 },
      ],
    });
    await waitForStatus(handle, atGate('pause', 1), 'indefinite pause');
    const ack = await handle.executeUpdate(promoteUpdate, { args: [{ by: 'alice', full: true, comment: 'hotfix' }] });
    expect(ack.message).toBe('promoting: skipping the remaining steps and analysis');

    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'promoted', by: 'alice', stepsCompleted: 2, steps: 7 });
    expect(fake.callsOf('runAnalysis')).toEqual([]);
    const canary = fake.groupNames()[0] as string;
    expect(fake.writes().filter((w) => w.startsWith('setForwardWeights'))).toEqual([
      `setForwardWeights ${fake.stable.name}=100,${canary}=0`,
      `setForwardWeights ${fake.stable.name}=90,${canary}=10`,
      `setForwardWeights ${fake.stable.name}=0,${canary}=100`,
      `setForwardWeights ${canary}=100`,
    ]);
    const status = await handle.query(statusQuery);
    expect(actionsOf(status, 'promote (full)')).toEqual([expect.objectContaining({ by: 'alice', detail: 'hotfix' })]);
    expect(actionsOf(status, 'setWeight').at(-1)).toMatchObject({ by: 'alice', detail: 'canary 100%, stable 0% (verified)' });
  });

  it('with full, skips an analysis that is running', async () => {
    let running!: Hold;
    const { handle, fake } = await releases.start(
      { steps: [{ setWeight: 10 }, { analysis: { template: 'errors' } }, { setWeight: 100 }] },
      (f) => (running = f.hold('runAnalysis')),
    );
    await running.reached;
    await handle.executeUpdate(promoteUpdate, { args: [{ by: 'alice', full: true }] });
    // The running analysis is cancelled (and has ended before the release can close: keepPreviousFor holds it).
    expect(await running.ended).toBe('cancelled');
    expect(await cancelRequested(handle, 'runAnalysis')).toBe(true);
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'promoted', by: 'alice' });
    const status = await handle.query(statusQuery);
    expect(actionsOf(status, 'analysis errors: skipped')).toEqual([expect.objectContaining({ detail: 'full promotion' })]);
    expect(fake.callsOf('runAnalysis').map((c) => c.outcome)).toEqual(['cancelled']);
  });

  it('with full, is refused when it would skip a later approval the caller cannot approve', async () => {
    const { handle } = await releases.start({
      steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { approval: { approvers: ['alice'], timeout: '1h' } }, { setWeight: 100 }],
    });
    await waitForStatus(handle, atGate('pause', 1), 'indefinite pause');
    expect(await refusal(handle.executeUpdate(promoteUpdate, { args: [{ by: 'bob', full: true }] }))).toBe(
      'promotion would skip the approval at step 3: bob is not an approver of step 3 (approvers: alice)',
    );
    await handle.signal(promoteSignal, { by: 'bob', full: true });
    const s = await waitForStatus(handle, (x) => actionsOf(x, 'promote').length > 0, 'ignored promote signal');
    expect(actionsOf(s, 'promote')[0]).toMatchObject({ by: 'bob', accepted: false });
    expect(s.gate?.kind).toBe('pause');

    await handle.executeUpdate(promoteUpdate, { args: [{ by: 'alice', full: true }] });
    expect(await handle.result()).toMatchObject({ outcome: 'promoted', by: 'alice', stepsCompleted: 2 });
  });

  it('without full, is refused when no pause or gate is open', async () => {
    let shifting!: Hold;
    const { handle } = await releases.start(
      { steps: [{ setWeight: 10 }, { setWeight: 50 }, { setWeight: 100 }] },
      (f) => (shifting = f.hold('setForwardWeights', (i: { weights: { weight: number }[] }) => i.weights.some((w) => w.weight === 50))),
    );
    await shifting.reached;
    expect(await refusal(handle.executeUpdate(promoteUpdate, { args: [{ by: 'alice' }] }))).toBe(
      'no pause or gate is open: use full to skip the remaining steps',
    );
    shifting.release();
    expect((await handle.result()).outcome).toBe('promoted');
  });
});

describe('pause and resume', () => {
  it('holds before the next step on a manual pause and goes on when resumed', async () => {
    let first!: Hold;
    const { handle, fake } = await releases.start(
      { steps: [{ setWeight: 10 }, { setWeight: 50 }, { setWeight: 100 }] },
      // The first weight change of the steps (the attach at weight 0 comes before, while cloning).
      (f) => (first = f.hold('setForwardWeights', (i: { weights: { weight: number }[] }) => i.weights.every((w) => w.weight > 0))),
    );
    await first.reached;
    const ack = await handle.executeUpdate(pauseUpdate, { args: [{ by: 'alice', reason: 'watching the dashboards' }] });
    expect(ack).toMatchObject({ accepted: true, phase: 'Progressing', message: 'paused: the release stops before its next step' });
    expect(await refusal(handle.executeUpdate(pauseUpdate, { args: [{ by: 'bob' }] }))).toBe('already paused');
    first.release();

    const paused = await waitForStatus(handle, atGate('manual-pause', 1), 'manual pause');
    expect(paused).toMatchObject({ phase: 'Paused', paused: true, step: 1, verifiedWeights: { stable: 90, canary: 10 } });
    // A manual pause is not a gate anyone approves: resume ends it.
    expect(await refusal(handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] }))).toBe('no gate is open: nothing waits for an approval');
    // It holds in workflow time too: a day passes and the release has not moved.
    await releases.env.sleep('1d');
    const later = await handle.query(statusQuery);
    expect(later).toMatchObject({ phase: 'Paused', step: 1, gate: { kind: 'manual-pause' } });
    expect(fake.callsOf('setForwardWeights')).toHaveLength(2); // attach at 0, then 10%

    const resumed = await handle.executeUpdate(resumeUpdate, { args: [{ by: 'alice', comment: 'all good' }] });
    expect(resumed.message).toBe('resumed');
    expect(await handle.result()).toMatchObject({ outcome: 'promoted', stepsCompleted: 3 });
    const status = await handle.query(statusQuery);
    expect(status.paused).toBe(false);
    expect(status.timeline.filter((t) => ['pause', 'resume'].includes(t.action)).map((t) => [t.by, t.action, t.detail, t.accepted])).toEqual([
      ['alice', 'pause', 'watching the dashboards', true],
      ['alice', 'resume', 'all good', true],
    ]);
  });

  it('waits on an indefinite pause step (no deadline, not even after 30 days) until resumed', async () => {
    const { handle } = await releases.start({ steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 100 }] });
    const open = await waitForStatus(handle, atGate('pause', 1), 'indefinite pause');
    expect(open.phase).toBe('Paused');
    expect(open.gate?.deadline).toBeUndefined();
    expect(await refusal(handle.executeUpdate(resumeUpdate, { args: [{ by: '  ' }] }))).toBe('by: say who you are: {"by": "alice"}');
    await releases.env.sleep('30d');
    expect((await handle.query(statusQuery)).gate).toMatchObject({ kind: 'pause', step: 1 });

    await handle.executeUpdate(resumeUpdate, { args: [{ by: 'alice' }] });
    expect(await handle.result()).toMatchObject({ outcome: 'promoted', stepsCompleted: 3 });
    const status = await handle.query(statusQuery);
    expect(actionsOf(status, 'pause ended')).toEqual([expect.objectContaining({ by: 'alice', detail: 'resumed by alice' })]);
  });

  it('ends an indefinite pause step on approve too', async () => {
    const { handle } = await releases.start({ steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 100 }] });
    await waitForStatus(handle, atGate('pause', 1), 'indefinite pause');
    await handle.executeUpdate(approveUpdate, { args: [{ by: 'ci-bot', step: 1 }] });
    expect((await handle.result()).outcome).toBe('promoted');
    expect(actionsOf(await handle.query(statusQuery), 'pause ended')).toEqual([expect.objectContaining({ by: 'ci-bot', detail: 'approved by ci-bot' })]);
  });

  it('refuses resume when nothing is paused', async () => {
    const { handle } = await releases.start({ steps: [{ setWeight: 10 }, { approval: { timeout: '1h' } }, { setWeight: 100 }] });
    await waitForStatus(handle, atGate('approval', 1), 'approval gate');
    expect(await refusal(handle.executeUpdate(resumeUpdate, { args: [{ by: 'alice' }] }))).toBe('not paused: nothing to resume');
    await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
    expect((await handle.result()).outcome).toBe('promoted');
  });
});

describe('analysis gates', () => {
  it('rolls back when nobody answers an inconclusive analysis within its timeout (default 1h)', async () => {
    const { handle, fake } = await releases.start({ steps: [{ setWeight: 10 }, { analysis: { template: 'errors' } }, { setWeight: 100 }] }, (f) =>
      f.verdicts.push('inconclusive'),
    );
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'rolled-back', reason: 'analysis at step 1 stayed inconclusive for 1h' });
    const status = await handle.query(statusQuery);
    expect(actionsOf(status, 'inconclusive analysis ended')).toEqual([expect.objectContaining({ detail: 'timed out after 1h: rollback' })]);
    expect(fake.actions).toEqual(fake.originalActions);
    expect(fake.groupNames()).toEqual([fake.stable.name]);
  });

  it("goes on after a step's own inconclusive timeout with onTimeout continue", async () => {
    const { handle } = await releases.start(
      { steps: [{ setWeight: 10 }, { analysis: { template: 'errors', inconclusive: { timeout: '30m', onTimeout: 'continue' } } }, { setWeight: 100 }] },
      (f) => f.verdicts.push('inconclusive'),
    );
    expect(await handle.result()).toMatchObject({ outcome: 'promoted', stepsCompleted: 3 });
    const status = await handle.query(statusQuery);
    expect(actionsOf(status, 'inconclusive analysis ended')).toEqual([expect.objectContaining({ detail: 'timed out after 30m: continue' })]);
  });

  it('stops at an inconclusive analysis until resumed, then runs the next analysis', async () => {
    const { handle, fake } = await releases.start(
      { steps: [{ setWeight: 10 }, { analysis: { template: 'errors' } }, { setWeight: 50 }, { analysis: { template: 'errors' } }, { setWeight: 100 }] },
      (f) => f.verdicts.push('inconclusive', 'pass'),
    );
    const gated = await waitForStatus(handle, atGate('inconclusive', 1), 'inconclusive gate');
    expect(gated.phase).toBe('Paused');
    expect(gated.analysis).toMatchObject({ verdict: 'inconclusive', reason: 'scripted inconclusive' });
    // Nothing waits forever: the template's inconclusive policy (default 1h, then rollback) bounds the gate.
    expect(ms(gated.gate?.deadline) - ms(gated.gate?.openedAt)).toBe(3_600_000);
    expect(gated.gate?.onTimeout).toBe('rollback');

    await handle.executeUpdate(resumeUpdate, { args: [{ by: 'alice', comment: 'no traffic at night' }] });
    expect(await handle.result()).toMatchObject({ outcome: 'promoted', stepsCompleted: 5 });
    const status = await handle.query(statusQuery);
    // Each analysis follows a weight change, so its first window waits for buckets from after that change.
    expect(status.timeline.filter((t) => t.action.startsWith('analysis') || t.action === 'inconclusive analysis ended').map((t) => t.action)).toEqual([
      'analysis errors: first window',
      'analysis errors: inconclusive',
      'inconclusive analysis ended',
      'analysis errors: first window',
      'analysis errors: pass',
    ]);
    const shifts = actionsOf(status, 'setWeight').map((t) => t.at);
    expect(fake.callsOf('runAnalysis').map((c) => (c.input as { notBefore?: string }).notBefore)).toEqual([shifts[0], shifts[1]]);
    expect(actionsOf(status, 'inconclusive analysis ended')[0]?.detail).toBe('resumed by alice');
    expect(fake.callsOf('runAnalysis')).toHaveLength(2);
    const request = fake.callsOf('runAnalysis')[0]?.input as {
      templateName: string;
      count: number;
      intervalMs: number;
      variants: { canary: { targetGroup: string } };
    };
    expect(request).toMatchObject({ templateName: 'errors', count: 2, intervalMs: 30_000 });
    expect(request.variants.canary.targetGroup).toMatch(/^targetgroup\//);
  });
});
