/**
 * ELB's account-level API limits in the local stack (dev/fault-proxy.ts `limits`): a token bucket per account and
 * region, as the ELB user guide describes (`Describe*`: 40 at once, 10 per second). Requests over it get
 * `Throttling` / `Rate exceeded`, which the SDK reads as a throttling error; mutations and other accounts are not
 * charged to the bucket. Small numbers here; the scale bench runs with the documented ones.
 */
import { DeleteTargetGroupCommand, DescribeLoadBalancersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { isThrottlingError } from '@smithy/core/retry';
import { createAwsClients, motoClients, type AwsClients } from '../../activities/aws-clients';
import { ELB_DESCRIBE_LIMIT, formatFaultStats, startFaultProxy, type FaultProxy } from '../../dev/fault-proxy';
import { answerDescribeLoadBalancers } from '../support/elb-answers';
import { testStack } from '../support/env';

const CAPACITY = 5;
const REFILL = 2;

let proxy: FaultProxy;
let account: AwsClients;
let other: AwsClients;
/**
 * The buckets' clock, held still while a burst is counted: requests of one burst reach the proxy over however long
 * the machine takes, and a bucket would refill meanwhile.
 */
let clockMs = Date.now();

beforeAll(async () => {
  proxy = await startFaultProxy({
    target: testStack.motoEndpoint,
    limits: [{ ...ELB_DESCRIBE_LIMIT, capacity: CAPACITY, refillPerSecond: REFILL }],
    now: () => clockMs,
    // The proxy answers the describes itself (after the limit), so moto's latency does not blur the bucket's timing.
    respond: answerDescribeLoadBalancers,
  });
  account = motoClients(proxy.endpoint);
  other = createAwsClients({ region: 'us-east-1', endpoint: proxy.endpoint, accessKeyId: 'other', secretAccessKey: 'other', maxAttempts: 1 });
});

afterAll(async () => {
  account?.destroy();
  other?.destroy();
  await proxy?.stop();
});

/** How many of `n` concurrent DescribeLoadBalancers calls succeed; every failure must be a throttling error. */
async function describes(clients: AwsClients, n: number): Promise<number> {
  const outcomes = await Promise.all(
    Array.from({ length: n }, () =>
      clients.elbv2.send(new DescribeLoadBalancersCommand({})).then(
        () => 'ok',
        (err: unknown) => {
          if (!isThrottlingError(err as Parameters<typeof isThrottlingError>[0])) throw err;
          expect((err as Error).message).toBe('Rate exceeded');
          return 'throttled';
        },
      ),
    ),
  );
  return outcomes.filter((o) => o === 'ok').length;
}

it('throttles Describe calls beyond the bucket, per account, and refills it over time', async () => {
  expect(ELB_DESCRIBE_LIMIT).toMatchObject({ capacity: 40, refillPerSecond: 10 });
  expect(await describes(account, CAPACITY + 3)).toBe(CAPACITY);
  // Another account has its own bucket; a mutation draws on none of them.
  expect(await describes(other, 1)).toBe(1);
  const deleted = await account.elbv2
    .send(new DeleteTargetGroupCommand({ TargetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/none/0123456789abcdef' }))
    .then(
      () => 'answered',
      (err: Error) => (isThrottlingError(err as Parameters<typeof isThrottlingError>[0]) ? 'throttled' : 'answered'),
    );
  expect(deleted).toBe('answered');

  // A second later, REFILL tokens are back; after ten, the bucket is full again, and no fuller.
  clockMs += 1_000;
  expect(await describes(account, 8)).toBe(REFILL);
  clockMs += 10_000;
  expect(await describes(account, 8)).toBe(CAPACITY);
  const s = proxy.stats();
  expect(s.limited.DescribeLoadBalancers).toBe(3 + (8 - REFILL) + (8 - CAPACITY));
  expect(s.faults).toMatchObject({ throttle: 0 });
  expect(formatFaultStats(s)).toContain(`over the account's limit: ${3 + (8 - REFILL) + (8 - CAPACITY)}`);
});

it("keeps a worker's clients under ELB's documented limit when they pace themselves (CANARY_ELB_DESCRIBE_RATE)", async () => {
  // ELB's own numbers this time, and more calls at once than its bucket holds.
  // The clock stands still for the unpaced burst and runs for the paced calls.
  let heldMs: number | undefined = Date.now();
  const elb = await startFaultProxy({
    target: testStack.motoEndpoint,
    limits: [ELB_DESCRIBE_LIMIT],
    now: () => heldMs ?? Date.now(),
    respond: answerDescribeLoadBalancers,
  });
  const calls = 60;
  const unpaced = createAwsClients({ region: 'us-east-1', endpoint: elb.endpoint, accessKeyId: 'a', secretAccessKey: 'a', maxAttempts: 1 });
  const paced = createAwsClients({ region: 'us-east-1', endpoint: elb.endpoint, accessKeyId: 'b', secretAccessKey: 'b', maxAttempts: 1, elbDescribeRate: 8 });
  try {
    // Not paced: what the bucket holds goes through, the rest is throttled.
    const through = await describes(unpaced, calls);
    expect(through).toBe(ELB_DESCRIBE_LIMIT.capacity);
    expect(elb.stats().limited.DescribeLoadBalancers).toBe(calls - through);
    heldMs = undefined;

    // Paced at 8 per second, bursting to 16: every call goes, none is throttled, and it takes the pace's time.
    const t0 = Date.now();
    expect(await describes(paced, calls)).toBe(calls);
    expect(elb.stats().limited.DescribeLoadBalancers).toBe(calls - through);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(((calls - 16) / 8) * 1000 - 250);
  } finally {
    unpaced.destroy();
    paced.destroy();
    await elb.stop();
  }
});
