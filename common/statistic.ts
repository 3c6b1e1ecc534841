/**
 * CloudWatch statistics as GetMetricData takes them (`MetricStat.Stat`), checked by their grammar so a typo is a
 * field error at `canary start`, not an API error in the middle of a release. Workflow-safe.
 *
 * Grammar (CloudWatch "statistics definitions"): the basic statistics; `pNN` percentiles and the `tmNN`, `wmNN`,
 * `tcNN`, `tsNN` shorthands (NN from 0 to 100, up to 10 decimal places); `IQM`; and the range forms
 * `TM|WM|TC|TS(a:b)` with percentages (`TM(10%:90%)`) or absolute values (`TM(150:1000)`), either bound may be
 * left out, and `PR(a:b)` (percentile rank) whose bounds are always absolute values.
 */

export const BASIC_STATISTICS = ['Sum', 'Average', 'Minimum', 'Maximum', 'SampleCount'] as const;
export type BasicStatistic = (typeof BASIC_STATISTICS)[number];

/** How a statistic can be combined over several buckets of a window. */
export type StatisticKind =
  /** Sum and SampleCount: bucket values add up. */
  | 'additive'
  | 'average'
  | 'minimum'
  | 'maximum'
  /** Percentiles, trimmed/winsorized means, ranks: CloudWatch computes them per bucket; buckets do not combine exactly. */
  | 'extended';

const NUMBER = '(\\d{1,15}(?:\\.\\d{1,10})?)';
const SHORTHAND = new RegExp(`^(p|tm|wm|tc|ts)${NUMBER}$`);
const RANGE = /^(TM|WM|TC|TS|PR)\((.*)\)$/;
const BOUND = new RegExp(`^${NUMBER}(%?)$`);

/** Why `stat` is not a CloudWatch statistic, or undefined when it is one. */
export function statisticError(stat: string): string | undefined {
  if ((BASIC_STATISTICS as readonly string[]).includes(stat) || stat === 'IQM') return undefined;
  const short = SHORTHAND.exec(stat);
  if (short) {
    const value = Number(short[2]);
    if (value > 100) return `${stat}: ${short[1]}NN takes a number from 0 to 100`;
    return undefined;
  }
  const range = RANGE.exec(stat);
  if (range) {
    const [, fn, inner = ''] = range;
    const parts = inner.split(':');
    if (parts.length !== 2) return `${stat}: write ${fn}(lower:upper), e.g. ${fn === 'PR' ? 'PR(:0.5)' : `${fn}(10%:90%)`}`;
    const [lowText = '', highText = ''] = parts.map((p) => p.trim());
    if (!lowText && !highText) return `${stat}: give at least one bound`;
    const bounds = [lowText, highText].filter((b) => b !== '').map((b) => ({ text: b, m: BOUND.exec(b) }));
    for (const b of bounds) if (!b.m) return `${stat}: "${b.text}" is not a number (up to 10 decimal places) or a percentage`;
    const percent = bounds.map((b) => b.m?.[2] === '%');
    if (fn === 'PR' && percent.some(Boolean)) return `${stat}: PR bounds are metric values, not percentages, e.g. PR(:0.5)`;
    if (percent.length === 2 && percent[0] !== percent[1]) return `${stat}: both bounds are percentages or both are values`;
    const values = bounds.map((b) => Number(b.m?.[1]));
    if (percent[0] && values.some((v) => v > 100)) return `${stat}: percentages are from 0% to 100%`;
    if (lowText && highText && (values[0] as number) >= (values[1] as number)) return `${stat}: the lower bound must be below the upper bound`;
    return undefined;
  }
  return (
    `"${stat}" is not a CloudWatch statistic: use Sum, Average, Minimum, Maximum, SampleCount, ` +
    'pNN(.NN) (e.g. p99, p99.9), tmNN, wmNN, tcNN, tsNN, IQM, or TM|WM|TC|TS(a%:b%), TM(a:b), PR(a:b)'
  );
}

/** How a (valid) statistic combines across buckets. */
export function statisticKind(stat: string): StatisticKind {
  switch (stat) {
    case 'Sum':
    case 'SampleCount':
      return 'additive';
    case 'Average':
      return 'average';
    case 'Minimum':
      return 'minimum';
    case 'Maximum':
      return 'maximum';
    default:
      return 'extended';
  }
}
