import { formatBytes, formatCount, formatMs, formatRatio, gaps, linearFit, median, percentile, ratio, summarize } from '../../bench/stats';

describe('bench statistics', () => {
  it('interpolates percentiles between closest ranks, ignoring order and non-finite values', () => {
    const xs = [40, 10, 30, 20, Number.NaN];
    expect(percentile(xs, 0)).toBe(10);
    expect(percentile(xs, 100)).toBe(40);
    expect(percentile(xs, 50)).toBe(25);
    expect(percentile(xs, 90)).toBeCloseTo(37);
    expect(median([5])).toBe(5);
    expect(percentile([], 50)).toBeNull();
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  it('summarizes a sample, and an empty one as nulls', () => {
    expect(summarize([3, 1, 2])).toEqual({ n: 3, min: 1, median: 2, p90: 2.8, p99: expect.closeTo(2.98, 5), max: 3, mean: 2 });
    expect(summarize([])).toEqual({ n: 0, min: null, median: null, p90: null, p99: null, max: null, mean: null });
  });

  it('fits a least-squares line and refuses one without two distinct x', () => {
    const fit = linearFit([2, 6, 12, 2], [120, 200, 320, 120]);
    expect(fit?.slope).toBeCloseTo(20);
    expect(fit?.intercept).toBeCloseTo(80);
    expect(linearFit([3, 3], [1, 2])).toBeNull();
    expect(() => linearFit([1, 2], [1])).toThrow(RangeError);
  });

  it('computes gaps and null-safe ratios', () => {
    expect(gaps([1, 4, 9])).toEqual([3, 5]);
    expect(gaps([7])).toEqual([]);
    expect(ratio(10, 4)).toBe(2.5);
    expect(ratio(null, 4)).toBeNull();
    expect(ratio(1, 0)).toBeNull();
  });

  it('formats durations, ratios, counts and sizes for the table', () => {
    expect(formatMs(4.567)).toBe('4.57 ms');
    expect(formatMs(85.04)).toBe('85.0 ms');
    expect(formatMs(1234)).toBe('1.23 s');
    expect(formatMs(185_000)).toBe('3m05s');
    expect(formatMs(null)).toBe('-');
    expect(formatRatio(2.44)).toBe('2.4x');
    expect(formatRatio(12.6)).toBe('13x');
    expect(formatCount(51200)).toBe('51,200');
    expect(formatBytes(50 * 1024 * 1024)).toBe('50.0 MiB');
    expect(formatBytes(2048)).toBe('2.0 KiB');
  });
});
