/**
 * `npm run judge:sim`: the judges under continuous monitoring, by seeded simulation. Each simulated release has
 * BUCKETS one-minute buckets; a judge looks at every bucket and the first failure ends the release. For each
 * scenario (AR(1) bucket noise with lag-1 correlation 0 / 0.5 / 0.8 / 0.9 / 0.95 over a shared diurnal trend, sparse
 * error counts, unequal traffic shares against stable, and small per-bucket error counts judged as values: discrete,
 * mostly 0 and 1, so nearly every comparison is a tie) it measures the false-positive rate of healthy canaries and the
 * detection delay (buckets until the fail) of +10% / +30% latency and 2x / 5x error rates. Prints a table and writes
 * bench/results/judge-sim.json. `JUDGE_SIM_RUNS` sets the healthy releases per scenario (default 1000),
 * `JUDGE_SIM_ONLY` runs only the scenarios whose name contains it.
 *
 * Judges: `sequential` (analysis/sequential*.ts, alpha 0.05 per metric), `mann-whitney` as Kayenta runs it (the judge
 * of analysis/judge.ts with default options over the last WINDOW buckets of each side at confidence 0.95, at every
 * bucket), and `mann-whitney=`: the Mann-Whitney test alone at the largest alpha whose false-positive rate in that
 * scenario is at most the sequential judge's there, for a delay comparison at the same false-positive rate.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JudgeMetricOptions } from '../common/judge-config';
import { judgeMetric } from '../analysis/judge';
import { mannWhitneyU } from '../analysis/mann-whitney';
import { judgeEvidence } from '../analysis/sequential-judge';
import { absorbCounts, absorbPaired, countsGrid, emptyCounts, emptyPaired, type CountsEvidence, type PairedEvidence } from '../analysis/sequential';
import { mulberry32 } from '../dev/simulator';
import { gaussian } from '../test/support/noise';

const BUCKETS = 60;
const WINDOW = 10;
const HEALTHY_RUNS = Number(process.env.JUDGE_SIM_RUNS ?? 1000);
const BAD_RUNS = Math.max(50, Math.round(HEALTHY_RUNS / 5));

interface Scenario {
  name: string;
  /** 'errors': errors over requests (the counts test); 'counts': the per-bucket error count as a value (the paired test). */
  kind: 'latency' | 'errors' | 'counts';
  /** Seeds of its healthy and regressed runs are 1000 / 2000 / 3000 + seed; fixed per scenario so rows stay comparable. */
  seed: number;
  rho: number;
  /** Errors per request of a healthy variant (0.002 unless set). */
  errorRate?: number;
  /** Canary's and reference's traffic share. */
  shares: [number, number];
  effects: [number, number];
}

const SCENARIOS: Scenario[] = [
  { name: 'latency rho 0, vs baseline', kind: 'latency', seed: 0, rho: 0, shares: [0.1, 0.1], effects: [1.1, 1.3] },
  { name: 'latency rho 0.5, vs baseline', kind: 'latency', seed: 1, rho: 0.5, shares: [0.1, 0.1], effects: [1.1, 1.3] },
  { name: 'latency rho 0.8, vs baseline', kind: 'latency', seed: 2, rho: 0.8, shares: [0.1, 0.1], effects: [1.1, 1.3] },
  { name: 'latency rho 0.9, vs baseline', kind: 'latency', seed: 6, rho: 0.9, shares: [0.1, 0.1], effects: [1.1, 1.3] },
  { name: 'latency rho 0.95, vs baseline', kind: 'latency', seed: 7, rho: 0.95, shares: [0.1, 0.1], effects: [1.1, 1.3] },
  { name: 'latency rho 0.5, vs stable 10/90', kind: 'latency', seed: 3, rho: 0.5, shares: [0.1, 0.9], effects: [1.1, 1.3] },
  { name: 'errors sparse, vs baseline', kind: 'errors', seed: 4, rho: 0.5, shares: [0.1, 0.1], effects: [2, 5] },
  { name: 'errors sparse, vs stable 10/90', kind: 'errors', seed: 5, rho: 0.5, shares: [0.1, 0.9], effects: [2, 5] },
  // The issue-29 shape: a 5XX count per bucket (about 0.5 a bucket on each side) judged as a per-bucket value.
  { name: 'error counts discrete, ties', kind: 'counts', seed: 8, rho: 0.5, errorRate: 0.005, shares: [0.1, 0.1], effects: [2, 5] },
];
const ONLY = process.env.JUDGE_SIM_ONLY;

type Rand = () => number;

