/**
 * What the `status` query answers and the workflow returns. Produced by the workflow; read by the client,
 * the CLI and the Temporal UI. Workflow-safe.
 */
import type { AnalysisCounters, AnalysisRun, VariantDimensions } from '../analysis/analysis';
import type { JudgeEvidence } from '../analysis/sequential';
import type { ElbAction } from '../activities/contract';
import type { ParsedStep, Target } from './spec';
import type { ForwardState, TrafficRef } from './forward';
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
}

/** A registered inverse: recorded before the mutation it undoes runs. */
export type Compensation =
  | { kind: 'restoreActions'; listenerArn: string; ruleArn?: string; actions: ElbAction[] }
  /** `drain`: wait the group's deregistration delay first (known once the group exists: `targetGroupArn`). */
  | { kind: 'deleteTargetGroup'; listenerArn: string; ruleArn?: string; name: string; drain?: boolean; targetGroupArn?: string }
  /** Pair mode: targets leave a group after draining: the canary's on rollback, the previous version's (all: no `targets`) after promotion. */
  | { kind: 'deregisterTargets'; listenerArn: string; ruleArn?: string; targetGroupArn: string; name: string; targets?: Target[] }
  /** A segment's listener rule (tagged with the release id and name); `ruleArn` once created (found by its tags before that). */
  | { kind: 'deleteSegmentRule'; listenerArn: string; releaseId: string; name: string; ruleArn?: string };

/**
 * Everything that defines a release in flight, carried from one run to the next when it continues as new: the
 * status (phase, step, weights, target groups, open gate with its original deadline, timeline, analysis results),
 * the saga, what people asked for, and the background analysis counters. Plain JSON.
 */
export interface CarriedRelease {
  /** 1 for the first run; +1 at each continue-as-new. */
  run: number;
  startedMs: number;
  status: ReleaseStatus;
  saga: Compensation[];
  arns: Partial<Record<Role, string>>;
  dims: Partial<Record<Role, VariantDimensions>>;
  /** Gates opened so far (the next gate's seq follows it). */
  gatesOpened: number;
  /** An answer accepted at the carried gate that its run could not act on before it handed over. */
  answer?: GateAnswer;
  /** A full promotion under way. */
  fullPromotion?: { by: string };
  /** The approver keys the release verifies against, fixed at its first run (empty: not in signed mode). */
  approverKeys: Record<string, string[]>;
  stepsCompleted: number;
  backgroundCounters?: AnalysisCounters;
  /** Whether the release runs the real-ALB path (attach at 0, drift checks, drain); fixed at its first run. */
  realAlb?: boolean;
  /** Whether inconclusive gates time out (fixed at the first run). */
  gateTimeouts?: boolean;
  /** Whether analysis steps judge only windows after the canary's current traffic began (fixed at the first run). */
  windowAfterTraffic?: boolean;
  /** Whether the background analysis's first batch judges only windows after the canary got traffic (fixed at the first run). */
  backgroundAfterTraffic?: boolean;
  /** Nonces of accepted signatures still within their validity (replay protection). */
  usedSignatures?: { nonce: string; atMs: number }[];
  /** Per forward action, the forward this release verified last. */
  forwards?: { ref: TrafficRef; verified: ForwardState }[];
  /** Whether segment steps create listener rules (patch `segments`); fixed at the first run. */
  segmentRules?: boolean;
  /** Whether segment rule activities run in the release's region and role (patch `segment-scope`); fixed at the first run. */
  scopedSegments?: boolean;
  /** The segment rules active now, by segment name, as this release verified them last. */
  activeRules?: Record<string, EnsuredSegmentRule>;
  /** Whether step analyses carry the sequential judge's evidence (patch `step-evidence`); fixed at the first run. */
  stepEvidence?: boolean;
  /** The sequential judge's evidence of the step analyses so far, by template name. */
  evidenceByTemplate?: Record<string, JudgeEvidence>;
}
