/**
 * Hook calls (common/hooks.ts): one signed HTTP POST of the release's context to the URL the worker holds for the
 * hook's name, and its answer read as pass, fail or running. docs/HOOKS.md is the same contract for hook authors.
 *
 * The URL, its credentials and query, and the secret are the worker's alone: errors name the hook, its origin
 * (scheme, host, port) and the variable to fix, never more, because they end up in the release's history.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import * as dns from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { notificationLinks, type NotifyLinks } from './notify';
import { formatDuration, parseDuration } from '../common/duration';
import { HOOK_CALL_LIMITS, HookErrors, HookName, hookEnvName, type HookAnswer, type HookContext, type WorkerHooks } from '../common/hooks';

/** What the worker holds for one hook name, from `CANARY_HOOK_<NAME>` and its suffixed variables. */
export interface HookSettings {
  /** `CANARY_HOOK_<NAME>`: where the hook is POSTed. Never in an error, a log or an answer. */
  url?: string;
  /** `CANARY_HOOK_<NAME>_SECRET`: the HMAC-SHA256 key of the signature. */
  secret?: string;
  /** `CANARY_HOOK_<NAME>_TIMEOUT`: one request, connection to the answer's last byte. */
  requestTimeoutMs: number;
  /** `CANARY_HOOK_<NAME>_ALLOW_LINK_LOCAL=1`: the URL may point at a link-local or instance metadata address. */
  allowLinkLocal: boolean;
  /** A variable of the hook's that could not be read, naming it (set by hooksFromEnv). */
  problem?: string;
}

/** Hook name → settings. */
export type HookConfig = Record<string, HookSettings>;

export interface HookDeps {
  /** Where the body's `links` point (the notifications' links: the Temporal UI and the report). */
  links?: NotifyLinks;
  /** Every address of a host name (default: dns.lookup, all of them); each is checked before the connection is made. */
  resolve?: (host: string) => Promise<dns.LookupAddress[]>;
}

/** The variables of one hook besides its URL, by the suffix they add to `CANARY_HOOK_<NAME>`. */
const SUFFIXES = ['SECRET', 'TIMEOUT', 'ALLOW_LINK_LOCAL'] as const;
type Suffix = (typeof SUFFIXES)[number];

/**
 * `CANARY_HOOK_SMOKE=https://...`, `CANARY_HOOK_SMOKE_SECRET=...` → `{ smoke: { url, secret, ... } }`. A variable
 * ending in `_SECRET`, `_TIMEOUT` or `_ALLOW_LINK_LOCAL` is always a setting of the name before it (so no hook name
 * ends in `-secret`, `-timeout` or `-allow-link-local`). Blank counts as unset. A value that cannot be read becomes
 * the hook's `problem`, so one bad hook never stops the worker.
 */
export function hooksFromEnv(env: NodeJS.ProcessEnv = process.env): HookConfig {
  const byName = new Map<string, Partial<Record<Suffix | 'URL', string>>>();
  for (const [key, raw] of Object.entries(env)) {
    const rest = /^CANARY_HOOK_([A-Z0-9_]+)$/.exec(key)?.[1];
    const value = raw?.trim();
    if (!rest || !value) continue;
    const suffix = SUFFIXES.find((s) => rest.endsWith(`_${s}`) && rest.length > s.length + 1);
    const base = suffix ? rest.slice(0, -(suffix.length + 1)) : rest;
    const name = base.toLowerCase().replace(/_/g, '-');
    byName.set(name, { ...byName.get(name), [suffix ?? 'URL']: value });
  }
  const config: HookConfig = {};
  for (const [name, vars] of byName) {
    const variable = hookEnvName(name);
    const problems: string[] = [];
    if (!HookName.safeParse(name).success) {
      problems.push(`${variable}: "${name}" is not a hook name (lower case letters, digits and -, starting with a letter, at most 40)`);
    }
    let requestTimeoutMs: number = HOOK_CALL_LIMITS.requestTimeoutMs.default;
    if (vars.TIMEOUT !== undefined) {
      const ms = parseDuration(vars.TIMEOUT);
      if (ms === undefined || ms <= 0 || ms > HOOK_CALL_LIMITS.requestTimeoutMs.max) {
        problems.push(
          `${variable}_TIMEOUT=${JSON.stringify(vars.TIMEOUT)}: expected a duration such as 5s or 30s, at most ${formatDuration(HOOK_CALL_LIMITS.requestTimeoutMs.max)}`,
        );
      } else requestTimeoutMs = ms;
    }
    let allowLinkLocal = false;
    if (vars.ALLOW_LINK_LOCAL !== undefined) {
      const flag = vars.ALLOW_LINK_LOCAL.toLowerCase();
      if (['1', 'true', 'yes'].includes(flag)) allowLinkLocal = true;
      else if (!['0', 'false', 'no'].includes(flag)) problems.push(`${variable}_ALLOW_LINK_LOCAL=${JSON.stringify(vars.ALLOW_LINK_LOCAL)}: expected 1 or 0`);
    }
    config[name] = { url: vars.URL, secret: vars.SECRET, requestTimeoutMs, allowLinkLocal, ...(problems.length ? { problem: problems.join('; ') } : {}) };
  }
  return config;
}

