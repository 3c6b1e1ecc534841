/**
 * A fault-injecting HTTP proxy in front of the local AWS API (moto): throttling, 5xx, request validation errors,
 * slow answers and dropped connections, drawn from a seeded PRNG, answered in the wire shape of the caller's
 * protocol (awsQuery XML for ELBv2/EC2, AWS JSON 1.0 for CloudWatch) so the AWS SDK parses them as the service
 * errors they imitate, not as deserialization errors. With a realism layer (./alb-realism.ts) it also answers what a
 * real ALB decides and moto does not (target health); everything else is forwarded unchanged. It counts every AWS
 * action per caller (the `x-canary-caller` header, else `app/NAME` in the SDK's user agent), which is how the tests
 * check the worker's calls against the IAM policy (./iam-check.ts).
 *
 * Like AWS, it refuses a request signed with an access key it was told has expired (`ExpiredToken`, HTTP 400, in the
 * caller's protocol) before anything else: session credentials run out mid-release (./credentials-endpoint.ts).
 *
 * Control endpoints (never forwarded to moto): `POST /canary-realism/health` with a HealthRule as JSON, `GET
 * /canary-realism/stats` (FaultStats as JSON), `POST /canary-realism/expired-credentials` with `{ "accessKeyId": ... }`.
 */
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AlbRealism, Caller, HealthRule } from './alb-realism';
import { mulberry32 } from './simulator';

/** Probabilities per request (0..1) of each fault; throttle + serverError + validation + drop + dropAfter + slowRate <= 1. */
export interface FaultRates {
  /** HTTP 400 `Throttling` ("Rate exceeded"): the SDK's throttling error. */
  throttle?: number;
  /** HTTP 500 `InternalFailure` or 503 `ServiceUnavailable` (half each): transient server errors. */
  serverError?: number;
  /** HTTP 400 `ValidationError`: a request AWS refuses, which no retry can fix. */
  validation?: number;
  /** The connection is destroyed before the request reaches the server (it has no effect there). */
  drop?: number;
  /** The request is forwarded, then the connection is destroyed before the answer (it took effect; the caller cannot tell). */
  dropAfter?: number;
  /** The answer is delayed by slowMs, then forwarded. */
  slowRate?: number;
  slowMs?: number;
  /** Stop injecting after this many faults (the API heals by itself); unlimited when absent. */
  maxFaults?: number;
}

/** One AWS call as the proxy saw it (FaultStats.calls). */
export interface RecordedCall {
  caller: string;
  /** `elasticloadbalancing:ModifyListener`, `cloudwatch:GetMetricData`, `sts:AssumeRole`. */
  action: string;
  region: string;
  params: Record<string, string>;
}

/** How many calls FaultStats.calls keeps. */
export const maxRecordedCalls = 20_000;

export type FaultKind = 'throttle' | 'serverError' | 'validation' | 'drop' | 'dropAfter' | 'slow';
const KINDS: readonly FaultKind[] = ['throttle', 'serverError', 'validation', 'drop', 'dropAfter', 'slow'];

export interface FaultStats {
  /** Requests seen (the moto-api control calls included). */
  requests: number;
  /** Requests that reached the server (slow ones and dropAfter ones included). */
  forwarded: number;
  faults: Record<FaultKind, number>;
  /** Per AWS action (`DescribeListeners`, `GetMetricData`, ...): requests and faults of each kind. */
  byAction: Record<string, { requests: number } & Partial<Record<FaultKind, number>>>;
  /** Per caller (`canary-worker`, or `harness` for untagged clients), per IAM action (`elasticloadbalancing:ModifyListener`, `cloudwatch:GetMetricData`): requests. */
  byCaller: Record<string, Record<string, number>>;
  /**
   * The last {@link maxRecordedCalls} AWS calls of tagged callers (not `harness`), oldest first: the IAM action, the
   * region they were signed for and their awsQuery parameters (`ResourceArns.member.1`, `Tags.member.1.Key`, ...; empty
   * for JSON calls), so dev/iam-check.ts can evaluate each call with its resources and request tags.
   */
  calls: RecordedCall[];
  /** Requests the realism layer answered itself, and observed mutations it failed to read back (a stale clock). */
  realism: { answered: number; observeErrors: number; lastObserveError?: string };
  /** Requests answered `Throttling` because their account's bucket was empty (FaultProxyOptions.limits), per action. */
  limited: Record<string, number>;
  /** Requests answered `ExpiredToken` because their access key had expired ({@link FaultProxy.expireCredentials}), per action. */
  expiredToken: Record<string, number>;
}

