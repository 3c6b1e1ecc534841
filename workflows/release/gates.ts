/**
 * Where a release waits for people or time: gates (approval, timed or indefinite pause, inconclusive analysis),
 * a manual pause, and long activities that a stop or a full promotion interrupts. Each wait ends in a named outcome
 * (samples' `expense`).
 */
import { CancellationScope, condition, metricMeter } from '@temporalio/workflow';
import { emitMetric } from '../../common/release-metrics';
import type { Gate, GateAnswer } from '../../common/status';
import { ContinueAsNewNeeded, type ReleaseState } from './state';

/** How a gate ended: by a message (its verb's outcome and sender), by a full promotion, or by its timeout. */
export type GateEnd = { how: 'approved' | 'resumed' | 'promoted'; by: string; full?: true } | { how: 'timeout' };

const ENDED_BY: Record<GateAnswer['verb'], 'approved' | 'resumed' | 'promoted'> = { approve: 'approved', resume: 'resumed', promote: 'promoted' };

/** The timeline's name for a gate kind's end (`pause ended`, `approval ended`, ...). */
const ENDS: Record<Gate['kind'], string> = {
  approval: 'approval ended',
  pause: 'pause ended',
  inconclusive: 'inconclusive analysis ended',
  'manual-pause': 'manual pause ended',
  drift: 'drift gate ended',
};

/** Records who ended a gate with which verb (a timeout is recorded by the step, with its policy), and how long it held. */
function recordEnd(state: ReleaseState, gate: Gate, end: GateEnd): void {
  emitMetric(metricMeter, 'gateWaitSeconds', Math.max(0, Date.now() - Date.parse(gate.openedAt)) / 1000, { gate: gate.kind, outcome: end.how });
  if (end.how === 'timeout') return;
  state.record(end.by, ENDS[gate.kind], `${end.full ? 'full promotion' : end.how} by ${end.by}`);
}

/**
 * Waits on a gate until a message accepted at this gate answers it (approve, resume, promote), a full promotion
 * ends it, the release stops (throws) or `timeoutMs` passes. When the run's history is full, it throws
 * ContinueAsNewNeeded with the gate still open: the next run re-opens it (`resumed`, the carried gate, with its
 * seq and original deadline).
 */
export async function waitGate(state: ReleaseState, gate: Omit<Gate, 'seq'>, timeoutMs: number | null, resumed?: Gate): Promise<GateEnd> {
  const open = resumed ? state.showGate(resumed) : state.openGate(gate);
  if (resumed) timeoutMs = resumed.deadline === undefined ? null : Math.max(0, Date.parse(resumed.deadline) - Date.now());
  const ended = (): boolean => state.stop !== undefined || state.data.fullPromotion !== undefined || state.data.answer?.gate === open.seq;
  const wake = (): boolean => ended() || state.historyFull();
  const inTime = timeoutMs === null ? (await condition(wake), true) : await condition(wake, timeoutMs);
  if (inTime && !ended()) throw new ContinueAsNewNeeded();
  const answer = state.closeGate(open);
  state.throwIfStopped();
  const end: GateEnd = !inTime
    ? { how: 'timeout' }
    : answer
      ? { how: ENDED_BY[answer.verb], by: answer.by }
      : { how: 'promoted', by: (state.data.fullPromotion as { by: string }).by, full: true };
  recordEnd(state, open, end);
  return end;
}

/** Holds the release before its next step while someone has paused it (across runs, if it lasts). */
export async function holdWhilePaused(state: ReleaseState, mayContinueAsNew = true): Promise<void> {
  const { data } = state;
  if (!data.paused) return;
  state.setPhase('Paused');
  const open = state.openGate({ kind: 'manual-pause', step: data.step, openedAt: new Date().toISOString() });
  await condition(() => !data.paused || state.stop !== undefined || (mayContinueAsNew && state.historyFull()));
  if (data.paused && state.stop === undefined) throw new ContinueAsNewNeeded();
  // Taken here, so a promote or resume that ended this pause ends nothing after it.
  const answer = state.closeGate(open);
  state.throwIfStopped();
  if (answer) recordEnd(state, open, { how: ENDED_BY[answer.verb], by: answer.by });
  state.setPhase('Progressing');
}

/**
 * Runs an activity that may take long; a stop request cancels it (and throws the stop), and so does a full
 * promotion when `skippable` (the result is then undefined).
 */
export async function interruptible<T>(state: ReleaseState, fn: () => Promise<T>, skippable = false): Promise<T | undefined> {
  const scope = new CancellationScope();
  const work = scope.run(fn);
  const interrupted = condition(() => state.stop !== undefined || (skippable && state.data.fullPromotion !== undefined)).then(() => 'interrupted' as const);
  const first = await Promise.race([work.then(() => 'done' as const), interrupted]);
  if (first === 'done') return work;
  scope.cancel();
  await work.catch(() => undefined);
  state.throwIfStopped();
  return undefined;
}
