/**
 * Where the named Prometheus servers and web endpoints of the metric sources are, and their credentials: the worker's
 * alone, from its environment (a spec names `server: main` or `endpoint: synthetics`, never a URL or a token). Read by
 * worker/config.ts for the worker and by `canary report` / `canary doctor` from the CLI's environment.
 *
 * - `CANARY_PROMETHEUS_<NAME>_URL` (the server's base URL: `http://prometheus:9090`, or an Amazon Managed Service for
 *   Prometheus workspace's `https://aps-workspaces.REGION.amazonaws.com/workspaces/ws-ID`), and at most one way to
 *   authenticate: `_BEARER_TOKEN`, `_USER` + `_PASSWORD` (basic auth), or `_SIGV4_REGION` (requests signed for `aps`
 *   with the worker's AWS credentials); `_TIMEOUT` (default 10s) per request.
 * - `CANARY_SOURCE_<NAME>_URL` (a web endpoint), `_AUTH_HEADER` (one header sent with every request, `Name: value`,
 *   e.g. `Authorization: Bearer ...` or `DD-API-KEY: ...`), `_TIMEOUT` (default 10s).
 *
 * None of these values is ever written to an error, a log or the release's history: errors name the server or
 * endpoint, its origin (scheme, host, port) and the variable to fix.
 */
import { formatDuration, parseDuration } from '../../common/duration';
import { InstanceName, sourceEnvName } from '../../common/sources/request';

/** One Prometheus server (`server: <name>`). */
export interface PrometheusServerSettings {
  /** The base URL; `/api/v1/query_range` is appended. */
  url?: string;
  bearerToken?: string;
  user?: string;
  password?: string;
  /** Sign every request with SigV4 for `aps` in this region (Amazon Managed Service for Prometheus). */
  sigv4Region?: string;
  /** One request, connection to the answer's last byte. */
  timeoutMs: number;
  /** What cannot be used as configured, naming the variable (the source refuses to call it). */
  problem?: string;
}

/** One web endpoint (`endpoint: <name>`). */
export interface WebEndpointSettings {
  url?: string;
  /** A header sent with every request (an API key, a bearer token). */
  header?: { name: string; value: string };
  timeoutMs: number;
  problem?: string;
}

/** Every named server and endpoint the metric sources may call. */
export interface SourceSettings {
  prometheus: Record<string, PrometheusServerSettings>;
  web: Record<string, WebEndpointSettings>;
}

/** No server, no endpoint: a metric naming one fails with the variable to set. */
export const NO_SOURCE_SETTINGS: SourceSettings = Object.freeze({ prometheus: {}, web: {} });

/** A request's default and longest timeout. */
export const SOURCE_TIMEOUT = { defaultMs: 10_000, maxMs: 60_000 } as const;

/** The variables' prefixes (the name follows) and suffixes, by kind. */
export const SOURCE_VARIABLES = {
  prometheus: { prefix: 'CANARY_PROMETHEUS_', suffixes: ['URL', 'BEARER_TOKEN', 'USER', 'PASSWORD', 'SIGV4_REGION', 'TIMEOUT'] },
  web: { prefix: 'CANARY_SOURCE_', suffixes: ['URL', 'AUTH_HEADER', 'TIMEOUT'] },
} as const;

type Kind = keyof typeof SOURCE_VARIABLES;

/** The variable of one setting of a named server or endpoint, e.g. `prometheusVariable('main', 'URL')`. */
export function sourceVariable(kind: Kind, name: string, suffix: string): string {
  return sourceEnvName(SOURCE_VARIABLES[kind].prefix, name, suffix);
}

/** `CANARY_PROMETHEUS_EU_MAIN_URL=...` → `{ 'eu-main': { URL: ... } }`, per kind; blank counts as unset. */
function collect(env: NodeJS.ProcessEnv, kind: Kind): Map<string, Record<string, string>> {
  const { prefix, suffixes } = SOURCE_VARIABLES[kind];
  const byName = new Map<string, Record<string, string>>();
  // Longest first, so that a name may end in a word another suffix ends with.
  const ordered = [...suffixes].sort((a, b) => b.length - a.length);
  for (const [key, raw] of Object.entries(env)) {
    if (!key.startsWith(prefix)) continue;
    const rest = key.slice(prefix.length);
    const value = raw?.trim();
    const suffix = ordered.find((s) => rest.endsWith(`_${s}`) && rest.length > s.length + 1);
    if (!suffix || !value) continue;
    const name = rest
      .slice(0, -(suffix.length + 1))
      .toLowerCase()
      .replace(/_/g, '-');
    byName.set(name, { ...byName.get(name), [suffix]: value });
  }
  return byName;
}

