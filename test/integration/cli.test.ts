/**
 * The `canary` CLI as CI and people run it: a child process (`node bin/canary.js ...`, the sources loaded by
 * test/support/swc-register.js) against the shared dev server and moto, with a worker of this file's own. Also the
 * plain `temporal` CLI driving a release with the JSON payloads docs/CLI.md documents.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import type { Client, Connection, WorkflowHandle } from '@temporalio/client';
import * as YAML from 'yaml';
import type { ReleaseResult, ReleaseStatus, TimelineEntry } from '../../common/status';
import { temporalCli, repoRoot } from '../../dev/paths';
import { expectExit, type Ran } from '../support/cli-run';
import { testAws, testClient, testStack } from '../support/env';
import { seedService, startTestWorker, testSpec, waitForStatus } from '../support/release-fixture';
import { SWC_REGISTER } from '../support/worker-process';

const aws = testAws();
let client: Client;
let connection: Connection;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
let tmp: string;

beforeAll(async () => {
  ({ client, connection } = await testClient());
  worker = await startTestWorker(aws);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'canary-cli-test-'));
});
afterAll(async () => {
  await worker?.stop();
  await connection?.close();
  aws.destroy();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Runs a command to its end (killed after `timeoutMs`), with a hermetic Temporal environment. */
function exec(cmd: string, args: string[], timeoutMs = 150_000): Promise<Ran> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('TEMPORAL_') || k.startsWith('CANARY_UI')) delete env[k];
  Object.assign(env, {
    TEMPORAL_ADDRESS: testStack.temporalAddress,
    // No user's ~/.config/temporalio profile leaks into the test.
    TEMPORAL_CONFIG_FILE: path.join(tmp, 'no-such-temporal.toml'),
    CANARY_USER: 'ci-bot',
  });
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `canary ARGS --task-queue <this file's worker>`. */
function canary(...args: string[]): Promise<Ran> {
  return exec(process.execPath, ['-r', SWC_REGISTER, path.join(repoRoot, 'bin', 'canary.js'), '--task-queue', worker.taskQueue, ...args]);
}

/** `temporal ARGS --address <test server>`. */
function temporal(...args: string[]): Promise<Ran> {
  return exec(temporalCli(), [...args, '--address', testStack.temporalAddress]);
}

function writeSpec(name: string, spec: Record<string, unknown>): string {
  const file = path.join(tmp, `${name}.yaml`);
  fs.writeFileSync(file, YAML.stringify(spec));
  return file;
}

