/**
 * The hook activities (activities/hooks.ts) against a real HTTP server on 127.0.0.1 that, as a hook author would
 * (docs/HOOKS.md#verifying-the-signature), checks the HMAC signature of every call it gets before it answers, and
 * answers 401 when the check fails. Every hook URL carries credentials and a query that no error may repeat.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createHookActivities, hookSignature, hooksFromEnv, verifyHookSignature, type HookConfig, type HookDeps } from '../../activities/hooks';
import { HookErrors, hookEnvName, type HookContext } from '../../common/hooks';

const SECRET = 'hook-secret-7f3a9c';
const CREDENTIAL = 'pw-SECRETCRED';
const QUERY = 'tok-SECRETQUERY';

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The server's own check of X-Canary-Signature and X-Canary-Timestamp. */
  verified: boolean;
}

const received: Received[] = [];
/** `request` for each call received; `closed /path` when the caller hangs up before the answer is complete. */
const events = new EventEmitter();

/** The hook author's check, written from the documented scheme (not with the activity's code). */
function serverVerifies(headers: http.IncomingHttpHeaders, body: string): boolean {
  const timestamp = String(headers['x-canary-timestamp'] ?? '');
  const signature = String(headers['x-canary-signature'] ?? '');
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(`${timestamp}.${body}`).digest('hex')}`);
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const json = (res: http.ServerResponse, status: number, value: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
};

/** What the server answers, by path. */
const answers: Record<string, (res: http.ServerResponse) => void> = {
  '/pass': (res) => json(res, 200, { result: 'pass', detail: '12 smoke checks passed' }),
  '/empty': (res) => res.writeHead(204).end(),
  '/fail': (res) => json(res, 200, { result: 'fail', reason: 'checkout returns 500 on /cart' }),
  '/running': (res) => json(res, 202, { result: 'running', retryAfter: '45s', detail: '3 of 10 checks' }),
  '/running-default': (res) => json(res, 200, { result: 'running' }),
  '/running-soon': (res) => json(res, 200, { result: 'running', retryAfter: '10ms' }),
  '/running-bad': (res) => json(res, 200, { result: 'running', retryAfter: 'soon' }),
  '/unknown': (res) => json(res, 200, { result: 'maybe' }),
  '/503': (res) => json(res, 503, { error: 'deploying' }),
  '/429': (res) => json(res, 429, { error: 'slow down' }),
  '/404': (res) => json(res, 404, { error: 'no such check' }),
  '/redirect': (res) => res.writeHead(302, { location: 'https://elsewhere.example.com/next?sig=abc' }).end(),
  '/not-json': (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>'),
  // Streams until the client goes away: the call ends only if the reader stops at its cap.
  '/endless': (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(16 * 1024, 'a');
    const more = (): void => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once('drain', more);
    };
    res.on('close', () => events.emit('closed /endless'));
    more();
  },
  // Never answers; records when the caller hangs up.
  '/hang': (res) => {
    res.on('close', () => events.emit('closed /hang'));
  },
};

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const verified = serverVerifies(req.headers, body);
    received.push({ path, headers: req.headers, body, verified });
    events.emit('request');
    if (!verified) return json(res, 401, { error: 'signature does not verify' });
    const answer = answers[path];
    if (!answer) return json(res, 404, { error: 'unknown path' });
    answer(res);
  });
});

let port = 0;
/** A port nothing listens on. */
let closedPort = 0;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  const spare = http.createServer();
  await new Promise<void>((resolve) => spare.listen(0, '127.0.0.1', resolve));
  closedPort = (spare.address() as AddressInfo).port;
  await new Promise<void>((resolve) => spare.close(() => resolve()));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  received.length = 0;
});

/** The worker's environment for hooks named after the server's paths (`/running-default` → `running-default`). */
function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const vars: NodeJS.ProcessEnv = {};
  for (const p of Object.keys(answers)) {
    const name = `h-${p.slice(1)}`;
    vars[hookEnvName(name)] = `http://user:${CREDENTIAL}@127.0.0.1:${port}${p}?token=${QUERY}`;
    vars[`${hookEnvName(name)}_SECRET`] = SECRET;
  }
  return { ...vars, CANARY_HOOK_H_HANG_TIMEOUT: '300ms', ...extra };
}

