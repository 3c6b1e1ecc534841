/**
 * The status query's time limit on a real server: a release no worker serves never answers, and giving up must end
 * the query's gRPC call too, including a retry the connection made of it (left open, a call outlived its caller and
 * failed later on a closed channel). The calls are observed on the wire with gRPC interceptors on the connection.
 *
 * A call ends at the limit in one of two ways: our own deadline timer (DEADLINE_EXCEEDED), or the server's cancel
 * (CANCELLED, "Call cancelled"), since gRPC sends the deadline along and the server gives up at it too. Which one
 * the client reads first is a race a loaded machine decides (the full suite on 2 cores lost it now and then), so the
 * tests accept both, and one of them makes the server's cancel arrive first on purpose.
 */
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor, type ConnectionOptions } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { RELEASE_WORKFLOW } from '../../common/messages';
import { queryStatus, type ReleaseHandle } from '../../client/release-client';
import { openTimeSkippingServer } from '../support/time-skipping-server';

type GrpcInterceptor = NonNullable<ConnectionOptions['interceptors']>[number];
const QUERY = '/temporal.api.workflowservice.v1.WorkflowService/QueryWorkflow';
const CANCELLED = 1;
const DEADLINE_EXCEEDED = 4;
const UNAVAILABLE = 14;
/** How an attempt ends at the limit: our deadline timer, or the server's cancel at the same deadline. */
const AT_THE_LIMIT = [DEADLINE_EXCEEDED, CANCELLED];

/** How each attempt of a QueryWorkflow call ended (status code), as the connection's retry interceptor saw it. */
const attempts: number[] = [];
/** Waiters for a number of ended attempts. */
let attemptWaiters: { n: number; resolve: () => void }[] = [];
/** Records every attempt's final status; retries nothing itself. */
const observe: GrpcInterceptor = (options, nextCall) => {
  const method = options.method_definition.path;
  return makeGrpcRetryInterceptor({
    retryableDecider: (_attempt, status) => {
      if (method === QUERY) {
        attempts.push(status.code);
        for (const w of attemptWaiters.filter((w) => attempts.length >= w.n)) w.resolve();
        attemptWaiters = attemptWaiters.filter((w) => attempts.length < w.n);
      }
      return false;
    },
    delayFunction: () => 0,
  })(options, nextCall);
};

/**
 * What happens to the first attempt of the next query: `unavailable` fails it at once as a restarting server would
 * (UNAVAILABLE), so the connection retries it; `cancelled-early` cancels it at once (CANCELLED, long before its
 * limit); `cancelled-at-limit` has the server's cancel win the race at the limit: the attempt keeps no deadline
 * timer of its own and is cancelled as the server cancels it, just past the deadline.
 */
let nextQueryFault: 'unavailable' | 'cancelled-early' | 'cancelled-at-limit' | undefined;
const fault: GrpcInterceptor = (options, nextCall) => {
  const kind = options.method_definition.path === QUERY ? nextQueryFault : undefined;
  if (!kind) return nextCall(options) as ReturnType<GrpcInterceptor>;
  nextQueryFault = undefined;
  const deadline = options.deadline instanceof Date ? options.deadline.getTime() : Number(options.deadline);
  const call = (kind === 'cancelled-at-limit' ? nextCall({ ...options, deadline: Infinity }) : nextCall(options)) as ReturnType<GrpcInterceptor>;
  const start = call.start.bind(call);
  call.start = (metadata, listener) => {
    start(metadata, listener);
    if (kind === 'unavailable') setImmediate(() => call.cancelWithStatus(UNAVAILABLE, 'injected: server unavailable'));
    if (kind === 'cancelled-early') setImmediate(() => call.cancelWithStatus(CANCELLED, 'Call cancelled'));
    if (kind === 'cancelled-at-limit') setTimeout(() => call.cancelWithStatus(CANCELLED, 'Call cancelled'), deadline + 20 - Date.now());
  };
  return call;
};

let env: TestWorkflowEnvironment;
let connection: Connection;
let handle: ReleaseHandle;

beforeAll(async () => {
  env = await openTimeSkippingServer();
  // The SDK's own retry interceptor, as a default connection has it, with the observer and the fault inside it.
  connection = await Connection.connect({
    address: env.address,
    interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions()), observe, fault],
  });
  const client = new Client({ connection, namespace: env.namespace ?? 'default' });
  handle = (await client.workflow.start(RELEASE_WORKFLOW, {
    taskQueue: 'no-worker-polls-this',
    workflowId: 'release-unserved',
    args: [{}],
  })) as unknown as ReleaseHandle;
}, 120_000);

afterAll(async () => {
  await handle?.terminate('test over');
  await connection?.close();
  await env?.teardown();
});

beforeEach(() => {
  attempts.length = 0;
  nextQueryFault = undefined;
});

/**
 * The status codes of the query attempts once `n` of them have ended; what there is after 30 s if they never do
 * (the query has rejected by then: a missing attempt is one that was left open).
 */
async function attemptsEnded(n: number): Promise<number[]> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    new Promise<void>((resolve) => (attempts.length >= n ? resolve() : attemptWaiters.push({ n, resolve }))),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, 30_000))),
  ]);
  clearTimeout(timer);
  return [...attempts];
}

it('a status query nobody answers fails after its limit, naming it, and its gRPC call ends with it', async () => {
  const asked = Date.now();
  await expect(queryStatus(handle, 700)).rejects.toThrow('the status query got no answer in 0.7s');
  expect(Date.now() - asked).toBeLessThan(10_000);
  const [only, ...more] = await attemptsEnded(1);
  expect(AT_THE_LIMIT).toContain(only);
  expect(more).toEqual([]);
}, 60_000);

it('a query the connection retried (the server was unavailable) ends at the same limit, the retry with it', async () => {
  nextQueryFault = 'unavailable';
  await expect(queryStatus(handle, 1_500)).rejects.toThrow('the status query got no answer in 1.5s');
  const [first, retry, ...more] = await attemptsEnded(2);
  expect(first).toBe(UNAVAILABLE);
  expect(AT_THE_LIMIT).toContain(retry);
  expect(more).toEqual([]);
}, 60_000);

it('a query the server cancelled at the limit, read before our own deadline fired, names the same limit', async () => {
  nextQueryFault = 'cancelled-at-limit';
  await expect(queryStatus(handle, 700)).rejects.toThrow('the status query got no answer in 0.7s');
  expect(await attemptsEnded(1)).toEqual([CANCELLED]);
}, 60_000);

it('a query cancelled long before its limit is not reported as the limit', async () => {
  nextQueryFault = 'cancelled-early';
  const err = await queryStatus(handle, 30_000).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  expect((err as Error).message).not.toMatch(/no answer/);
  expect(await attemptsEnded(1)).toEqual([CANCELLED]);
}, 60_000);
