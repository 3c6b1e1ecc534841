/**
 * The `cloudwatch` metric source's schema (the default source): a metric is a list of CloudWatch MetricDataQuery
 * objects whose `${targetGroup}` and `${loadBalancer}` placeholders the source fills per variant
 * (activities/sources/cloudwatch.ts), and the shape analysis/ reads it by. Workflow-safe.
 */
import { z } from 'zod';
import { expressionEvaluator, parseCloudWatchExpression, parseExpression, referencedIds } from '../expression';
import { statisticError, statisticKind } from '../statistic';
import { metricFields, type MetricShape } from '../metric';

const QueryId = z.string().regex(/^[a-z][a-zA-Z0-9_]{0,254}$/, 'a query Id starts with a lowercase letter, then letters, digits or _');
const PERIODS = 'Period is 1, 5, 10 or 30 seconds, or a multiple of 60';

/** CloudWatch's MetricDataQuery shape; `${targetGroup}` and `${loadBalancer}` are filled per variant. */
export const MetricDataQuery = z
  .strictObject({
    Id: QueryId,
    Label: z.string().max(255).optional(),
    ReturnData: z.boolean().optional(),
    MetricStat: z
      .strictObject({
        Metric: z.strictObject({
          Namespace: z.string().min(1).max(255),
          MetricName: z.string().min(1).max(255),
          Dimensions: z
            .array(z.strictObject({ Name: z.string().min(1).max(255), Value: z.string().min(1).max(1024) }))
            .max(30)
            .default([]),
        }),
        Period: z
          .number()
          .int()
          .refine((p) => [1, 5, 10, 30].includes(p) || (p >= 60 && p % 60 === 0), PERIODS),
        /** Any CloudWatch statistic: Sum, Average, Minimum, Maximum, SampleCount, p99, p99.9, tm90, IQM, TM(10%:90%), PR(:0.5), ... */
        Stat: z
          .string()
          .min(1)
          .max(64)
          .superRefine((stat, ctx) => {
            const error = statisticError(stat);
            if (error) ctx.addIssue({ code: 'custom', message: error });
          }),
        Unit: z.string().max(64).optional(),
      })
      .optional(),
    /**
     * Metric math over other queries' ids: plain arithmetic (ids, numbers, + - * / and parentheses) is evaluated by
     * canary over the window's values; anything with a function (FILL, IF, SUM, RATE, METRICS(), ...) by CloudWatch.
     */
    Expression: z.string().min(1).max(500).optional(),
    /**
     * canary's own field, not CloudWatch's: how the buckets of the window this MetricStat has no datapoint for are
     * filled before the metric is computed, with CloudWatch's FILL semantics: a number (`0`: a missing count is
     * zero), `repeat` (the most recent earlier value) or `linear` (interpolated between the values either side).
     */
    fill: z
      .union([z.number().finite(), z.enum(['repeat', 'linear', 'REPEAT', 'LINEAR']).transform((f) => f.toLowerCase() as 'repeat' | 'linear')], {
        message: 'fill is a number, repeat or linear',
      })
      .optional(),
  })
  .superRefine((q, ctx) => {
    if (!!q.MetricStat === !!q.Expression) {
      ctx.addIssue({ code: 'custom', message: `query ${q.Id} needs exactly one of MetricStat or Expression` });
    }
    if (q.Expression) {
      try {
        if (expressionEvaluator(q.Expression) === 'cloudwatch') parseCloudWatchExpression(q.Expression);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['Expression'], message: (err as Error).message });
      }
      if (q.fill !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['fill'], message: 'fill applies to a MetricStat query; in an expression write FILL(id, 0)' });
      }
    }
  });
export type MetricDataQuery = z.infer<typeof MetricDataQuery>;

/** A metric's queries, checked together: unique ids, expressions that read other queries of the metric, fill where canary applies it. */
function checkQueries(query: MetricDataQuery[], ctx: z.RefinementCtx): void {
  const ids = new Set<string>();
  query.forEach((q, i) => {
    if (ids.has(q.Id)) ctx.addIssue({ code: 'custom', path: ['query', i, 'Id'], message: `duplicate query Id ${q.Id}` });
    ids.add(q.Id);
  });
  const evaluator = metricEvaluator({ query });
  query.forEach((q, i) => {
    if (evaluator === 'cloudwatch' && q.fill !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['query', i, 'fill'],
        message: `this metric's expression is evaluated by CloudWatch, which does not see canary's fill: write FILL(${q.Id}, ${q.fill === 'repeat' || q.fill === 'linear' ? q.fill.toUpperCase() : q.fill}) in the expression`,
      });
    }
    if (!q.Expression) return;
    try {
      const refs = expressionEvaluator(q.Expression) === 'local' ? referencedIds(parseExpression(q.Expression)) : parseCloudWatchExpression(q.Expression).ids;
      for (const ref of refs) {
        if (!ids.has(ref) || ref === q.Id) {
          ctx.addIssue({ code: 'custom', path: ['query', i, 'Expression'], message: `"${ref}" is not the Id of another query of this metric` });
        }
      }
    } catch {
      // reported by MetricDataQuery
    }
  });
}

