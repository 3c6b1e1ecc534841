/**
 * 3. Orchestration overhead: releases of N steps (setWeight + short timed pause pairs), wall time from the
 * history's WorkflowExecutionStarted to WorkflowExecutionCompleted against the sum of the configured pauses.
 * The per-step overhead is the slope of (wall − bake) over N, split into time inside activities (AWS calls to
 * moto) and the rest (Temporal: workflow tasks, timers, activity dispatch).
 */
import { startRelease } from '../client/release-client';
import type { SeededAlb } from '../dev/seed';
import { seedService, type BenchContext } from './context';
import { activityExecutions, loadHistory, runSpan, type RunHistory } from './history';
import { benchSpec, timedSteps } from './specs';
import { linearFit, median, summarize, type Summary } from './stats';

export interface TimedRun {
  steps: number;
  workflowId: string;
  outcome: string;
  /** WorkflowExecutionStarted → WorkflowExecutionCompleted (server event times), ms. */
  wallMs: number;
  /** Client view: start call → result, ms. */
  clientWallMs: number;
  bakeMs: number;
  overheadMs: number;
  /** Sum of started → closed of every activity (they run one after another). */
  activityMs: number;
  /** overhead − activity time: workflow tasks, timers and dispatch. */
  temporalMs: number;
  activities: number;
  events: number;
  historyBytes: number;
}

/** Runs one promoted release of `steps` timed steps on a seeded service and reads its history. */
export async function runTimedRelease(
  ctx: BenchContext,
  seeded: SeededAlb,
  service: string,
  version: string,
  steps: number,
  pauseMs: number,
): Promise<{ run: TimedRun; history: RunHistory }> {
  const spec = benchSpec(seeded, service, version, { steps: timedSteps(steps, pauseMs) });
  const t0 = performance.now();
  const handle = await startRelease(ctx.client, spec, { taskQueue: ctx.taskQueue });
  const result = await handle.result();
  const clientWallMs = performance.now() - t0;
  const history = await loadHistory(ctx.client, handle.workflowId, handle.firstExecutionRunId);
  const span = runSpan(history.events);
  const acts = activityExecutions(history.events);
  const activityMs = acts.reduce((s, a) => s + (a.closedMs !== undefined && a.startedMs !== undefined ? a.closedMs - a.startedMs : 0), 0);
  const wallMs = (span.closeMs ?? Number.NaN) - span.startMs;
  const bakeMs = (steps / 2) * pauseMs;
  return {
    run: {
      steps,
      workflowId: handle.workflowId,
      outcome: result.outcome,
      wallMs,
      clientWallMs,
      bakeMs,
      overheadMs: wallMs - bakeMs,
      activityMs,
      temporalMs: wallMs - bakeMs - activityMs,
      activities: acts.length,
      events: history.events.length,
      historyBytes: history.bytes,
    },
    history,
  };
}

export interface OverheadBySteps {
  steps: number;
  bakeMs: number;
  wall: Summary;
  overhead: Summary;
  events: number;
}

export interface OverheadResult {
  pauseMs: number;
  runs: TimedRun[];
  bySteps: OverheadBySteps[];
  /** Slope of overhead over N (least squares over every run), ms per step. */
  perStepMs: number | null;
  perStepActivityMs: number | null;
  perStepTemporalMs: number | null;
  /** Intercept: discover, clone, register, wait healthy, finalize, delete. */
  fixedMs: number | null;
}

export async function measureOverhead(ctx: BenchContext, opts: { steps: number[]; reps: number; pauseMs: number }): Promise<OverheadResult> {
  const { service, seeded } = await seedService(ctx.aws, 'oh');
  const runs: TimedRun[] = [];
  for (let rep = 1; rep <= opts.reps; rep++) {
    for (const n of opts.steps) {
      const { run } = await runTimedRelease(ctx, seeded, service, `oh${n}-${rep}`, n, opts.pauseMs);
      runs.push(run);
      ctx.log(
        `[overhead] ${n} steps (rep ${rep}/${opts.reps}): wall ${run.wallMs.toFixed(0)} ms for ${run.bakeMs} ms of pauses → overhead ${run.overheadMs.toFixed(0)} ms ` +
          `(activities ${run.activityMs.toFixed(0)} ms, rest ${run.temporalMs.toFixed(0)} ms), ${run.events} events, ${run.outcome}`,
      );
    }
  }
  const xs = runs.map((r) => r.steps);
  const fit = linearFit(
    xs,
    runs.map((r) => r.overheadMs),
  );
  const fitAct = linearFit(
    xs,
    runs.map((r) => r.activityMs),
  );
  const fitTemporal = linearFit(
    xs,
    runs.map((r) => r.temporalMs),
  );
  return {
    pauseMs: opts.pauseMs,
    runs,
    bySteps: opts.steps.map((n) => {
      const mine = runs.filter((r) => r.steps === n);
      return {
        steps: n,
        bakeMs: (n / 2) * opts.pauseMs,
        wall: summarize(mine.map((r) => r.wallMs)),
        overhead: summarize(mine.map((r) => r.overheadMs)),
        events: median(mine.map((r) => r.events)) ?? 0,
      };
    }),
    perStepMs: fit?.slope ?? null,
    perStepActivityMs: fitAct?.slope ?? null,
    perStepTemporalMs: fitTemporal?.slope ?? null,
    fixedMs: fit?.intercept ?? null,
  };
}
