/**
 * Everything a release knows about itself: one plain value (`data`, common/status.ts ReleaseData) owned by one
 * object the workflow function drives (samples' `safe-message-handlers` keeps its state the same way).
 * Continue-as-new hands `data` whole to the next run; the status query answers `view()`, derived from it. What must
 * change together changes only through the methods here: gates and their answers, weights (and the CanaryWeight
 * search attribute), target groups, the saga, the phase. A step writes plain results of its own (an analysis run,
 * target health) into `data` directly.
 */
import { metricMeter, setCurrentDetails, upsertSearchAttributes, workflowInfo, type WorkflowInfo } from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { emitMetric } from '../../common/release-metrics';
import type { VariantDimensions } from '../../analysis/analysis';
import { CanaryWeight, ReleasePhase, ReleaseService, ReleaseVersion } from '../../common/search-attributes';
import type { ParsedReleaseSpec } from '../../common/spec';
import { TEST_ROUTE_SEGMENT } from '../../common/segments';
import { trafficRefs, type TrafficRef } from '../../common/forward';
import type { AwsScope } from '../../activities/contract';
import { DEFAULT_HISTORY_EVENT_LIMIT } from '../../common/messages';
import {
  TIMELINE_HEAD,
  TIMELINE_MAX,
  type Gate,
  type GateAnswer,
  type Outcome,
  type Phase,
  type ReleaseData,
  type ReleaseStatus,
  type RoleWeights,
} from '../../common/status';
import { statusView } from '../../common/status-view';
import type { Compensation } from '../plan';
import { askVersionFlags } from './versions';

/** Raised inside the workflow when a person or the analysis stops the release; never leaves the workflow. */
export class StopRelease extends Error {
  constructor(
    readonly outcome: Exclude<Outcome, 'promoted'>,
    readonly reason: string,
    readonly by: string,
    /** When it was decided (workflow time): a rollback measures its time to restore traffic from here. */
    readonly atMs = Date.now(),
  ) {
    super(reason);
  }
}

/** Thrown at a safe point when the run's history is long enough to continue as new; the runbook carries the state over. */
export class ContinueAsNewNeeded extends Error {
  constructor() {
    super('continue as new');
  }
}

export class ReleaseState {
  /** The release's data, carried whole across continue-as-new. */
  readonly data: ReleaseData;
  readonly hasBaseline: boolean;
  /**
   * Set once by abort, a failed analysis or a timed-out gate; the runbook throws it at its next check. Never carried:
   * a run with a stop rolls back instead of continuing as new.
   */
  stop: StopRelease | undefined;
  historyEventLimit = DEFAULT_HISTORY_EVENT_LIMIT;
  /** False while the release must not continue as new (cloning: the next run would not redo it). */
  atSafePoint = true;
  /** The gate the previous run was waiting at; the step that opened it picks it up once, with its original deadline. */
  private resumable: Gate | undefined;

  constructor(
    readonly spec: ParsedReleaseSpec,
    info: Pick<WorkflowInfo, 'workflowId' | 'runId'>,
    carried?: ReleaseData,
  ) {
    this.hasBaseline = !!spec.environment.baselineTargets?.length;
    if (carried) {
      // The carried gate stays open until its step re-opens it: an approve or resume that the new run's first task
      // handles (sent while the previous run continued as new) must find it, not be ignored as "nothing to resume".
      this.data = { ...carried, run: carried.run + 1 };
      this.resumable = carried.gate?.kind === 'manual-pause' ? undefined : carried.gate;
      this.data.gate = this.resumable;
      return;
    }
    const startedMs = Date.now();
    this.data = {
      releaseId: `${info.workflowId}/${info.runId}`,
      run: 1,
      startedMs,
      versions: [],
      phase: 'Validating',
      step: 0,
      stepsCompleted: 0,
      paused: false,
      gatesOpened: 0,
      requestedWeights: {},
      verifiedWeights: {},
      targetGroups: [],
      arns: {},
      dims: {},
      forwards: [],
      segments: [],
      activeRules: {},
      saga: [],
      evidenceByTemplate: {},
      usedSignatures: [],
      timeline: [],
      updatedAt: new Date(startedMs).toISOString(),
    };
  }

