/**
 * What a release report shows, gathered from where it lives: the status query, the workflow history of every run
 * of the release (following continue-as-new back to the first run) and the metric sources (activities/sources/:
 * each metric's series for the release's target groups over its time range, from the release's own account and
 * region). Works for a live release and a finished one.
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { AnalysisRun, Variant, VariantTarget } from '../analysis/analysis';
import { metricBuckets, referenceVariant } from '../analysis/analysis';
import { roleAccount } from '../activities/api-pacer';
import type { AwsScope } from '../activities/contract';
import { CloudWatchBudgets } from '../activities/sources/cloudwatch';
import { createSources, fetchMetrics } from '../activities/sources/index';
import type { SourceSettings } from '../activities/sources/settings';
import { awsScope } from '../common/spec';
import type { ReleaseInput } from '../common/messages';
import type { AnalysisTemplate, ParsedReleaseSpec } from '../common/spec';
import { TIMELINE_HEAD, type Phase, type ReleaseStatus, type TimelineEntry } from '../common/status';
import { statusView } from '../common/status-view';
import { recordedMessages, type RecordedMessage, type TimelineEntryWithCaller } from './callers';
import { workflowUrl } from './connection';
import { queryStatus, releaseHandle } from './release-client';

/** One analysis result as the workflow history recorded it (a step's analysis or a batch of background analysis). */
export interface ReportAnalysis {
  /** When the activity completed (ms). */
  at: number;
  kind: 'step' | 'background';
  run: AnalysisRun;
}

/** One metric's series per variant over the release (ms timestamps, values in the same order). */
export interface ReportMetric {
  template: string;
  metric: string;
  /** The variant the canary is compared with. */
  reference: 'baseline' | 'stable';
  /** Absolute bounds of the metric's pass condition, drawn as lines. */
  max?: number;
  min?: number;
  series: Partial<Record<Variant, { t: number[]; v: number[] }>>;
  /** Why a series is missing (the source's error), shown instead of a chart line. */
  error?: string;
}

/** Where and how the report read the metrics. */
export interface ReportMetricsSource {
  /** The release's region and the role it assumes (none: the CLI's own credentials). */
  region: string;
  roleArn?: string;
  /** The bucket length asked for (absent: each query's own period). */
  minPeriodSeconds?: number;
  /** What the data's age changed: coarser buckets than the analysis judged, or data CloudWatch no longer keeps. */
  note?: string;
  /** Every datapoint of the release is past CloudWatch's retention: nothing was asked. */
  expired?: boolean;
}

export interface ReportData {
  releaseId: string;
  namespace: string;
  /** Link to the release's page in the Temporal UI; absent when the UI's address is unknown. */
  uiLink?: string;
  runs: { runId: string; startedAt: number; closedAt?: number; status: string }[];
  status: ReleaseStatus;
  /** Phase changes as the history recorded them (search attribute upserts), oldest first. */
  phases: { at: number; phase: Phase }[];
  analyses: ReportAnalysis[];
  /** The start, signals and accepted updates of every run, with the client identity each request carried. */
  messages?: RecordedMessage[];
  metrics: ReportMetric[];
  /** Where the metrics were read (absent: no source was given, or no spec). */
  metricsSource?: ReportMetricsSource;
  range: { start: number; end: number };
  live: boolean;
  generatedAt: number;
}

