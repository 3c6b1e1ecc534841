/**
 * The `prometheus` metric source's schema: a metric is a few PromQL range queries, each a series of the metric
 * (with how it combines over a window and its `fill`), plus plain arithmetic over them, as a CloudWatch metric is a
 * few MetricStat queries and expressions. Placeholders select the variant (`${targetGroupName}`, ...: ./request.ts);
 * `${period}` is the step. The fetcher is activities/sources/prometheus.ts. Workflow-safe.
 */
import { z } from 'zod';
import { parseExpression, referencedIds } from '../expression';
import { COMBINE_KIND, CombineOption, FillOption, metricFields, PeriodSeconds, type MetricShape } from '../metric';
import { InstanceName, placeholderError, VARIANT_PLACEHOLDERS } from './request';

/** What a PromQL query may name: the variant's, and the step. */
export const PROMQL_PLACEHOLDERS: readonly string[] = [...Object.keys(VARIANT_PLACEHOLDERS), 'period', 'periodSeconds'];

const CLOSING: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

/**
 * Why a PromQL query cannot be sent, as far as can be told without a server: empty, a placeholder no one fills, or
 * brackets and quotes that do not close. The server checks the rest (functions, label names) and its error is the
 * measurement's.
 */
export function promqlError(text: string): string | undefined {
  if (!text.trim()) return 'the query is empty';
  const placeholders = placeholderError(text, PROMQL_PLACEHOLDERS);
  if (placeholders) return placeholders;
  // Placeholders' braces are not PromQL's.
  const bare = text.replace(/\$\{[^}]*\}/g, 'x');
  const open: string[] = [];
  for (let i = 0; i < bare.length; i++) {
    const c = bare[i] as string;
    if (c === '"' || c === "'" || c === '`') {
      const end = c === '`' ? bare.indexOf('`', i + 1) : closingQuote(bare, i);
      if (end < 0) return `the string opened at position ${i + 1} does not close`;
      i = end;
    } else if (c === '#') {
      const eol = bare.indexOf('\n', i);
      i = eol < 0 ? bare.length : eol;
    } else if (CLOSING[c]) open.push(CLOSING[c]);
    else if (c === ')' || c === ']' || c === '}') {
      if (open.pop() !== c) return `"${c}" at position ${i + 1} closes nothing open`;
    }
  }
  if (open.length) return `"${open[open.length - 1]}" is missing at the end`;
  return undefined;
}

/** The index of the quote closing the one at `start` (backslash escapes), or -1. */
function closingQuote(text: string, start: number): number {
  const q = text[start];
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === q) return i;
    else if (text[i] === '\n') return -1;
  }
  return -1;
}

const SeriesId = z.string().regex(/^[a-z][a-zA-Z0-9_]{0,63}$/, 'an id starts with a lowercase letter, then letters, digits or _');

/** One query of a Prometheus metric: a PromQL range query (one series) or arithmetic over the others' ids. */
export const PromQuery = z
  .strictObject({
    id: SeriesId,
    /** A PromQL expression returning one series per variant; its value at time t is the bucket [t - period, t). */
    promql: z
      .string()
      .max(4000)
      .superRefine((q, ctx) => {
        const error = promqlError(q);
        if (error) ctx.addIssue({ code: 'custom', message: error });
      })
      .optional(),
    /** How the series' buckets combine over the window (`sum` for counts); `average` when absent. */
    combine: CombineOption.optional(),
    /** A bucket without a value is this (`0` for counts, which `sum()` of nothing leaves out), `repeat` or `linear`. */
    fill: FillOption.optional(),
    /** Plain arithmetic over the other queries' ids (ids, numbers, + - * / and parentheses), evaluated by canary. */
    expression: z.string().min(1).max(500).optional(),
  })
  .superRefine((q, ctx) => {
    if ((q.promql === undefined) === (q.expression === undefined)) {
      ctx.addIssue({ code: 'custom', message: `query ${q.id} needs exactly one of promql or expression` });
    }
    if (q.expression !== undefined) {
      try {
        parseExpression(q.expression);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['expression'], message: (err as Error).message });
      }
      for (const field of ['combine', 'fill'] as const) {
        if (q[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: `${field} applies to a promql query, not to an expression` });
      }
    }
  });
export type PromQuery = z.infer<typeof PromQuery>;

/** The fields a Prometheus metric and a Prometheus request count share. */
const promFields = {
  source: z.literal('prometheus'),
  /** The server the worker holds as CANARY_PROMETHEUS_<SERVER>_URL (and its credentials). */
  server: InstanceName,
  /** The step and bucket length in seconds; 60 (the ALB's minute) when absent. Give a mixed template's metrics the same. */
  period: PeriodSeconds.default(60),
  query: z.array(PromQuery).min(1).max(10),
};

/** Unique ids, and expressions that read other queries of the metric. */
function checkQueries(query: readonly PromQuery[], ctx: z.RefinementCtx): void {
  const ids = query.map((q) => q.id);
  query.forEach((q, i) => {
    if (ids.indexOf(q.id) !== i) ctx.addIssue({ code: 'custom', path: ['query', i, 'id'], message: `duplicate query id ${q.id}` });
    if (q.expression === undefined) return;
    let refs: string[];
    try {
      refs = referencedIds(parseExpression(q.expression));
    } catch {
      return; // reported by PromQuery
    }
    for (const ref of refs) {
      if (!ids.includes(ref) || ref === q.id) {
        ctx.addIssue({ code: 'custom', path: ['query', i, 'expression'], message: `"${ref}" is not the id of another query of this metric` });
      }
    }
  });
}

/** A metric from Prometheus: its queries, asked as range queries at `period` for each variant. */
export const PrometheusMetric = z.strictObject({ ...promFields, ...metricFields }).superRefine((m, ctx) => checkQueries(m.query, ctx));
export type PrometheusMetric = z.infer<typeof PrometheusMetric>;

/** How a template counts requests from Prometheus: queries whose result is a count (`combine: sum`, or arithmetic over such). */
export const PrometheusRequests = z.strictObject(promFields).superRefine((r, ctx) => {
  checkQueries(r.query, ctx);
  r.query.forEach((q, i) => {
    if (q.promql !== undefined && q.combine !== 'sum') {
      ctx.addIssue({
        code: 'custom',
        path: ['query', i, 'combine'],
        message: 'requests are a count: combine: sum (e.g. sum(increase(http_requests_total{...}[${period}])))',
      });
    }
  });
});
export type PrometheusRequests = z.infer<typeof PrometheusRequests>;

/** The query whose value is the metric: the last one. */
function resultOf(query: readonly PromQuery[]): string {
  return (query[query.length - 1] as PromQuery).id;
}

/** A Prometheus metric as analysis/ reads it: each promql query a series, the expressions in order, the last query the result. */
export function prometheusShape(metric: { period: number; query: readonly PromQuery[] }): MetricShape {
  return {
    series: metric.query.flatMap((q) =>
      q.promql === undefined
        ? []
        : [
            {
              id: q.id,
              periodSeconds: metric.period,
              combine: COMBINE_KIND[q.combine ?? 'average'],
              path: ['period'],
              ...(q.fill !== undefined ? { fill: q.fill } : {}),
            },
          ],
    ),
    expressions: metric.query.flatMap((q) => (q.expression !== undefined ? [{ id: q.id, expression: q.expression }] : [])),
    result: resultOf(metric.query),
    bySource: false,
  };
}
