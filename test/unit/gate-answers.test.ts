/**
 * Signed approvals hold at every gate (issue: pause-then-promote walked through an approval). An answer ends exactly
 * the gate it was accepted at; signed mode needs a signature for every verb that moves a release forward; a refused
 * signed payload cannot be replayed from history; names are one ASCII rule; the worker can hold the keys. On the
 * time-skipping server with the activities replaced at the contract boundary (test/support/fake-alb.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import { readSigningKey, signPayload, type SignablePayload } from '../../client/signing';
import { abortUpdate, approveSignal, approveUpdate, pauseSignal, pauseUpdate, promoteUpdate, resumeUpdate, statusQuery } from '../../common/messages';
import type { SignedVerb } from '../../common/signing';
import type { WeightedTargetGroup } from '../../activities/contract';
import type { Hold } from '../support/fake-alb';
import { actionsOf, atGate, refusal, signalHandled, timeSkippingRelease, waitForStatus } from '../support/time-skipping';

const releases = timeSkippingRelease();

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'signing');
const pub = (name: string): string => fs.readFileSync(path.join(FIXTURES, `${name}_ed25519.pub`), 'utf8').trim();
const keyOf = (name: string) => readSigningKey(path.join(FIXTURES, `${name}_ed25519`));

const weightOf = (w: number) => (i: { weights: WeightedTargetGroup[] }) => i.weights.some((g) => g.weight === w && g.weight !== 100 - w);

/** A payload signed by `who`'s fixture key for this release, at the release's own clock (its last status change). */
async function signed<P extends SignablePayload>(handle: WorkflowHandle, who: string, verb: SignedVerb, payload: P, step: number) {
  const status = await handle.query(statusQuery);
  const run = (handle as WorkflowHandle & { firstExecutionRunId: string }).firstExecutionRunId;
  return signPayload(keyOf(who), verb, payload, { release: handle.workflowId, run, step, at: status.updatedAt });
}

/** Until the release has continued as new: ignored messages, one at a time, fill the run's history. */
async function fillUntilContinued(handle: WorkflowHandle, firstRunId: string): Promise<void> {
  const live = releases.env.client.workflow.getHandle(handle.workflowId);
  for (let k = 0; (await live.describe()).runId === firstRunId; k++) await signalHandled(live, approveSignal, { by: `noise-${k}`, step: 99 });
}

const APPROVAL_AFTER_TWO_SHIFTS = [{ setWeight: 10 }, { setWeight: 20 }, { approval: { approvers: ['alice'], timeout: '1h' } }, { setWeight: 100 }];

