/** What a release returns when it ends, also kept in its status: the outcome, who caused it and the final forward action. */
import type { Outcome, ReleaseResult, Role } from '../../common/status';
import { metricMeter } from '@temporalio/workflow';
import { emitMetric } from '../../common/release-metrics';
import type { ReleaseState } from './state';

/** The forward action's groups (by name) and verified weights at the end. */
function finalForward(state: ReleaseState): { name: string; weight: number }[] {
  const names = new Map(state.data.targetGroups.map((t) => [t.arn, t.name]));
  const w = state.data.verifiedWeights;
  return (Object.keys(w) as Role[]).map((role) => ({ name: names.get(state.data.arns[role] ?? '') ?? role, weight: w[role] ?? 0 }));
}

/** The release's result: recorded in its status (the query shows it) and returned by the workflow. */
export function endRelease(state: ReleaseState, outcome: Outcome, reason: string, by?: string): ReleaseResult {
  const r: ReleaseResult = {
    outcome,
    reason,
    by,
    service: state.spec.service,
    version: state.spec.version,
    durationMs: Date.now() - state.data.startedMs,
    stepsCompleted: state.data.stepsCompleted,
    steps: state.spec.steps.length,
    finalForward: finalForward(state),
  };
  state.data.result = r;
  state.touch();
  emitMetric(metricMeter, 'finished', 1, { phase: state.data.phase, outcome });
  return r;
}
