/**
 * The real worker process (worker/main.ts) for crash tests: spawn it with only environment configuration, wait for
 * its "canary worker ready" line, SIGKILL it (no shutdown, no goodbye to the server), and start it again.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';

const repoRoot = path.resolve(__dirname, '..', '..');

/** How the tests reach the stack the worker should use. */
export interface WorkerStackVars {
  temporalAddress: string;
  /** The AWS endpoint: the realism layer in front of moto in the tests (testStack.awsEndpoint). */
  awsEndpoint: string;
  bundlePath: string;
  /** AWS seconds per real second of the stack (its realism layer's health checks): the worker's CANARY_TIME_SCALE. */
  timeScale?: number;
}

/**
 * The environment of a worker on `taskQueue` against the given stack, as a container would get it: Temporal address,
 * the stack's AWS endpoint, the prebuilt test bundle, metrics off, and a short sticky queue timeout so a replacement worker picks
 * up a killed worker's workflow tasks after about a second instead of the SDK's default 10 s.
 */
export function workerEnv(stack: WorkerStackVars, taskQueue: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: stack.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    AWS_ENDPOINT_URL: stack.awsEndpoint,
    // The SDK puts app/canary-worker in its user agent: the proxy counts these calls as the worker's (IAM check).
    AWS_SDK_UA_APP_ID: 'canary-worker',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-east-1',
    CANARY_TASK_QUEUE: taskQueue,
    CANARY_WORKFLOW_BUNDLE: stack.bundlePath,
    CANARY_METRICS_ADDRESS: '',
    CANARY_STICKY_QUEUE_TIMEOUT: '1s',
    CANARY_LOG_LEVEL: 'WARN',
    // The health wait asks at the health checks' pace, which the stack compresses.
    ...(stack.timeScale ? { CANARY_TIME_SCALE: String(stack.timeScale) } : {}),
    ...extra,
  };
}

const live = new Set<ChildProcess>();

/** SIGKILLs every worker process this module started that is still running (for afterAll). */
export function killAllWorkerProcesses(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

export interface WorkerProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once the process has exited (any way). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first stdout line matching `pattern`; rejects if the process exits first or on timeout. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
}

/** Which worker program to run: by default the sources, through ./swc-register.js. */
export interface WorkerProgram {
  /** Arguments to node. */
  nodeArgs: string[];
  cwd: string;
  /** The node binary; default this process's (a test may run the worker under another Node, test/support/node-runtime.ts). */
  node?: string;
}

/** The tests' TypeScript loader for the programs they start from the sources (what it saves over ts-node: see the file). */
export const SWC_REGISTER = path.join(__dirname, 'swc-register.js');

const SOURCE_WORKER: WorkerProgram = { nodeArgs: ['-r', SWC_REGISTER, 'worker/main.ts'], cwd: repoRoot };

