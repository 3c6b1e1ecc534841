import { parseCloudWatchExpression, expressionEvaluator } from '../../common/expression';
import { AnalysisTemplate, inconclusivePolicyOf, type ParsedStep, metricEvaluator, parseReleaseSpec } from '../../common/spec';
import { statisticError, statisticKind } from '../../common/statistic';
import { formatAnalysis } from '../../client/format';
import {
  analysisWindow,
  fillSeries,
  firstWindowAfter,
  judgeAlarms,
  measurementVerdict,
  metricValue,
  prepareSeries,
  reduceSeries,
} from '../../analysis/analysis';

describe('CloudWatch statistic grammar', () => {
  it.each([
    'Sum',
    'Average',
    'Minimum',
    'Maximum',
    'SampleCount',
    'p99',
    'p99.9',
    'p99.99',
    'p0',
    'p100',
    'p50.0000000001',
    'tm90',
    'wm99',
    'tc95',
    'ts99.5',
    'IQM',
    'TM(10%:90%)',
    'TM(2%:98%)',
    'TM(:95%)',
    'TM(5%:)',
    'TM(150:1000)',
    'WM(10%:90%)',
    'TC(:0.5)',
    'TS(0.1:2)',
    'PR(:0.5)',
    'PR(100:2000)',
    'PR(0.25:)',
  ])('accepts %s', (stat) => {
    expect(statisticError(stat)).toBeUndefined();
  });

  it.each([
    ['sum', 'not a CloudWatch statistic'],
    ['P99', 'not a CloudWatch statistic'],
    ['p', 'not a CloudWatch statistic'],
    ['p100.5', 'from 0 to 100'],
    ['p99.12345678901', 'not a CloudWatch statistic'],
    ['tm101', 'from 0 to 100'],
    ['iqm', 'not a CloudWatch statistic'],
    ['TM()', 'write TM(lower:upper)'],
    ['TM(:)', 'at least one bound'],
    ['TM(10%:90)', 'both bounds are percentages or both are values'],
    ['TM(90%:10%)', 'lower bound must be below the upper bound'],
    ['TM(10%:120%)', 'percentages are from 0% to 100%'],
    ['TM(a:b)', 'is not a number'],
    ['PR(:50%)', 'PR bounds are metric values'],
    ['XX(1:2)', 'not a CloudWatch statistic'],
    ['TM(1:2:3)', 'write TM(lower:upper)'],
  ])('rejects %s: %s', (stat, why) => {
    expect(statisticError(stat)).toContain(why);
  });

  it('knows which statistics add up over buckets and which CloudWatch alone can compute', () => {
    expect(['Sum', 'SampleCount', 'Average', 'Minimum', 'Maximum', 'p99', 'TM(10%:90%)', 'IQM'].map(statisticKind)).toEqual([
      'additive',
      'additive',
      'average',
      'minimum',
      'maximum',
      'extended',
      'extended',
      'extended',
    ]);
  });
});

describe('where an expression is evaluated', () => {
  it('keeps plain arithmetic local and sends functions to CloudWatch, reading the ids outside strings', () => {
    expect(expressionEvaluator('errors / requests')).toBe('local');
    expect(expressionEvaluator('100 * (a + b) / c')).toBe('local');
    expect(expressionEvaluator('FILL(errors, 0) / requests')).toBe('cloudwatch');
    expect(expressionEvaluator('IF(requests > 10, errors / requests, 0)')).toBe('cloudwatch');
    expect(parseCloudWatchExpression('IF(requests > 10 AND errors >= 1, FILL(errors, REPEAT) / requests, 0)').ids).toEqual(['requests', 'errors']);
    expect(parseCloudWatchExpression(`SUM(METRICS('errors'))`).ids).toEqual([]);
    expect(() => parseCloudWatchExpression('FILL(errors, 0')).toThrow('missing ")"');
    expect(() => parseCloudWatchExpression('FILLL(errors, 0)')).toThrow('unknown metric math function or keyword "FILLL"');
    expect(() => parseCloudWatchExpression(`SELECT SUM(RequestCount) FROM "AWS/ApplicationELB"`)).toThrow('Metrics Insights');
  });
});

