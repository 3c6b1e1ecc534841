/**
 * The time-skipping test server without jest: opening it with the release's search attributes, and its clock for the
 * fake's background batches. Shared by test/support/time-skipping.ts and the bench's long-bake part.
 */
import * as path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { releaseSearchAttributes } from '../../common/search-attributes';
import type { ServerClock } from './fake-alb';

/** The pinned test server (scripts/setup.sh installs it); CANARY_TEST_SERVER overrides it. */
export const TEST_SERVER_PATH = process.env.CANARY_TEST_SERVER ?? path.resolve(__dirname, '..', '..', '.venv', 'bin', 'temporal-test-server');

/** Starts the pinned time-skipping server and registers the release's search attributes on it. */
export async function openTimeSkippingServer(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: TEST_SERVER_PATH } } });
  await registerSearchAttributes(env);
  return env;
}

const indexedValueType = {
  KEYWORD: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  INT: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
} as const;

/**
 * The Java test server refuses a workflow task that upserts an unknown search attribute
 * ("BadSearchAttributes: search attribute ReleaseService is not defined") and the task is retried for ever, so the
 * release's attributes are registered through the OperatorService, as `temporal operator search-attribute create`
 * does on the dev server. (TimeSkippingServerConfig has no `searchAttributes` option, unlike DevServerConfig.)
 */
export async function registerSearchAttributes(env: TestWorkflowEnvironment): Promise<void> {
  const searchAttributes: Record<string, temporal.api.enums.v1.IndexedValueType> = {};
  for (const key of releaseSearchAttributes) {
    const type = indexedValueType[key.type as keyof typeof indexedValueType];
    if (type === undefined) throw new Error(`search attribute ${key.name} has type ${key.type}; add it to indexedValueType`);
    searchAttributes[key.name] = type;
  }
  await env.connection.operatorService.addSearchAttributes({ namespace: env.namespace ?? 'default', searchAttributes });
}

/** gRPC status NOT_FOUND: the test server's answer to a heartbeat of an activity whose run has closed. */
const GRPC_NOT_FOUND = 5;

/** The test server's clock for a fake's background batches (FakeAlb.clock). */
export function serverClock(env: TestWorkflowEnvironment): ServerClock {
  const testService = env.connection.testService;
  return {
    sleep: (ms) => env.sleep(ms),
    async heartbeat(taskToken) {
      try {
        const r = await env.client.workflowService.recordActivityTaskHeartbeat({ namespace: env.namespace ?? 'default', taskToken, identity: 'fake-alb' });
        return r.cancelRequested ? 'cancel' : 'ok';
      } catch (err) {
        if ((err as { code?: number }).code === GRPC_NOT_FOUND) return 'closed';
        throw err;
      }
    },
    async unlock() {
      if (!testService) throw new Error('the time-skipping environment has no TestService');
      await testService.unlockTimeSkipping({});
    },
  };
}