  get releaseId(): string {
    return this.data.releaseId;
  }

  get run(): number {
    return this.data.run;
  }

  /** What the status query answers: a view of the data (the spec's identity and steps, the planned rollback). */
  view(): ReleaseStatus {
    return statusView(this.spec, this.data);
  }

  /** What the next run needs to go on exactly where this one stopped: the data, with the gate it hands over. */
  carry(gate: Gate | undefined): ReleaseData {
    const { answer, ...data } = this.data;
    // Only an answer to the gate the next run re-opens goes over; any other ended its gate already.
    return { ...data, gate, ...(answer && gate && answer.gate === gate.seq ? { answer } : {}) };
  }

  /** The forward actions the release shifts. */
  refs(): TrafficRef[] {
    return trafficRefs(this.spec.traffic);
  }

  /** The account and region every AWS activity of this release works in (never credentials). */
  scope(): AwsScope {
    const { region, aws } = this.spec;
    return { region, ...(aws?.roleArn ? { roleArn: aws.roleArn } : {}), ...(aws?.externalId ? { externalId: aws.externalId } : {}) };
  }

  /** Pure (condition predicates call it): true once this run's history should be handed to a new run. */
  historyFull(): boolean {
    if (!this.atSafePoint) return false;
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= this.historyEventLimit;
  }

  /** Opens a new gate (the next seq, no answer yet: an answer is only ever for the gate it was accepted at) and shows it. */
  openGate(gate: Omit<Gate, 'seq'>): Gate {
    this.data.gatesOpened += 1;
    this.data.answer = undefined;
    return this.showGate({ ...gate, seq: this.data.gatesOpened });
  }

  /** Shows `gate` as the open gate (a new one, or the carried one its step re-opens). */
  showGate(gate: Gate): Gate {
    this.data.gate = gate;
    this.details();
    this.touch();
    return gate;
  }

  /** Closes the open gate and takes the answer accepted at `gate`, once (undefined when the gate ended otherwise). */
  closeGate(gate?: Gate): GateAnswer | undefined {
    this.data.gate = undefined;
    this.details();
    const answer = gate && this.data.answer?.gate === gate.seq ? this.data.answer : undefined;
    this.data.answer = undefined;
    return answer;
  }

  /** An approve, resume or promote accepted at the open gate: it ends that gate (its seq) and no other. */
  answerGate(verb: GateAnswer['verb'], by: string): void {
    if (this.data.gate) this.data.answer = { gate: this.data.gate.seq, verb, by };
  }

  /** The carried gate of this kind and step, once: the step re-opens it with its original opening time and deadline. */
  takeResumable(kind: Gate['kind'], step: number): Gate | undefined {
    const g = this.resumable;
    if (!g || g.kind !== kind || g.step !== step) return undefined;
    this.resumable = undefined;
    return g;
  }

  /** The step the release runs now (the steps' length once all ran). */
  setStep(step: number): void {
    this.data.step = step;
    this.touch();
  }

  /** Weights requested of AWS (before the write), then what AWS verified (after it); `since` marks new canary traffic. */
  setWeights(weights: { requested?: RoleWeights; verified?: RoleWeights; since?: boolean }): void {
    if (weights.requested) this.data.requestedWeights = weights.requested;
    if (weights.verified) {
      const before = Math.round(this.data.verifiedWeights.canary ?? 0);
      this.data.verifiedWeights = weights.verified;
      if (Math.round(weights.verified.canary ?? 0) !== before) this.publishWeight();
    }
    if (weights.since) this.data.trafficSince = new Date().toISOString();
    this.touch();
  }

  /** Records a target group of the release under its role (arn, CloudWatch dimensions, the status's list). */
  addGroup(role: 'stable' | 'canary' | 'baseline', name: string, arn: string, dims: VariantDimensions): void {
    this.data.arns[role] = arn;
    this.data.dims[role] = dims;
    this.data.targetGroups.push({ role, name, arn });
    this.touch();
  }

