/**
 * The sequential judge over an analysis template: turns one measurement's fetched series into new buckets for each
 * metric's e-process (analysis/sequential.ts), adds them to the evidence carried over the release, and fails a metric
 * as soon as its evidence crosses the boundary. Pure and sandbox-safe.
 */
import type { AnalysisMetric, AnalysisTemplate } from '../common/spec';
import type { SequentialJudgeConfig } from '../common/judge-config';
import { JudgeMetricOptions } from '../common/judge-config';
import { parseExpression } from '../common/expression';
import { metricShape } from '../common/sources/index';
import type { Measurement, MetricResult, TimedSeries } from './analysis';
import { metricBuckets, thinJudgement } from './analysis';
import type { MetricJudgement, SequentialView } from './judge';
import {
  absorbCounts,
  absorbPaired,
  countsEValue,
  countsGrid,
  countsInterval,
  emptyCounts,
  emptyPaired,
  type CountsBucket,
  type JudgeEvidence,
  type MetricEvidence,
  type PairedBucket,
  type PairedEvidence,
} from './sequential';
import {
  pairedEValue,
  pairedInterval,
  pairedSummary,
  arPairedEValues,
  arPairedInterval,
  AR_RHO_GRID,
  AR_RHO_GRID_WIDE,
  FIRST_LOOK_BUCKETS,
  FIRST_LOOK_CRITICAL,
  FIRST_LOOK_CRITICAL_WIDE,
  firstLookCritical,
  FIRST_LOOK_SHARE,
} from './paired';

// Module-local, read once: inside a vm context (jest's test environment; the workflow sandbox is one too) each lookup
// of a global goes through the context's interceptor, which made the judge's simulations 7 times slower under jest.
const Math = globalThis.Math;
const Number = globalThis.Number;

/**
 * Paired buckets a metric needs before it can fail when `minSamples` is unset: a Kayenta window, and the first look
 * of the paired test's calibrated first-look boundary (FIRST_LOOK_BUCKETS; with another minimum there is no
 * first-look test and the e-process gets all of alpha). Fewer buckets tell too little about the autocorrelation.
 */
export const SEQUENTIAL_MIN_BUCKETS = 10;

/**
 * The boundaries of a paired metric's AR(1) test: alpha is spent in two parts, FIRST_LOOK_SHARE of it on a fixed-sample
 * test at the first look (exactly FIRST_LOOK_BUCKETS buckets; the e-value against a critical value calibrated by
 * simulation, `table`: FIRST_LOOK_CRITICAL for the narrow test, FIRST_LOOK_CRITICAL_WIDE for the wide one) and the rest
 * on the e-process at every later look (Ville's boundary 1 / (the rest)); the chance of any false crossing is at most
 * the sum. Only for a one-sided test whose minimum is the first look's bucket count, and only when the first look that
 * can fail the metric comes at exactly that count (a measurement whose window adds several buckets may pass it);
 * otherwise there is no first-look test and the e-process gets all of alpha (boundary 1 / alpha).
 */
export function pairedBoundaries(
  alpha: number,
  side: 'up' | 'down' | 'both',
  minBuckets: number,
  table: readonly { alpha: number; critical: number }[] = FIRST_LOOK_CRITICAL,
): { first: number | null; later: number } {
  const first = side !== 'both' && minBuckets === FIRST_LOOK_BUCKETS ? firstLookCritical(alpha * FIRST_LOOK_SHARE, table) : null;
  return { first, later: first === null ? 1 / alpha : 1 / (alpha * (1 - FIRST_LOOK_SHARE)) };
}

/** Series of one variant by metric index and query Id, as the analysis activity fetches them. */
export type VariantSeries = Record<number, Record<string, TimedSeries>>;

/**
 * The series ids of a counts metric: its value is `errors / requests` of two counts (Sum or SampleCount). Such a
 * metric is judged on the counts themselves, not on per-bucket rates (sparse errors make rates meaningless).
 */
