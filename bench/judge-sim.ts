/**
 * `npm run judge:sim`: the judges under continuous monitoring, by seeded simulation. Each simulated release has
 * BUCKETS one-minute buckets; a judge looks at every bucket and the first failure ends the release. For each
 * scenario (AR(1) bucket noise with lag-1 correlation 0 / 0.5 / 0.8 over a shared diurnal trend, sparse error counts,
 * unequal traffic shares against stable) it measures the false-positive rate of healthy canaries and the detection
 * delay (buckets until the fail) of +10% / +30% latency and 2x / 5x error rates. Prints a table and writes
 * bench/results/judge-sim.json.
 *
 * Judges: `sequential` (analysis/sequential*.ts, alpha 0.05 per metric), `mann-whitney` as Kayenta runs it (the last
 * WINDOW buckets of each side at confidence 0.95 at every bucket), and `mann-whitney=`: the same at the largest alpha
 * whose false-positive rate in that scenario is at most the sequential judge's there, for a delay comparison at the
 * same false-positive rate.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JudgeMetricOptions } from '../common/judge-config';
import { mannWhitneyU } from '../analysis/mann-whitney';
import { judgeEvidence } from '../analysis/sequential-judge';
import { absorbCounts, absorbPaired, countsGrid, emptyCounts, emptyPaired, type CountsEvidence, type PairedEvidence } from '../analysis/sequential';
import { mulberry32 } from '../dev/simulator';

const BUCKETS = 60;
const WINDOW = 10;
const HEALTHY_RUNS = Number(process.env.JUDGE_SIM_RUNS ?? 1000);
const BAD_RUNS = Math.max(50, Math.round(HEALTHY_RUNS / 5));

interface Scenario {
  name: string;
  kind: 'latency' | 'errors';
  rho: number;
  /** Canary's and reference's traffic share. */
  shares: [number, number];
  effects: [number, number];
}

const SCENARIOS: Scenario[] = [
  { name: 'latency rho 0, vs baseline', kind: 'latency', rho: 0, shares: [0.1, 0.1], effects: [1.1, 1.3] },
  { name: 'latency rho 0.5, vs baseline', kind: 'latency', rho: 0.5, shares: [0.1, 0.1], effects: [1.1, 1.3] },
  { name: 'latency rho 0.8, vs baseline', kind: 'latency', rho: 0.8, shares: [0.1, 0.1], effects: [1.1, 1.3] },
  { name: 'latency rho 0.5, vs stable 10/90', kind: 'latency', rho: 0.5, shares: [0.1, 0.9], effects: [1.1, 1.3] },
  { name: 'errors sparse, vs baseline', kind: 'errors', rho: 0.5, shares: [0.1, 0.1], effects: [2, 5] },
  { name: 'errors sparse, vs stable 10/90', kind: 'errors', rho: 0.5, shares: [0.1, 0.9], effects: [2, 5] },
];

type Rand = () => number;

function gaussian(rand: Rand): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

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
    const rate = 0.002 * burst;
    const bad = s.kind === 'errors' ? effect : 1;
    return {
      t: t * 60_000,
      canary: load * (s.kind === 'latency' ? effect : 1) + sd(s.shares[0]) * (nc[t] ?? 0),
      reference: load + sd(s.shares[1]) * (nr[t] ?? 0),
      canaryErrors: poisson(rand, canaryRequests * rate * bad),
      canaryRequests,
      referenceErrors: poisson(rand, referenceRequests * rate),
      referenceRequests,
    };
  });
}

const opts = JudgeMetricOptions.parse({});

/** Bucket index (1-based) at which the sequential judge fails, or null. */
function sequentialFailsAt(s: Scenario, buckets: Bucket[]): number | null {
  const grid = countsGrid([1]);
  let counts: CountsEvidence = emptyCounts(grid);
  let paired: PairedEvidence = emptyPaired();
  for (let i = 0; i < buckets.length; i++) {
    const b = buckets[i] as Bucket;
    if (s.kind === 'errors') {
      counts = absorbCounts(counts, grid, [b]);
      if (judgeEvidence(counts, opts, 0.05, grid, false).failed) return i + 1;
    } else {
      paired = absorbPaired(paired, [b]);
      if (judgeEvidence(paired, opts, 0.05, grid, false).failed) return i + 1;
    }
  }
  return null;
}

