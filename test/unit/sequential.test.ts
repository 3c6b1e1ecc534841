import reference from '../fixtures/judge/reference.json';
import { JudgeMetricOptions, mannWhitneyMinSamples } from '../../common/judge-config';
import { AnalysisTemplate } from '../../common/spec';
import { hodgesLehmannShift } from '../../analysis/mann-whitney';
import { absorbCounts, absorbPaired, countsEValue, countsGrid, emptyCounts, emptyPaired, type CountsBucket } from '../../analysis/sequential';
import {
  arVarianceFactor,
  mixtureCritical,
  mixtureEValue,
  oneSidedFactor,
  pairedEValue,
  pairedSummary,
  PAIRED_PRIOR_MIXTURE,
  tMixtureBayesFactor,
  tMixtureCritical,
  arLogMarginal,
  arPairedEValue,
  arStats,
  AR_RHO_GRID,
  AR_RHO_GRID_WIDE,
  FIRST_LOOK_CRITICAL_WIDE,
  studentTCdf,
} from '../../analysis/paired';
import { judgeEvidence, judgeSequentially, pairedBoundaries, type VariantSeries } from '../../analysis/sequential-judge';
import { addMeasurement, carriedEvidence, judgeMetric, measurementVerdict, zeroCounters, type TimedSeries } from '../../analysis/analysis';
import { mulberry32 } from '../../dev/simulator';
import { gaussian } from '../support/noise';

const relClose = (actual: number, expected: number, tol = 1e-9): void => {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(expected)));
};

