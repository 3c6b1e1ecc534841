/**
 * The npm package is the product: `npm pack` (on a copy of the working tree, so the checkout gets no dist/ or
 * tarball), then `npm install <tarball>` into an empty directory, all under Node 24 from the npm registry's `node`
 * package (the LTS `engines` and the Dockerfile name). What is installed must run with nothing of this checkout:
 * `canary --help`, `canary validate`, and a release to the end with the installed `canary-worker` and `canary start
 * --wait` against the shared dev server and moto, in a namespace registered bare as on an existing cluster (no
 * release search attributes): the release starts with a warning, then `canary doctor` names the attributes and
 * `--fix` registers them.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import * as YAML from 'yaml';
import { Tags } from '../../activities/contract';
import { bareNamespace, namespaceAnswers, testAws, testClient, testStack, uniqueName } from '../support/env';
import { nodeRuntime, type NodeRuntime } from '../support/node-runtime';
import { installTarball, packProject, type PackedProject } from '../support/package';
import { forwardActions, seedService, targetGroupsOf, testSpec } from '../support/release-fixture';
import { CrashableWorker, killAllWorkerProcesses, workerEnv } from '../support/worker-process';

const repoRoot = path.resolve(__dirname, '..', '..');
const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { name: string; version: string };
const aws = testAws();
let scratch: string;
let node: NodeRuntime;
let packed: PackedProject;
/** The empty directory the tarball was installed into. */
let userDir: string;
/** What a child gets: the host's variables with Node 24 first on PATH, and no Temporal profile of the developer's. */
let childEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'canary-package-'));
  node = await nodeRuntime(24);
  childEnv = { ...process.env };
  for (const k of Object.keys(childEnv)) if (k.startsWith('TEMPORAL_') || k.startsWith('CANARY_')) delete childEnv[k];
  Object.assign(childEnv, {
    PATH: `${node.binDir}:${process.env.PATH ?? ''}`,
    TEMPORAL_CONFIG_FILE: path.join(scratch, 'no-such-temporal.toml'),
    // The npm cache that setup filled stands in for the registry where it can.
    npm_config_prefer_offline: 'true',
  });
  const t0 = Date.now();
  packed = await packProject(scratch, childEnv);
  const t1 = Date.now();
  userDir = path.join(scratch, 'user');
  await installTarball(packed.tarball, userDir, childEnv);
  process.stdout.write(
    `[figure] npm pack ${((t1 - t0) / 1000).toFixed(0)} s (${(fs.statSync(packed.tarball).size / 1e6).toFixed(1)} MB, ${packed.files.length} files), ` +
      `npm install of the tarball ${((Date.now() - t1) / 1000).toFixed(0)} s, Node ${node.version}\n`,
  );
}, 1_200_000);

