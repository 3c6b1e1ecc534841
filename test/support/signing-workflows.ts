/**
 * A small workflow for test/integration/signing.test.ts (bundled by that test, not part of the product): one
 * approval gate whose `approve` update verifies signatures with common/signing.ts inside the workflow sandbox,
 * and refuses in one of several ways, to show what the `temporal` CLI and the client see for each.
 */
import { ApplicationFailure, condition, defineQuery, defineUpdate, setHandler, workflowInfo } from '@temporalio/workflow';
import { ApproveInput, messageRejected, payloadProblem, type MessageAck } from '../../common/messages';
import { rememberSignature, verifySignedAction, type SignedActionVerdict, type UsedSignatures } from '../../common/signing';

type Checked = { problem: string } | { payload: ApproveInputParsed; verdict: Extract<SignedActionVerdict, { ok: true }> };
type ApproveInputParsed = ReturnType<typeof ApproveInput.parse>;

/** How the validator refuses: a plain Error (the release workflow before issue 16), the SDK's non-retryable failure, or messageRejected(). */
export type RefusalStyle = 'plain-error' | 'non-retryable' | 'message-rejected' | 'untyped';

export interface SignedGateInput {
  approverKeys: Record<string, string[]>;
  step: number;
  refuse: RefusalStyle;
  maxAgeMs: number;
  /** Verified approvals to wait for before completing. */
  until: number;
}

export interface SignedGateState {
  approvals: Array<{ by: string; verified: boolean; fingerprint?: string }>;
  used: UsedSignatures;
}

export const signedGateApprove = defineUpdate<MessageAck, [unknown]>('approve');
export const signedGateState = defineQuery<SignedGateState>('state');

/** Waits until `until` approvals were verified by a key (or 10 minutes pass); returns what it accepted. */
export async function signedGate(input: SignedGateInput): Promise<SignedGateState> {
  const info = workflowInfo();
  const state: SignedGateState = { approvals: [], used: [] };

  const problemWith = (payload: unknown): Checked => {
    const parsed = ApproveInput.safeParse(payload);
    if (!parsed.success) return { problem: payloadProblem(parsed.error) };
    const p = parsed.data;
    if (p.step !== undefined && p.signature && p.step !== p.signature.step) {
      return { problem: `the payload is for step ${p.step}, its signature for step ${p.signature.step}` };
    }
    const verdict = verifySignedAction({
      verb: 'approve',
      payload: p,
      keys: input.approverKeys[p.by],
      release: info.workflowId,
      run: info.firstExecutionRunId,
      step: input.step,
      nowMs: Date.now(),
      maxAgeMs: input.maxAgeMs,
      used: state.used,
    });
    return verdict.ok ? { payload: p, verdict } : { problem: verdict.reason };
  };
  const refusal = (reason: string): Error => {
    if (input.refuse === 'plain-error') return new Error(reason);
    if (input.refuse === 'non-retryable') return ApplicationFailure.nonRetryable(reason, 'MessageRejected');
    if (input.refuse === 'untyped') {
      const f = ApplicationFailure.create({ message: reason, nonRetryable: true });
      f.stack = '';
      return f;
    }
    return messageRejected(reason);
  };

  setHandler(
    signedGateApprove,
    (payload) => {
      const r = problemWith(payload);
      if ('problem' in r) throw refusal(r.problem);
      state.used = rememberSignature(state.used, r.verdict, Date.now(), input.maxAgeMs);
      const verified = r.verdict.verified;
      state.approvals.push({ by: r.payload.by, verified, ...(r.verdict.verified ? { fingerprint: r.verdict.fingerprint } : {}) });
      return { accepted: true, phase: 'AwaitingApproval', step: input.step, message: `approved step ${input.step}${verified ? ' (signature verified)' : ''}` };
    },
    {
      validator: (payload) => {
        const r = problemWith(payload);
        if ('problem' in r) throw refusal(r.problem);
      },
    },
  );
  setHandler(signedGateState, () => state);

  await condition(() => state.approvals.filter((a) => a.verified).length >= input.until, '10m');
  return state;
}