describe('statistical primitives against scipy (test/fixtures/judge/reference.json)', () => {
  it('t-mixture Bayes factor equals the scaled-t density ratio', () => {
    // The fixtures were computed with prior variance g = 1.
    for (const c of reference.tMixture) relClose(tMixtureBayesFactor(c.t, c.n, c.nu, 1), c.bf, 1e-10);
  });

  it('t-mixture critical value is where the Bayes factor reaches 1 / alpha', () => {
    for (const c of reference.tCritical) relClose(tMixtureCritical(c.n, c.nu, c.alpha, 1), c.t, 1e-9);
    expect(tMixtureCritical(2, 1, 0.05, 1)).toBe(Number.POSITIVE_INFINITY);
  });

  it('counts e-values equal the binomial likelihood-ratio mixtures', () => {
    for (const c of reference.counts) {
      const grid = countsGrid(c.nulls);
      const ev = absorbCounts(emptyCounts(grid), grid, c.buckets as CountsBucket[]);
      relClose(countsEValue(ev.logLik, grid, 1, 'up'), c.eUp1);
      relClose(countsEValue(ev.logLik, grid, 1, 'down'), c.eDown1);
      relClose(countsEValue(ev.logLik, grid, 1.1, 'up'), c.eUp11);
      relClose(countsEValue(ev.logLik, grid, 0.9, 'down'), c.eDown09);
    }
  });

  it('the AR(1) variance factor is the mean of rho^|i-j| over all pairs of n buckets', () => {
    for (const rho of [0, 0.3, 0.8, 0.95]) {
      for (const n of [2, 10, 12, 60]) {
        let sum = 0;
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) sum += rho ** Math.abs(i - j);
        relClose(arVarianceFactor(rho, n), sum / n, 1e-12);
      }
    }
  });

  it('the one-sided factor is twice the posterior mass of a positive effect (known variance, by quadrature)', () => {
    for (const [z, n, g] of [
      [2.5, 12, 0.3],
      [-1, 12, 0.3],
      [0, 30, 1],
      [4, 5, 0.3],
    ] as const) {
      // E+ / E over delta ~ N(0, g): the likelihood ratio of the z statistic, exp(z delta sqrt(n) - n delta^2 / 2).
      let plus = 0;
      let all = 0;
      // Midpoint rule: no node on 0, so the two halves split exactly.
      for (let k = 0; k < 200_000; k++) {
        const d = -10 + (k + 0.5) * 1e-4;
        const w = Math.exp((-d * d) / (2 * g) + z * d * Math.sqrt(n) - (n * d * d) / 2);
        all += w;
        if (d > 0) plus += 2 * w;
      }
      relClose(oneSidedFactor(z, n, g), plus / all, 1e-6);
    }
  });

  it('the paired e-value mixes the t-mixture Bayes factors over the prior variances, and its critical value is where it reaches 1 / alpha', () => {
    expect(PAIRED_PRIOR_MIXTURE.reduce((s, c) => s + c.weight, 0)).toBeCloseTo(1, 12);
    for (const [t, n, nu] of [
      [2, 10, 3],
      [-3, 12, 11],
      [5, 4.5, 3.5],
    ] as const) {
      const both = PAIRED_PRIOR_MIXTURE.reduce((s, { g, weight }) => s + weight * tMixtureBayesFactor(t, n, nu, g), 0);
      const up = PAIRED_PRIOR_MIXTURE.reduce((s, { g, weight }) => s + weight * tMixtureBayesFactor(t, n, nu, g) * oneSidedFactor(t, n, g), 0);
      relClose(mixtureEValue(t, n, nu, 'both'), both, 1e-12);
      relClose(mixtureEValue(t, n, nu, 'up'), up, 1e-12);
    }
    for (const [n, nu, alpha] of [
      [10, 9, 0.05],
      [6, 5, 0.025],
      [40, 20, 0.01],
    ] as const) {
      const crit = mixtureCritical(n, nu, alpha);
      relClose(mixtureEValue(crit, n, nu, 'both'), 1 / alpha, 1e-9);
      expect(mixtureEValue(crit * (1 - 1e-6), n, nu, 'both')).toBeLessThan(1 / alpha);
    }
    // One effective bucket: no component can reach 1 / alpha, so the mixture cannot either.
    expect(mixtureCritical(1, 1, 0.05)).toBe(Number.POSITIVE_INFINITY);
  });

  it("Student's t distribution function matches scipy", () => {
    for (const c of reference.studentT) relClose(studentTCdf(c.t, c.nu), c.cdf, 1e-12);
  });

  it('the AR(1) Bayes factors equal the integrals of the stationary AR(1) likelihood over sigma and the effect (scipy quadrature)', () => {
    for (const c of reference.arBayesFactor) {
      const ev = absorbPaired(
        emptyPaired(),
        c.x.map((x, t) => ({ t, canary: x, reference: 0 })),
      );
      const s = arStats(ev, 0);
      if (!s) throw new Error('no AR statistics');
      relClose(arLogMarginal(s, c.rho, c.g, c.side as 'up' | 'both') - arLogMarginal(s, c.rho, null), c.logBf, 1e-7);
    }
  });

  it('the AR(1) e-value averages the Bayes factors over the correlation grid on both sides, and the down side is the up side of -x', () => {
    const x = [1.2, 0.4, 2.2, 1.9, -0.3, 1.1, 0.8, 2.5, 1.4, 0.9, 1.7];
    const ev = absorbPaired(
      emptyPaired(),
      x.map((v, t) => ({ t, canary: v, reference: 0.2 })),
    );
    const s = arStats(ev, 0.1);
    if (!s) throw new Error('no AR statistics');
    // The statistics about mu0 are those of the shifted differences.
    const shifted = absorbPaired(
      emptyPaired(),
      x.map((v, t) => ({ t, canary: v - 0.1, reference: 0.2 })),
    );
    expect(arStats(shifted, 0)).toEqual(expect.objectContaining({ n: s.n, x1: expect.closeTo(s.x1, 12), xn: expect.closeTo(s.xn, 12) }));
    relClose(arStats(shifted, 0)?.s1 ?? NaN, s.s1, 1e-12);
    const mix = (side: 'up' | 'both', grid = AR_RHO_GRID): number => {
      const num = grid.reduce((t, r) => t + PAIRED_PRIOR_MIXTURE.reduce((u, { g, weight }) => u + weight * Math.exp(arLogMarginal(s, r, g, side)), 0), 0);
      const den = grid.reduce((t, r) => t + Math.exp(arLogMarginal(s, r, null)), 0);
      return num / den;
    };
    relClose(arPairedEValue(ev, 0.1, 'up') ?? NaN, mix('up'), 1e-10);
    relClose(arPairedEValue(ev, 0.1, 'both') ?? NaN, mix('both'), 1e-10);
    // The wide test that may fail a metric: the same average over correlations up to 0.975.
    expect(AR_RHO_GRID_WIDE).toEqual([...AR_RHO_GRID, 0.95, 0.975]);
    relClose(arPairedEValue(ev, 0.1, 'up', AR_RHO_GRID_WIDE) ?? NaN, mix('up', AR_RHO_GRID_WIDE), 1e-10);
    const neg = absorbPaired(
      emptyPaired(),
      x.map((v, t) => ({ t, canary: -v, reference: -0.2 })),
    );
    relClose(arPairedEValue(neg, -0.1, 'down') ?? NaN, mix('up'), 1e-10);
  });

  it('Hodges-Lehmann shift is the median of pairwise differences', () => {
    for (const c of reference.hodgesLehmann) relClose(hodgesLehmannShift(c.x, c.y), c.shift, 1e-12);
  });

  it('the smallest Mann-Whitney sample that can fail matches the exact test', () => {
    for (const c of reference.mannWhitneyMinSamples) expect(mannWhitneyMinSamples(c.alpha)).toBe(c.n);
  });
});

