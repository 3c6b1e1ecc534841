/**
 * The worker as operators run it: a separate process configured only through its environment.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../dev/stack';
import { testClient, testStack, uniqueName } from '../support/env';

const repoRoot = path.resolve(__dirname, '..', '..');

interface WorkerProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout line matching `pattern`; rejects if the process exits first or on timeout. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** Resolves with the exit code (or signal) once the process has exited; rejects on timeout. */
  exit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; afterMs: number }>;
}

const running = new Set<ChildProcess>();

/** Starts worker/main.ts with only the given variables (plus PATH/HOME), as a container would. */
function startWorker(vars: Record<string, string>): WorkerProcess {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    // A developer's own temporal.toml (TLS, API key) must not leak into the test.
    TEMPORAL_CONFIG_FILE: path.join(os.tmpdir(), 'canary-test-no-such-temporal.toml'),
    // ts-node's settings for the tests (test/support/global-setup.ts): SWC, a quarter of TypeScript's CPU at start.
    ...(process.env.TS_NODE_PROJECT ? { TS_NODE_PROJECT: process.env.TS_NODE_PROJECT } : {}),
    ...vars,
  };
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'worker/main.ts'], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  const describe = () => `\n--- stdout\n${out}\n--- stderr\n${err}`;
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    async waitForLine(pattern, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let gone = false;
      void exited.then(() => (gone = true));
      for (;;) {
        const line = out.split('\n').find((l) => pattern.test(l));
        if (line !== undefined) return line;
        if (gone) throw new Error(`worker exited before printing ${pattern}${describe()}`);
        if (Date.now() > deadline) throw new Error(`no line matching ${pattern} within ${timeoutMs} ms${describe()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async exit(timeoutMs) {
      const t0 = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`worker still running after ${timeoutMs} ms${describe()}`)), timeoutMs);
      });
      try {
        const result = await Promise.race([exited, timeout]);
        return { ...result, afterMs: Date.now() - t0 };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

afterEach(() => {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
});

function stackVars(taskQueue: string): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: testStack.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    AWS_ENDPOINT_URL: testStack.awsEndpoint,
    AWS_SDK_UA_APP_ID: 'canary-worker',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-east-1',
    CANARY_TASK_QUEUE: taskQueue,
    CANARY_WORKFLOW_BUNDLE: testStack.bundlePath,
    CANARY_LOG_LEVEL: 'WARN',
  };
}

async function scrape(url: string, taskQueue: string, timeoutMs: number): Promise<{ contentType: string; body: string }> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const res = await fetch(url).catch((err: unknown) => err as Error);
    if (!(res instanceof Error)) {
      const body = await res.text();
      // Core publishes poller and slot gauges once the worker's pollers are up.
      if (res.ok && body.includes(`task_queue="${taskQueue}"`)) return { contentType: res.headers.get('content-type') ?? '', body };
      last = `HTTP ${res.status}: ${body.slice(0, 500)}`;
    } else {
      last = res.message;
    }
    if (Date.now() > deadline) throw new Error(`no worker metric for ${taskQueue} at ${url} within ${timeoutMs} ms; last: ${last}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('worker process', () => {
  it('polls the task queue, serves Prometheus metrics, and exits 0 within the grace time on SIGTERM', async () => {
    const taskQueue = uniqueName('worker-proc');
    const metricsPort = await freePort();
    const graceMs = 20_000;
    const worker = startWorker({
      ...stackVars(taskQueue),
      CANARY_METRICS_ADDRESS: `127.0.0.1:${metricsPort}`,
      CANARY_SHUTDOWN_GRACE: `${graceMs / 1000}s`,
    });

    const line = await worker.waitForLine(/^canary worker ready:/, 60_000);
    expect(line).toContain(`task queue ${taskQueue}`);
    expect(line).toContain('namespace default');
    expect(line).toContain(`server ${testStack.temporalAddress}`);
    expect(line).toContain(`metrics http://127.0.0.1:${metricsPort}/metrics`);
    expect(line).toContain(`workflows bundle ${testStack.bundlePath}`);

    const { contentType, body } = await scrape(`http://127.0.0.1:${metricsPort}/metrics`, taskQueue, 20_000);
    expect(contentType).toMatch(/^text\/plain/);
    expect(body).toMatch(/^# (HELP|TYPE) temporal_/m);
    expect(body).toMatch(new RegExp(`^temporal_(num_pollers|worker_task_slots_available)\\{[^}]*task_queue="${taskQueue}"[^}]*\\} \\d+`, 'm'));

    // The process really runs the bundle's workflow code: its first workflow task schedules the smoke activity.
    const { client, connection } = await testClient();
    try {
      const handle = await client.workflow.start('smokeWorkflow', { taskQueue, workflowId: uniqueName('worker-proc'), args: ['hi'] });
      const deadline = Date.now() + 20_000;
      let scheduled = false;
      while (!scheduled && Date.now() < deadline) {
        const history = await handle.fetchHistory();
        scheduled = (history.events ?? []).some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'echo');
        if (!scheduled) await new Promise((r) => setTimeout(r, 200));
      }
      expect(scheduled).toBe(true);
      await handle.terminate('test done');
    } finally {
      await connection.close();
    }

    worker.child.kill('SIGTERM');
    const { code, signal, afterMs } = await worker.exit(graceMs);
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(afterMs).toBeLessThan(graceMs);
    expect(worker.stdout()).toMatch(/^canary worker stopped$/m);
  });

  it('exits 1 with one line naming the server when Temporal is unreachable', async () => {
    const deadPort = await freePort();
    const worker = startWorker({
      ...stackVars(uniqueName('worker-dead')),
      TEMPORAL_ADDRESS: `127.0.0.1:${deadPort}`,
      CANARY_METRICS_ADDRESS: '',
    });
    const { code } = await worker.exit(60_000);
    expect(code).toBe(1);
    const lines = worker.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^canary worker: cannot connect to Temporal at 127\\.0\\.0\\.1:${deadPort} \\(namespace default\\): .+`));
    expect(worker.stdout()).not.toContain('canary worker ready');
  });

  it('exits 1 with one line naming the variable when the configuration is invalid', async () => {
    const worker = startWorker({ ...stackVars(uniqueName('worker-bad')), CANARY_SHUTDOWN_GRACE: 'soon' });
    const { code } = await worker.exit(60_000);
    expect(code).toBe(1);
    expect(worker.stderr().trim().split('\n')).toEqual([expect.stringMatching(/^canary worker: invalid worker configuration: CANARY_SHUTDOWN_GRACE="soon": /)]);
  });
});
