/**
 * Payloads of the messages a release accepts: one JSON object each, so the Temporal UI's
 * "Send Signal" / "Execute Update" box, `temporal workflow signal|update --input '{...}'` and our CLI send the same thing.
 * Workflow-safe.
 */
import { ApplicationFailure, type QueryDefinition, type SignalDefinition, type UpdateDefinition } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import type { ReleaseData, Phase, ReleaseResult, ReleaseStatus } from './status';
import { ActorName } from './names';
import type { ParsedReleaseSpec } from './spec';
import { AT_PATTERN, NONCE_PATTERN } from './signing';

const By = z
  .string({
    error: (iss) => (iss.code !== 'invalid_type' ? undefined : iss.input === undefined ? 'say who you are: {"by": "alice"}' : 'by is a name (a string)'),
  })
  .trim()
  .min(1, 'say who you are: {"by": "alice"}')
  .pipe(ActorName);
const Text = z.string().max(2_000);

/**
 * A signature over the action (common/signing.ts): what it claims (release, first run, step, nonce, time) and the
 * signature itself, as plain JSON so the Temporal UI and `temporal workflow update execute --input` can carry it.
 * `canary sign` prints the whole payload with it; approve, promote, abort and resume take it. In signed mode (the
 * release has approver keys) approve, promote and resume need it; an abort's is checked when present.
 */
export const Signature = z.strictObject({
  /** The workflow id, e.g. release-checkout. */
  release: z.string().min(1).max(255),
  /** The release's first run id (the same across continue-as-new). */
  run: z.string().min(1).max(64),
  /** The 0-based step the action is for: approve → the gate's step; promote / abort / resume → the step the release is at. */
  step: z.number().int().min(0),
  nonce: z.string().regex(NONCE_PATTERN, 'a fresh random nonce: 8-64 letters, digits, _ or -'),
  at: z.string().regex(AT_PATTERN, 'when it was signed, a UTC time such as 2026-11-30T07:30:00Z'),
  /** base64 of the raw Ed25519 signature, or the armored SSH signature of `ssh-keygen -Y sign -n canary`. */
  sig: z.string().min(1).max(4_096),
});
export type Signature = z.infer<typeof Signature>;

export const ApproveInput = z.strictObject({
  by: By,
  comment: Text.optional(),
  /** The 0-based index of the approval step you approve; a stale approval for an earlier gate is refused. */
  step: z.number().int().min(0).optional(),
  signature: Signature.optional(),
});
export const AbortInput = z.strictObject({
  by: By,
  reason: z
    .string({
      error: (iss) =>
        iss.code !== 'invalid_type' ? undefined : iss.input === undefined ? 'give a reason: {"by": "alice", "reason": "..."}' : 'reason is text (a string)',
    })
    .min(1, 'give a reason: {"by": "alice", "reason": "..."}')
    .max(2_000),
  signature: Signature.optional(),
});
export const PauseInput = z.strictObject({ by: By, reason: Text.optional() });
export const ResumeInput = z.strictObject({ by: By, comment: Text.optional(), signature: Signature.optional() });
export const PromoteInput = z.strictObject({
  by: By,
  /** Skip every remaining step and analysis and go to 100% now; without it, promote only ends the current pause or gate. */
  full: z.boolean().default(false),
  comment: Text.optional(),
  signature: Signature.optional(),
});

export type ApproveInput = z.input<typeof ApproveInput>;
export type AbortInput = z.input<typeof AbortInput>;
export type PauseInput = z.input<typeof PauseInput>;
export type ResumeInput = z.input<typeof ResumeInput>;
export type PromoteInput = z.input<typeof PromoteInput>;

/** What an accepted update answers. */
export interface MessageAck {
  accepted: true;
  phase: string;
  step: number;
  message: string;
}

