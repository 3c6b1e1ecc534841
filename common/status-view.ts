/**
 * The status query's answer, derived from a release's data (common/status.ts ReleaseData) and its spec: the
 * workflow answers it, and `canary report` rebuilds it from the data a run handed over when no worker answers.
 * Pure and workflow-safe.
 */
import type { ParsedReleaseSpec } from './spec';
import type { Compensation, ReleaseData, ReleaseStatus, RollbackAction } from './status';
import { formatDuration } from './duration';
import { describeStickiness } from './forward';

export function statusView(spec: Pick<ParsedReleaseSpec, 'service' | 'version' | 'initiator' | 'steps'>, data: ReleaseData): ReleaseStatus {
  return {
    releaseId: data.releaseId,
    service: spec.service,
    version: spec.version,
    initiator: spec.initiator,
    phase: data.phase,
    step: data.step,
    steps: spec.steps,
    requestedWeights: data.requestedWeights,
    verifiedWeights: data.verifiedWeights,
    targetGroups: data.targetGroups,
    ...(data.segments.length ? { segments: data.segments } : {}),
    ...(data.trafficSince ? { trafficSince: data.trafficSince } : {}),
    ...(data.analysis ? { analysis: data.analysis } : {}),
    ...(data.backgroundAnalysis ? { backgroundAnalysis: data.backgroundAnalysis } : {}),
    ...(data.gate ? { gate: data.gate } : {}),
    paused: data.paused,
    timeline: data.timeline,
    rollbackPlan: rollbackOrder(data.saga).map(describeCompensation),
    startedAt: new Date(data.startedMs).toISOString(),
    updatedAt: data.updatedAt,
    ...(data.result ? { result: data.result } : {}),
    ...(data.rollbackError ? { rollbackError: data.rollbackError } : {}),
    ...(data.targetHealth ? { targetHealth: data.targetHealth } : {}),
    ...(data.keptOnRestore ? { keptOnRestore: data.keptOnRestore } : {}),
    ...(data.stickiness ? { stickiness: { ...data.stickiness, note: sessionsNote(data.stickiness.durationSeconds) } } : {}),
  };
}

/** What `traffic.stickiness` means for reading the weights, in words (status, report, CLI). */
export function sessionsNote(durationSeconds: number): string {
  return `weights count new sessions, not requests: a user stays on the version they got for ${formatDuration(durationSeconds * 1000)} (traffic.stickiness)`;
}

/**
 * Rollback order: segment rules first, newest first (a group routed to the canary whatever the weights), then the
 * forward actions' stickiness (while both groups are still in them), then traffic back to the pre-release actions
 * (every forward action), then the other inverses newest first.
 */
export function rollbackOrder(saga: Compensation[]): Compensation[] {
  const segments = saga.filter((c) => c.kind === 'deleteSegmentRule').reverse();
  const stickiness = saga.filter((c) => c.kind === 'restoreStickiness');
  const restore = saga.filter((c) => c.kind === 'restoreActions');
  const rest = saga.filter((c) => c.kind !== 'restoreActions' && c.kind !== 'deleteSegmentRule' && c.kind !== 'restoreStickiness').reverse();
  return [...segments, ...stickiness, ...restore, ...rest];
}

export function describeCompensation(c: Compensation): RollbackAction {
  switch (c.kind) {
    case 'restoreActions':
      return {
        kind: c.kind,
        description: `restore the pre-release ${c.ruleArn ? 'rule' : 'listener'} actions (${c.actions.map((a) => a.Type).join(', ')}) and verify them`,
      };
    case 'deleteTargetGroup':
      return {
        kind: c.kind,
        description: `delete target group ${c.name} once no forward action references it${c.drain ? ' and its deregistration delay has passed' : ''}`,
      };
    case 'deregisterTargets':
      return {
        kind: c.kind,
        description: `deregister ${c.targets ? `${c.targets.length} canary target(s)` : 'every target'} from ${c.name} once it gets no traffic and has drained`,
      };
    case 'deleteSegmentRule':
      return { kind: c.kind, description: `remove segment rule ${c.name} and verify it is gone` };
    case 'restoreStickiness':
      return {
        kind: c.kind,
        description: `set the ${c.ruleArn ? 'rule' : 'listener'}'s forward stickiness back to ${describeStickiness(c.original)} (unless someone changed it from ${describeStickiness(c.set)}) and verify it`,
      };
  }
}
