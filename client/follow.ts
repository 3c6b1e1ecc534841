/**
 * Following a release: poll its status query and hand every answer to the caller until the release ends or the
 * caller's time limit runs out. `canary watch` and `canary start --wait` render it; the demo could too. A limit is
 * required: following never waits forever by default.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { ReleaseResult, ReleaseStatus } from '../common/status';
import { queryStatus, releaseEnd, type ReleaseFailure, type ReleaseHandle } from './release-client';

/** How a followed release ended, or that the follower stopped first (the release goes on). */
export type FollowEnding =
  { kind: 'ended'; result: ReleaseResult } | { kind: 'failed'; failure: ReleaseFailure } | { kind: 'still-running'; afterMs: number; status?: ReleaseStatus };

export interface FollowOptions {
  /** Stop following after this long; the ending is then `still-running` with the last status seen. */
  timeoutMs: number;
  /** Every status the query answers (once per poll; the same snapshot may come again). */
  onStatus(status: ReleaseStatus): void;
  /**
   * Called once when the query has gone unanswered for `silentAfterMs` while the release runs: the usual cause is
   * no worker polling the release's task queue.
   */
  onSilent?(silentMs: number): void;
  /** Default 1 s. */
  pollMs?: number;
  /** Default 20 s. */
  silentAfterMs?: number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/** How long one status query of the loop may take. */
const POLL_QUERY_TIMEOUT_MS = 10_000;

/** Follows `handle` (pin its run id to follow one run) until it ends or `timeoutMs` passes. */
export async function followRelease(handle: ReleaseHandle, opts: FollowOptions): Promise<FollowEnding> {
  const pollMs = opts.pollMs ?? 1_000;
  const silentAfterMs = opts.silentAfterMs ?? 20_000;
  const startedAt = Date.now();
  let ending: FollowEnding | undefined;
  const ended = releaseEnd(handle).then(
    (end) => void (ending = 'result' in end ? { kind: 'ended', result: end.result } : { kind: 'failed', failure: end.failure }),
  );
  let limitTimer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const deadline = startedAt + Math.max(0, opts.timeoutMs);
  const limit = new Promise<void>((resolve) => {
    // setTimeout fires at once for delays past 2^31-1 ms (24.8 days): wait in slices up to the deadline.
    const arm = (): void => {
      const left = deadline - Date.now();
      if (left <= 0) return resolve(void (timedOut = true));
      limitTimer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    };
    arm();
  });
  let last: ReleaseStatus | undefined;
  let silentSince: number | undefined;
  let hinted = false;
  try {
    for (;;) {
      const status = await Promise.race([
        queryStatus(handle, POLL_QUERY_TIMEOUT_MS).catch((e: unknown) => {
          if (e instanceof WorkflowNotFoundError) throw e;
          return undefined;
        }),
        limit.then(() => undefined),
      ]);
      if (status) {
        last = status;
        opts.onStatus(status);
        silentSince = undefined;
      } else if (!ending && !timedOut) {
        silentSince ??= Date.now();
        if (!hinted && Date.now() - silentSince >= silentAfterMs) {
          opts.onSilent?.(Date.now() - silentSince);
          hinted = true;
        }
      }
      if (ending || timedOut) break;
      await Promise.race([ended, limit, new Promise((r) => setTimeout(r, pollMs))]);
      if (ending && !status) break;
    }
    if (!ending) return { kind: 'still-running', afterMs: Date.now() - startedAt, status: last };
    // One last look so the final phase and timeline entries are shown (a closed release answers while a worker runs).
    const final = await queryStatus(handle, 5_000).catch(() => undefined);
    if (final) opts.onStatus(final);
    return ending;
  } finally {
    clearTimeout(limitTimer);
  }
}
