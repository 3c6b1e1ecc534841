/**
 * Judging a canary against thresholds: pure functions over fetched metric series, used by the runAnalysis
 * activity (which fetches) and by the workflow (which reads the verdicts). No I/O.
 */
import type { AnalysisMetric, AnalysisTemplate } from '../common/spec';
import { JudgeMetricOptions } from '../common/judge-config';
import { judgeMetric as judgeSamples, scoreCanary, type CanaryScore, type MetricJudgement } from './judge';
import type { JudgeEvidence } from './sequential';

export * from './series';

/**
 * One variant as a release knows it: the target group that serves it and its load balancer, as their ARNs' resource
 * parts. Each metric source selects the variant's data by them its own way (activities/sources/; CloudWatch: its
 * TargetGroup and LoadBalancer dimensions).
 */
export interface VariantTarget {
  /** `targetgroup/NAME/ID` */
  targetGroup: string;
  /** `app/NAME/ID` */
  loadBalancer: string;
}

/** @deprecated the former name of {@link VariantTarget}. */
export type VariantDimensions = VariantTarget;

export type Variant = 'canary' | 'baseline' | 'stable';

export interface AnalysisRequest {
  templateName: string;
  template: AnalysisTemplate;
  variants: { canary: VariantTarget; stable: VariantTarget; baseline?: VariantTarget };
  /** Measurements to take in this call, `intervalMs` apart (the first one at once). */
  count: number;
  intervalMs: number;
  /** Counters carried over from earlier calls (background analysis reports in batches). */
  previous?: AnalysisCounters;
  /**
   * Wait one interval before the first measurement too (background analysis: give the canary traffic first), unless
   * `notBefore` is given: its wait for the first window after the traffic change replaces this one.
   */
  delayFirst?: boolean;
  /**
   * ISO time the canary's current traffic began: the first measurement waits until its whole window (on bucket
   * edges, `delay` old) lies after it, so no bucket from before the canary had this traffic is judged.
   */
  notBefore?: string;
}

export type MetricVerdict = 'pass' | 'fail' | 'nodata';

export interface MetricResult {
  metric: string;
  canary: number | null;
  /** The baseline or stable value a relative bound compared against. */
  reference: number | null;
  referenceVariant?: 'baseline' | 'stable';
  verdict: MetricVerdict;
  critical: boolean;
  /** The bound in words, e.g. `<= 0.01` or `<= 1.2 x stable (0.004)`. */
  threshold: string;
  /** The statistical judge's view of this metric, when the template has a judge. */
  stat?: MetricJudgement & { against: 'baseline' | 'stable' };
  /** Why the window was not judged: a variant served fewer requests than `minRequests` (then `noData` decides). */
  thin?: string;
}

export type MeasurementVerdict = 'pass' | 'fail' | 'inconclusive' | 'error';

/** The buckets a measurement judged: [start, end), whole periods, the newest complete one at least `delay` old. */
export interface JudgedWindow {
  start: string;
  end: string;
  periodSeconds: number;
}

/** A CloudWatch alarm of the template's `alarms`, as DescribeAlarms answered. */
export interface AlarmResult {
  name: string;
  state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
  /** ALARM fails; INSUFFICIENT_DATA follows the template's noData. */
  verdict: MetricVerdict;
  /** CloudWatch's StateReason, shortened. */
  reason?: string;
}

export interface Measurement {
  at: string;
  verdict: MeasurementVerdict;
  /** The window whose buckets were judged (absent on measurements taken before windows were aligned). */
  window?: JudgedWindow;
  metrics: MetricResult[];
  /** The template's CloudWatch alarms and their states. */
  alarms?: AlarmResult[];
  /** The statistical judge's score, when the template has a judge. */
  score?: Pick<CanaryScore, 'score' | 'verdict' | 'reason' | 'criticalFailures'>;
  /** Why a measurement could not be taken (verdict error). */
  error?: string;
  /** Sequential judge: the release's evidence including this measurement's buckets (carried into the counters). */
  evidence?: JudgeEvidence;
}

