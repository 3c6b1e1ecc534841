/** Traffic changes of a release: every weight change is written, then read back, and what AWS says is what the status shows. */
import type { RoleWeights } from '../../common/status';
import { forwardFor, verifiedRoleWeights } from '../plan';
import { aws } from './activities';
import type { ReleaseState } from './state';

/** Shifts the forward action to `weights` (percent per role) and records the verified result. */
export async function shift(state: ReleaseState, weights: RoleWeights, by: string): Promise<void> {
  const { status, spec, arns } = state;
  status.requestedWeights = weights;
  state.touch();
  const verified = await aws.setForwardWeights({ ...spec.traffic, weights: forwardFor(weights, arns) });
  status.verifiedWeights = verifiedRoleWeights(verified.weights, arns);
  state.publishWeight();
  state.record(
    by,
    'setWeight',
    `canary ${weights.canary}%${weights.baseline !== undefined ? `, baseline ${weights.baseline}%` : ''}, stable ${weights.stable}% (verified)`,
  );
  state.details();
}

/** All traffic on the canary (a baseline, if any, at 0 until finalizing detaches it). */
export function fullWeights(state: ReleaseState): RoleWeights {
  return state.hasBaseline ? { stable: 0, canary: 100, baseline: 0 } : { stable: 0, canary: 100 };
}
