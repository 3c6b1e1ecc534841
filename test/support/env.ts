/** Where the shared local stack is, for integration tests (set by ./global-setup.ts). */
import { Client, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { motoClients, type AwsClients } from '../../activities/aws-clients';

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run integration tests through jest (test/support/global-setup.ts)`);
  return v;
}

export const testStack = {
  get temporalAddress(): string {
    return need('CANARY_TEST_TEMPORAL_ADDRESS');
  },
  /** The Temporal UI of the test server (`http://127.0.0.1:PORT`). */
  get temporalUiUrl(): string {
    return need('CANARY_TEST_TEMPORAL_UI');
  },
  /** moto itself, bypassing the realism layer: only for tests that compare with plain moto. */
  get motoEndpoint(): string {
    return need('CANARY_TEST_MOTO_ENDPOINT');
  },
  /** Where every AWS client of the tests goes: the stack's proxy in front of moto, with the ALB realism layer unless CANARY_REALISM=off. */
  get awsEndpoint(): string {
    return need('CANARY_TEST_AWS_ENDPOINT');
  },
  /** Simulated AWS seconds per real second of the realism layer. */
  get timeScale(): number {
    return Number(need('CANARY_TEST_TIME_SCALE'));
  },
  get bundlePath(): string {
    return need('CANARY_TEST_BUNDLE');
  },
};

/** A unique suffix for task queues, workflow ids and AWS resource names of one test. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`.slice(0, 28);
}

export async function testClient(): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: testStack.temporalAddress });
  return { client: new Client({ connection }), connection };
}

export function testAws(): AwsClients {
  return motoClients(testStack.awsEndpoint);
}

/** A worker on the shared dev server running the prebuilt test bundle. */
export async function testWorker(
  opts: Omit<WorkerOptions, 'connection' | 'workflowBundle' | 'workflowsPath'>,
): Promise<{ worker: Worker; connection: NativeConnection }> {
  const connection = await NativeConnection.connect({ address: testStack.temporalAddress });
  const worker = await Worker.create({ connection, workflowBundle: { codePath: testStack.bundlePath }, ...opts });
  return { worker, connection };
}

// Workers log at WARN in tests; the Runtime is per process and installed once.
try {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Runtime, DefaultLogger } = require('@temporalio/worker') as typeof import('@temporalio/worker');
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // already installed by another test file in this jest worker
}

/** Registers a namespace as an existing cluster has it: without the release search attributes. */
export async function bareNamespace(connection: Connection, name: string): Promise<void> {
  await connection.workflowService.registerNamespace({ namespace: name, workflowExecutionRetentionPeriod: msToTs('1 day') });
}

/** Waits until a freshly registered namespace answers (the frontend caches namespaces for a few seconds). */
export async function namespaceAnswers(connection: Connection, name: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await connection.workflowService
      .listWorkflowExecutions({ namespace: name, pageSize: 1 })
      .then(() => true)
      .catch(() => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`namespace ${name} did not become usable within 60 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
