/**
 * Issue 14: a release that lasts weeks keeps its history bounded by continuing as new (ReleaseInput.historyEventLimit)
 * at its gates, on the time-skipping test server with the activities replaced at the contract boundary.
 *
 * The history grows here by messages (signals the release records as ignored: 4 events each), not by background
 * analysis batches: the test server stops skipping time while an activity runs, and a background batch answered at
 * once makes a busy loop that starves the server (workflow tasks expire, env.sleep stops advancing; tried, see the
 * report of branch tsfix). A small `historyEventLimit` makes the release continue as new several times in 30 days.
 */
import type { Client } from '@temporalio/client';
import { approveSignal, resumeUpdate, statusQuery } from '../../common/messages';
import type { ReleaseStatus } from '../../common/status';
import { timeSkippingRelease, waitForStatus, type StartedRelease } from '../support/time-skipping';

const releases = timeSkippingRelease();

const LIMIT = 120;
/** What a run may add after the check that found its history full: the handover's own events. */
const MARGIN = 30;
const DAY = 86_400_000;

interface Run {
  runId: string;
  events: number;
  /** The run this one continued as, if it did. */
  next?: string;
}

type History = { events?: { workflowExecutionContinuedAsNewEventAttributes?: { newExecutionRunId?: string | null } | null }[] | null };

/** Every run of a workflow id, first to last, by following each history's continued-as-new event. */
async function runsOf(client: Client, workflowId: string, firstRunId: string): Promise<Run[]> {
  const runs: Run[] = [];
  for (let runId: string | undefined = firstRunId; runId;) {
    const history: History = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    const next: string | undefined = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    runs.push({ runId, events: events.length, next });
    runId = next;
  }
  return runs;
}

/** Signals the release records as ignored (an approval of a step that is not open): each adds a few events to the history. */
async function noise(handle: StartedRelease['handle'], n: number): Promise<void> {
  // A handle without a run id: the handle `start` returns stays on the first run.
  const live = releases.env.client.workflow.getHandle(handle.workflowId);
  for (let i = 0; i < n; i++) await live.signal(approveSignal, { by: 'mallory', step: 99, comment: `noise ${i}` });
}