/**
 * A token bucket per AWS account and region, as ELB throttles its API: `capacity` requests at once, `refillPerSecond`
 * tokens back every second; a request that finds the bucket empty is answered `Throttling` / `Rate exceeded`.
 */
export interface ApiLimit {
  capacity: number;
  refillPerSecond: number;
  /** The actions that take tokens from this bucket. */
  actions: (action: string) => boolean;
}

/**
 * ELBv2's documented bucket for non-mutating actions (ELB user guide, "Request throttling for the ELB API"): 40
 * `Describe*` requests at once, refilled at 10 per second, per account and region, shared with every other caller
 * in the account. (The mutating actions' buckets are not modelled.)
 */
export const ELB_DESCRIBE_LIMIT: ApiLimit = { capacity: 40, refillPerSecond: 10, actions: (a) => a.startsWith('Describe') };

export interface FaultProxyOptions {
  /** The AWS endpoint to forward to, e.g. moto's `http://127.0.0.1:PORT`. */
  target: string;
  /** Account-level request limits (ELB_DESCRIBE_LIMIT): throttled requests count as `limited`, not as faults. */
  limits?: ApiLimit[];
  /** The limits' clock in ms (Date.now by default): a test holds it still to count a burst exactly, then moves it. */
  now?: () => number;
  /** PRNG seed: the same seed and the same request order give the same faults. */
  seed?: number;
  rates?: FaultRates;
  /** Which actions may be faulted (all AWS actions when absent; moto's own /moto-api calls never are). */
  match?: (action: string) => boolean;
  /** Answer like a real ALB where moto does not (target health): see ./alb-realism.ts. Plain moto when absent. */
  realism?: AlbRealism;
  /** Answers some requests itself instead of moto (recorded CloudWatch responses: cloudwatch-fixtures.ts); faults apply first. */
  respond?: (action: string, body: Buffer) => { status: number; headers: Record<string, string>; body: string } | undefined;
}

export interface FaultProxy {
  /** `http://127.0.0.1:PORT`: use it as the AWS endpoint of the clients under test. */
  endpoint: string;
  stats(): FaultStats;
  /**
   * Replaces the rates (`{}` heals the API); the fault budget (maxFaults) counts from here. A match given here
   * replaces the current one (`null`: every action may be faulted again).
   */
  setRates(rates: FaultRates, match?: ((action: string) => boolean) | null): void;
  /** From now on, requests signed with this access key are answered `ExpiredToken`, as AWS answers expired session credentials. */
  expireCredentials(accessKeyId: string): void;
  /** The realism layer in use, if any. */
  readonly realism?: AlbRealism;
  stop(): Promise<void>;
}

function checkRates(r: FaultRates): void {
  const parts = [r.throttle, r.serverError, r.validation, r.drop, r.dropAfter, r.slowRate].map((x) => x ?? 0);
  if (parts.some((x) => !(x >= 0 && x <= 1))) throw new Error(`fault rates are probabilities 0..1: ${JSON.stringify(r)}`);
  const sum = parts.reduce((a, b) => a + b, 0);
  if (sum > 1 + 1e-9) throw new Error(`fault rates add up to ${sum}, more than 1: ${JSON.stringify(r)}`);
}

interface Call {
  /** `ModifyListener`, `GetMetricData`, `moto-api`, `realism-api`, or `unknown`. */
  action: string;
  /** The SigV4 signing name (`elasticloadbalancing`, `monitoring`, `ec2`, `sts`), '' when unsigned. */
  service: string;
  /** How errors must be shaped for the caller to parse them. */
  protocol: 'query' | 'json';
  /** The awsQuery service namespace for the error body. */
  xmlns: string;
}

const XMLNS: Record<string, string> = {
  elasticloadbalancing: 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/',
  ec2: 'http://ec2.amazonaws.com/doc/2016-11-15/',
  monitoring: 'http://monitoring.amazonaws.com/doc/2010-08-01/',
  sts: 'https://sts.amazonaws.com/doc/2011-06-15/',
};