afterAll(() => {
  killAllWorkerProcesses();
  aws.destroy();
  if (scratch && !process.env.CANARY_KEEP_PACKAGE) fs.rmSync(scratch, { recursive: true, force: true });
});

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs an installed command (node_modules/.bin/<name>) under Node 24 in the user's directory. */
function installed(name: string, args: string[], env: Record<string, string> = {}, timeoutMs = 180_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(node.node, [path.join(userDir, 'node_modules', '.bin', name), ...args], {
      cwd: userDir,
      env: { ...childEnv, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function expectExit(ran: Ran, code: number): void {
  if (ran.code !== code) throw new Error(`expected exit ${code}, got ${ran.code}\nstdout: ${ran.stdout}\nstderr: ${ran.stderr}`);
}

describe('the npm package', () => {
  it('ships compiled JavaScript, the two commands and a prebuilt workflow bundle: no TypeScript sources, tests, dev code or dev tools', () => {
    expect({ name: packed.name, version: packed.version }).toEqual({ name: manifest.name, version: manifest.version });
    expect(packed.files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'bin/canary.js',
        'bin/canary-worker.js',
        'dist/client/cli.js',
        'dist/worker/main.js',
        'dist/workflow-bundle.js',
      ]),
    );
    expect(packed.files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(packed.files.filter((f) => /^(dist\/)?(test|dev|bench|scripts)\//.test(f) || /^tsconfig|^jest|^eslint/.test(f))).toEqual([]);

    const pkgDir = path.join(userDir, 'node_modules', ...manifest.name.split('/'));
    const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { bin: Record<string, string>; dependencies: Record<string, string> };
    expect(Object.keys(pkg.bin).sort()).toEqual(['canary', 'canary-worker']);
    const devTools = ['typescript', 'ts-node', 'jest', 'ts-jest', 'eslint', 'prettier', '@temporalio/testing', 'playwright-core'];
    expect(Object.keys(pkg.dependencies).filter((d) => devTools.includes(d))).toEqual([]);
    // Nothing else pulled them in either.
    expect(devTools.filter((d) => fs.existsSync(path.join(userDir, 'node_modules', d)))).toEqual([]);
  });

  it('`canary --help` and `canary validate` run from the installed package alone', async () => {
    const help = await installed('canary', ['--help']);
    expectExit(help, 0);
    expect(help.stdout).toMatch(/^Usage: canary /);
    expect(help.stdout).toMatch(/^ {2}validate /m);
    const version = await installed('canary', ['--cli-version']);
    expect(version.stdout.trim()).toBe(manifest.version);

    const spec = {
      service: 'checkout',
      version: 'v2',
      region: 'us-east-1',
      initiator: 'ci-bot',
      traffic: { listenerArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/checkout/50dc6c495c0c9188/f2f7dc8efc522ab2' },
      environment: { canaryTargets: [{ id: '10.0.1.17', port: 8080 }] },
      steps: [{ setWeight: 10 }, { pause: { duration: '5m' } }, { setWeight: 100 }],
    };
    const file = path.join(userDir, 'release.yaml');
    fs.writeFileSync(file, YAML.stringify(spec));
    // Nothing listens on port 1: validate needs no server.
    const ok = await installed('canary', ['validate', '--spec', file, '--version', 'v9'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expectExit(ok, 0);
    expect(ok.stdout).toMatch(/^ok: .*release\.yaml: checkout v9, 3 steps/);

    fs.writeFileSync(file, YAML.stringify({ ...spec, steps: [{ setWeight: 120 }] }));
    const bad = await installed('canary', ['validate', '--spec', file], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expectExit(bad, 2);
    expect(bad.stderr).toContain('steps[0].setWeight: must be between 0 and 100');
  });

  it('`canary-worker` and `canary start --wait` from the installed package run a release to the end on a bare namespace; doctor --fix then registers the search attributes', async () => {
    const taskQueue = uniqueName('package');
    const namespace = uniqueName('ns-pkg');
    const { connection } = await testClient();
    try {
      await bareNamespace(connection, namespace);
      await namespaceAnswers(connection, namespace);
    } finally {
      await connection.close();
    }
    // As a deployment configures it: no CANARY_WORKFLOW_BUNDLE, so the worker runs the bundle the package ships.
    const { CANARY_WORKFLOW_BUNDLE: _testBundle, ...deployment } = workerEnv(testStack, taskQueue);
    const worker = new CrashableWorker(taskQueue, { ...deployment, TEMPORAL_NAMESPACE: namespace, CANARY_SHUTDOWN_GRACE: '20s' }, 60_000, {
      node: node.node,
      nodeArgs: [path.join(userDir, 'node_modules', '.bin', 'canary-worker')],
      cwd: userDir,
    });
    try {
      await worker.start();
      const { service, seeded } = await seedService(aws, 'pkg');
      const file = path.join(userDir, `${service}.yaml`);
      fs.writeFileSync(file, YAML.stringify(testSpec(seeded, service, { steps: [{ setWeight: 30 }, { pause: { duration: '1s' } }, { setWeight: 100 }] })));
      const temporal = { TEMPORAL_ADDRESS: testStack.temporalAddress, TEMPORAL_NAMESPACE: namespace };
      const ran = await installed('canary', ['start', '--spec', file, '--wait', '--timeout', '150s', '--task-queue', taskQueue], {
        ...temporal,
        CANARY_USER: 'ci-bot',
      });
      expectExit(ran, 0);
      expect(ran.stdout).toMatch(/promoted/);
      expect(ran.stderr).toMatch(new RegExp(`^warning: namespace ${namespace} has no ReleaseService, .*canary doctor --fix registers them$`, 'm'));

      const doctorLine = (r: Ran, start: string): string | undefined => r.stdout.split('\n').find((l) => l.startsWith(start));
      const before = await installed('canary', ['--task-queue', taskQueue, 'doctor'], temporal);
      expect(doctorLine(before, '✖ search attributes:')).toMatch(
        /lacks ReleaseService, ReleaseVersion, ReleasePhase, CanaryWeight .* fix: canary doctor --fix registers them/,
      );
      const fixed = await installed('canary', ['--task-queue', taskQueue, 'doctor', '--fix'], temporal);
      expect(doctorLine(fixed, '✔ search attributes:')).toBe(
        '✔ search attributes: registered ReleaseService, ReleaseVersion, ReleasePhase, CanaryWeight (--fix)',
      );

      const groups = await targetGroupsOf(aws, seeded);
      expect(groups.map((g) => g.tags[Tags.role])).toEqual(['canary']);
      const forward = (await forwardActions(aws, seeded))[0]?.ForwardConfig?.TargetGroups?.map((t) => ({ arn: t.TargetGroupArn, weight: t.Weight }));
      expect(forward).toEqual([{ arn: groups[0]?.arn, weight: 100 }]);

      const exit = await worker.terminate(30_000);
      expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
      // The installed package's own bundle, built at pack time: no webpack, no TypeScript at start.
      expect(exit.stdout).toMatch(new RegExp(`^canary worker ready: .*workflows bundle node_modules/${manifest.name}/dist/workflow-bundle\\.js(,|$)`, 'm'));
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- worker stderr\n${worker.stderr().slice(-3000)}`, { cause: err });
    } finally {
      await worker.stop();
    }
  }, 300_000);
});