export interface CollectOptions {
  client: Client;
  /** A release id (`release-checkout`) or a service name. */
  release: string;
  namespace?: string;
  uiUrl?: string;
  /**
   * CloudWatch for the release's scope (its spec's region and role; `sessionName` the release id, what CloudTrail
   * shows), or one client used as it is; without it the report has no metric series.
   */
  cloudwatch?: CloudWatchClient | ((scope: AwsScope, sessionName: string) => Promise<CloudWatchClient>);
  /** The Prometheus servers and web endpoints metrics name (the CLI: its environment, as the worker's; none when absent). */
  sources?: SourceSettings;
  now?: () => number;
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

function eventMs(e: HistoryEvent): number {
  const t = e.eventTime;
  return t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : 0;
}

function firstPayload<T>(payloads: temporal.api.common.v1.IPayloads | null | undefined): T | undefined {
  const p = payloads?.payloads?.[0];
  return p ? defaultPayloadConverter.fromPayload<T>(p) : undefined;
}

/** The events that close a run, by the attributes they carry. */
const CLOSED: [string, keyof HistoryEvent][] = [
  ['COMPLETED', 'workflowExecutionCompletedEventAttributes'],
  ['FAILED', 'workflowExecutionFailedEventAttributes'],
  ['CANCELED', 'workflowExecutionCanceledEventAttributes'],
  ['TERMINATED', 'workflowExecutionTerminatedEventAttributes'],
  ['TIMED_OUT', 'workflowExecutionTimedOutEventAttributes'],
  ['CONTINUED_AS_NEW', 'workflowExecutionContinuedAsNewEventAttributes'],
];

/** What one run's history says: its input, phase changes, analysis results, start and close. */
function readRun(runId: string, events: HistoryEvent[]) {
  const started = events[0]?.workflowExecutionStartedEventAttributes;
  const input = firstPayload<ReleaseInput>(started?.input);
  const phases: { at: number; phase: Phase }[] = [];
  const analyses: ReportAnalysis[] = [];
  const scheduled = new Map<string, { type: string; input: unknown }>();
  let closedAt: number | undefined;
  let status = 'RUNNING';
  for (const e of events) {
    const upsert = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.ReleasePhase;
    if (upsert) {
      const v = defaultPayloadConverter.fromPayload<Phase | Phase[]>(upsert);
      const phase = Array.isArray(v) ? v[0] : v;
      if (phase) phases.push({ at: eventMs(e), phase });
    }
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), { type: s.activityType?.name ?? '', input: firstPayload(s.input) });
    const c = e.activityTaskCompletedEventAttributes;
    if (c) {
      const sch = scheduled.get(String(c.scheduledEventId));
      if (sch?.type === 'runAnalysis') {
        const run = firstPayload<AnalysisRun>(c.result);
        const req = sch.input as { delayFirst?: boolean } | undefined;
        if (run) analyses.push({ at: eventMs(e), kind: req?.delayFirst ? 'background' : 'step', run });
      }
    }
    const closing = CLOSED.find(([, key]) => e[key]);
    if (closing) {
      closedAt = eventMs(e);
      status = closing[0];
    }
  }
  const variants = [...scheduled.values()].find((s) => s.type === 'runAnalysis')?.input as { variants?: Partial<Record<Variant, VariantTarget>> } | undefined;
  return {
    runId,
    startedAt: events[0] ? eventMs(events[0]) : 0,
    closedAt,
    status,
    previous: started?.continuedExecutionRunId || undefined,
    messages: recordedMessages(events),
    input,
    /** The timeline the previous run handed over (its own at the continue-as-new); none for a first run. */
    carried: input?.resume?.timeline,
    phases,
    analyses,
    variants: variants?.variants,
  };
}

/** `arn:...:targetgroup/NAME/ID` → `targetgroup/NAME/ID`; a listener ARN → its load balancer's `app/NAME/ID`. */
function dimensionsFrom(status: ReleaseStatus, listenerArn: string): Partial<Record<Variant, VariantTarget>> {
  const lb = /:listener\/(app\/[^/]+\/[^/]+)\//.exec(listenerArn)?.[1] ?? '';
  const out: Partial<Record<Variant, VariantTarget>> = {};
  for (const tg of status.targetGroups) {
    const suffix = /:(targetgroup\/.+)$/.exec(tg.arn)?.[1];
    if (suffix) out[tg.role] = { targetGroup: suffix, loadBalancer: lb };
  }
  return out;
}