/** The AWS action and protocol of a request: `X-Amz-Target: Service.Action` (JSON), or `Action=...` in a form body (awsQuery). */
export function callOf(req: http.IncomingMessage, body: Buffer): Call {
  const service = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(String(req.headers.authorization ?? ''))?.[1] ?? '';
  const xmlns = XMLNS[service] ?? XMLNS.elasticloadbalancing ?? '';
  if ((req.url ?? '').startsWith('/moto-api')) return { action: 'moto-api', service, protocol: 'json', xmlns };
  if ((req.url ?? '').startsWith('/canary-realism')) return { action: 'realism-api', service, protocol: 'json', xmlns };
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string' && target.includes('.')) return { action: target.slice(target.lastIndexOf('.') + 1), service, protocol: 'json', xmlns };
  const contentType = String(req.headers['content-type'] ?? '');
  if (contentType.startsWith('application/x-www-form-urlencoded')) {
    const action = new URLSearchParams(body.toString('utf8')).get('Action');
    if (action) return { action, service, protocol: 'query', xmlns };
  }
  const fromQuery = new URL(req.url ?? '/', 'http://x').searchParams.get('Action');
  return { action: fromQuery ?? 'unknown', service, protocol: 'query', xmlns };
}

/** IAM action prefixes that differ from the SigV4 signing name. */
const IAM_PREFIX: Record<string, string> = { monitoring: 'cloudwatch' };

/** Header a client sets to be counted under its own name (see tagCaller in ./iam-check.ts). */
export const callerHeader = 'x-canary-caller';

/** Who sent a request: the `x-canary-caller` header, else `app/NAME` of the SDK user agent (AWS_SDK_UA_APP_ID), else `harness`. */
export function callerOf(req: http.IncomingMessage): string {
  const tagged = req.headers[callerHeader];
  if (typeof tagged === 'string' && tagged) return tagged;
  const agent = `${String(req.headers['x-amz-user-agent'] ?? '')} ${String(req.headers['user-agent'] ?? '')}`;
  return /(?:^|\s)app\/([\w.-]+)/.exec(agent)?.[1] ?? 'harness';
}

/** The account key and region a request was signed for, so the realism layer reads the same moto state. */
function identityOf(req: http.IncomingMessage): Caller {
  const m = /Credential=([^/]+)\/[^/]+\/([^/]+)\//.exec(String(req.headers.authorization ?? ''));
  const token = req.headers['x-amz-security-token'];
  return { accessKeyId: m?.[1] ?? 'testing', region: m?.[2] ?? 'us-east-1', sessionToken: typeof token === 'string' ? token : undefined };
}

interface ErrorShape {
  status: number;
  code: string;
  type: 'Sender' | 'Receiver';
  message: string;
  /** The JSON protocol's `__type` when it differs from the awsQuery code (CloudWatch's `ExpiredTokenException`). */
  jsonType?: string;
}

/** What AWS answers a request signed with expired session credentials (ELBv2, EC2, STS, and CloudWatch by its query-compatible code). */
const EXPIRED_TOKEN: ErrorShape = {
  status: 400,
  code: 'ExpiredToken',
  type: 'Sender',
  message: 'The security token included in the request is expired',
  jsonType: 'com.amazon.coral.service#ExpiredTokenException',
};

