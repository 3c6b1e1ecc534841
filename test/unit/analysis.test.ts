import { AnalysisTemplate } from '../../common/spec';
import {
  addMeasurement,
  failureReason,
  finalVerdict,
  judgeMetric,
  judgeStatistically,
  measurementVerdict,
  metricSamples,
  metricValue,
  zeroCounters,
  type Measurement,
} from '../../analysis/analysis';

const stat = (id: string, name: string, s: 'Sum' | 'Average' = 'Sum') => ({
  Id: id,
  MetricStat: {
    Metric: { Namespace: 'AWS/ApplicationELB', MetricName: name, Dimensions: [{ Name: 'TargetGroup', Value: '${targetGroup}' }] },
    Period: 60,
    Stat: s,
  },
});
const rateMetric = {
  name: '5xx-rate',
  query: [stat('errors', 'E'), stat('requests', 'R'), { Id: 'rate', Expression: 'errors / requests' }],
  pass: { max: 0.01 },
};
const template = (extra: Record<string, unknown> = {}) => AnalysisTemplate.parse({ metrics: [rateMetric], ...extra });

describe('threshold analysis', () => {
  it('computes a ratio from window sums, not from an average of per-bucket ratios', () => {
    const m = template().metrics[0]!;
    // 1/10 in one bucket and 0/990 in the next: 1/1000 overall, while the mean of the ratios would be 0.05.
    expect(metricValue(m, { errors: [1, 0], requests: [10, 990] })).toBeCloseTo(0.001, 10);
  });

  it('treats no requests as no data rather than a zero error rate', () => {
    const m = template().metrics[0]!;
    expect(metricValue(m, { errors: [], requests: [] })).toBeNull();
    expect(metricValue(m, { errors: [0], requests: [0] })).toBeNull();
    expect(judgeMetric(m, { canary: null }, 'inconclusive').verdict).toBe('nodata');
    expect(judgeMetric(m, { canary: null }, 'fail').verdict).toBe('fail');
    expect(judgeMetric(m, { canary: null }, 'pass').verdict).toBe('pass');
  });

  it('judges absolute and relative bounds, saying the bound in words', () => {
    const rel = AnalysisTemplate.parse({ metrics: [{ ...rateMetric, pass: { relativeTo: 'stable', maxRatio: 1.5, max: 0.05 } }] }).metrics[0]!;
    expect(judgeMetric(rel, { canary: 0.012, stable: 0.01 }, 'inconclusive')).toMatchObject({
      verdict: 'pass',
      threshold: '<= 0.05 and <= 1.5 x stable (0.015)',
    });
    expect(judgeMetric(rel, { canary: 0.02, stable: 0.01 }, 'inconclusive').verdict).toBe('fail');
    expect(judgeMetric(rel, { canary: 0.02, stable: null }, 'inconclusive').verdict).toBe('nodata');
  });

  it('fails once failed measurements exceed failureLimit, and at once on a critical metric', () => {
    const t = template({ failureLimit: 1 });
    const fail: Measurement = {
      at: '',
      verdict: 'fail',
      metrics: [{ metric: '5xx-rate', canary: 0.2, reference: null, verdict: 'fail', critical: false, threshold: '<= 0.01' }],
    };
    let c = addMeasurement(zeroCounters, fail);
    expect(failureReason(t, c, fail)).toBeUndefined();
    c = addMeasurement(c, fail);
    expect(failureReason(t, c, fail)).toBe('2 failed measurement(s), failureLimit 1: 5xx-rate = 0.2, needs <= 0.01');
    const critical: Measurement = { ...fail, metrics: [{ ...fail.metrics[0]!, critical: true }] };
    expect(failureReason(t, addMeasurement(zeroCounters, critical), critical)).toMatch(/^critical metric 5xx-rate = 0.2/);
  });

  it('counts consecutive errors and resets them on a good measurement', () => {
    const t = template({ consecutiveErrorLimit: 2 });
    const err: Measurement = { at: '', verdict: 'error', metrics: [], error: 'Throttling' };
    const ok: Measurement = { at: '', verdict: 'pass', metrics: [] };
    let c = [err, err, ok, err, err].reduce(addMeasurement, zeroCounters);
    expect(c.consecutiveErrors).toBe(2);
    expect(failureReason(t, c, err)).toBeUndefined();
    c = addMeasurement(c, err);
    expect(failureReason(t, c, err)).toMatch(/3 consecutive measurements could not be taken \(consecutiveErrorLimit 2\): Throttling/);
  });

  it('leaves an analysis with any inconclusive measurement to a human', () => {
    const t = template({ count: 3 });
    const nodata: Measurement = {
      at: '',
      verdict: 'inconclusive',
      metrics: [{ metric: '5xx-rate', canary: null, reference: null, verdict: 'nodata', critical: false, threshold: '' }],
    };
    const pass: Measurement = { at: '', verdict: 'pass', metrics: [] };
    const c = [pass, nodata, pass].reduce(addMeasurement, zeroCounters);
    expect(finalVerdict(t, c, pass).verdict).toBe('inconclusive');
    expect(finalVerdict(t, [pass, pass].reduce(addMeasurement, zeroCounters), pass)).toEqual({ verdict: 'pass', reason: '2 of 2 measurement(s) passed' });
  });
});