describe('a 30-day release continues as new', () => {
  it('indefinite pause, then an approval gate that times out: bounded runs, one deadline, timeline and saga intact', async () => {
    const { handle, fake } = await releases.start(
      {
        notifications: { webhook: 'ops' },
        steps: [{ setWeight: 10 }, { pause: {} }, { approval: { timeout: '7d', onTimeout: 'rollback' } }, { setWeight: 100 }],
      },
      undefined,
      {},
      { historyEventLimit: LIMIT },
    );
    const { env } = releases;
    await waitForStatus(handle, (s) => s.gate?.kind === 'pause', 'indefinite pause');

    // 23 days at the indefinite pause, a day at a time, with a few messages a day.
    for (let day = 0; day < 23; day++) {
      await noise(handle, 10);
      await env.sleep(DAY);
    }
    const paused = await handle.query(statusQuery);
    expect(paused).toMatchObject({ phase: 'Paused', step: 1, gate: { kind: 'pause', step: 1 } });
    expect(paused.gate?.deadline).toBeUndefined();
    expect((await runsOf(env.client, handle.workflowId, handle.firstExecutionRunId)).length).toBeGreaterThanOrEqual(2);

    await handle.executeUpdate(resumeUpdate, { args: [{ by: 'alice', comment: 'looks stable' }] });
    const gated = await waitForStatus(handle, (s) => s.gate?.kind === 'approval', 'approval gate');
    const deadline = gated.gate?.deadline;
    const gateRun = (await handle.describe()).runId;
    expect(Date.parse(deadline ?? '') - Date.parse(gated.gate?.openedAt ?? '')).toBe(7 * DAY);

    // Six of the seven days: the gate is carried to every new run with its first deadline.
    const seenRuns = new Set<string>();
    const deadlines = new Set<string | undefined>();
    for (let day = 0; day < 6; day++) {
      await noise(handle, 25);
      await env.sleep(DAY);
      const s: ReleaseStatus = await handle.query(statusQuery);
      deadlines.add(s.gate?.deadline);
      seenRuns.add((await handle.describe()).runId);
      expect(s).toMatchObject({ phase: 'AwaitingApproval', step: 2, gate: { kind: 'approval', step: 2 } });
    }
    expect([...deadlines]).toEqual([deadline]);
    // The gate outlived at least one continue-as-new.
    seenRuns.delete(gateRun);
    expect(seenRuns.size).toBeGreaterThanOrEqual(1);

    // The rest of the gate's time passes: it times out and the release rolls back.
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'rolled-back', by: 'canary', reason: 'approval at step 2 timed out after 7d', stepsCompleted: 2 });
    expect(result.durationMs).toBeGreaterThanOrEqual(30 * DAY);
    expect(fake.actions).toEqual(fake.originalActions);
    expect(fake.groupNames()).toEqual([fake.stable.name]);

    const runs = await runsOf(env.client, handle.workflowId, handle.firstExecutionRunId);
    expect(runs.length).toBeGreaterThanOrEqual(4);
    for (const r of runs) expect(r.events).toBeLessThanOrEqual(LIMIT + MARGIN);
    expect(runs.at(-1)?.next).toBeUndefined();

    // The last run holds the whole story: the first entries of the first run, every handover, the saga it undid.
    const status = await handle.query(statusQuery);
    const actions = status.timeline.map((t) => t.action);
    expect(actions.slice(0, 3)).toEqual(['start', 'create canary target group', 'attach at weight 0']);
    // Bounded (the first 20 entries and the newest): the ignored messages pushed older handovers out, the last one is there.
    expect(status.timeline.length).toBeLessThanOrEqual(300);
    expect(status.timeline.filter((t) => t.action === 'continued as new').at(-1)?.detail).toBe(`run ${runs.length}; history of the previous run was full`);
    expect(actions.slice(actions.lastIndexOf('approval timed out'))).toEqual([
      'approval timed out',
      'rollback',
      'restored pre-release traffic',
      'drained target group',
      'delete target group',
    ]);
    expect(status).toMatchObject({ phase: 'RolledBack', rollbackPlan: [] });
    expect(fake.callsOf('restoreActions')).toHaveLength(1);
    expect(fake.callsOf('deleteTargetGroup').map((c) => c.outcome)).toEqual(['ok']);
    // Announced once, not once per run.
    expect(fake.notifications.map((n) => n.event)).toEqual(['approval-needed', 'rolled-back']);
    process.stdout.write(
      `[figure] 30-day release: ${runs.length} runs, events per run ${runs.map((r) => r.events).join(', ')} (limit ${LIMIT}); ${(result.durationMs / DAY).toFixed(1)} days of workflow time\n`,
    );
  }, 110_000);

  it('an approval signalled right at a continue-as-new is not lost', async () => {
    const { handle, fake } = await releases.start(
      { steps: [{ setWeight: 10 }, { approval: { timeout: '7d', onTimeout: 'rollback' } }, { setWeight: 100 }], promotion: { keepPreviousFor: '0s' } },
      undefined,
      {},
      { historyEventLimit: LIMIT },
    );
    const { env } = releases;
    await waitForStatus(handle, (s) => s.gate?.kind === 'approval', 'approval gate');
    // Messages until the run is one short of its limit: the approval is the message that fills it.
    let described = await handle.describe();
    while ((described.historyLength ?? 0) < LIMIT - 1) {
      await noise(handle, 1);
      described = await handle.describe();
    }
    const runAtSignal = described.runId;
    await env.client.workflow.getHandle(handle.workflowId).signal(approveSignal, { by: 'alice', step: 1, comment: 'at the boundary' });

    expect(await handle.result()).toMatchObject({ outcome: 'promoted', stepsCompleted: 3 });
    const status = await handle.query(statusQuery);
    expect(status.timeline.filter((t) => t.action === 'approve' && t.accepted).map((t) => [t.by, t.detail])).toEqual([['alice', 'step 1: at the boundary']]);
    const runs = await runsOf(env.client, handle.workflowId, handle.firstExecutionRunId);
    process.stdout.write(
      `[figure] approve signalled to run ${runs.findIndex((r) => r.runId === runAtSignal) + 1} at ${described.historyLength} events; runs: ${runs
        .map((r) => r.events)
        .join(', ')}\n`,
    );
    expect(fake.forward()).toEqual([{ name: fake.groupNames()[0], weight: 100 }]);
  });
});