  /** Forgets an active segment rule (deleted, or gone and adopted as gone): drift checks and the status drop it. */
  dropSegment(name: string): void {
    delete this.data.activeRules[name];
    if (name === TEST_ROUTE_SEGMENT) this.data.testRoute = undefined;
    this.data.segments = this.data.segments.filter((s) => s.name !== name);
    this.touch();
  }

  /** The first commands of a release: its version flags, search attributes, details and the start entry. */
  begin(): void {
    this.data.versions = askVersionFlags();
    upsertReleaseAttributes([
      { key: ReleaseService, value: this.spec.service },
      { key: ReleaseVersion, value: this.spec.version },
      { key: ReleasePhase, value: 'Validating' },
      { key: CanaryWeight, value: 0 },
    ]);
    this.details();
    this.record(this.spec.initiator, 'start', `${this.spec.service} ${this.spec.version}, ${this.spec.steps.length} steps`);
  }

  touch(): void {
    this.data.updatedAt = new Date().toISOString();
  }

  record(by: string, action: string, detail?: string, accepted = true, signed?: { key: string }): void {
    const timeline = this.data.timeline;
    timeline.push({ at: new Date().toISOString(), by, action, detail, accepted, ...(signed ? { signed } : {}) });
    if (timeline.length > TIMELINE_MAX) timeline.splice(TIMELINE_HEAD, timeline.length - TIMELINE_MAX);
    this.touch();
  }

  /** The Temporal UI's current details (its "User Metadata" tab): phase, step, weights, what the release waits for. */
  details(): void {
    const { spec, data } = this;
    const w = data.verifiedWeights;
    const lines = [
      `**${spec.service} ${spec.version}** — ${data.phase}`,
      `step ${Math.min(data.step + 1, spec.steps.length)}/${spec.steps.length}; canary ${w.canary ?? 0}% / stable ${w.stable ?? 100}%${w.baseline ? ` / baseline ${w.baseline}%` : ''}`,
    ];
    if (data.segments.length) lines.push(`segments on the canary: ${data.segments.map((s) => s.name).join(', ')}`);
    if (data.gate) lines.push(`waiting: ${data.gate.kind} at step ${data.gate.step}${data.gate.deadline ? ` until ${data.gate.deadline}` : ''}`);
    setCurrentDetails(lines.join('\n\n'));
  }

  setPhase(phase: Phase): void {
    if (this.data.phase === phase) return;
    this.data.phase = phase;
    upsertReleaseAttributes([{ key: ReleasePhase, value: phase }]);
    emitMetric(metricMeter, 'phaseEntered', 1, { phase });
    this.details();
    this.touch();
  }

  /** Publishes the verified canary weight as the CanaryWeight search attribute. */
  private publishWeight(): void {
    upsertReleaseAttributes([{ key: CanaryWeight, value: Math.round(this.data.verifiedWeights.canary ?? 0) }]);
  }

  register(c: Compensation): void {
    this.data.saga.push(c);
    this.touch();
  }

  /** Drops a compensation once it has run. */
  completed(c: Compensation): void {
    this.data.saga.splice(this.data.saga.indexOf(c), 1);
    this.touch();
  }

  /** After the point of no return nothing is undone any more. */
  forgetSaga(): void {
    this.data.saga.length = 0;
    this.touch();
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
    const { dims, requestedWeights } = this.data;
    const useBaseline = this.hasBaseline && (requestedWeights.baseline ?? 0) > 0;
    return { canary: dims.canary as VariantDimensions, stable: dims.stable as VariantDimensions, baseline: useBaseline ? dims.baseline : undefined };
  }
}

/**
 * Upserts the release's search attributes only when its start carried them: `canary start` starts without them on a
 * namespace that has not registered them (client/namespace.ts), and upserting an unregistered attribute fails every
 * workflow task (BadSearchAttributes). The start's attributes travel with continue-as-new.
 */
function upsertReleaseAttributes(updates: SearchAttributeUpdatePair[]): void {
  if (workflowInfo().typedSearchAttributes.get(ReleaseService) === undefined) return;
  upsertSearchAttributes(updates);
}
