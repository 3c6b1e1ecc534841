/**
 * A deliberately incompatible version of the release workflow, for test/unit/replay.test.ts to prove that replaying
 * the recorded histories catches a change that is not behind a version flag (workflows/release/versions.ts): this
 * `release` starts a 1 ms timer before doing what the real one does, so its first command no longer matches the first command of any recorded history.
 */
import { sleep } from '@temporalio/workflow';
import type { ReleaseResult } from '../../common/status';
import type { ReleaseInput } from '../../common/messages';
import { release as currentRelease } from '../../workflows/release/runbook';

export async function release(input: ReleaseInput): Promise<ReleaseResult> {
  await sleep(1);
  return currentRelease(input);
}
