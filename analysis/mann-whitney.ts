/**
 * The Mann-Whitney U test (exact without ties up to 50×50, normal approximation with tie and continuity
 * correction otherwise) and the normal distribution it needs. Pure and deterministic; no I/O, no Node built-ins.
 */

// Module-local, read once: inside a vm context (jest's test environment; the workflow sandbox is one too) each lookup
// of a global goes through the context's interceptor, which made the judge's simulations 7 times slower under jest.
const Math = globalThis.Math;
const Number = globalThis.Number;

/** Result of a two-sided Mann-Whitney U test of x against y. */
export interface MannWhitneyResult {
  /** The conventional statistic, min(uX, uY). */
  u: number;
  /** Pairs (x, y) with x > y, ties counting one half (R's W, scipy's U1). */
  uX: number;
  /** Pairs (x, y) with y > x, ties counting one half; uX + uY = n1 n2. */
  uY: number;
  /** Continuity-corrected standard score of uX (tie-corrected); positive when x tends to be larger. */
  z: number;
  pValue: number;
  method: 'exact' | 'normal';
}

/**
 * Largest sample size for which the exact null distribution is computed; beyond it the normal approximation
 * is already accurate, and the exact table would grow as n1^2 n2^2.
 */
const EXACT_MAX_SAMPLES = 50;

/**
 * Two-sided Mann-Whitney U (Wilcoxon rank-sum) test.
 *
 * Without ties and with both samples of at most 50 points the p-value comes from the exact null distribution
 * (as R `wilcox.test(x, y, exact = TRUE)` and scipy `mannwhitneyu(x, y, method='exact')`); otherwise from the
 * normal approximation with tie and continuity correction (as R `wilcox.test(x, y, exact = FALSE, correct = TRUE)`
 * and scipy `mannwhitneyu(x, y, method='asymptotic', use_continuity=True)`). Ties get average ranks.
 *
 * @throws RangeError when a sample is empty or holds NaN: clean samples first (see {@link judgeMetric}).
 */
export function mannWhitneyU(x: readonly number[], y: readonly number[]): MannWhitneyResult {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw new RangeError(`mannWhitneyU needs two non-empty samples (got ${n1} and ${n2} points)`);
  if (x.some(Number.isNaN) || y.some(Number.isNaN)) throw new RangeError('mannWhitneyU cannot rank NaN; remove or replace missing points first');

  const { ranks, tieTerm } = averageRanks([...x, ...y]);
  let rankSumX = 0;
  for (let i = 0; i < n1; i++) rankSumX += ranks[i] ?? 0;
  const uX = rankSumX - (n1 * (n1 + 1)) / 2;
  const uY = n1 * n2 - uX;

  const n = n1 + n2;
  const mean = (n1 * n2) / 2;
  const sigma = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  const deviation = uX - mean;
  // Half a unit of continuity correction towards the mean, never across it.
  const corrected = Math.sign(deviation) * Math.max(0, Math.abs(deviation) - 0.5);
  const z = sigma > 0 ? corrected / sigma : 0;

  if (tieTerm === 0 && n1 <= EXACT_MAX_SAMPLES && n2 <= EXACT_MAX_SAMPLES) {
    const pValue = Math.min(1, 2 * exactUpperTail(n1, n2, Math.max(uX, uY)));
    return { u: Math.min(uX, uY), uX, uY, z, pValue, method: 'exact' };
  }
  // All points equal: no evidence of any difference (the normal formula would divide by zero).
  const pValue = sigma > 0 ? Math.min(1, 2 * normalTails(Math.abs(z)).upper) : 1;
  return { u: Math.min(uX, uY), uX, uY, z, pValue, method: 'normal' };
}

/**
 * Common-language effect size: P(X > Y) + 0.5 P(X = Y) for a random x from `x` and y from `y`, i.e.
 * uX / (n1 n2). 0.5 means neither tends to be larger; 1 means every x exceeds every y.
 *
 * @throws RangeError as {@link mannWhitneyU}.
 */
export function commonLanguageEffectSize(x: readonly number[], y: readonly number[]): number {
  return mannWhitneyU(x, y).uX / (x.length * y.length);
}

/** Standard normal distribution function P(Z <= x). */
export function normalCdf(x: number): number {
  return normalTails(x).lower;
}

/** Average ranks (1-based) of `values`, and the tie term sum(t^3 - t) over groups of t equal values. */
function averageRanks(values: readonly number[]): { ranks: number[]; tieTerm: number } {
  const order = values.map((v, i) => ({ v, i })).sort((a, b) => a.v - b.v || a.i - b.i);
  const ranks = new Array<number>(values.length).fill(0);
  let tieTerm = 0;
  let start = 0;
  while (start < order.length) {
    let end = start;
    while (end + 1 < order.length && order[end + 1]?.v === order[start]?.v) end++;
    const rank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) {
      const entry = order[k];
      if (entry) ranks[entry.i] = rank;
    }
    const t = end - start + 1;
    tieTerm += t * t * t - t;
    start = end + 1;
  }
  return { ranks, tieTerm };
}

/**
 * P(U >= u) under the null hypothesis, for samples of m and n distinct values. Builds the distribution of U
 * by conditioning on whether the largest of the m + n points is an x (probability m / (m + n), adding n to U)
 * or a y; working in probabilities rather than counts keeps every term positive and in range, so tails as
 * small as 1 / C(100, 50) keep full relative precision.
 */
