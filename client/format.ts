/**
 * What the CLI prints, as pure functions over specs, status snapshots, results and release summaries: no I/O, no
 * clock (callers pass `now`), so every line is unit-tested (test/unit/cli-format.test.ts). ./render.ts writes them.
 */
import { formatDuration } from '../common/duration';
import type { FieldError, ParsedReleaseSpec, ParsedStep } from '../common/spec';
import {
  TERMINAL_PHASES,
  type Gate,
  type Phase,
  type ReleaseResult,
  type ReleaseStatus,
  type Role,
  type RoleWeights,
  type TimelineEntry,
  type ActiveSegment,
} from '../common/status';
import type { AnalysisRun, MetricResult } from '../analysis/analysis';
import { describeMatch } from '../common/segments';
import type { TimelineEntryWithCaller } from './callers';
import type { ReleaseSummary } from './release-client';
import type { RunTimeline } from './report-data';

const ROLE_ORDER: readonly Role[] = ['canary', 'baseline', 'stable'];

/** `2025-03-01T10:00:00.123Z` → `2025-03-01 10:00:00Z`. */
export function formatTime(iso: string | Date | undefined): string {
  if (iso === undefined) return '-';
  const d = typeof iso === 'string' ? new Date(iso) : iso;
  if (Number.isNaN(d.getTime())) return String(iso);
  return d
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, 'Z');
}

/** Time of day only, for progress and timeline lines: `10:00:00Z`. */
export function formatClock(iso: string | undefined): string {
  const full = formatTime(iso);
  return full.length > 11 ? full.slice(11) : full;
}

/** `in 4m30s` / `3s ago` relative to now. */
export function relative(iso: string, now: Date): string {
  const ms = new Date(iso).getTime() - now.getTime();
  if (Number.isNaN(ms)) return '';
  if (Math.abs(ms) < 1_000) return 'now';
  return ms > 0 ? `in ${formatDuration(ms)}` : `${formatDuration(-ms)} ago`;
}

function pct(n: number | undefined): string {
  return `${n === undefined ? 0 : Number(n.toFixed(1))}%`;
}

/** `canary 25% / stable 75%` (canary, baseline, stable; roles absent from the map are left out). */
export function formatWeights(w: RoleWeights): string {
  const parts = ROLE_ORDER.filter((r) => w[r] !== undefined).map((r) => `${r} ${pct(w[r])}`);
  return parts.length ? parts.join(' / ') : 'not read yet';
}

/** A step in words: `setWeight 25%`, `pause 5m`, `pause until resumed`, `analysis errors`, `approval by alice, bob (timeout 24h, then rollback)`. */
export function describeStep(step: ParsedStep): string {
  switch (step.kind) {
    case 'setWeight':
      return `setWeight ${step.weight}%`;
    case 'pause':
      return step.durationMs === null ? 'pause until resumed' : `pause ${formatDuration(step.durationMs)}`;
    case 'analysis':
      return `analysis ${step.template}`;
    case 'approval': {
      const who = step.approvers.length ? step.approvers.join(', ') : 'anyone but the initiator';
      return `approval by ${who}${step.allowSelfApproval ? ' (self-approval allowed)' : ''} (timeout ${formatDuration(step.timeoutMs)}, then ${step.onTimeout})`;
    }
    case 'segment':
      return `segment ${step.name}: ${describeMatch(step.match)} → canary`;
    case 'endSegment':
      return `end segment ${step.name}`;
    case 'webhook':
      return `webhook ${step.hook} (timeout ${formatDuration(step.timeoutMs)}, then ${step.onTimeout})`;
  }
}

/** `staff (source IP 10.20.0.0/16) since 10:00:00Z, rule priority 9`, one per group that reaches the canary by its own rule. */
export function formatSegments(segments: ActiveSegment[] | undefined): string[] {
  return (segments ?? []).map((s) => `${s.name} (${describeMatch(s.match)}) since ${formatClock(s.since)}, rule priority ${s.priority}`);
}

/**
 * Where the release is in its steps: `step 2/5 (#1): pause 5m`. Steps are shown 1-based with their 0-based
 * index in `#`, the number gates, timeline entries and `approve --step` use. After the last step: `all 5 steps done`.
 */
export function formatStep(status: Pick<ReleaseStatus, 'step' | 'steps' | 'phase'>): string {
  const n = status.steps.length;
  const step = status.steps[status.step];
  if (status.step >= n || !step) return `all ${n} steps done`;
  const stopped = STOPPED_PHASES.includes(status.phase) ? 'stopped at ' : '';
  return `${stopped}step ${status.step + 1}/${n} (#${status.step}): ${describeStep(step)}`;
}

