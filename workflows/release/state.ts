/**
 * Everything a release knows about itself, owned by one object the workflow function drives (samples'
 * `safe-message-handlers` keeps its growing state the same way): the status the query answers, the saga,
 * the target groups per role, and what people asked for. Message handlers and steps change it only through here.
 */
import { patched, setCurrentDetails, upsertSearchAttributes, workflowInfo, type WorkflowInfo } from '@temporalio/workflow';
import type { AnalysisCounters, VariantDimensions } from '../../analysis/analysis';
import { CanaryWeight, ReleasePhase, ReleaseService, ReleaseVersion } from '../../common/search-attributes';
import type { ApproverKeyMap, ParsedReleaseSpec } from '../../common/spec';
import { trafficRefs, type ForwardState, type TrafficRef } from '../../common/forward';
import type { AwsScope, EnsuredSegmentRule } from '../../activities/contract';
import { DEFAULT_HISTORY_EVENT_LIMIT } from '../../common/messages';
import {
  TIMELINE_HEAD,
  TIMELINE_MAX,
  type CarriedRelease,
  type Gate,
  type GateAnswer,
  type Outcome,
  type Phase,
  type ReleaseStatus,
  type Role,
} from '../../common/status';
import type { JudgeEvidence } from '../../analysis/sequential';
import type { UsedSignatures } from '../../common/signing';
import { describeCompensation, rollbackOrder, type Compensation } from '../plan';

/** Raised inside the workflow when a person or the analysis stops the release; never leaves the workflow. */
export class StopRelease extends Error {
  constructor(
    readonly outcome: Exclude<Outcome, 'promoted'>,
    readonly reason: string,
    readonly by: string,
  ) {
    super(reason);
  }
}

/** Marks runs (after a continue-as-new) whose carried gate is open to messages from their first workflow task on. */
export const CARRIED_GATE_PATCH = 'carried-gate-open';

/** Thrown at a safe point when the run's history is long enough to continue as new; the runbook carries the state over. */
export class ContinueAsNewNeeded extends Error {
  constructor() {
    super('continue as new');
  }
}

export class ReleaseState {
  readonly releaseId: string;
  readonly startedMs: number;
  readonly hasBaseline: boolean;
  readonly status: ReleaseStatus;
  /** Inverses of the mutations made so far, registered before each mutation runs. */
  readonly saga: Compensation[] = [];
  readonly arns: Partial<Record<Role, string>> = {};
  readonly dims: Partial<Record<Role, VariantDimensions>> = {};
  /** Set once by abort, a failed analysis or a timed-out gate; the runbook throws it at its next check. */
  stop: StopRelease | undefined;
  /** Gates opened so far: the next gate's `seq`. An answer names the seq of the gate it was accepted at. */
  gatesOpened = 0;
  /**
   * The approve, resume or promote accepted at the open gate, bound to that gate's seq: it ends that gate and no
   * other (a promote that ended a manual pause must not end the approval gate after it).
   */
  answer: GateAnswer | undefined;
  /** A full promotion: the one answer that ends every gate, checked against every remaining approval when accepted. */
  fullPromotion: { by: string } | undefined;
  /**
   * The keys this release verifies signatures with (the worker's when it holds any, else the spec's), fixed at the
   * first run; until it has read them (undefined), nothing that must be signed is accepted.
   */
  approverKeys: ApproverKeyMap | undefined;
  stepsCompleted = 0;

