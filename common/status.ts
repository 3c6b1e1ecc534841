/**
 * What the `status` query answers and the workflow returns. Produced by the workflow; read by the client,
 * the CLI and the Temporal UI. Workflow-safe.
 */
import type { AnalysisCounters, AnalysisRun, VariantDimensions } from '../analysis/analysis';
import type { JudgeEvidence } from '../analysis/sequential';
import type { ElbAction } from '../activities/contract';
import type { ParsedStep, Target } from './spec';
import type { ForwardState, ForwardStickiness, TrafficRef } from './forward';
import type { EnsuredSegmentRule, TargetHealthReport } from '../activities/contract';
import type { SegmentMatch } from './segments';

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

/**
 * The timeline keeps its first TIMELINE_HEAD entries and the newest, TIMELINE_MAX in all: a flood of ignored signals
 * cannot grow the query answer (or the input a continue-as-new hands over) without end.
 */
export const TIMELINE_MAX = 300;
export const TIMELINE_HEAD = 20;

export interface TimelineEntry {
  at: string;
  /** A person (approve, abort, ...) or `canary` for the workflow's own decisions. */
  by: string;
  action: string;
  detail?: string;
  /** False for a signal that was ignored (with the reason in detail). */
  accepted: boolean;
  /** Set when the message carried a signature the release verified against the sender's key in approverKeys. */
  signed?: { key: string };
}

/** An open gate: what the release waits for. */
export interface Gate {
  kind: 'approval' | 'pause' | 'inconclusive' | 'manual-pause' | 'drift';
  /** Which gate of the release this is (1 for the first one opened): an answer ends only the gate it names. */
  seq: number;
  step: number;
  approvers?: string[];
  allowSelfApproval?: boolean;
  openedAt: string;
  /** ISO time the gate closes by itself (timeout or timed pause). */
  deadline?: string;
  onTimeout?: 'rollback' | 'continue';
  /** What the gate is about, in words (a drift gate: what changed). */
  detail?: string;
}

/** An approve, resume or promote accepted at a gate: it ends the gate whose seq it names, and no other. */
export interface GateAnswer {
  gate: number;
  verb: 'approve' | 'resume' | 'promote';
  by: string;
}

/** One planned compensation, in the order a rollback runs them. */
export interface RollbackAction {
  kind: Compensation['kind'];
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
  /**
   * ISO time the canary's current traffic (its weights and segment rules) was last verified: an analysis step judges
   * only windows that start after it, never buckets from before the canary had the traffic it is judged on.
   */
  trafficSince?: string;
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
  /** Each target's health as the last health wait saw it, per role (state and reason as AWS reports them). */
  targetHealth?: Partial<Record<Role, TargetHealthReport[]>>;
  /** What a rollback kept of changes someone else made to the forward actions during the release. */
  keptOnRestore?: string[];
  /**
   * While the release holds `traffic.stickiness` on its forward actions: a user stays on the version they got for
   * `durationSeconds`, so the weights count new sessions, not requests (`note` says so in words).
   */
  stickiness?: { durationSeconds: number; note: string };
}

/** A registered inverse: recorded before the mutation it undoes runs. */
export type Compensation =
  | { kind: 'restoreActions'; listenerArn: string; ruleArn?: string; actions: ElbAction[] }
  /** `drain`: wait the group's deregistration delay first (known once the group exists: `targetGroupArn`). */
  | { kind: 'deleteTargetGroup'; listenerArn: string; ruleArn?: string; name: string; drain?: boolean; targetGroupArn?: string }
  /** Pair mode: targets leave a group after draining: the canary's on rollback, the previous version's (all: no `targets`) after promotion. */
  | { kind: 'deregisterTargets'; listenerArn: string; ruleArn?: string; targetGroupArn: string; name: string; targets?: Target[] }
  /** A segment's listener rule (tagged with the release id and name); `ruleArn` once created (found by its tags before that). */
  | { kind: 'deleteSegmentRule'; listenerArn: string; releaseId: string; name: string; ruleArn?: string }
  /** `traffic.stickiness`: the forward action's stickiness back to `original` (unless someone changed it from `set` since). */
  | { kind: 'restoreStickiness'; listenerArn: string; ruleArn?: string; original: ForwardStickiness; set: ForwardStickiness };

