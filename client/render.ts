/**
 * Where the CLI's output goes: stdout for results (only JSON with --json), stderr for progress that would break
 * JSON and for reasons; a progress bar on a terminal, one line per change in CI logs. The words come from
 * ./format.ts.
 */
import { MultiBar, type SingleBar } from 'cli-progress';
import type { ReleaseStatus, TimelineEntry } from '../common/status';
import type { FollowEnding } from './follow';
import { formatResult, formatStillRunning, formatTimelineEntry, progressBarPayload, progressLine } from './format';

/** A line to stdout. */
export const out = (text: string): void => void process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
/** A line to stderr. */
export const err = (text: string): void => void process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
/** A JSON document to stdout. */
export const json = (value: unknown): void => out(JSON.stringify(value, null, 2));

/** Shows a followed release as its status changes. */
export interface Renderer {
  update(status: ReleaseStatus): void;
  /** A remark outside the progress (a hint), to stderr. */
  note(text: string): void;
  stop(): void;
}

/** A bar of the canary weight with phase and step, and timeline entries logged above it. */
function barRenderer(): Renderer {
  const multi = new MultiBar({
    format: '{bar} canary {weight}% | step {step} | {phase} {note}',
    barsize: 30,
    hideCursor: true,
    clearOnComplete: false,
    stopOnComplete: false,
    fps: 5,
    stream: process.stderr,
  });
  let bar: SingleBar | undefined;
  const seen = new Set<string>();
  return {
    update(status) {
      for (const e of unseen(status.timeline, seen)) multi.log(`${formatTimelineEntry(e)}\n`);
      const payload = progressBarPayload(status, new Date());
      if (!bar) bar = multi.create(100, payload.weight, payload);
      else bar.update(payload.weight, payload);
    },
    note: (text) => multi.log(`${text}\n`),
    stop: () => multi.stop(),
  };
}

/** One line per change: the progress line when it changes, and each new timeline entry. */
function lineRenderer(write: (text: string) => void): Renderer {
  let last = '';
  const seen = new Set<string>();
  return {
    update(status) {
      for (const e of unseen(status.timeline, seen)) write(`  ${formatTimelineEntry(e)}`);
      const line = progressLine(status, new Date());
      if (line !== last) write(`${new Date().toISOString().slice(11, 19)}Z ${line}`);
      last = line;
    },
    note: err,
    stop: () => undefined,
  };
}

function unseen(timeline: TimelineEntry[], seen: Set<string>): TimelineEntry[] {
  const fresh: TimelineEntry[] = [];
  for (const e of timeline) {
    const key = `${e.at}\u0000${e.by}\u0000${e.action}\u0000${e.detail ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    fresh.push(e);
  }
  return fresh;
}

/** The bar on a terminal; otherwise lines, to stderr with --json (stdout then carries only the JSON document). */
export function rendererFor(jsonMode: boolean): Renderer {
  if (!jsonMode && process.stdout.isTTY && process.stderr.isTTY) return barRenderer();
  return lineRenderer(jsonMode ? err : out);
}

/**
 * Prints how following a release ended: the result line (stdout), the failure or still-running reason (stderr);
 * with `base` (--json) a JSON document of `base` and the result on stdout, and the one-line reason on stderr for
 * the humans reading the CI log.
 */
export function printEnding(ending: FollowEnding, workflowId: string, timeoutMs: number, base?: Record<string, unknown>): void {
  const line =
    ending.kind === 'ended'
      ? formatResult(ending.result)
      : ending.kind === 'failed'
        ? ending.failure.message
        : formatStillRunning(workflowId, timeoutMs, ending.status);
  if (base) {
    if (ending.kind === 'ended') json({ ...base, result: ending.result });
    else if (ending.kind === 'failed') json({ ...base, result: null, error: line });
    else json({ ...base, result: null, stillRunning: true, phase: ending.status?.phase ?? null, error: line });
    err(line);
    return;
  }
  if (ending.kind === 'ended') out(line);
  else err(line);
}
