/**
 * The release workflow, as the runbook: find the stable group, clone the canary, run the steps, promote, finalize;
 * on a stop, a failure or a cancellation, roll back to the exact pre-release state. State lives in ./state.ts,
 * messages in ./messages.ts, steps and gates in ./steps.ts and ./gates.ts, undo and clean-up in ./saga.ts.
 */
import { ApplicationFailure, allHandlersFinished, condition, isCancellation, makeContinueAsNewFunc, patched, workflowInfo } from '@temporalio/workflow';
import { formatDuration } from '../../common/duration';
import type { ReleaseInput } from '../../common/messages';
import type { ParsedStep } from '../../common/spec';
import type { ReleaseResult } from '../../common/status';
import { causeMessage } from './activities';
import { alert } from './alert';
import { loadApproverKeys } from './approvers';
import { BackgroundAnalysis } from './background';
import { cloneEnvironment, discover } from './environment';
import { holdWhilePaused } from './gates';
import { installMessageHandlers } from './messages';
import { finalize, rollback } from './saga';
import { ContinueAsNewNeeded, ReleaseState, StopRelease } from './state';
import { endRelease } from './result';
import { runStep } from './steps';
import { checkSegmentRoom, hasSegmentSteps } from './segments';
import { fullWeights, shift } from './traffic';

/** Marks releases that may continue as new; one started before this change keeps its single run. */
export const CONTINUE_AS_NEW_PATCH = 'continue-as-new';
/** Marks releases on real-ALB semantics (attach at 0, drift checks, settle and drain, several forward actions, pair mode). */
export const REAL_ALB_PATCH = 'real-alb';
/** Marks releases whose inconclusive gates time out (the spec's `inconclusive` policy); older ones wait for a person. */
export const GATE_TIMEOUTS_PATCH = 'inconclusive-timeout';
/** Marks releases whose segment steps create listener rules (asked only when the spec has segment steps). */
export const SEGMENTS_PATCH = 'segments';
/** Marks releases whose analysis steps judge only windows after the canary's current traffic began. */
export const WINDOW_AFTER_TRAFFIC_PATCH = 'window-after-traffic';
/** Marks releases whose segment rule activities run in the spec's region and role (before: the worker's default scope). */
export const SEGMENT_SCOPE_PATCH = 'segment-scope';
/** Marks releases whose step analyses go on with the sequential evidence of earlier steps of the same template. */
export const STEP_EVIDENCE_PATCH = 'step-evidence';
/** Marks releases whose background analysis starts on buckets after the canary got traffic (asked only with one). */
export const BACKGROUND_AFTER_TRAFFIC_PATCH = 'background-after-traffic';

