/**
 * Traffic changes of a release: every weight change is written, then read back, and what AWS says is what the
 * status shows. Each write names the forward this release verified last; a forward action
 * someone else changed is never overwritten: the release stops at a drift gate (resume adopts, abort rolls back).
 * Segment rules the release holds are checked the same way before every traffic change.
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { ErrorTypes } from '../../common/aws-names';
import { describeForward, type ForwardState, type TrafficRef, type WeightedTargetGroup } from '../../common/forward';
import { formatDuration } from '../../common/duration';
import type { RoleWeights } from '../../common/status';
import type { EnsuredSegmentRule } from '../../activities/contract';
import { forwardFor, verifiedRoleWeights } from '../plan';
import { alert } from './alert';
import { aws, causeMessage } from './activities';
import { waitGate } from './gates';
import { StopRelease, type ReleaseState } from './state';

/** Shifts every forward action to `weights` (percent per role) and records the verified result. */
export async function shift(state: ReleaseState, weights: RoleWeights, by: string, action = 'setWeight'): Promise<void> {
  const { data } = state;
  const { arns } = data;
  await checkSegmentRules(state);
  state.setWeights({ requested: weights });
  const targets = forwardFor(weights, arns);
  let verified: WeightedTargetGroup[] = [];
  for (const f of state.data.forwards) verified = await writeForward(state, f, targets);
  state.setWeights({ verified: verifiedRoleWeights(verified, arns), since: true });
  state.record(
    by,
    action,
    `canary ${weights.canary}%${weights.baseline !== undefined ? `, baseline ${weights.baseline}%` : ''}, stable ${weights.stable}% (verified)`,
  );
  state.details();
}

/** All traffic on the canary (a baseline, if any, at 0 until finalizing detaches it). */
export function fullWeights(state: ReleaseState): RoleWeights {
  return state.hasBaseline ? { stable: 0, canary: 100, baseline: 0 } : { stable: 0, canary: 100 };
}

/**
 * Writes one forward action, expecting what this release verified last; at a drift, waits at the drift gate and,
 * once someone resumes, adopts the forward action as it is then and writes again. Returns the verified weights.
 */
export async function writeForward(
  state: ReleaseState,
  f: { ref: TrafficRef; verified: ForwardState },
  weights: WeightedTargetGroup[],
): Promise<WeightedTargetGroup[]> {
  for (;;) {
    try {
      const v = await aws.setForwardWeights({ ...f.ref, aws: state.scope(), weights, expected: f.verified });
      if (v.forward) f.verified = v.forward;
      return v.weights;
    } catch (err) {
      if (!isDrift(err)) throw err;
      await forwardDriftGate(state, f, causeMessage(err));
    }
  }
}

function isDrift(err: unknown, type: string = ErrorTypes.ForwardActionDrifted): err is ActivityFailure & { cause: ApplicationFailure } {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === type;
}

/**
 * Before a traffic change or a segment rule's create or delete: every active segment rule still is what this release
 * wrote. One someone changed stops the release at the drift gate; resume adopts the rule as it is then (checked
 * again: a rule that no longer forwards to the canary opens the gate again), or, when it is gone, forgets it (its
 * saga entry stays: deleting by tags is idempotent).
 */
export async function checkSegmentRules(state: ReleaseState): Promise<void> {
  const listenerArn = (state.refs()[0] as TrafficRef).listenerArn;
  for (const name of Object.keys(state.data.activeRules)) {
    for (;;) {
      const rule = state.data.activeRules[name];
      if (!rule) break;
      try {
        await aws.checkSegmentRule({ listenerArn, aws: state.scope(), name, rule, canaryTargetGroupArn: state.data.arns.canary as string });
        break;
      } catch (err) {
        if (!isDrift(err, ErrorTypes.SegmentRuleDrifted)) throw err;
        const now = (err.cause.details?.[0] ?? null) as EnsuredSegmentRule | null;
        await driftGate(state, causeMessage(err), `the listener rule of segment ${name}`, async () => {
          if (!now) {
            state.dropSegment(name);
            state.record('canary', 'drift adopted', `segment ${name}: its rule is gone; the group no longer reaches the canary`);
            return;
          }
          state.data.activeRules[name] = now;
          const active = state.data.segments?.find((s) => s.name === name);
          if (active) Object.assign(active, { ruleArn: now.ruleArn, priority: now.priority });
          state.record('canary', 'drift adopted', `segment ${name}: rule ${now.ruleArn} at priority ${now.priority} as it is now`);
        });
      }
    }
  }
}

/** A forward action someone changed: adopt what AWS holds once a person resumes. */
async function forwardDriftGate(state: ReleaseState, f: { ref: TrafficRef; verified: ForwardState }, what: string): Promise<void> {
  await driftGate(state, what, 'the forward action', async () => {
    const now = await aws.readForward({ ...f.ref, aws: state.scope() });
    if (!now.forward) throw new StopRelease('rolled-back', `cannot adopt the change: ${what} (no forward action left)`, 'canary');
    f.verified = now.forward;
    state.record('canary', 'drift adopted', describeForward(now.forward));
  });
}

/** Someone changed what the release wrote (`subject`): alert, wait for a person, then `adopt` (or roll back). */
async function driftGate(state: ReleaseState, what: string, subject: string, adopt: () => Promise<void>): Promise<void> {
  const { spec, data } = state;
  const phase = data.phase;
  const timeoutMs = spec.environment.driftTimeout;
  state.record('canary', 'ALERT: drift', `${what}; traffic changes stop until someone resumes (adopt) or aborts (roll back)`, false);
  state.setPhase('Paused');
  const notified = alert(
    state,
    'drift',
    `someone else changed ${subject}: ${what}. Resume to adopt it and go on, abort to roll back (rolls back by itself in ${formatDuration(timeoutMs)})`,
  );
  const opened = new Date().toISOString();
  const end = await waitGate(
    state,
    { kind: 'drift', step: data.step, openedAt: opened, deadline: new Date(Date.now() + timeoutMs).toISOString(), onTimeout: 'rollback', detail: what },
    timeoutMs,
    state.takeResumable('drift', data.step),
  );
  await notified;
  if (end.how === 'timeout') throw new StopRelease('rolled-back', `nobody answered the drift gate within ${formatDuration(timeoutMs)}: ${what}`, 'canary');
  await adopt();
  state.setPhase(phase);
}