function poisson(rand: Rand, mean: number): number {
  if (mean > 50) return Math.max(0, Math.round(mean + Math.sqrt(mean) * gaussian(rand)));
  const limit = Math.exp(-mean);
  let k = 0;
  for (let p = rand(); p > limit; p *= rand()) k++;
  return k;
}

/** Stationary AR(1) noise with unit variance. */
function ar1(rand: Rand, rho: number, n: number): number[] {
  const out: number[] = [];
  let x = gaussian(rand);
  for (let i = 0; i < n; i++) {
    out.push(x);
    x = rho * x + Math.sqrt(1 - rho * rho) * gaussian(rand);
  }
  return out;
}

interface Bucket {
  t: number;
  canary: number;
  reference: number;
  canaryErrors: number;
  canaryRequests: number;
  referenceErrors: number;
  referenceRequests: number;
}

/**
 * One release's buckets. Latency: 100 ms times a shared diurnal factor (and a shared AR(1) load term), plus per-
 * variant AR(1) noise whose sd shrinks with the variant's traffic (10 ms at a 10% share). Errors: Poisson counts at
 * 0.2% of Poisson requests (1,000 a bucket in all), times a shared burst factor.
 */
function release(s: Scenario, effect: number, rand: Rand): Bucket[] {
  const phase = rand() * 2 * Math.PI;
  const shared = ar1(rand, s.rho, BUCKETS);
  const nc = ar1(rand, s.rho, BUCKETS);
  const nr = ar1(rand, s.rho, BUCKETS);
  const sd = (share: number): number => 10 * Math.sqrt(0.1 / share);
  return Array.from({ length: BUCKETS }, (_, t) => {
    const diurnal = 1 + 0.3 * Math.sin(phase + (2 * Math.PI * t) / 240);
    const load = 100 * diurnal + 5 * (shared[t] ?? 0);
    const canaryRequests = poisson(rand, 1000 * s.shares[0] * diurnal);
    const referenceRequests = poisson(rand, 1000 * s.shares[1] * diurnal);
    const burst = Math.exp(0.5 * (shared[t] ?? 0) - 0.125);
    const rate = (s.errorRate ?? 0.002) * burst;
    const bad = s.kind === 'latency' ? 1 : effect;
    const canaryErrors = poisson(rand, canaryRequests * rate * bad);
    const referenceErrors = poisson(rand, referenceRequests * rate);
    const counts = s.kind === 'counts';
    return {
      t: t * 60_000,
      canary: counts ? canaryErrors : load * (s.kind === 'latency' ? effect : 1) + sd(s.shares[0]) * (nc[t] ?? 0),
      reference: counts ? referenceErrors : load + sd(s.shares[1]) * (nr[t] ?? 0),
      canaryErrors,
      canaryRequests,
      referenceErrors,
      referenceRequests,
    };
  });
}

const opts = JudgeMetricOptions.parse({});

/**
 * Bucket indices (1-based) at which the sequential judge first fails and first says inconclusive (the release would
 * stop for a person there; the simulation goes on, as after a person's resume, to see whether it fails later), or null.
 */
function sequentialPath(s: Scenario, buckets: Bucket[]): { fail: number | null; inconclusive: number | null } {
  const cached = seqCache.get(buckets);
  if (cached) return cached;
  const grid = countsGrid([1]);
  let counts: CountsEvidence = emptyCounts(grid);
  let paired: PairedEvidence = emptyPaired();
  let inconclusive: number | null = null;
  let fail: number | null = null;
  for (let i = 0; i < buckets.length && fail === null; i++) {
    const b = buckets[i] as Bucket;
    let j;
    if (s.kind === 'errors') {
      counts = absorbCounts(counts, grid, [b]);
      j = judgeEvidence(counts, opts, 0.05, grid, false);
    } else {
      paired = absorbPaired(paired, [b]);
      j = judgeEvidence(paired, opts, 0.05, grid, false);
    }
    if (j.failed) fail = i + 1;
    else if (j.inconclusive && inconclusive === null) inconclusive = i + 1;
  }
  const out = { fail, inconclusive };
  seqCache.set(buckets, out);
  return out;
}

const seqCache = new WeakMap<Bucket[], { fail: number | null; inconclusive: number | null }>();

/** Bucket index at which the sequential judge fails, or null. */
function sequentialFailsAt(s: Scenario, buckets: Bucket[]): number | null {
  return sequentialPath(s, buckets).fail;
}