  /** 1 for the first run of a release, +1 for each continue-as-new. */
  readonly run: number;
  /** False for a release that started on a worker without continue-as-new (its history must replay as it was). */
  canContinueAsNew = true;
  historyEventLimit = DEFAULT_HISTORY_EVENT_LIMIT;
  /** Background analysis counters carried over from the previous run. */
  readonly carriedCounters: AnalysisCounters | undefined;
  /**
   * Real-ALB semantics (attach at weight 0 before the health wait, drift-checked writes, settle and drain before
   * teardown, several forward actions, pair mode, per-release region and role). Fixed at the first run: a release
   * started before this existed replays its history as it ran.
   */
  realAlb = false;
  /** Per forward action of the spec, the forward this release verified last (the `expected` of its next write). */
  forwards: { ref: TrafficRef; verified: ForwardState }[] = [];
  /** Whether inconclusive gates time out (the spec's `inconclusive` policy); fixed at the first run like realAlb. */
  gateTimeouts = false;
  /**
   * Analysis steps judge only windows after the canary's current traffic began (`status.trafficSince`), fixed at the
   * first run: a release started before this judged the window ending `delay` ago and replays as it ran.
   */
  windowAfterTraffic = false;
  /**
   * The background analysis's first batch judges only windows after the canary got traffic (as analysis steps do
   * with windowAfterTraffic); fixed at the first run. Before, its first measurements judged windows from before the
   * first weight, which ALB-shaped metrics leave without data.
   */
  backgroundAfterTraffic = false;
  /** Signatures accepted so far and still valid: a replayed one is refused. */
  usedSignatures: UsedSignatures = [];
  /**
   * Segment steps create listener rules (patch `segments`, asked only by releases whose spec has segment steps).
   * Fixed at the first run.
   */
  segmentRules = false;
  /**
   * Segment rule activities run in the release's region and role like every other ELB call (patch `segment-scope`);
   * without it they ran in the worker's default scope. Fixed at the first run.
   */
  scopedSegments = false;
  /** The segment rules active now, by segment name, as this release verified them last (what the drift check expects). */
  activeRules: Record<string, EnsuredSegmentRule> = {};
  /**
   * Step analyses go on with the sequential judge's evidence of earlier steps of the same template (patch
   * `step-evidence`), so the release's false-failure bound covers all its checks. Fixed at the first run.
   */
  stepEvidence = false;
  /** The sequential judge's evidence of the step analyses so far, by template name (carried across continue-as-new). */
  evidenceByTemplate: Record<string, JudgeEvidence> = {};
  /** False while the release must not continue as new (cloning: the next run would not redo it). */
  atSafePoint = true;
  /** The gate the previous run was waiting at; the step that opened it picks it up once, with its original deadline. */
  private resumable: Gate | undefined;

  constructor(
    readonly spec: ParsedReleaseSpec,
    info: Pick<WorkflowInfo, 'workflowId' | 'runId'>,
    carried?: CarriedRelease,
  ) {
    this.hasBaseline = !!spec.environment.baselineTargets?.length;
    if (carried) {
      this.run = carried.run + 1;
      this.releaseId = carried.status.releaseId;
      this.startedMs = carried.startedMs;
      this.status = carried.status;
      this.saga.push(...carried.saga);
      Object.assign(this.arns, carried.arns);
      Object.assign(this.dims, carried.dims);
      this.gatesOpened = carried.gatesOpened;
      this.answer = carried.answer;
      this.fullPromotion = carried.fullPromotion;
      this.approverKeys = carried.approverKeys;
      this.stepsCompleted = carried.stepsCompleted;
      this.carriedCounters = carried.backgroundCounters;
      this.resumable = carried.status.gate?.kind === 'manual-pause' ? undefined : carried.status.gate;
      this.realAlb = carried.realAlb ?? false;
      this.forwards = carried.forwards ?? [];
      this.usedSignatures = carried.usedSignatures ?? [];
      this.gateTimeouts = carried.gateTimeouts ?? false;
      this.windowAfterTraffic = carried.windowAfterTraffic ?? false;
      this.backgroundAfterTraffic = carried.backgroundAfterTraffic ?? false;
      this.segmentRules = carried.segmentRules ?? false;
      this.scopedSegments = carried.scopedSegments ?? false;
      this.activeRules = carried.activeRules ?? {};
      this.stepEvidence = carried.stepEvidence ?? false;
      this.evidenceByTemplate = carried.evidenceByTemplate ?? {};
      // The carried gate stays open until its step re-opens it: an approve or resume that the new run's first task
      // handles (sent while the previous run continued as new) must find it, not be ignored as "nothing to resume".
      this.status.gate = patched(CARRIED_GATE_PATCH) ? this.resumable : undefined;
      return;
    }
    this.run = 1;
    this.carriedCounters = undefined;
    this.releaseId = `${info.workflowId}/${info.runId}`;
    this.startedMs = Date.now();
    const started = new Date(this.startedMs).toISOString();
    this.status = {
      releaseId: this.releaseId,
      service: spec.service,
      version: spec.version,
      initiator: spec.initiator,
      phase: 'Validating',
      step: 0,
      steps: spec.steps,
      requestedWeights: {},
      verifiedWeights: {},
      targetGroups: [],
      paused: false,
      timeline: [],
      rollbackPlan: [],
      startedAt: started,
      updatedAt: started,
    };
  }

