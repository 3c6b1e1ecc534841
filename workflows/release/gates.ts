/**
 * Where a release waits for people or time: gates (approval, timed or indefinite pause, inconclusive analysis),
 * a manual pause, and long activities that a stop or a full promotion interrupts. Each wait ends in a named outcome
 * (samples' `expense`).
 */
import { CancellationScope, condition } from '@temporalio/workflow';
import type { Gate } from '../../common/status';
import type { ReleaseState } from './state';

export type GateOutcome = 'approved' | 'resumed' | 'promoted' | 'timeout';

/** Waits on a gate until it is approved, resumed, promoted, the release stops (throws) or `timeoutMs` passes. */
export async function waitGate(state: ReleaseState, gate: Gate, timeoutMs: number | null): Promise<GateOutcome> {
  const { status } = state;
  status.gate = gate;
  state.details();
  state.touch();
  const ended = (): boolean =>
    state.stop !== undefined ||
    state.promote !== undefined ||
    state.approvedGate === gate.step ||
    (state.resumedGate === gate.step && gate.kind !== 'approval');
  const inTime = timeoutMs === null ? (await condition(ended), true) : await condition(ended, timeoutMs);
  status.gate = undefined;
  state.details();
  state.throwIfStopped();
  if (!inTime) return 'timeout';
  if (state.promote) {
    if (!state.promote.full) state.promote = undefined;
    return 'promoted';
  }
  return state.approvedGate === gate.step ? 'approved' : 'resumed';
}

/** Holds the release before its next step while someone has paused it. */
export async function holdWhilePaused(state: ReleaseState): Promise<void> {
  const { status } = state;
  if (!status.paused) return;
  state.setPhase('Paused');
  status.gate = { kind: 'manual-pause', step: status.step, openedAt: new Date().toISOString() };
  state.details();
  await condition(() => !status.paused || state.stop !== undefined);
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
