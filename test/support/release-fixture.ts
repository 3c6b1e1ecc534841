/**
 * Building blocks for release tests against the shared dev server and moto: a seeded service, a spec with
 * short durations, a worker, metric publishing, and readers of the real AWS state.
 */
import type { Client, Connection, WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities';
import { motoClients, type AwsClients } from '../../activities/aws-clients';
import type { ReleaseSpecInput } from '../../common/spec';
import type { ReleaseStatus } from '../../common/status';
import { handFedErrorRateTemplate } from '../../dev/aws-state';
import { tagCaller, workerCaller } from '../../dev/iam-check';
import { seedAlb, type SeededAlb, type SeedOptions } from '../../dev/seed';
import { statusQuery } from '../../common/messages';
import { testAws, testClient, testStack, testWorker, uniqueName } from './env';

export {
  dimensionOf,
  errorRateTemplate,
  forwardActions,
  handFedErrorRateTemplate,
  publishAfterTraffic,
  publishTraffic,
  targetGroupsOf,
} from '../../dev/aws-state';

/** The environment of {@link testSpec}: one canary target, test-sized health timeout, settle and drain cap. */
export const testEnvironment = { canaryTargets: [{ id: '10.0.0.21', port: 8080 }], healthyTimeout: '30s', settle: '200ms', drainCap: '1s' };

/** A spec for a seeded service with test-sized durations; override any top-level field. */
export function testSpec(seeded: SeededAlb, service: string, overrides: Partial<Record<keyof ReleaseSpecInput, unknown>> = {}): Record<string, unknown> {
  return {
    apiVersion: 'canary/v1',
    service,
    version: 'v2',
    region: 'us-east-1',
    initiator: 'ci-bot',
    traffic: seeded.ruleArn ? { listenerArn: seeded.listenerArn, ruleArn: seeded.ruleArn } : { listenerArn: seeded.listenerArn },
    environment: testEnvironment,
    steps: [{ setWeight: 20 }, { setWeight: 50 }, { setWeight: 100 }],
    analysis: { errors: handFedErrorRateTemplate() },
    promotion: { keepPreviousFor: '1s' },
    rollback: { retryInterval: '1s' },
    ...overrides,
  };
}

export async function seedService(aws: AwsClients, prefix: string, opts: Partial<SeedOptions> = {}): Promise<{ service: string; seeded: SeededAlb }> {
  const service = uniqueName(prefix).slice(0, 20).replace(/-+$/, '');
  return { service, seeded: await seedAlb(aws, { name: service, ...opts }) };
}

/**
 * One worker for a test file, on its own task queue, with activities over the same AWS endpoint as `aws` (the realism
 * layer in front of moto) through clients of its own, tagged as the worker so the proxy can tell its calls from the
 * test's seeding and checks (the IAM policy check reads them).
 */
export async function startTestWorker(
  aws: AwsClients,
  webhooks?: Record<string, string>,
  deps: Pick<ActivityDeps, 'hooks' | 'ownershipTags' | 'sources'> = {},
): Promise<{ taskQueue: string; stop(): Promise<void>; worker: Worker; aws: AwsClients }> {
  const taskQueue = uniqueName('tq');
  const workerAws = tagCaller(motoClients(aws.config.endpoint ?? '', aws.config.region), workerCaller);
  const { worker, connection }: { worker: Worker; connection: NativeConnection } = await testWorker({
    taskQueue,
    // The stack's AWS time runs `timeScale` times faster: the health wait asks at its health checks' pace.
    activities: createActivities({ ...workerAws, webhooks, timeScale: testStack.timeScale, ...deps }),
  });
  const running = worker.run();
  return {
    taskQueue,
    worker,
    aws: workerAws,
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
      workerAws.destroy();
    },
  };
}

/**
 * The usual setup of a release test file: AWS clients for moto, a Temporal client, and a worker on its own task
 * queue, opened before the file's tests and closed after them. Read the fields inside tests, not at load time.
 */
export function releaseTestEnvironment(): {
  readonly aws: AwsClients;
  readonly client: Client;
  readonly taskQueue: string;
  /** The worker's own clients (their pool holds the clients of each release's scope). */
  readonly workerAws: AwsClients;
} {
  const aws = testAws();
  let client: Client | undefined;
  let connection: Connection | undefined;
  let worker: Awaited<ReturnType<typeof startTestWorker>> | undefined;
  beforeAll(async () => {
    ({ client, connection } = await testClient());
    worker = await startTestWorker(aws);
  });
  afterAll(async () => {
    await worker?.stop();
    await connection?.close();
    aws.destroy();
  });
  const ready = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`${what} is opened in beforeAll: read it inside a test`);
    return v;
  };
  return {
    aws,
    get client() {
      return ready(client, 'the Temporal client');
    },
    get taskQueue() {
      return ready(worker, 'the worker').taskQueue;
    },
    get workerAws() {
      return ready(worker, 'the worker').aws;
    },
  };
}

/** Polls the status query until `pred` holds; fails with the last status seen. */
export async function waitForStatus(handle: WorkflowHandle, pred: (s: ReleaseStatus) => boolean, timeoutMs = 60_000): Promise<ReleaseStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: ReleaseStatus | undefined;
  while (Date.now() < deadline) {
    last = await handle.query(statusQuery).catch(() => undefined);
    if (last && pred(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    `status condition not met in ${timeoutMs} ms; last status: ${JSON.stringify(last && { phase: last.phase, step: last.step, gate: last.gate, timeline: last.timeline.slice(-5) })}`,
  );
}

/** The history of a workflow run: event count and event types. */
export async function historyOf(client: Client, workflowId: string, runId?: string): Promise<{ count: number; types: string[] }> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const events = history.events ?? [];
  return { count: events.length, types: events.map((e) => temporal.api.enums.v1.EventType[e.eventType ?? 0] ?? String(e.eventType)) };
}