function requestId(rand: () => number): string {
  const hex = (n: number): string => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');
  return `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;
}

/** Writes an AWS error as the service would: awsQuery `<ErrorResponse>` XML, or AWS JSON 1.0 with `__type`. */
function sendError(res: http.ServerResponse, call: Call, e: ErrorShape, id: string): void {
  if (call.protocol === 'json') {
    const body = JSON.stringify({ __type: e.jsonType ?? e.code, message: e.message });
    res.writeHead(e.status, {
      'content-type': 'application/x-amz-json-1.0',
      'content-length': Buffer.byteLength(body),
      'x-amzn-requestid': id,
      // CloudWatch is awsQueryCompatible: the SDK takes the query error code from this header first.
      'x-amzn-query-error': `${e.code};${e.type}`,
    });
    res.end(body);
    return;
  }
  const body =
    `<ErrorResponse xmlns="${call.xmlns}"><Error><Type>${e.type}</Type><Code>${e.code}</Code><Message>${e.message}</Message></Error>` +
    `<RequestId>${id}</RequestId></ErrorResponse>`;
  res.writeHead(e.status, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body), 'x-amzn-requestid': id });
  res.end(body);
}

/** Starts the proxy on a free loopback port. */
export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(opts.target);
  const rand = mulberry32(opts.seed ?? 1);
  let rates: FaultRates = opts.rates ?? {};
  let match = opts.match;
  let budgetUsed = 0;
  checkRates(rates);
  const stats: FaultStats = {
    requests: 0,
    forwarded: 0,
    faults: { throttle: 0, serverError: 0, validation: 0, drop: 0, dropAfter: 0, slow: 0 },
    byAction: {},
    byCaller: {},
    calls: [],
    realism: { answered: 0, observeErrors: 0 },
    limited: {},
    expiredToken: {},
  };
  /** Access keys AWS would refuse as expired. */
  const expiredKeys = new Set<string>();
  /** Tokens left and when they were counted, per limit, account key and region. */
  const buckets = new Map<string, { tokens: number; atMs: number }>();
  /** Takes a token for the request from each bucket its action draws on; false when one of them is empty. */
  function withinLimits(req: http.IncomingMessage, action: string): boolean {
    const limits = opts.limits ?? [];
    if (!limits.some((l) => l.actions(action))) return true;
    const who = identityOf(req);
    const now = (opts.now ?? Date.now)();
    const drawn: { tokens: number; atMs: number }[] = [];
    limits.forEach((limit, i) => {
      if (!limit.actions(action)) return;
      const key = `${i}|${who.accessKeyId}|${who.region}`;
      const b = buckets.get(key) ?? { tokens: limit.capacity, atMs: now };
      buckets.set(key, b);
      b.tokens = Math.min(limit.capacity, b.tokens + ((now - b.atMs) / 1000) * limit.refillPerSecond);
      b.atMs = now;
      drawn.push(b);
    });
    if (drawn.some((b) => b.tokens < 1)) return false;
    for (const b of drawn) b.tokens -= 1;
    return true;
  }
  const realism = opts.realism;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

  /** One draw per request decides its fate; a request outside `match` or beyond the budget is never faulted. */
  function decide(action: string): FaultKind | undefined {
    if (action === 'moto-api' || (match && !match(action))) return undefined;
    if (rates.maxFaults !== undefined && budgetUsed >= rates.maxFaults) return undefined;
    const r = rand();
    let edge = 0;
    const ordered: [FaultKind, number | undefined][] = [
      ['throttle', rates.throttle],
      ['serverError', rates.serverError],
      ['validation', rates.validation],
      ['drop', rates.drop],
      ['dropAfter', rates.dropAfter],
      ['slow', rates.slowRate],
    ];
    for (const [kind, p] of ordered) {
      edge += p ?? 0;
      if (r < edge) return kind;
    }
    return undefined;
  }

  /** The realism layer's own answer (DescribeTargetHealth), in place of moto's. */
  function answerRealistically(layer: AlbRealism, req: http.IncomingMessage, call: Call, body: Buffer, res: http.ServerResponse, dropAnswer: boolean): void {
    stats.realism.answered++;
    // Not from the PRNG: answering here must not shift the fault sequence a seed gives.
    const id = randomUUID();
    layer
      .describeTargetHealth(new URLSearchParams(body.toString('utf8')), identityOf(req), id)
      .then((out) => {
        if (dropAnswer) return void req.socket.destroy();
        if ('error' in out) return sendError(res, call, { ...out.error, type: out.error.status >= 500 ? 'Receiver' : 'Sender' }, id);
        res.writeHead(200, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(out.xml), 'x-amzn-requestid': id });
        res.end(out.xml);
      })
      .catch((err: Error) => sendError(res, call, { status: 500, code: 'InternalFailure', type: 'Receiver', message: `realism layer: ${err.message}` }, id));
  }

  function forward(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse, dropAnswer: boolean, call?: Call, checked = false): void {
    if (realism && call?.protocol === 'query' && call.service === 'elasticloadbalancing' && realism.answers(call.action)) {
      return answerRealistically(realism, req, call, body, res, dropAnswer);
    }
    if (!checked && realism && call?.protocol === 'query' && call.service === 'elasticloadbalancing' && realism.checks(call.action)) {
      // A quota moto does not enforce: refused as AWS refuses it, before moto changes anything.
      const send = (): void => forward(req, body, res, dropAnswer, call, true);
      void realism.refusal(call.action, new URLSearchParams(body.toString('utf8')), identityOf(req)).then((refused) => {
        if (!refused) return send();
        stats.realism.answered++;
        sendError(res, call, { ...refused, type: 'Sender' }, randomUUID());
      }, send);
      return;
    }
    // A mutation the layer keeps time by is held until the layer has read its effect, so the caller's next describe sees it.
    const observe = realism && call?.service === 'elasticloadbalancing' && realism.observes(call.action) ? realism : undefined;
    // An answer the layer completes (rule transforms moto drops) is held and rewritten.
    const rewrite = realism && call?.protocol === 'query' && call.service === 'elasticloadbalancing' && realism.rewrites(call.action) ? realism : undefined;
    stats.forwarded++;
    const upstream = http.request(
      {
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host, 'content-length': String(body.length) },
        agent,
      },
      (answer) => {
        const ok = (answer.statusCode ?? 500) < 300;
        const observed = observe && ok && call ? observeQuietly(observe, call.action, body, req) : Promise.resolve();
        if (dropAnswer) {
          // Let the server finish the work, then lose the answer on the way back (the layer still records what it did).
          const lost: Buffer[] = [];
          answer.on('data', (c: Buffer) => lost.push(c));
          answer.once('end', () => {
            if (rewrite && call && ok) rewrite.rewrite(call.action, new URLSearchParams(body.toString('utf8')), Buffer.concat(lost).toString('utf8'));
            void observed.then(() => req.socket.destroy());
          });
          return;
        }
        if ((!observe && !rewrite) || !ok) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.once('end', () => {
          void observed.then(() => {
            let out = Buffer.concat(chunks);
            const headers = { ...answer.headers };
            if (rewrite && call) {
              out = Buffer.from(rewrite.rewrite(call.action, new URLSearchParams(body.toString('utf8')), out.toString('utf8')), 'utf8');
              delete headers['transfer-encoding'];
              headers['content-length'] = String(out.length);
            }
            res.writeHead(answer.statusCode ?? 502, headers);
            res.end(out);
          });
        });
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`fault proxy: upstream error: ${err.message}`);
      } else {
        res.destroy();
      }
    });
    upstream.end(body);
  }

  function observeQuietly(layer: AlbRealism, action: string, body: Buffer, req: http.IncomingMessage): Promise<void> {
    return layer.observe(action, new URLSearchParams(body.toString('utf8')), identityOf(req)).catch((err: Error) => {
      stats.realism.observeErrors++;
      stats.realism.lastObserveError = `${action}: ${err.message}`;
    });
  }

  /** `/canary-realism/*`: tell the layer a version's health, or read the stats from another process. */
  function control(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void {
    const reply = (status: number, value: unknown): void => {
      const text = JSON.stringify(value);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/canary-realism/stats') return reply(200, stats);
    if (req.method === 'POST' && url.pathname === '/canary-realism/expired-credentials') {
      let key: unknown;
      try {
        key = (JSON.parse(body.toString('utf8')) as { accessKeyId?: unknown }).accessKeyId;
      } catch {
        key = undefined;
      }
      if (typeof key !== 'string' || !key) return reply(400, { message: 'expected { "accessKeyId": "..." }' });
      expiredKeys.add(key);
      return reply(200, { ok: true });
    }
    if (req.method === 'POST' && url.pathname === '/canary-realism/health') {
      if (!realism) return reply(409, { message: 'the realism layer is off on this proxy' });
      try {
        realism.setHealth(JSON.parse(body.toString('utf8')) as HealthRule);
        return reply(200, { ok: true });
      } catch (err) {
        return reply(400, { message: (err as Error).message });
      }
    }
    reply(404, { message: `unknown control endpoint ${req.method} ${url.pathname}` });
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const call = callOf(req, body);
      if (call.action === 'realism-api') return control(req, body, res);
      stats.requests++;
      const perAction = (stats.byAction[call.action] ??= { requests: 0 });
      perAction.requests++;
      if (call.action === 'moto-api') {
        // moto wipes its state: the layer's clock of attachments and registrations goes with it.
        if ((req.url ?? '').startsWith('/moto-api/reset')) realism?.reset();
      } else {
        const perCaller = (stats.byCaller[callerOf(req)] ??= {});
        const key = `${IAM_PREFIX[call.service] ?? (call.service || 'unknown')}:${call.action}`;
        perCaller[key] = (perCaller[key] ?? 0) + 1;
        if (callerOf(req) !== 'harness') {
          const params = call.protocol === 'query' ? Object.fromEntries(new URLSearchParams(body.toString('utf8'))) : {};
          stats.calls.push({ caller: callerOf(req), action: key, region: identityOf(req).region, params });
          if (stats.calls.length > maxRecordedCalls) stats.calls.splice(0, stats.calls.length - maxRecordedCalls);
        }
      }
      if (call.action !== 'moto-api' && expiredKeys.has(identityOf(req).accessKeyId)) {
        stats.expiredToken[call.action] = (stats.expiredToken[call.action] ?? 0) + 1;
        // Not from the PRNG: like a limit, an expired key must not shift the fault sequence a seed gives.
        return sendError(res, call, EXPIRED_TOKEN, randomUUID());
      }
      if (call.action !== 'moto-api' && !withinLimits(req, call.action)) {
        stats.limited[call.action] = (stats.limited[call.action] ?? 0) + 1;
        // Not from the PRNG: a limit must not shift the fault sequence a seed gives.
        return sendError(res, call, { status: 400, code: 'Throttling', type: 'Sender', message: 'Rate exceeded' }, randomUUID());
      }
      const kind = decide(call.action);
      if (kind) {
        budgetUsed++;
        stats.faults[kind]++;
        perAction[kind] = (perAction[kind] ?? 0) + 1;
      }
      const id = requestId(rand);
      switch (kind) {
        case 'throttle':
          return sendError(res, call, { status: 400, code: 'Throttling', type: 'Sender', message: 'Rate exceeded' }, id);
        case 'serverError':
          return rand() < 0.5
            ? sendError(
                res,
                call,
                {
                  status: 500,
                  code: 'InternalFailure',
                  type: 'Receiver',
                  message: 'The request processing has failed because of an unknown error, exception or failure.',
                },
                id,
              )
            : sendError(res, call, { status: 503, code: 'ServiceUnavailable', type: 'Receiver', message: 'Service is unavailable. Retry the request.' }, id);
        case 'validation':
          return sendError(
            res,
            call,
            { status: 400, code: 'ValidationError', type: 'Sender', message: `1 validation error detected (injected by the fault proxy for ${call.action})` },
            id,
          );
        case 'drop':
          req.socket.destroy();
          return;
        case 'dropAfter':
          return forward(req, body, res, true, call);
        case 'slow': {
          const timer = setTimeout(() => forward(req, body, res, false, call), rates.slowMs ?? 1_000);
          res.once('close', () => clearTimeout(timer));
          return;
        }
        default: {
          const answer = opts.respond?.(call.action, body);
          if (!answer) return forward(req, body, res, false, call);
          res.writeHead(answer.status, answer.headers);
          res.end(answer.body);
          return;
        }
      }
    });
  });
  // Keep idle client connections open (Node closes them after 5 s by default): a close racing a reused socket
  // would be a connection reset the PRNG did not decide, and runs with one seed would differ.
  server.keepAliveTimeout = 10 * 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    realism,
    stats(): FaultStats {
      return JSON.parse(JSON.stringify(stats)) as FaultStats;
    },
    setRates(next: FaultRates, nextMatch?: ((action: string) => boolean) | null): void {
      checkRates(next);
      rates = next;
      budgetUsed = 0;
      if (nextMatch !== undefined) match = nextMatch ?? undefined;
    },
    expireCredentials(accessKeyId: string): void {
      expiredKeys.add(accessKeyId);
    },
    async stop(): Promise<void> {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      agent.destroy();
      realism?.stop();
      await closed;
    },
  };
}

/** A one-line summary of the stats for test output: `requests 120, forwarded 95, throttle 20, ...`. */
export function formatFaultStats(s: FaultStats, actions?: readonly string[]): string {
  const kinds = KINDS.filter((k) => s.faults[k] > 0).map((k) => `${k} ${s.faults[k]}`);
  const per = Object.entries(s.byAction)
    .filter(([a]) => a !== 'moto-api' && (!actions || actions.includes(a)))
    .sort((a, b) => b[1].requests - a[1].requests)
    .map(([a, v]) => {
      const f = KINDS.filter((k) => (v[k] ?? 0) > 0).map((k) => `${k} ${v[k]}`);
      return `${a} ${v.requests}${f.length ? ` (${f.join(', ')})` : ''}`;
    });
  const limited = Object.values(s.limited ?? {}).reduce((a, b) => a + b, 0);
  return `requests ${s.requests}, forwarded ${s.forwarded}, faults: ${kinds.join(', ') || 'none'}${limited ? `, over the account's limit: ${limited}` : ''}; per action: ${per.join('; ')}`;
}