/** Every problem of a payload as `field: reason`, unknown fields first (a typo in a field name explains the rest). */
export function payloadProblem(error: z.ZodError): string {
  const issues = [...error.issues].sort((a, b) => Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys'));
  if (issues.length === 0) return 'invalid payload';
  return issues
    .map((i) => {
      // A nested object (signature) names its unknown fields by their full path: signature.extra.
      const field = i.code === 'unrecognized_keys' ? i.keys.map((k) => [...i.path, k].join('.')).join(', ') : i.path.join('.');
      const message = i.code === 'unrecognized_keys' ? `unknown field${i.keys.length > 1 ? 's' : ''}` : i.message;
      return field ? `${field}: ${message}` : message;
    })
    .join('; ');
}

/** The failure type of a refused message (update validator), for clients that tell a refusal from an outage. */
export const MESSAGE_REJECTED = 'MessageRejected';

/**
 * What an update validator throws to refuse a message: a non-retryable ApplicationFailure of type MessageRejected
 * carrying only the reason. The stack is emptied on purpose: the SDK's failure converter sends `err.stack` as the
 * failure's stack trace, which the Temporal UI shows under the reason (with the worker's file paths); a refusal is
 * an answer, not a crash, and has no stack worth showing. A plain `Error` instead arrives as
 * `(type: Error, retryable: true)` with its stack.
 */
export function messageRejected(reason: string): ApplicationFailure {
  const failure = ApplicationFailure.create({ type: MESSAGE_REJECTED, message: reason, nonRetryable: true });
  failure.stack = '';
  return failure;
}

/** Phases in which a person can still steer a release before its promotion begins. */
const STEERABLE = ['Validating', 'CloningEnvironment', 'Progressing', 'Paused', 'AwaitingApproval'] as const satisfies readonly Phase[];

/**
 * How signed mode (a release with approver keys) treats a verb:
 * - `forward`: it moves the release on or ends a gate early, so it must carry a valid signature by a key of the release;
 * - `stop`: it only makes the release safer; anyone may send it (anyone may stop the line) and it is recorded as
 *   unverified, unless it carries a signature that verifies.
 */
export type VerbSigning = 'forward' | 'stop';

/**
 * The message table: every verb a person can send, declared once with its payload, how signed mode treats it and
 * the phases that accept it. The workflow's handlers (signal + update with validator), the client's `actions`, the
 * CLI's verbs and the docs' table are all derived from it; a new verb is one row here plus its check and effect in
 * workflows/release/messages.ts (which does not compile without them).
 */
export const VERBS = {
  approve: { input: ApproveInput, summary: 'approve the open approval gate (or end a pause)', signing: 'forward', phases: STEERABLE },
  abort: {
    input: AbortInput,
    summary: 'stop the release and roll back to the pre-release state',
    signing: 'stop',
    phases: [...STEERABLE, 'Promoting'],
  },
  pause: { input: PauseInput, summary: 'hold the release before its next step', signing: 'stop', phases: STEERABLE },
  resume: { input: ResumeInput, summary: 'end a manual pause, an indefinite pause or an inconclusive gate', signing: 'forward', phases: STEERABLE },
  promote: {
    input: PromoteInput,
    summary: 'end the current pause or gate; with full, skip every remaining step',
    signing: 'forward',
    phases: ['Progressing', 'Paused', 'AwaitingApproval'],
  },
} as const satisfies Record<string, { input: z.ZodType; summary: string; signing: VerbSigning; phases: readonly Phase[] }>;
export type Verb = keyof typeof VERBS;
export const VERB_NAMES = Object.keys(VERBS) as Verb[];
/** The verbs whose payload can carry a signature (common/signing.ts SignedVerb, checked below). */
export type SignableVerb = { [V in Verb]: 'signature' extends keyof z.output<(typeof VERBS)[V]['input']> ? V : never }[Verb];
export const SIGNABLE_VERBS = VERB_NAMES.filter((v): v is SignableVerb => 'signature' in VERBS[v].input.shape);
/** Whether `phase` accepts `verb` (the table's phases). */
export function acceptsIn(verb: Verb, phase: Phase): boolean {
  return (VERBS[verb].phases as readonly Phase[]).includes(phase);
}
/** What a caller sends for a verb (before defaults). */
export type VerbInput<V extends Verb> = z.input<(typeof VERBS)[V]['input']>;
/** What the workflow sees for a verb (after parsing and defaults). */
export type VerbPayload<V extends Verb> = z.output<(typeof VERBS)[V]['input']>;

/** A verb's signal and update both carry the verb's name, so the Temporal UI and `temporal` CLI use the same word. */
export const signals = Object.fromEntries(VERB_NAMES.map((v) => [v, defineSignal(v)])) as { [V in Verb]: SignalDefinition<[VerbInput<V>], V> };
export const updates = Object.fromEntries(VERB_NAMES.map((v) => [v, defineUpdate(v)])) as {
  [V in Verb]: UpdateDefinition<MessageAck, [VerbInput<V>], V>;
};

export const approveSignal = signals.approve;
export const abortSignal = signals.abort;
export const pauseSignal = signals.pause;
export const resumeSignal = signals.resume;
export const promoteSignal = signals.promote;
export const approveUpdate = updates.approve;
export const abortUpdate = updates.abort;
export const pauseUpdate = updates.pause;
export const resumeUpdate = updates.resume;
export const promoteUpdate = updates.promote;

export const statusQuery: QueryDefinition<ReleaseStatus, [], 'status'> = defineQuery<ReleaseStatus, [], 'status'>('status');

/** ReleaseInput.historyEventLimit's default: below Temporal's 10,240-event warning, with room for a rollback after the last check. */
export const DEFAULT_HISTORY_EVENT_LIMIT = 8_000;

/** The workflow's input: the parsed spec (common/spec.ts parseReleaseSpec). */
export interface ReleaseInput {
  spec: ParsedReleaseSpec;
  /** Set by the release itself when it continues as new: the state the next run picks up. Never set by a client. */
  resume?: ReleaseData;
  /**
   * Continue as new once a run's history has this many events (default 8,000, under Temporal's 10,240-event warning),
   * or earlier when the server suggests it.
   */
  historyEventLimit?: number;
}
/** The workflow's signature, for typed client handles without importing workflow code. */
export type ReleaseWorkflow = (input: ReleaseInput) => Promise<ReleaseResult>;

/** Workflow type name and id convention: one live release per service. */
export const RELEASE_WORKFLOW = 'release';
export function releaseWorkflowId(service: string): string {
  return `release-${service}`;
}