export interface AnalysisCounters {
  measurements: number;
  failed: number;
  inconclusive: number;
  errors: number;
  consecutiveErrors: number;
  /**
   * Sequential judge: each metric's accumulated evidence. It must follow the release (from step to step, batch to
   * batch, across continue-as-new) for the false-positive bound to hold and the evidence to build up; see
   * {@link carriedEvidence}.
   */
  evidence?: JudgeEvidence;
}

export type AnalysisVerdict = 'pass' | 'fail' | 'inconclusive';

export interface AnalysisRun {
  templateName: string;
  verdict: AnalysisVerdict;
  reason: string;
  counters: AnalysisCounters;
  last?: Measurement;
}

export const zeroCounters: AnalysisCounters = { measurements: 0, failed: 0, inconclusive: 0, errors: 0, consecutiveErrors: 0 };

/** Which variant a metric is compared with: its relative bound's, else (for the judge) baseline when present. */
export function referenceVariant(metric: AnalysisMetric, template: AnalysisTemplate, hasBaseline: boolean): 'baseline' | 'stable' | undefined {
  if (metric.pass?.relativeTo) return metric.pass.relativeTo;
  if (template.judge) return hasBaseline ? 'baseline' : 'stable';
  return undefined;
}

/**
 * Adds the statistical judge's per-metric verdicts and score to threshold results (same order as the template's
 * metrics). Samples: per metric, the canary's and the reference's datapoints.
 */
export function judgeStatistically(
  template: AnalysisTemplate,
  results: MetricResult[],
  samples: { canary: number[]; reference: number[] }[],
  against: 'baseline' | 'stable',
): { metrics: MetricResult[]; score?: Measurement['score'] } {
  const judge = template.judge;
  if (!judge || judge.kind !== 'mann-whitney') return { metrics: results };
  const judged = template.metrics.map((m, i) => {
    const opts = m.judge ?? JudgeMetricOptions.parse({});
    const s = samples[i] ?? { canary: [], reference: [] };
    const thin = results[i]?.thin;
    const judgement = thin !== undefined ? thinJudgement(thin) : judgeSamples(s.canary, s.reference, opts, judge.confidence);
    return { name: m.name, group: opts.group, critical: m.critical || opts.critical, judgement };
  });
  const score = scoreCanary(judged, judge);
  return {
    metrics: results.map((r, i) => ({ ...r, stat: { ...(judged[i] as (typeof judged)[number]).judgement, against } })),
    score: { score: score.score, verdict: score.verdict, reason: score.reason, criticalFailures: score.criticalFailures },
  };
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(4)));
}

/**
 * Judges one metric. With no data, or a window too thin to judge (`thin`: why, see {@link thinTraffic}), the
 * template's noData policy decides.
 */
export function judgeMetric(
  metric: AnalysisMetric,
  values: { canary: number | null; baseline?: number | null; stable?: number | null },
  noData: AnalysisTemplate['noData'],
  thin?: string,
): MetricResult {
  const p = metric.pass ?? {};
  const refVariant = p.relativeTo;
  const reference = refVariant ? (values[refVariant] ?? null) : null;
  const bounds: string[] = [];
  if (p.min !== undefined) bounds.push(`>= ${fmt(p.min)}`);
  if (p.max !== undefined) bounds.push(`<= ${fmt(p.max)}`);
  if (p.minRatio !== undefined) bounds.push(`>= ${fmt(p.minRatio)} x ${refVariant}${reference === null ? '' : ` (${fmt(reference * p.minRatio)})`}`);
  if (p.maxRatio !== undefined) bounds.push(`<= ${fmt(p.maxRatio)} x ${refVariant}${reference === null ? '' : ` (${fmt(reference * p.maxRatio)})`}`);
  const base = {
    metric: metric.name,
    canary: values.canary,
    reference,
    referenceVariant: refVariant,
    critical: metric.critical,
    threshold: bounds.join(' and '),
  };
  const c = values.canary;
  const needsRef = p.minRatio !== undefined || p.maxRatio !== undefined;
  if (c === null || (needsRef && reference === null) || thin !== undefined) {
    const verdict: MetricVerdict = noData === 'pass' ? 'pass' : noData === 'fail' ? 'fail' : 'nodata';
    return thin === undefined ? { ...base, verdict } : { ...base, verdict, thin };
  }
  let ok = true;
  if (p.min !== undefined && c < p.min) ok = false;
  if (p.max !== undefined && c > p.max) ok = false;
  if (reference !== null && p.minRatio !== undefined && c < reference * p.minRatio) ok = false;
  if (reference !== null && p.maxRatio !== undefined && c > reference * p.maxRatio) ok = false;
  return { ...base, verdict: ok ? 'pass' : 'fail' };
}

