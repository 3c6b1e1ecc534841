/**
 * What each verb of common/messages.ts VERBS does to a release: a check (why it cannot be accepted now; pure, so
 * update validators can run it) and an effect (applies it, says what the caller is told). The handlers for every
 * verb — a signal (an invalid one is recorded as ignored) and an update with a validator (an invalid one is refused
 * before anything reaches history) — are derived from this one table.
 */
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import { setHandler, workflowInfo } from '@temporalio/workflow';
import {
  SIGNABLE_VERBS,
  VERBS,
  VERB_NAMES,
  acceptsIn,
  messageRejected,
  payloadProblem,
  signals,
  statusQuery,
  updates,
  type MessageAck,
  type Verb,
  type VerbPayload,
} from '../../common/messages';
import { ACTOR_NAME_PATTERN } from '../../common/names';
import { rememberSignature, verifySignedAction, type SignedActionCheck, type SignedActionVerdict, type SignedVerb } from '../../common/signing';
import { approverKeysFor, signatureMaxAgeMs } from '../../common/spec';
import type { Gate } from '../../common/status';
import { approvalProblem } from '../plan';
import { signedMode } from './approvers';
import { StopRelease, type ReleaseState } from './state';

interface VerbRules<V extends Verb> {
  /** Why the message cannot be accepted now; undefined when it can. Never changes state. */
  check(state: ReleaseState, p: VerbPayload<V>): string | undefined;
  /** Applies an accepted message; returns what the caller is told. */
  effect(state: ReleaseState, p: VerbPayload<V>): string;
}

const stopping = 'the release is already stopping';

/** Gates a resume ends (an approval needs an approve; a manual pause ends by unpausing). */
const RESUMABLE: readonly Gate['kind'][] = ['pause', 'inconclusive', 'drift', 'manual-pause'];

/** Why `verb` is not taken in the release's phase (the verb table's phases), or undefined. */
function phaseProblem(s: ReleaseState, verb: Verb, why: string): string | undefined {
  return acceptsIn(verb, s.data.phase) ? undefined : `the release is ${s.data.phase}: ${why}`;
}

export const verbRules: { [V in Verb]: VerbRules<V> } = {
  approve: {
    check(s, p) {
      if (s.stop) return stopping;
      const gate = s.data.gate?.kind === 'manual-pause' ? undefined : s.data.gate;
      return approvalProblem(gate, p.by, s.spec.initiator, p.step);
    },
    effect(s, p) {
      const gate = s.data.gate as Gate;
      s.answerGate('approve', p.by);
      s.record(p.by, 'approve', `step ${gate.step}${p.comment ? `: ${p.comment}` : ''}`);
      return `approved step ${gate.step}`;
    },
  },
  abort: {
    check(s) {
      if (s.stop) return `${stopping} (${s.stop.reason})`;
      return phaseProblem(s, 'abort', 'too late to abort');
    },
    effect(s, p) {
      s.requestStop(new StopRelease('aborted', p.reason, p.by));
      s.record(p.by, 'abort', p.reason);
      return 'aborting: traffic goes back to stable, then the canary is removed';
    },
  },
  pause: {
    check(s) {
      if (s.stop) return stopping;
      if (s.data.paused) return 'already paused';
      return phaseProblem(s, 'pause', 'nothing to pause');
    },
    effect(s, p) {
      s.data.paused = true;
      s.record(p.by, 'pause', p.reason);
      return 'paused: the release stops before its next step';
    },
  },
  resume: {
    check(s) {
      if (s.stop) return stopping;
      const gate = s.data.gate;
      if (!s.data.paused && !(gate && RESUMABLE.includes(gate.kind))) return 'not paused: nothing to resume';
      return phaseProblem(s, 'resume', 'nothing to resume');
    },
    effect(s, p) {
      s.data.paused = false;
      const gate = s.data.gate;
      if (gate && RESUMABLE.includes(gate.kind)) s.answerGate('resume', p.by);
      s.record(p.by, 'resume', p.comment);
      return 'resumed';
    },
  },
  promote: {
    check(s, p) {
      if (s.stop) return stopping;
      const { data, spec } = s;
      const phase = phaseProblem(s, 'promote', 'nothing to promote');
      if (phase) return phase;
      if (s.data.fullPromotion) return 'a full promotion is already under way';
      if (!p.full && !data.gate) return 'no pause or gate is open: use full to skip the remaining steps';
      // Promotion never skips an approval gate the caller could not approve.
      for (let i = data.step; i < spec.steps.length; i++) {
        const step = spec.steps[i];
        if (step?.kind !== 'approval' || (!p.full && i !== data.gate?.step)) continue;
        const problem = approvalProblem(
          { kind: 'approval', seq: 0, step: i, approvers: step.approvers, allowSelfApproval: step.allowSelfApproval, openedAt: '' },
          p.by,
          spec.initiator,
        );
        if (problem) return `promotion would skip the approval at step ${i}: ${problem}`;
      }
      return undefined;
    },
    effect(s, p) {
      // A plain promote answers the open gate only (a manual pause included): it never reaches a later gate.
      if (p.full) s.data.fullPromotion = { by: p.by };
      else s.answerGate('promote', p.by);
      s.data.paused = false;
      s.record(p.by, p.full ? 'promote (full)' : 'promote', p.comment);
      return p.full ? 'promoting: skipping the remaining steps and analysis' : 'skipping the current pause';
    },
  },
};

