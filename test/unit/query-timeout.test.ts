/**
 * The status query's time limit on a real server: a release no worker serves never answers, and giving up must end
 * the query's gRPC call too (left open, it outlived its caller and failed later on a closed channel). The calls are
 * observed on the wire with a gRPC interceptor on the client's connection.
 */
import { Client, Connection, makeGrpcRetryInterceptor, type ConnectionOptions } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { RELEASE_WORKFLOW } from '../../common/messages';
import { queryStatus, type ReleaseHandle } from '../../client/release-client';
import { openTimeSkippingServer } from '../support/time-skipping-server';

type GrpcInterceptor = NonNullable<ConnectionOptions['interceptors']>[number];
/** How each gRPC call of the connection ended: its method and status code (0 OK, 1 CANCELLED). */
const ended: { method: string; code: number }[] = [];
/** Records every call's final status and retries nothing. */
const observe: GrpcInterceptor = (options, nextCall) => {
  const method = options.method_definition.path;
  return makeGrpcRetryInterceptor({
    retryableDecider: (_attempt, status) => {
      ended.push({ method, code: status.code });
      return false;
    },
    delayFunction: () => 0,
  })(options, nextCall);
};

let env: TestWorkflowEnvironment;
let connection: Connection;
let client: Client;

beforeAll(async () => {
  env = await openTimeSkippingServer();
  connection = await Connection.connect({ address: env.address, interceptors: [observe] });
  client = new Client({ connection, namespace: env.namespace ?? 'default' });
}, 120_000);

afterAll(async () => {
  await connection?.close();
  await env?.teardown();
});

const queryEnds = (): { method: string; code: number }[] => ended.filter((e) => e.method.endsWith('/QueryWorkflow'));

it('a status query nobody answers fails after its limit, naming it, and its gRPC call is cancelled with it', async () => {
  const handle = (await client.workflow.start(RELEASE_WORKFLOW, {
    taskQueue: 'no-worker-polls-this',
    workflowId: 'release-unserved',
    args: [{}],
  })) as unknown as ReleaseHandle & { client: Client['workflow'] };
  expect(handle.client).toBeDefined();
  const asked = Date.now();
  await expect(queryStatus(handle as ReleaseHandle, 700)).rejects.toThrow('the status query got no answer in 0.7s');
  expect(Date.now() - asked).toBeLessThan(10_000);
  // The call itself ended (cancelled by the client), not only the caller's wait.
  const deadline = Date.now() + 5_000;
  while (queryEnds().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(queryEnds()).toEqual([{ method: '/temporal.api.workflowservice.v1.WorkflowService/QueryWorkflow', code: 1 }]);
  await handle.terminate('test over');
}, 60_000);