const STOPPED_PHASES: readonly Phase[] = ['RollingBack', 'RolledBack', 'RollbackFailed'];

/** What an open gate waits for, until when, and the command that answers it (for `release`). */
export function formatGate(gate: Gate, now: Date, release = 'RELEASE'): string {
  const until = gate.deadline ? `, closes ${formatTime(gate.deadline)} (${relative(gate.deadline, now)})` : '';
  switch (gate.kind) {
    case 'approval': {
      const who = gate.approvers?.length ? gate.approvers.join(', ') : 'anyone but the initiator';
      const after = gate.onTimeout ? `, then ${gate.onTimeout}` : '';
      return `approval at step #${gate.step} by ${who}${until}${after} — canary approve ${release} --step ${gate.step}`;
    }
    case 'pause':
      return gate.deadline
        ? `timed pause at step #${gate.step}${until} — canary resume|promote ${release} to skip it`
        : `pause at step #${gate.step} until resumed — canary resume|promote ${release}`;
    case 'inconclusive':
      return `inconclusive analysis at step #${gate.step}: a person decides — canary resume|promote|abort ${release}`;
    case 'manual-pause':
      return `paused by hand before step #${gate.step} — canary resume ${release}`;
    case 'drift':
      return `drift: someone else changed the forward action (${gate.detail ?? 'see the timeline'})${until}, then rollback — canary resume ${release} adopts it, canary abort ${release} rolls back`;
  }
}

function value(v: number | null): string {
  if (v === null) return 'no data';
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
}

/**
 * `5xx-rate: canary 0.2, needs <= 0.05 → fail (critical)`, plus the statistical judge's view when the template
 * has one: `; judge vs baseline: high (p 0.0031, ratio 1.31) FAIL` (Mann-Whitney), or the sequential judge's effect, its
 * anytime-valid interval and the evidence against the boundary:
 * `; judge vs baseline: high (ratio 1.31 [1.12, 1.52], e-value 52.1 >= 40, 24 buckets) FAIL`.
 */
export function formatMetric(m: MetricResult): string {
  const line = `${m.metric}: canary ${value(m.canary)}, needs ${m.threshold} → ${m.verdict}${m.critical ? ' (critical)' : ''}${m.thin ? ` (${m.thin})` : ''}`;
  const j = m.stat;
  if (!j) return line;
  const e = j.evidence;
  if (e) {
    const n = (x: number | null): string => (x === null ? '∞' : String(Number(x.toPrecision(3))));
    const what = e.test === 'counts' ? 'error-rate ratio' : 'ratio';
    const effect = e.effect === null ? `no ${what} yet` : `${what} ${n(e.effect)} [${n(e.interval[0])}, ${n(e.interval[1])}]`;
    const crossed = j.failed ? '>=' : '<';
    return `${line}; judge vs ${j.against}: ${j.verdict} (${effect}, e-value ${n(e.eValue)} ${crossed} ${n(e.boundary)}, ${e.buckets} buckets)${j.failed ? ' FAIL' : ''}`;
  }
  const nums = [
    j.pValue !== null ? `p ${Number(j.pValue.toPrecision(2))}` : undefined,
    j.ratioOfMeans !== null ? `ratio ${j.ratioOfMeans.toFixed(2)}` : undefined,
  ].filter(Boolean);
  return `${line}; judge vs ${j.against}: ${j.verdict}${nums.length ? ` (${nums.join(', ')})` : ''}${j.failed ? ' FAIL' : ''}`;
}

/** An analysis run: a headline, then one line per metric of its last measurement. */
export function formatAnalysis(run: AnalysisRun): string[] {
  const c = run.counters;
  const counts = `${c.measurements} measured, ${c.failed} failed, ${c.inconclusive} inconclusive, ${c.errors} errors`;
  const lines = [`${run.templateName}: ${run.verdict} — ${run.reason} (${counts})`];
  const last = run.last;
  if (last) {
    const judged = last.window ? `, judged ${formatTime(last.window.start)} – ${formatTime(last.window.end)}` : '';
    lines.push(`  last measurement ${formatTime(last.at)}: ${last.verdict}${judged}${last.error ? ` (${last.error})` : ''}`);
    if (last.score) {
      const critical = last.score.criticalFailures.length ? `; critical failures: ${last.score.criticalFailures.join(', ')}` : '';
      lines.push(`  score ${last.score.score} (${last.score.verdict}): ${last.score.reason}${critical}`);
    }
    for (const m of last.metrics) lines.push(`    ${formatMetric(m)}`);
    for (const a of last.alarms ?? []) lines.push(`    alarm ${a.name}: ${a.state} → ${a.verdict}${a.reason ? ` (${a.reason})` : ''}`);
  }
  return lines;
}