function context(hook: string): HookContext {
  return {
    hook,
    point: 'beforeTraffic',
    releaseId: 'release-checkout',
    run: 1,
    service: 'checkout',
    version: 'v2',
    step: 0,
    phase: 'Progressing',
    listenerArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/0123456789abcdef/fedcba9876543210',
    targetGroups: [{ role: 'canary', name: 'checkout-v2', arn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/checkout-v2/1' }],
    weights: { canary: 0, stable: 100 },
    testRoute: { header: 'X-Canary-Test', value: 'token-1' },
    attempt: 1,
  };
}

function call(hook: string, config: HookConfig = hooksFromEnv(env()), deps?: HookDeps) {
  return createHookActivities(config, deps).callHook(context(hook));
}

/** The call fails with `type`, retryable or not, its message matching `message` and naming none of the URL's secrets. */
async function expectFailure(promise: Promise<unknown>, type: string, retryable: boolean, message: RegExp): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  const failure = err as ApplicationFailure;
  expect({ type: failure.type, retryable: !failure.nonRetryable }).toEqual({ type, retryable });
  expect(failure.message).toMatch(message);
  for (const secret of [SECRET, CREDENTIAL, QUERY]) expect(failure.message).not.toContain(secret);
  return failure;
}

/** Every call the server got carried a signature it verified. */
function expectAllVerified(count: number): void {
  expect(received.map((r) => ({ path: r.path, verified: r.verified }))).toEqual(received.map((r) => ({ path: r.path, verified: true })));
  expect(received).toHaveLength(count);
}

describe('a hook call', () => {
  it('POSTs the context as JSON, signed over timestamp.body with the hook secret, with canary headers', async () => {
    await expect(call('h-pass')).resolves.toEqual({ result: 'pass', status: 200, detail: '12 smoke checks passed' });
    expectAllVerified(1);
    const [got] = received as [Received];
    expect(JSON.parse(got.body)).toEqual(context('h-pass'));
    expect(got.headers).toMatchObject({
      'content-type': 'application/json',
      'x-canary-hook': 'h-pass',
      'x-canary-release': 'release-checkout',
      'x-canary-signature': hookSignature(SECRET, String(got.headers['x-canary-timestamp']), got.body),
    });
    expect(got.headers['user-agent']).toMatch(/canary/);
    expect(Math.abs(Number(got.headers['x-canary-timestamp']) - Date.now() / 1000)).toBeLessThan(5);
    // verifyHookSignature, as a hook in Node may use it: the real call verifies; another secret or a replay later does not.
    const check = { body: got.body, timestamp: String(got.headers['x-canary-timestamp']), signature: String(got.headers['x-canary-signature']) };
    expect(verifyHookSignature({ ...check, secret: SECRET })).toBe(true);
    expect(verifyHookSignature({ ...check, secret: 'another-secret' })).toBe(false);
    expect(verifyHookSignature({ ...check, secret: SECRET, nowSeconds: Number(check.timestamp) + 600 })).toBe(false);
    expect(verifyHookSignature({ ...check, body: got.body.replace('v2', 'v3'), secret: SECRET })).toBe(false);
  });

  it("adds the worker's links to the release's page in the Temporal UI and its report, when the worker knows them", async () => {
    const links = { uiUrl: 'https://temporal.example.com', namespace: 'prod', reportUrl: 'https://reports.example.com/{releaseId}.html' };
    await expect(call('h-pass', undefined, { links })).resolves.toMatchObject({ result: 'pass' });
    expectAllVerified(1);
    expect((JSON.parse((received as [Received])[0].body) as { links?: unknown }).links).toEqual({
      temporalUi: 'https://temporal.example.com/namespaces/prod/workflows/release-checkout',
      report: 'https://reports.example.com/release-checkout.html',
    });
  });

  it('signed with a secret the hook does not share fails the server check, and the 401 is rejected with a hint', async () => {
    const config = hooksFromEnv(env({ CANARY_HOOK_H_PASS_SECRET: 'not-the-hook-secret' }));
    await expectFailure(
      call('h-pass', config),
      HookErrors.rejected,
      false,
      /hook "h-pass" \(http:\/\/127\.0\.0\.1:\d+, CANARY_HOOK_H_PASS\) answered HTTP 401.*same secret/,
    );
    expect(received.map((r) => r.verified)).toEqual([false]);
  });

  it('passes on an empty 2xx body', async () => {
    await expect(call('h-empty')).resolves.toEqual({ result: 'pass', status: 204 });
    expectAllVerified(1);
  });

  it('returns a fail with its reason rather than throwing (the workflow decides)', async () => {
    await expect(call('h-fail')).resolves.toEqual({ result: 'fail', status: 200, reason: 'checkout returns 500 on /cart' });
    expectAllVerified(1);
  });

  it('returns running with retryAfter in ms, 30 s when absent, clamped to at least 1 s', async () => {
    await expect(call('h-running')).resolves.toEqual({ result: 'running', status: 202, retryAfterMs: 45_000, detail: '3 of 10 checks' });
    await expect(call('h-running-default')).resolves.toEqual({ result: 'running', status: 200, retryAfterMs: 30_000 });
    await expect(call('h-running-soon')).resolves.toEqual({ result: 'running', status: 200, retryAfterMs: 1_000 });
    await expectFailure(call('h-running-bad'), HookErrors.rejected, false, /answered "running" with retryAfter "soon"/);
    expectAllVerified(4);
  });

  it('5xx and 429 are retryable HookUnavailable', async () => {
    await expectFailure(call('h-503'), HookErrors.unavailable, true, /h-503.*answered HTTP 503: \{"error":"deploying"\}/);
    await expectFailure(call('h-429'), HookErrors.unavailable, true, /h-429.*answered HTTP 429/);
    expectAllVerified(2);
  });

  it('a refused connection is retryable HookUnavailable', async () => {
    const config = hooksFromEnv({ CANARY_HOOK_DOWN: `http://127.0.0.1:${closedPort}/x?token=${QUERY}`, CANARY_HOOK_DOWN_SECRET: SECRET });
    await expectFailure(
      call('down', config),
      HookErrors.unavailable,
      true,
      new RegExp(`hook "down" \\(http://127\\.0\\.0\\.1:${closedPort}, CANARY_HOOK_DOWN\\) could not be reached: .*ECONNREFUSED`),
    );
  });

  it('a hook that does not answer within its request timeout is retryable HookUnavailable, and the connection is closed', async () => {
    const hungUp = once(events, 'closed /hang');
    const started = Date.now();
    await expectFailure(call('h-hang'), HookErrors.unavailable, true, /h-hang.*did not answer within 300ms \(CANARY_HOOK_H_HANG_TIMEOUT\)/);
    expect(Date.now() - started).toBeLessThan(3_000);
    expectAllVerified(1);
    await hungUp;
  });

  it('a cancelled activity stops waiting for the hook', async () => {
    const activityEnv = new MockActivityEnvironment();
    const activities = createHookActivities(hooksFromEnv(env({ CANARY_HOOK_H_HANG_TIMEOUT: '30s' })));
    const [reached, hungUp] = [once(events, 'request'), once(events, 'closed /hang')];
    const running = activityEnv.run(activities.callHook, context('h-hang'));
    await reached;
    activityEnv.cancel();
    await expect(running).rejects.toBeInstanceOf(CancelledFailure);
    await hungUp;
  });

  it('a 4xx other than 429 is rejected, not retried', async () => {
    await expectFailure(call('h-404'), HookErrors.rejected, false, /h-404.*answered HTTP 404: \{"error":"no such check"\}/);
    expectAllVerified(1);
  });

  it('a redirect is not followed: rejected, naming only where it pointed', async () => {
    const failure = await expectFailure(
      call('h-redirect'),
      HookErrors.rejected,
      false,
      /answered HTTP 302, a redirect to https:\/\/elsewhere\.example\.com: redirects are not followed; set CANARY_HOOK_H_REDIRECT/,
    );
    expect(failure.message).not.toContain('sig=abc');
    expectAllVerified(1);
  });

  it('a body that is not JSON, or a result it does not know, is rejected', async () => {
    await expectFailure(call('h-not-json'), HookErrors.rejected, false, /with a body that is not JSON \("<html>login<\/html>"\)/);
    await expectFailure(call('h-unknown'), HookErrors.rejected, false, /with result "maybe": expected "pass", "fail" or "running"/);
    expectAllVerified(2);
  });

  it('an answer over 64 KiB is rejected, and reading stops there (the server streams forever)', async () => {
    const hungUp = once(events, 'closed /endless');
    await expectFailure(call('h-endless'), HookErrors.rejected, false, /h-endless.*answered HTTP 200 with more than 64 KiB/);
    expectAllVerified(1);
    await hungUp;
  });
});

describe('hooks the worker cannot call', () => {
  it('an unknown name is HookNotConfigured, naming the variables to set', async () => {
    await expectFailure(
      call('nope'),
      HookErrors.notConfigured,
      false,
      /hook "nope" is not configured on this worker: set CANARY_HOOK_NOPE \(its URL\) and CANARY_HOOK_NOPE_SECRET/,
    );
  });

  it('a missing secret is HookNotConfigured, and nothing is sent', async () => {
    const config = hooksFromEnv({ CANARY_HOOK_SMOKE_TEST: `http://127.0.0.1:${port}/pass` });
    await expectFailure(
      call('smoke-test', config),
      HookErrors.notConfigured,
      false,
      /hook "smoke-test" cannot be called: no secret: set CANARY_HOOK_SMOKE_TEST_SECRET/,
    );
    expect(received).toEqual([]);
  });

  it('the instance metadata address and link-local URLs are refused unless allowed', async () => {
    const config = hooksFromEnv({
      CANARY_HOOK_IMDS: `http://169.254.169.254/latest/meta-data?token=${QUERY}`,
      CANARY_HOOK_IMDS_SECRET: SECRET,
      CANARY_HOOK_IMDS6: 'http://[fd00:ec2::254]/latest',
      CANARY_HOOK_IMDS6_SECRET: SECRET,
      CANARY_HOOK_LINK: 'http://[fe80::1]:8080/hook',
      CANARY_HOOK_LINK_SECRET: SECRET,
      CANARY_HOOK_MAPPED: 'http://[::ffff:169.254.10.1]/hook',
      CANARY_HOOK_MAPPED_SECRET: SECRET,
      CANARY_HOOK_ALLOWED: 'http://169.254.170.2/v2/hook',
      CANARY_HOOK_ALLOWED_SECRET: SECRET,
      CANARY_HOOK_ALLOWED_ALLOW_LINK_LOCAL: '1',
    });
    await expectFailure(
      call('imds', config),
      HookErrors.notConfigured,
      false,
      /CANARY_HOOK_IMDS points at 169\.254\.169\.254, the instance metadata address: refused.*set CANARY_HOOK_IMDS_ALLOW_LINK_LOCAL=1/,
    );
    await expectFailure(call('imds6', config), HookErrors.notConfigured, false, /CANARY_HOOK_IMDS6 points at fd00:ec2::254, the instance metadata address/);
    await expectFailure(call('link', config), HookErrors.notConfigured, false, /CANARY_HOOK_LINK points at fe80::1, a link-local address/);
    await expectFailure(call('mapped', config), HookErrors.notConfigured, false, /CANARY_HOOK_MAPPED points at ::ffff:a9fe:a01, a link-local address/);
    const { hooks } = await createHookActivities(config).workerHooks();
    expect(Object.keys(hooks)).toEqual(['allowed', 'imds', 'imds6', 'link', 'mapped']);
    expect(hooks.allowed).toEqual({});
    expect(hooks.imds?.problem).toMatch(/instance metadata address/);
  });

  it('a host name that resolves to a link-local address is refused when it is called; a private one is called', async () => {
    const resolve: HookDeps['resolve'] = async (host) =>
      host === 'metadata.internal'
        ? [
            { address: '10.0.0.7', family: 4 },
            { address: '169.254.169.254', family: 4 },
          ]
        : host === 'checks.internal'
          ? [{ address: '127.0.0.1', family: 4 }]
          : [];
    const config = hooksFromEnv({
      CANARY_HOOK_SNEAKY: 'http://metadata.internal/latest',
      CANARY_HOOK_SNEAKY_SECRET: SECRET,
      CANARY_HOOK_CHECKS: `http://checks.internal:${port}/pass`,
      CANARY_HOOK_CHECKS_SECRET: SECRET,
    });
    await expectFailure(
      call('sneaky', config, { resolve }),
      HookErrors.notConfigured,
      false,
      /metadata\.internal resolves to an address refused: CANARY_HOOK_SNEAKY points at 169\.254\.169\.254/,
    );
    await expect(call('checks', config, { resolve })).resolves.toMatchObject({ result: 'pass' });
    expectAllVerified(1);
  });

  it('localhost goes through the system resolver and is allowed (hooks usually live next to the worker or in the VPC)', async () => {
    const config = hooksFromEnv({ CANARY_HOOK_LOCAL: `http://localhost:${port}/empty`, CANARY_HOOK_LOCAL_SECRET: SECRET });
    await expect(call('local', config)).resolves.toEqual({ result: 'pass', status: 204 });
    expectAllVerified(1);
  });
});

describe('hooks from the worker environment', () => {
  it('reads URL, secret, timeout and the link-local opt-in per name; suffixes are settings, not names; blank is unset', () => {
    expect(
      hooksFromEnv({
        CANARY_HOOK_SMOKE_TEST: ' https://smoke.internal/run ',
        CANARY_HOOK_SMOKE_TEST_SECRET: 's3cret',
        CANARY_HOOK_SMOKE_TEST_TIMEOUT: '30s',
        CANARY_HOOK_FREEZE: 'http://10.0.3.4:8080/freeze',
        CANARY_HOOK_FREEZE_SECRET: 'f',
        CANARY_HOOK_FREEZE_ALLOW_LINK_LOCAL: 'true',
        CANARY_HOOK_BLANK: '  ',
        CANARY_HOOK_BLANK_SECRET: '',
        CANARY_WEBHOOK_OPS: 'https://hooks.slack.example/ops',
        OTHER: 'x',
      }),
    ).toEqual({
      'smoke-test': { url: 'https://smoke.internal/run', secret: 's3cret', requestTimeoutMs: 30_000, allowLinkLocal: false },
      freeze: { url: 'http://10.0.3.4:8080/freeze', secret: 'f', requestTimeoutMs: 10_000, allowLinkLocal: true },
    });
  });

  it('keeps what it cannot read as the hook problem, naming the variable, and workerHooks reports it without URLs or secrets', async () => {
    const config = hooksFromEnv({
      CANARY_HOOK_SLOW: 'https://slow.internal/?key=abc',
      CANARY_HOOK_SLOW_SECRET: 'slow-secret',
      CANARY_HOOK_SLOW_TIMEOUT: '10m',
      CANARY_HOOK_ODD: 'https://odd.internal/',
      CANARY_HOOK_ODD_SECRET: 'odd-secret',
      CANARY_HOOK_ODD_ALLOW_LINK_LOCAL: 'sure',
      CANARY_HOOK_ORPHAN_SECRET: 'orphan-secret',
      CANARY_HOOK_FTP: 'ftp://files.internal/hook',
      CANARY_HOOK_FTP_SECRET: 'ftp-secret',
      CANARY_HOOK_9LIVES: 'https://cat.internal/',
      CANARY_HOOK_9LIVES_SECRET: 'cat-secret',
      CANARY_HOOK_GOOD: 'https://good.internal/?key=abc',
      CANARY_HOOK_GOOD_SECRET: 'good-secret',
    });
    const answer = await createHookActivities(config).workerHooks();
    expect(answer).toEqual({
      hooks: {
        '9lives': { problem: expect.stringMatching(/^CANARY_HOOK_9LIVES: "9lives" is not a hook name/) },
        ftp: { problem: 'CANARY_HOOK_FTP must be an http:// or https:// URL, not ftp:' },
        good: {},
        odd: { problem: 'CANARY_HOOK_ODD_ALLOW_LINK_LOCAL="sure": expected 1 or 0' },
        orphan: { problem: 'no URL: set CANARY_HOOK_ORPHAN' },
        slow: { problem: 'CANARY_HOOK_SLOW_TIMEOUT="10m": expected a duration such as 5s or 30s, at most 50s' },
      },
    });
    const text = JSON.stringify(answer);
    for (const secret of ['internal', 'key=abc', '-secret']) expect(text).not.toContain(secret);
    await expectFailure(call('slow', config), HookErrors.notConfigured, false, /hook "slow" cannot be called: CANARY_HOOK_SLOW_TIMEOUT="10m"/);
  });
});
