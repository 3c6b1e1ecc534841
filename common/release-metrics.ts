/**
 * The release metrics on the worker's Prometheus endpoint (CANARY_METRICS_ADDRESS), one table for every emitter:
 * workflow code through `metricMeter` of @temporalio/workflow, activities through their context's `metricMeter`,
 * and the worker, which sizes the histograms' buckets from it. Workflow-safe: names and a helper, no I/O.
 *
 * Temporal's own metrics keep their `temporal_` prefix; these are named `canary_` in full (the SDK adds no prefix to
 * metrics created through a meter). A metric appears on the endpoint once it was first emitted.
 */
import type { MetricMeter, MetricTags } from '@temporalio/common';

interface MetricDefinition {
  name: string;
  kind: 'counter' | 'histogram';
  help: string;
  /** The labels an emitter passes (the meter adds its own: namespace, task_queue, workflow_type or activity_type). */
  labels: readonly string[];
  /** Histograms only: bucket upper bounds, in seconds. */
  buckets?: readonly number[];
}

const seconds = (...b: number[]): readonly number[] => b;

/** Every canary_* metric: what it counts, its labels, who emits it. */
export const ReleaseMetrics = {
  /** Workflow: each phase a release enters (Validating, Progressing, RollingBack, RollbackFailed, ...). */
  phaseEntered: { name: 'canary_release_phase_entered', kind: 'counter', help: 'Release phases entered, by phase', labels: ['phase'] },
  /** Workflow: each release that ended, by its final phase and outcome (promoted, rolled-back, aborted, failed). */
  finished: { name: 'canary_releases_finished', kind: 'counter', help: 'Releases ended, by final phase and outcome', labels: ['phase', 'outcome'] },
  /** Workflow: from the failed analysis (or abort, error) that starts a rollback to the pre-release traffic, verified by a describe. */
  restoreSeconds: {
    name: 'canary_traffic_restore_seconds',
    kind: 'histogram',
    help: 'Seconds from the decision to roll back (failed analysis, abort, error) to the pre-release traffic, verified',
    labels: ['trigger'],
    buckets: seconds(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600),
  },
  /** Workflow: how long each gate (approval, manual pause, drift, inconclusive analysis) held the release, by how it ended. */
  gateWaitSeconds: {
    name: 'canary_gate_wait_seconds',
    kind: 'histogram',
    help: 'Seconds a release waited at a gate, by gate kind and how the gate ended',
    labels: ['gate', 'outcome'],
    buckets: seconds(1, 10, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600),
  },
  /** Workflow: each analysis step's (and background analysis report's) verdict. */
  analysisVerdicts: { name: 'canary_analysis_verdicts', kind: 'counter', help: 'Analysis verdicts, by verdict and template', labels: ['verdict', 'template'] },
  /** Activities (activities/api-pacer.ts): ELB Describe calls that waited for the account's budget, and how long. */
  pacerWaitSeconds: {
    name: 'canary_pacer_wait_seconds',
    kind: 'histogram',
    help: 'Seconds an ELB Describe call waited for a token of its account and region (CANARY_ELB_DESCRIBE_RATE)',
    labels: ['account', 'region'],
    buckets: seconds(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
  },
  /** Activities (activities/api-pacer.ts): calls refused because no token would come before their activity's deadline. */
  pacerRefusals: {
    name: 'canary_pacer_refusals',
    kind: 'counter',
    help: 'ELB Describe calls the pacer refused (PacedOut), by account and region',
    labels: ['account', 'region'],
  },
  /** Activities (activities/errors.ts): every AWS error an activity's call ended with, by AWS error code. */
  awsErrors: { name: 'canary_aws_errors', kind: 'counter', help: 'AWS errors of activity calls, by AWS error code', labels: ['code'] },
} as const satisfies Record<string, MetricDefinition>;

export type ReleaseMetric = keyof typeof ReleaseMetrics;

/** The histogram buckets the worker installs (the SDK's default buckets are milliseconds). */
export function histogramBuckets(): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const m of Object.values(ReleaseMetrics) as MetricDefinition[]) if (m.buckets) out[m.name] = [...m.buckets];
  return out;
}

const created = new WeakMap<MetricMeter, Map<string, { add?(v: number, t?: MetricTags): void; record?(v: number, t?: MetricTags): void }>>();

/**
 * Adds `value` to a counter or records it in a histogram of {@link ReleaseMetrics} through `meter` (the workflow's
 * `metricMeter`, or an activity context's). Workflow code may call it: the SDK drops emissions during replay.
 */
export function emitMetric(meter: MetricMeter, metric: ReleaseMetric, value: number, tags: MetricTags = {}): void {
  const def: MetricDefinition = ReleaseMetrics[metric];
  let byName = created.get(meter);
  if (!byName) created.set(meter, (byName = new Map()));
  let m = byName.get(def.name);
  if (!m) {
    m = def.kind === 'counter' ? meter.createCounter(def.name, undefined, def.help) : meter.createHistogram(def.name, 'float', 's', def.help);
    byName.set(def.name, m);
  }
  if (def.kind === 'counter') m.add?.(value, tags);
  else m.record?.(value, tags);
}
