/**
 * The `web` metric source: per metric and variant, one GET or POST to the endpoint the worker holds by the metric's
 * `endpoint` name (./settings.ts: CANARY_SOURCE_<NAME>_URL and its auth header), the variant and the window filled
 * into the request's parameters and body, and one number read from the JSON answer at the metric's `value` path: the
 * window's value for that variant, returned as one datapoint at the window's start.
 *
 * A path that is missing, or null, is no data (the template's `noData` decides); any other value that is not a number
 * (or a numeric string) is an error, as are 429 and 5xx answers (retried within the measurement) and timeouts.
 */
import type { Variant, VariantTarget } from '../../analysis/analysis';
import { parseJsonPath, readJsonPath } from '../../common/sources/json-path';
import { fillText, variantValues, type PlaceholderName } from '../../common/sources/request';
import { WEB_SERIES_ID, type WebMetric } from '../../common/sources/web';
import { checkStatus, excerpt, refused, sourceRequest } from './http';
import { originOf, sourceVariable, type WebEndpointSettings } from './settings';
import type { FetchedMetric, MetricFetch, MetricSource, SourceWindow } from './source';

const VARIANTS: readonly Variant[] = ['canary', 'baseline', 'stable'];

const USER_AGENT = 'alb-canary-metrics/1 (canary release worker)';

/** A JSON value with every string's placeholders filled (keys too). */
function fillJson(value: unknown, values: Partial<Record<PlaceholderName, string>>): unknown {
  if (typeof value === 'string') return fillText(value, values);
  if (Array.isArray(value)) return value.map((v) => fillJson(v, values));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [fillText(k, values), fillJson(v, values)]));
  return value;
}

/** The number at the path, null when there is none (missing or null), or a refusal saying what was there instead. */
function numberAt(answer: unknown, path: string, where: string): number | null {
  const found = readJsonPath(answer, parseJsonPath(path));
  if (found === undefined || found === null) return null;
  if (typeof found === 'number' && Number.isFinite(found)) return found;
  if (typeof found === 'string' && found.trim() !== '' && Number.isFinite(Number(found))) return Number(found);
  const what = Array.isArray(found) ? 'a list' : typeof found === 'object' ? 'an object' : `${typeof found} ${excerpt(JSON.stringify(found), 40)}`;
  throw refused(`${where}: ${path} is ${what}, not a number`);
}

/** The web source over the worker's endpoints. */
export function webSource(endpoints: Record<string, WebEndpointSettings>): MetricSource<'web'> {
  /** One variant's value over the window, or null when the answer has none. */
  async function ask(metric: WebMetric, variant: Variant, target: VariantTarget, window: SourceWindow, period: number): Promise<number | null> {
    const settings = endpoints[metric.endpoint];
    const where = `web endpoint "${metric.endpoint}"${settings?.url ? ` (${originOf(settings.url)})` : ''}`;
    if (!settings?.url) throw refused(`${where} is not configured on this worker: set ${sourceVariable('web', metric.endpoint, 'URL')}`);
    if (settings.problem) throw refused(`${where} cannot be used: ${settings.problem}`);
    const values: Partial<Record<PlaceholderName, string>> = {
      ...variantValues(variant, target),
      period: `${period}s`,
      periodSeconds: String(period),
      start: new Date(window.startMs).toISOString(),
      end: new Date(window.endMs).toISOString(),
      startSeconds: String(Math.floor(window.startMs / 1000)),
      endSeconds: String(Math.floor(window.endMs / 1000)),
    };
    const url = new URL(settings.url);
    for (const [k, v] of Object.entries(metric.params ?? {})) url.searchParams.append(k, fillText(v, values));
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': USER_AGENT };
    if (url.username) {
      headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
      url.username = '';
      url.password = '';
    }
    if (settings.header) headers[settings.header.name] = settings.header.value;
    let body: string | undefined;
    if (metric.method === 'POST') {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(fillJson(metric.body ?? {}, values));
    }
    const reply = await sourceRequest({ url, method: metric.method, headers, body, timeoutMs: settings.timeoutMs, where });
    checkStatus(where, reply);
    let answer: unknown;
    try {
      answer = JSON.parse(reply.text);
    } catch {
      throw new Error(`${where} answered HTTP ${reply.status} with a body that is not JSON: ${excerpt(reply.text, 120)}`);
    }
    return numberAt(answer, metric.value, where);
  }

  return {
    name: 'web',
    async fetch(items: MetricFetch<WebMetric>[], window: SourceWindow): Promise<FetchedMetric[]> {
      const out: FetchedMetric[] = [];
      for (const { metric, variants } of items) {
        const period = window.minPeriodSeconds ? Math.ceil(metric.period / window.minPeriodSeconds) * window.minPeriodSeconds : metric.period;
        const fetched: FetchedMetric = {};
        for (const variant of VARIANTS) {
          const target = variants[variant];
          if (!target) continue;
          const v = await ask(metric, variant, target, window, period);
          fetched[variant] = { [WEB_SERIES_ID]: v === null ? { t: [], v: [] } : { t: [window.startMs], v: [v] } };
        }
        out.push(fetched);
      }
      return out;
    },
  };
}
