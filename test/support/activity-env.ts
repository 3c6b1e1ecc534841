/**
 * An activity context for calling an activity directly, as a worker would run it: scheduled now, with a minute to
 * run and to heartbeat in (the CloudWatch pacer reads its deadline from there).
 */
import type { Info } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';

/** A mock activity environment scheduled now with a minute to run; `info` adds to or overrides what it says. */
export function activityScheduledNow(info: Partial<Info> = {}): MockActivityEnvironment {
  const t = Date.now();
  return new MockActivityEnvironment({
    scheduledTimestampMs: t,
    currentAttemptScheduledTimestampMs: t,
    startToCloseTimeoutMs: 60_000,
    heartbeatTimeoutMs: 60_000,
    ...info,
  });
}
