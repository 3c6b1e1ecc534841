/**
 * Undoing and finishing: rollback runs the registered inverses (traffic first) until they succeed; finalizing,
 * after the point of no return, detaches and deletes the previous groups and reports what it could not.
 */
import { ActivityFailure, ApplicationFailure, CancellationScope, log, metricMeter, proxyActivities, sleep } from '@temporalio/workflow';
import { ErrorTypes } from '../../common/aws-names';
import { emitMetric } from '../../common/release-metrics';
import type { ReleaseActivities, WeightedTargetGroup } from '../../activities/contract';
import { formatDuration } from '../../common/duration';
import type { Compensation, TargetGroupRef } from '../../common/status';
import { rollbackOrder, verifiedRoleWeights } from '../plan';
import { aws, causeMessage, compensate, teardown } from './activities';
import { writeForward } from './traffic';
import { alert } from './alert';
import type { ReleaseState } from './state';
import { removeSegmentRule } from './segments';
import { restoreStickiness } from './environment';
import { describeRef, describeStickiness } from '../../common/forward';

/** What started a rollback and when (canary_traffic_restore_seconds measures from then to the verified restore). */
export interface RollbackCause {
  trigger: 'analysis' | 'abort' | 'hook' | 'timeout' | 'error' | 'cancel';
  atMs: number;
}

/**
 * Runs the inverses; retries forever (phase RollbackFailed between rounds) and cannot be cancelled. Alerts once when
 * a round first fails, and once more if expired or missing credentials become the cause later (they are a
 * person's to fix; the rollback completes in the round after they are back).
 */
export async function rollback(state: ReleaseState, reason: string, cause: RollbackCause = { trigger: 'error', atMs: Date.now() }): Promise<void> {
  const { spec, data } = state;
  let restored = false;
  let alerted: 'any' | 'credentials' | undefined;
  state.setPhase('RollingBack');
  state.closeGate();
  state.record('canary', 'rollback', reason);
  await CancellationScope.nonCancellable(async () => {
    for (let round = 1; ; round++) {
      try {
        let settled = false;
        for (const c of rollbackOrder(state.data.saga)) {
          if (c.kind === 'restoreActions') {
            const v = await compensate.restoreActions({ listenerArn: c.listenerArn, ruleArn: c.ruleArn, actions: c.actions, aws: state.scope() });
            state.setWeights({ requested: { stable: 100 }, verified: verifiedRoleWeights(v.weights, state.data.arns) });
            if (!restored) emitMetric(metricMeter, 'restoreSeconds', Math.max(0, Date.now() - cause.atMs) / 1000, { trigger: cause.trigger });
            restored = true;
            const kept = 'kept' in v && Array.isArray(v.kept) ? (v.kept as string[]) : [];
            if (kept.length) data.keptOnRestore = [...(data.keptOnRestore ?? []), ...kept];
            state.record('canary', 'restored pre-release traffic', `verified by describe${kept.length ? `; kept others' changes: ${kept.join('; ')}` : ''}`);
          } else {
            // Traffic has left the group (verified): let every load balancer node apply that before anything drains.
            if (!settled && (c.kind === 'deregisterTargets' || (c.kind === 'deleteTargetGroup' && c.drain))) {
              await sleep(spec.environment.settle);
              settled = true;
            }
            await undo(state, c);
          }
          state.completed(c);
        }
        data.rollbackError = undefined;
        return;
      } catch (err) {
        data.rollbackError = causeMessage(err);
        state.setPhase('RollbackFailed');
        const every = formatDuration(spec.rollback.retryInterval);
        const credentials = failureType(err) === ErrorTypes.AwsCredentials;
        if (!alerted || (credentials && alerted !== 'credentials')) {
          alerted = credentials ? 'credentials' : 'any';
          await alert(state, 'rollback-failed', `${reason}; the rollback itself failed: ${data.rollbackError}; retrying every ${every}`);
        }
        state.record('canary', 'ALERT: rollback failed', `round ${round}: ${data.rollbackError}; retrying in ${every}`, false);
        log.error('rollback failed; retrying', { releaseId: state.releaseId, round, error: data.rollbackError });
        await sleep(spec.rollback.retryInterval);
        state.setPhase('RollingBack');
      }
    }
  });
  // Weights no longer count sessions for this release (a stickiness it found already set stays, and is not its own).
  state.data.stickiness = undefined;
  state.setPhase('RolledBack');
}

/** Waits on a group's deregistration delay (capped by the spec): long, heartbeating, tried hard. */
function drainer(capMs: number) {
  return proxyActivities<ReleaseActivities>({
    startToCloseTimeout: capMs + 60_000,
    heartbeatTimeout: '30s',
    retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 6 },
  });
}

/**
 * One compensation other than restoring traffic: remove a segment rule; put the stickiness back; drain, then delete
 * the group (clone) or deregister the canary targets (pair).
 */
