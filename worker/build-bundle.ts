/**
 * Bundles the workflow code ahead of time into dist/workflow-bundle.js, so a production worker (the Docker image)
 * starts in a second instead of running webpack on every start.
 *
 * Usage: `ts-node --transpile-only worker/build-bundle.ts [out-file]`, or `node dist/worker/build-bundle.js [out-file]`
 * after `npm run build`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

/**
 * The directory holding package.json: one level up from worker/ in a checkout (ts-node), two from dist/worker/
 * when running the compiled JavaScript (`npm run build`, the Docker image).
 */
export const PACKAGE_ROOT =
  [path.resolve(__dirname, '..'), path.resolve(__dirname, '..', '..')].find((dir) => fs.existsSync(path.join(dir, 'package.json'))) ??
  path.resolve(__dirname, '..');

/** Where the worker looks for a prebuilt bundle when CANARY_WORKFLOW_BUNDLE is not set. */
export const DEFAULT_BUNDLE_PATH = path.join(PACKAGE_ROOT, 'dist', 'workflow-bundle.js');

/**
 * The workflow entry point: every workflow the worker registers is exported from there. Next to this module, so the
 * compiled worker bundles the compiled workflows (dist/workflows) and ts-node the sources.
 */
export const WORKFLOWS_PATH = path.resolve(__dirname, '..', 'workflows');

/** Workflow interceptor modules: log lines and activity calls of workflow code name their release, step and phase. */
export const WORKFLOW_INTERCEPTOR_MODULES = [path.resolve(__dirname, '..', 'workflows', 'release', 'log-context')];

/** Bundles workflows/ and writes the bundle to `outFile`; returns its size in bytes. */
export async function buildWorkflowBundle(outFile: string = DEFAULT_BUNDLE_PATH): Promise<number> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve(WORKFLOWS_PATH),
    workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES.map((m) => require.resolve(m)),
  });
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  // Write then rename, so a worker starting meanwhile never reads half a bundle.
  const tmp = `${outFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, code);
  fs.renameSync(tmp, outFile);
  return Buffer.byteLength(code);
}

if (require.main === module) {
  const outFile = path.resolve(process.argv[2] ?? DEFAULT_BUNDLE_PATH);
  buildWorkflowBundle(outFile).then(
    (bytes) => process.stdout.write(`wrote ${outFile} (${Math.round(bytes / 1024)} KiB)\n`),
    (err: unknown) => {
      process.stderr.write(`workflow bundle failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