/** p-value and direction of a Kayenta-style Mann-Whitney over the last WINDOW buckets, at every bucket from WINDOW on. */
function mannWhitneyPath(s: Scenario, buckets: Bucket[]): { at: number; p: number; higher: boolean }[] {
  const value = (b: Bucket, side: 'c' | 'r'): number =>
    s.kind === 'latency'
      ? side === 'c'
        ? b.canary
        : b.reference
      : side === 'c'
        ? b.canaryErrors / Math.max(1, b.canaryRequests)
        : b.referenceErrors / Math.max(1, b.referenceRequests);
  const out: { at: number; p: number; higher: boolean }[] = [];
  for (let i = WINDOW; i <= buckets.length; i++) {
    const w = buckets.slice(i - WINDOW, i);
    const r = mannWhitneyU(
      w.map((b) => value(b, 'c')),
      w.map((b) => value(b, 'r')),
    );
    out.push({ at: i, p: r.pValue, higher: r.uX > r.uY });
  }
  return out;
}

const mwCache = new WeakMap<Bucket[], { at: number; p: number; higher: boolean }[]>();

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

/** Bucket index at which the Mann-Whitney judge at alpha fails (canary higher), or null. */
function mannWhitneyFailsAt(s: Scenario, buckets: Bucket[], alpha: number): number | null {
  let path = mwCache.get(buckets);
  if (!path) mwCache.set(buckets, (path = mannWhitneyPath(s, buckets)));
  return path.find((x) => x.p < alpha && x.higher)?.at ?? null;
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
  small: Delay;
  large: Delay;
}

function runs(s: Scenario, effect: number, n: number, seed: number): Bucket[][] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, () => release(s, effect, rand));
}

function main(): void {
  const started = Date.now();
  const rows: Row[] = [];
  const notes: string[] = [];
  SCENARIOS.forEach((s, si) => {
    const healthy = runs(s, 1, HEALTHY_RUNS, 1000 + si);
    const small = runs(s, s.effects[0], BAD_RUNS, 2000 + si);
    const large = runs(s, s.effects[1], BAD_RUNS, 3000 + si);
    const judges: { judge: string; alpha: number; failsAt: (b: Bucket[]) => number | null }[] = [
      { judge: 'sequential', alpha: 0.05, failsAt: (b) => sequentialFailsAt(s, b) },
      { judge: 'mann-whitney', alpha: 0.05, failsAt: (b) => mannWhitneyFailsAt(s, b, 0.05) },
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
      rows.push({
        scenario: s.name,
        judge: j.judge,
        alpha: j.alpha,
        falsePositiveRate: healthy.filter((b) => j.failsAt(b) !== null).length / healthy.length,
        small: delay(small.map(j.failsAt)),
        large: delay(large.map(j.failsAt)),
      });
    }
    process.stderr.write(`judge:sim ${s.name} done (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  });

  const d = (x: Delay): string => `${x.median ?? `>${BUCKETS}`} (${Math.round(x.detected * 100)}%)`;
  const header = ['scenario', 'judge', 'alpha', 'false positives', 'delay +10% / 2x', 'delay +30% / 5x'];
  const table = rows.map((r) => [r.scenario, r.judge, String(Number(r.alpha.toPrecision(2))), r.falsePositiveRate.toFixed(3), d(r.small), d(r.large)]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => (t[i] ?? '').length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(`${HEALTHY_RUNS} healthy and ${BAD_RUNS} regressed releases per scenario, ${BUCKETS} buckets each, checked at every bucket;`);
  console.log(
    `delay: median buckets until fail over all regressed releases (>${BUCKETS}: most not caught), and the share caught within the horizon; mann-whitney=: alpha calibrated to the sequential judge's false-positive rate in that scenario`,
  );
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const t of table) console.log(line(t));
  for (const n of notes) console.log(`note: ${n}`);
  const out = path.join(__dirname, 'results', 'judge-sim.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ buckets: BUCKETS, window: WINDOW, healthyRuns: HEALTHY_RUNS, badRuns: BAD_RUNS, rows, notes }, null, 2));
  console.log(`wrote ${path.relative(process.cwd(), out)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main();
