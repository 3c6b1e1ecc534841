/**
 * Which keys a release verifies signed messages with, fixed once at its start: the worker's own (it holds them so
 * that whoever starts a release cannot choose who signs for it) or, when the worker holds none, the spec's. A spec
 * that would add or replace a worker-held key, or that signed mode cannot run (an approval without approvers, an
 * approver without a key), is refused here, before anything changes in AWS.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { releaseApproverKeys, signedModeProblems } from '../../common/spec';
import { workerConfig } from './activities';
import type { ReleaseState } from './state';

export async function loadApproverKeys(state: ReleaseState): Promise<void> {
  const { keys: held } = await workerConfig.workerApproverKeys();
  const { keys, problem } = releaseApproverKeys(state.spec.approverKeys, held);
  const problems = problem ? [problem] : signedModeProblems(state.spec.steps, Object.keys(keys ?? {})).map((p) => `${p.path.join('.')}: ${p.message}`);
  if (problems.length) throw ApplicationFailure.create({ type: 'InvalidRelease', nonRetryable: true, message: problems.join('; ') });
  state.data.approverKeys = keys ?? {};
  const names = Object.keys(state.data.approverKeys);
  if (names.length)
    state.record(
      'canary',
      'signed mode',
      `approve, promote and resume must be signed by ${names.join(', ')} (keys ${Object.keys(held).length ? 'held by the worker' : 'from the spec'})`,
    );
}

/** Signed mode: the release has approver keys, so every verb that moves it forward must be signed by one of them. */
export function signedMode(state: ReleaseState): boolean {
  return Object.keys(state.data.approverKeys ?? {}).length > 0;
}