/** CloudWatch answers at most 100,800 datapoints per query; coarser buckets keep a long release in one answer. */
const MAX_POINTS = 100_000;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * How long CloudWatch keeps datapoints of each period, shortest first (GetMetricData: data older than 3 hours is
 * asked in multiples of 60 s, older than 15 days of 300 s, older than 63 days of 3600 s; after 455 days it is gone).
 */
const RETENTION: { maxAgeMs: number; periodSeconds: number; kept: string }[] = [
  { maxAgeMs: 3 * HOUR_MS, periodSeconds: 0, kept: 'high-resolution datapoints for 3 hours' },
  { maxAgeMs: 15 * DAY_MS, periodSeconds: 60, kept: '1-minute datapoints for 15 days' },
  { maxAgeMs: 63 * DAY_MS, periodSeconds: 300, kept: '5-minute datapoints for 63 days' },
  { maxAgeMs: 455 * DAY_MS, periodSeconds: 3600, kept: '1-hour datapoints for 455 days' },
];

/**
 * The buckets a report asks for over `range` at `nowMs`: the shortest period CloudWatch still keeps for the
 * release's oldest datapoint, coarser when the release is too long for one answer; `expired` when CloudWatch keeps
 * none of it. `note` says what the data's age changed.
 */
export function reportPeriod(range: { start: number; end: number }, nowMs: number): Pick<ReportMetricsSource, 'minPeriodSeconds' | 'note' | 'expired'> {
  const days = (ms: number): string => `${Math.floor(ms / DAY_MS)} days`;
  const last = RETENTION[RETENTION.length - 1] as (typeof RETENTION)[number];
  if (nowMs - range.end > last.maxAgeMs) {
    return { expired: true, note: `CloudWatch keeps metrics for 455 days: this release ended ${days(nowMs - range.end)} ago and its metrics have expired` };
  }
  const age = nowMs - range.start;
  const tier = RETENTION.find((r) => age <= r.maxAgeMs) ?? last;
  const perAnswer = (range.end - range.start) / 1000 / MAX_POINTS;
  const forPoints = perAnswer > 1 ? Math.max(60, Math.ceil(perAnswer / 60) * 60) : 0;
  const step = tier.periodSeconds || 60;
  const min = Math.max(tier.periodSeconds, forPoints);
  const minPeriodSeconds = min === 0 ? undefined : Math.ceil(min / step) * step;
  const notes: string[] = [];
  if (age > last.maxAgeMs)
    notes.push(`CloudWatch keeps metrics for 455 days: the datapoints before ${new Date(nowMs - last.maxAgeMs).toISOString()} have expired`);
  if (tier.periodSeconds > 60) {
    const shorter = RETENTION[RETENTION.indexOf(tier) - 1] as (typeof RETENTION)[number];
    notes.push(
      `CloudWatch keeps ${shorter.kept}: this release began ${days(age)} ago, so its metrics are shown in ${(minPeriodSeconds ?? 0) / 60}-minute buckets`,
    );
  }
  return { ...(minPeriodSeconds ? { minPeriodSeconds } : {}), ...(notes.length ? { note: notes.join('; ') } : {}) };
}

/** What {@link reportMetrics} reads: the templates, the variants' target groups, the release's range and CloudWatch of its scope. */
export interface ReportMetricsOptions {
  templates: Record<string, AnalysisTemplate>;
  targets: Partial<Record<Variant, VariantTarget>>;
  range: { start: number; end: number };
  nowMs: number;
  cloudwatch: CloudWatchClient;
  scope: AwsScope;
  /** The Prometheus servers and web endpoints metrics name. */
  sources?: SourceSettings;
}

/**
 * Each metric's value per bucket for the canary and its reference, over the release, from the metric's source (the
 * analysis activity's fetch path): one request per metric, so one failing metric leaves the others' charts.
 */
