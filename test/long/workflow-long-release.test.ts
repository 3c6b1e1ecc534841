/**
 * Issue 14: a release that lasts weeks keeps its history bounded by continuing as new (ReleaseInput.historyEventLimit)
 * at its gates, on the time-skipping test server with the activities replaced at the contract boundary.
 *
 * The 30-day test grows its history by messages (signals the release records as ignored: 4 events each). The bake
 * test grows it by background analysis batches as a real bake does: the fake's batches (`backgroundBatches: 'pass'`)
 * take their measuring time on the test server's clock. A batch that answered at once would make a loop of batches in
 * which no workflow time passes, and one that waited on a wall-clock timer would hold the server's time still (the
 * server locks time skipping while an activity is scheduled). A small `historyEventLimit` makes the release continue
 * as new several times.
 */
import { temporal } from '@temporalio/proto';
import { formatRunHistory, runHistoryJson } from '../../client/format';
import { readReleaseRuns, timelineByRun } from '../../client/report-data';
import { abortUpdate, approveSignal, pauseUpdate, resumeUpdate, statusQuery } from '../../common/messages';
import { TIMELINE_MAX, type ReleaseStatus } from '../../common/status';
import { runsOf } from '../support/release-runs';
import { updateAdmitted } from '../support/updates';
import { signalHandled, timeSkippingRelease, type StartedRelease, waitForStatus } from '../support/time-skipping';

const releases = timeSkippingRelease();

const LIMIT = 120;
/**
 * What a run may add after the check that found its history full: the handover's own events, and the signals of a
 * burst that were already on their way (each one the run must take before the server lets it continue as new).
 */
const MARGIN = 45;
const DAY = 86_400_000;
const HOUR = 3_600_000;

/** Signals the release records as ignored (an approval of a step that is not open): each adds a few events to the history. */
async function noise(handle: StartedRelease['handle'], n: number): Promise<void> {
  // A handle without a run id: the handle `start` returns stays on the first run.
  const live = releases.env.client.workflow.getHandle(handle.workflowId);
  for (let i = 0; i < n; i++) await live.signal(approveSignal, { by: 'mallory', step: 99, comment: `noise ${i}` });
}

/**
 * Where the 30-day test stands, printed with its release's status and the server's clock if it ends without reaching
 * 'done': a jest timeout says nothing else (a fresh-clone run on 2026-12-08 hung here once, until jest's bound).
 */
const progress: { stage: string; handle?: StartedRelease['handle'] } = { stage: 'done' };
afterEach(async () => {
  if (progress.stage === 'done') return;
  const { stage, handle } = progress;
  progress.stage = 'done';
  const status = handle ? await handle.query(statusQuery).catch((err: Error) => `query failed: ${err.message}`) : 'no release yet';
  const clock = await releases.env
    .currentTimeMs()
    .then((ms) => new Date(ms).toISOString())
    .catch((err: Error) => `currentTimeMs failed: ${err.message}`);
  process.stderr.write(`[workflow-long-release] the test ended at stage "${stage}"; server time ${clock}; status ${JSON.stringify(status).slice(0, 1500)}\n`);
});

