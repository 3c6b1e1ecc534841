/**
 * The `prometheus` metric source: each PromQL query of a metric asked as a range query (`/api/v1/query_range`) per
 * variant, at a step of the metric's period, from the server the worker holds by the metric's `server` name
 * (./settings.ts: URL, bearer token, basic auth, or SigV4 for Amazon Managed Service for Prometheus).
 *
 * Buckets: the value Prometheus evaluates at time t is the bucket [t - period, t) (write range functions over
 * `[${period}]`: `increase(orders_total{...}[${period}])`), so a window [start, end) is asked from start + period to
 * end and each value is returned at its bucket's start, as CloudWatch's are.
 */
import { createHash, createHmac } from 'node:crypto';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import type { TimedSeries, Variant, VariantTarget } from '../../analysis/analysis';
import type { PrometheusMetric } from '../../common/sources/prometheus';
import { fillText, variantValues } from '../../common/sources/request';
import { checkStatus, excerpt, refused, sourceRequest } from './http';
import { originOf, sourceVariable, type PrometheusServerSettings } from './settings';
import type { FetchedMetric, MetricFetch, MetricSource, SourceWindow } from './source';

/** Prometheus refuses a range query of more than 11,000 points per series; ask in parts of this many. */
const MAX_POINTS = 10_000;

const VARIANTS: readonly Variant[] = ['canary', 'baseline', 'stable'];

/** How the source signs and sends: injected in tests. */
export interface PrometheusDeps {
  /** AWS credentials for SigV4 (default: the AWS SDK's default chain, as the worker's own calls use). */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
}

/** SHA-256 (and its HMAC) from node:crypto, in the shape the SDK's signer takes. */
class NodeSha256 {
  private hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(private readonly secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = NodeSha256.make(secret);
  }
  private static make(secret?: string | ArrayBuffer | ArrayBufferView) {
    if (secret === undefined) return createHash('sha256');
    const key =
      typeof secret === 'string'
        ? secret
        : Buffer.from(ArrayBuffer.isView(secret) ? secret.buffer.slice(secret.byteOffset, secret.byteOffset + secret.byteLength) : secret);
    return createHmac('sha256', key);
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(
      typeof data === 'string' ? data : Buffer.from(ArrayBuffer.isView(data) ? data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) : data),
    );
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset(): void {
    this.hash = NodeSha256.make(this.secret);
  }
}

/** Headers of a SigV4-signed request for `aps` (the SDK's signer, loaded only when a server asks for SigV4). */
async function sigv4Headers(
  url: URL,
  body: string,
  headers: Record<string, string>,
  region: string,
  deps: PrometheusDeps,
  where: string,
): Promise<Record<string, string>> {
  let SignatureV4: typeof import('@smithy/signature-v4').SignatureV4;
  let credentials = deps.credentials;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ({ SignatureV4 } = require('@smithy/signature-v4') as typeof import('@smithy/signature-v4'));
    if (!credentials) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { defaultProvider } = require('@aws-sdk/credential-provider-node') as { defaultProvider: () => AwsCredentialIdentityProvider };
      credentials = defaultProvider();
    }
  } catch {
    throw refused(`${where}: SigV4 needs the AWS SDK's @smithy/signature-v4 and @aws-sdk/credential-provider-node, which this installation lacks`);
  }
  const signer = new SignatureV4({ service: 'aps', region, credentials, sha256: NodeSha256 });
  const query: Record<string, string> = {};
  url.searchParams.forEach((v, k) => (query[k] = v));
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname,
    query,
    headers: { ...headers, host: url.host },
    body,
  });
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) if (k.toLowerCase() !== 'host') out[k] = String(v);
  return out;
}

/** A query's period in a window that asks for buckets at least `min` seconds long: a multiple of `min`. */
function stepIn(period: number, min: number | undefined): number {
  return min ? Math.ceil(period / min) * min : period;
}

/** Prometheus's answer to a range query, as far as it is read. */
interface RangeAnswer {
  status?: string;
  error?: string;
  errorType?: string;
  data?: { resultType?: string; result?: { metric?: Record<string, string>; values?: [number, string][] }[] };
}