function parse<T>(ran: Ran): T {
  try {
    return JSON.parse(ran.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${ran.code}):\nstdout: ${ran.stdout}\nstderr: ${ran.stderr}`);
  }
}

const handleOf = (service: string): WorkflowHandle => client.workflow.getHandle(`release-${service}`);

interface StatusJson {
  workflowId: string;
  runId: string;
  execution: string;
  source: string;
  phase: string;
  status: ReleaseStatus;
  result: ReleaseResult | null;
}

// The tests run concurrently (each on a service of its own, sharing the file's worker): their waits overlap.
describe('canary CLI', () => {
  it.concurrent('refuses an invalid spec with exit 2, prints each wrong field and starts nothing', async () => {
    const { service, seeded } = await seedService(aws, 'cinv');
    const file = writeSpec(service, {
      ...testSpec(seeded, service, { steps: [{ setWeight: 120 }, { analysis: { template: 'latency' } }] }),
      canaryDrift: true,
    });

    const ran = await canary('start', '--spec', file, '--wait');
    expectExit(ran, 2);
    expect(ran.stdout).toBe('');
    const lines = ran.stderr.split('\n');
    expect(lines).toContain('steps[0].setWeight: must be between 0 and 100');
    expect(lines).toContain('steps[1].analysis.template: unknown analysis template "latency" (defined: errors)');
    expect(lines).toContain('canaryDrift: unknown field');
    await expect(handleOf(service).describe()).rejects.toThrow(/not found/i);

    // `validate` refuses it the same way, for CI linting.
    const linted = await canary('validate', '--spec', file);
    expectExit(linted, 2);
    expect(linted.stderr.split('\n')).toEqual(expect.arrayContaining([`invalid release spec ${file}:`, 'steps[0].setWeight: must be between 0 and 100']));
  });

  it.concurrent('start --wait --json promotes a healthy release with exit 0; status, history and list report it', async () => {
    const { service, seeded } = await seedService(aws, 'cok');
    const file = writeSpec(service, testSpec(seeded, service));

    const ran = await canary('start', '--spec', file, '--version', 'v7', '--targets', '10.0.0.31:8080,10.0.0.32:8080', '--wait', '--json');
    expectExit(ran, 0);
    const started = parse<{ workflowId: string; runId: string; uiUrl: string; result: ReleaseResult }>(ran);
    expect(started.workflowId).toBe(`release-${service}`);
    expect(started.uiUrl).toBe(`http://127.0.0.1:8233/namespaces/default/workflows/release-${service}/${started.runId}`);
    expect(started.result).toMatchObject({ outcome: 'promoted', version: 'v7', stepsCompleted: 3, steps: 3 });
    expect(ran.stderr).toContain(`promoted: ${service} v7 serves 100% of traffic`);

    const status = await canary('status', service, '--json');
    expectExit(status, 0);
    const s = parse<StatusJson>(status);
    expect(s).toMatchObject({ workflowId: `release-${service}`, runId: started.runId, execution: 'COMPLETED', source: 'query', phase: 'Succeeded' });
    expect(s.status).toMatchObject({ version: 'v7', initiator: 'ci-bot', step: 3, verifiedWeights: { canary: 100 } });
    expect(s.status.steps.map((x) => x.kind)).toEqual(['setWeight', 'setWeight', 'setWeight']);
    expect(s.result?.outcome).toBe('promoted');

    const history = await canary('history', `release-${service}`, '--json');
    expectExit(history, 0);
    const h = parse<{ workflowId: string; timeline: (TimelineEntry & { ignored: boolean })[] }>(history);
    expect(h.timeline[0]).toMatchObject({ by: 'ci-bot', action: 'start', detail: `${service} v7, 3 steps`, accepted: true, ignored: false });
    expect(h.timeline.find((e) => e.action === 'canary targets healthy')?.detail).toMatch(/^2\/2 /);
    expect(h.timeline.filter((e) => e.action === 'setWeight').map((e) => e.detail)).toEqual([
      'canary 20%, stable 80% (verified)',
      'canary 50%, stable 50% (verified)',
      'canary 100%, stable 0% (verified)',
    ]);

    // Visibility is eventually consistent: the closed run shows up within a few seconds.
    let rows: { workflowId: string; runId: string; version?: string; status: string; phase?: string; canaryWeight?: number }[] = [];
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const list = await canary('list', '--service', service, '--json');
      expectExit(list, 0);
      rows = parse<typeof rows>(list);
      if (rows.some((r) => r.runId === started.runId && r.status === 'COMPLETED' && r.phase === 'Succeeded')) break;
      await new Promise((r) => setTimeout(r, 1_000));
    }
    expect(rows).toEqual([
      expect.objectContaining({
        workflowId: `release-${service}`,
        runId: started.runId,
        version: 'v7',
        status: 'COMPLETED',
        phase: 'Succeeded',
        canaryWeight: 100,
      }),
    ]);
    const running = parse<unknown[]>(await canary('list', '--service', service, '--running', '--json'));
    expect(running).toEqual([]);
  });

  it.concurrent("rejects the initiator's approval with exit 4 and the reason, accepts an approver's, and watch exits 0", async () => {
    const { service, seeded } = await seedService(aws, 'cgate');
    const file = writeSpec(
      service,
      testSpec(seeded, service, { steps: [{ setWeight: 20 }, { approval: { approvers: ['alice'], timeout: '10m' } }, { setWeight: 100 }] }),
    );

    const start = await canary('start', '--spec', file, '--json');
    expectExit(start, 0);
    const { workflowId, runId } = parse<{ workflowId: string; runId: string }>(start);
    expect(workflowId).toBe(`release-${service}`);
    await waitForStatus(client.workflow.getHandle(workflowId, runId), (s) => s.phase === 'AwaitingApproval', 90_000);

    const status = await canary('status', service);
    expectExit(status, 0);
    expect(status.stdout).toMatch(/phase +AwaitingApproval/);
    expect(status.stdout).toMatch(/step +step 2\/3 \(#1\): approval by alice \(timeout 10m, then rollback\)/);
    expect(status.stdout).toMatch(/weights +canary 20% \/ stable 80% verified/);
    expect(status.stdout).toContain(`approval at step #1 by alice, closes `);
    expect(status.stdout).toContain(`canary approve ${workflowId} --step 1`);

    const self = await canary('approve', service, '--by', 'ci-bot');
    expectExit(self, 4);
    expect(self.stderr.trim()).toBe('rejected: ci-bot started this release and cannot approve it (allowSelfApproval is off)');

    const approved = await canary('approve', service, '--by', 'alice', '--step', '1', '--comment', 'dashboards look fine');
    expectExit(approved, 0);
    expect(approved.stdout).toMatch(/^approve: approved step 1 \(release-\S+: AwaitingApproval, step #1\)/);

    const watch = await canary('watch', service);
    expectExit(watch, 0);
    expect(watch.stdout).toContain('alice approve: step 1: dashboards look fine');
    expect(watch.stdout).toMatch(/Succeeded \| all 3 steps done/);
    expect(watch.stdout.trim().split('\n').pop()).toMatch(new RegExp(`^promoted: ${service} v2 serves 100% of traffic`));
  });

  it.concurrent('abort ends a release that start --wait follows with exit 3; a second start meanwhile exits 2', async () => {
    const { service, seeded } = await seedService(aws, 'cabort');
    const file = writeSpec(service, testSpec(seeded, service, { steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 100 }] }));

    const following = canary('start', '--spec', file, '--wait');
    await waitForStatus(handleOf(service), (s) => s.gate?.kind === 'pause', 90_000);

    const second = await canary('start', '--spec', file, '--version', 'v3');
    expectExit(second, 2);
    expect(second.stderr).toMatch(new RegExp(`already running: release-${service} \\(version v2, started by ci-bot at `));

    const abort = await canary('abort', service, '--by', 'bob', '--reason', 'error budget burn');
    expectExit(abort, 0);
    expect(abort.stdout).toMatch(/^abort: aborting: traffic goes back to stable/);

    const ran = await following;
    expectExit(ran, 3);
    expect(ran.stdout).toContain(`started release-${service}: ${service} v2, 3 steps, by ci-bot`);
    expect(ran.stdout).toContain('bob abort: error budget burn');
    expect(ran.stdout.trim().split('\n').pop()).toMatch(/^aborted by bob: error budget burn; traffic is back on the previous version/);

    const late = await canary('pause', service, '--by', 'bob');
    expectExit(late, 4);
    expect(late.stderr).toMatch(new RegExp(`rejected: release-${service} has finished`));
  });

  it.concurrent('--timeout ends start --wait and watch of a release held at an indefinite pause with exit 6; the release goes on', async () => {
    const { service, seeded } = await seedService(aws, 'ctime');
    const workflowId = `release-${service}`;
    const file = writeSpec(service, testSpec(seeded, service, { steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 100 }] }));

    const waited = await canary('start', '--spec', file, '--wait', '--timeout', '4s');
    expectExit(waited, 6);
    expect(waited.stdout).toContain(`started ${workflowId}: ${service} v2, 3 steps, by ci-bot`);
    const told = waited.stderr.trim().split('\n').pop();
    // Its phase, or, when no worker has taken the release's first task within the 4 s (seen under load), that it has
    // not answered yet: either way it ends. The watch below names the phase once the release has reached its pause.
    expect(told).toMatch(new RegExp(`^still running after 4s \\(--timeout\\): ${workflowId} (is \\w+|has not answered the status query yet)`));
    expect(told).toContain(`the release goes on; follow it with: canary watch ${workflowId}`);
    expect((await handleOf(service).describe()).status.name).toBe('RUNNING');

    await waitForStatus(handleOf(service), (s) => s.gate?.kind === 'pause', 90_000);
    const watched = await canary('watch', service, '--timeout', '2s', '--json');
    expectExit(watched, 6);
    expect(parse<{ workflowId: string; result: null; stillRunning: boolean; phase: string }>(watched)).toMatchObject({
      workflowId,
      result: null,
      stillRunning: true,
      phase: 'Paused',
    });
    expect(watched.stderr).toContain(`still running after 2s (--timeout): ${workflowId} is Paused, step 2/3 (#1): pause until resumed`);

    const abort = await canary('abort', service, '--by', 'bob', '--reason', 'timeout test done');
    expectExit(abort, 0);
    expect(((await handleOf(service).result()) as ReleaseResult).outcome).toBe('aborted');
  });

  it.concurrent('lets the plain temporal CLI query, approve (update) and abort (signal) with the documented JSON payloads', async () => {
    const { service, seeded } = await seedService(aws, 'ctcli');
    const workflowId = `release-${service}`;
    const file = writeSpec(
      service,
      testSpec(seeded, service, {
        steps: [{ setWeight: 20 }, { approval: { approvers: ['alice'], timeout: '10m' } }, { setWeight: 50 }, { pause: {} }, { setWeight: 100 }],
      }),
    );
    expectExit(await canary('start', '--spec', file), 0);
    await waitForStatus(handleOf(service), (s) => s.phase === 'AwaitingApproval', 90_000);

    const query = await temporal('workflow', 'query', '--workflow-id', workflowId, '--type', 'status', '--output', 'json');
    expectExit(query, 0);
    const answered = parse<{ queryResult: ReleaseStatus[] }>(query).queryResult[0];
    expect(answered).toMatchObject({ phase: 'AwaitingApproval', gate: { kind: 'approval', step: 1, approvers: ['alice'] } });

    const refused = await temporal('workflow', 'update', 'execute', '--workflow-id', workflowId, '--name', 'approve', '--input', '{"by":"ci-bot","step":1}');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('ci-bot started this release and cannot approve it');

    const ignored = await temporal('workflow', 'signal', '--workflow-id', workflowId, '--name', 'approve', '--input', '{"by":"mallory","step":1}');
    expectExit(ignored, 0);

    const approved = await temporal('workflow', 'update', 'execute', '--workflow-id', workflowId, '--name', 'approve', '--input', '{"by":"alice","step":1}');
    expectExit(approved, 0);
    expect(approved.stdout).toContain('approved step 1');

    await waitForStatus(handleOf(service), (s) => s.gate?.kind === 'pause' && s.gate.step === 3, 90_000);
    const abort = await temporal('workflow', 'signal', '--workflow-id', workflowId, '--name', 'abort', '--input', '{"by":"bob","reason":"rollback drill"}');
    expectExit(abort, 0);
    const result = (await handleOf(service).result()) as ReleaseResult;
    expect(result).toMatchObject({ outcome: 'aborted', by: 'bob', reason: 'rollback drill', stepsCompleted: 3 });

    const history = await canary('history', service);
    expectExit(history, 0);
    expect(history.stdout).toMatch(/mallory +approve \[IGNORED\] +mallory is not an approver of step 1 \(approvers: alice\)/);
    expect(history.stdout).toMatch(/alice +approve +step 1/);
    expect(history.stdout).toMatch(/bob +abort +rollback drill/);
    // Each message's client identity, from the history: canary started it, the temporal CLI sent the rest.
    expect(history.stdout).toMatch(/^\S+ \S+ +ci-bot +start +.* canary:\S+@\S+$/m);
    expect(history.stdout).toMatch(/^\S+ \S+ +alice +approve +step 1 +temporal-cli:\S+@\S+$/m);
    expect(history.stdout).toMatch(/^\S+ \S+ +bob +abort +rollback drill +temporal-cli:\S+@\S+$/m);
    const json = parse<{ timeline: (TimelineEntry & { ignored: boolean; callerIdentity?: string })[] }>(await canary('history', service, '--json'));
    expect(json.timeline.filter((e) => e.ignored).map((e) => e.by)).toEqual(['mallory']);
    expect(json.timeline.find((e) => e.action === 'abort')?.callerIdentity).toMatch(/^temporal-cli:\S+@\S+$/);
  });
});