  /** What the next run needs to go on exactly where this one stopped. */
  carry(backgroundCounters: AnalysisCounters | undefined, gate: Gate | undefined): CarriedRelease {
    return {
      run: this.run,
      startedMs: this.startedMs,
      status: { ...this.status, gate },
      saga: [...this.saga],
      arns: { ...this.arns },
      dims: { ...this.dims },
      gatesOpened: this.gatesOpened,
      // Only an answer to the gate the next run re-opens goes over; any other ended its gate already.
      ...(this.answer && gate && this.answer.gate === gate.seq ? { answer: this.answer } : {}),
      ...(this.fullPromotion ? { fullPromotion: this.fullPromotion } : {}),
      approverKeys: this.approverKeys ?? {},
      stepsCompleted: this.stepsCompleted,
      backgroundCounters,
      realAlb: this.realAlb,
      forwards: this.forwards,
      usedSignatures: this.usedSignatures,
      gateTimeouts: this.gateTimeouts,
      ...(this.windowAfterTraffic ? { windowAfterTraffic: true } : {}),
      ...(this.backgroundAfterTraffic ? { backgroundAfterTraffic: true } : {}),
      ...(this.segmentRules ? { segmentRules: true, activeRules: { ...this.activeRules } } : {}),
      ...(this.scopedSegments ? { scopedSegments: true } : {}),
      ...(this.stepEvidence ? { stepEvidence: true, evidenceByTemplate: { ...this.evidenceByTemplate } } : {}),
    };
  }

  /** The forward actions the release shifts (a recorded spec may hold the single-object form). */
  refs(): TrafficRef[] {
    return trafficRefs(this.spec.traffic);
  }

  /** The account and region every AWS activity of this release works in (never credentials). */
  scope(): AwsScope {
    const { region, aws } = this.spec;
    return { region, ...(aws?.roleArn ? { roleArn: aws.roleArn } : {}), ...(aws?.externalId ? { externalId: aws.externalId } : {}) };
  }

  /** The `aws` input of a segment rule activity: the release's scope, or none for a release without `segment-scope`. */
  segmentScope(): { aws?: AwsScope } {
    return this.scopedSegments ? { aws: this.scope() } : {};
  }

  /** Pure (condition predicates call it): true once this run's history should be handed to a new run. */
  historyFull(): boolean {
    if (!this.canContinueAsNew || !this.atSafePoint) return false;
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= this.historyEventLimit;
  }

  /** Opens a new gate: the next seq, and no answer yet (an answer is only ever for the gate it was accepted at). */
  openGate(gate: Omit<Gate, 'seq'>): Gate {
    this.gatesOpened += 1;
    this.answer = undefined;
    return { ...gate, seq: this.gatesOpened };
  }

  /** The answer accepted at `gate`, taken once (undefined when the gate ended otherwise). */
  takeAnswer(gate: Gate): GateAnswer | undefined {
    const answer = this.answer?.gate === gate.seq ? this.answer : undefined;
    this.answer = undefined;
    return answer;
  }

  /** The carried gate of this kind and step, once: the step re-opens it with its original opening time and deadline. */
  takeResumable(kind: Gate['kind'], step: number): Gate | undefined {
    const g = this.resumable;
    if (!g || g.kind !== kind || g.step !== step) return undefined;
    this.resumable = undefined;
    return g;
  }