describe('an answer ends the gate it was accepted at, and no other', () => {
  it('a promote that ends a manual pause does not end the approval gate after it', async () => {
    let held!: Hold<{ weights: WeightedTargetGroup[] }>;
    const { handle, fake } = await releases.start({ steps: APPROVAL_AFTER_TWO_SHIFTS }, (f) => {
      held = f.hold('setForwardWeights', weightOf(10));
    });
    await held.reached;
    await handle.executeUpdate(pauseUpdate, { args: [{ by: 'carol', reason: 'look first' }] });
    held.release();
    await waitForStatus(handle, atGate('manual-pause', 1), 'manual pause before step 1');
    expect(await handle.executeUpdate(promoteUpdate, { args: [{ by: 'carol' }] })).toMatchObject({ message: 'skipping the current pause' });

    const gated = await waitForStatus(handle, atGate('approval', 2), "alice's approval gate");
    expect(gated.phase).toBe('AwaitingApproval');
    expect(fake.forward().find((t) => t.name !== fake.stable.name)?.weight).toBe(20);
    expect(await refusal(handle.executeUpdate(approveUpdate, { args: [{ by: 'carol' }] }))).toMatch(/carol is not an approver of step 2/);
    await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice', step: 2 }] });
    expect(await handle.result()).toMatchObject({ outcome: 'promoted', stepsCompleted: 4 });
    const status = await handle.query(statusQuery);
    expect(actionsOf(status, 'manual pause ended')).toEqual([expect.objectContaining({ by: 'carol', detail: 'promoted by carol' })]);
    expect(actionsOf(status, 'approval ended')).toEqual([expect.objectContaining({ by: 'alice', detail: 'approved by alice' })]);
  });

  it('a promote that ends a manual pause during Validating does not end the first approval gate', async () => {
    let discover!: Hold;
    const { handle } = await releases.start({ steps: [{ setWeight: 10 }, { approval: { approvers: ['alice'], timeout: '1h' } }, { setWeight: 100 }] }, (f) => {
      discover = f.hold('discoverForwards');
    });
    await discover.reached;
    await handle.executeUpdate(pauseUpdate, { args: [{ by: 'carol' }] });
    discover.release();
    const paused = await waitForStatus(handle, atGate('manual-pause', 0), 'manual pause before cloning');
    expect(paused.targetGroups.some((t) => t.role === 'canary')).toBe(false);
    await handle.executeUpdate(promoteUpdate, { args: [{ by: 'carol' }] });
    await waitForStatus(handle, atGate('approval', 1), "alice's approval gate");
    await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
    expect(await handle.result()).toMatchObject({ outcome: 'promoted' });
    const status = await handle.query(statusQuery);
    expect(status.timeline.filter((e) => e.action.endsWith(' ended')).map((e) => [e.action, e.detail])).toEqual([
      ['manual pause ended', 'promoted by carol'],
      ['approval ended', 'approved by alice'],
    ]);
  });

  it('a promote that ended a manual pause is not carried into the next run and its approval gate', async () => {
    let first!: Hold<{ weights: WeightedTargetGroup[] }>;
    let second!: Hold<{ weights: WeightedTargetGroup[] }>;
    const { handle } = await releases.start(
      { steps: APPROVAL_AFTER_TWO_SHIFTS },
      (f) => {
        first = f.hold('setForwardWeights', weightOf(10));
        second = f.hold('setForwardWeights', weightOf(20));
      },
      {},
      // Above the ~80 events a release has at its second manual pause: the test's own messages make it hand over.
      { historyEventLimit: 120 },
    );
    await first.reached;
    await handle.executeUpdate(pauseUpdate, { args: [{ by: 'carol' }] });
    first.release();
    await waitForStatus(handle, atGate('manual-pause', 1), 'first manual pause');
    await handle.executeUpdate(promoteUpdate, { args: [{ by: 'carol' }] });
    await second.reached;
    await handle.executeUpdate(pauseUpdate, { args: [{ by: 'carol' }] });
    second.release();
    const paused = await waitForStatus(handle, atGate('manual-pause', 2), 'second manual pause');
    expect(paused.timeline.some((e) => e.action === 'continued as new')).toBe(false);
    await fillUntilContinued(handle, handle.firstExecutionRunId);

    const live = releases.env.client.workflow.getHandle(handle.workflowId);
    await live.executeUpdate(resumeUpdate, { args: [{ by: 'carol' }] });
    const gated = await waitForStatus(live, atGate('approval', 2), "alice's approval gate in the next run");
    expect(gated.phase).toBe('AwaitingApproval');
    await live.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
    expect(await live.result()).toMatchObject({ outcome: 'promoted' });
    const status = await live.query(statusQuery);
    expect(actionsOf(status, 'approval ended')).toEqual([expect.objectContaining({ by: 'alice', detail: 'approved by alice' })]);
  });
});

