/**
 * The release workflow: clone the environment, shift weights step by step, bake, judge, wait for people,
 * promote, or roll back to the exact pre-release state. Reads like the runbook; decisions come from ./plan.ts
 * and ./analysis.ts, AWS work from the activities.
 */
import type { z } from 'zod';
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import type { ReleaseActivities, WeightedTargetGroup } from '../activities/contract';
import type { NotifyEvent } from '../activities/notify';
import { ErrorTypes, Tags } from '../activities/contract';
import { formatDuration } from '../common/duration';
import * as msg from '../common/messages';
import { AbortInput, ApproveInput, PauseInput, PromoteInput, ResumeInput, payloadProblem, type MessageAck, type ReleaseInput } from '../common/messages';
import { CanaryWeight, ReleasePhase, ReleaseService, ReleaseVersion } from '../common/search-attributes';
import type { ParsedReleaseSpec, ParsedStep } from '../common/spec';
import type { Gate, Outcome, Phase, ReleaseResult, ReleaseStatus, Role, RoleWeights, TargetGroupRef } from '../common/status';
import { zeroCounters, type AnalysisCounters, type AnalysisRun, type VariantDimensions } from '../analysis/analysis';
import {
  approvalProblem,
  describeCompensation,
  forwardFor,
  isSteerable,
  rollbackOrder,
  roleWeights,
  targetGroupName,
  verifiedRoleWeights,
  type Compensation,
} from './plan';

const nonRetryableErrorTypes = [
  ErrorTypes.ListenerNotFound,
  ErrorTypes.UnsupportedListener,
  ErrorTypes.TargetGroupNameConflict,
  ErrorTypes.TargetsUnhealthy,
  ErrorTypes.InvalidAwsRequest,
];

/**
 * Short AWS calls: describe-then-write, retried with backoff; a persistent failure rolls the release back.
 * 15 s bounds how long a call lost with a crashed worker holds the release up before it is retried.
 */
const awsCall = {
  startToCloseTimeout: '15s',
  // A time budget rather than a count: throttling storms get retried for up to 3 minutes, then the release rolls back.
  scheduleToCloseTimeout: '3m',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '10s', nonRetryableErrorTypes },
} as const;

/** Compensations: tried harder before the release reports RollbackFailed (and then keeps trying). */
const rollbackCall = {
  startToCloseTimeout: '15s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 6 },
} as const;

const aws = proxyActivities<ReleaseActivities>(awsCall);
const compensate = proxyActivities<ReleaseActivities>(rollbackCall);
/** Webhooks: a few quick tries; a lost notification never changes the release. */
const notifier = proxyActivities<ReleaseActivities>({
  startToCloseTimeout: '15s',
  retry: { initialInterval: '1s', maximumAttempts: 3, nonRetryableErrorTypes: ['WebhookNotConfigured'] },
});

/** What went wrong, in words: an ActivityFailure only says "Activity task failed"; the failure it wraps says why. */
function causeMessage(err: unknown): string {
  let e = err as Error | undefined;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  return e?.message ?? String(err);
}

/** Raised inside the workflow when a person or the analysis stops the release; never leaves the workflow. */
class StopRelease extends Error {
  constructor(
    readonly outcome: Exclude<Outcome, 'promoted'>,
    readonly reason: string,
    readonly by: string,
  ) {
    super(reason);
  }
}

