/**
 * Undoing and finishing: rollback runs the registered inverses (traffic first) until they succeed; finalizing,
 * after the point of no return, detaches and deletes the previous groups and reports what it could not.
 */
import { CancellationScope, log, sleep } from '@temporalio/workflow';
import type { WeightedTargetGroup } from '../../activities/contract';
import { formatDuration } from '../../common/duration';
import type { TargetGroupRef } from '../../common/status';
import { rollbackOrder, verifiedRoleWeights } from '../plan';
import { aws, causeMessage, compensate } from './activities';
import { alert } from './alert';
import type { ReleaseState } from './state';

/** Runs the inverses; retries forever (phase RollbackFailed between rounds) and cannot be cancelled. */
export async function rollback(state: ReleaseState, reason: string): Promise<void> {
  const { spec, status } = state;
  state.setPhase('RollingBack');
  status.gate = undefined;
  state.record('canary', 'rollback', reason);
  await CancellationScope.nonCancellable(async () => {
    for (let round = 1; ; round++) {
      try {
        for (const c of rollbackOrder(state.saga)) {
          if (c.kind === 'restoreActions') {
            const v = await compensate.restoreActions({ listenerArn: c.listenerArn, ruleArn: c.ruleArn, actions: c.actions });
            status.verifiedWeights = verifiedRoleWeights(v.weights, state.arns);
            status.requestedWeights = { stable: 100 };
            state.publishWeight();
            state.record('canary', 'restored pre-release traffic', 'verified by describe');
          } else {
            const d = await compensate.deleteTargetGroup({ listenerArn: c.listenerArn, ruleArn: c.ruleArn, name: c.name });
            state.record('canary', 'delete target group', `${c.name}${d.deleted ? '' : ' (already gone)'}`);
          }
          state.completed(c);
        }
        status.rollbackError = undefined;
        return;
      } catch (err) {
        status.rollbackError = causeMessage(err);
        state.setPhase('RollbackFailed');
        const every = formatDuration(spec.rollback.retryInterval);
        if (round === 1) await alert(state, 'rollback-failed', `${reason}; the rollback itself failed: ${status.rollbackError}; retrying every ${every}`);
        state.record('canary', 'ALERT: rollback failed', `round ${round}: ${status.rollbackError}; retrying in ${every}`, false);
        log.error('rollback failed; retrying', { releaseId: state.releaseId, round, error: status.rollbackError });
        await sleep(spec.rollback.retryInterval);
        state.setPhase('RollingBack');
      }
    }
  });
  state.setPhase('RolledBack');
}

/** Tries a clean-up a few rounds, `rollback.retryInterval` apart; says what failed instead of failing the release. */
async function persist(state: ReleaseState, what: string, fn: () => Promise<void>, rounds = 3): Promise<{ ok: true } | { ok: false; error: string }> {
  for (let round = 1; ; round++) {
    try {
      await fn();
      return { ok: true };
    } catch (err) {
      const error = causeMessage(err);
      state.record('canary', `ALERT: could not ${what}`, `round ${round}/${rounds}: ${error}`, false);
      if (round >= rounds) return { ok: false, error };
      await sleep(state.spec.rollback.retryInterval);
    }
  }
}

/**
 * Point of no return: 100% is on the new version. The previous groups leave the forward action, then are removed;
 * if AWS keeps refusing, the release still ends promoted, with what is left over returned as warnings.
 */
export async function finalize(state: ReleaseState): Promise<string[]> {
  const { spec, status, arns } = state;
  state.setPhase('Finalizing');
  state.forgetSaga();
  const warnings: string[] = [];
  await CancellationScope.nonCancellable(async () => {
    const canaryRef = status.targetGroups.find((t) => t.role === 'canary') as TargetGroupRef;
    const detached = await persist(state, 'detach the previous target groups', async () => {
      const finalWeights: WeightedTargetGroup[] = [{ targetGroupArn: arns.canary as string, weight: 100 }];
      const verified = await aws.setForwardWeights({ ...spec.traffic, weights: finalWeights });
      status.verifiedWeights = verifiedRoleWeights(verified.weights, arns);
    });
    state.record('canary', 'promoted', `${canaryRef.name} is the stable target group`);
    const old = status.targetGroups.filter((g) => g.role !== 'canary');
    if (!detached.ok) {
      warnings.push(`${old.map((g) => g.name).join(', ')} still attached at weight 0 (${detached.error}); detach and delete by hand`);
      return;
    }
    for (const t of old) {
      const deleted = await persist(state, `delete ${t.role} target group ${t.name}`, async () => {
        const d = await aws.deleteTargetGroup({ ...spec.traffic, name: t.name });
        state.record('canary', `delete ${t.role} target group`, `${t.name}${d.deleted ? '' : ' (already gone)'}`);
      });
      if (!deleted.ok) warnings.push(`${t.name} was not deleted (${deleted.error}); delete it once nothing routes to it`);
    }
  });
  state.setPhase('Succeeded');
  return warnings;
}
