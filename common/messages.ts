/**
 * Payloads of the messages a release accepts: one JSON object each, so the Temporal UI's
 * "Send Signal" / "Execute Update" box, `temporal workflow signal|update --input '{...}'` and our CLI send the same thing.
 * Workflow-safe.
 */
import { z } from 'zod';

const By = z
  .string({
    error: (iss) => (iss.code !== 'invalid_type' ? undefined : iss.input === undefined ? 'say who you are: {"by": "alice"}' : 'by is a name (a string)'),
  })
  .trim()
  .min(1, 'say who you are: {"by": "alice"}')
  .max(128);
const Text = z.string().max(2_000);

export const ApproveInput = z.strictObject({
  by: By,
  comment: Text.optional(),
  /** The 0-based index of the approval step you approve; a stale approval for an earlier gate is refused. */
  step: z.number().int().min(0).optional(),
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
});
export const PauseInput = z.strictObject({ by: By, reason: Text.optional() });
export const ResumeInput = z.strictObject({ by: By, comment: Text.optional() });
export const PromoteInput = z.strictObject({
  by: By,
  /** Skip every remaining step and analysis and go to 100% now; without it, promote only ends the current pause or gate. */
  full: z.boolean().default(false),
  comment: Text.optional(),
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
      const field = i.code === 'unrecognized_keys' ? i.keys.join(', ') : i.path.join('.');
      const message = i.code === 'unrecognized_keys' ? `unknown field${i.keys.length > 1 ? 's' : ''}` : i.message;
      return field ? `${field}: ${message}` : message;
    })
    .join('; ');
}
