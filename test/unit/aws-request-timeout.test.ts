/**
 * Every AWS call has an end: an endpoint that accepts the connection and never answers (a proxy, a firewall that holds
 * it) fails the call with a TimeoutError at the request timeout. The SDK's own default is no timeout at all, which
 * held `canary doctor` or `canary start` forever on such a network.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DescribeLoadBalancersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { REQUEST_TIMEOUT_MS, AwsConfigSchema, createAwsClients } from '../../activities/aws-clients';

let server: http.Server;
let endpoint: string;
const held: http.ServerResponse[] = [];

beforeAll(async () => {
  // Reads the request, then says nothing.
  server = http.createServer((_req, res) => void held.push(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** The call's outcome: 'answered', the error's name, or that it was still waiting when the test stopped looking. */
function outcome(call: Promise<unknown>, lookMs: number): Promise<string> {
  return Promise.race([
    call.then(
      () => 'answered',
      (err: Error) => err.name,
    ),
    new Promise<string>((resolve) => setTimeout(() => resolve(`still waiting after ${lookMs} ms`), lookMs).unref()),
  ]);
}

it('ends a call to an endpoint that never answers at the request timeout, with a TimeoutError', async () => {
  const aws = createAwsClients({ region: 'us-east-1', endpoint, accessKeyId: 'k', secretAccessKey: 's', maxAttempts: 1, requestTimeoutMs: 300 });
  try {
    const before = held.length;
    expect(await outcome(aws.elbv2.send(new DescribeLoadBalancersCommand({})), 20_000)).toBe('TimeoutError');
    // It reached the server: the request was sent, and no answer came.
    expect(held.length).toBe(before + 1);
  } finally {
    aws.destroy();
  }
});

it('has a request timeout without being given one: 60 s, connecting at most 10 s of it', async () => {
  const aws = createAwsClients({ region: 'us-east-1', endpoint, accessKeyId: 'k', secretAccessKey: 's', maxAttempts: 1 });
  try {
    // The handler reads its options on its first request; this one is let go after 200 ms.
    expect(await outcome(aws.elbv2.send(new DescribeLoadBalancersCommand({}), { abortSignal: AbortSignal.timeout(200) }), 20_000)).toMatch(/Abort|Timeout/);
    const handler = aws.elbv2.config.requestHandler as unknown as { httpHandlerConfigs(): Record<string, unknown> };
    expect(handler.httpHandlerConfigs()).toMatchObject({ requestTimeout: REQUEST_TIMEOUT_MS, connectionTimeout: 10_000, throwOnRequestTimeout: true });
    expect(REQUEST_TIMEOUT_MS).toBe(60_000);
  } finally {
    aws.destroy();
  }
});

it('refuses a request timeout that is no number of milliseconds, naming the field', () => {
  const parsed = AwsConfigSchema.safeParse({ region: 'us-east-1', requestTimeoutMs: 0 });
  expect(parsed.success).toBe(false);
  expect(parsed.error?.issues[0]?.path).toEqual(['requestTimeoutMs']);
});
