/**
 * The activity option profiles a release uses, each defined once here and used by name, and the failure-message
 * helper.
 */
import { ActivityFailure, proxyActivities } from '@temporalio/workflow';
import type { ReleaseActivities } from '../../activities/contract';
import { ErrorTypes } from '../../common/aws-names';
import { HookErrors } from '../../common/hooks';

const nonRetryableErrorTypes = [
  ErrorTypes.ListenerNotFound,
  ErrorTypes.UnsupportedListener,
  ErrorTypes.TargetGroupNameConflict,
  ErrorTypes.TargetsUnhealthy,
  ErrorTypes.InvalidAwsRequest,
  ErrorTypes.ForwardActionDrifted,
  ErrorTypes.TargetTypeMismatch,
  ErrorTypes.PairNotLive,
  ErrorTypes.IdleGroupNotEmpty,
  ErrorTypes.IdleGroupEmpty,
  ErrorTypes.NoRoomForSegmentRule,
  ErrorTypes.SegmentRuleUnsupported,
  ErrorTypes.SegmentPriorityTaken,
  ErrorTypes.SegmentRuleDrifted,
  ErrorTypes.SegmentRuleNotOurs,
  // A forward step with expired or missing credentials fails fast and rolls back (compensations keep retrying).
  ErrorTypes.AwsCredentials,
];

/**
 * Short AWS calls: describe-then-write, retried with backoff; a persistent failure rolls the release back.
 * 15 s bounds how long a call lost with a crashed worker holds the release up before it is retried.
 */
export const awsCall = {
  startToCloseTimeout: '15s',
  // A time budget rather than a count: throttling storms get retried for up to 3 minutes, then the release rolls back.
  scheduleToCloseTimeout: '3m',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '10s', nonRetryableErrorTypes },
} as const;

/** Compensations: tried harder before the release reports RollbackFailed (and then keeps trying). */
const rollbackCall = {
  startToCloseTimeout: '15s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 6 },
} as const;

export const aws = proxyActivities<ReleaseActivities>(awsCall);
export const compensate = proxyActivities<ReleaseActivities>(rollbackCall);
/**
 * Deleting a target group or deregistering targets: the check before it reads every
 * listener and rule of the load balancer, queued behind a shared scan when many releases finish at once, so it
 * heartbeats rather than fitting in 15 s (every attempt of a slow check timed out, and the rollback failed).
 */
export const teardown = proxyActivities<ReleaseActivities>({ ...rollbackCall, startToCloseTimeout: '5m', heartbeatTimeout: '30s' });

/**
 * A hook call (workflows/release/hooks.ts): connection errors, 5xx and 429 retried with backoff for as long as the
 * use's timeout leaves (`remainingMs`); a 4xx, a refused answer or a name the worker does not hold is not retried.
 */
export function hookCall(remainingMs: number) {
  return proxyActivities<ReleaseActivities>({
    startToCloseTimeout: '1m',
    scheduleToCloseTimeout: Math.max(1_000, remainingMs),
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', nonRetryableErrorTypes: [HookErrors.rejected, HookErrors.notConfigured] },
  });
}

/** Webhooks: a few quick tries; a lost notification never changes the release. */
export const notifier = proxyActivities<ReleaseActivities>({
  startToCloseTimeout: '15s',
  retry: { initialInterval: '1s', maximumAttempts: 3, nonRetryableErrorTypes: ['WebhookNotConfigured'] },
});

/** The worker's own settings (its approver keys): local and quick; a worker that cannot answer is retried briefly. */
export const workerConfig = proxyActivities<ReleaseActivities>({
  startToCloseTimeout: '10s',
  scheduleToCloseTimeout: '1m',
  retry: { initialInterval: '1s', maximumInterval: '5s' },
});

/** A wait for target health: as long as the spec allows, heartbeating. */
export function healthWait(healthyTimeoutMs: number) {
  return proxyActivities<ReleaseActivities>({
    ...awsCall,
    startToCloseTimeout: healthyTimeoutMs + 60_000,
    scheduleToCloseTimeout: healthyTimeoutMs + 120_000,
    heartbeatTimeout: '30s',
  });
}

/**
 * An analysis activity: waits `waitMs` for its first window, then takes `count` measurements `intervalMs` apart
 * (each may take a minute more), heartbeating between them.
 */
export function analysisCall(count: number, intervalMs: number, waitMs = 0) {
  return proxyActivities<ReleaseActivities>({
    startToCloseTimeout: waitMs + count * (intervalMs + 60_000) + 120_000,
    heartbeatTimeout: '60s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
  });
}

/** What went wrong, in words: an ActivityFailure only says "Activity task failed"; the failure it wraps says why. */
export function causeMessage(err: unknown): string {
  let e = err as Error | undefined;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  return e?.message ?? String(err);
}
