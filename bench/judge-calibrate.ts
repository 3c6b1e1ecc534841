/**
 * `npx ts-node --transpile-only bench/judge-calibrate.ts [runs] [--wide]`: the first look's critical values of the
 * sequential judge's paired test (FIRST_LOOK_CRITICAL in analysis/paired.ts; with --wide FIRST_LOOK_CRITICAL_WIDE, the
 * test over AR_RHO_GRID_WIDE that may fail a metric), by seeded simulation. At the first look (FIRST_LOOK_BUCKETS
 * buckets) the AR(1) e-value of healthy differences (stationary Gaussian AR(1), mean 0: the value is invariant to the
 * scale, so the sd is 1) is drawn `runs` times at each lag-1 correlation; for each first-look alpha the critical value
 * is the largest (1 - alpha)-quantile over the correlations the test guards against: up to 0.8 for the narrow test
 * (0.9 is printed to show what lies beyond), up to 0.95 for the wide one. Prints the table to paste, and each
 * correlation's quantiles.
 */
import { absorbPaired, emptyPaired } from '../analysis/sequential';
import { arPairedEValue, AR_RHO_GRID, AR_RHO_GRID_WIDE, FIRST_LOOK_BUCKETS } from '../analysis/paired';
import { mulberry32 } from '../dev/simulator';
import { gaussian } from '../test/support/noise';

const WIDE = process.argv.includes('--wide');
const RUNS = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 200_000);
const ALPHAS = [0.001, 0.002, 0.004, 0.007, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04];
const GUARDED = WIDE ? [-0.5, 0, 0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95] : [-0.5, 0, 0.3, 0.5, 0.6, 0.7, 0.75, 0.8];
const BEYOND = WIDE ? [] : [0.9];
const GRID = WIDE ? AR_RHO_GRID_WIDE : AR_RHO_GRID;

/** The first look's 'up' e-values of `runs` healthy series at lag-1 correlation rho, sorted from the largest. */
export function firstLookEValues(rho: number, runs: number, seed: number, grid: readonly number[] = AR_RHO_GRID): number[] {
  const rand = mulberry32(seed);
  const out: number[] = [];
  for (let r = 0; r < runs; r++) {
    let x = gaussian(rand);
    const buckets = [];
    for (let t = 0; t < FIRST_LOOK_BUCKETS; t++) {
      buckets.push({ t, canary: x, reference: 0 });
      x = rho * x + Math.sqrt(1 - rho * rho) * gaussian(rand);
    }
    out.push(arPairedEValue(absorbPaired(emptyPaired(), buckets), 0, 'up', grid) ?? 1);
  }
  return out.sort((a, b) => b - a);
}

function main(): void {
  const started = Date.now();
  const quantiles: Record<string, number[]> = {};
  [...GUARDED, ...BEYOND].forEach((rho, i) => {
    const e = firstLookEValues(rho, RUNS, (WIDE ? 8000 : 7000) + i, GRID);
    quantiles[rho] = ALPHAS.map((a) => e[Math.floor(a * RUNS)] as number);
    process.stderr.write(
      `rho ${rho}: ${ALPHAS.map((a, k) => `${a} -> ${(quantiles[rho]?.[k] ?? NaN).toPrecision(4)}`).join(', ')} (${((Date.now() - started) / 1000).toFixed(0)} s)\n`,
    );
  });
  const critical = ALPHAS.map((alpha, k) => ({ alpha, critical: Number(Math.max(...GUARDED.map((rho) => quantiles[rho]?.[k] ?? Infinity)).toPrecision(4)) }));
  console.log(`${RUNS} runs per correlation, first look at ${FIRST_LOOK_BUCKETS} buckets; worst over rho in [${GUARDED.join(', ')}]:`);
  console.log(JSON.stringify(critical));
}

if (require.main === module) main();
