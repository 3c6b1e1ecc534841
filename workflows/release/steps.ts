/** The spec's steps, one function each: setWeight, pause, analysis, approval (segment steps in ./segments.ts). */
import { ApplicationFailure, metricMeter } from '@temporalio/workflow';
import { emitMetric } from '../../common/release-metrics';
import { formatDuration } from '../../common/duration';
import { inconclusivePolicyOf, type ParsedStep } from '../../common/spec';
import type { Gate } from '../../common/status';
import { roleWeights } from '../plan';
import { alert } from './alert';
import { carriedEvidence, zeroCounters } from '../../analysis/analysis';
import { analysisCall } from './activities';
import { firstWindowWait } from './first-window';
import type { BackgroundAnalysis } from './background';
import { interruptible, waitGate } from './gates';
import { StopRelease, type ReleaseState } from './state';
import { shift } from './traffic';
import { endSegmentStep, segmentStep } from './segments';
import { runHooks, webhookStep } from './hooks';

type StepOf<K extends ParsedStep['kind']> = Extract<ParsedStep, { kind: K }>;

export async function runStep(state: ReleaseState, background: BackgroundAnalysis, step: ParsedStep, i: number): Promise<void> {
  switch (step.kind) {
    case 'setWeight':
      await shift(state, roleWeights(step.weight, state.hasBaseline), 'canary');
      if (step.weight > 0) background.start();
      await runHooks(state, 'afterStep');
      return;
    case 'pause':
      return pauseStep(state, step, i);
    case 'analysis':
      return analysisStep(state, step, i);
    case 'approval':
      return approvalStep(state, step, i);
    case 'segment':
      return segmentStep(state, background, step, i);
    case 'endSegment':
      return endSegmentStep(state, step);
    case 'webhook':
      return webhookStep(state, step);
    default:
      return unhandledStep(step);
  }
}

/** A step kind without a case above does not compile (its step is not `never` here). */
function unhandledStep(step: never): never {
  throw ApplicationFailure.nonRetryable(`no handler for step ${JSON.stringify(step)}`, 'InvalidRelease');
}

async function pauseStep(state: ReleaseState, step: StepOf<'pause'>, i: number): Promise<void> {
  state.setPhase('Paused');
  const deadline = step.durationMs === null ? undefined : new Date(Date.now() + step.durationMs).toISOString();
  const resumed = state.takeResumable('pause', i);
  const end = await waitGate(state, { kind: 'pause', step: i, openedAt: new Date().toISOString(), deadline }, step.durationMs, resumed);
  if (end.how === 'timeout') state.record('canary', 'pause ended', `after ${formatDuration(step.durationMs ?? 0)}`);
  state.setPhase('Progressing');
}

async function analysisStep(state: ReleaseState, step: StepOf<'analysis'>, i: number): Promise<void> {
  const template = state.spec.analysis[step.template];
  if (!template) throw ApplicationFailure.nonRetryable(`unknown analysis template ${step.template}`, 'InvalidRelease');
  const policy = inconclusivePolicyOf(step, template);
  const resumed = state.takeResumable('inconclusive', i);
  if (resumed) return inconclusiveGate(state, i, policy, resumed);
  // Judge only buckets from after the canary got its current traffic: the first window may have to wait for them.
  const notBefore = state.data.trafficSince;
  const waitMs = firstWindowWait(state, `analysis ${step.template}`, template, notBefore);
  const act = analysisCall(template.count, template.interval, waitMs);
  const evidence = state.data.evidenceByTemplate[step.template];
  const run = await interruptible(
    state,
    () =>
      act.runAnalysis({
        templateName: step.template,
        template,
        variants: state.variants(),
        count: template.count,
        intervalMs: template.interval,
        ...(notBefore ? { notBefore } : {}),
        // A fresh failure count for this step, the evidence of the template's earlier steps (sequential judge).
        previous: carriedEvidence(evidence ? { ...zeroCounters, evidence } : undefined),
        aws: state.scope(),
      }),
    true,
  );
  if (!run) {
    state.record('canary', `analysis ${step.template}: skipped`, 'full promotion');
    return;
  }
  state.data.analysis = run;
  emitMetric(metricMeter, 'analysisVerdicts', 1, { verdict: run.verdict, template: step.template });
  if (run.counters.evidence) state.data.evidenceByTemplate[step.template] = run.counters.evidence;
  state.record('canary', `analysis ${step.template}: ${run.verdict}`, run.reason);
  if (run.verdict === 'fail') throw new StopRelease('rolled-back', `analysis ${step.template} failed at step ${i}: ${run.reason}`, 'canary');
  if (run.verdict === 'inconclusive') await inconclusiveGate(state, i, policy);
}

/**
 * An inconclusive analysis waits for a person (resume, promote, abort) for at most the policy's timeout, then rolls
 * back or continues as the policy says.
 */
async function inconclusiveGate(
  state: ReleaseState,
  i: number,
  policy: { timeoutMs: number; onTimeout: 'rollback' | 'continue' },
  resumed?: Gate,
): Promise<void> {
  state.setPhase('Paused');
  const opened = new Date().toISOString();
  const deadline = new Date(Date.now() + policy.timeoutMs).toISOString();
  const end = await waitGate(state, { kind: 'inconclusive', step: i, openedAt: opened, deadline, onTimeout: policy.onTimeout }, policy.timeoutMs, resumed);
  if (end.how === 'timeout') {
    state.record('canary', 'inconclusive analysis ended', `timed out after ${formatDuration(policy.timeoutMs)}: ${policy.onTimeout}`);
    if (policy.onTimeout === 'rollback')
      throw new StopRelease('rolled-back', `analysis at step ${i} stayed inconclusive for ${formatDuration(policy.timeoutMs)}`, 'canary');
  }
  state.setPhase('Progressing');
}

async function approvalStep(state: ReleaseState, step: StepOf<'approval'>, i: number): Promise<void> {
  state.setPhase('AwaitingApproval');
  const who = step.approvers.length ? step.approvers.join(', ') : 'anyone but the initiator';
  const resumed = state.takeResumable('approval', i);
  // A gate carried over from the previous run was announced there already.
  const notified = resumed
    ? Promise.resolve()
    : alert(state, 'approval-needed', `step ${i} waits for ${who} until ${new Date(Date.now() + step.timeoutMs).toISOString()}`);
  const end = await waitGate(
    state,
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
    resumed,
  );
  await notified;
  if (end.how === 'timeout') {
    state.record('canary', 'approval timed out', `after ${formatDuration(step.timeoutMs)}: ${step.onTimeout}`);
    if (step.onTimeout === 'rollback')
      throw new StopRelease('rolled-back', `approval at step ${i} timed out after ${formatDuration(step.timeoutMs)}`, 'canary');
  }
  state.setPhase('Progressing');
}