export function countsQueries(metric: AnalysisMetric): { errors: string; requests: string } | undefined {
  const shape = metricShape(metric);
  const text = shape.bySource ? undefined : shape.expressions.find((x) => x.id === shape.result)?.expression;
  if (!text) return undefined;
  const e = parseExpression(text);
  if (e.op !== '/' || e.left.op !== 'ref' || e.right.op !== 'ref') return undefined;
  const isCount = (id: string): boolean => shape.series.find((x) => x.id === id)?.combine === 'additive';
  return isCount(e.left.id) && isCount(e.right.id) ? { errors: e.left.id, requests: e.right.id } : undefined;
}

function at(s: TimedSeries | undefined): Map<number, number> {
  const m = new Map<number, number>();
  s?.t.forEach((t, i) => {
    const v = s.v[i];
    if (v !== undefined && Number.isFinite(v)) m.set(t, v);
  });
  return m;
}

/** The metric's value per bucket timestamp (expressions evaluated per timestamp where their inputs exist). */
export function valuesByTime(metric: AnalysisMetric, byId: Record<string, TimedSeries> | undefined): Map<number, number> {
  return at(metricBuckets(metric, byId));
}

/** Buckets of a counts metric present on both sides; a missing error datapoint is 0 (ALBs emit no zero 5XX counts). */
export function countsBuckets(
  ids: { errors: string; requests: string },
  canary: Record<string, TimedSeries> | undefined,
  reference: Record<string, TimedSeries> | undefined,
): CountsBucket[] {
  const cReq = at(canary?.[ids.requests]);
  const rReq = at(reference?.[ids.requests]);
  const cErr = at(canary?.[ids.errors]);
  const rErr = at(reference?.[ids.errors]);
  const out: CountsBucket[] = [];
  for (const [t, canaryRequests] of cReq) {
    const referenceRequests = rReq.get(t);
    if (referenceRequests === undefined) continue;
    out.push({ t, canaryRequests, referenceRequests, canaryErrors: cErr.get(t) ?? 0, referenceErrors: rErr.get(t) ?? 0 });
  }
  return out;
}

/** Buckets of a per-bucket metric with a value on both sides at the same timestamp. */
export function pairedBuckets(
  metric: AnalysisMetric,
  canary: Record<string, TimedSeries> | undefined,
  reference: Record<string, TimedSeries> | undefined,
): PairedBucket[] {
  const c = valuesByTime(metric, canary);
  const r = valuesByTime(metric, reference);
  const out: PairedBucket[] = [];
  for (const [t, v] of c) {
    const ref = r.get(t);
    if (ref !== undefined) out.push({ t, canary: v, reference: ref });
  }
  return out;
}

function fmt(n: number | null): string {
  return n === null ? '∞' : String(Number(n.toPrecision(3)));
}

type ArLook = { eUp: number; eDown: number; boundary: number };

/**
 * The e-values of a paired metric's AR(1) tests at this look, wide and narrow (each ρ's likelihoods computed once for
 * both), and the boundary each is read against.
 */
function arLooks(
  ev: PairedEvidence,
  sides: { up: boolean; down: boolean; mu0Up: number; mu0Down: number; mean: number; side: 'up' | 'down' | 'both' },
  alpha: number,
  minBuckets: number,
): { wide: ArLook; narrow: ArLook } {
  const grids = [AR_RHO_GRID_WIDE, AR_RHO_GRID];
  const none = [0, 0];
  const ups = sides.up && sides.mean > sides.mu0Up ? arPairedEValues(ev, sides.mu0Up, sides.side, grids).map((e) => e ?? 1) : none;
  const downs = sides.down && sides.mean < sides.mu0Down ? arPairedEValues(ev, sides.mu0Down, sides.side, grids).map((e) => e ?? 1) : none;
  const boundaryOf = (table: readonly { alpha: number; critical: number }[]): number => {
    const plan = pairedBoundaries(alpha, sides.side, minBuckets, table);
    return plan.first === null || ev.firstLook !== FIRST_LOOK_BUCKETS ? 1 / alpha : ev.buckets === FIRST_LOOK_BUCKETS ? plan.first : plan.later;
  };
  return {
    wide: { eUp: ups[0] as number, eDown: downs[0] as number, boundary: boundaryOf(FIRST_LOOK_CRITICAL_WIDE) },
    narrow: { eUp: ups[1] as number, eDown: downs[1] as number, boundary: boundaryOf(FIRST_LOOK_CRITICAL) },
  };
}

