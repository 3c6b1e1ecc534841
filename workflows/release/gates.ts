/**
 * Where a release waits for people or time: gates (approval, timed or indefinite pause, inconclusive analysis),
 * a manual pause, and long activities that a stop or a full promotion interrupts. Each wait ends in a named outcome
 * (samples' `expense`).
 */
import { CancellationScope, condition } from '@temporalio/workflow';
import type { Gate } from '../../common/status';
import { ContinueAsNewNeeded, type ReleaseState } from './state';

export type GateOutcome = 'approved' | 'resumed' | 'promoted' | 'timeout';

/**
 * Waits on a gate until it is approved, resumed, promoted, the release stops (throws) or `timeoutMs` passes.
 * When the run's history is full, it throws ContinueAsNewNeeded with the gate still open: the next run re-opens it
 * (`resumed`, the carried gate) with its original deadline.
 */
export async function waitGate(state: ReleaseState, gate: Gate, timeoutMs: number | null, resumed?: Gate): Promise<GateOutcome> {
  const { status } = state;
  if (resumed) {
    gate = resumed;
    timeoutMs = resumed.deadline === undefined ? null : Math.max(0, Date.parse(resumed.deadline) - Date.now());
  } else {
    // A new gate at a step that had one before (a drift gate, then the step's pause) starts with no answer.
    if (state.approvedGate === gate.step) state.approvedGate = undefined;
    if (state.resumedGate === gate.step) state.resumedGate = undefined;
  }
  status.gate = gate;
  state.details();
  state.touch();
  const step = gate.step;
  const ended = (): boolean =>
    state.stop !== undefined || state.promote !== undefined || state.approvedGate === step || (state.resumedGate === step && gate.kind !== 'approval');
  const wake = (): boolean => ended() || state.historyFull();
  const inTime = timeoutMs === null ? (await condition(wake), true) : await condition(wake, timeoutMs);
  if (inTime && !ended()) throw new ContinueAsNewNeeded();
  status.gate = undefined;
  state.details();
  state.throwIfStopped();
  if (!inTime) return 'timeout';
  if (state.promote) {
    if (!state.promote.full) state.promote = undefined;
    return 'promoted';
  }
  return state.approvedGate === step ? 'approved' : 'resumed';
}

/** Holds the release before its next step while someone has paused it (across runs, if it lasts). */
export async function holdWhilePaused(state: ReleaseState, mayContinueAsNew = true): Promise<void> {
  const { status } = state;
  if (!status.paused) return;
  state.setPhase('Paused');
  status.gate = { kind: 'manual-pause', step: status.step, openedAt: new Date().toISOString() };
  state.details();
  await condition(() => !status.paused || state.stop !== undefined || (mayContinueAsNew && state.historyFull()));
  if (status.paused && state.stop === undefined) throw new ContinueAsNewNeeded();
  status.gate = undefined;
  state.throwIfStopped();
  state.setPhase('Progressing');
}

/**
 * Runs an activity that may take long; a stop request cancels it (and throws the stop), and so does a full
 * promotion when `skippable` (the result is then undefined).
 */
export async function interruptible<T>(state: ReleaseState, fn: () => Promise<T>, skippable = false): Promise<T | undefined> {
  const scope = new CancellationScope();
  const work = scope.run(fn);
  const interrupted = condition(() => state.stop !== undefined || (skippable && state.promote?.full === true)).then(() => 'interrupted' as const);
  const first = await Promise.race([work.then(() => 'done' as const), interrupted]);
  if (first === 'done') return work;
  scope.cancel();
  await work.catch(() => undefined);
  state.throwIfStopped();
  return undefined;
}
