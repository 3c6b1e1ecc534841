/**
 * The runs of a release that continued as new, read from the server's histories, for the long-release tests
 * (test/long, test/month): how many events each run has and what grew it.
 */
import type { Client } from '@temporalio/client';

/** A run of a release as the long-release tests count it. */
export interface Run {
  runId: string;
  events: number;
  /** Background (and step) analysis batches the run scheduled. */
  analyses: number;
  signals: number;
  /** The run this one continued as, if it did. */
  next?: string;
}

interface HistoryEvent {
  workflowExecutionContinuedAsNewEventAttributes?: { newExecutionRunId?: string | null } | null;
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null;
  workflowExecutionSignaledEventAttributes?: unknown;
}
type History = { events?: HistoryEvent[] | null };

/** Every run of a workflow id, first to last, by following each history's continued-as-new event. */
export async function runsOf(client: Client, workflowId: string, firstRunId: string): Promise<Run[]> {
  // Walked back from the newest run by each start event's `continuedExecutionRunId` (what canary history does): the
  // time-skipping server has been seen to leave a run RUNNING, without its continued-as-new event, after the next
  // run started from it (a quirk of the test server, not seen on the dev server).
  const runs: Run[] = [];
  let runId: string | undefined = (await client.workflow.getHandle(workflowId).describe()).runId;
  for (let next: string | undefined; runId;) {
    const history: History = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    runs.unshift({
      runId,
      events: events.length,
      analyses: events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runAnalysis').length,
      signals: events.filter((e) => e.workflowExecutionSignaledEventAttributes).length,
      next,
    });
    next = runId;
    const started = events[0] as { workflowExecutionStartedEventAttributes?: { continuedExecutionRunId?: string | null } } | undefined;
    runId = runId === firstRunId ? undefined : started?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }
  return runs;
}
