/**
 * The worker image's recipe, run here although no container engine runs here: the Dockerfile's own FROM / WORKDIR /
 * COPY / RUN / ENV / CMD lines are read from the Dockerfile and executed in a scratch directory per stage
 * (test/support/dockerfile.ts), which includes a real `npm ci` on a clean copy of package.json and the lock file.
 * The base image's Node is Node 24 from the npm registry's `node` package (test/support/node-runtime.ts): RUN steps
 * find it first on PATH, and the final stage's CMD runs under it. The CMD is then started, configured only by
 * environment as a container is, against the shared dev server and moto, and a release runs on it to the end.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import { Tags } from '../../activities/contract';
import { startRelease } from '../../client/release-client';
import { statusQuery } from '../../common/messages';
import { buildDockerfile, duBytes, parseDockerfile, removeInBackground } from '../support/dockerfile';
import { testAws, testClient, testStack, uniqueName } from '../support/env';
import { nodeRuntime } from '../support/node-runtime';
import { forwardActions, seedService, targetGroupsOf, testSpec } from '../support/release-fixture';
import { CrashableWorker, killAllWorkerProcesses, workerEnv } from '../support/worker-process';

const repoRoot = path.resolve(__dirname, '..', '..');
const aws = testAws();
let client: Client;
let connection: Connection;
let scratch: string | undefined;

beforeAll(async () => {
  ({ client, connection } = await testClient());
});
afterAll(async () => {
  killAllWorkerProcesses();
  await connection?.close();
  aws.destroy();
  // CANARY_KEEP_IMAGE=1 keeps the built stages for a look.
  if (scratch && !process.env.CANARY_KEEP_IMAGE) removeInBackground(scratch);
});

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(0)} MB`;

describe('the worker image (Dockerfile)', () => {
  it('builds by its own steps into compiled JavaScript with a prebuilt workflow bundle, and its CMD runs a release to the end', async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'canary-image-'));
    // The Node the Dockerfile's base image names (node:<major>-slim), from the npm registry.
    const base = parseDockerfile(fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8'))[0]?.base ?? '';
    const node = await nodeRuntime(Number(/^node:(\d+)/.exec(base)?.[1]));
    const t0 = Date.now();
    const image = await buildDockerfile({
      context: repoRoot,
      scratch,
      // The host's npm cache stands in for the registry (setup filled it from the same lock file), as a build
      // machine's cache mount would: without prefer-offline npm asks the registry about every package again.
      hostEnv: { PATH: `${node.binDir}:${process.env.PATH ?? ''}`, HOME: process.env.HOME ?? os.homedir(), npm_config_prefer_offline: 'true' },
      nodeVersion: node.version,
      log: (line) => process.stdout.write(`${line}\n`),
    });
    const buildSeconds = (Date.now() - t0) / 1000;

    // What the image holds: the unpacked npm package (manifest, commands, compiled JavaScript and the bundle) and
    // its production dependencies.
    const app = image.workdir;
    expect(fs.readdirSync(app).sort()).toEqual(['bin', 'dist', 'node_modules', 'package.json']);
    expect(fs.readdirSync(path.join(app, 'bin')).sort()).toEqual(['canary-worker.js', 'canary.js']);
    expect(fs.existsSync(path.join(app, 'dist', 'worker', 'main.js'))).toBe(true);
    // Only what the package lists: no compiled dev/ (the local stack) or tests.
    expect(fs.readdirSync(path.join(app, 'dist')).sort()).toEqual(['activities', 'analysis', 'client', 'common', 'worker', 'workflow-bundle.js', 'workflows']);
    expect(fs.statSync(path.join(app, 'dist', 'workflow-bundle.js')).size).toBeGreaterThan(100_000);
    expect(fs.existsSync(path.join(app, 'node_modules', '@temporalio', 'worker'))).toBe(true);
    // Only this platform's native bridge (the SDK ships five).
    expect(fs.readdirSync(path.join(app, 'node_modules', '@temporalio', 'core-bridge', 'releases'))).toHaveLength(1);
    for (const dev of ['jest', 'eslint', 'prettier', 'ts-jest', 'typescript', 'ts-node'])
      expect({ dev, installed: fs.existsSync(path.join(app, 'node_modules', dev)) }).toEqual({ dev, installed: false });
    const sources = fs.readdirSync(path.join(app, 'dist'), { recursive: true }).map(String);
    expect(sources.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(image.cmd).toEqual(['node', 'bin/canary-worker.js']);
    expect(image.env.NODE_ENV).toBe('production');
    expect(image.user).toBe('node');

    const [total, modules, dist] = await Promise.all([duBytes(image.root), duBytes(path.join(app, 'node_modules')), duBytes(path.join(app, 'dist'))]);
    process.stdout.write(
      `[figure] worker image (final stage, without the ${base} base; Node ${node.version}): ${mb(total)} (node_modules ${mb(modules)}, dist ${mb(dist)}); ` +
        `recipe executed in ${buildSeconds.toFixed(0)} s (${image.runs.map((r) => `${r.stage} RUN ${r.seconds.toFixed(0)} s`).join(', ')})\n`,
    );

    // Start the image's CMD as a container would: the final WORKDIR, the image's ENV plus the deployment's variables.
    const taskQueue = uniqueName('image');
    const { CANARY_WORKFLOW_BUNDLE: _testBundle, ...deployment } = workerEnv(testStack, taskQueue);
    const worker = new CrashableWorker(taskQueue, { ...image.env, ...deployment, CANARY_SHUTDOWN_GRACE: '20s' }, 60_000, {
      node: node.node,
      nodeArgs: image.cmd.slice(1),
      cwd: image.workdir,
    });
    try {
      await worker.start();
      const { service, seeded } = await seedService(aws, 'image');
      const handle = await startRelease(client, testSpec(seeded, service, { steps: [{ setWeight: 30 }, { pause: { duration: '1s' } }, { setWeight: 100 }] }), {
        taskQueue,
      });
      const result = await handle.result();
      expect(result).toMatchObject({ outcome: 'promoted', stepsCompleted: 3 });
      const groups = await targetGroupsOf(aws, seeded);
      expect(groups.map((g) => g.tags[Tags.role])).toEqual(['canary']);
      const forward = (await forwardActions(aws, seeded))[0]?.ForwardConfig?.TargetGroups?.map((t) => ({ arn: t.TargetGroupArn, weight: t.Weight }));
      expect(forward).toEqual([{ arn: groups[0]?.arn, weight: 100 }]);
      expect((await handle.query(statusQuery)).phase).toBe('Succeeded');

      const exit = await worker.terminate(30_000);
      expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
      // It ran the image's own prebuilt bundle (dist/workflow-bundle.js), not the test bundle or webpack at start.
      expect(exit.stdout).toMatch(/^canary worker ready: .*workflows bundle dist\/workflow-bundle\.js(,|$)/m);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- worker stderr\n${worker.stderr().slice(-3000)}`, { cause: err });
    } finally {
      await worker.stop();
    }
  }, 900_000);
});