/** The signature-related fields of a parsed payload (only signable verbs have `signature`). */
type SignablePayload = Parameters<typeof verifySignedAction>[0]['payload'];

/**
 * The signature rule, after the verb's own rules (docs/APPROVALS.md has it as a table):
 * - signed mode (the release has approver keys): a `forward` verb (approve, promote, resume) must carry a valid
 *   signature by a key of the release, over this release, its first run and the step it applies to; a nonce is
 *   accepted once. Without keys, a name that has none may send it unsigned.
 * - a `stop` verb (abort, pause) is open to everyone: accepted unverified, or verified when its signature checks out.
 */
function signature(state: ReleaseState, verb: Verb, p: VerbPayload<Verb>): SignedActionVerdict {
  if (!(SIGNABLE_VERBS as readonly Verb[]).includes(verb)) return { ok: true, verified: false };
  const forward = VERBS[verb].signing === 'forward';
  if (state.data.approverKeys === undefined) {
    // Before the first run has read its keys: nothing moves forward, but anyone may still stop the line.
    return forward ? { ok: false, reason: 'the release is still reading its approver keys; send it again in a moment' } : { ok: true, verified: false };
  }
  const payload = p as SignablePayload;
  const verdict = verifySignedAction(signatureCheck(state, verb as SignedVerb, payload, forward && signedMode(state)));
  // Anyone may stop the line: a stop verb whose signature does not check out still counts, as unverified.
  return verdict.ok || forward ? verdict : { ok: true, verified: false };
}

function signatureCheck(state: ReleaseState, verb: SignedVerb, payload: SignablePayload, required: boolean): SignedActionCheck {
  const info = workflowInfo();
  const gate = state.data.gate;
  return {
    verb,
    payload,
    keys: approverKeysFor(state.data.approverKeys, payload.by),
    required,
    release: info.workflowId,
    run: info.firstExecutionRunId,
    step: verb === 'approve' && gate ? gate.step : state.data.step,
    nowMs: Date.now(),
    maxAgeMs: signatureMaxAgeMs(state.spec),
    used: state.data.usedSignatures,
  };
}

/**
 * A refused message that carries a genuine signature for this release (one that verifies for the step it claims,
 * within its validity) burns its nonce like an accepted one: it is in history now, and whoever reads history must
 * not be able to send it again when it would be accepted (say, once the gate it names opens).
 */
