/**
 * Once per `jest` run with integration tests: start the local stack and bundle the workflow code.
 * Test files read where things are from CANARY_TEST_* variables (see ./env.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startLocalStack, type LocalStack } from '../../dev/stack';
import { WORKFLOW_INTERCEPTOR_MODULES } from '../../worker/build-bundle';

declare global {
  var __canaryStack: LocalStack | undefined;
}

export default async function globalSetup(): Promise<void> {
  const t0 = Date.now();
  const [stack, bundle] = await Promise.all([
    // With the Temporal UI (served by the dev server itself, on a free port): test/integration/temporal-ui.test.ts drives it.
    startLocalStack({ label: 'test', ui: true }),
    // With the worker's workflow interceptors, as a prebuilt bundle has them (worker/build-bundle.ts).
    bundleWorkflowCode({
      workflowsPath: require.resolve('./workflows'),
      workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES.map((m) => require.resolve(m)),
      logger: quietLogger,
    }),
  ]);
  globalThis.__canaryStack = stack;
  const bundlePath = path.join(stack.logDir, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, bundle.code);
  process.env.CANARY_TEST_TEMPORAL_ADDRESS = stack.temporal.address;
  process.env.CANARY_TEST_TEMPORAL_UI = stack.temporal.uiUrl ?? '';
  process.env.CANARY_TEST_MOTO_ENDPOINT = stack.moto.endpoint;
  // The proxy in front of moto, with the realism layer unless CANARY_REALISM=off; every test's AWS calls go here.
  process.env.CANARY_TEST_AWS_ENDPOINT = stack.awsEndpoint;
  process.env.CANARY_TEST_TIME_SCALE = String(stack.timeScale);
  process.env.CANARY_TEST_BUNDLE = bundlePath;
  process.env.CANARY_TEST_LOG_DIR = stack.logDir;
  // A process a test starts from the sources through ts-node (the demo command, test/integration/worker.test.ts)
  // transpiles with SWC rather than TypeScript: the same tsconfig, a quarter of the CPU to start. The worker and CLI
  // processes most tests start load the sources through ./swc-register.js, which also skips loading TypeScript.
  process.env.TS_NODE_PROJECT = path.join(__dirname, 'tsconfig.swc.json');
  // The SDK's Node 20 end-of-support notice is true but repeats in every test worker; the worker itself still prints it.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  process.stdout.write(
    `\n[local stack] temporal ${stack.temporal.address} (UI ${stack.temporal.uiUrl ?? 'off'}), moto ${stack.moto.endpoint}, ` +
      `${stack.realism ? `ALB realism layer ${stack.awsEndpoint} (time scale ${stack.timeScale})` : `proxy ${stack.awsEndpoint}, realism layer off`}, logs ${stack.logDir} (${Date.now() - t0} ms)\n`,
  );
}

const noop = (): void => undefined;
const quietLogger = {
  log: noop,
  trace: noop,
  debug: noop,
  info: noop,
  warn: (message: string) => process.stderr.write(`[bundler] ${message}\n`),
  error: (message: string) => process.stderr.write(`[bundler] ${message}\n`),
};
