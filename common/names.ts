/**
 * The one rule for the names of people and bots a release records (`by` of every message, `initiator`, a gate's
 * `approvers`, the names of `approverKeys`): ASCII letters, digits and `. _ @ -`, starting with a letter or digit, at
 * most 63 characters, optionally ending in `[bot]` (CI actors such as `dependabot[bot]`). Look-alike letters
 * (Cyrillic а for Latin a) and invisible characters (zero-width space, bidi controls) are refused, so a name in the
 * timeline is the name an approver list or a key was written for. Workflow-safe.
 */
import { z } from 'zod';

export const ACTOR_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,62}(\[bot\])?$/;

export const ACTOR_NAME_RULE = 'a name is 1-63 ASCII letters, digits or . _ @ - (starting with a letter or digit), optionally ending in [bot]';

/** Why `text` is not a name, or undefined; says which character is wrong when one is outside the rule. */
export function actorNameProblem(text: string): string | undefined {
  if (ACTOR_NAME_PATTERN.test(text)) return undefined;
  if (text.length > 68) return `${ACTOR_NAME_RULE}; this one has ${text.length} characters`;
  const odd = [...text].find((ch) => !/[A-Za-z0-9._@[\]-]/.test(ch));
  if (odd !== undefined) {
    const code = `U+${odd.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    return `${ACTOR_NAME_RULE}; it contains ${/^[\x21-\x7e]$/.test(odd) ? `"${odd}"` : code} (look-alike and invisible characters are refused)`;
  }
  return ACTOR_NAME_RULE;
}

/** A name under {@link ACTOR_NAME_PATTERN}; the issue names the character that is wrong. */
export const ActorName = z.string().superRefine((text, ctx) => {
  const problem = actorNameProblem(text);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
