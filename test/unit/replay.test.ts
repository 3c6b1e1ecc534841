/**
 * Determinism: every recorded history in test/fixtures/histories (test/support/record-histories.ts made them) replays
 * against the current workflow code without a nondeterminism error. A change to the workflow that would break
 * running releases fails here: before 1.0, re-record the histories; from 1.0 on, version the change and record a
 * new history next to the old ones.
 *
 * Replay runs in-process (no server): a replay worker feeds each history to the bundled workflow code.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { historyFromJSON, releaseWorkflowIdOf, type History } from '../support/history-json';

const HISTORIES_DIR = path.resolve(__dirname, '..', 'fixtures', 'histories');

try {
  // The incompatible variant makes Core log each nondeterminism at WARN; expected here, so only errors show.
  Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR' }, forward: {} } } });
} catch {
  // another test file in this jest worker installed it
}

interface Fixture {
  file: string;
  workflowId: string;
  history: History;
}

const fixtures: Fixture[] = fs
  .readdirSync(HISTORIES_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((file) => {
    const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, file), 'utf8')));
    return { file, workflowId: releaseWorkflowIdOf(history), history };
  });

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: (m: string) => process.stderr.write(`[bundler] ${m}\n`) };

async function bundle(workflowsPath: string): Promise<WorkflowBundle> {
  return { code: (await bundleWorkflowCode({ workflowsPath, logger: quiet })).code };
}

/** Replays every fixture against `workflowBundle`; the error (or undefined) per file. */
async function replayAll(workflowBundle: WorkflowBundle): Promise<Record<string, Error | undefined>> {
  const byId = new Map(fixtures.map((f) => [f.workflowId, f.file]));
  const out: Record<string, Error | undefined> = {};
  const results = Worker.runReplayHistories(
    { workflowBundle, replayName: 'canary-replay-test' },
    fixtures.map((f) => ({ workflowId: f.workflowId, history: f.history })),
  );
  for await (const r of results) out[byId.get(r.workflowId) ?? r.workflowId] = r.error;
  return out;
}

let current: WorkflowBundle;
let incompatible: WorkflowBundle;

beforeAll(async () => {
  [current, incompatible] = await Promise.all([bundle(require.resolve('../../workflows')), bundle(require.resolve('../support/incompatible-workflows'))]);
}, 180_000);

describe('recorded release histories', () => {
  it('cover a promotion with gates, an analysis failure, an abort at a gate, a full promotion, a drift gate, a segment, a continued run, a promote that ends a manual pause, a signed approval and hooks around a test route', () => {
    // Before 1.0 a behaviour change re-records these (test/support/record-histories.ts); from 1.0 on, new paths
    // get new recordings next to these, which keep replaying.
    expect(fixtures.map((f) => f.file).sort()).toEqual(
      [
        'healthy-gated',
        'analysis-fail-rollback',
        'abort-at-gate',
        'promote-full-at-pause',
        'drift-adopted',
        'segment-staff',
        'continued-at-pause',
        'promote-ends-manual-pause',
        'signed-approval',
        'hooks-test-route',
      ]
        .map((s) => `${s}.json`)
        .sort(),
    );
    // Distinct workflow ids: the replay results are told apart by them.
    expect(new Set(fixtures.map((f) => f.workflowId)).size).toBe(fixtures.length);
  });

  it('replay against the current workflow code without a nondeterminism error', async () => {
    const errors = await replayAll(current);
    expect(Object.keys(errors).sort()).toEqual(fixtures.map((f) => f.file).sort());
    expect(
      Object.entries(errors)
        .filter(([, e]) => e !== undefined)
        .map(([file, e]) => `${file}: ${e?.name}: ${e?.message}`),
    ).toEqual([]);
  }, 120_000);

  it('fail to replay against a workflow that starts with an extra timer, with a DeterminismViolationError for each', async () => {
    const errors = await replayAll(incompatible);
    for (const f of fixtures) {
      const err = errors[f.file];
      expect(err).toBeInstanceOf(DeterminismViolationError);
      expect(err?.message).toMatch(/nondetermin/i);
    }
  }, 120_000);
});

/**
 * KNOWN SDK BUG, pinned here so that an SDK upgrade that fixes it shows (this test then fails: turn it into a plain
 * replay test). Recorded by test/integration/workers.test.ts under heavy load (two worker processes, each caching
 * two releases; 2 failures in 11 repeats while other integration files ran alongside). The test approved by update as
 * soon as the status query showed the approval gate, and the server delivered the update in the very workflow task
 * that carried the activity result opening the gate (sequenced at event 53; the query had apparently seen the state
 * of that task before it completed). The live worker accepted the update after the commands of that result (the
 * gate's search attributes, events 56-57; accepted at 58): its validator saw the gate open, so it ran after them. On
 * replay the SDK delivers the update before them (our code cannot move the accept: the SDK issues it as soon as the
 * validator passes, and on replay the validator is skipped), so the first command no longer matches event 56. Every
 * later workflow task of the release then fails (TMPRL1100) and the release stays where it is until someone resets
 * it. An abort by update hit the same in the same run of repeats.
 */
describe('a history whose update arrived with the activity result that opened its gate (KNOWN SDK BUG)', () => {
  const file = path.resolve(__dirname, '..', 'fixtures', 'sdk-update-ordering', 'approve-with-activity-result.json');
  const history = historyFromJSON(JSON.parse(fs.readFileSync(file, 'utf8')));
  const events = history.events ?? [];

  it('was written with the update accepted after the commands of the activity result it arrived with', () => {
    const at = (id: number) => events.find((e) => Number(e.eventId) === id);
    expect(at(52)?.activityTaskCompletedEventAttributes).toBeTruthy();
    expect(Object.keys(at(56)?.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {})).toEqual(['CanaryWeight']);
    expect(Object.keys(at(57)?.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {})).toEqual(['ReleasePhase']);
    expect(Number(at(58)?.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequestSequencingEventId)).toBe(53);
    expect(at(59)?.workflowExecutionUpdateCompletedEventAttributes).toBeTruthy();
  });

  it('does not replay: the SDK delivers the update before the commands the live worker issued first', async () => {
    const err = await Worker.runReplayHistory({ workflowBundle: current, replayName: 'canary-replay-test' }, history, releaseWorkflowIdOf(history)).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(DeterminismViolationError);
    expect(err?.message).toContain('Update machine does not handle this event: HistoryEvent(id: 56, UpsertWorkflowSearchAttributes)');
  }, 60_000);
});