function exactUpperTail(m: number, n: number, u: number): number {
  let previous: Float64Array[] = Array.from({ length: n + 1 }, () => Float64Array.of(1));
  for (let i = 1; i <= m; i++) {
    const current: Float64Array[] = [Float64Array.of(1)];
    for (let j = 1; j <= n; j++) {
      const largestIsX = previous[j] ?? Float64Array.of(1);
      const largestIsY = current[j - 1] ?? Float64Array.of(1);
      const px = i / (i + j);
      const py = j / (i + j);
      const dist = new Float64Array(i * j + 1);
      for (let k = 0; k < largestIsX.length; k++) dist[k + j] = (largestIsX[k] ?? 0) * px;
      for (let k = 0; k < largestIsY.length; k++) dist[k] = (dist[k] ?? 0) + (largestIsY[k] ?? 0) * py;
      current.push(dist);
    }
    previous = current;
  }
  const dist = previous[n] ?? Float64Array.of(1);
  // Smallest terms first, so the tail sum loses nothing to rounding.
  let tail = 0;
  for (let k = dist.length - 1; k >= Math.ceil(u); k--) tail += dist[k] ?? 0;
  return tail;
}

// W. J. Cody's rational Chebyshev approximations of the normal distribution (ACM TOMS 715), as in R's pnorm:
// relative error near 1e-16 in both tails, which p-values of 1e-12 and below need. The constants are kept as
// published, with more digits than a double holds.
/* eslint-disable no-loss-of-precision */
const SMALL_LEAD = 0.065682337918207449113;
const SMALL_NUM = [2.2352520354606839287, 161.02823106855587881, 1067.6894854603709582];
const SMALL_NUM_LAST = 18154.981253343561249;
const SMALL_DEN = [47.20258190468824187, 976.09855173777669322, 10260.932208618978205];
const SMALL_DEN_LAST = 45507.789335026729956;
const MID_LEAD = 1.0765576773720192317e-8;
const MID_NUM = [
  0.39894151208813466764, 8.8831497943883759412, 93.506656132177855979, 597.27027639480026226, 2494.5375852903726711, 6848.1904505362823326,
  11602.651437647350124,
];
const MID_NUM_LAST = 9842.7148383839780218;
const MID_DEN = [
  22.266688044328115691, 235.38790178262499861, 1519.377599407554805, 6485.558298266760755, 18615.571640885098091, 34900.952721145977266, 38912.003286093271411,
];
const MID_DEN_LAST = 19685.429676859990727;
const LARGE_LEAD = 0.02307344176494017303;
const LARGE_NUM = [0.21589853405795699, 0.1274011611602473639, 0.022235277870649807, 0.001421619193227893466];
const LARGE_NUM_LAST = 2.9112874951168792e-5;
const LARGE_DEN = [1.28426009614491121, 0.468238212480865118, 0.0659881378689285515, 0.00378239633202758244];
const LARGE_DEN_LAST = 7.29751555083966205e-5;
const ONE_OVER_SQRT_2PI = 0.398942280401432677939946059934;
const SQRT_32 = 5.65685424949238019520675489684;
const QUARTILE_Z = 0.67448975;
/** Beyond this |x| the smaller tail underflows to 0. */
const UNDERFLOW_Z = 37.5193;
/* eslint-enable no-loss-of-precision */

/** P(Z <= x) and P(Z > x), each computed directly so neither loses precision to 1 - (the other). */
function normalTails(x: number): { lower: number; upper: number } {
  if (Number.isNaN(x)) return { lower: Number.NaN, upper: Number.NaN };
  const y = Math.abs(x);
  if (y <= QUARTILE_Z) {
    const xsq = x * x;
    const num = SMALL_NUM.reduce((acc, c) => (acc + c) * xsq, SMALL_LEAD * xsq);
    const den = SMALL_DEN.reduce((acc, c) => (acc + c) * xsq, xsq);
    const half = (x * (num + SMALL_NUM_LAST)) / (den + SMALL_DEN_LAST);
    return { lower: 0.5 + half, upper: 0.5 - half };
  }
  let smaller: number;
  if (y <= SQRT_32) {
    const num = MID_NUM.reduce((acc, c) => (acc + c) * y, MID_LEAD * y);
    const den = MID_DEN.reduce((acc, c) => (acc + c) * y, y);
    smaller = gaussianFactor(y) * ((num + MID_NUM_LAST) / (den + MID_DEN_LAST));
  } else if (y < UNDERFLOW_Z) {
    const xsq = 1 / (y * y);
    const num = LARGE_NUM.reduce((acc, c) => (acc + c) * xsq, LARGE_LEAD * xsq);
    const den = LARGE_DEN.reduce((acc, c) => (acc + c) * xsq, xsq);
    const r = (xsq * (num + LARGE_NUM_LAST)) / (den + LARGE_DEN_LAST);
    smaller = gaussianFactor(y) * ((ONE_OVER_SQRT_2PI - r) / y);
  } else {
    smaller = 0;
  }
  return x > 0 ? { lower: 1 - smaller, upper: smaller } : { lower: smaller, upper: 1 - smaller };
}

/** exp(-y^2 / 2), split so the rounding error of y^2 does not get amplified by the exponential. */
function gaussianFactor(y: number): number {
  const ySixteenths = Math.trunc(y * 16) / 16;
  const del = (y - ySixteenths) * (y + ySixteenths);
  return Math.exp(-ySixteenths * ySixteenths * 0.5) * Math.exp(-del * 0.5);
}

export { mannWhitneyMinSamples } from '../common/judge-config';

/**
 * Hodges-Lehmann estimate of the shift of x against y: the median of all pairwise differences x_i - y_j. The
 * location shift that goes with the Mann-Whitney test; unlike a difference of means, one spike cannot move it far.
 */
export function hodgesLehmannShift(x: readonly number[], y: readonly number[]): number {
  const diffs: number[] = [];
  for (const a of x) for (const b of y) diffs.push(a - b);
  return median(diffs);
}

/** Median (the mean of the two middle values of an even-sized sample); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
