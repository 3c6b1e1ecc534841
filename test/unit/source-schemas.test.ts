/**
 * The `prometheus` and `web` sources' schemas, as `canary validate` checks them offline (PromQL's shape and its
 * placeholders, the web source's JSON path and request), the JSON path itself, and the worker's variables for the
 * servers and endpoints (CANARY_PROMETHEUS_<NAME>_*, CANARY_SOURCE_<NAME>_*).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { sourceSettingsFromEnv } from '../../activities/sources/settings';
import { templatePeriodSeconds } from '../../analysis/analysis';
import { AnalysisTemplate, fieldErrors } from '../../common/spec';
import { metricShape } from '../../common/sources/index';
import { parseJsonPath, readJsonPath } from '../../common/sources/json-path';
import { promqlError } from '../../common/sources/prometheus';
import { isWorkerEnvVar, loadWorkerConfig } from '../../worker/config';

function problems(template: Record<string, unknown>): string[] {
  const r = AnalysisTemplate.safeParse(template);
  return r.success ? [] : fieldErrors(r.error).map((e) => `${e.field}: ${e.message}`);
}

const count = (metric: string): string => `sum(increase(${metric}{target_group="\${targetGroupName}"}[\${period}]))`;
const conversion = {
  name: 'conversion',
  source: 'prometheus',
  server: 'main',
  period: 60,
  query: [
    { id: 'orders', promql: count('orders_total'), combine: 'sum', fill: 0 },
    { id: 'visits', promql: count('visits_total'), combine: 'sum' },
    { id: 'rate', expression: 'orders / visits' },
  ],
  pass: { relativeTo: 'stable', minRatio: 0.8 },
};
const synthetics = {
  name: 'synthetic-success',
  source: 'web',
  endpoint: 'synthetics',
  value: '$.data.success_rate',
  params: { group: '${targetGroupName}' },
  pass: { min: 0.99 },
};
const alb5xx = {
  name: '5xx',
  query: [
    {
      Id: 'errors',
      MetricStat: {
        Metric: { Namespace: 'AWS/ApplicationELB', MetricName: 'HTTPCode_Target_5XX_Count', Dimensions: [{ Name: 'TargetGroup', Value: '${targetGroup}' }] },
        Period: 60,
        Stat: 'Sum',
      },
    },
  ],
  pass: { max: 5 },
};

describe('a prometheus metric', () => {
  it('reads as a few series and arithmetic over them, the last query its value, at its period (60 s unless given)', () => {
    const t = AnalysisTemplate.parse({ metrics: [{ ...conversion, period: undefined }] });
    expect(metricShape(t.metrics[0]!)).toEqual({
      series: [
        { id: 'orders', periodSeconds: 60, combine: 'additive', fill: 0, path: ['period'] },
        { id: 'visits', periodSeconds: 60, combine: 'additive', path: ['period'] },
      ],
      expressions: [{ id: 'rate', expression: 'orders / visits' }],
      result: 'rate',
      bySource: false,
    });
  });

  it('mixes with CloudWatch and web metrics in one template, whose buckets must line up', () => {
    expect(problems({ metrics: [alb5xx, conversion, { ...synthetics, period: 30 }] })).toEqual([]);
    expect(templatePeriodSeconds(AnalysisTemplate.parse({ metrics: [alb5xx, { ...conversion, period: 300 }] }))).toBe(300);
    expect(problems({ metrics: [alb5xx, { ...conversion, period: 300 }, { ...synthetics, period: 120 }] })).toEqual([
      "metrics[2].period: Period 120 does not divide the template's longest Period 300: buckets would not line up",
    ]);
  });

  it('names what is wrong with a query: placeholders, brackets, quotes, ids, expressions, combine and fill', () => {
    const q = (query: unknown[]) => problems({ metrics: [{ ...conversion, query }] });
    expect(q([{ id: 'a', promql: 'sum(rate(x{version="${version}"}[${period}]))' }])).toEqual([
      'metrics[0].query[0].promql: unknown placeholder ${version}: one of ${targetGroup}, ${targetGroupName}, ${loadBalancer}, ${variant}, ${period}, ${periodSeconds}',
    ]);
    expect(q([{ id: 'a', promql: '  ' }])).toEqual(['metrics[0].query[0].promql: the query is empty']);
    expect(q([{ id: 'a', promql: 'sum(rate(x[1m])' }])).toEqual(['metrics[0].query[0].promql: ")" is missing at the end']);
    expect(q([{ id: 'a', promql: 'x{a="b}' }])).toEqual(['metrics[0].query[0].promql: the string opened at position 5 does not close']);
    expect(
      q([
        { id: 'a', promql: 'x' },
        { id: 'a', promql: 'y' },
        { id: 'r', expression: 'a / b' },
      ]),
    ).toEqual(['metrics[0].query[1].id: duplicate query id a', 'metrics[0].query[2].expression: "b" is not the id of another query of this metric']);
    expect(q([{ id: 'a', promql: 'x', expression: '2 * 3' }])).toEqual(['metrics[0].query[0]: query a needs exactly one of promql or expression']);
    expect(
      q([
        { id: 'a', promql: 'x' },
        { id: 'r', expression: 'a', fill: 0 },
      ]),
    ).toEqual(['metrics[0].query[1].fill: fill applies to a promql query, not to an expression']);
    expect(problems({ metrics: [{ ...conversion, server: 'Main_1' }] })[0]).toMatch(/^metrics\[0\]\.server: lower case letters/);
    expect(problems({ metrics: [{ ...conversion, period: 45 }] })).toEqual([
      'metrics[0].period: period is 1, 5, 10 or 30 seconds, or a multiple of 60 (at most 86400)',
    ]);
  });

  it("keeps PromQL's own braces, strings and comments apart from placeholders", () => {
    expect(promqlError('sum by (le) (rate(http_bucket{job=~"a|b}", path!="/x(", tg="${targetGroup}"}[${period}])) # a ) comment')).toBeUndefined();
    expect(promqlError("x{a='it\\'s'}")).toBeUndefined();
    expect(promqlError('x) (')).toBe('")" at position 2 closes nothing open');
    expect(promqlError('x{tg="${targetGroup"}')).toMatch(/^unknown placeholder \$\{targetGroup"\}/);
    expect(promqlError('x{tg="${targetGroup"')).toBe('"${" without its closing "}"');
  });

  it("counts a template's requests from Prometheus only with count queries", () => {
    const requests = { source: 'prometheus', server: 'main', period: 60, query: [{ id: 'n', promql: count('http_requests_total') }] };
    expect(problems({ metrics: [conversion], minRequests: 10, requests })).toEqual([
      'requests.query[0].combine: requests are a count: combine: sum (e.g. sum(increase(http_requests_total{...}[${period}])))',
    ]);
    const ok = AnalysisTemplate.parse({ metrics: [conversion], minRequests: 10, requests: { ...requests, query: [{ ...requests.query[0], combine: 'sum' }] } });
    expect(ok.requests).toMatchObject({ source: 'prometheus', server: 'main' });
  });

  it('names the sources there are when a metric names another', () => {
    expect(problems({ metrics: [{ ...conversion, source: 'datadog' }] })).toEqual([
      'metrics[0].source: unknown metric source "datadog": one of cloudwatch, prometheus, web (cloudwatch when absent)',
    ]);
  });
});

describe('a web metric', () => {
  it('is one series with one value per window, at its period', () => {
    const t = AnalysisTemplate.parse({ metrics: [synthetics] });
    expect(t.metrics[0]).toMatchObject({ method: 'GET', period: 60 });
    expect(metricShape(t.metrics[0]!)).toEqual({
      series: [{ id: 'value', periodSeconds: 60, combine: 'average', path: ['period'] }],
      expressions: [],
      result: 'value',
      bySource: false,
    });
  });

  it('names a JSON path that does not parse, a body without POST, and unknown placeholders in the request', () => {
    expect(problems({ metrics: [{ ...synthetics, value: 'data.rate' }] })).toEqual([
      'metrics[0].value: a path starts with $, e.g. $.data.value (got "data.rate")',
    ]);
    expect(problems({ metrics: [{ ...synthetics, value: '$.items[*].v' }] })).toEqual([
      `metrics[0].value: an index [N] or a quoted name is expected at position 8 of "$.items[*].v" (supported: $, .name, ['name'], [N])`,
    ]);
    expect(problems({ metrics: [{ ...synthetics, body: { a: 1 } }] })).toEqual(['metrics[0].body: a body is sent with method: POST only']);
    expect(problems({ metrics: [{ ...synthetics, method: 'POST', params: { v: '${version}' }, body: { q: { tg: '${tg}' } } }] })).toEqual([
      expect.stringMatching(/^metrics\[0\]\.params\.v: unknown placeholder \$\{version\}: one of \$\{targetGroup\}, .*\$\{endSeconds\}$/),
      expect.stringMatching(/^metrics\[0\]\.body\.q\.tg: unknown placeholder \$\{tg\}/),
    ]);
    expect(problems({ metrics: [{ ...synthetics, url: 'https://example.com' }] })).toEqual(['metrics[0].url: unknown field']);
  });
});

describe('the JSON path', () => {
  const answer = { data: { success_rate: 0.998, 'p99 latency': 0.2, list: [{ value: 1 }, { value: 2 }] }, n: null };
  it.each([
    ['$.data.success_rate', 0.998],
    ["$['data']['p99 latency']", 0.2],
    ['$.data["p99 latency"]', 0.2],
    ['$.data.list[0].value', 1],
    ['$.data.list[-1].value', 2],
    ['$.data.list[2].value', undefined],
    ['$.n', null],
    ['$.data.nope', undefined],
    ['$.data.list.length', undefined],
    ['$.data.constructor', undefined],
  ])('reads %s', (p, expected) => {
    expect(readJsonPath(answer, parseJsonPath(p))).toEqual(expected);
  });

  it('refuses what it does not support, saying where', () => {
    expect(() => parseJsonPath('$..x')).toThrow('a name is expected after "." at position 2 of "$..x"');
    expect(() => parseJsonPath("$['x]")).toThrow("a quoted name must end with ']");
    expect(() => parseJsonPath('$.a b')).toThrow('unexpected " " at position 4');
  });
});

describe("the worker's servers and endpoints", () => {
  it('reads each named server and endpoint with its credentials, a name with - from _ ', () => {
    const s = sourceSettingsFromEnv({
      CANARY_PROMETHEUS_MAIN_URL: 'http://prometheus:9090',
      CANARY_PROMETHEUS_MAIN_BEARER_TOKEN: 'tok',
      CANARY_PROMETHEUS_EU_AMP_URL: 'https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1',
      CANARY_PROMETHEUS_EU_AMP_SIGV4_REGION: 'eu-west-1',
      CANARY_PROMETHEUS_EU_AMP_TIMEOUT: '30s',
      CANARY_SOURCE_SYNTHETICS_URL: 'https://synthetics.example.com/api/rate?team=a',
      CANARY_SOURCE_SYNTHETICS_AUTH_HEADER: 'DD-API-KEY:  k3y ',
      CANARY_SOURCE_BLANK_URL: '  ',
    });
    expect(s).toEqual({
      prometheus: {
        main: { url: 'http://prometheus:9090', bearerToken: 'tok', timeoutMs: 10_000 },
        'eu-amp': { url: 'https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1', sigv4Region: 'eu-west-1', timeoutMs: 30_000 },
      },
      web: { synthetics: { url: 'https://synthetics.example.com/api/rate?team=a', header: { name: 'DD-API-KEY', value: 'k3y' }, timeoutMs: 10_000 } },
    });
  });

  it("keeps what cannot be used as the server's problem, naming the variables and never a credential", () => {
    const s = sourceSettingsFromEnv({
      CANARY_PROMETHEUS_A_URL: 'ftp://x',
      CANARY_PROMETHEUS_A_USER: 'u',
      CANARY_PROMETHEUS_A_BEARER_TOKEN: 'secret-token-1',
      CANARY_PROMETHEUS_B_PASSWORD: 'secret-password-2',
      CANARY_PROMETHEUS_B_TIMEOUT: '2m',
      CANARY_SOURCE_C_URL: 'http://c',
      CANARY_SOURCE_C_AUTH_HEADER: 'secret-header-3',
    });
    expect(s.prometheus.a?.problem).toBe(
      'CANARY_PROMETHEUS_A_URL must be an http:// or https:// URL, not ftp:; a bearer token and basic auth are set: choose one (CANARY_PROMETHEUS_A_BEARER_TOKEN, CANARY_PROMETHEUS_A_USER + CANARY_PROMETHEUS_A_PASSWORD, or CANARY_PROMETHEUS_A_SIGV4_REGION); basic auth needs both CANARY_PROMETHEUS_A_USER and CANARY_PROMETHEUS_A_PASSWORD',
    );
    expect(s.prometheus.b?.problem).toBe(
      'no URL: set CANARY_PROMETHEUS_B_URL; CANARY_PROMETHEUS_B_TIMEOUT="2m": expected a duration such as 5s or 30s, at most 1m; basic auth needs both CANARY_PROMETHEUS_B_USER and CANARY_PROMETHEUS_B_PASSWORD',
    );
    expect(s.web.c?.problem).toBe('CANARY_SOURCE_C_AUTH_HEADER is not "Name: value" (e.g. "Authorization: Bearer ...")');
    expect(JSON.stringify([s.prometheus.a?.problem, s.prometheus.b?.problem, s.web.c?.problem])).not.toMatch(/secret-/);
  });

  it('are read by the worker and are worker variables', () => {
    const config = loadWorkerConfig({
      TEMPORAL_CONFIG_FILE: path.join(os.tmpdir(), 'canary-no-such-temporal.toml'),
      HOME: path.join(os.tmpdir(), 'canary-no-such-home'),
      CANARY_PROMETHEUS_MAIN_URL: 'http://127.0.0.1:9090',
      CANARY_SOURCE_SYNTHETICS_URL: 'http://127.0.0.1:8080/rate',
    });
    expect(config.sources).toEqual({
      prometheus: { main: { url: 'http://127.0.0.1:9090', timeoutMs: 10_000 } },
      web: { synthetics: { url: 'http://127.0.0.1:8080/rate', timeoutMs: 10_000 } },
    });
    for (const v of ['CANARY_PROMETHEUS_MAIN_URL', 'CANARY_PROMETHEUS_EU_AMP_SIGV4_REGION', 'CANARY_SOURCE_SYNTHETICS_AUTH_HEADER'])
      expect(isWorkerEnvVar(v)).toBe(true);
    expect(isWorkerEnvVar('CANARY_PROMETHEUS_MAIN')).toBe(false);
  });
});