export async function release(input: ReleaseInput): Promise<ReleaseResult> {
  const state = new ReleaseState(input.spec, workflowInfo(), input.resume);
  const { spec, status } = state;
  const background = new BackgroundAnalysis(state);
  if (input.historyEventLimit) state.historyEventLimit = input.historyEventLimit;
  // Before the handlers: installing them runs the signals that came with the run's start, and the handover comes
  // first in the timeline. (Only the timeline's order changed here, no command: a release in flight replays.)
  if (input.resume) state.record('canary', 'continued as new', `run ${state.run}; history of the previous run was full`);
  installMessageHandlers(state);
  if (!input.resume) {
    state.canContinueAsNew = patched(CONTINUE_AS_NEW_PATCH);
    state.realAlb = patched(REAL_ALB_PATCH);
    state.gateTimeouts = patched(GATE_TIMEOUTS_PATCH);
    state.segmentRules = state.realAlb && hasSegmentSteps(spec) && patched(SEGMENTS_PATCH);
    state.windowAfterTraffic = patched(WINDOW_AFTER_TRAFFIC_PATCH);
    state.scopedSegments = state.segmentRules && patched(SEGMENT_SCOPE_PATCH);
    state.stepEvidence = patched(STEP_EVIDENCE_PATCH);
    state.backgroundAfterTraffic = spec.backgroundAnalysis !== undefined && patched(BACKGROUND_AFTER_TRAFFIC_PATCH);
    state.begin();
  }

  try {
    if (!input.resume) {
      await loadApproverKeys(state);
      const found = await discover(state);
      await checkSegmentRoom(state);
      state.throwIfStopped();
      await holdWhilePaused(state, false);

      await cloneEnvironment(state, found);
      state.throwIfStopped();
      state.setPhase('Progressing');
    } else if ((status.requestedWeights.canary ?? 0) > 0 || (status.segments?.length ?? 0) > 0) background.start();

    for (let i = status.step; i < spec.steps.length; i++) {
      status.step = i;
      state.throwIfStopped();
      await holdWhilePaused(state);
      if (state.fullPromotion) break;
      await runStep(state, background, spec.steps[i] as ParsedStep, i);
      state.stepsCompleted = i + 1;
      state.throwIfStopped();
    }
    status.step = spec.steps.length;

    state.setPhase('Promoting');
    await background.stop();
    state.throwIfStopped();
    const full = fullWeights(state);
    if (JSON.stringify(status.requestedWeights) !== JSON.stringify(full)) await shift(state, full, state.fullPromotion?.by ?? 'canary');
    if (spec.promotion.keepPreviousFor > 0) {
      state.record('canary', 'keep previous stable', `for ${formatDuration(spec.promotion.keepPreviousFor)} before removing it`);
      await condition(() => state.stop !== undefined, spec.promotion.keepPreviousFor);
    }
    state.throwIfStopped();
  } catch (err) {
    if (err instanceof ContinueAsNewNeeded) return continueRelease(state, background, input);
    return stopped(state, background, err);
  }

  const warnings = await finalize(state);
  const done = `${spec.version} serves 100% of traffic`;
  await alert(state, 'promoted', warnings.length ? `${done}; left over: ${warnings.join('; ')}` : done);
  const result = endRelease(state, 'promoted', done, state.fullPromotion?.by);
  return warnings.length ? { ...result, warnings } : result;
}

/**
 * Hands the release to a new run (same workflow id) at a gate: background analysis stops (a batch in flight is
 * measured again by the next run), every message handler finishes, and the state goes over as the next run's input.
 */
async function continueRelease(state: ReleaseState, background: BackgroundAnalysis, input: ReleaseInput): Promise<ReleaseResult> {
  const gate = state.status.gate;
  await background.stop();
  await condition(allHandlersFinished);
  if (state.stop) return stopped(state, background, state.stop);
  const next = makeContinueAsNewFunc<(input: ReleaseInput) => Promise<ReleaseResult>>({
    typedSearchAttributes: workflowInfo().typedSearchAttributes,
  });
  return next({ spec: input.spec, historyEventLimit: input.historyEventLimit, resume: state.carry(background.counters, gate) });
}

/** How a release that did not reach promotion ends: rolled back (or failed as invalid input if nothing changed yet). */
async function stopped(state: ReleaseState, background: BackgroundAnalysis, err: unknown): Promise<ReleaseResult> {
  if (err instanceof StopRelease) {
    await background.stop();
    await rollback(state, err.reason);
    await alert(state, err.outcome, `${err.reason}${err.by !== 'canary' ? ` (by ${err.by})` : ''}; traffic is back on the previous version`);
    return endRelease(state, err.outcome, err.reason, err.by);
  }
  if (isCancellation(err)) {
    await background.stop();
    await rollback(state, 'the workflow was cancelled');
    endRelease(state, 'aborted', 'the workflow was cancelled');
    throw err;
  }
  // Validation errors before anything changed in AWS fail the workflow as invalid input.
  if (state.saga.length === 0) {
    state.setPhase('RolledBack');
    throw ApplicationFailure.create({ type: 'InvalidRelease', nonRetryable: true, message: causeMessage(err), cause: err as Error });
  }
  const why = `error: ${causeMessage(err)}`;
  await background.stop();
  await rollback(state, why);
  await alert(state, 'rolled-back', `${why}; traffic is back on the previous version`);
  return endRelease(state, 'rolled-back', why, 'canary');
}
