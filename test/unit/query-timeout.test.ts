/**
 * The status query's time limit on a real server: a release no worker serves never answers, and giving up must end
 * the query's gRPC call too, including a retry the connection made of it (left open, a call outlived its caller and
 * failed later on a closed channel). The calls are observed on the wire with gRPC interceptors on the connection.
 */
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor, type ConnectionOptions } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { RELEASE_WORKFLOW } from '../../common/messages';
import { queryStatus, type ReleaseHandle } from '../../client/release-client';
import { openTimeSkippingServer } from '../support/time-skipping-server';

type GrpcInterceptor = NonNullable<ConnectionOptions['interceptors']>[number];
const QUERY = '/temporal.api.workflowservice.v1.WorkflowService/QueryWorkflow';
const UNAVAILABLE = 14;
const DEADLINE_EXCEEDED = 4;

/** How each attempt of a QueryWorkflow call ended (status code), as the connection's retry interceptor saw it. */
const attempts: number[] = [];
/** Records every attempt's final status; retries nothing itself. */
const observe: GrpcInterceptor = (options, nextCall) => {
  const method = options.method_definition.path;
  return makeGrpcRetryInterceptor({
    retryableDecider: (_attempt, status) => {
      if (method === QUERY) attempts.push(status.code);
      return false;
    },
    delayFunction: () => 0,
  })(options, nextCall);
};

/** Fails the first attempt of the next query as a restarting server would (UNAVAILABLE), so the connection retries it. */
let failNextQuery = false;
const unavailableOnce: GrpcInterceptor = (options, nextCall) => {
  const call = nextCall(options) as ReturnType<GrpcInterceptor>;
  if (options.method_definition.path !== QUERY || !failNextQuery) return call;
  failNextQuery = false;
  const start = call.start.bind(call);
  call.start = (metadata, listener) => {
    start(metadata, listener);
    setImmediate(() => call.cancelWithStatus(UNAVAILABLE, 'injected: server unavailable'));
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
    interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions()), observe, unavailableOnce],
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

beforeEach(() => (attempts.length = 0));

/** Waits until `n` query attempts have ended (or 5 s). */
async function attemptsEnded(n: number): Promise<number[]> {
  const until = Date.now() + 5_000;
  while (attempts.length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  return attempts;
}

it('a status query nobody answers fails after its limit, naming it, and its gRPC call ends with it', async () => {
  const asked = Date.now();
  await expect(queryStatus(handle, 700)).rejects.toThrow('the status query got no answer in 0.7s');
  expect(Date.now() - asked).toBeLessThan(10_000);
  expect(await attemptsEnded(1)).toEqual([DEADLINE_EXCEEDED]);
}, 60_000);

it('a query the connection retried (the server was unavailable) ends at the same limit, the retry with it', async () => {
  failNextQuery = true;
  await expect(queryStatus(handle, 1_500)).rejects.toThrow('the status query got no answer in 1.5s');
  expect(await attemptsEnded(2)).toEqual([UNAVAILABLE, DEADLINE_EXCEEDED]);
}, 60_000);