const defaults = JudgeMetricOptions.parse({});

describe('sequential judge over a template', () => {
  const sum = (id: string, name: string) => ({
    Id: id,
    MetricStat: {
      Metric: { Namespace: 'AWS/ApplicationELB', MetricName: name, Dimensions: [{ Name: 'TargetGroup', Value: '${targetGroup}' }] },
      Period: 60,
      Stat: 'Sum' as const,
    },
  });
  const avg = { ...sum('rt', 'TargetResponseTime'), MetricStat: { ...sum('rt', 'TargetResponseTime').MetricStat, Stat: 'Average' as const } };
  const template = AnalysisTemplate.parse({
    metrics: [
      {
        name: '5xx-rate',
        query: [sum('errors', 'HTTPCode_Target_5XX_Count'), sum('requests', 'RequestCount'), { Id: 'rate', Expression: 'errors / requests' }],
      },
      { name: 'latency', query: [avg] },
    ],
    judge: {},
  });

  /** A window of `n` one-minute buckets ending at bucket `end` (exclusive). */
  function window(end: number, n: number, f: (t: number) => { errors?: number; requests: number; rt: number }): Record<number, Record<string, TimedSeries>> {
    const ts = Array.from({ length: n }, (_, i) => (end - n + i) * 60_000);
    const rows = ts.map((t) => f(t / 60_000));
    // ALBs publish no datapoint for a zero 5XX count.
    const errs = ts.map((t, i) => ({ t, v: rows[i]?.errors })).filter((x) => x.v !== undefined);
    return {
      0: { errors: { t: errs.map((x) => x.t), v: errs.map((x) => x.v as number) }, requests: { t: ts, v: rows.map((r) => r.requests) } },
      1: { rt: { t: ts, v: rows.map((r) => r.rt) } },
    };
  }

  const thresholds = template.metrics.map((m) => judgeMetric(m, { canary: 1 }, 'pass'));

  it('is the default judge and accumulates evidence over overlapping windows without counting a bucket twice', () => {
    expect(template.judge).toEqual({ kind: 'sequential', confidence: 0.95 });
    let counters = zeroCounters;
    const ref: VariantSeries = window(20, 20, (t) => ({ requests: 500, rt: 100 + (t % 3) }));
    const can: VariantSeries = window(20, 20, (t) => ({ requests: 500, rt: 100 + ((t + 1) % 3) }));
    for (const end of [10, 15, 20]) {
      const slice = (s: VariantSeries): VariantSeries => window(end, 10, (t) => ({ requests: 500, rt: (s[1]?.rt?.v[t] ?? 0) as number }));
      const r = judgeSequentially(
        template,
        { kind: 'sequential', confidence: 0.95 },
        thresholds,
        { canary: slice(can), reference: slice(ref) },
        'baseline',
        counters.evidence,
      );
      counters = addMeasurement(counters, {
        at: '',
        verdict: r.score.verdict === 'fail' ? 'fail' : 'pass',
        metrics: r.metrics,
        score: r.score,
        evidence: r.evidence,
      });
    }
    expect(counters.evidence?.latency?.buckets).toBe(20);
    expect(counters.evidence?.['5xx-rate']).toMatchObject({ test: 'counts', buckets: 20, canaryErrors: 0, canaryRequests: 10_000 });
    // A step analysis starts its failure count afresh but keeps the evidence.
    expect(carriedEvidence(counters)).toEqual({ ...zeroCounters, evidence: counters.evidence });
    expect(carriedEvidence(undefined)).toEqual(zeroCounters);
  });

  it('fails a 30% slower canary as soon as the boundary is crossed and says by how much', () => {
    const rand = mulberry32(5);
    let evidence;
    let failedAt: number | null = null;
    let last;
    for (let end = 1; end <= 60 && failedAt === null; end++) {
      const noise = (): number => 10 * gaussian(rand);
      const r = judgeSequentially(
        template,
        { kind: 'sequential', confidence: 0.95 },
        thresholds,
        { canary: window(end, 1, () => ({ requests: 500, rt: 130 + noise() })), reference: window(end, 1, () => ({ requests: 500, rt: 100 + noise() })) },
        'baseline',
        evidence,
      );
      evidence = r.evidence;
      last = r;
      if (r.score.verdict === 'fail') failedAt = end;
    }
    expect(failedAt).not.toBeNull();
    expect(failedAt).toBeLessThanOrEqual(20);
    expect(last?.score.criticalFailures).toEqual(['latency']);
    const stat = last?.metrics[1]?.stat;
    expect(stat).toMatchObject({ verdict: 'high', failed: true, against: 'baseline' });
    expect(stat?.evidence?.effect).toBeGreaterThan(1.15);
    const [lo, hi] = stat?.evidence?.interval ?? [null, null];
    expect(lo).toBeGreaterThan(1);
    expect(hi).toBeGreaterThan(stat?.evidence?.effect ?? Infinity);
    // The boundary of the wide test, which fails a metric: 8.17 at the first look (alpha 0.0125 a metric), 80 after it.
    expect(last?.score.reason).toMatch(/latency boundary crossed: ratio 1\.\d+ \[1\.\d+, 1\.\d+\], e-value [\d.]+ \(boundary (8\.17|80)\)/);
  });

  it('stops for a person, rather than failing, when a healthy canary wandering at lag-1 correlation 0.95 is higher only if the correlation is at most 0.9', () => {
    // Seeded: the narrow test (correlation up to 0.9) crosses its first-look boundary at bucket 10 (e-value 17.8 against
    // 12.5), the wide one does not (6.65 against 8.17).
    const rand = mulberry32(9);
    let x = gaussian(rand);
    const xs: number[] = [];
    for (let t = 0; t < 10; t++) {
      xs.push(x);
      x = 0.95 * x + Math.sqrt(1 - 0.95 * 0.95) * gaussian(rand);
    }
    const r = judgeSequentially(
      template,
      { kind: 'sequential', confidence: 0.95 },
      thresholds,
      { canary: window(10, 10, (t) => ({ requests: 500, rt: 100 + 10 * (xs[t] ?? 0) })), reference: window(10, 10, () => ({ requests: 500, rt: 100 })) },
      'baseline',
      undefined,
    );
    expect(r.metrics[1]?.stat).toMatchObject({ verdict: 'high', failed: false, inconclusive: true });
    expect(r.metrics[1]?.stat?.reason).toMatch(/^inconclusive, a person decides: higher if the buckets' lag-1 correlation is at most 0\.9/);
    expect(r.score).toMatchObject({ verdict: 'marginal', criticalFailures: [] });
    expect(r.score.reason).toMatch(/^sequential judge: latency inconclusive/);
    expect(measurementVerdict(r.metrics, r.score)).toBe('inconclusive');
    expect(r.evidence.latency).toMatchObject({ narrowCrossed: true });
    expect(r.evidence.latency).not.toHaveProperty('crossed');
  });

  it('fails five times the error rate on sparse counts, and never fails with no errors on either side', () => {
    const quiet = judgeSequentially(
      template,
      { kind: 'sequential', confidence: 0.95 },
      thresholds,
      { canary: window(60, 60, () => ({ requests: 100, rt: 100 })), reference: window(60, 60, () => ({ requests: 900, rt: 100 })) },
      'stable',
      undefined,
    );
    expect(quiet.metrics[0]?.stat).toMatchObject({ verdict: 'pass', failed: false });
    const bad = judgeSequentially(
      template,
      { kind: 'sequential', confidence: 0.95 },
      thresholds,
      {
        canary: window(60, 60, (t) => ({ requests: 100, rt: 100, ...(t % 3 === 0 ? { errors: 1 } : {}) })),
        reference: window(60, 60, (t) => ({ requests: 900, rt: 100, ...(t % 2 === 0 ? { errors: 1 } : {}) })),
      },
      'stable',
      undefined,
    );
    expect(bad.metrics[0]?.stat).toMatchObject({ verdict: 'high', failed: true });
    expect(bad.metrics[0]?.stat?.evidence?.effect).toBeCloseTo(20 / 6000 / (30 / 54000), 10);
  });
});

describe('evidence carried over from a release started before the AR(1) test', () => {
  it('is judged by the plug-in test it began with, at the boundary 1 / alpha, and gains no first difference', () => {
    const rand = mulberry32(41);
    const bucket = (t: number) => ({ t, canary: 112 + 10 * gaussian(rand), reference: 100 + 10 * gaussian(rand) });
    const fresh = absorbPaired(
      emptyPaired(),
      Array.from({ length: 8 }, (_, t) => bucket(t)),
    );
    // The shape such a release carries: no first difference, no crossed flag.
    const { first: _first, crossed: _crossed, ...old } = fresh;
    expect(_first).toBeDefined();
    const later = absorbPaired(old, [bucket(8), bucket(9), bucket(10)]);
    expect(later.first).toBeUndefined();
    expect(later.buckets).toBe(11);
    const j = judgeEvidence(later, defaults, 0.05, [], false);
    expect(j.evidence?.boundary).toBe(20);
    relClose(j.evidence?.eValue ?? NaN, pairedEValue(pairedSummary(later), 0, 'up'));
    // The same buckets with their first difference are judged by the AR(1) test.
    const now = absorbPaired(fresh, [bucket(8), bucket(9), bucket(10)]);
    expect(now.first).toBe(fresh.first);
    // Its first look that could fail came at 11 buckets, past the first-look test: the e-process keeps all of alpha.
    expect(judgeEvidence(now, defaults, 0.05, [], false).evidence?.boundary).toBe(20);
    expect(now.firstLook).toBe(11);
  });

  it('spends part of alpha at a first look of exactly 10 buckets and the rest after it', () => {
    const rand = mulberry32(43);
    const bucket = (t: number) => ({ t, canary: 100 + 10 * gaussian(rand), reference: 100 + 10 * gaussian(rand) });
    let ev = absorbPaired(
      emptyPaired(),
      Array.from({ length: 9 }, (_, t) => bucket(t)),
    );
    expect(judgeEvidence(ev, defaults, 0.05, [], false).verdict).toBe('nodata');
    expect(ev.firstLook).toBeUndefined();
    ev = absorbPaired(ev, [bucket(9)]);
    // The boundary shown is the wide test's, the one that fails a metric; the narrow test has its own table.
    const plan = pairedBoundaries(0.05, 'up', 10, FIRST_LOOK_CRITICAL_WIDE);
    expect(plan.first).toBeLessThan(pairedBoundaries(0.05, 'up', 10).first ?? 0);
    expect(judgeEvidence(ev, defaults, 0.05, [], false).evidence?.boundary).toBe(plan.first);
    expect(ev.firstLook).toBe(10);
    ev = absorbPaired(ev, [bucket(10)]);
    expect(judgeEvidence(ev, defaults, 0.05, [], false).evidence?.boundary).toBe(plan.later);
    // Two-sided metrics have no first-look test.
    expect(pairedBoundaries(0.05, 'both', 10)).toEqual({ first: null, later: 20 });
  });
});

describe('judge config', () => {
  const metric = {
    name: 'latency',
    query: [{ Id: 'rt', MetricStat: { Metric: { Namespace: 'N', MetricName: 'M', Dimensions: [] }, Period: 60, Stat: 'Average' } }],
  };

  it('rejects a Mann-Whitney minSamples that can never fail at the confidence, naming the field', () => {
    const r = AnalysisTemplate.safeParse({ metrics: [{ ...metric, judge: { minSamples: 3 } }], judge: { kind: 'mann-whitney' } });
    expect(r.error?.issues[0]).toMatchObject({ path: ['metrics', 0, 'judge', 'minSamples'] });
    expect(r.error?.issues[0]?.message).toMatch(/minSamples 3 can never fail at confidence 0.95 .* use at least 4/);
    expect(AnalysisTemplate.safeParse({ metrics: [{ ...metric, judge: { minSamples: 4 } }], judge: { kind: 'mann-whitney' } }).success).toBe(true);
    expect(AnalysisTemplate.safeParse({ metrics: [{ ...metric, judge: { minSamples: 4 } }], judge: { kind: 'mann-whitney', confidence: 0.99 } }).success).toBe(
      false,
    );
  });
});
