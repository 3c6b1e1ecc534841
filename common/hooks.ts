/**
 * Hooks: the team's own checks at the points of a release (smoke tests, a change-freeze calendar, a load tester).
 * The spec names a hook (`smoke`), never a URL: the worker maps the name to its URL and secret
 * (`CANARY_HOOK_<NAME>`, `CANARY_HOOK_<NAME>_SECRET`), so nobody who may start a release can make the worker POST to
 * an address of their choosing, and no secret enters history. This module holds what is pure: the spec schema of
 * hook uses, the hook points, the context a hook is sent, and its answer. Workflow-safe.
 */
import { z } from 'zod';
import { Duration } from './duration';
import type { RoleWeights } from './status';

/** Where a release calls hooks, besides `webhook` steps. */
export const HOOK_POINTS = ['beforeTraffic', 'afterStep', 'beforePromotion', 'afterPromotion', 'afterRollback'] as const;
export type HookPoint = (typeof HOOK_POINTS)[number];

/** What each point means, in words (docs, validation messages, the timeline). */
export const HOOK_POINT_MEANING: Record<HookPoint, string> = {
  beforeTraffic: 'the canary is attached at weight 0 and healthy; no user has reached it yet',
  afterStep: 'after each weight step (setWeight), at its verified weights',
  beforePromotion: 'every step ran; before all traffic moves to the canary',
  afterPromotion: 'all traffic is on the canary and the previous version is cleaned up (a failure can only warn)',
  afterRollback: 'traffic is back on the previous version (a failure can only warn)',
};

/** A hook's name: what `CANARY_HOOK_<NAME>` is keyed by (lower case letters, digits, `-`; `-` is `_` in the variable). */
export const HookName = z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, 'a hook name is lower case letters, digits and -, starting with a letter (at most 40)');

export const DEFAULT_HOOK_TIMEOUT_MS = 10 * 60_000;

/** One use of a hook: its name and how long the release keeps asking while it answers `running` or cannot be reached. */
export const HookUse = z.union([
  HookName.transform((hook) => ({ hook, timeout: DEFAULT_HOOK_TIMEOUT_MS, onTimeout: 'rollback' as const })),
  z.strictObject({
    hook: HookName,
    /** How long the release keeps asking (answers `running`, connection errors, 5xx); then `onTimeout`. */
    timeout: Duration.default(DEFAULT_HOOK_TIMEOUT_MS),
    onTimeout: z.enum(['rollback', 'continue']).default('rollback'),
  }),
]);
export type HookUse = z.infer<typeof HookUse>;

/** The header of the test route, and what to send in it (see ReleaseHooks.testRoute). */
export const DEFAULT_TEST_HEADER = 'X-Canary-Test';

/** The spec's `hooks`: per point, the hooks called there in order; and the test route before any traffic. */
export const ReleaseHooks = z.strictObject({
  beforeTraffic: z.array(HookUse).max(10).default([]),
  afterStep: z.array(HookUse).max(10).default([]),
  beforePromotion: z.array(HookUse).max(10).default([]),
  afterPromotion: z.array(HookUse).max(10).default([]),
  afterRollback: z.array(HookUse).max(10).default([]),
  /**
   * Opens a listener rule that only requests with this header (its value: the release's test token, sent in each
   * hook's context) reach, from the canary's health until the before-traffic hooks have answered: a smoke test
   * reaches the new version through the real load balancer before any user does. Saga-managed like segments.
   */
  testRoute: z
    .union([z.literal(true), z.strictObject({ header: z.string().min(1).max(40).default(DEFAULT_TEST_HEADER) })])
    .transform((t) => (t === true ? { header: DEFAULT_TEST_HEADER } : t))
    .optional(),
});
export type ReleaseHooks = z.infer<typeof ReleaseHooks>;

/** Every hook name a spec uses (its points and its `webhook` steps), once each. */
export function hookNamesOf(hooks: ReleaseHooks | undefined, steps: readonly { kind: string; hook?: string }[]): string[] {
  const names = HOOK_POINTS.flatMap((p) => (hooks?.[p] ?? []).map((u) => u.hook));
  for (const s of steps) if (s.kind === 'webhook' && s.hook) names.push(s.hook);
  return [...new Set(names)];
}

/** What a hook is sent: the release's context at the point it is called (plain JSON; the body that is signed). */
export interface HookContext {
  hook: string;
  /** A hook point, `step` for a `webhook` step, or `probe` for `canary doctor`'s check (answer pass, change nothing). */
  point: HookPoint | 'step' | 'probe';
  releaseId: string;
  run: number;
  service: string;
  version: string;
  /** The 0-based step the release is at. */
  step: number;
  phase: string;
  listenerArn: string;
  targetGroups: { role: string; name: string; arn: string }[];
  weights: RoleWeights;
  /** The test route, while it is open: send `header: value` to reach the canary through the load balancer. */
  testRoute?: { header: string; value: string };
  /** The attempt of this use (1 for the first call; +1 after each `running`). */
  attempt: number;
  /**
   * Added by the worker to the body it sends (never in history): the release's page in the Temporal UI and its
   * report, where the worker knows them (CANARY_UI_URL, CANARY_REPORT_URL).
   */
  links?: { temporalUi?: string; report?: string };
}

/**
 * A hook's answer. 2xx with `{"result":"pass"}` or an empty body passes; `{"result":"fail","reason":…}` rolls the
 * release back; `{"result":"running","retryAfter":"30s"}` is asked again after retryAfter, until the use's timeout.
 */
export type HookAnswer =
  | { result: 'pass'; status: number; detail?: string }
  | { result: 'fail'; status: number; reason: string }
  | { result: 'running'; status: number; retryAfterMs: number; detail?: string };

/** Errors a hook call fails with (activity failure types). */
export const HookErrors = {
  /** Connection error, request timeout, 5xx, 429: retried within the use's timeout. */
  unavailable: 'HookUnavailable',
  /** 4xx, a redirect, a body that is not JSON, too large, or an unknown result: fails the hook (not retried). */
  rejected: 'HookRejected',
  /** The worker has no URL or no secret for the name, or its URL is refused (link-local, metadata address). */
  notConfigured: 'HookNotConfigured',
} as const;

/** What a worker holds for hooks, without URLs or secrets: each configured name, and why it cannot be used if so. */
export type WorkerHooks = Record<string, { problem?: string }>;

/** The worker variable holding a hook's URL: `smoke-test` → `CANARY_HOOK_SMOKE_TEST`; its settings add a suffix. */
export function hookEnvName(hook: string): string {
  return `CANARY_HOOK_${hook.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * Limits of one call (activities/hooks.ts). A call's own timeout (`CANARY_HOOK_<NAME>_TIMEOUT`) is at most `max`: an
 * activity profile for callHook needs a start-to-close timeout above it. `running` answers are asked again after
 * their retryAfter, clamped to [min, max]; the answer's body is read up to `maxAnswerBytes`.
 */
export const HOOK_CALL_LIMITS = {
  requestTimeoutMs: { default: 10_000, max: 50_000 },
  retryAfterMs: { default: 30_000, min: 1_000, max: 10 * 60_000 },
  maxAnswerBytes: 64 * 1024,
} as const;
