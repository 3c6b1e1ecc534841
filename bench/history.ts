/**
 * Reading figures out of workflow histories: event times (the server's clock), activity executions,
 * workflow task latencies, and history size in events and encoded bytes.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

export type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const EventType = temporal.api.enums.v1.EventType;

/** A fetched history with the figures every measurement needs. */
export interface RunHistory {
  workflowId: string;
  events: HistoryEvent[];
  /** Encoded size of the History message: what Temporal's 50 MB (50 × 1024 × 1024 bytes) limit counts. */
  bytes: number;
}

/** One activity execution: its ActivityTaskScheduled event and what became of it. */
export interface ActivityExecution {
  type: string;
  scheduledId: number;
  scheduledMs: number;
  startedMs?: number;
  /** The attempt that the Started event records (the last one; retries are not separate events). */
  attempt?: number;
  /** Why the attempt before the recorded one failed (retried activities only). */
  lastFailure?: string;
  closedMs?: number;
  outcome?: 'completed' | 'failed' | 'timed-out' | 'canceled';
}

function num(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  return Number(String(v));
}

/** Event time in epoch milliseconds, with sub-millisecond precision. */
export function eventTimeMs(e: HistoryEvent): number {
  const t = e.eventTime;
  if (!t) return Number.NaN;
  return num(t.seconds) * 1000 + num(t.nanos) / 1e6;
}

export function eventId(e: HistoryEvent): number {
  return num(e.eventId);
}

/** `ActivityTaskCompleted` style name of an event's type. */
export function eventTypeName(e: HistoryEvent): string {
  const name = EventType[e.eventType ?? 0] ?? String(e.eventType);
  return name
    .replace(/^EVENT_TYPE_/, '')
    .toLowerCase()
    .replace(/(^|_)([a-z])/g, (_m, _s, c: string) => c.toUpperCase());
}

export function encodedEventBytes(e: HistoryEvent): number {
  return temporal.api.history.v1.HistoryEvent.encode(e).finish().length;
}

export async function loadHistory(client: Client, workflowId: string, runId?: string): Promise<RunHistory> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  return fromHistory(workflowId, history);
}

export function fromHistory(workflowId: string, history: temporal.api.history.v1.IHistory): RunHistory {
  const events = history.events ?? [];
  return { workflowId, events, bytes: temporal.api.history.v1.History.encode(history).finish().length };
}

