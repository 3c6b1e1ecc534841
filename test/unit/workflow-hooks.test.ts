/**
 * Hooks in the release workflow (workflows/release/hooks.ts) on the time-skipping test server: the listener is the
 * in-memory fake (test/support/fake-alb.ts), but every hook call is the real `callHook` activity POSTing to a real
 * HTTP server of this test, which verifies the HMAC signature of every call. Each hook point and each answer: pass,
 * fail, running then pass, timeout with rollback or continue, 4xx, 5xx then retry; a name the worker does not hold.
 * The test route needs listener rules, which the fake does not model: test/integration/hooks-release.test.ts.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WorkflowFailedError } from '@temporalio/client';
import { verifyHookRequest, type HookConfig } from '../../activities/hooks';
import type { HookContext } from '../../common/hooks';
import { statusQuery } from '../../common/messages';
import type { WeightedTargetGroup } from '../../common/forward';
import { timeSkippingRelease } from '../support/time-skipping';
import type { FakeAlb } from '../support/fake-alb';

const releases = timeSkippingRelease();
const SECRET = 'hook-secret-of-the-test';

interface Received {
  context: HookContext;
  verified: boolean;
}

type Answer = { status: number; body?: unknown };

/** A real hook server: verifies each call's signature and answers with `answer(context, nthCallOfThisHook)`. */
class HookServer {
  readonly received: Received[] = [];
  answer: (c: HookContext, n: number) => Answer = () => ({ status: 200, body: { result: 'pass' } });
  private server!: http.Server;
  url = '';

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const context = JSON.parse(body) as HookContext;
        const verified = verifyHookRequest(SECRET, body, req.headers);
        this.received.push({ context, verified });
        const n = this.received.filter((r) => r.context.hook === context.hook).length;
        const a = verified ? this.answer(context, n) : { status: 401, body: { error: 'bad signature' } };
        res.writeHead(a.status, { 'content-type': 'application/json' });
        res.end(a.body === undefined ? '' : JSON.stringify(a.body));
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }

  /** The worker's hook settings for these names, all pointing at this server with the shared secret. */
  config(...names: string[]): HookConfig {
    return Object.fromEntries(names.map((n) => [n, { url: `${this.url}?name=${n}`, secret: SECRET, requestTimeoutMs: 5_000, allowLinkLocal: false }]));
  }

  calls(hook?: string): string[] {
    return this.received.filter((r) => !hook || r.context.hook === hook).map((r) => `${r.context.hook}@${r.context.point}#${r.context.attempt}`);
  }
}

let server: HookServer;
beforeEach(async () => {
  server = new HookServer();
  await server.start();
});
afterEach(async () => {
  // Every call of every test carried a signature the server could verify under the worker's secret.
  expect(server.received.every((r) => r.verified)).toBe(true);
  await server.stop();
});

const steps = [{ setWeight: 20 }, { webhook: 'gate' }, { setWeight: 100 }];
const everyPoint = {
  beforeTraffic: ['smoke'],
  afterStep: ['load'],
  beforePromotion: ['freeze'],
  afterPromotion: ['cmdb'],
  afterRollback: ['incident'],
};

/** The canary's weight in every forward write of the release. */
function canaryWeights(fake: FakeAlb, canaryArn: string): number[] {
  return fake
    .callsOf('setForwardWeights')
    .flatMap((c) => (c.input as { weights: WeightedTargetGroup[] }).weights)
    .filter((w) => w.targetGroupArn === canaryArn)
    .map((w) => w.weight);
}

describe('hook points', () => {
  it('calls each point in order with the release context, signed, and records every answer', async () => {
    const { handle } = await releases.start({ steps, hooks: everyPoint, promotion: { keepPreviousFor: '0s' } }, undefined, {
      hooks: server.config('smoke', 'load', 'gate', 'freeze', 'cmdb', 'incident'),
    });
    expect(await handle.result()).toMatchObject({ outcome: 'promoted' });
    expect(server.calls()).toEqual([
      'smoke@beforeTraffic#1',
      'load@afterStep#1',
      'gate@step#1',
      'load@afterStep#1',
      'freeze@beforePromotion#1',
      'cmdb@afterPromotion#1',
    ]);
    const [smoke, load] = server.received.map((r) => r.context);
    // Before traffic: the canary is attached at weight 0 and healthy; after the first step it has its 20%.
    expect(smoke).toMatchObject({ point: 'beforeTraffic', step: 0, weights: { stable: 100, canary: 0 }, service: expect.stringContaining('svc') });
    expect(smoke?.targetGroups.map((t) => t.role)).toEqual(['stable', 'canary']);
    expect(load).toMatchObject({ point: 'afterStep', step: 0, weights: { stable: 80, canary: 20 } });
    const status = await handle.query(statusQuery);
    expect(status.timeline.filter((t) => t.action.startsWith('hook ')).map((t) => t.action)).toEqual([
      'hook smoke (beforeTraffic): pass',
      'hook load (afterStep): pass',
      'hook gate (step 1): pass',
      'hook load (afterStep): pass',
      'hook freeze (beforePromotion): pass',
      'hook cmdb (afterPromotion): pass',
    ]);
  });

  it('a failing before-traffic hook rolls back with its reason before any user reaches the canary; after-rollback hooks run', async () => {
    server.answer = (c) => (c.hook === 'smoke' ? { status: 200, body: { result: 'fail', reason: 'checkout page returns 500' } } : { status: 200 });
    const { handle, fake } = await releases.start({ steps, hooks: everyPoint }, undefined, {
      hooks: server.config('smoke', 'load', 'gate', 'freeze', 'cmdb', 'incident'),
    });
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'rolled-back', by: 'canary', reason: 'hook smoke (beforeTraffic) failed: checkout page returns 500' });
    expect(server.calls()).toEqual(['smoke@beforeTraffic#1', 'incident@afterRollback#1']);
    const status = await handle.query(statusQuery);
    const canaryArn = status.targetGroups.find((t) => t.role === 'canary')?.arn as string;
    expect(canaryWeights(fake, canaryArn)).toEqual([0]);
    expect(fake.actions).toEqual(fake.originalActions);
  });

  it('after promotion a failure only warns: the release ends promoted and says what the hook answered', async () => {
    server.answer = (c) => (c.hook === 'cmdb' ? { status: 200, body: { result: 'fail', reason: 'CMDB is read-only today' } } : { status: 204 });
    const { handle } = await releases.start(
      { steps: [{ setWeight: 100 }], hooks: { afterPromotion: ['cmdb'] }, promotion: { keepPreviousFor: '0s' } },
      undefined,
      {
        hooks: server.config('cmdb'),
      },
    );
    const result = await handle.result();
    expect(result.outcome).toBe('promoted');
    expect(result.warnings).toEqual(['hook cmdb (afterPromotion) failed: CMDB is read-only today']);
  });
});