describe('a 30-day release continues as new', () => {
  it('indefinite pause, then an approval gate that times out: bounded runs, one deadline, timeline and saga intact', async () => {
    progress.stage = 'start';
    const { handle, fake } = await releases.start(
      {
        notifications: { webhook: 'ops' },
        steps: [{ setWeight: 10 }, { pause: {} }, { approval: { timeout: '7d', onTimeout: 'rollback' } }, { setWeight: 100 }],
      },
      undefined,
      {},
      { historyEventLimit: LIMIT },
    );
    progress.handle = handle;
    const { env } = releases;
    progress.stage = 'waiting for the indefinite pause';
    await waitForStatus(handle, (s) => s.gate?.kind === 'pause', 'indefinite pause');

    // 23 days at the indefinite pause, a day at a time, with a few messages a day.
    for (let day = 0; day < 23; day++) {
      progress.stage = `day ${day + 1} of 23 at the pause`;
      await noise(handle, 10);
      await env.sleep(DAY);
    }
    const paused = await handle.query(statusQuery);
    expect(paused).toMatchObject({ phase: 'Paused', step: 1, gate: { kind: 'pause', step: 1 } });
    expect(paused.gate?.deadline).toBeUndefined();
    expect((await runsOf(env.client, handle.workflowId, handle.firstExecutionRunId)).length).toBeGreaterThanOrEqual(2);

    progress.stage = 'resuming, then waiting for the approval gate';
    await handle.executeUpdate(resumeUpdate, { args: [{ by: 'alice', comment: 'looks stable' }] });
    const gated = await waitForStatus(handle, (s) => s.gate?.kind === 'approval', 'approval gate');
    const deadline = gated.gate?.deadline;
    const gateRun = (await handle.describe()).runId;
    expect(Date.parse(deadline ?? '') - Date.parse(gated.gate?.openedAt ?? '')).toBe(7 * DAY);

    // Six of the seven days: the gate is carried to every new run with its first deadline.
    const seenRuns = new Set<string>();
    const deadlines = new Set<string | undefined>();
    for (let day = 0; day < 6; day++) {
      progress.stage = `day ${day + 1} of 6 at the approval gate`;
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
    progress.stage = "waiting for the result (the gate's last day)";
    const result = await handle.result();
    progress.stage = 'done';
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
    expect(actions.slice(0, 4)).toEqual(['start', 'room for target groups', 'create canary target group', 'attach at weight 0']);
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
  }, 240_000);

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

  it('a day-long bake with half-hourly background analysis: the history grows from batches, the release keeps its gate, saga, weights and counters across runs', async () => {
    // Above the ~70 events a release has when its pause opens: the first handover comes from batches too.
    const limit = 80;
    const { handle, fake } = await releases.start(
      {
        // 23 h 15 m: the 46th batch ends before the pause does, the 47th is still measuring when it ends.
        steps: [{ setWeight: 10 }, { pause: { duration: '1395m' } }, { setWeight: 100 }],
        backgroundAnalysis: { template: 'errors', interval: '1m', reportEvery: '30m' },
        promotion: { keepPreviousFor: '0s' },
      },
      undefined,
      { backgroundBatches: 'pass' },
      { historyEventLimit: limit },
    );
    const { env } = releases;
    const opened = await waitForStatus(handle, (s) => s.gate?.kind === 'pause', 'timed pause');
    const deadline = opened.gate?.deadline;
    expect(Date.parse(deadline ?? '') - Date.parse(opened.gate?.openedAt ?? '')).toBe(1395 * 60_000);
    const plan = opened.rollbackPlan;
    expect(plan.length).toBeGreaterThan(0);

    // Every 4 hours of the bake (a quarter of an hour off the batches' ends): the same gate, deadline, saga and
    // weights, whichever run holds them; the counters grow by every batch.
    const seenRuns = new Set<string>();
    let measured = 0;
    await env.sleep(HOUR / 4);
    for (let h = 4; h <= 20; h += 4) {
      await env.sleep(4 * HOUR);
      const s: ReleaseStatus = await handle.query(statusQuery);
      seenRuns.add((await handle.describe()).runId);
      expect(s).toMatchObject({ phase: 'Paused', step: 1, gate: { kind: 'pause', step: 1, deadline }, rollbackPlan: plan });
      expect(s.requestedWeights).toEqual(opened.requestedWeights);
      expect(s.verifiedWeights).toEqual(opened.verifiedWeights);
      const counters = s.backgroundAnalysis?.counters;
      // A 30-measurement batch every half hour; the one measuring at the check has not reported yet.
      expect(counters?.measurements).toBe(h * 60);
      expect(counters).toMatchObject({ failed: 0, inconclusive: 0, errors: 0 });
      expect(counters?.measurements ?? 0).toBeGreaterThan(measured);
      measured = counters?.measurements ?? 0;
    }
    expect(seenRuns.size).toBeGreaterThanOrEqual(3);

    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'promoted', stepsCompleted: 3 });
    expect(fake.forward()).toEqual([{ name: fake.groupNames()[0], weight: 100 }]);
    const status = await handle.query(statusQuery);
    // 46 whole batches: none lost or counted twice at a handover; the 47th was cancelled by promotion.
    expect(status.backgroundAnalysis?.counters.measurements).toBe(46 * 30);
    expect(status.timeline.map((t) => t.action)).toContain('pause ended');
    expect(status.timeline.find((t) => t.action === 'pause ended')?.detail).toBe('after 23h15m');

    const runs = await runsOf(env.client, handle.workflowId, handle.firstExecutionRunId);
    expect(runs.length).toBeGreaterThanOrEqual(4);
    for (const r of runs) {
      expect(r.events).toBeLessThanOrEqual(limit + MARGIN);
      // The history grew from analysis batches, not from messages.
      expect(r.signals).toBe(0);
      expect(r.analyses).toBeGreaterThanOrEqual(1);
    }
    expect(runs.reduce((n, r) => n + r.analyses, 0)).toBe(fake.callsOf('runAnalysis').length);
    process.stdout.write(
      `[figure] 23 h 15 m bake, batch every 30m: ${runs.length} runs, events per run ${runs.map((r) => r.events).join(', ')} (limit ${limit}), batches per run ${runs
        .map((r) => r.analyses)
        .join(', ')}\n`,
    );
  }, 240_000);

  it("a batch measuring on the server's clock when its run closes ends when the test settles, though the test's client holds that clock", async () => {
    const { handle, fake } = await releases.start(
      { steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 100 }], backgroundAnalysis: { template: 'errors', interval: '1m', reportEvery: '30m' } },
      undefined,
      { backgroundBatches: 'pass' },
    );
    const { env } = releases;
    await waitForStatus(handle, (s) => s.gate?.kind === 'pause', 'indefinite pause');
    const measuring = () => fake.callsOf('runAnalysis').find((c) => c.outcome === undefined);
    for (const deadline = Date.now() + 30_000; !measuring() && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 20));
    expect(measuring()).toBeDefined();
    // 5 s of server time into the batch's first 50 s slice; when the sleep returns, the client holds the clock again
    // (as it does once result() has returned), so the clock runs at wall speed.
    await env.sleep(5_000);
    await handle.terminate('the run closes in the middle of a slice');
    // The batch hears that its run closed at the end of its slice, some 45 s of that clock away: settling lets that
    // time pass instead of waiting for it.
    expect(await fake.settled()).toBeUndefined();
    expect(fake.callsOf('runAnalysis').map((c) => c.outcome)).toEqual(['cancelled']);
  });

  it('a signal and an update sent while the run is continuing as new both take effect, and the next run holds them', async () => {
    const { handle, fake } = await releases.start(
      { steps: [{ setWeight: 10 }, { approval: { timeout: '7d', onTimeout: 'rollback' } }, { setWeight: 100 }], promotion: { keepPreviousFor: '0s' } },
      undefined,
      {},
      { historyEventLimit: LIMIT },
    );
    const { env } = releases;
    await waitForStatus(handle, (s) => s.gate?.kind === 'approval', 'approval gate');
    const firstRun = (await handle.describe()).runId;
    // The run decides to continue as new at the message that fills its history; its answer is held on the worker.
    const held = releases.holdContinueAsNew(handle.workflowId);
    const live = env.client.workflow.getHandle(handle.workflowId);
    while (!(await Promise.race([held.reached.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 50))]))) await noise(handle, 1);

    // During the continue-as-new: an approval by signal and a pause by update.
    await live.signal(approveSignal, { by: 'alice', step: 1, comment: 'during the handover' });
    const updateId = 'pause-during-handover';
    const paused = live.executeUpdate(pauseUpdate, { args: [{ by: 'bob', reason: 'hold before 100%' }], updateId }).then(
      (ack) => ({ ack }),
      (err: Error) => ({ err }),
    );
    // The held answer goes once the server has admitted the update (it waits there for a workflow task to take it).
    await updateAdmitted(env.client, handle.workflowId, updateId);
    held.release();

    const outcome = await paused;
    const status = await waitForStatus(live, (s) => s.gate?.kind === 'manual-pause', 'manual pause before step 2');
    const runs = await runsOf(env.client, handle.workflowId, handle.firstExecutionRunId);
    process.stdout.write(
      `[figure] messages during a continue-as-new: runs ${runs.map((r) => `${r.events}${r.runId === firstRun ? ' (held)' : ''}`).join(', ')}; update ${
        'ack' in outcome ? `accepted: ${outcome.ack.message}` : `failed: ${outcome.err.message}`
      }\n`,
    );
    // The server refused the held continue-as-new (new messages had arrived during its workflow task), so the held
    // run handled both messages itself and then continued as new with them applied.
    const held1 = (await env.client.workflow.getHandle(handle.workflowId, firstRun).fetchHistory()).events ?? [];
    const refused = held1.findIndex(
      (e) => e.workflowTaskFailedEventAttributes?.cause === temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
    );
    const pauseAccepted = held1.findIndex((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'pause');
    expect(refused).toBeGreaterThan(0);
    // Alice's approval is among the signals the held run took after the refusal (a noise signal sent while the hold
    // was being reached may land there too, under load).
    const signalled = held1
      .slice(refused)
      .flatMap((e) => e.workflowExecutionSignaledEventAttributes?.input?.payloads ?? [])
      .map((p) => JSON.parse(Buffer.from(p.data ?? new Uint8Array()).toString('utf8')) as { by?: string; comment?: string });
    expect(signalled.filter((p) => p.by === 'alice')).toEqual([expect.objectContaining({ by: 'alice', comment: 'during the handover' })]);
    expect(signalled.filter((p) => p.by !== 'alice').every((p) => p.by === 'mallory')).toBe(true);
    expect(pauseAccepted).toBeGreaterThan(refused);
    expect(held1.at(-1)?.workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs[0]?.runId).toBe(firstRun);
    // Both took effect once, in whichever run handled them: the approval passed the gate, the pause holds step 2.
    expect(outcome).toEqual({ ack: expect.objectContaining({ accepted: true, message: expect.stringContaining('paused') }) });
    expect(status).toMatchObject({ phase: 'Paused', step: 2, paused: true });
    const accepted = status.timeline.filter((t) => t.accepted && (t.action === 'approve' || t.action === 'pause')).map((t) => [t.action, t.by]);
    expect(accepted).toEqual([
      ['approve', 'alice'],
      ['pause', 'bob'],
    ]);
    expect(fake.forward().find((f) => f.name !== fake.stable.name)?.weight).toBe(10);

    await live.executeUpdate(resumeUpdate, { args: [{ by: 'bob' }] });
    expect(await live.result()).toMatchObject({ outcome: 'promoted', stepsCompleted: 3 });
  });

  it('canary history shows every run of the release, oldest first, past the bound of the live timeline', async () => {
    const { handle } = await releases.start({ steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 100 }] }, undefined, {}, { historyEventLimit: LIMIT });
    const { env } = releases;
    await waitForStatus(handle, (s) => s.gate?.kind === 'pause', 'indefinite pause');
    // More ignored messages than the live timeline keeps, each from its own sender so every entry is distinct.
    const live = env.client.workflow.getHandle(handle.workflowId);
    const sent = 330;
    // Paced, as people send them: a run refuses to continue as new while messages keep arriving. Each is waited for
    // on describe, not on a status query (a query sent during a handover may never be answered: signalHandled).
    for (let i = 0; i < sent; i++) await signalHandled(live, approveSignal, { by: `mallory-${i}`, step: 99 });
    // (The newest ignored entry: a continue-as-new may have recorded its handover after it.)
    await waitForStatus(live, (s) => s.timeline.filter((e) => !e.accepted).at(-1)?.by === `mallory-${sent - 1}`, 'last message handled');
    // The status and the runs read while no run continues as new: a handover between the two reads would hand the
    // newest run a timeline newer than the status it is compared with.
    let status: ReleaseStatus;
    let runs: Awaited<ReturnType<typeof readReleaseRuns>>;
    for (;;) {
      const before = (await live.describe()).runId;
      status = await live.query(statusQuery);
      runs = await readReleaseRuns(env.client, handle.workflowId);
      if (runs.at(-1)?.runId === before && (await live.describe()).runId === before) break;
    }
    expect(status.timeline.length).toBe(TIMELINE_MAX);

    const byRun = timelineByRun(runs, status.timeline);
    // From the first run to the one running now.
    expect(byRun[0]?.runId).toBe(handle.firstExecutionRunId);
    expect(byRun.at(-1)?.runId).toBe((await live.describe()).runId);
    expect(byRun.length).toBeGreaterThanOrEqual(4);
    // (Only the newest run's status: the time-skipping server may leave an older run RUNNING, see runsOf.)
    expect(byRun.at(-1)?.status).toBe('RUNNING');
    const all = byRun.flatMap((r) => r.entries);
    // Every message once, in the order sent, and every run's handover entry at its start.
    expect(all.filter((e) => !e.accepted).map((e) => e.by)).toEqual(Array.from({ length: sent }, (_, i) => `mallory-${i}`));
    expect(all.slice(0, 4).map((e) => e.action)).toEqual(['start', 'room for target groups', 'create canary target group', 'attach at weight 0']);
    for (const r of byRun.slice(1))
      expect(r.entries[0]).toMatchObject({ action: 'continued as new', detail: `run ${r.run}; history of the previous run was full` });
    expect(new Set(all.map((e) => JSON.stringify(e))).size).toBe(all.length);

    const text = formatRunHistory(byRun).split('\n');
    const markers = text.filter((l) => l.startsWith('── run '));
    expect(markers).toHaveLength(byRun.length);
    // As the server reports the first run (see runsOf for the test server's quirk).
    const firstEnded = byRun[0]?.status === 'RUNNING' ? 'running' : 'continued as new';
    expect(markers[0]).toMatch(new RegExp(`^── run 1 of ${byRun.length}  ${byRun[0]?.runId}  from .*, ${firstEnded} ──$`));
    expect(markers.at(-1)).toMatch(/, running ──$/);
    expect(text).toHaveLength(1 + byRun.length + all.length);
    const json = runHistoryJson(byRun);
    expect(json.timeline.filter((e) => e.ignored)).toHaveLength(sent);
    expect(json.timeline.filter((e) => e.ignored).at(-1)).toMatchObject({ by: `mallory-${sent - 1}`, ignored: true });

    await handle.executeUpdate(abortUpdate, { args: [{ by: 'bob', reason: 'done looking' }] });
    expect(await handle.result()).toMatchObject({ outcome: 'aborted' });
  }, 240_000);
});
