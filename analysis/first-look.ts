/**
 * The calibrated first look of the sequential judge's paired tests (./paired.ts, ./sequential-judge.ts): how many
 * buckets it comes at, the share of alpha it spends, and its critical values for the narrow and the wide ρ grid, by
 * simulation (bench/judge-calibrate.ts). Pure data and a lookup; sandbox-safe.
 */

/** Buckets of the first look that can fail a paired metric (the default minimum, SEQUENTIAL_MIN_BUCKETS). */
export const FIRST_LOOK_BUCKETS = 10;

/**
 * Share of a one-sided paired metric's alpha spent on the fixed-sample test at the first look; the rest bounds the
 * e-process at every later look. Half: a 30% latency regression then fails at the first look in over half the runs
 * (as a 10-bucket Mann-Whitney window at the same false-positive rate does), while the later looks keep the
 * detection of smaller and slower-building regressions ahead of it (judge:sim).
 */
export const FIRST_LOOK_SHARE = 0.5;

/**
 * Critical values of the first look's test: the AR(1) 'up' e-value (arPairedEValue, ./paired.ts) of FIRST_LOOK_BUCKETS
 * healthy buckets reaches `critical` with probability at most `alpha` for every lag-1 correlation in [-0.5, 0.8]
 * (the largest quantile over -0.5, 0, 0.3, 0.5, 0.6, 0.7, 0.75 and 0.8, which grows with the correlation; 200,000
 * seeded simulations each, `npx ts-node --transpile-only bench/judge-calibrate.ts`). The e-value is invariant to the
 * scale of the differences, so the table holds for any noise level. Checked in test/unit/sequential.test.ts.
 */
export const FIRST_LOOK_CRITICAL: readonly { alpha: number; critical: number }[] = [
  { alpha: 0.001, critical: 22.75 },
  { alpha: 0.002, critical: 19.71 },
  { alpha: 0.004, critical: 16.6 },
  { alpha: 0.007, critical: 14.07 },
  { alpha: 0.01, critical: 12.49 },
  { alpha: 0.015, critical: 10.71 },
  { alpha: 0.02, critical: 9.454 },
  { alpha: 0.025, critical: 8.539 },
  { alpha: 0.03, critical: 7.831 },
  { alpha: 0.04, critical: 6.714 },
];

/**
 * The same for the wide test (AR_RHO_GRID_WIDE, ./paired.ts): the 'up' e-value over the wide grid of FIRST_LOOK_BUCKETS
 * healthy buckets reaches `critical` with probability at most `alpha` for every lag-1 correlation in [-0.5, 0.95] (the
 * largest quantile over -0.5, 0, 0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9 and 0.95, the last the largest; 200,000 seeded
 * simulations each,
 * `npx ts-node --transpile-only bench/judge-calibrate.ts --wide`). With high correlations in its null the e-value of a
 * wandering series is small, so these are lower than the narrow test's.
 */
export const FIRST_LOOK_CRITICAL_WIDE: readonly { alpha: number; critical: number }[] = [
  { alpha: 0.001, critical: 14.19 },
  { alpha: 0.002, critical: 12.22 },
  { alpha: 0.004, critical: 10.35 },
  { alpha: 0.007, critical: 9.004 },
  { alpha: 0.01, critical: 8.17 },
  { alpha: 0.015, critical: 7.229 },
  { alpha: 0.02, critical: 6.635 },
  { alpha: 0.025, critical: 6.23 },
  { alpha: 0.03, critical: 5.912 },
  { alpha: 0.04, critical: 5.406 },
];

/**
 * The first look's critical value at `alpha` from `table` (the narrow test's unless given): the table's value at the
 * largest tabulated alpha not above it (the critical value falls as alpha grows, so this errs on the safe side). null
 * below the table: no first-look test.
 */
export function firstLookCritical(alpha: number, table: readonly { alpha: number; critical: number }[] = FIRST_LOOK_CRITICAL): number | null {
  let best: number | null = null;
  for (const row of table) if (row.alpha <= alpha * (1 + 1e-12)) best = row.critical;
  return best;
}