/** Bucket index at which the sequential judge stops the release: fails or leaves it to a person, or null. */
function sequentialStopsAt(s: Scenario, buckets: Bucket[]): number | null {
  const { fail, inconclusive } = sequentialPath(s, buckets);
  return inconclusive === null ? fail : fail === null ? inconclusive : Math.min(fail, inconclusive);
}

interface MannWhitneyLook {
  at: number;
  p: number;
  higher: boolean;
  /** The Mann-Whitney judge's own verdict at confidence 0.95 (its tolerance and effect measure included). */
  judgeFails: boolean;
}

/** p-value and direction of a Kayenta-style Mann-Whitney over the last WINDOW buckets, at every bucket from WINDOW on. */
function mannWhitneyPath(s: Scenario, buckets: Bucket[]): MannWhitneyLook[] {
  const value = (b: Bucket, side: 'c' | 'r'): number =>
    s.kind !== 'errors'
      ? side === 'c'
        ? b.canary
        : b.reference
      : side === 'c'
        ? b.canaryErrors / Math.max(1, b.canaryRequests)
        : b.referenceErrors / Math.max(1, b.referenceRequests);
  const out: MannWhitneyLook[] = [];
  for (let i = WINDOW; i <= buckets.length; i++) {
    const w = buckets.slice(i - WINDOW, i);
    const c = w.map((b) => value(b, 'c'));
    const r = w.map((b) => value(b, 'r'));
    const test = mannWhitneyU(c, r);
    out.push({ at: i, p: test.pValue, higher: test.uX > test.uY, judgeFails: test.pValue < 0.05 && judgeMetric(c, r, opts, 0.95).failed });
  }
  return out;
}

const mwCache = new WeakMap<Bucket[], MannWhitneyLook[]>();

/** The smallest p-value (canary higher) along a release's Mann-Whitney checks: it fails at any alpha above this. */
function mannWhitneyMinP(s: Scenario, buckets: Bucket[]): number {
  mannWhitneyFailsAt(s, buckets, 0);
  return Math.min(1.01, ...(mwCache.get(buckets) ?? []).filter((x) => x.higher).map((x) => x.p));
}

/**
 * The largest alpha at which at most `rate` of the healthy releases fail: the (k+1)-th smallest minimum p-value,
 * k = floor(rate x releases) (failing means p < alpha, so exactly the k smallest fail, barring ties).
 */
function calibratedAlpha(minP: number[], rate: number): number {
  const sorted = [...minP].sort((a, b) => a - b);
  const k = Math.floor(rate * sorted.length + 1e-9);
  return Math.min(1, sorted[k] ?? 1);
}

/** Bucket index at which the Mann-Whitney test at alpha fails (canary higher), or null. */
function mannWhitneyFailsAt(s: Scenario, buckets: Bucket[], alpha: number): number | null {
  let path = mwCache.get(buckets);
  if (!path) mwCache.set(buckets, (path = mannWhitneyPath(s, buckets)));
  return path.find((x) => x.p < alpha && x.higher)?.at ?? null;
}

/** Bucket index at which the Mann-Whitney judge (analysis/judge.ts, confidence 0.95, default options) fails, or null. */
function mannWhitneyJudgeFailsAt(s: Scenario, buckets: Bucket[]): number | null {
  mannWhitneyFailsAt(s, buckets, 0);
  return mwCache.get(buckets)?.find((x) => x.judgeFails)?.at ?? null;
}

interface Delay {
  detected: number;
  median: number | null;
  mean: number | null;
}

function delay(at: (number | null)[]): Delay {
  const hits = at.filter((x): x is number => x !== null);
  // Median over all regressed releases, a miss counting as later than any catch: a median over the caught ones alone
  // would flatter a judge that catches few (only its lucky early catches count).
  const all = at.map((x) => x ?? Number.POSITIVE_INFINITY).sort((a, b) => a - b);
  const median = all[Math.floor((all.length - 1) / 2)] as number;
  return {
    detected: hits.length / at.length,
    median: Number.isFinite(median) ? median : null,
    mean: hits.length ? hits.reduce((a, b) => a + b, 0) / hits.length : null,
  };
}

interface Row {
  scenario: string;
  judge: string;
  alpha: number;
  falsePositiveRate: number;
  /** Healthy releases the judge stopped for a person (inconclusive) before any failure; sequential only. */
  inconclusiveRate?: number;
  small: Delay;
  large: Delay;
  /** Sequential only: delay until it fails or stops for a person. */
  smallStop?: Delay;
  largeStop?: Delay;
}

function runs(s: Scenario, effect: number, n: number, seed: number): Bucket[][] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, () => release(s, effect, rand));
}

