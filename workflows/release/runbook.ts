/**
 * The release workflow, as the runbook: find the stable group, clone the canary, run the steps, promote, finalize;
 * on a stop, a failure or a cancellation, roll back to the exact pre-release state. State lives in ./state.ts,
 * messages in ./messages.ts, steps and gates in ./steps.ts and ./gates.ts, undo and clean-up in ./saga.ts.
 */
import { ApplicationFailure, allHandlersFinished, condition, isCancellation, makeContinueAsNewFunc, workflowInfo } from '@temporalio/workflow';
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
import { afterRollback, beforeTraffic, checkHooks, runHooks } from './hooks';
import { installMessageHandlers } from './messages';
import { setLogContext } from './log-context';
import { finalize, rollback, type RollbackCause } from './saga';
import { ContinueAsNewNeeded, ReleaseState, StopRelease } from './state';
import { endRelease } from './result';
import { runStep } from './steps';
import { checkSegmentRoom } from './segments';
import { fullWeights, shift } from './traffic';

export async function release(input: ReleaseInput): Promise<ReleaseResult> {
  const state = new ReleaseState(input.spec, workflowInfo(), input.resume);
  const { spec, data } = state;
  const background = new BackgroundAnalysis(state);
  if (input.historyEventLimit) state.historyEventLimit = input.historyEventLimit;
  // Before the handlers: installing them runs the signals that came with the run's start, and the handover comes
  // first in the timeline. (Only the timeline's order changed here, no command: a release in flight replays.)
  if (input.resume) state.record('canary', 'continued as new', `run ${state.run}; history of the previous run was full`);
  setLogContext(state);
  installMessageHandlers(state);
  if (!input.resume) {
    state.begin();
  }

  try {
    if (!input.resume) {
      await loadApproverKeys(state);
      await checkHooks(state);
      const found = await discover(state);
      await checkSegmentRoom(state);
      state.throwIfStopped();
      await holdWhilePaused(state, false);

      await cloneEnvironment(state, found);
      state.throwIfStopped();
      state.setPhase('Progressing');
      await beforeTraffic(state);
    } else if ((data.requestedWeights.canary ?? 0) > 0 || (data.segments?.length ?? 0) > 0) background.start();

    for (let i = data.step; i < spec.steps.length; i++) {
      state.setStep(i);
      state.throwIfStopped();
      await holdWhilePaused(state);
      if (state.data.fullPromotion) break;
      await runStep(state, background, spec.steps[i] as ParsedStep, i);
      data.stepsCompleted = i + 1;
      state.throwIfStopped();
    }
    state.setStep(spec.steps.length);

    await runHooks(state, 'beforePromotion');
    state.setPhase('Promoting');
    await background.stop();
    state.throwIfStopped();
    const full = fullWeights(state);
    if (JSON.stringify(data.requestedWeights) !== JSON.stringify(full)) await shift(state, full, state.data.fullPromotion?.by ?? 'canary');
    if (spec.promotion.keepPreviousFor > 0) {
      state.record('canary', 'keep previous stable', `for ${formatDuration(spec.promotion.keepPreviousFor)} before removing it`);
      await condition(() => state.stop !== undefined, spec.promotion.keepPreviousFor);
    }
    state.throwIfStopped();
  } catch (err) {
    if (err instanceof ContinueAsNewNeeded) return continueRelease(state, background, input);
    return stopped(state, background, err);
  }

  const warnings = [...(await finalize(state)), ...(await runHooks(state, 'afterPromotion'))];
  const done = `${spec.version} serves 100% of traffic`;
  await alert(state, 'promoted', warnings.length ? `${done}; left over: ${warnings.join('; ')}` : done);
  const result = endRelease(state, 'promoted', done, state.data.fullPromotion?.by);
  return warnings.length ? { ...result, warnings } : result;
}

/**
 * Hands the release to a new run (same workflow id) at a gate: background analysis stops (a batch in flight is
 * measured again by the next run), every message handler finishes, and the state goes over as the next run's input.
 */
async function continueRelease(state: ReleaseState, background: BackgroundAnalysis, input: ReleaseInput): Promise<ReleaseResult> {
  const gate = state.data.gate;
  await background.stop();
  await condition(allHandlersFinished);
  if (state.stop) return stopped(state, background, state.stop);
  const next = makeContinueAsNewFunc<(input: ReleaseInput) => Promise<ReleaseResult>>({
    typedSearchAttributes: workflowInfo().typedSearchAttributes,
  });
  return next({ spec: input.spec, historyEventLimit: input.historyEventLimit, resume: state.carry(gate) });
}

/** How a release that did not reach promotion ends: rolled back (or failed as invalid input if nothing changed yet). */
async function stopped(state: ReleaseState, background: BackgroundAnalysis, err: unknown): Promise<ReleaseResult> {
  if (err instanceof StopRelease) {
    await background.stop();
    await rollback(state, err.reason, { trigger: triggerOf(err), atMs: err.atMs });
    await afterRollback(state);
    await alert(state, err.outcome, `${err.reason}${err.by !== 'canary' ? ` (by ${err.by})` : ''}; traffic is back on the previous version`);
    return endRelease(state, err.outcome, err.reason, err.by);
  }
  if (isCancellation(err)) {
    await background.stop();
    await rollback(state, 'the workflow was cancelled', { trigger: 'cancel', atMs: Date.now() });
    endRelease(state, 'aborted', 'the workflow was cancelled');
    throw err;
  }
  // Validation errors before anything changed in AWS fail the workflow as invalid input.
  if (state.data.saga.length === 0) {
    state.setPhase('RolledBack');
    throw ApplicationFailure.create({ type: 'InvalidRelease', nonRetryable: true, message: causeMessage(err), cause: err as Error });
  }
  const why = `error: ${causeMessage(err)}`;
  await background.stop();
  await rollback(state, why);
  await afterRollback(state);
  await alert(state, 'rolled-back', `${why}; traffic is back on the previous version`);
  return endRelease(state, 'rolled-back', why, 'canary');
}

/** What stopped a release, for the time-to-restore metric: a person, an analysis, a hook, a gate's timeout, or else. */
function triggerOf(stop: StopRelease): RollbackCause['trigger'] {
  if (stop.by !== 'canary') return 'abort';
  if (/timed out|nobody answered|stayed inconclusive/.test(stop.reason)) return 'timeout';
  if (/^(background )?analysis /.test(stop.reason)) return 'analysis';
  return stop.reason.startsWith('hook ') ? 'hook' : 'error';
}