describe('statistical judge in a measurement', () => {
  const latency = { name: 'latency', query: [stat('rt', 'TargetResponseTime', 'Average')], pass: { max: 2 } };
  const judged = AnalysisTemplate.parse({ metrics: [latency], judge: { kind: 'mann-whitney' } });

  it('evaluates expressions per timestamp to get one sample per bucket', () => {
    const m = template().metrics[0]!;
    expect(metricSamples(m, { errors: { t: [1, 2, 3], v: [1, 0, 2] }, requests: { t: [1, 2, 4], v: [10, 20, 40] } })).toEqual([0.1, 0]);
  });

  it('fails a canary 30% slower than baseline although it is under the absolute bound', () => {
    const base = Array.from({ length: 30 }, (_, i) => 0.1 + ((i * 7) % 11) / 1000);
    const slow = base.map((v) => v * 1.3);
    const thresholds = [judgeMetric(judged.metrics[0]!, { canary: 0.13 }, 'inconclusive')];
    expect(thresholds[0]!.verdict).toBe('pass');
    const { metrics, score } = judgeStatistically(judged, thresholds, [{ canary: slow, reference: base }], 'baseline');
    expect(metrics[0]!.stat).toMatchObject({ verdict: 'high', failed: true, against: 'baseline' });
    expect(metrics[0]!.stat!.pValue!).toBeLessThan(1e-6);
    expect(score).toMatchObject({ score: 0, verdict: 'fail' });
    expect(measurementVerdict(metrics, score)).toBe('fail');
  });

  it('passes a canary from the same distribution and calls an empty one inconclusive', () => {
    const a = Array.from({ length: 30 }, (_, i) => 0.1 + ((i * 7) % 11) / 1000);
    const b = Array.from({ length: 30 }, (_, i) => 0.1 + ((i * 5 + 3) % 11) / 1000);
    const same = judgeStatistically(judged, [judgeMetric(judged.metrics[0]!, { canary: 0.1 }, 'inconclusive')], [{ canary: a, reference: b }], 'stable');
    expect(measurementVerdict(same.metrics, same.score)).toBe('pass');
    const empty = judgeStatistically(judged, [judgeMetric(judged.metrics[0]!, { canary: 0.1 }, 'inconclusive')], [{ canary: [], reference: b }], 'stable');
    expect(empty.score?.verdict).toBe('nodata');
    expect(measurementVerdict(empty.metrics, empty.score)).toBe('inconclusive');
  });
});
