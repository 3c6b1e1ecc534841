/**
 * The `web` metric source's schema: a GET or POST to an endpoint the worker holds by name (CANARY_SOURCE_<NAME>_URL),
 * with the variant and the window as placeholders in the request (./request.ts), and one number picked out of the JSON
 * answer with a JSON path (./json-path.ts): the window's value for that variant, e.g. a synthetic-monitoring
 * service's success rate. The fetcher is activities/sources/web.ts. Workflow-safe.
 */
import { z } from 'zod';
import { metricFields, PeriodSeconds, type MetricShape } from '../metric';
import { parseJsonPath } from './json-path';
import { InstanceName, placeholderError, VARIANT_PLACEHOLDERS, WINDOW_PLACEHOLDERS } from './request';

/** What a web request may name: the variant's placeholders and the window's. */
export const WEB_PLACEHOLDERS: readonly string[] = [...Object.keys(VARIANT_PLACEHOLDERS), ...Object.keys(WINDOW_PLACEHOLDERS)];

/** The id of a web metric's one series. */
export const WEB_SERIES_ID = 'value';

/** Every string of a JSON value (keys and values), with where it is. */
function stringsOf(value: unknown, path: (string | number)[] = []): { text: string; path: (string | number)[] }[] {
  if (typeof value === 'string') return [{ text: value, path }];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringsOf(v, [...path, i]));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => [{ text: k, path: [...path, k] }, ...stringsOf(v, [...path, k])]);
  }
  return [];
}

/** A metric from a web endpoint: one request per variant and measurement, one number per answer. */
export const WebMetric = z
  .strictObject({
    source: z.literal('web'),
    ...metricFields,
    /** The endpoint the worker holds as CANARY_SOURCE_<ENDPOINT>_URL (and its auth header): never a URL in the spec. */
    endpoint: InstanceName,
    method: z.enum(['GET', 'POST']).default('GET'),
    /** Query parameters added to the endpoint's URL; values may hold placeholders (`variant: ${variant}`). */
    params: z.record(z.string().regex(/^[\w.~-]{1,64}$/, 'a parameter name is letters, digits and _ . ~ -'), z.string().max(1000)).optional(),
    /** POST only: the JSON body; its strings may hold placeholders. */
    body: z.record(z.string(), z.json()).optional(),
    /** Where the number is in the answer: `$.data.success_rate`, `$.items[0].value`. */
    value: z
      .string()
      .min(1)
      .max(500)
      .superRefine((path, ctx) => {
        try {
          parseJsonPath(path);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
        }
      }),
    /** The bucket length in seconds (windows are aligned to the template's longest); 60 when absent. */
    period: PeriodSeconds.default(60),
  })
  .superRefine((m, ctx) => {
    if (m.body !== undefined && m.method !== 'POST') ctx.addIssue({ code: 'custom', path: ['body'], message: 'a body is sent with method: POST only' });
    const texts = [
      ...Object.entries(m.params ?? {}).map(([k, v]) => ({ text: v, path: ['params', k] })),
      ...stringsOf(m.body ?? {}).map((s) => ({ text: s.text, path: ['body', ...s.path] })),
    ];
    for (const { text, path } of texts) {
      const error = placeholderError(text, WEB_PLACEHOLDERS);
      if (error) ctx.addIssue({ code: 'custom', path, message: error });
    }
  });
export type WebMetric = z.infer<typeof WebMetric>;

/** A web metric as analysis/ reads it: one series, one datapoint per window (at its start), its value the metric's. */
export function webShape(metric: { period: number }): MetricShape {
  return {
    series: [{ id: WEB_SERIES_ID, periodSeconds: metric.period, combine: 'average', path: ['period'] }],
    expressions: [],
    result: WEB_SERIES_ID,
    bySource: false,
  };
}