/** The instance metadata service (IPv4 and the Nitro IPv6 endpoint) and every link-local address. */
const REFUSED = new BlockList();
REFUSED.addSubnet('169.254.0.0', 16, 'ipv4');
REFUSED.addSubnet('fe80::', 10, 'ipv6');
REFUSED.addAddress('fd00:ec2::254', 'ipv6');
const METADATA = new BlockList();
METADATA.addAddress('169.254.169.254', 'ipv4');
METADATA.addAddress('fd00:ec2::254', 'ipv6');

/** Why the worker will not connect to `address` for the hook of `variable`, or undefined when it may. */
function refusedAddress(address: string, variable: string): string | undefined {
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  if (!REFUSED.check(address, family)) return undefined;
  const what = METADATA.check(address, family) ? 'the instance metadata address' : 'a link-local address';
  return `${variable} points at ${address}, ${what}: refused, so that no hook reaches the instance's credentials; set ${variable}_ALLOW_LINK_LOCAL=1 if the hook is meant to live there`;
}

/** Why the hook cannot be called as configured (no URL, no secret, not http(s), a refused address), naming the variable to set. */
function problemOf(name: string, s: HookSettings): string | undefined {
  const variable = hookEnvName(name);
  const problems = s.problem ? [s.problem] : [];
  if (!s.url) problems.push(`no URL: set ${variable}`);
  else {
    let url: URL | undefined;
    try {
      url = new URL(s.url);
    } catch {
      problems.push(`${variable} is not a URL`);
    }
    if (url && url.protocol !== 'http:' && url.protocol !== 'https:') problems.push(`${variable} must be an http:// or https:// URL, not ${url.protocol}`);
    else if (url && !s.allowLinkLocal) {
      const host = url.hostname.replace(/^\[|\]$/g, '');
      const refused = isIP(host) ? refusedAddress(host, variable) : undefined;
      if (refused) problems.push(refused);
    }
  }
  if (!s.secret) problems.push(`no secret: set ${variable}_SECRET (every call is signed with it)`);
  return problems.length ? problems.join('; ') : undefined;
}