/**
 * A measurement fails if any metric breaks its bounds or the judge's score fails, is inconclusive if a metric
 * has no data or the score is marginal or without data, and passes otherwise.
 */
export function measurementVerdict(metrics: MetricResult[], score?: Measurement['score'], alarms: AlarmResult[] = []): MeasurementVerdict {
  if (metrics.some((m) => m.verdict === 'fail') || score?.verdict === 'fail' || alarms.some((a) => a.verdict === 'fail')) return 'fail';
  if (metrics.some((m) => m.verdict === 'nodata') || alarms.some((a) => a.verdict === 'nodata') || score?.verdict === 'marginal' || score?.verdict === 'nodata')
    return 'inconclusive';
  return 'pass';
}

/** Judges alarm states: ALARM fails, INSUFFICIENT_DATA follows noData (as a metric without data does), OK passes. */
export function judgeAlarms(alarms: { name: string; state: string; reason?: string }[], noData: AnalysisTemplate['noData']): AlarmResult[] {
  return alarms.map((a) => {
    const state: AlarmResult['state'] = a.state === 'ALARM' ? 'ALARM' : a.state === 'OK' ? 'OK' : 'INSUFFICIENT_DATA';
    const verdict: MetricVerdict = state === 'ALARM' ? 'fail' : state === 'OK' ? 'pass' : noData === 'pass' ? 'pass' : noData === 'fail' ? 'fail' : 'nodata';
    const reason = a.reason && a.reason.length > 200 ? `${a.reason.slice(0, 197)}...` : a.reason;
    return reason ? { name: a.name, state, verdict, reason } : { name: a.name, state, verdict };
  });
}

export function addMeasurement(c: AnalysisCounters, m: Measurement): AnalysisCounters {
  return {
    measurements: c.measurements + 1,
    failed: c.failed + (m.verdict === 'fail' ? 1 : 0),
    inconclusive: c.inconclusive + (m.verdict === 'inconclusive' ? 1 : 0),
    errors: c.errors + (m.verdict === 'error' ? 1 : 0),
    consecutiveErrors: m.verdict === 'error' ? c.consecutiveErrors + 1 : 0,
    ...((m.evidence ?? c.evidence) ? { evidence: m.evidence ?? c.evidence } : {}),
  };
}

/**
 * Whether the analysis is already decided as failed: more failed measurements than failureLimit, more
 * consecutive errors than consecutiveErrorLimit, or a critical metric failing.
 */
