/**
 * The worker's own pacing of ELB Describe calls (activities/api-pacer.ts): a token bucket per account and region
 * whose queue serves the oldest activity first and refuses, at once, a call that could not go before its deadline.
 * A hand-driven clock here; test/integration/api-limits.test.ts runs it against ELB's documented limit.
 */
import { DescribeLoadBalancersCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { ApplicationFailure } from '@temporalio/common';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { MockActivityEnvironment } from '@temporalio/testing';
import { callerRequest, DescribeBudget, DescribeBudgets, PacedOut, paceDescribes, roleAccount } from '../../activities/api-pacer';
import { aws } from '../../activities/errors';
import { NO_LOAD_BALANCERS } from '../support/elb-answers';

let now = 1_000_000;
const clock = () => now;

beforeEach(() => {
  jest.useFakeTimers({ now });
});
afterEach(() => {
  jest.useRealTimers();
});

/** Moves the hand clock and the timers together. */
async function advance(ms: number): Promise<void> {
  now += ms;
  await jest.advanceTimersByTimeAsync(ms);
}

function track(p: Promise<void>): { state: 'waiting' | 'sent' | PacedOut } {
  const t: { state: 'waiting' | 'sent' | PacedOut } = { state: 'waiting' };
  p.then(
    () => (t.state = 'sent'),
    (err: PacedOut) => (t.state = err),
  );
  return t;
}

it('sends a burst at once, then one call per refill, in order of the activity that asked first', async () => {
  const budget = new DescribeBudget('account worker in us-east-1', { perSecond: 2, burst: 3, now: clock });
  const far = now + 60_000;
  const burst = [1, 2, 3].map(() => track(budget.take({ priority: 0, deadline: far })));
  await advance(0);
  expect(burst.map((t) => t.state)).toEqual(['sent', 'sent', 'sent']);

  // A newer activity asks first, an older one after: the older one goes first.
  const newer = track(budget.take({ priority: 200, deadline: far }));
  const older = track(budget.take({ priority: 100, deadline: far }));
  await advance(499);
  expect([older.state, newer.state]).toEqual(['waiting', 'waiting']);
  await advance(2);
  expect([older.state, newer.state]).toEqual(['sent', 'waiting']);
  await advance(500);
  expect(newer.state).toBe('sent');
  expect(budget.stats).toEqual({ immediate: 3, waited: 2, refused: 0 });
  expect(budget.queued).toBe(0);
});

it('refuses a call that would wait past its deadline, saying how long it would have waited', async () => {
  const budget = new DescribeBudget('account 123456789012 in eu-west-1', { perSecond: 1, burst: 1, now: clock });
  expect(track(budget.take({ priority: 0, deadline: now })).state).toBe('waiting'); // resolved on the next tick
  await advance(0);
  const first = track(budget.take({ priority: 1, deadline: now + 10_000 })); // next token in 1 s
  const late = track(budget.take({ priority: 2, deadline: now + 1_500 })); // would wait 2 s
  await advance(0);
  expect(late.state).toBeInstanceOf(PacedOut);
  const refused = late.state as PacedOut;
  expect(refused.waitMs).toBe(2_000);
  expect(refused.message).toMatch(/account 123456789012 in eu-west-1 are paced at 1\/s .* would wait 2\.0 s/);
  expect(first.state).toBe('waiting');
  await advance(1_000);
  expect(first.state).toBe('sent');

  // An older activity's call jumps the queue; whoever it pushes past their deadline is refused then, not later.
  const young = track(budget.take({ priority: 50, deadline: now + 1_200 }));
  await advance(0);
  expect(young.state).toBe('waiting');
  const old = track(budget.take({ priority: 5, deadline: now + 60_000 }));
  await advance(0);
  expect(young.state).toBeInstanceOf(PacedOut);
  await advance(1_000);
  expect(old.state).toBe('sent');
  expect(budget.stats.refused).toBe(2);
});

it('serves an activity part-way through its calls before any that has not begun, however old', async () => {
  const budget = new DescribeBudget('account worker in us-east-1', { perSecond: 1, burst: 1, now: clock });
  await budget.take({ priority: 0, deadline: now });
  const far = now + 60_000;
  const oldNotBegun = track(budget.take({ priority: 10, deadline: far }));
  const youngUnderway = track(budget.take({ priority: 500, deadline: far, underway: true }));
  await advance(1_000);
  expect([youngUnderway.state, oldNotBegun.state]).toEqual(['sent', 'waiting']);
  await advance(1_000);
  expect(oldNotBegun.state).toBe('sent');
});

it('keeps a process alive while a call waits for its token', () => {
  jest.useRealTimers();
  // A script whose only work is a second call on a budget of one per second: it must print after the wait.
  const script = [
    "require('ts-node/register/transpile-only');",
    `const { DescribeBudget } = require(${JSON.stringify(path.join(__dirname, '../../activities/api-pacer.ts'))});`,
    "const b = new DescribeBudget('account worker in us-east-1', { perSecond: 4, burst: 1 });",
    "b.take({ priority: 0, deadline: Date.now() + 10000 }).then(() => b.take({ priority: 0, deadline: Date.now() + 10000 })).then(() => console.log('sent'));",
  ].join('\n');
  const out = spawnSync(process.execPath, ['-e', script], { cwd: path.join(__dirname, '../..'), encoding: 'utf8', timeout: 30_000 });
  expect(out.stdout.trim()).toBe('sent');
});

it('keeps one budget per account and region', () => {
  const budgets = new DescribeBudgets({ perSecond: 8, burst: 16 });
  expect(budgets.for('worker', 'us-east-1')).toBe(budgets.for('worker', 'us-east-1'));
  expect(budgets.for('worker', 'eu-west-1')).not.toBe(budgets.for('worker', 'us-east-1'));
  expect(roleAccount('arn:aws:iam::123456789012:role/canary')).toBe('123456789012');
  expect(roleAccount('arn:aws-us-gov:iam::210987654321:role/x')).toBe('210987654321');
  expect(roleAccount(undefined)).toBeUndefined();
});

describe('inside an activity', () => {
  it("takes its place from the activity's first schedule and its deadline from the tightest limit", async () => {
    const env = new MockActivityEnvironment({
      scheduledTimestampMs: now - 60_000,
      currentAttemptScheduledTimestampMs: now - 1_000,
      startToCloseTimeoutMs: 15_000,
      scheduleToCloseTimeoutMs: 180_000,
      heartbeatTimeoutMs: undefined,
    });
    const req = await env.run(async () => callerRequest(now));
    // Started no earlier than its attempt was scheduled: 15 s from then, less 2 s for the call itself.
    expect(req).toMatchObject({ priority: now - 60_000, deadline: now - 1_000 + 15_000 - 2_000, underway: false });

    const beating = new MockActivityEnvironment({
      scheduledTimestampMs: now,
      currentAttemptScheduledTimestampMs: now,
      startToCloseTimeoutMs: 300_000,
      scheduleToCloseTimeoutMs: 0,
      heartbeatTimeoutMs: 30_000,
    });
    // A call waiting for a token does not heartbeat: half the heartbeat timeout at most.
    expect(((await beating.run(async () => callerRequest(now))) as { deadline: number }).deadline).toBe(now + 15_000 - 2_000);
    // Outside an activity: 30 s.
    expect(callerRequest(now)).toEqual({ priority: now, deadline: now + 30_000 });
  });

  it('marks an activity attempt underway once it has had a token (its next calls go first), and only that attempt', async () => {
    const client = new ElasticLoadBalancingV2Client({
      region: 'us-east-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
      requestHandler: {
        handle: async () => ({
          response: { statusCode: 200, headers: { 'content-type': 'text/xml' }, body: Readable.from([NO_LOAD_BALANCERS]) },
        }),
      },
    });
    const budget = new DescribeBudget('account worker in us-east-1', { perSecond: 100, burst: 100 });
    paceDescribes(client, budget);
    const attempt = { scheduledTimestampMs: now, currentAttemptScheduledTimestampMs: now, startToCloseTimeoutMs: 15_000 };
    jest.useRealTimers();
    try {
      const seen = await new MockActivityEnvironment(attempt).run(async () => {
        const before = callerRequest().underway;
        await client.send(new DescribeLoadBalancersCommand({}));
        return [before, callerRequest().underway];
      });
      expect(seen).toEqual([false, true]);
      expect(budget.stats.immediate).toBe(1);
      // Another attempt (a retry is a new context) has not begun.
      expect(await new MockActivityEnvironment(attempt).run(async () => callerRequest().underway)).toBe(false);
    } finally {
      client.destroy();
    }
  });

  it('turns a refused call into a retryable failure that asks to be retried when a call would have gone', async () => {
    const err = await aws('DescribeRules', () => Promise.reject(new PacedOut(4_200, 'account worker in us-east-1', 8))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    const failure = err as ApplicationFailure;
    expect(failure.type).toBe('PacedOut');
    expect(failure.nonRetryable).toBe(false);
    expect(failure.nextRetryDelay).toBe(4_200);
    expect(failure.message).toMatch(/^DescribeRules: ELB Describe calls for account worker in us-east-1 are paced at 8\/s \(CANARY_ELB_DESCRIBE_RATE\)/);
  });
});
