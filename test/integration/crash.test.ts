/**
 * A killed worker changes nothing about a release's outcome: the real worker process (worker/main.ts) is SIGKILLed
 * at many points of a release and started again, and the release ends in the same AWS state, with the same result,
 * as an uninterrupted run of the same spec on a fresh seeded service.
 *
 * The real-ALB steps are among the kill points: right after the canary is attached at weight 0 (before its health
 * wait ends), at a drift gate opened by a hand edit of the listener, and while a group drains before its deletion.
 *
 * A kill with an activity in flight costs the activity's start-to-close timeout (15 s) before its retry (a heartbeating
 * wait, such as a drain, its 30 s heartbeat timeout); a kill while the workflow waits (a pause, a gate) costs only the restart. The scenarios run concurrently (each on its
 * own task queue, worker process and service) so that the waits overlap.
 */
import { DescribeTargetGroupsCommand, ModifyListenerCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { actions, startRelease, type ReleaseHandle } from '../../client/release-client';
import type { ReleaseResult, ReleaseStatus } from '../../common/status';
import type { SeededAlb, SeedOptions } from '../../dev/seed';
import { abortSignal, approveSignal, resumeSignal, statusQuery } from '../../common/messages';
import { endState as readEndState, type EndState } from '../support/end-state';
import { replaysFromScratch, resultOrFailedTask } from '../support/failed-tasks';
import { testAws, testClient, testStack, uniqueName } from '../support/env';
import { forwardActions, seedService, startTestWorker, targetGroupsOf, testEnvironment, testSpec } from '../support/release-fixture';
import { CrashableWorker, killAllWorkerProcesses, workerEnv } from '../support/worker-process';

const EventType = temporal.api.enums.v1.EventType;
const aws = testAws();
let client: Client;
let connection: Connection;

// Each scenario takes one to two minutes with its kills (more on a loaded machine); the scenarios overlap.
const SCENARIO_TIMEOUT = 300_000;

beforeAll(async () => {
  ({ client, connection } = await testClient());
});
afterAll(async () => {
  killAllWorkerProcesses();
  await baselineWorker?.then((w) => w.stop()).catch(() => undefined);
  await connection?.close();
  aws.destroy();
});

// ---- the specs, and how a test steers each through its gates ----

/** Weights, a timed pause, promotion with the previous stable kept for a second. */
const shortSteps = [{ setWeight: 10 }, { pause: { duration: '1s' } }, { setWeight: 100 }];
/** Weight shifts with nothing to wait for between them: at every point some activity is in flight. */
const shiftSteps = [{ setWeight: 25 }, { setWeight: 60 }, { setWeight: 100 }];
/** A bake in a timed pause, then an approval gate. */
const gatedSteps = [
  { setWeight: 10 },
  { pause: { duration: '3s' } },
  { setWeight: 50 },
  { approval: { approvers: ['alice'], timeout: '10m' } },
  { setWeight: 100 },
];
/** Aborted at the gate: the rollback is what gets killed. */
const abortSteps = [{ setWeight: 30 }, { approval: { approvers: ['alice'], timeout: '10m' } }, { setWeight: 100 }];
/** A person changes the listener during the pause; the next shift finds it and stops at the drift gate. */
const driftSteps = [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { setWeight: 100 }];
/** A 4 s drain (deregistration delay and cap): long enough for a poll to catch it under load. */
const longDrain: Setup = { seed: { deregistrationDelaySeconds: 4 }, spec: { environment: { ...testEnvironment, drainCap: '4s' } } };

/** Beyond its steps: how a scenario's service is seeded and what else its spec says (the same for both runs). */
interface Setup {
  seed?: Partial<SeedOptions>;
  spec?: Record<string, unknown>;
  /** Continue as new once a run's history has this many events. */
  historyEventLimit?: number;
}

/** Steers a release through its gates; `seeded` is its service's load balancer (for hand edits). */
type Steer = (handle: ReleaseHandle, seeded: SeededAlb) => Promise<void>;
const approveAtGate: Steer = async (handle) => {
  await pollStatus(handle, (s) => s.gate?.kind === 'approval', 'the approval gate');
  await actions.approve(client, handle.workflowId, { by: 'alice' });
};
const abortAtGate: Steer = async (handle) => {
  await pollStatus(handle, (s) => s.gate?.kind === 'approval', 'the approval gate');
  await actions.abort(client, handle.workflowId, { by: 'bob', reason: 'error budget burnt' });
};

/**
 * During an incident someone takes the canary out of the forward action by hand (stable 100, every other group 0),
 * then resumes the paused release: its next shift must stop at the drift gate instead of overwriting the edit.
 */
async function handEditAtPause(handle: ReleaseHandle, seeded: SeededAlb): Promise<void> {
  await pollStatus(handle, (s) => s.gate?.kind === 'pause', 'the pause gate');
  const forward = (await forwardActions(aws, seeded))[0] as { ForwardConfig?: { TargetGroups?: { TargetGroupArn: string }[] } };
  const groups = (forward.ForwardConfig?.TargetGroups ?? []).map((t) => ({
    TargetGroupArn: t.TargetGroupArn,
    Weight: t.TargetGroupArn === seeded.stableTargetGroupArn ? 100 : 0,
  }));
  await aws.elbv2.send(
    new ModifyListenerCommand({ ListenerArn: seeded.listenerArn, DefaultActions: [{ Type: 'forward', ForwardConfig: { TargetGroups: groups } }] }),
  );
  await actions.resume(client, handle.workflowId, { by: 'alice' });
  await pollStatus(handle, (s) => s.gate?.kind === 'drift', 'the drift gate');
}
/** A bake in an open pause long enough for its run's history to fill: the release continues as new at the gate. */
const canSteps = [{ setWeight: 10 }, { pause: {} }, { setWeight: 100 }];
const CAN_LIMIT = 90;
const smallHistory: Setup = { historyEventLimit: CAN_LIMIT };
/** Signals the open pause ignores (they name an approval gate the spec does not have): each adds history. */
async function ignoredSignals(handle: ReleaseHandle, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await handle.signal(approveSignal, { by: 'mallory', step: 7 });
}
/** The run the release is in now, and whether it is a continuation of the first. */
async function currentRun(handle: ReleaseHandle): Promise<{ runId: string; continued: boolean }> {
  const d = await handle.describe();
  return { runId: d.runId, continued: !!d.raw.workflowExecutionInfo?.firstRunId && d.raw.workflowExecutionInfo.firstRunId !== d.runId };
}
async function waitForContinuation(handle: ReleaseHandle, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await currentRun(handle)).continued) {
    if (Date.now() > deadline) throw new Error(`${handle.workflowId}: no continue-as-new in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
/** Fills the history at the pause until the release continues as new, then resumes it by signal. */
const resumeAfterContinuation: Steer = async (handle) => {
  await pollStatus(handle, (s) => s.gate?.kind === 'pause', 'the pause gate');
  await ignoredSignals(handle, CAN_LIMIT);
  await waitForContinuation(handle);
  await handle.signal(resumeSignal, { by: 'alice' });
};

const abortAtDriftGate: Steer = async (handle, seeded) => {
  await handEditAtPause(handle, seeded);
  await actions.abort(client, handle.workflowId, { by: 'bob', reason: 'someone is handling an incident' });
};

// ---- uninterrupted runs of the same specs, on an in-process worker, each on a fresh service ----

let baselineWorker: Promise<Awaited<ReturnType<typeof startTestWorker>>> | undefined;
const baselines = new Map<string, Promise<EndState>>();

/** The end state of an uninterrupted run of `steps` (computed once per spec, shared by the scenarios). */
function uninterrupted(label: string, steps: unknown[], steer?: Steer, setup: Setup = {}): Promise<EndState> {
  let run = baselines.get(label);
  if (!run) {
    baselineWorker ??= startTestWorker(aws);
    run = (async () => {
      const worker = await baselineWorker;
      const { service, seeded } = await seedService(aws, `base-${label}`, setup.seed);
      const handle = await startRelease(client, testSpec(seeded, service, { ...setup.spec, steps }), {
        taskQueue: worker.taskQueue,
        historyEventLimit: setup.historyEventLimit,
      });
      await steer?.(handle, seeded);
      return endState(service, seeded, handle, await handle.result());
    })();
    // Awaited only at the end of each scenario; until then a failure must not count as an unhandled rejection.
    run.catch(() => undefined);
    baselines.set(label, run);
  }
  return run;
}

/** The end state of a release of this file (see ../support/end-state.ts). */
function endState(service: string, seeded: SeededAlb, handle: ReleaseHandle, result: ReleaseResult): Promise<EndState> {
  return readEndState(aws, service, seeded, handle, result);
}

// ---- polling and killing ----

async function pollStatus(
  handle: ReleaseHandle,
  pred: (s: ReleaseStatus) => boolean,
  what: string,
  timeoutMs = 120_000,
  everyMs = 250,
): Promise<ReleaseStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: ReleaseStatus | undefined;
  while (Date.now() < deadline) {
    last = await handle.query(statusQuery).catch(() => undefined);
    if (last && pred(last)) return last;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(
    `${what}: not reached in ${timeoutMs} ms; last status ${JSON.stringify(last && { phase: last.phase, step: last.step, gate: last.gate, timeline: last.timeline.slice(-4) })}`,
  );
}

async function historyTypes(handle: ReleaseHandle): Promise<string[]> {
  const h = await handle.fetchHistory();
  return (h.events ?? []).map((e) => EventType[e.eventType ?? 0] ?? String(e.eventType));
}

/** Polls the server's view of the run until an activity of `type` is pending (scheduled or running). */
async function waitForPending(handle: ReleaseHandle, type: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await handle.describe();
    if ((d.raw.pendingActivities ?? []).some((a) => a.activityType?.name === type)) return;
    if (d.status.name !== 'RUNNING' || Date.now() > deadline) throw new Error(`no ${type} activity pending (${d.status.name})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitForAws(probe: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not seen in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface Kill {
  point: string;
  /** What the killed process had in flight, from the server's view (describe). */
  inFlight: string;
  at: number;
  /** Workflow tasks completed before the kill: the next one is the replacement's. */
  tasksDone: number;
}

/** One release under a worker that the test kills and restarts. */
class CrashedRelease {
  readonly kills: Kill[] = [];
  readonly worker: CrashableWorker;
  service = '';
  seeded!: SeededAlb;
  handle!: ReleaseHandle;
  before: unknown;

  constructor(readonly label: string) {
    const taskQueue = uniqueName(`crash-${label}`);
    this.worker = new CrashableWorker(taskQueue, workerEnv(testStack, taskQueue));
  }

  async start(steps: unknown[], setup: Setup = {}): Promise<void> {
    ({ service: this.service, seeded: this.seeded } = await seedService(aws, `crash-${this.label}`, setup.seed));
    this.before = await forwardActions(aws, this.seeded);
    await this.worker.start();
    this.handle = await startRelease(client, testSpec(this.seeded, this.service, { ...setup.spec, steps }), {
      taskQueue: this.worker.taskQueue,
      historyEventLimit: setup.historyEventLimit,
    });
  }

  status(): Promise<ReleaseStatus> {
    return this.handle.query(statusQuery);
  }

  /** Polls the status query; `everyMs` short where the moment to kill is brief. */
  async waitFor(pred: (s: ReleaseStatus) => boolean, what: string, everyMs = 250): Promise<ReleaseStatus> {
    return pollStatus(this.handle, pred, `${this.label}: ${what}`, 120_000, everyMs);
  }

  /**
   * SIGKILLs the worker, runs `whileDead` (the release has no worker then), and starts a replacement.
   * Says whether the kill counts: not when the release had already ended (then it does nothing, or only restarts).
   */
  async kill(point: string, whileDead?: () => Promise<void>): Promise<boolean> {
    if (!this.worker.running || (await this.handle.describe()).status.name !== 'RUNNING') return false;
    const at = Date.now();
    await this.worker.kill();
    // The server's view is unchanged by the kill (it learns of it only through timeouts): what was in flight.
    const d = await this.handle.describe();
    const pending = (d.raw.pendingActivities ?? []).map(
      (a) =>
        `${a.activityType?.name} ${temporal.api.enums.v1.PendingActivityState[a.state ?? 0]?.replace('PENDING_ACTIVITY_STATE_', '').toLowerCase()} attempt ${a.attempt}`,
    );
    const history = await this.handle.fetchHistory();
    const tasksDone = (history.events ?? []).filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED).length;
    const task = d.raw.pendingWorkflowTask;
    if (task)
      pending.push(
        `a workflow task ${temporal.api.enums.v1.PendingWorkflowTaskState[task.state ?? 0]?.replace('PENDING_WORKFLOW_TASK_STATE_', '').toLowerCase()}`,
      );
    // The release may have ended between the check above and the kill: then the kill proved nothing.
    const counts = d.status.name === 'RUNNING';
    if (counts) this.kills.push({ point, inFlight: pending.join(', ') || 'nothing (waiting)', at, tasksDone });
    await whileDead?.();
    await this.worker.start();
    return counts;
  }

  /** Waits for the result, reads the end state, reports the kills. The worker keeps running (queries need it). */
  async finish(): Promise<{ result: ReleaseResult; end: EndState }> {
    const result = await resultOrFailedTask(this.handle);
    // The release has ended: the history replayed is its whole history.
    const events = (await replaysFromScratch(this.handle, testStack.bundlePath)).events ?? [];
    const end = await endState(this.service, this.seeded, this.handle, result);
    const types = events.map((e) => EventType[e.eventType ?? 0] ?? String(e.eventType));
    // A replacement replays the history; a nondeterministic replay would show up as a failed workflow task.
    expect(types.filter((t) => t === 'EVENT_TYPE_WORKFLOW_TASK_FAILED')).toEqual([]);
    const completions = events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
    for (const k of this.kills) {
      // The first workflow task a replacement completed after the kill (at a gate: once someone acted).
      const next = completions[k.tasksDone]?.eventTime;
      const after = next ? `${((tsMs(next) - k.at) / 1000).toFixed(1)} s` : '?';
      process.stdout.write(
        `[figure] crash ${this.label}: killed ${k.point} (in flight: ${k.inFlight}); survived, next workflow task completed ${after} after the kill\n`,
      );
    }
    process.stdout.write(
      `[figure] crash ${this.label}: ${this.kills.length} kill points tried, ${this.kills.length} survived (same end state as an uninterrupted run); ` +
        `worker starts took ${this.worker.startTimes.map((t) => (t / 1000).toFixed(1)).join(', ')} s; ${events.length} history events\n`,
    );
    totals.tried += this.kills.length;
    return { result, end };
  }
}

function tsMs(t: { seconds?: unknown; nanos?: number | null }): number {
  return Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

const totals = { tried: 0 };
afterAll(() => {
  if (totals.tried > 0) process.stdout.write(`[figure] crash: ${totals.tried} kill points tried across scenarios, ${totals.tried} survived\n`);
});

async function withRelease<T>(r: CrashedRelease, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    const stderr = r.worker.stderr();
    throw new Error(`${(err as Error).message}\n--- worker stderr (${r.worker.taskQueue}, ${r.kills.length} kills)\n${stderr.slice(-3000)}`, { cause: err });
  } finally {
    await r.worker.stop();
  }
}

describe('a release whose worker is SIGKILLed and restarted', () => {
  // Two releases share the sweep so that their kills (each costing a restart, most also an activity timeout)
  // overlap: one is killed when the timeline reaches an odd length, the other at even lengths.
  it.concurrent.each([
    ['odd', 1],
    ['even', 0],
  ])(
    'ends like an uninterrupted run when the worker is killed each time the status timeline grows to an %s length',
    async (parity, remainder) => {
      const expected = uninterrupted('short', shortSteps);
      const r = new CrashedRelease(`sweep-${parity}`);
      await withRelease(r, async () => {
        await r.start(shortSteps);
        let seen = 0;
        for (;;) {
          // A replacement that is still replaying may not answer at once.
          const s = await r.status().catch(() => undefined);
          if (s?.result) break;
          if (s && s.timeline.length > seen) {
            seen = s.timeline.length;
            const last = s.timeline[seen - 1];
            if (seen % 2 === remainder && (await r.kill(`after timeline entry ${seen} "${last?.action}" (${s.phase})`))) continue;
          }
          await new Promise((res) => setTimeout(res, 150));
        }
        const { result, end } = await r.finish();
        expect(result).toMatchObject({ outcome: 'promoted', stepsCompleted: 3 });
        expect(r.kills.length).toBeGreaterThanOrEqual(2);
        expect(end).toEqual(await expected);
      });
    },
    SCENARIO_TIMEOUT,
  );

  it.concurrent(
    'ends like an uninterrupted run when killed during weight shifts and while finalizing',
    async () => {
      const expected = uninterrupted('shift', shiftSteps);
      const r = new CrashedRelease('shift');
      await withRelease(r, async () => {
        await r.start(shiftSteps);
        // Weight shifts: asked for, not yet verified, so setForwardWeights is in flight (or just wrote the listener).
        // No step waits here, so some shift is always in flight; a poll may miss one, hence ">=".
        for (const w of [25, 60]) {
          const s = await r.waitFor((st) => (st.requestedWeights.canary ?? 0) >= w, `setWeight ${w} requested`, 100);
          await r.kill(`during the shift to ${s.requestedWeights.canary}% (verified so far: canary ${s.verifiedWeights.canary ?? 0}%)`);
        }
        await r.waitFor((s) => s.phase === 'Finalizing' || !!s.result, 'Finalizing', 100);
        if (!(await r.status()).result) await r.kill('while finalizing (old stable leaves the listener and is deleted)');
        const { result, end } = await r.finish();
        expect(result).toMatchObject({ outcome: 'promoted', stepsCompleted: 3 });
        expect(end).toEqual(await expected);
      });
    },
    SCENARIO_TIMEOUT,
  );

  it.concurrent(
    'ends like an uninterrupted run when killed mid-bake, while its pause elapses, and at an approval gate',
    async () => {
      const expected = uninterrupted('gated', gatedSteps, approveAtGate);
      const r = new CrashedRelease('gates');
      await withRelease(r, async () => {
        await r.start(gatedSteps);
        await r.waitFor((s) => s.gate?.kind === 'pause', 'the timed pause');
        // The pause's timer fires while no worker runs; the replacement finds it fired and moves on.
        await r.kill('mid-bake in a 3 s pause, restarted only after the pause ended', async () => {
          const deadline = Date.now() + 60_000;
          while (!(await historyTypes(r.handle)).includes('EVENT_TYPE_TIMER_FIRED')) {
            if (Date.now() > deadline) throw new Error('the pause timer did not fire');
            await new Promise((res) => setTimeout(res, 200));
          }
        });
        await r.waitFor((s) => s.gate?.kind === 'approval', 'the approval gate');
        await r.kill('at the approval gate');
        // Killed again while the replacement has only just started (it may still be replaying).
        await r.kill('at the approval gate, right after the previous replacement started');
        // The approval arrives while no worker runs: a signal is durable in history and is seen after the restart.
        await r.kill('at the approval gate, approved by signal while no worker runs', async () => {
          await r.handle.signal(approveSignal, { by: 'alice' });
        });
        const { result, end } = await r.finish();
        expect(result).toMatchObject({ outcome: 'promoted', stepsCompleted: 5 });
        expect(end).toEqual(await expected);
        const status = await r.status();
        expect(status.timeline.filter((t) => t.action === 'approve')).toEqual([expect.objectContaining({ by: 'alice', accepted: true })]);
      });
    },
    SCENARIO_TIMEOUT,
  );

  it.concurrent(
    'restores the exact pre-release listener when killed during a rollback after an abort',
    async () => {
      const expected = uninterrupted('abort', abortSteps, abortAtGate);
      const r = new CrashedRelease('rollback');
      await withRelease(r, async () => {
        await r.start(abortSteps);
        // Inside the clone: the group exists in AWS, but ensureTargetGroup may not have reported it yet; a retry
        // must adopt it (same release-id tag), and the rollback must delete it.
        await waitForAws(async () => {
          const all = await aws.elbv2.send(new DescribeTargetGroupsCommand({}));
          return (all.TargetGroups ?? []).some((t) => t.VpcId === r.seeded.vpcId && t.TargetGroupName?.startsWith(`${r.service}-v2-`));
        }, 'canary target group in AWS');
        await r.kill('as soon as the canary target group appeared in AWS');
        await r.waitFor((s) => s.gate?.kind === 'approval', 'the approval gate');
        // The abort arrives while no worker runs: the replacement must see it and roll back.
        await r.kill('at the approval gate, aborted by signal while no worker runs', async () => {
          await r.handle.signal(abortSignal, { by: 'bob', reason: 'error budget burnt' });
        });
        await r.waitFor((s) => s.phase === 'RollingBack' || s.phase === 'RolledBack', 'RollingBack', 100);
        await r.kill('as soon as the phase was RollingBack');
        await r.waitFor((s) => s.timeline.some((t) => t.action === 'restored pre-release traffic') || s.phase === 'RolledBack', 'traffic restored', 100);
        await r.kill('after traffic was restored, while the canary group is deleted');
        const { result, end } = await r.finish();
        expect(result).toMatchObject({ outcome: 'aborted', by: 'bob', reason: 'error budget burnt' });
        expect(await forwardActions(aws, r.seeded)).toEqual(r.before);
        expect((await targetGroupsOf(aws, r.seeded)).map((g) => g.name)).toEqual([r.seeded.stableTargetGroupName]);
        expect(r.kills.length).toBeGreaterThanOrEqual(2);
        expect(end).toEqual(await expected);
      });
    },
    SCENARIO_TIMEOUT,
  );
  it.concurrent(
    'ends like an uninterrupted run when killed at the real-ALB steps: attach at weight 0, the drift gate, the drain before delete',
    async () => {
      const expected = uninterrupted('drift', driftSteps, abortAtDriftGate, longDrain);
      const r = new CrashedRelease('realalb');
      await withRelease(r, async () => {
        await r.start(driftSteps, longDrain);
        // The canary is in the forward action at weight 0 (health-checked, no users) and the health wait has not
        // ended: a replacement must not take the attach for drift nor give the canary weight before it is healthy.
        await waitForAws(async () => {
          const forward = (await forwardActions(aws, r.seeded))[0] as { ForwardConfig?: { TargetGroups?: { TargetGroupArn: string; Weight: number }[] } };
          return (forward.ForwardConfig?.TargetGroups ?? []).some((t) => t.TargetGroupArn !== r.seeded.stableTargetGroupArn && t.Weight === 0);
        }, 'the canary attached at weight 0');
        await r.kill('right after the canary was attached at weight 0, before its health wait ended');
        await handEditAtPause(r.handle, r.seeded);
        // The abort arrives while no worker runs: the replacement finds the gate and the signal in history.
        await r.kill('at the drift gate after a hand edit of the listener, aborted by signal while no worker runs', async () => {
          await r.handle.signal(abortSignal, { by: 'bob', reason: 'someone is handling an incident' });
        });
        // Rollback: traffic restored (verified), settled, then the canary group drains before it is deleted.
        await waitForPending(r.handle, 'drainTargetGroup');
        await r.kill('while the canary group drained before its deletion (rollback)');
        const { result, end } = await r.finish();
        expect(result).toMatchObject({ outcome: 'aborted', by: 'bob', reason: 'someone is handling an incident' });
        expect(await forwardActions(aws, r.seeded)).toEqual(r.before);
        expect((await targetGroupsOf(aws, r.seeded)).map((g) => g.name)).toEqual([r.seeded.stableTargetGroupName]);
        expect(r.kills.map((k) => k.point)).toHaveLength(3);
        expect(end).toEqual(await expected);
        const status = await r.status();
        expect(status.timeline.map((t) => t.action)).toEqual(expect.arrayContaining(['attach at weight 0', 'ALERT: drift', 'drained target group']));
      });
    },
    SCENARIO_TIMEOUT,
  );
  it.concurrent(
    'ends like an uninterrupted run when killed while its history fills at a gate and at the continue-as-new, resumed by a signal sent then',
    async () => {
      const expected = uninterrupted('can', canSteps, resumeAfterContinuation, smallHistory);
      const r = new CrashedRelease('can');
      await withRelease(r, async () => {
        await r.start(canSteps, smallHistory);
        await r.waitFor((s) => s.gate?.kind === 'pause', 'the pause gate');
        // The history crosses the limit while no worker runs: the replacement's first task finds it full at the gate.
        await r.kill('at the pause gate, its history filled past the limit by signals while no worker runs', () => ignoredSignals(r.handle, CAN_LIMIT));
        // The replacement continues as new; the new run's first workflow task is the boundary. The resume arrives then.
        await waitForContinuation(r.handle);
        await r.kill('right after the release continued as new, resumed by signal while no worker runs', () => r.handle.signal(resumeSignal, { by: 'alice' }));
        const { result, end } = await r.finish();
        expect(result).toMatchObject({ outcome: 'promoted', stepsCompleted: 3 });
        expect(r.kills).toHaveLength(2);
        expect((await currentRun(r.handle)).continued).toBe(true);
        expect(end).toEqual(await expected);
        const status = await r.status();
        expect(status.timeline.map((t) => t.action)).toEqual(expect.arrayContaining(['continued as new', 'resume']));
        expect(status.timeline.find((t) => t.action === 'resume')).toMatchObject({ by: 'alice', accepted: true });
      });
    },
    SCENARIO_TIMEOUT,
  );
});