/** `sha256=<hex>`: HMAC-SHA256 under the hook's secret of `<timestamp>.<body>` (the X-Canary-Signature header). */
export function hookSignature(secret: string, timestamp: number | string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * The hook's side (docs/HOOKS.md#verifying-the-signature): the signature matches the raw body and the timestamp, and
 * the timestamp is within `toleranceSeconds` (default 300) of now, so a recorded call cannot be replayed later.
 */
export function verifyHookSignature(input: {
  secret: string;
  body: string;
  timestamp: string | undefined;
  signature: string | undefined;
  nowSeconds?: number;
  toleranceSeconds?: number;
}): boolean {
  const { secret, body, timestamp, signature } = input;
  if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return false;
  const now = input.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(timestamp)) > (input.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(hookSignature(secret, timestamp, body));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** {@link verifyHookSignature} over a request's raw body and its headers (`X-Canary-Timestamp`, `X-Canary-Signature`). */
export function verifyHookRequest(secret: string, body: string, headers: Record<string, string | string[] | undefined>): boolean {
  const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
  return verifyHookSignature({ secret, body, timestamp: one(headers['x-canary-timestamp']), signature: one(headers['x-canary-signature']) });
}

const USER_AGENT = 'alb-canary-hooks/1 (canary release worker)';

/** A header value from text that may hold any character (a workflow id): printable ASCII as is, else percent-encoded. */
function headerValue(text: string): string {
  return /^[\x20-\x7e]*$/.test(text) ? text : encodeURIComponent(text);
}

/** The request did not finish within the hook's per-request timeout. */
class RequestTimeout extends Error {}

/** A host name that resolved to an address the hook may not reach. */
class RefusedAddress extends Error {}

interface Reply {
  status: number;
  location?: string;
  /** Up to maxAnswerBytes of the body. */
  body: Buffer;
  /** The body was longer than maxAnswerBytes (reading stopped there). */
  oversized: boolean;
}

/**
 * A lookup for node:http that resolves every address of the host and refuses the connection if any is refused, so
 * the check is made on the addresses connected to (no second resolution a DNS answer could change in between).
 */
function checkedLookup(resolve: NonNullable<HookDeps['resolve']>, variable: string, allowLinkLocal: boolean): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (found) => {
        const refused = allowLinkLocal ? undefined : found.map((a) => refusedAddress(a.address, variable)).find((r) => r);
        if (refused) return callback(new RefusedAddress(`${hostname} resolves to an address refused: ${refused}`), '', 0);
        const family = options.family === 4 || options.family === 6 ? options.family : undefined;
        const usable = family ? found.filter((a) => a.family === family) : found;
        const first = usable[0];
        if (!first) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
        if (options.all) return callback(null, usable);
        return callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
}

/** One POST; resolves with the reply (its body capped), rejects on connection errors, the timeout, or cancellation. */
function post(url: URL, body: string, headers: http.OutgoingHttpHeaders, timeoutMs: number, lookup: LookupFunction, signal?: AbortSignal): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = (): void => {
      settle(() => reject(signal?.reason instanceof Error ? signal.reason : new Error('the activity was cancelled')));
      req.destroy();
    };
    // agent: false: a fresh connection per call, so every call's addresses go through the checked lookup.
    const req = (url.protocol === 'https:' ? https : http).request(url, { method: 'POST', headers, agent: false, lookup }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const reply = (oversized: boolean): Reply => ({
        status: res.statusCode ?? 0,
        location: res.headers.location,
        body: Buffer.concat(chunks),
        oversized,
      });
      res.on('data', (chunk: Buffer) => {
        if (settled) return;
        if (size + chunk.length > HOOK_CALL_LIMITS.maxAnswerBytes) {
          chunks.push(chunk.subarray(0, HOOK_CALL_LIMITS.maxAnswerBytes - size));
          settle(() => resolve(reply(true)));
          req.destroy();
          return;
        }
        size += chunk.length;
        chunks.push(chunk);
      });
      res.on('end', () => settle(() => resolve(reply(false))));
      res.on('error', (err) => settle(() => reject(err)));
    });
    const timer = setTimeout(() => {
      settle(() => reject(new RequestTimeout()));
      req.destroy();
    }, timeoutMs);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort);
    req.on('error', (err) => settle(() => reject(err)));
    req.end(body);
  });
}

/** The first characters of a body, on one line, for an error message. */
function excerpt(body: Buffer, max = 200): string {
  const text = body.toString('utf8').replace(/\s+/g, ' ').trim();
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function failure(type: string, message: string, cause?: Error): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: type !== HookErrors.unavailable, cause });
}

/** The activity's cancellation signal when running as an activity (a direct call in a test has none). */
function cancellationSignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

/** A 2xx answer's body as a HookAnswer; throws HookRejected for anything else. */
function readAnswer(where: string, reply: Reply): HookAnswer {
  const { status } = reply;
  const text = reply.body.toString('utf8').trim();
  if (text === '') return { result: 'pass', status };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw failure(
      HookErrors.rejected,
      `${where} answered HTTP ${status} with a body that is not JSON ("${excerpt(reply.body, 80)}"): expected {"result": "pass"}, "fail" or "running", or an empty body`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw failure(HookErrors.rejected, `${where} answered HTTP ${status} with JSON that is not an object: expected {"result": "pass"}, "fail" or "running"`);
  }
  const answer = parsed as Record<string, unknown>;
  const detail = typeof answer.detail === 'string' && answer.detail ? { detail: clip(answer.detail, 500) } : {};
  switch (answer.result) {
    case 'pass':
      return { result: 'pass', status, ...detail };
    case 'fail':
      return {
        result: 'fail',
        status,
        reason: typeof answer.reason === 'string' && answer.reason.trim() ? clip(answer.reason.trim(), 1000) : 'the hook gave no reason',
      };
    case 'running': {
      const limits = HOOK_CALL_LIMITS.retryAfterMs;
      const given = answer.retryAfter;
      const ms =
        given === undefined
          ? limits.default
          : typeof given === 'string'
            ? parseDuration(given)
            : typeof given === 'number' && Number.isFinite(given) && given >= 0
              ? given * 1000
              : undefined;
      if (ms === undefined) {
        throw failure(
          HookErrors.rejected,
          `${where} answered "running" with retryAfter ${clip(JSON.stringify(given), 40)}: expected a duration such as "30s" or a number of seconds`,
        );
      }
      return { result: 'running', status, retryAfterMs: Math.min(limits.max, Math.max(limits.min, ms)), ...detail };
    }
    default:
      throw failure(
        HookErrors.rejected,
        `${where} answered HTTP ${status} with result ${answer.result === undefined ? '(none)' : clip(JSON.stringify(answer.result), 40)}: expected "pass", "fail" or "running"`,
      );
  }
}