/**
 * The release's data: one plain JSON value that the workflow owns (workflows/release/state.ts) and changes only
 * through its state object. Continue-as-new hands it whole to the next run; the status query answers a view derived
 * from it (`ReleaseState.view`); control flow reads the data, never the view.
 */
export interface ReleaseData {
  releaseId: string;
  /** 1 for the first run; +1 at each continue-as-new. */
  run: number;
  startedMs: number;
  /** The version flags this release runs with (workflows/release/versions.ts), asked once at its first run. */
  versions: string[];
  phase: Phase;
  /** Index of the step being run (or next to run); equals the number of steps once all ran. */
  step: number;
  stepsCompleted: number;
  /** A person paused the release (it holds before its next step). */
  paused: boolean;
  /** The open gate; after a continue-as-new, the gate the previous run was waiting at, open to messages at once. */
  gate?: Gate;
  /** Gates opened so far (the next gate's seq follows it). */
  gatesOpened: number;
  /** The approve, resume or promote accepted at the open gate, bound to its seq. */
  answer?: GateAnswer;
  /** A full promotion under way: it ends every remaining gate. */
  fullPromotion?: { by: string };
  requestedWeights: RoleWeights;
  /** The forward action as last read back from AWS. */
  verifiedWeights: RoleWeights;
  /** ISO time the canary's current traffic (weights and segment rules) was last verified. */
  trafficSince?: string;
  targetGroups: TargetGroupRef[];
  arns: Partial<Record<Role, string>>;
  dims: Partial<Record<Role, VariantDimensions>>;
  /** Per forward action of the spec, the forward this release verified last (the `expected` of its next write). */
  forwards: { ref: TrafficRef; verified: ForwardState }[];
  /** Groups that reach the canary through segment rules now. */
  segments: ActiveSegment[];
  /** The segment rules active now, by segment name, as this release verified them last (what the drift check expects). */
  activeRules: Record<string, EnsuredSegmentRule>;
  /** The test route while it is open (hooks.testRoute): the header and value that reach the canary before any user. */
  testRoute?: { header: string; value: string };
  /** Inverses of the mutations made so far, registered before each mutation runs. */
  saga: Compensation[];
  analysis?: AnalysisRun;
  backgroundAnalysis?: AnalysisRun;
  /** What the background analysis's batches so far have seen. */
  backgroundCounters?: AnalysisCounters;
  /** The sequential judge's evidence of the step analyses so far, by template name. */
  evidenceByTemplate: Record<string, JudgeEvidence>;
  /**
   * The keys this release verifies signatures with (the worker's when it holds any, else the spec's), fixed at the
   * first run; until read (undefined), nothing that must be signed is accepted; empty: not in signed mode.
   */
  approverKeys?: Record<string, string[]>;
  /** Nonces of accepted signatures still within their validity (replay protection). */
  usedSignatures: { nonce: string; atMs: number }[];
  timeline: TimelineEntry[];
  updatedAt: string;
  result?: ReleaseResult;
  /** The last error a rollback hit (phase RollbackFailed). */
  rollbackError?: string;
  /** Each target's health as the last health wait saw it, per role. */
  targetHealth?: Partial<Record<Role, TargetHealthReport[]>>;
  /** What a rollback kept of changes someone else made to the forward actions during the release. */
  keptOnRestore?: string[];
  /** Set while the release holds `traffic.stickiness` on its forward actions (restored at promotion and rollback). */
  stickiness?: { durationSeconds: number };
}
