/**
 * 8. Judge CPU: what one look of the sequential judge costs on a paired metric. At every look the judge reads the
 * AR(1) test over two ρ grids (the wide one that may fail the metric, the narrow one inside it that makes a verdict
 * inconclusive); `arPairedEValues` computes each ρ's likelihoods once for both, where one `arPairedEValue` call per
 * grid computed the narrow grid's twice. Both are timed here on the same seeded evidence, interleaved rep by rep, and
 * their e-values compared (they must be equal, not close). A look of `judgeEvidence` in full is timed too.
 * No stack: pure CPU in this process.
 */
import { absorbPaired, emptyPaired, type PairedEvidence } from '../analysis/sequential';
import { arPairedEValue, arPairedEValues, AR_RHO_GRID, AR_RHO_GRID_WIDE } from '../analysis/paired';
import { judgeEvidence } from '../analysis/sequential-judge';
import { JudgeMetricOptions } from '../common/judge-config';
import { mulberry32 } from '../dev/simulator';
import { ratio, summarize, type Summary } from './stats';
import { gaussian } from '../test/support/noise';

export interface JudgeCpuResult {
  /** Looks timed per rep (evidence of 10 to 60 buckets). */
  looks: number;
  reps: number;
  /** µs per look: both grids in one call, one call per grid, and judgeEvidence in full. */
  shared: Summary;
  perGrid: Summary;
  judge: Summary;
  /** perGrid / shared (medians). */
  speedup: number | null;
}

/** Paired evidence after each of 60 buckets of a canary 5% slower than its reference, lag-1 correlation 0.5. */
function evidenceSeries(seed: number): PairedEvidence[] {
  const rand = mulberry32(seed);
  const out: PairedEvidence[] = [];
  let ev = emptyPaired();
  let c = gaussian(rand);
  for (let t = 0; t < 60; t++) {
    ev = absorbPaired(ev, [{ t, canary: 105 + 10 * c, reference: 100 }]);
    if (t >= 9) out.push(ev);
    c = 0.5 * c + Math.sqrt(0.75) * gaussian(rand);
  }
  return out;
}

function timeUs(looks: PairedEvidence[], fn: (ev: PairedEvidence) => void): number {
  const t0 = process.hrtime.bigint();
  for (const ev of looks) fn(ev);
  return Number(process.hrtime.bigint() - t0) / 1000 / looks.length;
}

export function measureJudge(opts: { reps: number }): JudgeCpuResult {
  const grids = [AR_RHO_GRID_WIDE, AR_RHO_GRID];
  const defaults = JudgeMetricOptions.parse({});
  const looks = Array.from({ length: 40 }, (_, i) => evidenceSeries(100 + i)).flat();
  // mu0 below every series' mean difference, so both sides compute (as the judge does once the canary is higher).
  const mu0 = 1;
  for (const ev of looks) {
    const shared = arPairedEValues(ev, mu0, 'up', grids);
    const perGrid = grids.map((g) => arPairedEValue(ev, mu0, 'up', g));
    if (shared.some((e, i) => e !== perGrid[i])) throw new Error(`arPairedEValues differs from arPairedEValue: ${JSON.stringify({ shared, perGrid })}`);
  }
  const shared: number[] = [];
  const perGrid: number[] = [];
  const judge: number[] = [];
  let sink = 0;
  for (let rep = 0; rep < opts.reps + 1; rep++) {
    const s = timeUs(looks, (ev) => (sink += arPairedEValues(ev, mu0, 'up', grids)[0] ?? 0));
    const p = timeUs(looks, (ev) => (sink += (arPairedEValue(ev, mu0, 'up', AR_RHO_GRID_WIDE) ?? 0) + (arPairedEValue(ev, mu0, 'up', AR_RHO_GRID) ?? 0)));
    const j = timeUs(looks, (ev) => (sink += judgeEvidence({ ...ev }, defaults, 0.05, [], false).evidence?.eValue ?? 0));
    // The first rep warms the JIT up and is not counted.
    if (rep === 0) continue;
    shared.push(s);
    perGrid.push(p);
    judge.push(j);
  }
  if (!Number.isFinite(sink)) throw new Error('the e-values summed to a non-finite number');
  const result = { looks: looks.length, reps: opts.reps, shared: summarize(shared), perGrid: summarize(perGrid), judge: summarize(judge) };
  return { ...result, speedup: ratio(result.perGrid.median, result.shared.median) };
}