  /** Forgets an active segment rule (deleted, or gone and adopted as gone): drift checks and the status drop it. */
  dropSegment(name: string): void {
    delete this.activeRules[name];
    if (this.status.segments) this.status.segments = this.status.segments.filter((s) => s.name !== name);
    this.touch();
  }

  /** The first commands of a release: its search attributes, details and the start entry. */
  begin(): void {
    upsertSearchAttributes([
      { key: ReleaseService, value: this.spec.service },
      { key: ReleaseVersion, value: this.spec.version },
      { key: ReleasePhase, value: 'Validating' },
      { key: CanaryWeight, value: 0 },
    ]);
    this.details();
    this.record(this.spec.initiator, 'start', `${this.spec.service} ${this.spec.version}, ${this.spec.steps.length} steps`);
  }

  touch(): void {
    this.status.updatedAt = new Date().toISOString();
  }

  record(by: string, action: string, detail?: string, accepted = true, signed?: { key: string }): void {
    const timeline = this.status.timeline;
    timeline.push({ at: new Date().toISOString(), by, action, detail, accepted, ...(signed ? { signed } : {}) });
    if (timeline.length > TIMELINE_MAX) timeline.splice(TIMELINE_HEAD, timeline.length - TIMELINE_MAX);
    this.touch();
  }

  /** The Temporal UI's current details (its "User Metadata" tab): phase, step, weights, what the release waits for. */
  details(): void {
    const { spec, status } = this;
    const w = status.verifiedWeights;
    const lines = [
      `**${spec.service} ${spec.version}** — ${status.phase}`,
      `step ${Math.min(status.step + 1, spec.steps.length)}/${spec.steps.length}; canary ${w.canary ?? 0}% / stable ${w.stable ?? 100}%${w.baseline ? ` / baseline ${w.baseline}%` : ''}`,
    ];
    if (status.segments?.length) lines.push(`segments on the canary: ${status.segments.map((s) => s.name).join(', ')}`);
    if (status.gate) lines.push(`waiting: ${status.gate.kind} at step ${status.gate.step}${status.gate.deadline ? ` until ${status.gate.deadline}` : ''}`);
    setCurrentDetails(lines.join('\n\n'));
  }

  setPhase(phase: Phase): void {
    if (this.status.phase === phase) return;
    this.status.phase = phase;
    upsertSearchAttributes([{ key: ReleasePhase, value: phase }]);
    this.details();
    this.touch();
  }

  /** Publishes the verified canary weight as the CanaryWeight search attribute. */
  publishWeight(): void {
    upsertSearchAttributes([{ key: CanaryWeight, value: Math.round(this.status.verifiedWeights.canary ?? 0) }]);
  }

  register(c: Compensation): void {
    this.saga.push(c);
    this.syncRollbackPlan();
  }

  /** Drops a compensation once it has run. */
  completed(c: Compensation): void {
    this.saga.splice(this.saga.indexOf(c), 1);
    this.syncRollbackPlan();
  }

  /** After the point of no return nothing is undone any more. */
  forgetSaga(): void {
    this.saga.length = 0;
    this.syncRollbackPlan();
  }

  private syncRollbackPlan(): void {
    this.status.rollbackPlan = rollbackOrder(this.saga).map(describeCompensation);
  }

  /** The first stop wins: a later abort cannot replace the reason a rollback already started for. */
  requestStop(s: StopRelease): void {
    if (!this.stop) this.stop = s;
  }

  throwIfStopped(): void {
    if (this.stop) throw this.stop;
  }

  /** CloudWatch dimensions of the variants an analysis compares now (the baseline only while it gets traffic). */
  variants(): { canary: VariantDimensions; stable: VariantDimensions; baseline?: VariantDimensions } {
    const useBaseline = this.hasBaseline && (this.status.requestedWeights.baseline ?? 0) > 0;
    return {
      canary: this.dims.canary as VariantDimensions,
      stable: this.dims.stable as VariantDimensions,
      baseline: useBaseline ? this.dims.baseline : undefined,
    };
  }
}