/** The hook activities over the worker's hook configuration (hooksFromEnv). */
export function createHookActivities(config: HookConfig, deps: HookDeps = {}) {
  const resolve = deps.resolve ?? ((host: string) => dns.promises.lookup(host, { all: true, verbatim: true }));
  return {
    /**
     * One signed POST of the context to the hook's URL; the answer is returned (pass, fail, running), never thrown.
     * Retryable: HookUnavailable (connection error, request timeout, 429, 5xx). Non-retryable: HookRejected (another
     * 4xx, a redirect, a body not JSON, too large or with an unknown result), HookNotConfigured.
     */
    async callHook(input: HookContext): Promise<HookAnswer> {
      const variable = hookEnvName(input.hook);
      const settings = config[input.hook];
      if (!settings) {
        throw failure(HookErrors.notConfigured, `hook "${input.hook}" is not configured on this worker: set ${variable} (its URL) and ${variable}_SECRET`);
      }
      const problem = problemOf(input.hook, settings);
      if (problem || !settings.url || !settings.secret)
        throw failure(HookErrors.notConfigured, `hook "${input.hook}" cannot be called: ${problem ?? 'not configured'}`);
      const url = new URL(settings.url);
      const where = `hook "${input.hook}" (${url.protocol}//${url.host}, ${variable})`;
      // The release's page in the Temporal UI and its report, where the worker knows them (CANARY_UI_URL, CANARY_REPORT_URL).
      const links = deps.links && notificationLinks({ releaseId: input.releaseId.split('/')[0] ?? input.releaseId }, deps.links);
      const body = JSON.stringify(links ? { ...input, links } : input);
      const timestamp = Math.floor(Date.now() / 1000);
      const headers: http.OutgoingHttpHeaders = {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        accept: 'application/json',
        'user-agent': USER_AGENT,
        'x-canary-hook': headerValue(input.hook),
        'x-canary-release': headerValue(input.releaseId),
        'x-canary-timestamp': String(timestamp),
        'x-canary-signature': hookSignature(settings.secret, timestamp, body),
      };
      let reply: Reply;
      try {
        reply = await post(url, body, headers, settings.requestTimeoutMs, checkedLookup(resolve, variable, settings.allowLinkLocal), cancellationSignal());
      } catch (err) {
        if (err instanceof RefusedAddress) throw failure(HookErrors.notConfigured, `${where} cannot be called: ${err.message}`);
        if (err instanceof RequestTimeout) {
          throw failure(
            HookErrors.unavailable,
            `${where} did not answer within ${formatDuration(settings.requestTimeoutMs)} (${variable}_TIMEOUT); asked again until the hook's timeout`,
          );
        }
        if (cancellationSignal()?.aborted) throw err;
        const e = err as NodeJS.ErrnoException;
        throw failure(
          HookErrors.unavailable,
          `${where} could not be reached: ${e.message}${e.code && !e.message.includes(e.code) ? ` (${e.code})` : ''}; asked again until the hook's timeout`,
          e,
        );
      }
      const { status } = reply;
      if (status >= 200 && status < 300) {
        if (reply.oversized) {
          throw failure(
            HookErrors.rejected,
            `${where} answered HTTP ${status} with more than ${HOOK_CALL_LIMITS.maxAnswerBytes / 1024} KiB: an answer is a small JSON object`,
          );
        }
        return readAnswer(where, reply);
      }
      const said = reply.body.length ? `: ${excerpt(reply.body)}` : '';
      if (status === 429 || status >= 500)
        throw failure(HookErrors.unavailable, `${where} answered HTTP ${status}${said}; asked again until the hook's timeout`);
      if (status >= 300 && status < 400) {
        let to = '';
        try {
          if (reply.location) to = ` to ${new URL(reply.location, url).origin}`;
        } catch {
          // An unreadable Location is still a redirect.
        }
        throw failure(
          HookErrors.rejected,
          `${where} answered HTTP ${status}, a redirect${to}: redirects are not followed; set ${variable} to the URL that answers`,
        );
      }
      const hint = status === 401 || status === 403 ? ` (does the hook verify with the same secret as ${variable}_SECRET?)` : '';
      throw failure(HookErrors.rejected, `${where} answered HTTP ${status}${said}${hint}`);
    },

    /** The hook names this worker holds and why each cannot be used, if so; no URLs, no secrets. */
    async workerHooks(): Promise<{ hooks: WorkerHooks }> {
      const hooks: WorkerHooks = {};
      for (const name of Object.keys(config).sort()) {
        const problem = problemOf(name, config[name] as HookSettings);
        hooks[name] = problem ? { problem } : {};
      }
      return { hooks };
    },
  };
}