export async function release(input: ReleaseInput): Promise<ReleaseResult> {
  const spec = input.spec;
  const info = workflowInfo();
  const releaseId = `${info.workflowId}/${info.runId}`;
  const startedMs = Date.now();
  const hasBaseline = !!spec.environment.baselineTargets?.length;

  // ---- state (everything the status query shows) ----
  const status: ReleaseStatus = {
    releaseId,
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
    startedAt: new Date(startedMs).toISOString(),
    updatedAt: new Date(startedMs).toISOString(),
  };
  const saga: Compensation[] = [];
  const arns: Partial<Record<Role, string>> = {};
  const dims: Partial<Record<Role, VariantDimensions>> = {};
  let stop: StopRelease | undefined;
  let approvedGate: number | undefined;
  let resumedGate: number | undefined;
  let promote: { full: boolean; by: string } | undefined;
  let stepsCompleted = 0;

  const touch = (): void => {
    status.updatedAt = new Date().toISOString();
  };
  const record = (by: string, action: string, detail?: string, accepted = true): void => {
    status.timeline.push({ at: new Date().toISOString(), by, action, detail, accepted });
    // Bounded: a release with thousands of ignored signals must not grow its query answer without end.
    if (status.timeline.length > 300) status.timeline.splice(20, status.timeline.length - 300);
    touch();
  };
  const details = (): void => {
    const w = status.verifiedWeights;
    const lines = [
      `**${spec.service} ${spec.version}** — ${status.phase}`,
      `step ${Math.min(status.step + 1, spec.steps.length)}/${spec.steps.length}; canary ${w.canary ?? 0}% / stable ${w.stable ?? 100}%${w.baseline ? ` / baseline ${w.baseline}%` : ''}`,
    ];
    if (status.gate) lines.push(`waiting: ${status.gate.kind} at step ${status.gate.step}${status.gate.deadline ? ` until ${status.gate.deadline}` : ''}`);
    setCurrentDetails(lines.join('\n\n'));
  };
  const setPhase = (phase: Phase): void => {
    if (status.phase === phase) return;
    status.phase = phase;
    upsertSearchAttributes([{ key: ReleasePhase, value: phase }]);
    details();
    touch();
  };
  const syncRollbackPlan = (): void => {
    status.rollbackPlan = rollbackOrder(saga).map(describeCompensation);
  };
  const register = (c: Compensation): void => {
    saga.push(c);
    syncRollbackPlan();
  };
  const requestStop = (s: StopRelease): void => {
    if (!stop) stop = s;
  };

  // ---- messages ----
  const ack = (message: string): MessageAck => ({ accepted: true, phase: status.phase, step: status.step, message });
  const schemas = { approve: ApproveInput, abort: AbortInput, pause: PauseInput, resume: ResumeInput, promote: PromoteInput };
  type Kind = keyof typeof schemas;
  type Payload<K extends Kind> = z.output<(typeof schemas)[K]>;

  /** Why a message cannot be accepted now; undefined when it can. Never changes state (update validators). */
  const checks: { [K in Kind]: (p: Payload<K>) => string | undefined } = {
    approve(p) {
      if (stop) return 'the release is already stopping';
      const gate = status.gate?.kind === 'manual-pause' ? undefined : status.gate;
      return approvalProblem(gate, p.by, spec.initiator, p.step);
    },
    abort() {
      if (stop) return `the release is already stopping (${stop.reason})`;
      if (!isSteerable(status.phase)) return `the release is ${status.phase}: too late to abort`;
      return undefined;
    },
    pause() {
      if (stop) return 'the release is already stopping';
      if (status.paused) return 'already paused';
      if (!['Validating', 'CloningEnvironment', 'Progressing', 'Paused', 'AwaitingApproval'].includes(status.phase))
        return `the release is ${status.phase}: nothing to pause`;
      return undefined;
    },
    resume() {
      if (stop) return 'the release is already stopping';
      const gate = status.gate;
      if (!status.paused && !(gate && (gate.kind === 'pause' || gate.kind === 'inconclusive'))) return 'not paused: nothing to resume';
      return undefined;
    },
    promote(p) {
      if (stop) return 'the release is already stopping';
      if (!['Progressing', 'Paused', 'AwaitingApproval'].includes(status.phase)) return `the release is ${status.phase}: nothing to promote`;
      if (promote?.full) return 'a full promotion is already under way';
      if (!p.full && !status.gate) return 'no pause or gate is open: use full to skip the remaining steps';
      // Promotion never skips an approval gate the caller could not approve.
      for (let i = status.step; i < spec.steps.length; i++) {
        const s = spec.steps[i];
        if (s?.kind !== 'approval' || (!p.full && i !== status.gate?.step)) continue;
        const problem = approvalProblem(
          { kind: 'approval', step: i, approvers: s.approvers, allowSelfApproval: s.allowSelfApproval, openedAt: '' },
          p.by,
          spec.initiator,
        );
        if (problem) return `promotion would skip the approval at step ${i}: ${problem}`;
      }
      return undefined;
    },
  };

  /** Applies an accepted message; returns what the caller is told. */
  const effects: { [K in Kind]: (p: Payload<K>) => string } = {
    approve(p) {
      const gate = status.gate as Gate;
      approvedGate = gate.step;
      record(p.by, 'approve', `step ${gate.step}${p.comment ? `: ${p.comment}` : ''}`);
      return `approved step ${gate.step}`;
    },
    abort(p) {
      requestStop(new StopRelease('aborted', p.reason, p.by));
      record(p.by, 'abort', p.reason);
      return 'aborting: traffic goes back to stable, then the canary is removed';
    },
    pause(p) {
      status.paused = true;
      record(p.by, 'pause', p.reason);
      return 'paused: the release stops before its next step';
    },
    resume(p) {
      status.paused = false;
      if (status.gate && (status.gate.kind === 'pause' || status.gate.kind === 'inconclusive')) resumedGate = status.gate.step;
      record(p.by, 'resume', p.comment);
      return 'resumed';
    },
    promote(p) {
      promote = { full: p.full, by: p.by };
      status.paused = false;
      record(p.by, p.full ? 'promote (full)' : 'promote', p.comment);
      return p.full ? 'promoting: skipping the remaining steps and analysis' : 'skipping the current pause';
    },
  };

  function problemWith<K extends Kind>(kind: K, payload: unknown): { problem: string } | { payload: Payload<K> } {
    const parsed = schemas[kind].safeParse(payload);
    if (!parsed.success) return { problem: payloadProblem(parsed.error) };
    const problem = checks[kind](parsed.data as Payload<K>);
    return problem ? { problem } : { payload: parsed.data as Payload<K> };
  }

  function listen<K extends Kind>(kind: K, signal: SignalDefinition<[unknown]>, update: UpdateDefinition<MessageAck, [unknown]>): void {
    setHandler(signal, (payload) => {
      const r = problemWith(kind, payload);
      if ('problem' in r) {
        const by = typeof payload === 'object' && payload !== null && 'by' in payload ? String((payload as { by: unknown }).by) : 'unknown';
        record(by, kind, `ignored: ${r.problem}`, false);
      } else {
        effects[kind](r.payload);
      }
    });
    setHandler(
      update,
      (payload) => {
        const r = problemWith(kind, payload);
        if ('problem' in r) throw ApplicationFailure.nonRetryable(r.problem, 'MessageRejected');
        return ack(effects[kind](r.payload));
      },
      {
        validator: (payload) => {
          const r = problemWith(kind, payload);
          if ('problem' in r) throw new Error(r.problem);
        },
      },
    );
  }
  listen('approve', msg.approveSignal as SignalDefinition<[unknown]>, msg.approveUpdate as UpdateDefinition<MessageAck, [unknown]>);
  listen('abort', msg.abortSignal as SignalDefinition<[unknown]>, msg.abortUpdate as UpdateDefinition<MessageAck, [unknown]>);
  listen('pause', msg.pauseSignal as SignalDefinition<[unknown]>, msg.pauseUpdate as UpdateDefinition<MessageAck, [unknown]>);
  listen('resume', msg.resumeSignal as SignalDefinition<[unknown]>, msg.resumeUpdate as UpdateDefinition<MessageAck, [unknown]>);
  listen('promote', msg.promoteSignal as SignalDefinition<[unknown]>, msg.promoteUpdate as UpdateDefinition<MessageAck, [unknown]>);
  setHandler(msg.statusQuery, () => status);

  // ---- helpers over activities ----
  /** Sends a webhook notification when the spec asks for this event; failures are recorded, never thrown. */
  async function alert(event: NotifyEvent, message: string): Promise<void> {
    const n = spec.notifications;
    if (!n || !n.events.includes(event)) return;
    try {
      await notifier.notify({ webhook: n.webhook, event, service: spec.service, version: spec.version, releaseId, phase: status.phase, message });
    } catch (err) {
      record('canary', 'notification failed', `${event} via ${n.webhook}: ${causeMessage(err)}`, false);
    }
  }

  const throwIfStopped = (): void => {
    if (stop) throw stop;
  };

  /**
   * Runs an activity that may take long; a stop request cancels it (and throws the stop), and so does a full
   * promotion when `skippable` (the result is then undefined).
   */
  async function interruptible<T>(fn: () => Promise<T>, skippable = false): Promise<T | undefined> {
    const scope = new CancellationScope();
    const work = scope.run(fn);
    const interrupted = condition(() => stop !== undefined || (skippable && promote?.full === true)).then(() => 'interrupted' as const);
    const first = await Promise.race([work.then(() => 'done' as const), interrupted]);
    if (first === 'done') return work;
    scope.cancel();
    await work.catch(() => undefined);
    throwIfStopped();
    return undefined;
  }

  async function shift(weights: RoleWeights, by: string): Promise<void> {
    status.requestedWeights = weights;
    touch();
    const verified = await aws.setForwardWeights({ ...spec.traffic, weights: forwardFor(weights, arns) });
    status.verifiedWeights = verifiedRoleWeights(verified.weights, arns);
    upsertSearchAttributes([{ key: CanaryWeight, value: Math.round(status.verifiedWeights.canary ?? 0) }]);
    record(
      by,
      'setWeight',
      `canary ${weights.canary}%${weights.baseline !== undefined ? `, baseline ${weights.baseline}%` : ''}, stable ${weights.stable}% (verified)`,
    );
    details();
  }

  async function cloneRole(
    role: 'canary' | 'baseline',
    label: string,
    targets: NonNullable<ParsedReleaseSpec['environment']['baselineTargets']>,
    stableArn: string,
  ): Promise<void> {
    const name = targetGroupName(spec.service, label, releaseId);
    register({ kind: 'deleteTargetGroup', listenerArn: spec.traffic.listenerArn, ruleArn: spec.traffic.ruleArn, name });
    const tg = await aws.ensureTargetGroup({
      sourceTargetGroupArn: stableArn,
      name,
      tags: {
        [Tags.service]: spec.service,
        [Tags.version]: role === 'canary' ? spec.version : `baseline-of-${spec.version}`,
        [Tags.releaseId]: releaseId,
        [Tags.role]: role,
      },
    });
    arns[role] = tg.targetGroupArn;
    dims[role] = { targetGroup: tg.dimension, loadBalancer: dims.stable?.loadBalancer ?? '' };
    status.targetGroups.push({ role, name, arn: tg.targetGroupArn });
    record('canary', `create ${role} target group`, `${name}${tg.created ? '' : ' (found from an earlier attempt)'}`);
    await aws.registerTargets({ targetGroupArn: tg.targetGroupArn, targets });
    const longWait = proxyActivities<ReleaseActivities>({
      ...awsCall,
      startToCloseTimeout: spec.environment.healthyTimeout + 60_000,
      scheduleToCloseTimeout: spec.environment.healthyTimeout + 120_000,
      heartbeatTimeout: '30s',
    });
    const healthy = (await interruptible(() =>
      longWait.waitHealthy({ targetGroupArn: tg.targetGroupArn, targets, timeoutMs: spec.environment.healthyTimeout }),
    )) as {
      healthy: number;
      waitedMs: number;
    };
    record('canary', `${role} targets healthy`, `${healthy.healthy}/${targets.length} after ${formatDuration(healthy.waitedMs)}`);
  }

  function analysisProxy(timeoutMs: number) {
    return proxyActivities<ReleaseActivities>({
      startToCloseTimeout: timeoutMs,
      heartbeatTimeout: '60s',
      retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
    });
  }

  function variants(): { canary: VariantDimensions; stable: VariantDimensions; baseline?: VariantDimensions } {
    const useBaseline = hasBaseline && (status.requestedWeights.baseline ?? 0) > 0;
    return { canary: dims.canary as VariantDimensions, stable: dims.stable as VariantDimensions, baseline: useBaseline ? dims.baseline : undefined };
  }

  /** Waits on a gate; returns how it ended. */
  async function waitGate(gate: Gate, timeoutMs: number | null): Promise<'approved' | 'resumed' | 'promoted' | 'timeout'> {
    status.gate = gate;
    details();
    touch();
    const ended = (): boolean =>
      stop !== undefined || promote !== undefined || approvedGate === gate.step || (resumedGate === gate.step && gate.kind !== 'approval');
    const inTime = timeoutMs === null ? (await condition(ended), true) : await condition(ended, timeoutMs);
    status.gate = undefined;
    details();
    throwIfStopped();
    if (!inTime) return 'timeout';
    if (promote) {
      if (!promote.full) promote = undefined;
      return 'promoted';
    }
    return approvedGate === gate.step ? 'approved' : 'resumed';
  }

  async function holdWhilePaused(): Promise<void> {
    if (!status.paused) return;
    setPhase('Paused');
    status.gate = { kind: 'manual-pause', step: status.step, openedAt: new Date().toISOString() };
    details();
    await condition(() => !status.paused || stop !== undefined);
    status.gate = undefined;
    throwIfStopped();
    setPhase('Progressing');
  }

  async function runStep(step: ParsedStep, i: number): Promise<void> {
    switch (step.kind) {
      case 'setWeight':
        await shift(roleWeights(step.weight, hasBaseline), 'canary');
        if (step.weight > 0) startBackground();
        return;
      case 'pause': {
        setPhase('Paused');
        const deadline = step.durationMs === null ? undefined : new Date(Date.now() + step.durationMs).toISOString();
        const how = await waitGate({ kind: 'pause', step: i, openedAt: new Date().toISOString(), deadline }, step.durationMs);
        record('canary', 'pause ended', how === 'timeout' ? `after ${formatDuration(step.durationMs ?? 0)}` : how);
        setPhase('Progressing');
        return;
      }
      case 'analysis': {
        const template = spec.analysis[step.template];
        if (!template) throw ApplicationFailure.nonRetryable(`unknown analysis template ${step.template}`, 'InvalidRelease');
        const act = analysisProxy(template.count * (template.interval + 60_000) + 120_000);
        const run = await interruptible(
          () => act.runAnalysis({ templateName: step.template, template, variants: variants(), count: template.count, intervalMs: template.interval }),
          true,
        );
        if (!run) {
          record('canary', `analysis ${step.template}: skipped`, 'full promotion');
          return;
        }
        status.analysis = run;
        record('canary', `analysis ${step.template}: ${run.verdict}`, run.reason);
        if (run.verdict === 'fail') throw new StopRelease('rolled-back', `analysis ${step.template} failed at step ${i}: ${run.reason}`, 'canary');
        if (run.verdict === 'inconclusive') {
          setPhase('Paused');
          const how = await waitGate({ kind: 'inconclusive', step: i, openedAt: new Date().toISOString() }, null);
          record('canary', 'inconclusive analysis ended', how);
          setPhase('Progressing');
        }
        return;
      }
      case 'approval': {
        setPhase('AwaitingApproval');
        const who = step.approvers.length ? step.approvers.join(', ') : 'anyone but the initiator';
        const notified = alert('approval-needed', `step ${i} waits for ${who} until ${new Date(Date.now() + step.timeoutMs).toISOString()}`);
        const how = await waitGate(
          {
            kind: 'approval',
            step: i,
            approvers: step.approvers,
            allowSelfApproval: step.allowSelfApproval,
            openedAt: new Date().toISOString(),
            deadline: new Date(Date.now() + step.timeoutMs).toISOString(),
            onTimeout: step.onTimeout,
          },
          step.timeoutMs,
        );
        await notified;
        if (how === 'timeout') {
          record('canary', 'approval timed out', `after ${formatDuration(step.timeoutMs)}: ${step.onTimeout}`);
          if (step.onTimeout === 'rollback')
            throw new StopRelease('rolled-back', `approval at step ${i} timed out after ${formatDuration(step.timeoutMs)}`, 'canary');
        }
        setPhase('Progressing');
        return;
      }
    }
  }

  // ---- background analysis: one activity call per report batch, so history stays small on long bakes ----
  let backgroundScope: CancellationScope | undefined;
  let backgroundDone: Promise<void> | undefined;
  function startBackground(): void {
    const bg = spec.backgroundAnalysis;
    if (!bg || backgroundScope) return;
    const template = spec.analysis[bg.template];
    if (!template) return;
    const batch = Math.max(1, Math.floor(bg.reportEvery / bg.interval));
    const act = analysisProxy(batch * (bg.interval + 60_000) + 120_000);
    backgroundScope = new CancellationScope();
    backgroundDone = backgroundScope
      .run(async () => {
        let counters: AnalysisCounters = zeroCounters;
        for (;;) {
          const run: AnalysisRun = await act.runAnalysis({
            templateName: bg.template,
            template,
            variants: variants(),
            count: batch,
            intervalMs: bg.interval,
            previous: counters,
            delayFirst: true,
          });
          status.backgroundAnalysis = run;
          counters = run.counters;
          touch();
          if (run.verdict === 'fail') {
            record('canary', `background analysis ${bg.template}: fail`, run.reason);
            requestStop(new StopRelease('rolled-back', `background analysis ${bg.template} failed: ${run.reason}`, 'canary'));
            return;
          }
        }
      })
      .catch((err) => {
        if (!isCancellation(err)) {
          requestStop(new StopRelease('rolled-back', `background analysis could not run: ${causeMessage(err)}`, 'canary'));
        }
      });
  }
  async function stopBackground(): Promise<void> {
    backgroundScope?.cancel();
    await backgroundDone;
  }

  function finalForward(): { name: string; weight: number }[] {
    const names = new Map(status.targetGroups.map((t) => [t.arn, t.name]));
    const w = status.verifiedWeights;
    return (Object.keys(w) as Role[]).map((role) => ({ name: names.get(arns[role] ?? '') ?? role, weight: w[role] ?? 0 }));
  }

  const result = (outcome: Outcome, reason: string, by?: string): ReleaseResult => {
    const r: ReleaseResult = {
      outcome,
      reason,
      by,
      service: spec.service,
      version: spec.version,
      durationMs: Date.now() - startedMs,
      stepsCompleted,
      steps: spec.steps.length,
      finalForward: finalForward(),
    };
    status.result = r;
    touch();
    return r;
  };

  /** Tries a clean-up a few rounds, `rollback.retryInterval` apart; says what failed instead of failing the release. */
  async function persist(what: string, fn: () => Promise<void>, rounds = 3): Promise<{ ok: true } | { ok: false; error: string }> {
    for (let round = 1; ; round++) {
      try {
        await fn();
        return { ok: true };
      } catch (err) {
        const error = causeMessage(err);
        record('canary', `ALERT: could not ${what}`, `round ${round}/${rounds}: ${error}`, false);
        if (round >= rounds) return { ok: false, error };
        await sleep(spec.rollback.retryInterval);
      }
    }
  }

  /** Runs the inverses; retries forever (phase RollbackFailed between rounds) and cannot be cancelled. */
  async function rollback(reason: string): Promise<void> {
    await stopBackground();
    setPhase('RollingBack');
    status.gate = undefined;
    record('canary', 'rollback', reason);
    await CancellationScope.nonCancellable(async () => {
      for (let round = 1; ; round++) {
        try {
          for (const c of rollbackOrder(saga)) {
            if (c.kind === 'restoreActions') {
              const v = await compensate.restoreActions({ listenerArn: c.listenerArn, ruleArn: c.ruleArn, actions: c.actions });
              status.verifiedWeights = verifiedRoleWeights(v.weights, arns);
              status.requestedWeights = { stable: 100 };
              upsertSearchAttributes([{ key: CanaryWeight, value: Math.round(status.verifiedWeights.canary ?? 0) }]);
              record('canary', 'restored pre-release traffic', 'verified by describe');
            } else {
              const d = await compensate.deleteTargetGroup({ listenerArn: c.listenerArn, ruleArn: c.ruleArn, name: c.name });
              record('canary', 'delete target group', `${c.name}${d.deleted ? '' : ' (already gone)'}`);
            }
            saga.splice(saga.indexOf(c), 1);
            syncRollbackPlan();
          }
          status.rollbackError = undefined;
          return;
        } catch (err) {
          status.rollbackError = causeMessage(err);
          setPhase('RollbackFailed');
          if (round === 1)
            await alert(
              'rollback-failed',
              `${reason}; the rollback itself failed: ${status.rollbackError}; retrying every ${formatDuration(spec.rollback.retryInterval)}`,
            );
          record(
            'canary',
            'ALERT: rollback failed',
            `round ${round}: ${status.rollbackError}; retrying in ${formatDuration(spec.rollback.retryInterval)}`,
            false,
          );
          log.error('rollback failed; retrying', { releaseId, round, error: status.rollbackError });
          await sleep(spec.rollback.retryInterval);
          setPhase('RollingBack');
        }
      }
    });
    setPhase('RolledBack');
  }

  // ---- the runbook ----
  upsertSearchAttributes([
    { key: ReleaseService, value: spec.service },
    { key: ReleaseVersion, value: spec.version },
    { key: ReleasePhase, value: 'Validating' },
    { key: CanaryWeight, value: 0 },
  ]);
  details();
  record(spec.initiator, 'start', `${spec.service} ${spec.version}, ${spec.steps.length} steps`);

  try {
    const traffic = await aws.discoverTraffic(spec.traffic);
    arns.stable = traffic.stableTargetGroupArn;
    dims.stable = { targetGroup: traffic.stableDimension, loadBalancer: traffic.loadBalancerDimension };
    status.targetGroups.push({ role: 'stable', name: traffic.stableTargetGroupName, arn: traffic.stableTargetGroupArn });
    status.verifiedWeights = { stable: 100 };
    throwIfStopped();
    await holdWhilePaused();

    setPhase('CloningEnvironment');
    await cloneRole('canary', spec.version, spec.environment.canaryTargets, traffic.stableTargetGroupArn);
    if (spec.environment.baselineTargets?.length) await cloneRole('baseline', 'base', spec.environment.baselineTargets, traffic.stableTargetGroupArn);
    register({ kind: 'restoreActions', listenerArn: spec.traffic.listenerArn, ruleArn: spec.traffic.ruleArn, actions: traffic.originalActions });
    throwIfStopped();

    setPhase('Progressing');
    for (let i = 0; i < spec.steps.length; i++) {
      status.step = i;
      throwIfStopped();
      await holdWhilePaused();
      if (promote?.full) break;
      await runStep(spec.steps[i] as ParsedStep, i);
      stepsCompleted = i + 1;
      throwIfStopped();
    }
    status.step = spec.steps.length;

    setPhase('Promoting');
    await stopBackground();
    throwIfStopped();
    const full: RoleWeights = hasBaseline ? { stable: 0, canary: 100, baseline: 0 } : { stable: 0, canary: 100 };
    if (JSON.stringify(status.requestedWeights) !== JSON.stringify(full)) await shift(full, promote?.by ?? 'canary');
    if (spec.promotion.keepPreviousFor > 0) {
      record('canary', 'keep previous stable', `for ${formatDuration(spec.promotion.keepPreviousFor)} before removing it`);
      await condition(() => stop !== undefined, spec.promotion.keepPreviousFor);
    }
    throwIfStopped();
  } catch (err) {
    if (err instanceof StopRelease) {
      await rollback(err.reason);
      await alert(err.outcome, `${err.reason}${err.by !== 'canary' ? ` (by ${err.by})` : ''}; traffic is back on the previous version`);
      return result(err.outcome, err.reason, err.by);
    }
    if (isCancellation(err)) {
      await rollback('the workflow was cancelled');
      result('aborted', 'the workflow was cancelled');
      throw err;
    }
    // Validation errors before anything changed in AWS fail the workflow as invalid input.
    if (saga.length === 0) {
      setPhase('RolledBack');
      throw ApplicationFailure.create({ type: 'InvalidRelease', nonRetryable: true, message: causeMessage(err), cause: err as Error });
    }
    const why = `error: ${causeMessage(err)}`;
    await rollback(why);
    await alert('rolled-back', `${why}; traffic is back on the previous version`);
    return result('rolled-back', why, 'canary');
  }

  // Point of no return: 100% is on the new version. The previous groups leave the forward action, then are removed;
  // if AWS keeps refusing, the release still ends promoted, with what is left over said in warnings and an alert.
  setPhase('Finalizing');
  saga.length = 0;
  syncRollbackPlan();
  const warnings: string[] = [];
  await CancellationScope.nonCancellable(async () => {
    const canaryRef = status.targetGroups.find((t) => t.role === 'canary') as TargetGroupRef;
    const detached = await persist('detach the previous target groups', async () => {
      const finalWeights: WeightedTargetGroup[] = [{ targetGroupArn: arns.canary as string, weight: 100 }];
      const verified = await aws.setForwardWeights({ ...spec.traffic, weights: finalWeights });
      status.verifiedWeights = verifiedRoleWeights(verified.weights, arns);
    });
    record('canary', 'promoted', `${canaryRef.name} is the stable target group`);
    const old = status.targetGroups.filter((g) => g.role !== 'canary');
    if (!detached.ok) {
      warnings.push(`${old.map((g) => g.name).join(', ')} still attached at weight 0 (${detached.error}); detach and delete by hand`);
      return;
    }
    for (const t of old) {
      const deleted = await persist(`delete ${t.role} target group ${t.name}`, async () => {
        const d = await aws.deleteTargetGroup({ ...spec.traffic, name: t.name });
        record('canary', `delete ${t.role} target group`, `${t.name}${d.deleted ? '' : ' (already gone)'}`);
      });
      if (!deleted.ok) warnings.push(`${t.name} was not deleted (${deleted.error}); delete it once nothing routes to it`);
    }
  });
  setPhase('Succeeded');
  const done = `${spec.version} serves 100% of traffic`;
  await alert('promoted', warnings.length ? `${done}; left over: ${warnings.join('; ')}` : done);
  if (warnings.length) return { ...result('promoted', done, promote?.by), warnings };
  return result('promoted', `${spec.version} serves 100% of traffic`, promote?.by);
}