/**
 * Judges one metric's accumulated evidence (the rule in full: docs/JUDGE.md): 'high' / 'low' and failed once the
 * e-value of that side has reached its boundary (for good: a crossed boundary stays crossed), 'nodata' below
 * `minSamples` paired buckets, else 'pass'. A paired metric fails on its wide test (ρ averaged up to 0.975,
 * AR_RHO_GRID_WIDE); where only the narrow test (ρ up to 0.9) has crossed, the canary is higher if the buckets are
 * not very autocorrelated and may be healthy if they are: 'high' / 'low' with `inconclusive` set and not failed, so a
 * person decides. Records the largest e-value so far in `ev.maxE` (the evidence object the caller just built by
 * absorbing buckets). `withInterval: false` skips the confidence interval (simulations that only need the decision).
 */
export function judgeEvidence(ev: MetricEvidence, opts: JudgeMetricOptions, alpha: number, grid: readonly number[], withInterval = true): MetricJudgement {
  const { allowedIncrease, allowedDecrease } = opts.effectSize;
  const up = opts.direction !== 'decrease';
  const down = opts.direction !== 'increase';
  // Two one-sided counts tests share alpha; the paired test is one-sided for a direction, the symmetric mixture for 'either'.
  const sideAlpha = ev.test === 'counts' && up && down ? alpha / 2 : alpha;
  const pairedSide = up && down ? 'both' : up ? 'up' : 'down';
  let boundary = 1 / sideAlpha;
  let eUp = 0;
  let eDown = 0;
  let effect: number | null;
  let interval: [number | null, number | null];
  let canaryMean: number | null;
  let baselineMean: number | null;
  /** The paired AR(1) test over the narrow ρ grid: where only it crosses, the verdict is inconclusive. */
  let narrow: ArLook | undefined;
  if (ev.test === 'counts') {
    if (up) eUp = countsEValue(ev.logLik, grid, allowedIncrease, 'up');
    if (down) eDown = countsEValue(ev.logLik, grid, allowedDecrease, 'down');
    canaryMean = ev.canaryRequests > 0 ? ev.canaryErrors / ev.canaryRequests : null;
    baselineMean = ev.referenceRequests > 0 ? ev.referenceErrors / ev.referenceRequests : null;
    effect = canaryMean !== null && baselineMean ? canaryMean / baselineMean : null;
    interval = withInterval ? countsInterval(ev.logLik, grid, alpha) : [null, null];
  } else {
    const refMean = ev.buckets > 0 ? ev.referenceSum / ev.buckets : 0;
    const mean = ev.buckets > 0 ? ev.sum / ev.buckets : 0;
    // The tolerance is relative to the reference's level: fail only beyond (allowed - 1) x reference mean.
    const mu0Up = (allowedIncrease - 1) * refMean;
    const mu0Down = (allowedDecrease - 1) * refMean;
    let lo: number | null = null;
    let hi: number | null = null;
    if (ev.first !== undefined) {
      const minBuckets = opts.minSamples ?? SEQUENTIAL_MIN_BUCKETS;
      // Which look is the first depends on the measurement schedule (how many buckets each window adds), not on values.
      if (ev.firstLook === undefined && ev.buckets >= minBuckets) ev.firstLook = ev.buckets;
      const sides = { up, down, mu0Up, mu0Down, mean, side: pairedSide } as const;
      const looks = arLooks(ev, sides, alpha, minBuckets);
      ({ eUp, eDown, boundary } = looks.wide);
      narrow = looks.narrow;
      // Each end from its one-sided wide test: at this look's boundary, or at half of alpha each for a two-sided metric.
      if (withInterval) [lo, hi] = arPairedInterval(ev, pairedSide === 'both' ? 2 / alpha : boundary, AR_RHO_GRID_WIDE);
    } else {
      // Evidence carried over from a release started before the AR(1) test: it goes on with the plug-in test it began with.
      const s = pairedSummary(ev);
      if (up && s.mean > mu0Up) eUp = pairedEValue(s, mu0Up, pairedSide);
      if (down && s.mean < mu0Down) eDown = pairedEValue(s, mu0Down, pairedSide);
      if (withInterval) [lo, hi] = pairedInterval(s, alpha);
    }
    canaryMean = ev.buckets > 0 ? refMean + mean : null;
    baselineMean = ev.buckets > 0 ? refMean : null;
    effect = refMean > 0 ? 1 + mean / refMean : null;
    interval = refMean > 0 ? [lo === null ? null : 1 + lo / refMean, hi === null ? null : 1 + hi / refMean] : [null, null];
  }
  const enough = ev.buckets >= (opts.minSamples ?? SEQUENTIAL_MIN_BUCKETS);
  const eValue = Math.max(eUp, eDown);
  const maxE = enough ? Math.max(ev.maxE, eValue) : ev.maxE;
  ev.maxE = maxE;
  const view: SequentialView = { test: ev.test, eValue, boundary, effect, interval, buckets: ev.buckets };
  // A crossed boundary stays crossed; the paired test's first look has its own, lower boundary, hence the flags.
  const crossed = (ev.test === 'paired' && ev.crossed === true) || maxE >= boundary || (enough && eValue >= boundary);
  if (crossed && ev.test === 'paired') ev.crossed = true;
  const narrowE = narrow ? Math.max(narrow.eUp, narrow.eDown) : 0;
  const narrowCrossed = ev.test === 'paired' && (ev.narrowCrossed === true || (narrow !== undefined && enough && narrowE >= narrow.boundary));
  if (narrowCrossed && ev.test === 'paired') ev.narrowCrossed = true;
  const base = {
    pValue: Math.min(1, 1 / maxE),
    ratioOfMeans: canaryMean !== null && baselineMean ? canaryMean / baselineMean : null,
    ratio: effect,
    cles: null,
    canaryMean,
    baselineMean,
    canaryCount: ev.buckets,
    baselineCount: ev.buckets,
    evidence: view,
  };
  const what = ev.test === 'counts' ? 'error-rate ratio' : 'ratio';
  const says = `${what} ${fmt(effect)} [${fmt(interval[0])}, ${fmt(interval[1])}], e-value ${fmt(eValue)} (boundary ${fmt(boundary)}) after ${ev.buckets} bucket(s)`;
  if (!enough) {
    return {
      ...base,
      verdict: 'nodata',
      failed: false,
      reason: `not enough data: ${ev.buckets} paired bucket(s), at least ${opts.minSamples ?? SEQUENTIAL_MIN_BUCKETS} needed`,
    };
  }
  if (!crossed && narrowCrossed && narrow) {
    const high = narrow.eUp >= narrow.eDown;
    return {
      ...base,
      verdict: high ? 'high' : 'low',
      failed: false,
      inconclusive: true,
      reason:
        `inconclusive, a person decides: ${high ? 'higher' : 'lower'} if the buckets' lag-1 correlation is at most 0.9 ` +
        `(e-value ${fmt(narrowE)} reached ${fmt(narrow.boundary)}), but a wander of correlation 0.95 could explain it: ${says}`,
    };
  }
  if (!crossed) return { ...base, verdict: 'pass', failed: false, reason: `no evidence of a regression yet: ${says}` };
  const high = eUp >= eDown;
  return { ...base, verdict: high ? 'high' : 'low', failed: true, reason: `boundary crossed: ${says}` };
}