function burnRefusedSignature(state: ReleaseState, verb: Verb, payload: unknown): void {
  if (!(SIGNABLE_VERBS as readonly Verb[]).includes(verb) || state.data.approverKeys === undefined) return;
  const parsed = VERBS[verb].input.safeParse(payload);
  const p = parsed.success ? (parsed.data as SignablePayload) : undefined;
  if (!p?.signature) return;
  const genuine = verifySignedAction({ ...signatureCheck(state, verb as SignedVerb, p, false), step: p.signature.step, used: [] });
  if (genuine.ok && genuine.verified)
    state.data.usedSignatures = rememberSignature(state.data.usedSignatures, genuine, Date.now(), signatureMaxAgeMs(state.spec));
}

function judge<V extends Verb>(
  state: ReleaseState,
  verb: V,
  payload: unknown,
): { problem: string } | { payload: VerbPayload<V>; verdict: SignedActionVerdict } {
  const parsed = VERBS[verb].input.safeParse(payload);
  if (!parsed.success) return { problem: payloadProblem(parsed.error) };
  const data = parsed.data as VerbPayload<V>;
  const problem = verbRules[verb].check(state, data);
  if (problem) return { problem };
  const verdict = signature(state, verb, data);
  return verdict.ok ? { payload: data, verdict } : { problem: verdict.reason };
}

/** Applies an accepted message: remembers its signature, marks its timeline entry as verified, runs the verb's effect. */
function apply<V extends Verb>(state: ReleaseState, verb: V, p: VerbPayload<V>, verdict: SignedActionVerdict): string {
  const before = state.data.timeline.length;
  const message = verbRules[verb].effect(state, p);
  if (!verdict.ok || !verdict.verified) return message;
  state.data.usedSignatures = rememberSignature(state.data.usedSignatures, verdict, Date.now(), signatureMaxAgeMs(state.spec));
  const entry = state.data.timeline[before] ?? state.data.timeline[state.data.timeline.length - 1];
  if (entry) entry.signed = { key: verdict.fingerprint };
  // The sender sees that their signature counted (and a missing mark tells them it did not matter).
  return `${message} (signature verified)`;
}

function listen<V extends Verb>(state: ReleaseState, verb: V): void {
  // Payloads are checked here, not trusted: the Temporal UI and `temporal` CLI can send any JSON.
  const signal = signals[verb] as SignalDefinition<[unknown]>;
  const update = updates[verb] as UpdateDefinition<MessageAck, [unknown]>;
  setHandler(signal, (payload: unknown) => {
    const r = judge(state, verb, payload);
    if ('problem' in r) {
      burnRefusedSignature(state, verb, payload);
      const by = typeof payload === 'object' && payload !== null && 'by' in payload ? String((payload as { by: unknown }).by) : 'unknown';
      state.record(recordedName(by), verb, `ignored: ${r.problem}`, false);
    } else {
      apply(state, verb, r.payload, r.verdict);
    }
  });
  setHandler(
    update,
    (payload: unknown): MessageAck => {
      const r = judge(state, verb, payload);
      if ('problem' in r) {
        // Accepted by the validator, refused now (the state changed in between): the payload is in history.
        burnRefusedSignature(state, verb, payload);
        throw messageRejected(r.problem);
      }
      const message = apply(state, verb, r.payload, r.verdict);
      return { accepted: true, phase: state.data.phase, step: state.data.step, message };
    },
    {
      validator: (payload: unknown) => {
        const r = judge(state, verb, payload);
        // A non-retryable failure with only the reason: no stack trace or worker paths reach the UI or the CLI.
        if ('problem' in r) throw messageRejected(r.problem);
      },
    },
  );
}

/**
 * The sender of an ignored signal as the timeline shows it: a name that breaks the name rule (a look-alike of an
 * approver's, an invisible character) is shown escaped, so it never reads as the name it imitates.
 */
function recordedName(by: string): string {
  return ACTOR_NAME_PATTERN.test(by)
    ? by
    : JSON.stringify(by)
        .slice(1, -1)
        .replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Installs the signal and update of every verb, and the status query. */
export function installMessageHandlers(state: ReleaseState): void {
  for (const verb of VERB_NAMES) listen(state, verb);
  setHandler(statusQuery, () => state.view());
}
