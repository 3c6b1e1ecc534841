/**
 * What every analysis metric has, whatever source its data comes from (common/sources/: CloudWatch, Prometheus, web): its name,
 * bounds, judge options and `minRequests`, and the shape analysis/ reads it by — the series a source fetches per
 * variant, the arithmetic over them and which value is the metric. Thresholds, fill, windows, `minRequests` and the
 * judges work on that shape and never on a source's own query language. Workflow-safe.
 */
import { z } from 'zod';
import { JudgeMetricOptions } from './judge-config';
import type { StatisticKind } from './statistic';

/** All given bounds must hold. Relative bounds compare the canary with the baseline (or stable) value. */
export const PassCondition = z
  .strictObject({
    max: z.number().finite().optional(),
    min: z.number().finite().optional(),
    relativeTo: z.enum(['baseline', 'stable']).optional(),
    maxRatio: z.number().positive().finite().optional(),
    minRatio: z.number().nonnegative().finite().optional(),
  })
  .superRefine((p, ctx) => {
    if (p.max === undefined && p.min === undefined && p.maxRatio === undefined && p.minRatio === undefined) {
      ctx.addIssue({ code: 'custom', message: 'give at least one of max, min, maxRatio, minRatio' });
    }
    if ((p.maxRatio !== undefined || p.minRatio !== undefined) && !p.relativeTo) {
      ctx.addIssue({ code: 'custom', path: ['relativeTo'], message: 'maxRatio/minRatio need relativeTo: baseline or stable' });
    }
    if (p.min !== undefined && p.max !== undefined && p.min > p.max) {
      ctx.addIssue({ code: 'custom', path: ['min'], message: `min ${p.min} is above max ${p.max}` });
    }
  });
export type PassCondition = z.infer<typeof PassCondition>;

/**
 * Requests a variant must have served in a measurement's window for the window to be judged (the template's
 * `requests` count them); fewer, and the metric has no data for that window: `noData` decides, the bounds and the
 * judge never see it. 0 turns a template's minimum off for one metric.
 */
export const MinRequests = z.number().int('minRequests is a whole number of requests').min(0).max(1_000_000_000);

/** The fields of a metric that are not its source's: every source's schema spreads them into its own object. */
export const metricFields = {
  name: z.string().min(1).max(64),
  /** Bounds on the metric's value over the window; optional when the template has a statistical judge. */
  pass: PassCondition.optional(),
  /** How the statistical judge (template `judge`) compares this metric's datapoints with the reference's. */
  judge: JudgeMetricOptions.optional(),
  /** A failing critical metric fails the analysis at once, whatever failureLimit says. */
  critical: z.boolean().default(false),
  /** This metric's own `minRequests`, in place of the template's. */
  minRequests: MinRequests.optional(),
};

/** What a missing bucket of a fetched series is (CloudWatch's FILL semantics): a number, the previous value, or interpolated. */
export type Fill = number | 'repeat' | 'linear';

/** A series' `fill` in a source's schema: a number (`0`: a missing count is zero), `repeat` or `linear`. */
export const FillOption = z.union([z.number().finite(), z.enum(['repeat', 'linear'])], { message: 'fill is a number, repeat or linear' });

/**
 * How a source's series combines over a window, in the words of a schema that is not CloudWatch's: `sum` (counts add
 * up; a `sum / sum` metric is judged on its counts), `average`, `min`, `max`, or `worst` (percentiles and other values
 * that do not combine: the window's value is its worst bucket).
 */
export const CombineOption = z.enum(['sum', 'average', 'min', 'max', 'worst']);
export type CombineOption = z.infer<typeof CombineOption>;

/** {@link CombineOption} as analysis/ reads it. */
export const COMBINE_KIND: Record<CombineOption, StatisticKind> = { sum: 'additive', average: 'average', min: 'minimum', max: 'maximum', worst: 'extended' };

/**
 * A bucket length in seconds for a source that is not CloudWatch (its step): 1, 5, 10 or 30, or a multiple of 60, as
 * CloudWatch's Period, so that a mixed template's buckets line up.
 */
export const PeriodSeconds = z
  .number()
  .int()
  .refine(
    (p) => [1, 5, 10, 30].includes(p) || (p >= 60 && p % 60 === 0 && p <= 86_400),
    'period is 1, 5, 10 or 30 seconds, or a multiple of 60 (at most 86400)',
  );

/** One series a source fetches for each variant, as analysis/ reads it. */
export interface SeriesShape {
  /** The id the source returns the series under. */
  id: string;
  /** Bucket length: windows are aligned to a template's longest. */
  periodSeconds: number;
  /** How the series' buckets combine over a window: `additive` ones are counts (a counts metric is judged on them). */
  combine: StatisticKind;
  /** Missing buckets of the window, filled before anything is computed. */
  fill?: Fill;
  /** Where in the metric the series is defined (its period's field), for error messages. */
  path?: (string | number)[];
}

/**
 * A metric as analysis/ reads it. When the source evaluates the metric itself (`bySource`: CloudWatch metric math
 * with functions), only the `result` series comes back, one value per bucket; otherwise each of `series` comes back
 * and `expressions` (plain arithmetic: common/expression.ts), evaluated in order, compute the rest.
 */
export interface MetricShape {
  series: SeriesShape[];
  expressions: { id: string; expression: string }[];
  /** The id whose value is the metric's. */
  result: string;
  bySource: boolean;
}
