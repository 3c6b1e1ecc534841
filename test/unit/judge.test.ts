import { JudgeConfig, JudgeMetricOptions, MannWhitneyJudgeConfig } from '../../common/judge-config';
import type { JudgeMetricOptionsInput } from '../../common/judge-config';
import type { JudgedMetric, MetricJudgement } from '../../analysis/judge';
import { commonLanguageEffectSize, hodgesLehmannShift, judgeMetric, mannWhitneyU, normalCdf, scoreCanary } from '../../analysis/judge';
import { mulberry32 } from '../../dev/simulator';
import { poisson } from '../support/noise';

function expectClose(actual: number, expected: number, relative = 1e-6): void {
  expect(Math.abs(actual - expected) / Math.abs(expected)).toBeLessThan(relative);
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** n draws from N(mean, sd) by Box-Muller. */
function normalSample(seed: number, mean: number, sd: number, n: number): number[] {
  const rand = mulberry32(seed);
  return range(n).map(() => {
    const u1 = 1 - rand();
    const u2 = rand();
    return mean + sd * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  });
}

const options = (o: JudgeMetricOptionsInput = {}): JudgeMetricOptions => JudgeMetricOptions.parse(o);

describe('mannWhitneyU', () => {
  // Reference p-values from scipy 1.17.1 (numpy 2.4.6):
  //   scipy.stats.mannwhitneyu(x, y, alternative='two-sided', method=METHOD[, use_continuity=True])
  // with x and y exactly as below; 'asymptotic' rows pass use_continuity=True.
  const cases: { name: string; x: number[]; y: number[]; method: 'exact' | 'normal'; uX: number; p: number }[] = [
    {
      // Hollander & Wolfe (1973), permeability of the human chorioamnion; the example in R's ?wilcox.test.
      name: 'textbook example (Hollander & Wolfe), exact',
      x: [0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46],
      y: [1.15, 0.88, 0.9, 0.74, 1.21],
      method: 'exact',
      uX: 35,
      p: 0.2544122544122544,
    },
    {
      name: 'small samples without ties, exact',
      x: [12.1, 9.4, 15.2, 11.8, 13.3, 10.9, 14.6],
      y: [8.2, 10.1, 9.9, 7.5, 11.2, 8.8],
      method: 'exact',
      uX: 38,
      p: 0.013986013986013986,
    },
    { name: 'fully separated samples of 5, exact', x: [1, 2, 3, 4, 5], y: [6, 7, 8, 9, 10], method: 'exact', uX: 0, p: 0.007936507936507936 },
    { name: 'unequal sizes, exact', x: [3.1, 4.7, 2.2], y: [5.5, 6.1, 7.3, 8.0, 4.9, 9.9, 5.2, 6.6], method: 'exact', uX: 0, p: 0.012121212121212121 },
    {
      name: '50 against 50 without ties, exact',
      x: range(50).map((i) => ((i * 37) % 101) + 0.5),
      y: range(50).map((j) => ((j * 53) % 103) + 0.25 + 3),
      method: 'exact',
      uX: 1288,
      p: 0.796889660994112,
    },
    {
      name: '50 against 50 with a small exact tail',
      x: range(50).map((i) => ((i * 37) % 101) + 0.5),
      y: range(50).map((j) => ((j * 53) % 103) + 0.25 + 40),
      method: 'exact',
      uX: 531,
      p: 2.729708162802908e-7,
    },
    // 2 / C(100, 50): the smallest exact p-value there is at this size.
    { name: '50 against 50 fully separated, exact', x: range(50), y: range(50).map((v) => v + 50), method: 'exact', uX: 0, p: 1.9823306042836686e-29 },
    {
      name: 'ties, asymptotic with continuity correction',
      x: [1, 2, 2, 3, 3, 3, 4, 5],
      y: [2, 3, 4, 4, 5, 5, 6, 7, 7],
      method: 'normal',
      uX: 13.5,
      p: 0.03175895714806371,
    },
    {
      name: 'large samples with ties, asymptotic',
      x: range(80).map((i) => ((i * 37) % 101) / 10),
      y: range(60).map((j) => ((j * 53) % 97) / 10 + 0.7),
      method: 'normal',
      uX: 2292.5,
      p: 0.6522998490660505,
    },
    {
      name: 'large fully separated samples, asymptotic far tail',
      x: range(60),
      y: range(60).map((v) => v + 60),
      method: 'normal',
      uX: 0,
      p: 3.5565709749847226e-21,
    },
    { name: 'identical samples, asymptotic', x: [1, 2, 3, 4, 5], y: [1, 2, 3, 4, 5], method: 'normal', uX: 12.5, p: 1.0 },
  ];

  it.each(cases)('matches scipy on $name', ({ x, y, method, uX, p }) => {
    const r = mannWhitneyU(x, y);
    expect(r.method).toBe(method);
    expect(r.uX).toBe(uX);
    expect(r.uY).toBe(x.length * y.length - uX);
    expect(r.u).toBe(Math.min(uX, x.length * y.length - uX));
    expectClose(r.pValue, p);
  });

  it('is symmetric in its samples: swapping them keeps the p-value and mirrors U and z', () => {
    const x = [12.1, 9.4, 15.2, 11.8, 13.3, 10.9, 14.6];
    const y = [8.2, 10.1, 9.9, 7.5, 11.2, 8.8];
    const a = mannWhitneyU(x, y);
    const b = mannWhitneyU(y, x);
    expectClose(b.pValue, a.pValue, 1e-12);
    expect(b.uX).toBe(a.uY);
    expect(b.z).toBeCloseTo(-a.z, 12);
    expect(a.z).toBeGreaterThan(0);
  });

  it('uses the normal approximation beyond 50 points even without ties', () => {
    expect(
      mannWhitneyU(
        range(51),
        range(50).map((v) => v + 0.5),
      ).method,
    ).toBe('normal');
  });

  it('gives p = 1 when every point is equal', () => {
    const r = mannWhitneyU([7, 7, 7], [7, 7, 7, 7]);
    expect(r.pValue).toBe(1);
    expect(r.z).toBe(0);
  });

  it('refuses empty samples and NaN rather than guessing', () => {
    expect(() => mannWhitneyU([], [1, 2])).toThrow(RangeError);
    expect(() => mannWhitneyU([1, Number.NaN], [1, 2])).toThrow(/NaN/);
  });
});

describe('normalCdf', () => {
  // scipy 1.17.1 scipy.stats.norm.cdf(z) and norm.cdf(-z) (= norm.sf(z)).
  const table: [number, number, number][] = [
    [0.3, 0.6179114221889526, 0.3820885778110474],
    [0.7, 0.758036347776927, 0.24196365222307303],
    [1, 0.8413447460685429, 0.15865525393145707],
    [1.959963984540054, 0.975, 0.025],
    [3, 0.9986501019683699, 0.0013498980316300933],
    [5.5, 0.9999999810104375, 1.898956246588768e-8],
    [8, 0.9999999999999993, 6.22096057427174e-16],
    [10, 1, 7.61985302416047e-24],
    [20, 1, 2.7536241186061556e-89],
    [37, 1, 5.7255712225239266e-300],
  ];

  it.each(table)('matches scipy in both tails at |z| = %p', (z, upper, lower) => {
    expectClose(normalCdf(z), upper, 1e-12);
    expectClose(normalCdf(-z), lower, 1e-12);
  });

  it('is one half at zero', () => {
    expect(normalCdf(0)).toBe(0.5);
  });
});

describe('commonLanguageEffectSize', () => {
  it('is 0.5 for identical samples, 1 when the first always wins and 0 when it always loses', () => {
    expect(commonLanguageEffectSize([1, 2, 3], [1, 2, 3])).toBe(0.5);
    expect(commonLanguageEffectSize([4, 5, 6], [1, 2, 3])).toBe(1);
    expect(commonLanguageEffectSize([1, 2, 3], [4, 5, 6])).toBe(0);
  });

  it('counts ties as half a win', () => {
    // Wins: 3 > 2 twice; ties: 2 = 2 twice → (2 + 0.5 * 2) / 9.
    expect(commonLanguageEffectSize([1, 2, 3], [2, 2, 4])).toBeCloseTo(3 / 9, 15);
  });
});

describe('judgeMetric', () => {
  const baseline = normalSample(1, 100, 10, 60);

  it('flags a 30% slower canary as high with p < 1e-6', () => {
    const canary = normalSample(2, 130, 13, 60);
    const j = judgeMetric(canary, baseline, options(), 0.95);
    expect(j.verdict).toBe('high');
    expect(j.failed).toBe(true);
    expect(j.pValue).toBeLessThan(1e-6);
    expect(j.ratioOfMeans).toBeGreaterThan(1.2);
    expect(j.ratioOfMeans).toBeLessThan(1.4);
    expect(j.cles).toBeGreaterThan(0.9);
    expect(j.canaryCount).toBe(60);
    expect(j.reason).toMatch(/^significantly higher: canary mean [\d.]+ vs baseline [\d.]+ \(Hodges-Lehmann ratio 1\.\d+x, p=[\d.]+e-\d+ < 0\.05\)$/);
  });

  it('passes a canary drawn from the same distribution as the baseline', () => {
    const j = judgeMetric(normalSample(3, 100, 10, 60), baseline, options(), 0.95);
    expect(j.verdict).toBe('pass');
    expect(j.failed).toBe(false);
    expect(j.pValue).toBeGreaterThan(0.05);
    expect(j.reason).toMatch(/^no significant difference/);
  });

  it('flags same-distribution canaries about as often as 1 - confidence says', () => {
    const flagged = range(100).filter(
      (i) => judgeMetric(normalSample(100 + i, 100, 10, 60), normalSample(500 + i, 100, 10, 60), options(), 0.95).verdict !== 'pass',
    );
    expect(flagged.length).toBeLessThanOrEqual(12);
  });

  describe('direction', () => {
    const higher = normalSample(4, 130, 13, 30);
    const lower = normalSample(5, 70, 7, 30);

    it('fails an increase only for increase and either', () => {
      expect(judgeMetric(higher, baseline, options({ direction: 'increase' }), 0.95)).toMatchObject({ verdict: 'high', failed: true });
      expect(judgeMetric(higher, baseline, options({ direction: 'either' }), 0.95)).toMatchObject({ verdict: 'high', failed: true });
      const ok = judgeMetric(higher, baseline, options({ direction: 'decrease' }), 0.95);
      expect(ok).toMatchObject({ verdict: 'high', failed: false });
      expect(ok.reason).toMatch(/only a decrease is bad/);
    });

    it('fails a decrease only for decrease and either', () => {
      expect(judgeMetric(lower, baseline, options({ direction: 'decrease' }), 0.95)).toMatchObject({ verdict: 'low', failed: true });
      expect(judgeMetric(lower, baseline, options({ direction: 'either' }), 0.95)).toMatchObject({ verdict: 'low', failed: true });
      const ok = judgeMetric(lower, baseline, options({ direction: 'increase' }), 0.95);
      expect(ok).toMatchObject({ verdict: 'low', failed: false });
      expect(ok.reason).toMatch(/only an increase is bad/);
    });
  });

  describe('effect-size tolerance', () => {
    // Tight samples: a 5% shift is overwhelmingly significant.
    const base = range(30).map((i) => 100 + (i % 10) / 10);
    const up5 = base.map((v) => v * 1.05);
    const down5 = base.map((v) => v * 0.95);

    it('passes a significant increase that stays within allowedIncrease', () => {
      const j = judgeMetric(up5, base, options({ effectSize: { allowedIncrease: 1.1 } }), 0.95);
      expect(j.pValue).toBeLessThan(1e-6);
      expect(j).toMatchObject({ verdict: 'pass', failed: false });
      expect(j.ratioOfMeans).toBeCloseTo(1.05, 10);
      expect(j.reason).toMatch(/^significantly higher but within the allowed up to 1\.1x/);
    });

    it('flags the same increase when no tolerance is allowed', () => {
      expect(judgeMetric(up5, base, options(), 0.95)).toMatchObject({ verdict: 'high', failed: true });
      expect(judgeMetric(up5, base, options({ effectSize: { allowedIncrease: 1.04 } }), 0.95)).toMatchObject({ verdict: 'high', failed: true });
    });

    it('passes a significant decrease that stays within allowedDecrease', () => {
      expect(judgeMetric(down5, base, options({ direction: 'decrease', effectSize: { allowedDecrease: 0.9 } }), 0.95)).toMatchObject({
        verdict: 'pass',
        failed: false,
      });
      expect(judgeMetric(down5, base, options({ direction: 'decrease', effectSize: { allowedDecrease: 0.96 } }), 0.95)).toMatchObject({
        verdict: 'low',
        failed: true,
      });
    });

    it('cannot excuse a change from a zero baseline by a ratio', () => {
      const j = judgeMetric([1, 2, 1, 3, 2, 1], [0, 0, 0, 0, 0, 0], options({ effectSize: { allowedIncrease: 100 } }), 0.95);
      expect(j).toMatchObject({ verdict: 'high', failed: true, ratioOfMeans: null });
    });
  });

  describe('discrete counts with many ties', () => {
    // The example of issue 29: error counts per bucket, canary mean 1.48x the baseline's, Mann-Whitney p = 0.0039
    // (scipy 1.17.1 mannwhitneyu(canary, baseline, method='asymptotic', use_continuity=True): 0.003937238783381922),
    // yet the Hodges-Lehmann shift is exactly 0 (most pairwise differences are 0 or +-1).
    const canary = [
      0, 4, 1, 2, 2, 2, 0, 1, 2, 0, 2, 0, 2, 0, 1, 2, 2, 5, 2, 1, 1, 1, 5, 2, 3, 1, 1, 4, 1, 0, 3, 1, 2, 1, 1, 1, 1, 0, 5, 2, 1, 1, 1, 0, 1, 1, 1, 1, 1, 2, 1,
      1, 2, 2, 0, 4, 0, 5, 2, 1, 2, 0, 0, 4, 0, 1, 2, 2, 2, 2, 1, 4, 1, 2, 2, 1, 0, 1, 2, 1, 1, 2, 2, 0, 4, 5, 1, 1, 1, 0, 1, 4, 0, 2, 2, 2, 1, 1, 0, 1, 5, 1,
      0, 4, 1, 1, 1, 1, 2, 2, 1, 2, 2, 1, 1, 0, 3, 1, 1, 3, 1, 0, 1, 2, 1,
    ];
    const baseline = [
      2, 0, 0, 3, 1, 2, 4, 2, 2, 1, 2, 1, 3, 3, 0, 0, 0, 0, 0, 2, 1, 2, 1, 2, 0, 1, 1, 2, 0, 0, 1, 1, 0, 0, 0, 0, 3, 0, 0, 1, 1, 1, 2, 0, 1, 0, 1, 0, 3, 0, 0,
      2, 2, 2, 0, 2, 3, 1, 2, 1, 0, 1, 0, 0, 1, 1, 2, 1, 0, 1, 1, 0, 0, 3, 1, 2, 2, 1, 0, 0, 0, 1, 0, 2, 0, 3, 0, 1,
    ];

    it('fails a significant increase whose Hodges-Lehmann shift is 0 when no tolerance is configured', () => {
      expect([canary.length, baseline.length]).toEqual([125, 88]);
      const j = judgeMetric(canary, baseline, options(), 0.95);
      expectClose(j.pValue ?? NaN, 0.003937238783381922, 1e-9);
      expect(j.ratioOfMeans).toBeCloseTo(1.4845, 4);
      expect(j).toMatchObject({ verdict: 'high', failed: true });
      expect(j.reason).toMatch(/^significantly higher: /);
    });

    it('reads a tolerance on the ratio of means when the Hodges-Lehmann shift is 0', () => {
      const within = judgeMetric(canary, baseline, options({ effectSize: { allowedIncrease: 1.5 } }), 0.95);
      expect(within).toMatchObject({ verdict: 'pass', failed: false, effectMeasure: 'ratio-of-means' });
      expect(within.ratio).toBeCloseTo(1.4845, 4);
      expect(within.reason).toMatch(/^significantly higher but within the allowed up to 1\.5x: .*ratio of means 1\.485x \(Hodges-Lehmann shift 0\)/);
      const beyond = judgeMetric(canary, baseline, options({ effectSize: { allowedIncrease: 1.2 } }), 0.95);
      expect(beyond).toMatchObject({ verdict: 'high', failed: true, effectMeasure: 'ratio-of-means' });
    });

    it('reads a tolerance on the ratio of means when the baseline median is 0 (mostly zero counts)', () => {
      const base = [...range(34).map(() => 0), ...range(6).map(() => 1)];
      const can = [...range(20).map(() => 0), ...range(14).map(() => 1), ...range(6).map(() => 2)];
      const within = judgeMetric(can, base, options({ effectSize: { allowedIncrease: 5 } }), 0.95);
      expect(within.pValue).toBeLessThan(0.001);
      expect(within).toMatchObject({ verdict: 'pass', failed: false, effectMeasure: 'ratio-of-means' });
      expect(within.ratio).toBeCloseTo(0.65 / 0.15, 12);
      expect(judgeMetric(can, base, options({ effectSize: { allowedIncrease: 4 } }), 0.95)).toMatchObject({ verdict: 'high', failed: true });
      // The Hodges-Lehmann shift where it says something: continuous data keep their robust ratio.
      expect(
        judgeMetric(
          range(20).map((i) => 10 + i),
          [...range(20), 10_000],
          options(),
          0.95,
        ).effectMeasure,
      ).toBe('hodges-lehmann');
    });

    it('fails every significant increase of seeded small error counts (Poisson 1 against 1.5 a bucket) when no tolerance is configured', () => {
      let significant = 0;
      let zeroShift = 0;
      for (let seed = 0; seed < 60; seed++) {
        const rand = mulberry32(2900 + seed);
        const base = range(60).map(() => poisson(rand, 1));
        const can = range(60).map(() => poisson(rand, 1.5));
        const j = judgeMetric(can, base, options(), 0.95);
        if (!(j.pValue !== null && j.pValue < 0.05 && (j.cles ?? 0) > 0.5)) continue;
        significant++;
        if (hodgesLehmannShift(can, base) === 0) zeroShift++;
        expect({ seed, verdict: j.verdict, failed: j.failed }).toEqual({ seed, verdict: 'high', failed: true });
      }
      // Not vacuous: most draws are significant, and several of them have no Hodges-Lehmann shift at all.
      expect(significant).toBeGreaterThanOrEqual(30);
      expect(zeroShift).toBeGreaterThanOrEqual(5);
    });
  });

  it('uses the confidence as the significance threshold', () => {
    const canary = [12.1, 9.4, 15.2, 11.8, 13.3, 10.9, 14.6];
    const base = [8.2, 10.1, 9.9, 7.5, 11.2, 8.8];
    // p = 0.01399 (scipy, above): significant at 95%, not at 99%.
    expect(judgeMetric(canary, base, options(), 0.95).verdict).toBe('high');
    expect(judgeMetric(canary, base, options(), 0.99).verdict).toBe('pass');
  });

  describe('missing data', () => {
    it('returns nodata with fewer than minSamples points on either side', () => {
      const j = judgeMetric([1, 2], [1, 2, 3, 4], options(), 0.95);
      expect(j).toMatchObject({ verdict: 'nodata', failed: false, pValue: null, ratioOfMeans: null, cles: null, canaryCount: 2, baselineCount: 4 });
      expect(j.canaryMean).toBe(1.5);
      expect(j.reason).toBe('not enough data: 2 canary and 4 baseline point(s), at least 4 each needed');
      expect(judgeMetric([1, 2, 3], [1, 2, 3, 4], options({ minSamples: 4 }), 0.95).verdict).toBe('nodata');
      expect(judgeMetric([1, 2, 3, 4], [1, 2, 3, 4], options({ minSamples: 4 }), 0.95).verdict).toBe('pass');
    });

    it('drops NaN points with nanStrategy remove', () => {
      const j = judgeMetric([Number.NaN, 10, 11, Number.NaN, 12, 13], [10, 11, 12, 13], options({ nanStrategy: 'remove' }), 0.95);
      expect(j).toMatchObject({ canaryCount: 4, canaryMean: 11.5, verdict: 'pass' });
      const none = judgeMetric([Number.NaN, Number.NaN, Number.NaN], [0, 0, 0], options({ nanStrategy: 'remove' }), 0.95);
      expect(none).toMatchObject({ verdict: 'nodata', canaryCount: 0, canaryMean: null });
      expect(none.reason).toMatch(/3 dropped as missing or outliers/);
    });

    it('reads NaN points as zero with nanStrategy replace', () => {
      // An error counter that did not fire reports no datapoint: that is zero errors, not missing data.
      const j = judgeMetric([Number.NaN, Number.NaN, Number.NaN, Number.NaN], [0, 0, 0, 0], options({ nanStrategy: 'replace' }), 0.95);
      expect(j).toMatchObject({ verdict: 'pass', canaryCount: 4, canaryMean: 0, pValue: 1 });
      const lowered = judgeMetric([Number.NaN, 10, 11, Number.NaN, 12], [10, 11, 12], options({ nanStrategy: 'replace' }), 0.95);
      expect(lowered).toMatchObject({ canaryCount: 5, canaryMean: 33 / 5 });
    });
  });

  it('fails a shift that one reference spike would hide from a ratio of means ([10..29] vs [0..19, 10000])', () => {
    const j = judgeMetric(
      range(20).map((i) => 10 + i),
      [...range(20), 10_000],
      options({ effectSize: { allowedIncrease: 1.5 } }),
      0.95,
    );
    expect(j.pValue).toBeCloseTo(2.7e-4, 5);
    expect(j.ratioOfMeans).toBeLessThan(1);
    expect(j.ratio).toBeCloseTo(1.95, 10); // 1 + HL shift 9.5 / reference median 10
    expect(j).toMatchObject({ verdict: 'high', failed: true });
  });

  it('never lets a sample too small to fail count as a pass: minSamples is raised to what the confidence needs', () => {
    // 3 against 3 can at best reach p = 0.1: at 0.95 it needs 4 (p = 0.029), at 0.99 5 (p = 0.0079).
    expect(judgeMetric([5, 6, 7], [1, 2, 3], options({ minSamples: 3 }), 0.95).verdict).toBe('nodata');
    expect(judgeMetric([5, 6, 7, 8], [1, 2, 3, 4], options({ minSamples: 3 }), 0.95)).toMatchObject({ verdict: 'high', failed: true });
    expect(judgeMetric([5, 6, 7, 8], [1, 2, 3, 4], options({ minSamples: 3 }), 0.99).verdict).toBe('nodata');
    expect(judgeMetric([6, 7, 8, 9, 10], [1, 2, 3, 4, 5], options(), 0.99)).toMatchObject({ verdict: 'high', failed: true });
  });

  describe('IQR outlier removal', () => {
    // Tight samples, the canary 2% higher, plus one spike in the canary.
    const base = range(20).map((i) => 100 + (i % 5) / 5);
    const canary = [...base.map((v) => v * 1.02), 10_000];

    it('drops points outside Tukey fences before testing', () => {
      const j = judgeMetric(canary, [...base, -500], options({ outliers: 'iqr', effectSize: { allowedIncrease: 1.1 } }), 0.95);
      expect(j.canaryCount).toBe(20);
      expect(j.baselineCount).toBe(20);
      expect(j.ratioOfMeans).toBeCloseTo(1.02, 10);
      expect(j.verdict).toBe('pass');
    });

    it('keeps every point with outliers none, and one spike inflates the ratio of means but not the robust ratio the tolerance reads', () => {
      const j = judgeMetric(canary, base, options({ outliers: 'none', effectSize: { allowedIncrease: 1.1 } }), 0.95);
      expect(j.canaryCount).toBe(21);
      expect(j.ratioOfMeans).toBeGreaterThan(1.5);
      expect(j.ratio).toBeCloseTo(1.02, 2);
      expect(j.verdict).toBe('pass');
    });

    it('never drops the errors of a sparse count sample (IQR 0)', () => {
      const errors = [0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 5, 0, 0, 0, 4, 0, 0, 6, 0];
      const j = judgeMetric(
        errors,
        range(20).map(() => 0),
        options({ outliers: 'iqr' }),
        0.95,
      );
      expect(j.canaryCount).toBe(20);
      expect(j.canaryMean).toBe(0.9);
    });

    it('keeps points on the fences', () => {
      // Q1 = 2, Q3 = 4 (linear interpolation), IQR = 2: fences at -1 and 7.
      const j = judgeMetric([-1, 2, 3, 4, 7], [-1, 2, 3, 4, 7.01], options({ outliers: 'iqr' }), 0.95);
      expect(j.canaryCount).toBe(5);
      expect(j.baselineCount).toBe(4);
    });
  });
});

describe('config schemas', () => {
  it('fills metric defaults', () => {
    expect(options()).toEqual({
      direction: 'increase',
      nanStrategy: 'remove',
      outliers: 'none',
      effectSize: { allowedIncrease: 1, allowedDecrease: 1 },
      critical: false,
      group: 'default',
    });
  });

  it('fills judge defaults', () => {
    expect(JudgeConfig.parse({ kind: 'mann-whitney' })).toEqual({ kind: 'mann-whitney', confidence: 0.95, groups: {}, marginal: 50, pass: 75 });
  });

  it('rejects unknown fields by name', () => {
    const r = JudgeConfig.safeParse({ kind: 'mann-whitney', confidance: 0.9 });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toMatch(/confidance/);
    expect(JudgeMetricOptions.safeParse({ effectSize: { allowedIncrese: 1.1 } }).error?.issues[0]?.message).toMatch(/allowedIncrese/);
  });

  it('rejects out-of-range values with a hint', () => {
    expect(JudgeConfig.safeParse({ kind: 'mann-whitney', confidence: 0.5 }).error?.issues[0]?.message).toMatch(/\(0\.5, 0\.9999\]/);
    expect(JudgeConfig.safeParse({ kind: 'mann-whitney', confidence: 0.99999 }).success).toBe(false);
    expect(JudgeConfig.safeParse({ kind: 'mann-whitney', groups: { latency: 0 } }).success).toBe(false);
    expect(JudgeMetricOptions.safeParse({ effectSize: { allowedIncrease: 0.9 } }).error?.issues[0]?.message).toMatch(/>= 1/);
    expect(JudgeMetricOptions.safeParse({ effectSize: { allowedDecrease: 0 } }).success).toBe(false);
    expect(JudgeMetricOptions.safeParse({ effectSize: { allowedDecrease: 1.2 } }).success).toBe(false);
    expect(JudgeMetricOptions.safeParse({ minSamples: 0 }).success).toBe(false);
  });

  it('rejects a marginal threshold above the pass threshold', () => {
    const r = JudgeConfig.safeParse({ kind: 'mann-whitney', marginal: 80, pass: 70 });
    expect(r.error?.issues[0]).toMatchObject({ path: ['marginal'], message: 'marginal (80) must not exceed pass (70): scores between them are marginal' });
  });
});

describe('scoreCanary', () => {
  const config = (c: Partial<MannWhitneyJudgeConfig> = {}): MannWhitneyJudgeConfig => MannWhitneyJudgeConfig.parse({ kind: 'mann-whitney', ...c });

  function judged(name: string, outcome: 'pass' | 'fail' | 'nodata' | 'harmless-high', group = 'default', critical = false): JudgedMetric {
    const verdict: MetricJudgement['verdict'] = outcome === 'fail' || outcome === 'harmless-high' ? 'high' : outcome;
    const judgement: MetricJudgement = {
      verdict,
      failed: outcome === 'fail',
      pValue: outcome === 'nodata' ? null : 0.5,
      ratioOfMeans: null,
      cles: null,
      canaryMean: null,
      baselineMean: null,
      canaryCount: 0,
      baselineCount: 0,
      reason: outcome,
    };
    return { name, group, critical, judgement };
  }

  it('weights group scores by the configured group weights', () => {
    const r = scoreCanary(
      [judged('p50', 'pass', 'latency'), judged('p99', 'pass', 'latency'), judged('5xx', 'fail', 'errors'), judged('4xx', 'fail', 'errors')],
      config({ groups: { latency: 3 } }),
    );
    // (3 * 100 + 1 * 0) / 4: exactly the default pass threshold.
    expect(r.score).toBe(75);
    expect(r.verdict).toBe('pass');
    expect(r.groups).toEqual([
      { name: 'latency', weight: 3, passed: 2, total: 2, score: 100 },
      { name: 'errors', weight: 1, passed: 0, total: 2, score: 0 },
    ]);
    expect(r.reason).toBe('score 75 is pass (pass >= 75, marginal >= 50): 2/4 metric(s) with data passed; failed: 5xx (high), 4xx (high)');
  });

  it('compares the unrounded score with the thresholds: 74.96 is not a pass at 75', () => {
    const metrics = [...range(1874).map((i) => judged(`ok${i}`, 'pass')), ...range(626).map((i) => judged(`bad${i}`, 'fail'))];
    const r = scoreCanary(metrics, config({ pass: 75 }));
    expect(r.score).toBe(75);
    expect(r.verdict).toBe('marginal');
  });

  it('rounds to one decimal and reads the score against the marginal and pass thresholds', () => {
    const twoOfThree = [judged('a', 'pass'), judged('b', 'pass'), judged('c', 'fail')];
    expect(scoreCanary(twoOfThree, config())).toMatchObject({ score: 66.7, verdict: 'marginal' });
    expect(scoreCanary(twoOfThree, config({ pass: 60 }))).toMatchObject({ score: 66.7, verdict: 'pass' });
    expect(scoreCanary(twoOfThree, config({ marginal: 70, pass: 90 }))).toMatchObject({ score: 66.7, verdict: 'fail' });
    expect(scoreCanary([judged('a', 'pass'), judged('b', 'fail'), judged('c', 'fail')], config())).toMatchObject({ score: 33.3, verdict: 'fail' });
  });

  it('leaves metrics without data out of the denominator and groups without data out of the score', () => {
    const r = scoreCanary(
      [judged('a', 'pass', 'latency'), judged('b', 'nodata', 'latency'), judged('c', 'nodata', 'saturation')],
      config({ groups: { saturation: 10 } }),
    );
    expect(r.score).toBe(100);
    expect(r.verdict).toBe('pass');
    expect(r.groups).toEqual([
      { name: 'latency', weight: 1, passed: 1, total: 1, score: 100 },
      { name: 'saturation', weight: 10, passed: 0, total: 0, score: null },
    ]);
    expect(r.reason).toMatch(/no data: b, c$/);
  });

  it('counts a change in the harmless direction as passed', () => {
    expect(scoreCanary([judged('rps', 'harmless-high', 'default', true), judged('a', 'pass')], config())).toMatchObject({
      score: 100,
      verdict: 'pass',
      criticalFailures: [],
    });
  });

  it('fails on a failed critical metric whatever the score, keeping the score', () => {
    const metrics = [...range(9).map((i) => judged(`m${i}`, 'pass')), judged('5xx-rate', 'fail', 'default', true)];
    const r = scoreCanary(metrics, config());
    expect(r).toMatchObject({ score: 90, verdict: 'fail', criticalFailures: ['5xx-rate'] });
    expect(r.reason).toMatch(/^critical metric\(s\) failed: 5xx-rate \(score 90\)/);
  });

  it('is inconclusive, not failed, when no metric had data', () => {
    const r = scoreCanary([judged('a', 'nodata', 'latency'), judged('b', 'nodata', 'errors', true)], config());
    expect(r).toMatchObject({ score: 0, verdict: 'nodata', criticalFailures: [] });
    expect(r.reason).toBe('no metric had data (a, b); the canary cannot be judged');
    expect(scoreCanary([], config())).toMatchObject({ score: 0, verdict: 'nodata', groups: [] });
  });
});