describe('signed mode', () => {
  const SIGNED = {
    approverKeys: { alice: pub('alice') },
    steps: [{ setWeight: 10 }, { pause: { duration: '10m' } }, { setWeight: 20 }, { approval: { approvers: ['alice'], timeout: '1h' } }, { setWeight: 100 }],
  };

  it("pause is open to anyone, but only a signature by a key of the release ends the manual pause; mallory cannot promote past alice's gate", async () => {
    const { handle } = await releases.start(SIGNED);
    await waitForStatus(handle, atGate('pause', 1), 'timed pause');
    expect(await handle.executeUpdate(pauseUpdate, { args: [{ by: 'mallory' }] })).toMatchObject({ accepted: true });
    await releases.env.sleep('10m');
    await waitForStatus(handle, atGate('manual-pause', 2), 'manual pause after the timed one');
    expect(await refusal(handle.executeUpdate(promoteUpdate, { args: [{ by: 'mallory' }] }))).toMatch(
      /^this release is in signed mode: a promote must be signed by a key of the release, and mallory has none/,
    );
    expect(await refusal(handle.executeUpdate(resumeUpdate, { args: [{ by: 'mallory' }] }))).toMatch(/signed mode: a resume must be signed/);
    expect(await refusal(handle.executeUpdate(promoteUpdate, { args: [{ by: 'mallory', full: true }] }))).toMatch(/would skip the approval at step 3/);

    const resume = await signed(handle, 'alice', 'resume', { by: 'alice' }, 2);
    expect(await handle.executeUpdate(resumeUpdate, { args: [resume] })).toMatchObject({ message: 'resumed (signature verified)' });
    await waitForStatus(handle, atGate('approval', 3), "alice's gate");
    expect(await refusal(handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] }))).toMatch(/this approve carries no signature/);
    await handle.executeUpdate(approveUpdate, { args: [await signed(handle, 'alice', 'approve', { by: 'alice' }, 3)] });
    expect(await handle.result()).toMatchObject({ outcome: 'promoted' });
    const status = await handle.query(statusQuery);
    expect(status.timeline.filter((e) => e.action.endsWith(' ended')).map((e) => [e.action, e.detail])).toEqual([
      ['pause ended', 'after 10m'],
      ['manual pause ended', 'resumed by alice'],
      ['approval ended', 'approved by alice'],
    ]);
    expect(actionsOf(status, 'pause')[0]).toMatchObject({ by: 'mallory', accepted: true });
    expect(actionsOf(status, 'pause')[0]?.signed).toBeUndefined();
  });

  it('a key-less name cannot end an inconclusive analysis gate with resume', async () => {
    const { handle } = await releases.start(
      { approverKeys: { alice: pub('alice') }, steps: [{ setWeight: 10 }, { analysis: { template: 'errors' } }, { setWeight: 100 }] },
      (f) => f.verdicts.push('inconclusive'),
    );
    await waitForStatus(handle, atGate('inconclusive', 1), 'inconclusive gate');
    expect(await refusal(handle.executeUpdate(resumeUpdate, { args: [{ by: 'mallory' }] }))).toMatch(
      /signed mode: a resume must be signed by a key of the release, and mallory has none/,
    );
    expect(await refusal(handle.executeUpdate(approveUpdate, { args: [{ by: 'mallory' }] }))).toMatch(/signed mode: a approve must be signed/);
    await handle.executeUpdate(resumeUpdate, { args: [await signed(handle, 'alice', 'resume', { by: 'alice' }, 1)] });
    expect(await handle.result()).toMatchObject({ outcome: 'promoted' });
    expect(actionsOf(await handle.query(statusQuery), 'inconclusive analysis ended')).toEqual([expect.objectContaining({ detail: 'resumed by alice' })]);
  });

  it('a signed approval the release refused (sent as a signal for a later gate) cannot be replayed from history at that gate', async () => {
    const steps = [
      { setWeight: 10 },
      { approval: { approvers: ['alice'], timeout: '1h' } },
      { setWeight: 50 },
      { approval: { approvers: ['alice'], timeout: '1h' } },
      { setWeight: 100 },
    ];
    const { handle } = await releases.start({ approverKeys: { alice: pub('alice') }, steps });
    await waitForStatus(handle, atGate('approval', 1), 'first gate');
    const early = await signed(handle, 'alice', 'approve', { by: 'alice' }, 3);
    await handle.signal(approveSignal, early);
    await waitForStatus(handle, (s) => actionsOf(s, 'approve').some((e) => !e.accepted), 'the early approval ignored');
    await handle.executeUpdate(approveUpdate, { args: [await signed(handle, 'alice', 'approve', { by: 'alice' }, 1)] });
    await waitForStatus(handle, atGate('approval', 3), 'second gate');

    // What anyone with read access to the history finds there: the payload of the ignored signal.
    const events = (await handle.fetchHistory()).events ?? [];
    const signalled = events.find((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'approve')?.workflowExecutionSignaledEventAttributes;
    const [fromHistory] = await decodeArrayFromPayloads(releases.env.client.options.loadedDataConverter, signalled?.input?.payloads);
    expect(fromHistory).toEqual(early);
    expect(await refusal(handle.executeUpdate(approveUpdate, { args: [fromHistory as typeof early] }))).toMatch(
      new RegExp(`^replayed: this signature \\(nonce ${early.signature.nonce}\\) was already used`),
    );
    await handle.executeUpdate(approveUpdate, { args: [await signed(handle, 'alice', 'approve', { by: 'alice' }, 3)] });
    expect(await handle.result()).toMatchObject({ outcome: 'promoted' });
  });

  it('abort is open to everyone: unsigned from a name with a key it is accepted and recorded as unverified', async () => {
    const { handle, fake } = await releases.start({ approverKeys: { alice: pub('alice') }, steps: SIGNED.steps });
    await waitForStatus(handle, atGate('pause', 1), 'timed pause');
    expect(await handle.executeUpdate(abortUpdate, { args: [{ by: 'alice', reason: 'from my phone, no key here' }] })).toMatchObject({ accepted: true });
    expect(await handle.result()).toMatchObject({ outcome: 'aborted', by: 'alice' });
    const abort = actionsOf(await handle.query(statusQuery), 'abort')[0];
    expect(abort).toMatchObject({ by: 'alice', accepted: true });
    expect(abort?.signed).toBeUndefined();
    expect(fake.forward()).toEqual([{ name: fake.stable.name, weight: 1 }]);
  });
});