/** The Prometheus source over the worker's servers. */
export function prometheusSource(servers: Record<string, PrometheusServerSettings>, deps: PrometheusDeps = {}): MetricSource<'prometheus'> {
  /** The server's settings, or a refusal naming the variable to set. */
  function serverOf(name: string): { settings: PrometheusServerSettings & { url: string }; where: string } {
    const settings = servers[name];
    const where = `Prometheus server "${name}"${settings?.url ? ` (${originOf(settings.url)})` : ''}`;
    if (!settings?.url) throw refused(`${where} is not configured on this worker: set ${sourceVariable('prometheus', name, 'URL')}`);
    if (settings.problem) throw refused(`${where} cannot be used: ${settings.problem}`);
    return { settings: settings as PrometheusServerSettings & { url: string }, where };
  }

  /** One range query; its one series' values at their buckets' starts. */
  async function rangeQuery(server: ReturnType<typeof serverOf>, promql: string, startMs: number, endMs: number, stepMs: number): Promise<TimedSeries> {
    const { settings, where } = server;
    const base = new URL(settings.url);
    const url = new URL(`${base.origin}${base.pathname.replace(/\/+$/, '')}/api/v1/query_range${base.search}`);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    // Credentials in the URL itself (https://user:pass@host) are basic auth; fetch refuses them in a URL.
    const user = settings.user ?? (base.username ? decodeURIComponent(base.username) : undefined);
    const password = settings.password ?? (base.password ? decodeURIComponent(base.password) : undefined);
    if (settings.bearerToken) headers.authorization = `Bearer ${settings.bearerToken}`;
    else if (user !== undefined) headers.authorization = `Basic ${Buffer.from(`${user}:${password ?? ''}`).toString('base64')}`;
    const out: TimedSeries = { t: [], v: [] };
    // Evaluation points t = first + k·step (the bucket [t - step, t)), in parts Prometheus accepts.
    for (let first = startMs + stepMs; first <= endMs; first += MAX_POINTS * stepMs) {
      const last = Math.min(endMs, first + (MAX_POINTS - 1) * stepMs);
      const body = new URLSearchParams({ query: promql, start: (first / 1000).toFixed(3), end: (last / 1000).toFixed(3), step: `${stepMs / 1000}` }).toString();
      const signedHeaders = settings.sigv4Region ? await sigv4Headers(url, body, headers, settings.sigv4Region, deps, where) : headers;
      const reply = await sourceRequest({ url, method: 'POST', headers: signedHeaders, body, timeoutMs: settings.timeoutMs, where });
      let answer: RangeAnswer | undefined;
      try {
        answer = JSON.parse(reply.text) as RangeAnswer;
      } catch {
        answer = undefined;
      }
      checkStatus(where, reply, answer?.error ? `${answer.errorType ?? 'error'}: ${excerpt(answer.error)}` : undefined);
      if (!answer || answer.status !== 'success' || answer.data?.resultType !== 'matrix') {
        throw new Error(`${where} answered HTTP ${reply.status} without a matrix result: ${excerpt(reply.text, 200)}`);
      }
      const result = answer.data.result ?? [];
      if (result.length > 1) {
        const labels = (m?: Record<string, string>): string =>
          `{${Object.entries(m ?? {})
            .map(([k, v]) => `${k}="${v}"`)
            .join(', ')}}`;
        throw refused(
          `${where}: "${excerpt(promql, 200)}" returned ${result.length} series (${result
            .slice(0, 2)
            .map((r) => labels(r.metric))
            .join(', ')}${result.length > 2 ? ', ...' : ''}): aggregate it to one per variant, e.g. sum(...)`,
        );
      }
      for (const [ts, text] of result[0]?.values ?? []) {
        const v = Number(text);
        const t = Math.round(ts * 1000) - stepMs;
        if (Number.isFinite(v) && t >= startMs && t < endMs) {
          out.t.push(t);
          out.v.push(v);
        }
      }
    }
    return out;
  }

  return {
    name: 'prometheus',
    async fetch(items: MetricFetch<PrometheusMetric>[], window: SourceWindow): Promise<FetchedMetric[]> {
      const out: FetchedMetric[] = [];
      for (const { metric, variants } of items) {
        const server = serverOf(metric.server);
        const step = stepIn(metric.period, window.minPeriodSeconds);
        const stepMs = step * 1000;
        // Whole buckets of the window only (the report's range is not aligned).
        const startMs = Math.ceil(window.startMs / stepMs) * stepMs;
        const fetched: FetchedMetric = {};
        for (const variant of VARIANTS) {
          const target: VariantTarget | undefined = variants[variant];
          if (!target) continue;
          const values = { ...variantValues(variant, target), period: `${step}s`, periodSeconds: String(step) };
          const byId: Record<string, TimedSeries> = {};
          for (const q of metric.query) {
            if (q.promql === undefined) continue;
            byId[q.id] = await rangeQuery(server, fillText(q.promql, values), startMs, window.endMs, stepMs);
          }
          fetched[variant] = byId;
        }
        out.push(fetched);
      }
      return out;
    },
  };
}
