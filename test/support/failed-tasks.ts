/**
 * A release's result, or an error as soon as one of its workflow tasks fails. A nondeterministic replay fails its
 * workflow task again at every retry, so the release never ends and a test that only awaits the result waits for
 * its own timeout and says nothing of why. Here the failure's message comes back at once, and the history is saved
 * in the stack's log directory (CANARY_TEST_LOG_DIR) for `Worker.runReplayHistory` or a look.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { historyToJSON } from './history-json';

const EventType = temporal.api.enums.v1.EventType;

/** Writes a history as JSON into the stack's log directory (a temporary one outside jest) and says where. */
function saveHistory(history: Parameters<typeof historyToJSON>[0], name: string): string {
  const dir = process.env.CANARY_TEST_LOG_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'canary-history-'));
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, historyToJSON(history));
  return file;
}

/** The first failed workflow task of the handle's current run, with the history saved; undefined if none failed. */
export async function failedTask(handle: WorkflowHandle): Promise<string | undefined> {
  const history = await handle.fetchHistory();
  const failed = (history.events ?? []).find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED);
  if (!failed) return undefined;
  const a = failed.workflowTaskFailedEventAttributes;
  const cause = temporal.api.enums.v1.WorkflowTaskFailedCause[a?.cause ?? 0] ?? String(a?.cause);
  const file = saveHistory(history, `failed-task-${handle.workflowId}-event-${failed.eventId}`);
  return `${handle.workflowId}: workflow task failed at event ${failed.eventId} (${cause}): ${a?.failure?.message ?? '?'}; history saved to ${file}`;
}

/**
 * Awaits the handle's result, watching its workflow tasks meanwhile: rejects with {@link failedTask}'s message as soon
 * as one fails. Cheap while nothing fails: the watch reads only the pending workflow task's attempt (a task retried
 * after a timeout, as after a killed worker, is on attempt 2 too; then the history says whether one failed).
 */
export async function resultOrFailedTask<H extends WorkflowHandle>(handle: H, everyMs = 1_000): Promise<Awaited<ReturnType<H['result']>>> {
  let done = false;
  const watch = async (): Promise<never> => {
    while (!done) {
      const d = await handle.describe().catch(() => undefined);
      if ((d?.raw.pendingWorkflowTask?.attempt ?? 1) > 1) {
        const problem = await failedTask(handle).catch(() => undefined);
        if (problem) throw new Error(problem);
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
    return new Promise<never>(() => undefined);
  };
  try {
    return await Promise.race([handle.result() as Promise<Awaited<ReturnType<H['result']>>>, watch()]);
  } finally {
    done = true;
  }
}

/**
 * Replays the handle's history on the test bundle from scratch, as a worker that has never seen the release would:
 * a history written in an order that a replay would not reproduce fails here, even if no live task failed (the
 * live worker kept the release cached). Resolves, when it replays, with the history it replayed.
 */
export async function replaysFromScratch(handle: WorkflowHandle, bundlePath: string): Promise<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>> {
  const history = await handle.fetchHistory();
  try {
    await Worker.runReplayHistory({ workflowBundle: { codePath: bundlePath } }, history, handle.workflowId);
  } catch (err) {
    const file = saveHistory(history, `replay-failed-${handle.workflowId}`);
    throw new Error(`${handle.workflowId}: its history does not replay (${(err as Error).message}); history saved to ${file}`, { cause: err });
  }
  return history;
}