describe('names', () => {
  it('refuses a look-alike of an approver (zero-width space) naming the field, and shows an ignored one escaped', async () => {
    const { handle } = await releases.start({ initiator: 'dependabot[bot]', steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 100 }] });
    await waitForStatus(handle, atGate('pause', 1), 'pause');
    expect(await refusal(handle.executeUpdate(abortUpdate, { args: [{ by: 'alice\u200b', reason: 'x' }] }))).toMatch(
      /^by: a name is 1-63 ASCII letters, digits or \. _ @ - .*it contains U\+200B/,
    );
    await handle.signal(pauseSignal, { by: 'аlice' }); // Cyrillic а
    const ignored = await waitForStatus(handle, (s) => actionsOf(s, 'pause').length > 0, 'ignored pause');
    expect(actionsOf(ignored, 'pause')).toEqual([expect.objectContaining({ by: '\\u0430lice', accepted: false })]);
    expect(await handle.executeUpdate(pauseUpdate, { args: [{ by: 'renovate[bot]' }] })).toMatchObject({ accepted: true });
    await handle.executeUpdate(resumeUpdate, { args: [{ by: 'alice' }] });
    expect(await handle.result()).toMatchObject({ outcome: 'promoted' });
    expect((await handle.query(statusQuery)).initiator).toBe('dependabot[bot]');
  });
});