/**
 * Adds a measurement's buckets to each metric's evidence and judges it (same order as the template's metrics).
 * alpha = 1 - confidence is split evenly over the metrics, so the canary's chance of failing while healthy stays at
 * most alpha over the whole release. Every failing metric is decisive (`criticalFailures`): the analysis fails at once.
 * A metric whose window was too thin (`thin[i]`: why, see thinTraffic) absorbs none of its buckets: its
 * evidence stays as it was and it has no verdict this time.
 */
export function judgeSequentially(
  template: AnalysisTemplate,
  judge: SequentialJudgeConfig,
  results: MetricResult[],
  series: { canary: VariantSeries; reference: VariantSeries },
  against: 'baseline' | 'stable',
  previous: JudgeEvidence | undefined,
  thin: readonly (string | undefined)[] = [],
): { metrics: MetricResult[]; score: NonNullable<Measurement['score']>; evidence: JudgeEvidence } {
  const alpha = (1 - judge.confidence) / template.metrics.length;
  const evidence: JudgeEvidence = {};
  const judged = template.metrics.map((m, i) => {
    const opts = m.judge ?? JudgeMetricOptions.parse({});
    const ids = countsQueries(m);
    const prev = previous?.[m.name];
    const thinWindow = thin[i];
    if (thinWindow !== undefined) {
      if (prev) evidence[m.name] = prev;
      return { name: m.name, judgement: thinJudgement(thinWindow) };
    }
    let ev: MetricEvidence;
    let grid: number[] = [];
    if (ids) {
      grid = countsGrid([opts.effectSize.allowedIncrease, opts.effectSize.allowedDecrease]);
      const start = prev?.test === 'counts' && prev.logLik.length === grid.length ? prev : emptyCounts(grid);
      ev = absorbCounts(start, grid, countsBuckets(ids, series.canary[i], series.reference[i]));
    } else {
      const start = prev?.test === 'paired' ? prev : emptyPaired();
      ev = absorbPaired(start, pairedBuckets(m, series.canary[i], series.reference[i]));
    }
    const judgement = judgeEvidence(ev, opts, alpha, grid);
    evidence[m.name] = ev;
    return { name: m.name, judgement };
  });
  const withData = judged.filter((j) => j.judgement.verdict !== 'nodata');
  const failing = judged.filter((j) => j.judgement.failed);
  const unsure = judged.filter((j) => j.judgement.inconclusive === true);
  const score = withData.length ? Math.round((1000 * (withData.length - failing.length)) / withData.length) / 10 : 0;
  // 'marginal' makes the measurement inconclusive (measurementVerdict): the analysis stops for a person, as for a
  // Mann-Whitney score between the thresholds.
  const verdict = failing.length ? 'fail' : unsure.length ? 'marginal' : withData.length ? 'pass' : 'nodata';
  const reason = failing.length
    ? `sequential judge: ${failing.map((f) => `${f.name} ${f.judgement.reason}`).join('; ')}`
    : unsure.length
      ? `sequential judge: ${unsure.map((f) => `${f.name} ${f.judgement.reason}`).join('; ')}`
      : withData.length
        ? `sequential judge: no boundary crossed (${withData.length}/${judged.length} metric(s) with data, alpha ${fmt(alpha)} each)`
        : 'sequential judge: no metric has enough paired buckets yet';
  return {
    metrics: results.map((r, i) => ({ ...r, stat: { ...(judged[i] as (typeof judged)[number]).judgement, against } })),
    score: { score, verdict, reason, criticalFailures: failing.map((f) => f.name) },
    evidence,
  };
}
