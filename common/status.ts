/**
 * What the `status` query answers and the workflow returns. Produced by the workflow; read by the client,
 * the CLI and the Temporal UI. Workflow-safe.
 */
import type { AnalysisRun } from '../analysis/analysis';
import type { SegmentMatch } from './segments';
import type { ParsedStep } from './spec';

export const PHASES = [
  'Validating',
  'CloningEnvironment',
  'Progressing',
  'Paused',
  'AwaitingApproval',
  'Promoting',
  'Finalizing',
  'Succeeded',
  'RollingBack',
  'RolledBack',
  'RollbackFailed',
] as const;
export type Phase = (typeof PHASES)[number];

export const TERMINAL_PHASES: readonly Phase[] = ['Succeeded', 'RolledBack'];

export type Role = 'stable' | 'canary' | 'baseline';

export interface TargetGroupRef {
  role: Role;
  name: string;
  arn: string;
}

/** Percent per role; what the workflow asked for. */
export type RoleWeights = Partial<Record<Role, number>>;

export interface TimelineEntry {
  at: string;
  /** A person (approve, abort, ...) or `canary` for the workflow's own decisions. */
  by: string;
  action: string;
  detail?: string;
  /** False for a signal that was ignored (with the reason in detail). */
  accepted: boolean;
}

/** An open gate: what the release waits for. */
export interface Gate {
  kind: 'approval' | 'pause' | 'inconclusive' | 'manual-pause';
  step: number;
  approvers?: string[];
  allowSelfApproval?: boolean;
  openedAt: string;
  /** ISO time the gate closes by itself (timeout or timed pause). */
  deadline?: string;
  onTimeout?: 'rollback' | 'continue';
}

/** One planned compensation, in the order a rollback runs them. */
export interface RollbackAction {
  kind: 'restoreActions' | 'deleteTargetGroup' | 'deleteSegmentRule';
  description: string;
}

/** A group of users that reaches the canary through a listener rule of the release (a `segment` step). */
export interface ActiveSegment {
  name: string;
  match: SegmentMatch;
  /** The listener rule that forwards the group to the canary, as verified by a describe. */
  ruleArn: string;
  priority: number;
  /** ISO time the rule was verified. */
  since: string;
  /** The step that started it. */
  step: number;
}

export type Outcome = 'promoted' | 'rolled-back' | 'aborted';

export interface ReleaseResult {
  outcome: Outcome;
  reason: string;
  by?: string;
  service: string;
  version: string;
  durationMs: number;
  stepsCompleted: number;
  steps: number;
  /** The forward action's target groups and weights at the end, as verified by a describe. */
  finalForward: { name: string; weight: number }[];
  /** Promoted, but something could not be cleaned up (e.g. the previous target group could not be deleted). */
  warnings?: string[];
}

export interface ReleaseStatus {
  releaseId: string;
  service: string;
  version: string;
  initiator: string;
  phase: Phase;
  /** Index of the step being run (or next to run); equals steps.length once all ran. */
  step: number;
  steps: ParsedStep[];
  requestedWeights: RoleWeights;
  /** The forward action as last read back from AWS. */
  verifiedWeights: RoleWeights;
  targetGroups: TargetGroupRef[];
  /** Groups that currently reach the canary through segment rules, whatever the weights; absent or empty: none. */
  segments?: ActiveSegment[];
  analysis?: AnalysisRun;
  backgroundAnalysis?: AnalysisRun;
  gate?: Gate;
  paused: boolean;
  timeline: TimelineEntry[];
  rollbackPlan: RollbackAction[];
  startedAt: string;
  updatedAt: string;
  result?: ReleaseResult;
  /** The last error a rollback hit (phase RollbackFailed). */
  rollbackError?: string;
}