export async function reportMetrics(opts: ReportMetricsOptions): Promise<{ metrics: ReportMetric[]; source: ReportMetricsSource }> {
  const period = reportPeriod(opts.range, opts.nowMs);
  const source: ReportMetricsSource = { region: opts.scope.region, ...(opts.scope.roleArn ? { roleArn: opts.scope.roleArn } : {}), ...period };
  const budgets = new CloudWatchBudgets();
  const sources = createSources({
    cloudwatch: opts.cloudwatch,
    cloudwatchPace: budgets.for(roleAccount(opts.scope.roleArn) ?? 'worker', opts.scope.region),
    settings: opts.sources,
  });
  const window = { startMs: opts.range.start, endMs: opts.range.end + 1000, minPeriodSeconds: period.minPeriodSeconds };
  const out: ReportMetric[] = [];
  for (const [name, template] of Object.entries(opts.templates)) {
    for (const metric of template.metrics) {
      const reference = referenceVariant(metric, template, !!opts.targets.baseline) ?? (opts.targets.baseline ? 'baseline' : 'stable');
      const entry: ReportMetric = { template: name, metric: metric.name, reference, max: metric.pass?.relativeTo ? undefined : metric.pass?.max, series: {} };
      if (!metric.pass?.relativeTo && metric.pass?.min !== undefined) entry.min = metric.pass.min;
      const variants = (['canary', reference] as Variant[]).filter((v) => opts.targets[v]);
      if (!period.expired) {
        try {
          const [fetched = {}] = await fetchMetrics(sources, [{ metric, variants: Object.fromEntries(variants.map((v) => [v, opts.targets[v]])) }], window);
          for (const variant of variants) entry.series[variant] = metricBuckets(metric, fetched[variant]);
        } catch (err) {
          entry.error = (err as Error).message;
        }
      }
      out.push(entry);
    }
  }
  return { metrics: out, source };
}

/** One run of a release as its history tells it. */
export type ReleaseRun = ReturnType<typeof readRun>;

/**
 * Every run of a release, oldest first, read from their histories: from `lastRunId` (the newest run by default)
 * back through each run's continued-from run to the first.
 */
export async function readReleaseRuns(client: Client, workflowId: string, lastRunId?: string): Promise<ReleaseRun[]> {
  const runs: ReleaseRun[] = [];
  const newest = lastRunId ?? (await client.workflow.getHandle(workflowId).describe()).runId;
  // Newest first: each run names the one it continued from; a release id reused by a later release starts a new chain.
  for (let runId: string | undefined = newest, guard = 0; runId && guard < 1000; guard++) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const run = readRun(runId, history.events ?? []);
    runs.unshift(run);
    runId = run.previous;
  }
  return runs;
}

/** A run of a release with the timeline entries recorded during it (`canary history`). */
export interface RunTimeline {
  /** 1 for the first run. */
  run: number;
  runId: string;
  startedAt: number;
  closedAt?: number;
  /** RUNNING, COMPLETED, CONTINUED_AS_NEW, ... */
  status: string;
  /** With the client identity Temporal recorded for each message, once paired (client/callers.ts withCallers). */
  entries: TimelineEntryWithCaller[];
}

/**
 * The whole release's timeline split by run: each run's own entries, from its final timeline (what the next run was
 * started with; for the newest run `latest`, its status query) less the timeline it was handed. The status query
 * alone shows a bounded timeline (common/status.ts TIMELINE_MAX); this shows every entry of every run as long as no
 * single run records more than TIMELINE_MAX - TIMELINE_HEAD of them.
 */
export function timelineByRun(runs: ReleaseRun[], latest: TimelineEntry[]): RunTimeline[] {
  return runs.map((r, i) => {
    const final = i + 1 < runs.length ? (runs[i + 1]?.carried ?? []) : latest;
    return { run: i + 1, runId: r.runId, startedAt: r.startedAt, closedAt: r.closedAt, status: r.status, entries: ownEntries(r.carried ?? [], final) };
  });
}

const entryKey = (e: TimelineEntry): string => JSON.stringify([e.at, e.by, e.action, e.detail ?? null, e.accepted]);