/** Spawns the worker (`node -r test/support/swc-register.js worker/main.ts` unless `program` says otherwise) with `vars` (plus PATH and HOME) as its environment. */
export function spawnWorker(vars: Record<string, string>, program: WorkerProgram = SOURCE_WORKER): WorkerProcess {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    // A developer's own temporal.toml (TLS, API key) must not leak into the test.
    TEMPORAL_CONFIG_FILE: path.join(os.tmpdir(), 'canary-test-no-such-temporal.toml'),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    // ts-node's settings for the tests (./global-setup.ts), for a program run through ts-node.
    ...(process.env.TS_NODE_PROJECT ? { TS_NODE_PROJECT: process.env.TS_NODE_PROJECT } : {}),
    ...vars,
  };
  const child = spawn(program.node ?? process.execPath, program.nodeArgs, { cwd: program.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  // Like dev/guard.sh for the servers: if this test process dies without cleaning up (a SIGKILLed jest), the worker
  // must not poll on forever. The watchdog ends with the worker.
  if (child.pid !== undefined) {
    const isWorker = `grep -qs -e worker/main -e canary-worker /proc/${child.pid}/cmdline`;
    const watchdog = `while kill -0 ${process.pid} 2>/dev/null && ${isWorker}; do sleep 1; done; ${isWorker} && kill -KILL ${child.pid}`;
    spawn('bash', ['-c', watchdog], {
      stdio: 'ignore',
      detached: true,
    }).unref();
  }
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const started = Date.now();
  /** How the process ended, once it has: its exit code or signal, and when. */
  let ended: string | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      ended = `${signal ? `killed by ${signal}` : `exit code ${code}`}, ${Date.now() - started} ms after it was spawned`;
      live.delete(child);
      resolve({ code, signal });
    }),
  );
  const describe = (): string => `\n--- stdout\n${out.slice(-4000)}\n--- stderr\n${err.slice(-4000)}`;
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitForLine(pattern, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = out.split('\n').find((l) => pattern.test(l));
        if (line !== undefined) return line;
        if (ended !== undefined) throw new Error(`worker exited before printing ${pattern} (${ended})${describe()}`);
        if (Date.now() > deadline) throw new Error(`no line matching ${pattern} within ${timeoutMs} ms${describe()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/**
 * One worker "deployment" on a task queue: at most one process at a time, killed with SIGKILL and started again as a
 * supervisor would. Counts kills and keeps every process's stderr for a failure report.
 */
export class CrashableWorker {
  private current: WorkerProcess | undefined;
  private readonly logs: string[] = [];
  /** SIGKILLs so far. */
  kills = 0;
  /** Milliseconds each start took until the ready line. */
  readonly startTimes: number[] = [];

  constructor(
    readonly taskQueue: string,
    private readonly vars: Record<string, string>,
    private readonly readyTimeoutMs = 90_000,
    private readonly program?: WorkerProgram,
  ) {}

  /** True between start() and kill()/stop(), even if the process died on its own (see {@link alive}). */
  get running(): boolean {
    return this.current !== undefined;
  }

  /** The running process's pid (its worker identity is `pid@host`). */
  get pid(): number | undefined {
    return this.current?.child.pid;
  }

  /** True when a process was started and has not exited (by our kill or by itself). */
  get alive(): boolean {
    const child = this.current?.child;
    return !!child && child.exitCode === null && child.signalCode === null;
  }

  /** Starts a process and waits for its ready line (it is polling the task queue then). */
  async start(): Promise<void> {
    if (this.current) throw new Error(`a worker on ${this.taskQueue} is already running`);
    const t0 = Date.now();
    const proc = spawnWorker(this.vars, this.program);
    this.current = proc;
    await proc.waitForLine(/^canary worker ready:/, this.readyTimeoutMs);
    this.startTimes.push(Date.now() - t0);
  }

  /** SIGKILL: no graceful shutdown, in-flight activities and workflow tasks are lost with the process. */
  async kill(): Promise<void> {
    const proc = this.current;
    if (!proc) throw new Error(`no worker on ${this.taskQueue} to kill`);
    this.current = undefined;
    proc.child.kill('SIGKILL');
    await proc.exited;
    this.kills++;
    this.logs.push(proc.stderr());
  }

  /**
   * SIGTERM, as an orchestrator stops a container: the worker stops polling, lets in-flight activities finish within
   * CANARY_SHUTDOWN_GRACE, and exits. Resolves with how it exited and how long that took.
   */
  async terminate(timeoutMs = 60_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; afterMs: number; stdout: string }> {
    const proc = this.current;
    if (!proc) throw new Error(`no worker on ${this.taskQueue} to stop`);
    this.current = undefined;
    const t0 = Date.now();
    proc.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        proc.child.kill('SIGKILL');
        reject(new Error(`worker on ${this.taskQueue} still running ${timeoutMs} ms after SIGTERM\n${proc.stderr().slice(-3000)}`));
      }, timeoutMs);
    });
    try {
      const exit = await Promise.race([proc.exited, timeout]);
      return { ...exit, afterMs: Date.now() - t0, stdout: proc.stdout() };
    } finally {
      clearTimeout(timer);
      this.logs.push(proc.stderr());
    }
  }

  /** Kill, then start a replacement. */
  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  /** SIGKILLs the process if one runs (cleanup; not counted as a kill). */
  async stop(): Promise<void> {
    const proc = this.current;
    this.current = undefined;
    if (!proc) return;
    proc.child.kill('SIGKILL');
    await proc.exited;
    this.logs.push(proc.stderr());
  }

  /** stderr of every process so far (the SDK logs at WARN: failed activities, timeouts). */
  stderr(): string {
    return [...this.logs, this.current?.stderr() ?? ''].filter(Boolean).join('\n--- next process\n');
  }
}