describe('keys held by the worker', () => {
  const failureOf = async (handle: WorkflowHandle): Promise<ApplicationFailure> => {
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    return (err as WorkflowFailedError).cause as ApplicationFailure;
  };
  const held = { approverKeys: { alice: [pub('alice')] } };
  const GATED = [{ setWeight: 10 }, { approval: { approvers: ['alice'], timeout: '1h' } }, { setWeight: 100 }];

  it('puts a release whose spec has no keys in signed mode with the worker keys', async () => {
    const { handle } = await releases.start({ steps: GATED }, undefined, held);
    await waitForStatus(handle, atGate('approval', 1), 'gate');
    expect(await refusal(handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] }))).toMatch(/this approve carries no signature/);
    await handle.executeUpdate(approveUpdate, { args: [await signed(handle, 'alice', 'approve', { by: 'alice' }, 1)] });
    expect(await handle.result()).toMatchObject({ outcome: 'promoted' });
    expect(actionsOf(await handle.query(statusQuery), 'signed mode')).toEqual([
      expect.objectContaining({ detail: 'approve, promote and resume must be signed by alice (keys held by the worker)' }),
    ]);
  });

  it.each([
    [
      'replaces a held key',
      { alice: pub('mallory') },
      GATED,
      /^approverKeys\.alice: the worker holds alice's keys \(CANARY_APPROVER_KEYS\); a spec cannot add or replace them$/,
    ],
    [
      'adds a name',
      { alice: pub('alice'), mallory: pub('mallory') },
      GATED,
      /^approverKeys\.mallory: the worker holds the approver keys .* a spec cannot add names$/,
    ],
    [
      'has an approval without approvers',
      undefined,
      [{ setWeight: 10 }, { approval: { timeout: '1h' } }, { setWeight: 100 }],
      /^steps\.1\.approval\.approvers: signed mode/,
    ],
    [
      'names an approver without a key',
      undefined,
      [{ setWeight: 10 }, { approval: { approvers: ['bob'], timeout: '1h' } }, { setWeight: 100 }],
      /^steps\.1\.approval\.approvers: bob has no key/,
    ],
  ])('refuses a spec that %s before anything changes in AWS', async (_what, approverKeys, steps, message) => {
    const { handle, fake } = await releases.start({ ...(approverKeys ? { approverKeys } : {}), steps }, undefined, held);
    expect(await failureOf(handle)).toMatchObject({ type: 'InvalidRelease', nonRetryable: true, message: expect.stringMatching(message) as unknown });
    expect(fake.writes()).toEqual([]);
    expect(fake.calls.map((c) => c.activity)).toEqual([]);
  });

  it('takes an abort (and refuses what moves forward) while the release is still reading its keys', async () => {
    let answer!: () => void;
    const answered = new Promise<void>((r) => (answer = r));
    const { handle, fake } = await releases.start({ approverKeys: { alice: pub('alice') }, steps: GATED }, undefined, {
      ...held,
      approverKeysAnswered: answered,
    });
    try {
      await waitForStatus(handle, (s) => actionsOf(s, 'start').length > 0, 'started');
      await handle.executeUpdate(pauseUpdate, { args: [{ by: 'carol' }] });
      expect(await refusal(handle.executeUpdate(resumeUpdate, { args: [{ by: 'alice' }] }))).toBe(
        'the release is still reading its approver keys; send it again in a moment',
      );
      expect(await handle.executeUpdate(abortUpdate, { args: [{ by: 'carol', reason: 'wrong build' }] })).toMatchObject({ accepted: true });
    } finally {
      answer();
    }
    expect(await handle.result()).toMatchObject({ outcome: 'aborted', by: 'carol' });
    expect(fake.writes()).toEqual([]);
  });

  it('accepts a spec that repeats a held key', async () => {
    const { handle } = await releases.start({ approverKeys: { alice: pub('alice') }, steps: GATED }, undefined, held);
    await waitForStatus(handle, atGate('approval', 1), 'gate');
    await handle.executeUpdate(approveUpdate, { args: [await signed(handle, 'alice', 'approve', { by: 'alice' }, 1)] });
    expect(await handle.result()).toMatchObject({ outcome: 'promoted' });
  });
});