/**
 * The entries a run added to the timeline it was handed. Below the bound its final timeline is the handed one plus
 * its own; past it, the first TIMELINE_HEAD entries followed by the newest of (the rest of the handed ones, its own),
 * so its own come after the longest tail of the handed timeline found there. Entries that are alike in every field
 * (the same person's ignored message in the same instant) at that seam cannot be told apart and count as handed.
 */
function ownEntries(handed: TimelineEntry[], final: TimelineEntry[]): TimelineEntry[] {
  const h = handed.map(entryKey);
  const f = final.map(entryKey);
  if (h.every((k, i) => f[i] === k)) return final.slice(handed.length);
  for (let j = Math.min(handed.length - TIMELINE_HEAD, final.length - TIMELINE_HEAD); j > 0; j--) {
    const tail = h.slice(h.length - j);
    if (tail.every((k, i) => f[TIMELINE_HEAD + i] === k)) return final.slice(TIMELINE_HEAD + j);
  }
  return final.slice(TIMELINE_HEAD);
}

/** How long the status query may take (a finished release's query replays its last run on a worker). */
const QUERY_TIMEOUT_MS = 15_000;

/**
 * Gathers a release's report data. The status comes from the status query (a worker must be polling the release's
 * task queue; for a finished release the query replays its history); when no worker answers in time, from the state
 * the last run was started with plus its result.
 */
export async function collectReportData(opts: CollectOptions): Promise<ReportData> {
  const now = opts.now ?? Date.now;
  const handle = releaseHandle(opts.client, opts.release);
  const desc = await handle.describe();
  const runs = await readReleaseRuns(opts.client, desc.workflowId, desc.runId);
  const first = runs[0];
  const last = runs[runs.length - 1];
  if (!first || !last) throw new Error(`${desc.workflowId}: no history`);
  const spec: ParsedReleaseSpec | undefined = first.input?.spec;
  let status: ReleaseStatus | undefined = await queryStatus(releaseHandle(opts.client, desc.workflowId, last.runId), QUERY_TIMEOUT_MS).catch(() => undefined);
  if (!status) {
    const carried = last.input?.resume && last.input.spec ? statusView(last.input.spec, last.input.resume) : undefined;
    if (!carried) throw new Error(`${desc.workflowId}: the status query got no answer (is a worker polling its task queue?)`);
    status = carried;
  }
  const live = last.closedAt === undefined;
  const start = first.startedAt;
  const end = live ? now() : (last.closedAt ?? now());
  const targets = runs.find((r) => r.variants)?.variants ?? (spec ? dimensionsFrom(status, spec.traffic[0]?.listenerArn ?? '') : {});
  let metrics: ReportMetric[] = [];
  let metricsSource: ReportMetricsSource | undefined;
  if (opts.cloudwatch && spec) {
    // The release's account and region, as its activities used them (its role's session named for the release).
    const scope = awsScope(spec);
    const cloudwatch = typeof opts.cloudwatch === 'function' ? await opts.cloudwatch(scope, desc.workflowId) : opts.cloudwatch;
    ({ metrics, source: metricsSource } = await reportMetrics({
      templates: spec.analysis,
      targets,
      range: { start, end },
      nowMs: now(),
      cloudwatch,
      scope,
      sources: opts.sources,
    }));
  }
  return {
    releaseId: desc.workflowId,
    namespace: opts.namespace ?? 'default',
    uiLink: workflowUrl(opts.uiUrl, opts.namespace ?? 'default', desc.workflowId),
    runs: runs.map((r) => ({ runId: r.runId, startedAt: r.startedAt, closedAt: r.closedAt, status: r.status })),
    status,
    phases: runs.flatMap((r) => r.phases),
    analyses: runs.flatMap((r) => r.analyses),
    messages: runs.flatMap((r) => r.messages),
    metrics,
    ...(metricsSource ? { metricsSource } : {}),
    range: { start, end },
    live,
    generatedAt: now(),
  };
}