/** One line for a release's end: `promoted: v2 serves 100% of traffic (3/3 steps in 1m2s)`. */
export function formatResult(result: ReleaseResult): string {
  const took = `${result.stepsCompleted}/${result.steps} steps in ${formatDuration(result.durationMs)}`;
  switch (result.outcome) {
    case 'promoted':
      return `promoted: ${result.service} ${result.reason}${result.by && result.by !== 'canary' ? ` (promoted by ${result.by})` : ''} (${took})`;
    case 'aborted':
      return `aborted${result.by ? ` by ${result.by}` : ''}: ${result.reason}; traffic is back on the previous version (${took})`;
    case 'rolled-back':
      return `rolled back: ${result.reason}; traffic is back on the previous version (${took})`;
  }
}

export function isTerminal(status: Pick<ReleaseStatus, 'phase'>): boolean {
  return TERMINAL_PHASES.includes(status.phase);
}

/** Lines of `canary status`. */
export function formatStatus(
  status: ReleaseStatus,
  opts: { now: Date; uiUrl?: string; execution?: string; failure?: string; timeline?: readonly TimelineEntryWithCaller[] },
): string {
  const rows: [string, string][] = [];
  const [workflowId, runId] = status.releaseId.split('/');
  rows.push(['release', `${workflowId ?? status.releaseId}  ${status.service} ${status.version}${runId ? `  (run ${runId})` : ''}`]);
  rows.push([
    'phase',
    `${status.phase}${status.paused && status.phase !== 'Paused' ? ' (pause requested)' : ''}${opts.execution && opts.execution !== 'RUNNING' ? `  [workflow ${opts.execution}]` : ''}`,
  ]);
  rows.push(['step', formatStep(status)]);
  rows.push(['weights', `${formatWeights(status.verifiedWeights)} verified; requested ${formatWeights(status.requestedWeights)}`]);
  if (status.stickiness) rows.push(['', status.stickiness.note]);
  rows.push(['target groups', status.targetGroups.length ? status.targetGroups.map((t) => `${t.role} ${t.name}`).join(', ') : 'none yet']);
  formatSegments(status.segments).forEach((l, i) => rows.push([i === 0 ? 'segments' : '', `${l} → canary`]));
  if (status.analysis) formatAnalysis(status.analysis).forEach((l, i) => rows.push([i === 0 ? 'analysis' : '', l]));
  if (status.backgroundAnalysis) formatAnalysis(status.backgroundAnalysis).forEach((l, i) => rows.push([i === 0 ? 'background' : '', l]));
  if (status.gate) rows.push(['waiting for', formatGate(status.gate, opts.now, workflowId ?? status.releaseId)]);
  const rollingBack = status.phase === 'RollingBack' || status.phase === 'RollbackFailed';
  if (rollingBack) {
    if (status.rollbackPlan.length) status.rollbackPlan.forEach((a, i) => rows.push([i === 0 ? 'rollback plan' : '', `${i + 1}. ${a.description}`]));
    else rows.push(['rollback plan', 'nothing left to undo']);
  }
  if (status.rollbackError) rows.push(['rollback error', status.rollbackError]);
  if (status.result) rows.push(['result', formatResult(status.result)]);
  if (opts.failure) rows.push(['failure', opts.failure]);
  rows.push([
    'started',
    `${formatTime(status.startedAt)} by ${status.initiator} (${relative(status.startedAt, opts.now)}); updated ${formatTime(status.updatedAt)}`,
  ]);
  // Each approval with how it was authenticated: the release's own check of a signature, and the client identity
  // Temporal recorded for the request (opts.timeline, read from the history).
  const approvals = (opts.timeline ?? status.timeline).filter((e) => e.accepted && /^(approve|promote)/.test(e.action));
  approvals.forEach((e, i) =>
    rows.push([i === 0 ? 'approvals' : '', `${formatClock(e.at)} ${e.by} ${e.action}${e.detail ? `: ${e.detail}` : ''} — ${formatSender(e)}`]),
  );
  const last = status.timeline[status.timeline.length - 1];
  if (last) rows.push(['last event', formatTimelineEntry(last)]);
  if (opts.uiUrl) rows.push(['ui', opts.uiUrl]);
  return labelled(rows);
}