describe('answers', () => {
  const oneGate = (hook: Record<string, unknown> | string) => ({
    steps: [{ setWeight: 10 }, { webhook: hook }, { setWeight: 100 }],
    promotion: { keepPreviousFor: '0s' },
  });

  it('running, then pass: asked again after its retryAfter, and the release goes on', async () => {
    server.answer = (_c, n) => (n < 3 ? { status: 202, body: { result: 'running', retryAfter: '30s' } } : { status: 200, body: { result: 'pass' } });
    const { handle } = await releases.start(oneGate('gate'), undefined, { hooks: server.config('gate') });
    expect(await handle.result()).toMatchObject({ outcome: 'promoted' });
    expect(server.calls()).toEqual(['gate@step#1', 'gate@step#2', 'gate@step#3']);
  });

  it('still running at its timeout: rolls back by default', async () => {
    server.answer = () => ({ status: 202, body: { result: 'running', retryAfter: '1m' } });
    const { handle } = await releases.start(oneGate({ hook: 'gate', timeout: '5m' }), undefined, { hooks: server.config('gate') });
    const result = await handle.result();
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/^hook gate \(step 1\) gave no verdict within its timeout \(still running after \d call\(s\)\)$/);
    // 5m at one call a minute: never more than the timeout allows.
    expect(server.calls().length).toBeLessThanOrEqual(5);
  });

  it('still running at its timeout with onTimeout: continue: the release goes on and says so', async () => {
    server.answer = () => ({ status: 202, body: { result: 'running', retryAfter: '1m' } });
    const { handle } = await releases.start(oneGate({ hook: 'gate', timeout: '3m', onTimeout: 'continue' }), undefined, { hooks: server.config('gate') });
    expect(await handle.result()).toMatchObject({ outcome: 'promoted' });
    const status = await handle.query(statusQuery);
    expect(status.timeline.find((t) => t.action === 'hook gate timed out')?.detail).toMatch(/onTimeout: continue$/);
  });

  it('a 4xx fails the hook at once (not retried) and rolls back', async () => {
    server.answer = () => ({ status: 403, body: { error: 'forbidden' } });
    const { handle } = await releases.start(oneGate('gate'), undefined, { hooks: server.config('gate') });
    const result = await handle.result();
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/^hook gate \(step 1\) failed: .*403/);
    expect(server.calls()).toEqual(['gate@step#1']);
  });

  it('a 5xx is retried within the timeout; the next answer decides', async () => {
    server.answer = (_c, n) => (n === 1 ? { status: 503, body: { error: 'starting' } } : { status: 200, body: { result: 'pass' } });
    const { handle } = await releases.start(oneGate('gate'), undefined, { hooks: server.config('gate') });
    expect(await handle.result()).toMatchObject({ outcome: 'promoted' });
    // The retry is the same use's first call again (the activity retried), then the pass.
    expect(server.calls()).toEqual(['gate@step#1', 'gate@step#1']);
  });

  it('a 5xx that lasts past the timeout rolls back with the last error', async () => {
    server.answer = () => ({ status: 502, body: { error: 'bad gateway' } });
    const { handle } = await releases.start(oneGate({ hook: 'gate', timeout: '2m' }), undefined, { hooks: server.config('gate') });
    const result = await handle.result();
    expect(result.outcome).toBe('rolled-back');
    expect(result.reason).toMatch(/^hook gate \(step 1\) gave no verdict within its timeout/);
    expect(server.calls().length).toBeGreaterThan(1);
  });
});

describe('names the worker holds', () => {
  it('a hook the worker does not hold fails the release at its start, before anything changes', async () => {
    const { handle, fake } = await releases.start({ steps, hooks: { beforeTraffic: ['smoke'] } }, undefined, { hooks: server.config('gate') });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(String((err as WorkflowFailedError).cause?.message)).toMatch(/hook "smoke" is not configured on this worker: set CANARY_HOOK_SMOKE/);
    expect(fake.calls.map((c) => c.activity).filter((a) => !['workerApproverKeys', 'workerHooks'].includes(a))).toEqual([]);
    expect(server.received).toEqual([]);
  });
});