async function undo(state: ReleaseState, c: Exclude<Compensation, { kind: 'restoreActions' }>): Promise<void> {
  const { spec } = state;
  if (c.kind === 'deleteSegmentRule') return removeSegmentRule(state, c, compensate);
  if (c.kind === 'restoreStickiness') return restoreStickiness(state, c, compensate);
  const ref = { listenerArn: c.listenerArn, ruleArn: c.ruleArn };
  if (c.kind === 'deregisterTargets') {
    await drainer(spec.environment.drainCap).drainTargetGroup({
      ...ref,
      aws: state.scope(),
      targetGroupArn: c.targetGroupArn,
      capMs: spec.environment.drainCap,
      until: 'no-traffic',
    });
    const d = await teardown.deregisterTargets({ ...ref, aws: state.scope(), targetGroupArn: c.targetGroupArn, targets: c.targets });
    state.record('canary', 'deregister canary targets', `${d.deregistered.length} from ${c.name}`);
    return;
  }
  if (c.drain && c.targetGroupArn) {
    const drained = await drainer(spec.environment.drainCap).drainTargetGroup({
      ...ref,
      aws: state.scope(),
      targetGroupArn: c.targetGroupArn,
      capMs: spec.environment.drainCap,
    });
    state.record(
      'canary',
      'drained target group',
      `${c.name}: ${formatDuration(drained.waitedMs)}${drained.capped ? ` (deregistration delay ${formatDuration(drained.delayMs)}, capped)` : ''}`,
    );
  }
  const d = await teardown.deleteTargetGroup({ ...ref, aws: state.scope(), name: c.name });
  state.record('canary', 'delete target group', `${c.name}${d.deleted ? '' : ' (already gone)'}`);
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
  const { spec, data } = state;
  const { arns } = data;
  state.setPhase('Finalizing');
  const segmentRules = state.data.saga.filter((c): c is Extract<Compensation, { kind: 'deleteSegmentRule' }> => c.kind === 'deleteSegmentRule').reverse();
  const stickiness = state.data.saga.filter((c): c is Extract<Compensation, { kind: 'restoreStickiness' }> => c.kind === 'restoreStickiness');
  state.forgetSaga();
  const warnings: string[] = [];
  await CancellationScope.nonCancellable(async () => {
    // Segment rules forward to the canary, which now has all traffic anyway: removed first, a failure only warns.
    for (const c of segmentRules) {
      const removed = await persist(state, `remove segment rule ${c.name}`, () => removeSegmentRule(state, c, aws));
      if (!removed.ok)
        warnings.push(`segment rule ${c.name}${c.ruleArn ? ` (${c.ruleArn})` : ''} is still on the listener (${removed.error}); delete it by hand`);
    }
    // The forward actions' own stickiness, while the previous groups are still in them (traffic.stickiness).
    for (const c of stickiness) {
      const restored = await persist(state, `restore the stickiness of ${describeRef(c)}`, () => restoreStickiness(state, c, compensate));
      if (!restored.ok)
        warnings.push(
          `${describeRef(c)} still has the release's ${describeStickiness(c.set)} (was: ${describeStickiness(c.original)}; ${restored.error}); set it back by hand`,
        );
    }
    const canaryRef = data.targetGroups.find((t) => t.role === 'canary') as TargetGroupRef;
    const pair = spec.environment.mode === 'pair';
    // Pair mode keeps the previous group attached at weight 0, ready for the next release; clone mode detaches it.
    const finalWeights: WeightedTargetGroup[] = [{ targetGroupArn: arns.canary as string, weight: 100 }];
    if (pair) finalWeights.push({ targetGroupArn: arns.stable as string, weight: 0 });
    const detached = await persist(state, pair ? 'move all traffic to the new group' : 'detach the previous target groups', async () => {
      let verified: WeightedTargetGroup[] = [];
      for (const f of state.data.forwards) verified = await writeForward(state, f, finalWeights);
      state.setWeights({ verified: verifiedRoleWeights(verified, arns) });
    });
    state.record('canary', 'promoted', `${canaryRef.name} is the stable target group`);
    const old = data.targetGroups.filter((g) => g.role !== 'canary');
    if (!detached.ok) {
      warnings.push(`${old.map((g) => g.name).join(', ')} still attached at weight 0 (${detached.error}); detach and delete by hand`);
      return;
    }
    await sleep(spec.environment.settle);
    const ref = state.refs()[0] as { listenerArn: string; ruleArn?: string };
    for (const t of old) {
      // Clone mode deletes the previous stable: not when infrastructure code owns it (its state would point at nothing).
      if (!pair && t.role === 'stable' && !spec.environment.deleteOwnedStable) {
        let owner: string | undefined;
        const checked = await persist(state, `read the owner of ${t.name}`, async () => {
          owner = (await aws.targetGroupOwner({ aws: state.scope(), targetGroupArn: t.arn })).owner;
        });
        if (!checked.ok || owner) {
          const why = owner ? `it is owned by infrastructure code (${owner})` : `its owner could not be read (${checked.ok ? '' : checked.error})`;
          state.record('canary', 'kept previous stable target group', `${t.name}: ${why}; detached from the forward actions, not deleted`);
          warnings.push(
            `${t.name} was kept: ${why}. It no longer gets traffic; remove it with the tool that owns it (or set environment.deleteOwnedStable: true)`,
          );
          continue;
        }
      }
      const inverse: Exclude<Compensation, { kind: 'restoreActions' }> = pair
        ? { kind: 'deregisterTargets', ...ref, targetGroupArn: t.arn, name: t.name }
        : { kind: 'deleteTargetGroup', ...ref, name: t.name, drain: true, targetGroupArn: t.arn };
      const what = pair ? `deregister the previous targets from ${t.name}` : `delete ${t.role} target group ${t.name}`;
      const done = await persist(state, what, () => undo(state, inverse));
      if (!done.ok)
        warnings.push(
          pair
            ? `${t.name} still has the previous targets (${done.error}); deregister them by hand`
            : `${t.name} was not deleted (${done.error}); delete it once nothing routes to it`,
        );
    }
  });
  state.data.stickiness = undefined;
  state.setPhase('Succeeded');
  return warnings;
}

/** The type of the application failure an activity failed with (undefined for anything else). */
function failureType(err: unknown): string | undefined {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? (err.cause.type ?? undefined) : undefined;
}