export function failureReason(template: AnalysisTemplate, c: AnalysisCounters, last: Measurement | undefined): string | undefined {
  if (last?.score?.criticalFailures.length) return `judge: ${last.score.reason}`;
  const critical = last?.metrics.find((m) => m.critical && m.verdict === 'fail');
  if (critical) return `critical metric ${critical.metric} = ${critical.canary === null ? 'no data' : fmt(critical.canary)}, needs ${critical.threshold}`;
  if (c.failed > template.failureLimit) {
    const failing = last?.metrics.filter((m) => m.verdict === 'fail') ?? [];
    const detail = [
      ...failing.map((m) => `${m.metric} = ${m.canary === null ? 'no data' : fmt(m.canary)}, needs ${m.threshold}`),
      ...(last?.alarms ?? []).filter((a) => a.verdict === 'fail').map((a) => `alarm ${a.name} is ${a.state}`),
      ...(last?.score?.verdict === 'fail' ? [`judge: ${last.score.reason}`] : []),
    ].join('; ');
    return `${c.failed} failed measurement(s), failureLimit ${template.failureLimit}${detail ? `: ${detail}` : ''}`;
  }
  if (c.consecutiveErrors > template.consecutiveErrorLimit) {
    return `${c.consecutiveErrors} consecutive measurements could not be taken (consecutiveErrorLimit ${template.consecutiveErrorLimit}): ${last?.error ?? ''}`;
  }
  return undefined;
}

/** The verdict once all measurements of a step are taken: any inconclusive one leaves it to a human. */
export function finalVerdict(template: AnalysisTemplate, c: AnalysisCounters, last: Measurement | undefined): { verdict: AnalysisVerdict; reason: string } {
  const failed = failureReason(template, c, last);
  if (failed) return { verdict: 'fail', reason: failed };
  if (c.inconclusive > 0) {
    const missing = [
      ...(last?.metrics.filter((m) => m.verdict === 'nodata').map((m) => m.metric) ?? []),
      ...(last?.alarms?.filter((a) => a.verdict === 'nodata').map((a) => `alarm ${a.name}`) ?? []),
    ];
    return {
      verdict: 'inconclusive',
      reason: `${c.inconclusive} of ${c.measurements} measurement(s) had no data${missing.length ? ` (${missing.join(', ')})` : ''}`,
    };
  }
  if (c.measurements === c.errors) return { verdict: 'inconclusive', reason: 'no measurement could be taken' };
  return { verdict: 'pass', reason: `${c.measurements - c.failed - c.errors} of ${c.measurements} measurement(s) passed` };
}

/** A metric's `minRequests`: its own, else its template's; 0 when neither sets one. */
export function minRequestsOf(metric: AnalysisMetric, template: AnalysisTemplate): number {
  return metric.minRequests ?? template.minRequests ?? 0;
}

/**
 * Why a window is too thin to judge a metric, or undefined: the canary, or the variant the metric is compared with
 * (`reference`), served fewer requests in it than `minRequests` (`requests`: each variant's count over the window;
 * null, no datapoint: none).
 */
export function thinTraffic(
  metric: AnalysisMetric,
  template: AnalysisTemplate,
  requests: Partial<Record<Variant, number | null>>,
  reference: 'baseline' | 'stable' | undefined,
): string | undefined {
  const min = minRequestsOf(metric, template);
  if (min <= 0) return undefined;
  const short = (['canary', ...(reference ? [reference] : [])] as Variant[]).filter((v) => (requests[v] ?? 0) < min);
  if (short.length === 0) return undefined;
  return `too few requests to judge: ${short.map((v) => `${v} ${fmt(requests[v] ?? 0)}`).join(', ')} in the window, minRequests ${min}`;
}

/** A statistical judge's verdict on a window too thin to judge (`reason`: {@link thinTraffic}'s): no data, never pass or fail. */
export function thinJudgement(reason: string): MetricJudgement {
  return {
    verdict: 'nodata',
    failed: false,
    pValue: null,
    ratioOfMeans: null,
    cles: null,
    canaryMean: null,
    baselineMean: null,
    canaryCount: 0,
    baselineCount: 0,
    reason,
  };
}

/**
 * Counters for a step analysis that starts afresh (failureLimit counts this step only) but goes on with the
 * sequential judge's evidence from earlier runs of the template in this release: pass as `previous`.
 */
export function carriedEvidence(earlier: AnalysisCounters | undefined): AnalysisCounters {
  return earlier?.evidence ? { ...zeroCounters, evidence: earlier.evidence } : zeroCounters;
}
