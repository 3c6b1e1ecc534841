/**
 * What each verb of common/messages.ts VERBS does to a release: a check (why it cannot be accepted now; pure, so
 * update validators can run it) and an effect (applies it, says what the caller is told). The handlers for every
 * verb — a signal (an invalid one is recorded as ignored) and an update with a validator (an invalid one is refused
 * before anything reaches history) — are derived from this one table.
 */
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import { setHandler, workflowInfo } from '@temporalio/workflow';
import {
  VERBS,
  VERB_NAMES,
  messageRejected,
  payloadProblem,
  signals,
  statusQuery,
  updates,
  type MessageAck,
  type Verb,
  type VerbPayload,
} from '../../common/messages';
import { SIGNED_VERBS, rememberSignature, verifySignedAction, type SignedActionVerdict, type SignedVerb } from '../../common/signing';
import { approverKeysFor, signatureMaxAgeMs } from '../../common/spec';
import type { Gate } from '../../common/status';
import { approvalProblem, isSteerable } from '../plan';
import { StopRelease, type ReleaseState } from './state';

interface VerbRules<V extends Verb> {
  /** Why the message cannot be accepted now; undefined when it can. Never changes state. */
  check(state: ReleaseState, p: VerbPayload<V>): string | undefined;
  /** Applies an accepted message; returns what the caller is told. */
  effect(state: ReleaseState, p: VerbPayload<V>): string;
}

const stopping = 'the release is already stopping';

export const verbRules: { [V in Verb]: VerbRules<V> } = {
  approve: {
    check(s, p) {
      if (s.stop) return stopping;
      const gate = s.status.gate?.kind === 'manual-pause' ? undefined : s.status.gate;
      return approvalProblem(gate, p.by, s.spec.initiator, p.step);
    },
    effect(s, p) {
      const gate = s.status.gate as Gate;
      s.approvedGate = gate.step;
      s.record(p.by, 'approve', `step ${gate.step}${p.comment ? `: ${p.comment}` : ''}`);
      return `approved step ${gate.step}`;
    },
  },
  abort: {
    check(s) {
      if (s.stop) return `${stopping} (${s.stop.reason})`;
      if (!isSteerable(s.status.phase)) return `the release is ${s.status.phase}: too late to abort`;
      return undefined;
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
      if (s.status.paused) return 'already paused';
      if (!['Validating', 'CloningEnvironment', 'Progressing', 'Paused', 'AwaitingApproval'].includes(s.status.phase))
        return `the release is ${s.status.phase}: nothing to pause`;
      return undefined;
    },
    effect(s, p) {
      s.status.paused = true;
      s.record(p.by, 'pause', p.reason);
      return 'paused: the release stops before its next step';
    },
  },
  resume: {
    check(s) {
      if (s.stop) return stopping;
      const gate = s.status.gate;
      if (!s.status.paused && !(gate && (gate.kind === 'pause' || gate.kind === 'inconclusive' || gate.kind === 'drift')))
        return 'not paused: nothing to resume';
      return undefined;
    },
    effect(s, p) {
      s.status.paused = false;
      const gate = s.status.gate;
      if (gate && (gate.kind === 'pause' || gate.kind === 'inconclusive' || gate.kind === 'drift')) s.resumedGate = gate.step;
      s.record(p.by, 'resume', p.comment);
      return 'resumed';
    },
  },
  promote: {
    check(s, p) {
      if (s.stop) return stopping;
      const { status, spec } = s;
      if (!['Progressing', 'Paused', 'AwaitingApproval'].includes(status.phase)) return `the release is ${status.phase}: nothing to promote`;
      if (s.promote?.full) return 'a full promotion is already under way';
      if (!p.full && !status.gate) return 'no pause or gate is open: use full to skip the remaining steps';
      // Promotion never skips an approval gate the caller could not approve.
      for (let i = status.step; i < spec.steps.length; i++) {
        const step = spec.steps[i];
        if (step?.kind !== 'approval' || (!p.full && i !== status.gate?.step)) continue;
        const problem = approvalProblem(
          { kind: 'approval', step: i, approvers: step.approvers, allowSelfApproval: step.allowSelfApproval, openedAt: '' },
          p.by,
          spec.initiator,
        );
        if (problem) return `promotion would skip the approval at step ${i}: ${problem}`;
      }
      return undefined;
    },
    effect(s, p) {
      s.promote = { full: p.full, by: p.by };
      s.status.paused = false;
      s.record(p.by, p.full ? 'promote (full)' : 'promote', p.comment);
      return p.full ? 'promoting: skipping the remaining steps and analysis' : 'skipping the current pause';
    },
  },
};

/**
 * The signature rule, after the verb's own rules: a sender with a key in approverKeys must sign (approve, promote,
 * abort, resume), over this release, its first run and the step the action applies to; a nonce is accepted once.
 */
function signature(state: ReleaseState, verb: Verb, p: VerbPayload<Verb>): SignedActionVerdict {
  if (!(SIGNED_VERBS as readonly string[]).includes(verb)) return { ok: true, verified: false };
  const info = workflowInfo();
  const gate = state.status.gate;
  return verifySignedAction({
    verb: verb as SignedVerb,
    payload: p as Parameters<typeof verifySignedAction>[0]['payload'],
    keys: approverKeysFor(state.spec, p.by),
    release: info.workflowId,
    run: info.firstExecutionRunId,
    step: verb === 'approve' && gate ? gate.step : state.status.step,
    nowMs: Date.now(),
    maxAgeMs: signatureMaxAgeMs(state.spec),
    used: state.usedSignatures,
  });
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
  const before = state.status.timeline.length;
  const message = verbRules[verb].effect(state, p);
  if (!verdict.ok || !verdict.verified) return message;
  state.usedSignatures = rememberSignature(state.usedSignatures, verdict, Date.now(), signatureMaxAgeMs(state.spec));
  const entry = state.status.timeline[before] ?? state.status.timeline[state.status.timeline.length - 1];
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
      const by = typeof payload === 'object' && payload !== null && 'by' in payload ? String((payload as { by: unknown }).by) : 'unknown';
      state.record(by, verb, `ignored: ${r.problem}`, false);
    } else {
      apply(state, verb, r.payload, r.verdict);
    }
  });
  setHandler(
    update,
    (payload: unknown): MessageAck => {
      const r = judge(state, verb, payload);
      if ('problem' in r) throw messageRejected(r.problem);
      const message = apply(state, verb, r.payload, r.verdict);
      return { accepted: true, phase: state.status.phase, step: state.status.step, message };
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

/** Installs the signal and update of every verb, and the status query. */
export function installMessageHandlers(state: ReleaseState): void {
  for (const verb of VERB_NAMES) listen(state, verb);
  setHandler(statusQuery, () => state.status);
}