/** A metric from CloudWatch: GetMetricData queries, one request per window for every metric and variant of a template. */
export const CloudWatchMetric = z
  .strictObject({
    /** The default: a metric without `source` is CloudWatch's. */
    source: z.literal('cloudwatch').optional(),
    ...metricFields,
    query: z.array(MetricDataQuery).min(1).max(10),
  })
  .superRefine((m, ctx) => checkQueries(m.query, ctx));
export type CloudWatchMetric = z.infer<typeof CloudWatchMetric>;

/**
 * How a template counts each variant's requests for `minRequests`, from CloudWatch: queries whose result is a count
 * (Sum or SampleCount, or plain arithmetic over such counts), summed over the window.
 */
export const CloudWatchRequests = z
  .strictObject({
    source: z.literal('cloudwatch').optional(),
    query: z.array(MetricDataQuery).min(1).max(10),
  })
  .superRefine((r, ctx) => {
    checkQueries(r.query, ctx);
    if (metricEvaluator(r) === 'cloudwatch') {
      ctx.addIssue({ code: 'custom', path: ['query'], message: 'requests are counted by canary: use plain arithmetic, not metric math functions' });
    }
    r.query.forEach((q, i) => {
      if (q.MetricStat && statisticKind(q.MetricStat.Stat) !== 'additive') {
        ctx.addIssue({ code: 'custom', path: ['query', i, 'MetricStat', 'Stat'], message: 'requests are a count: Stat Sum or SampleCount' });
      }
    });
  });
export type CloudWatchRequests = z.infer<typeof CloudWatchRequests>;

/**
 * One MetricStat query of an `AWS/ApplicationELB` metric of the variant's target group (placeholders filled per
 * variant); `fill` for counts ALB leaves out when they are zero (`fill: 0`).
 */
export function albMetricQuery(id: string, metricName: string, stat: string, periodSeconds: number, fill?: number | 'repeat' | 'linear'): MetricDataQuery {
  return {
    ...(fill === undefined ? {} : { fill }),
    Id: id,
    MetricStat: {
      Metric: {
        Namespace: 'AWS/ApplicationELB',
        MetricName: metricName,
        Dimensions: [
          { Name: 'TargetGroup', Value: '${targetGroup}' },
          { Name: 'LoadBalancer', Value: '${loadBalancer}' },
        ],
      },
      Period: periodSeconds,
      Stat: stat,
    },
  };
}

/**
 * The request count of a template without `requests`, behind an ALB: each variant's target group's RequestCount
 * (the requests the load balancer routed to it), a missing minute counting as none, at the template's period.
 */
export function albRequestCount(periodSeconds: number): CloudWatchRequests {
  return { query: [albMetricQuery('requests', 'RequestCount', 'Sum', periodSeconds, 0)] };
}

/**
 * Who computes a metric's value: `local` when every expression is plain arithmetic (canary evaluates it over the
 * window's per-query values, after `fill`), `cloudwatch` when one uses a metric math function (GetMetricData
 * evaluates it per bucket).
 */
export function metricEvaluator(metric: { query: readonly { Expression?: string }[] }): 'local' | 'cloudwatch' {
  return metric.query.some((q) => q.Expression !== undefined && expressionEvaluator(q.Expression) === 'cloudwatch') ? 'cloudwatch' : 'local';
}

/** The query whose value is the metric: the one with ReturnData true when exactly one says so, else the last. */
export function resultQuery(metric: { name?: string; query: readonly MetricDataQuery[] }): MetricDataQuery {
  const marked = metric.query.filter((q) => q.ReturnData === true);
  const q = marked.length === 1 ? marked[0] : metric.query[metric.query.length - 1];
  if (!q) throw new Error(`metric ${metric.name ?? ''} has no query`);
  return q;
}

/** A CloudWatch metric as analysis/ reads it: each MetricStat a series, local expressions in order, or CloudWatch's result. */
export function cloudWatchShape(metric: { name?: string; query: readonly MetricDataQuery[] }): MetricShape {
  const bySource = metricEvaluator(metric) === 'cloudwatch';
  return {
    series: metric.query.flatMap((q, j) => {
      if (!q.MetricStat) return [];
      const path = ['query', j, 'MetricStat', 'Period'];
      return [
        { id: q.Id, periodSeconds: q.MetricStat.Period, combine: statisticKind(q.MetricStat.Stat), path, ...(q.fill !== undefined ? { fill: q.fill } : {}) },
      ];
    }),
    expressions: bySource ? [] : metric.query.flatMap((q) => (q.Expression ? [{ id: q.Id, expression: q.Expression }] : [])),
    result: resultQuery(metric).Id,
    bySource,
  };
}