/**
 * What `canary status` shows when the status query cannot be answered (no worker): the release's summary, and for
 * a closed run its result or why it failed.
 */
export function formatFallbackStatus(s: ReleaseSummary & { result?: ReleaseResult; failure?: string; queryError: string }, opts: { uiUrl?: string }): string {
  const rows: [string, string][] = [
    ['release', `${s.workflowId}  ${s.service ?? s.workflowId.replace(/^release-/, '')} ${s.version ?? '?'}  (run ${s.runId})`],
    ['workflow', `${s.execution}${s.closeTime ? ` at ${formatTime(s.closeTime)}` : ''}`],
    // A namespace without our search attributes (canary start warned): the server alone does not know the phase.
    ['phase', s.phase ? `${s.phase} (search attribute)` : 'unknown (the release has no ReleasePhase search attribute)'],
    ['canary weight', s.canaryWeight === undefined ? 'unknown' : `${s.canaryWeight}%`],
    ['started', formatTime(s.startTime)],
  ];
  if (s.result) rows.push(['result', formatResult(s.result)]);
  if (s.failure) rows.push(['failure', s.failure]);
  rows.push(['note', `live status unavailable (${s.queryError}); is a worker running on the release's task queue?`]);
  if (opts.uiUrl) rows.push(['ui', opts.uiUrl]);
  return labelled(rows);
}