/** Problems shared by both kinds: the name, the URL, the timeout. */
function common(kind: Kind, name: string, vars: Record<string, string>): { problems: string[]; timeoutMs: number } {
  const problems: string[] = [];
  const variable = (suffix: string): string => sourceVariable(kind, name, suffix);
  if (!InstanceName.safeParse(name).success) {
    problems.push(`${variable('URL')}: "${name}" is not a name a spec can give (lower case letters, digits and -, starting with a letter, at most 40)`);
  }
  if (vars.URL === undefined) problems.push(`no URL: set ${variable('URL')}`);
  else {
    let url: URL | undefined;
    try {
      url = new URL(vars.URL);
    } catch {
      problems.push(`${variable('URL')} is not a URL`);
    }
    if (url && url.protocol !== 'http:' && url.protocol !== 'https:')
      problems.push(`${variable('URL')} must be an http:// or https:// URL, not ${url.protocol}`);
  }
  let timeoutMs: number = SOURCE_TIMEOUT.defaultMs;
  if (vars.TIMEOUT !== undefined) {
    const ms = parseDuration(vars.TIMEOUT);
    if (ms === undefined || ms <= 0 || ms > SOURCE_TIMEOUT.maxMs) {
      problems.push(
        `${variable('TIMEOUT')}=${JSON.stringify(vars.TIMEOUT)}: expected a duration such as 5s or 30s, at most ${formatDuration(SOURCE_TIMEOUT.maxMs)}`,
      );
    } else timeoutMs = ms;
  }
  return { problems, timeoutMs };
}

/**
 * The metric sources' servers and endpoints from the environment. A setting that cannot be used becomes its server's
 * `problem` (the source names it when a metric asks that server), so one bad server never stops the worker.
 */
export function sourceSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): SourceSettings {
  const settings: SourceSettings = { prometheus: {}, web: {} };
  for (const [name, vars] of collect(env, 'prometheus')) {
    const { problems, timeoutMs } = common('prometheus', name, vars);
    const variable = (suffix: string): string => sourceVariable('prometheus', name, suffix);
    const ways = [vars.BEARER_TOKEN && 'a bearer token', (vars.USER || vars.PASSWORD) && 'basic auth', vars.SIGV4_REGION && 'SigV4'].filter(Boolean);
    if (ways.length > 1)
      problems.push(
        `${ways.join(' and ')} are set: choose one (${variable('BEARER_TOKEN')}, ${variable('USER')} + ${variable('PASSWORD')}, or ${variable('SIGV4_REGION')})`,
      );
    if (!!vars.USER !== !!vars.PASSWORD) problems.push(`basic auth needs both ${variable('USER')} and ${variable('PASSWORD')}`);
    if (vars.SIGV4_REGION !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d$/.test(vars.SIGV4_REGION)) {
      problems.push(`${variable('SIGV4_REGION')}=${JSON.stringify(vars.SIGV4_REGION)}: expected an AWS region such as us-east-1`);
    }
    settings.prometheus[name] = {
      url: vars.URL,
      ...(vars.BEARER_TOKEN ? { bearerToken: vars.BEARER_TOKEN } : {}),
      ...(vars.USER ? { user: vars.USER } : {}),
      ...(vars.PASSWORD ? { password: vars.PASSWORD } : {}),
      ...(vars.SIGV4_REGION ? { sigv4Region: vars.SIGV4_REGION } : {}),
      timeoutMs,
      ...(problems.length ? { problem: problems.join('; ') } : {}),
    };
  }
  for (const [name, vars] of collect(env, 'web')) {
    const { problems, timeoutMs } = common('web', name, vars);
    let header: WebEndpointSettings['header'];
    if (vars.AUTH_HEADER !== undefined) {
      // Never the value in the message: it is the credential.
      const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):\s*(\S.*)$/.exec(vars.AUTH_HEADER);
      if (m) header = { name: m[1] as string, value: (m[2] as string).trim() };
      else problems.push(`${sourceVariable('web', name, 'AUTH_HEADER')} is not "Name: value" (e.g. "Authorization: Bearer ...")`);
    }
    settings.web[name] = { url: vars.URL, ...(header ? { header } : {}), timeoutMs, ...(problems.length ? { problem: problems.join('; ') } : {}) };
  }
  return settings;
}

/** `https://user:pass@host:8443/path?q` → `https://host:8443`: what an error may say about where a request went. */
export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(not a URL)';
  }
}