describe('fill with CloudWatch FILL semantics', () => {
  const window = { startMs: 0, endMs: 60_000 };
  const P = 10_000;
  const series = { t: [10_000, 40_000], v: [4, 10] };

  it('a number fills every missing bucket, and a series without any datapoint entirely', () => {
    expect(fillSeries(series, 0, window, P)).toEqual({ t: [0, 10_000, 20_000, 30_000, 40_000, 50_000], v: [0, 4, 0, 0, 10, 0] });
    expect(fillSeries({ t: [], v: [] }, 0, window, P).v).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('repeat carries the most recent earlier value forward; a leading gap has nothing to repeat', () => {
    expect(fillSeries(series, 'repeat', window, P)).toEqual({ t: [10_000, 20_000, 30_000, 40_000, 50_000], v: [4, 4, 4, 10, 10] });
    expect(fillSeries({ t: [], v: [] }, 'repeat', window, P).v).toEqual([]);
  });

  it('linear interpolates inside a gap and leaves the ends empty', () => {
    expect(fillSeries(series, 'linear', window, P)).toEqual({ t: [10_000, 20_000, 30_000, 40_000], v: [4, 6, 8, 10] });
  });

  it('turns a healthy canary without any 5xx datapoint into a 0 rate, and no RequestCount into no data', () => {
    const template = AnalysisTemplate.parse({
      metrics: [
        {
          name: '5xx-rate',
          query: [
            {
              Id: 'errors',
              fill: 0,
              MetricStat: { Metric: { Namespace: 'AWS/ApplicationELB', MetricName: 'HTTPCode_Target_5XX_Count' }, Period: 60, Stat: 'Sum' },
            },
            { Id: 'requests', MetricStat: { Metric: { Namespace: 'AWS/ApplicationELB', MetricName: 'RequestCount' }, Period: 60, Stat: 'Sum' } },
            { Id: 'rate', Expression: 'errors / requests' },
          ],
          pass: { max: 0.01 },
        },
      ],
    });
    const metric = template.metrics[0]!;
    const w = { startMs: 0, endMs: 180_000 };
    const healthy = prepareSeries(metric, { requests: { t: [0, 60_000, 120_000], v: [100, 120, 90] } }, w);
    expect(metricValue(metric, { errors: healthy.errors!.v, requests: healthy.requests!.v })).toBe(0);
    const idle = prepareSeries(metric, {}, w);
    expect(metricValue(metric, { errors: idle.errors!.v, requests: idle.requests?.v ?? [] })).toBeNull();
  });
});

describe('the judged window', () => {
  const template = (fields: Record<string, unknown>) =>
    AnalysisTemplate.parse({
      metrics: [{ name: 'x', query: [{ Id: 'x', MetricStat: { Metric: { Namespace: 'N', MetricName: 'M' }, Period: 60, Stat: 'Sum' } }], pass: { max: 1 } }],
      ...fields,
    });
  const at = (iso: string): number => Date.parse(iso);
  const iso = (w: { startMs: number; endMs: number }) => [new Date(w.startMs).toISOString(), new Date(w.endMs).toISOString()];

  it('ends at the last complete bucket older than delay (2m by default) and never includes the bucket in progress', () => {
    // 12:05:30 - 2m = 12:03:30 → the last bucket that ended by then is 12:02-12:03.
    expect(iso(analysisWindow(at('2026-11-30T12:05:30Z'), template({ window: '1m' })))).toEqual(['2026-11-30T12:02:00.000Z', '2026-11-30T12:03:00.000Z']);
    // Exactly on a boundary, the bucket ending at now - delay is complete.
    expect(iso(analysisWindow(at('2026-11-30T12:05:00Z'), template({ window: '1m' })))).toEqual(['2026-11-30T12:02:00.000Z', '2026-11-30T12:03:00.000Z']);
    expect(iso(analysisWindow(at('2026-11-30T12:05:59.999Z'), template({ window: '1m', delay: '0s' })))).toEqual([
      '2026-11-30T12:04:00.000Z',
      '2026-11-30T12:05:00.000Z',
    ]);
  });

  it('rounds the window up to whole periods', () => {
    expect(iso(analysisWindow(at('2026-11-30T12:10:00Z'), template({ window: '150s', delay: '3m' })))).toEqual([
      '2026-11-30T12:04:00.000Z',
      '2026-11-30T12:07:00.000Z',
    ]);
  });

  it('first holds only buckets after a traffic change once a whole window of them has been delivered', () => {
    // Traffic changed at 12:00:20: the first whole bucket after it starts 12:01; 3 buckets + 2m delay → 12:06.
    const t = template({ window: '3m' });
    const first = firstWindowAfter(at('2026-11-30T12:00:20Z'), t);
    expect(new Date(first).toISOString()).toBe('2026-11-30T12:06:00.000Z');
    expect(iso(analysisWindow(first, t))).toEqual(['2026-11-30T12:01:00.000Z', '2026-11-30T12:04:00.000Z']);
    // A millisecond earlier the window would still reach into the bucket the change happened in.
    expect(analysisWindow(first - 1, t).startMs).toBeLessThan(at('2026-11-30T12:00:20Z'));
    // A change on a bucket edge: that bucket is whole.
    expect(new Date(firstWindowAfter(at('2026-11-30T12:01:00Z'), t)).toISOString()).toBe('2026-11-30T12:06:00.000Z');
  });

  it('treats a template parsed before delay existed (a running release) as delay 0', () => {
    const old = { ...template({ window: '1m' }), delay: undefined } as unknown as AnalysisTemplate;
    expect(iso(analysisWindow(at('2026-11-30T12:05:30Z'), old))).toEqual(['2026-11-30T12:04:00.000Z', '2026-11-30T12:05:00.000Z']);
  });
});

describe('CloudWatch-evaluated and extended-statistic series', () => {
  it('takes the worst bucket, since percentiles and per-bucket ratios do not combine exactly', () => {
    expect(reduceSeries(statisticKind('p99'), [0.2, 0.9, 0.4])).toBe(0.9);
    expect(reduceSeries(statisticKind('p99'), [0.2, 0.9, 0.4], 'lowest')).toBe(0.2);
    expect(reduceSeries(statisticKind('Sum'), [1, 2, 3])).toBe(6);
    const metric = {
      name: 'rate',
      query: [
        { Id: 'errors', MetricStat: { Metric: { Namespace: 'N', MetricName: 'E', Dimensions: [] }, Period: 60, Stat: 'Sum' } },
        { Id: 'requests', MetricStat: { Metric: { Namespace: 'N', MetricName: 'R', Dimensions: [] }, Period: 60, Stat: 'Sum' } },
        { Id: 'rate', Expression: 'IF(requests > 0, FILL(errors, 0) / requests)' },
      ],
      pass: { max: 0.01 },
      critical: false,
    };
    expect(metricEvaluator(metric)).toBe('cloudwatch');
    expect(metricValue(metric, { rate: [0.001, 0.02, 0] })).toBe(0.02);
    expect(metricValue(metric, {})).toBeNull();
  });
});

describe('alarm gates', () => {
  it('fails on ALARM, follows noData on INSUFFICIENT_DATA, passes on OK', () => {
    const states = [
      { name: 'a', state: 'OK' },
      { name: 'b', state: 'INSUFFICIENT_DATA' },
    ];
    expect(judgeAlarms(states, 'inconclusive').map((a) => a.verdict)).toEqual(['pass', 'nodata']);
    expect(judgeAlarms(states, 'fail').map((a) => a.verdict)).toEqual(['pass', 'fail']);
    expect(judgeAlarms(states, 'pass').map((a) => a.verdict)).toEqual(['pass', 'pass']);
    const alarm = judgeAlarms([{ name: 'c', state: 'ALARM', reason: 'Threshold Crossed' }], 'pass');
    expect(alarm).toEqual([{ name: 'c', state: 'ALARM', verdict: 'fail', reason: 'Threshold Crossed' }]);
    expect(measurementVerdict([], undefined, alarm)).toBe('fail');
    expect(measurementVerdict([], undefined, judgeAlarms(states, 'inconclusive'))).toBe('inconclusive');
  });
});

type AnalysisStep = Extract<ParsedStep, { kind: 'analysis' }>;

describe('inconclusive gates end', () => {
  const spec = (analysisStep: Record<string, unknown>, template: Record<string, unknown> = {}) =>
    parseReleaseSpec({
      service: 'checkout',
      version: 'v2',
      region: 'us-east-1',
      traffic: { listenerArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/checkout/50dc6c495c0c9188/f2f7dc8efc522ab2' },
      environment: { canaryTargets: [{ id: '10.0.0.1', port: 80 }] },
      steps: [{ setWeight: 10 }, { analysis: { template: 'errors', ...analysisStep } }, { setWeight: 100 }],
      analysis: { errors: { alarms: { prefix: 'checkout-' }, ...template } },
    });

  it('by default after an hour, rolling back', () => {
    const s = spec({});
    const step = s.steps[1] as AnalysisStep;
    expect(inconclusivePolicyOf(step, s.analysis.errors)).toEqual({ timeoutMs: 3_600_000, onTimeout: 'rollback' });
  });

  it("as the template says, and as the step says over the template's", () => {
    const s = spec({}, { inconclusive: { timeout: '15m', onTimeout: 'continue' } });
    expect(inconclusivePolicyOf(s.steps[1] as AnalysisStep, s.analysis.errors)).toEqual({ timeoutMs: 900_000, onTimeout: 'continue' });
    const t = spec({ inconclusive: { timeout: '5m' } }, { inconclusive: { timeout: '15m', onTimeout: 'continue' } });
    expect(inconclusivePolicyOf(t.steps[1] as AnalysisStep, t.analysis.errors)).toEqual({ timeoutMs: 300_000, onTimeout: 'rollback' });
  });

  it('for a template parsed before the field existed', () => {
    expect(inconclusivePolicyOf({}, {})).toEqual({ timeoutMs: 3_600_000, onTimeout: 'rollback' });
  });
});

describe('what a person reads', () => {
  it('says which window was judged and how each alarm stood', () => {
    const lines = formatAnalysis({
      templateName: 'errors',
      verdict: 'fail',
      reason: '1 failed measurement(s), failureLimit 0: alarm checkout-5xx is ALARM',
      counters: { measurements: 1, failed: 1, inconclusive: 0, errors: 0, consecutiveErrors: 0 },
      last: {
        at: '2026-11-30T12:05:30.000Z',
        verdict: 'fail',
        window: { start: '2026-11-30T12:02:00.000Z', end: '2026-11-30T12:03:00.000Z', periodSeconds: 60 },
        metrics: [],
        alarms: [{ name: 'checkout-5xx', state: 'ALARM', verdict: 'fail', reason: 'Threshold Crossed' }],
      },
    });
    expect(lines[1]).toMatch(/last measurement 2026-11-30 12:05:30Z: fail, judged 2026-11-30 12:02:00Z – 2026-11-30 12:03:00Z/);
    expect(lines).toContain('    alarm checkout-5xx: ALARM → fail (Threshold Crossed)');
  });
});