function labelled(rows: [string, string][]): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`.trimEnd()).join('\n');
}

/** `10:00:01Z alice approve: step 1: looks fine`, with ignored signals and verified signatures marked. */
export function formatTimelineEntry(e: TimelineEntry): string {
  const detail = e.accepted ? e.detail : e.detail?.replace(/^ignored: /, '');
  return `${formatClock(e.at)} ${e.by} ${e.action}${e.accepted ? '' : ' [IGNORED]'}${e.signed ? ' [SIGNED]' : ''}${detail ? `: ${detail}` : ''}`;
}

/**
 * How the sender of a message is known: `signature verified (SHA256:...)` when the release checked a signature by
 * the sender's key, else `unsigned`; then, when read from the history, the client identity Temporal recorded, which
 * the client itself chose (client-asserted: only a server authorizer could hold a client to it).
 */
export function formatSender(e: TimelineEntryWithCaller): string {
  const signed = e.signed ? `signature verified (${e.signed.key})` : 'unsigned';
  if (e.callerIdentity === undefined) return signed;
  return `${signed}; client identity ${e.callerIdentity || '(none given)'} (client-asserted)`;
}

/**
 * `canary history`: a table of the timeline; with the history's client identities (./callers.ts), a column for
 * the verified signer's key and one for the identity each request's client gave.
 */
export function formatHistory(timeline: readonly TimelineEntryWithCaller[]): string {
  if (timeline.length === 0) return 'no events yet';
  const senders = timeline.some((e) => e.signed || e.callerIdentity !== undefined);
  return table(
    ['TIME', 'BY', 'ACTION', 'DETAIL', ...(senders ? ['SIGNED BY KEY', 'CLIENT IDENTITY'] : [])],
    timeline.map((e) => [
      formatTime(e.at),
      e.by,
      e.accepted ? e.action : `${e.action} [IGNORED]`,
      (e.accepted ? e.detail : e.detail?.replace(/^ignored: /, '')) ?? '',
      ...(senders ? [e.signed?.key ?? '', e.callerIdentity ?? ''] : []),
    ]),
  );
}

/**
 * `canary history` of a release that continued as new: one table over every run, oldest first, each run's entries
 * under a marker line (`── run 2 of 3  <run id>  from <time>, continued as new ──`).
 */
export function formatRunHistory(runs: RunTimeline[]): string {
  if (runs.length <= 1) return formatHistory(runs[0]?.entries ?? []);
  const rows = runs.flatMap((r) => r.entries);
  const lines = (rows.length ? formatHistory(rows) : '').split('\n');
  const out = [lines[0] ?? ''];
  let next = 1;
  for (const r of runs) {
    const ended = r.status === 'RUNNING' ? 'running' : r.status === 'CONTINUED_AS_NEW' ? 'continued as new' : r.status.toLowerCase();
    out.push(`── run ${r.run} of ${runs.length}  ${r.runId}  from ${formatTime(new Date(r.startedAt))}, ${ended} ──`);
    out.push(...lines.slice(next, next + r.entries.length));
    next += r.entries.length;
  }
  return out.join('\n');
}

/** `canary history --json` across runs: the runs, and every entry with the run (1 = first) that recorded it. */
export function runHistoryJson(runs: RunTimeline[]): {
  runs: { run: number; runId: string; startedAt: string; closedAt: string | null; status: string }[];
  timeline: (TimelineEntryWithCaller & { ignored: boolean; run: number })[];
} {
  return {
    runs: runs.map((r) => ({
      run: r.run,
      runId: r.runId,
      startedAt: new Date(r.startedAt).toISOString(),
      closedAt: r.closedAt === undefined ? null : new Date(r.closedAt).toISOString(),
      status: r.status,
    })),
    timeline: runs.flatMap((r) => historyJson(r.entries).map((e) => ({ ...e, run: r.run }))),
  };
}

/** The timeline for JSON output: every entry as recorded, with `ignored` spelled out (and `callerIdentity` when read). */
export function historyJson(timeline: readonly TimelineEntryWithCaller[]): (TimelineEntryWithCaller & { ignored: boolean })[] {
  return timeline.map((e) => ({ ...e, ignored: !e.accepted }));
}

/**
 * Why `start --wait` / `watch` stopped before the release ended, and how to pick it up again:
 * `still running after 30m (--timeout): release-checkout is Paused, step 2/3 (#1): pause until resumed; ...`.
 */
export function formatStillRunning(workflowId: string, afterMs: number, status?: ReleaseStatus): string {
  const where = status ? `is ${status.phase}, ${formatStep(status)}` : 'has not answered the status query yet';
  return `still running after ${formatDuration(afterMs)} (--timeout): ${workflowId} ${where}; the release goes on; follow it with: canary watch ${workflowId}`;
}

/** A progress line for non-TTY output; printed again only when it changes. */
export function progressLine(status: ReleaseStatus, now: Date): string {
  const parts = [status.phase, formatStep(status), formatWeights(status.verifiedWeights)];
  if (status.segments?.length) parts.push(`segments ${status.segments.map((s) => s.name).join(', ')} → canary`);
  const release = status.releaseId.split('/')[0] ?? status.releaseId;
  // Without the countdown, so the line changes only when the release does.
  if (status.gate) parts.push(`waiting: ${formatGate(status.gate, now, release).replace(/ \(in [^)]*\)| \([^)]* ago\)/, '')}`);
  if (status.rollbackError) parts.push(`rollback error: ${status.rollbackError}`);
  return parts.join(' | ');
}

/** Values for the TTY progress bar (its total is 100% canary weight). */
export function progressBarPayload(status: ReleaseStatus, now: Date): { weight: number; phase: string; step: string; note: string } {
  const n = status.steps.length;
  return {
    weight: Math.round(status.verifiedWeights.canary ?? 0),
    phase: status.phase,
    step: status.step >= n ? `${n}/${n}` : `${status.step + 1}/${n}`,
    note: status.result
      ? status.result.outcome
      : status.gate
        ? (formatGate(status.gate, now).split(' — ')[0] ?? '')
        : status.steps[status.step]
          ? describeStep(status.steps[status.step] as ParsedStep)
          : '',
  };
}

/** `canary list`: one row per release summary. */
export function formatList(rows: ReleaseSummary[]): string {
  if (rows.length === 0) return 'no releases found';
  return table(
    ['RELEASE', 'VERSION', 'PHASE', 'CANARY', 'STARTED', 'STATUS'],
    rows.map((r) => [
      r.workflowId,
      r.version ?? '-',
      r.phase ?? '-',
      r.canaryWeight === undefined ? '-' : `${r.canaryWeight}%`,
      formatTime(r.startTime),
      r.execution,
    ]),
  );
}

/** A step in a few words, for one-line summaries: `setWeight 10%`, `pause 5m`, `analysis errors`, `approval by alice`. */
export function shortStep(step: ParsedStep): string {
  switch (step.kind) {
    case 'approval':
      return step.approvers.length ? `approval by ${step.approvers.join(', ')}` : 'approval';
    default:
      return describeStep(step);
  }
}

/** The line `canary validate` prints for a valid spec: `ok: release.yaml: checkout v2, 3 steps (...), initiator ci-bot`. */
export function formatValidSpec(file: string, spec: ParsedReleaseSpec): string {
  const n = spec.steps.length;
  return `ok: ${file}: ${spec.service} ${spec.version}, ${n} step${n === 1 ? '' : 's'} (${spec.steps.map(shortStep).join(', ')}), initiator ${spec.initiator}`;
}

/** `field: message` lines of a rejected spec. */
export function formatSpecErrors(errors: FieldError[]): string[] {
  return errors.map((e) => `${e.field}: ${e.message}`);
}

/** Left-aligned columns, two spaces apart. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