/** Every activity execution of the run, in scheduling order. */
export function activityExecutions(events: HistoryEvent[]): ActivityExecution[] {
  const byId = new Map<number, ActivityExecution>();
  const out: ActivityExecution[] = [];
  for (const e of events) {
    const t = eventTimeMs(e);
    if (e.activityTaskScheduledEventAttributes) {
      const a: ActivityExecution = { type: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?', scheduledId: eventId(e), scheduledMs: t };
      byId.set(a.scheduledId, a);
      out.push(a);
    } else if (e.activityTaskStartedEventAttributes) {
      const a = byId.get(num(e.activityTaskStartedEventAttributes.scheduledEventId));
      if (a) {
        a.startedMs = t;
        a.attempt = e.activityTaskStartedEventAttributes.attempt ?? 1;
        const f = e.activityTaskStartedEventAttributes.lastFailure;
        if (f) a.lastFailure = `${f.timeoutFailureInfo ? 'timeout: ' : ''}${(f.message ?? '').split('\n')[0]}`.slice(0, 160);
      }
    } else {
      const closed =
        (e.activityTaskCompletedEventAttributes && (['completed', e.activityTaskCompletedEventAttributes] as const)) ||
        (e.activityTaskFailedEventAttributes && (['failed', e.activityTaskFailedEventAttributes] as const)) ||
        (e.activityTaskTimedOutEventAttributes && (['timed-out', e.activityTaskTimedOutEventAttributes] as const)) ||
        (e.activityTaskCanceledEventAttributes && (['canceled', e.activityTaskCanceledEventAttributes] as const));
      if (closed) {
        const a = byId.get(num(closed[1].scheduledEventId));
        if (a) {
          a.closedMs = t;
          a.outcome = closed[0];
        }
      }
    }
  }
  return out;
}

/** WorkflowTaskScheduled → WorkflowTaskStarted of every workflow task, in ms. */
export function workflowTaskLatencies(events: HistoryEvent[]): number[] {
  const scheduled = new Map<number, number>();
  const out: number[] = [];
  for (const e of events) {
    if (e.workflowTaskScheduledEventAttributes) scheduled.set(eventId(e), eventTimeMs(e));
    if (e.workflowTaskStartedEventAttributes) {
      const s = scheduled.get(num(e.workflowTaskStartedEventAttributes.scheduledEventId));
      if (s !== undefined) out.push(eventTimeMs(e) - s);
    }
  }
  return out;
}

/**
 * Workflow task latencies split by the queue the task was scheduled on: the worker's sticky queue (a workflow it
 * has cached) or the task queue itself (a first task, or one after a sticky timeout or a cache eviction).
 */
export function workflowTaskLatenciesByQueue(events: HistoryEvent[]): { sticky: number[]; normal: number[] } {
  const scheduled = new Map<number, { t: number; sticky: boolean }>();
  const out = { sticky: [] as number[], normal: [] as number[] };
  for (const e of events) {
    const a = e.workflowTaskScheduledEventAttributes;
    if (a) scheduled.set(eventId(e), { t: eventTimeMs(e), sticky: a.taskQueue?.kind === temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_STICKY });
    if (e.workflowTaskStartedEventAttributes) {
      const s = scheduled.get(num(e.workflowTaskStartedEventAttributes.scheduledEventId));
      if (s) (s.sticky ? out.sticky : out.normal).push(eventTimeMs(e) - s.t);
    }
  }
  return out;
}

/** WorkflowTaskTimedOut events by timeout type: `{ ScheduleToStart: 3, StartToClose: 1 }`. */
export function workflowTaskTimeouts(events: HistoryEvent[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) {
    const a = e.workflowTaskTimedOutEventAttributes;
    if (!a) continue;
    const name = (temporal.api.enums.v1.TimeoutType[a.timeoutType ?? 0] ?? String(a.timeoutType))
      .replace(/^TIMEOUT_TYPE_/, '')
      .toLowerCase()
      .replace(/(^|_)([a-z])/g, (_m, _s, c: string) => c.toUpperCase());
    out[name] = (out[name] ?? 0) + 1;
  }
  return out;
}

/** Counts of event types: `{ ActivityTaskScheduled: 9, ... }`. */
export function eventTypeCounts(events: HistoryEvent[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) {
    const k = eventTypeName(e);
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** Start and close of the run (WorkflowExecutionStarted and the closing event), in epoch ms. */
export function runSpan(events: HistoryEvent[]): { startMs: number; closeMs: number | undefined } {
  const first = events[0];
  const last = events[events.length - 1];
  const closing =
    last &&
    (last.workflowExecutionCompletedEventAttributes ||
      last.workflowExecutionFailedEventAttributes ||
      last.workflowExecutionTerminatedEventAttributes ||
      last.workflowExecutionCanceledEventAttributes ||
      last.workflowExecutionTimedOutEventAttributes ||
      last.workflowExecutionContinuedAsNewEventAttributes);
  return { startMs: first ? eventTimeMs(first) : Number.NaN, closeMs: closing && last ? eventTimeMs(last) : undefined };
}

/** Where a run's time went, summed over its events: a release runs its steps one after another. */
export interface TimeBreakdown {
  /** WorkflowTaskScheduled → Started: waiting for the worker to pick the task up. */
  wftWaitMs: number;
  /** WorkflowTaskStarted → Completed: the worker running workflow code and the completion reaching the server. */
  wftRunMs: number;
  /** ActivityTaskScheduled → Started. */
  activityQueueMs: number;
  /** ActivityTaskStarted → closed: the activity's own work (AWS calls) plus delivery and the report back. */
  activityRunMs: number;
  /** TimerStarted → TimerFired (pauses, keepPreviousFor). */
  timerMs: number;
}

export function timeBreakdown(events: HistoryEvent[]): TimeBreakdown {
  const at = new Map<number, number>();
  const out: TimeBreakdown = { wftWaitMs: 0, wftRunMs: 0, activityQueueMs: 0, activityRunMs: 0, timerMs: 0 };
  const since = (id: unknown, t: number): number => {
    const s = at.get(num(id));
    return s === undefined ? 0 : t - s;
  };
  for (const e of events) {
    const t = eventTimeMs(e);
    at.set(eventId(e), t);
    if (e.workflowTaskStartedEventAttributes) out.wftWaitMs += since(e.workflowTaskStartedEventAttributes.scheduledEventId, t);
    else if (e.workflowTaskCompletedEventAttributes) out.wftRunMs += since(e.workflowTaskCompletedEventAttributes.startedEventId, t);
    else if (e.timerFiredEventAttributes) out.timerMs += since(e.timerFiredEventAttributes.startedEventId, t);
  }
  for (const a of activityExecutions(events)) {
    if (a.startedMs !== undefined) out.activityQueueMs += a.startedMs - a.scheduledMs;
    if (a.startedMs !== undefined && a.closedMs !== undefined) out.activityRunMs += a.closedMs - a.startedMs;
  }
  return out;
}