function main(): void {
  const started = Date.now();
  const rows: Row[] = [];
  const notes: string[] = [];
  SCENARIOS.filter((s) => !ONLY || s.name.includes(ONLY)).forEach((s) => {
    const healthy = runs(s, 1, HEALTHY_RUNS, 1000 + s.seed);
    const small = runs(s, s.effects[0], BAD_RUNS, 2000 + s.seed);
    const large = runs(s, s.effects[1], BAD_RUNS, 3000 + s.seed);
    const judges: { judge: string; alpha: number; failsAt: (b: Bucket[]) => number | null }[] = [
      { judge: 'sequential', alpha: 0.05, failsAt: (b) => sequentialFailsAt(s, b) },
      { judge: 'mann-whitney', alpha: 0.05, failsAt: (b) => mannWhitneyJudgeFailsAt(s, b) },
    ];
    // Like-for-like: Mann-Whitney at the alpha that gives it the false-positive rate the sequential judge had here.
    const seqRate = healthy.filter((b) => sequentialFailsAt(s, b) !== null).length / healthy.length;
    const minPs = healthy.map((b) => mannWhitneyMinP(s, b));
    const same = calibratedAlpha(minPs, seqRate);
    const floor = Math.min(...minPs);
    if (same === floor && seqRate > 0) {
      // Ties at the smallest p-value a 10-bucket window can give (complete separation): no alpha has that rate.
      const share = minPs.filter((p) => p === floor).length / minPs.length;
      notes.push(
        `${s.name}: no Mann-Whitney alpha has a false-positive rate near ${seqRate.toFixed(3)}: ${(share * 100).toFixed(1)}% of healthy releases reach its smallest possible p-value ${floor.toPrecision(2)} (complete separation of the window), so the calibrated judge never fails`,
      );
    }
    judges.push({ judge: 'mann-whitney=', alpha: same, failsAt: (b) => mannWhitneyFailsAt(s, b, same) });
    for (const j of judges) {
      const sequential = j.judge === 'sequential';
      rows.push({
        scenario: s.name,
        judge: j.judge,
        alpha: j.alpha,
        falsePositiveRate: healthy.filter((b) => j.failsAt(b) !== null).length / healthy.length,
        small: delay(small.map(j.failsAt)),
        large: delay(large.map(j.failsAt)),
        ...(sequential
          ? {
              inconclusiveRate:
                healthy.filter((b) => sequentialStopsAt(s, b) !== null && sequentialFailsAt(s, b) !== sequentialStopsAt(s, b)).length / healthy.length,
              smallStop: delay(small.map((b) => sequentialStopsAt(s, b))),
              largeStop: delay(large.map((b) => sequentialStopsAt(s, b))),
            }
          : {}),
      });
    }
    process.stderr.write(`judge:sim ${s.name} done (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  });

  const d = (x: Delay, stop?: Delay): string =>
    `${x.median ?? `>${BUCKETS}`} (${Math.round(x.detected * 100)}%)` +
    (stop && stop.detected !== x.detected ? `; stops ${stop.median ?? `>${BUCKETS}`} (${Math.round(stop.detected * 100)}%)` : '');
  const header = ['scenario', 'judge', 'alpha', 'false positives', 'inconclusive', 'delay +10% / 2x', 'delay +30% / 5x'];
  const table = rows.map((r) => [
    r.scenario,
    r.judge,
    String(Number(r.alpha.toPrecision(2))),
    r.falsePositiveRate.toFixed(3),
    r.inconclusiveRate === undefined ? '-' : r.inconclusiveRate.toFixed(3),
    d(r.small, r.smallStop),
    d(r.large, r.largeStop),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => (t[i] ?? '').length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(`${HEALTHY_RUNS} healthy and ${BAD_RUNS} regressed releases per scenario, ${BUCKETS} buckets each, checked at every bucket;`);
  console.log(
    `delay: median buckets until fail over all regressed releases (>${BUCKETS}: most not caught), and the share caught within the horizon; stops: the same counting inconclusive verdicts (the release stops for a person) as well; inconclusive: healthy releases stopped for a person before any failure; mann-whitney=: alpha calibrated to the sequential judge's false-positive rate in that scenario`,
  );
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const t of table) console.log(line(t));
  for (const n of notes) console.log(`note: ${n}`);
  if (ONLY) return;
  const out = path.join(__dirname, 'results', 'judge-sim.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ buckets: BUCKETS, window: WINDOW, healthyRuns: HEALTHY_RUNS, badRuns: BAD_RUNS, rows, notes }, null, 2));
  console.log(`wrote ${path.relative(process.cwd(), out)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main();
