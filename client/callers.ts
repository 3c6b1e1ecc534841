/**
 * Who sent each message, as far as Temporal knows: the `identity` the sender's client put on the request, which the
 * server records in the history (WorkflowExecutionStarted, WorkflowExecutionSignaled, WorkflowExecutionUpdateAccepted)
 * but does not hand to the workflow (SDK 1.24: a signal or update handler gets its arguments only; `currentUpdateInfo()`
 * has the update's id and name, no identity). So the client reads it from the history when it shows the timeline,
 * next to what the workflow itself verified (a signature, `signed`).
 *
 * The identity is whatever the client says (the `temporal` CLI: `temporal-cli:USER@HOST`; canary: `canary:USER@HOST`;
 * any SDK: what it is configured with), unless the server's authorizer checks it against the caller's credentials.
 * It is shown as a clue for people, never used to decide anything.
 */
import * as os from 'node:os';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { VERB_NAMES, type Verb } from '../common/messages';
import type { TimelineEntry } from '../common/status';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** A message as the server recorded it: a signal, an accepted update, or the start of the release. */
export interface RecordedMessage {
  /** Event time (ms). */
  at: number;
  kind: 'start' | 'signal' | 'update';
  /** The verb (signal / update name), or `start`. */
  name: Verb | 'start';
  /** The payload's `by` (trimmed, as the workflow reads it), or the spec's initiator for a start. */
  by?: string;
  /** The client identity on the request; empty when the client sent none. */
  identity: string;
}

/**
 * A timeline entry with the client identity of the request that caused it: absent when no recorded message matches
 * (the workflow's own entries), empty when the client gave none.
 */
export type TimelineEntryWithCaller = TimelineEntry & { callerIdentity?: string };

/** The identity canary's own CLI puts on every request: `canary:USER@HOST` (the form the `temporal` CLI uses). */
export function cliIdentity(env: NodeJS.ProcessEnv = process.env): string {
  let user: string | undefined;
  try {
    user = os.userInfo().username;
  } catch {
    user = undefined; // no passwd entry (a container with a random uid)
  }
  return `canary:${user || env.USER || env.USERNAME || 'unknown'}@${os.hostname()}`;
}

function eventMs(e: HistoryEvent): number {
  const t = e.eventTime;
  return t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : 0;
}

function byOf(payloads: temporal.api.common.v1.IPayloads | null | undefined, field: 'by' | 'initiator'): string | undefined {
  const p = payloads?.payloads?.[0];
  if (!p) return undefined;
  try {
    const v = defaultPayloadConverter.fromPayload<Record<string, unknown> | null>(p);
    const raw = field === 'by' ? v?.by : (v?.spec as Record<string, unknown> | undefined)?.initiator;
    return typeof raw === 'string' ? raw.trim() : undefined;
  } catch {
    return undefined; // a payload in another encoding: no `by` to match on
  }
}

const isVerb = (name: string | null | undefined): name is Verb => !!name && (VERB_NAMES as string[]).includes(name);

/**
 * The messages of one run's history, oldest first: every verb signal, every accepted verb update, and the start of a
 * first run (a run continued as new is started by the worker, not by a person, and is left out).
 */
export function recordedMessages(events: readonly HistoryEvent[]): RecordedMessage[] {
  const out: RecordedMessage[] = [];
  for (const e of events) {
    const started = e.workflowExecutionStartedEventAttributes;
    if (started && !started.continuedExecutionRunId) {
      out.push({ at: eventMs(e), kind: 'start', name: 'start', by: byOf(started.input, 'initiator'), identity: started.identity ?? '' });
    }
    const signaled = e.workflowExecutionSignaledEventAttributes;
    if (signaled && isVerb(signaled.signalName)) {
      out.push({ at: eventMs(e), kind: 'signal', name: signaled.signalName, by: byOf(signaled.input, 'by'), identity: signaled.identity ?? '' });
    }
    const accepted = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest;
    if (accepted && isVerb(accepted.input?.name)) {
      out.push({ at: eventMs(e), kind: 'update', name: accepted.input.name, by: byOf(accepted.input.args, 'by'), identity: accepted.meta?.identity ?? '' });
    }
  }
  return out;
}

/** The verb a timeline entry records (`promote (full)` → promote), or undefined for the workflow's own entries. */
function entryName(e: TimelineEntry): Verb | 'start' | undefined {
  const word = e.action.split(' ')[0] ?? '';
  return word === 'start' || isVerb(word) ? word : undefined;
}

/**
 * Pairs each timeline entry a message caused (start, approve, abort, pause, resume, promote; accepted or ignored)
 * with the recorded message of the same name and sender closest in time, each message used once. Time, because the
 * workflow stamps an entry with its task's time: a signal is recorded before it, an accepted update just after it;
 * and the timeline keeps only its first and newest entries of a long release, so counting does not work.
 */
export function withCallers(timeline: readonly TimelineEntry[], messages: readonly RecordedMessage[]): TimelineEntryWithCaller[] {
  const used = new Set<number>();
  return timeline.map((entry) => {
    const name = entryName(entry);
    if (!name) return { ...entry };
    const at = Date.parse(entry.at);
    let best = -1;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      if (used.has(i) || m.name !== name || m.by !== entry.by) continue;
      if (best < 0 || Math.abs(m.at - at) < Math.abs(messages[best]!.at - at)) best = i;
    }
    if (best < 0) return { ...entry };
    used.add(best);
    return { ...entry, callerIdentity: messages[best]!.identity };
  });
}

/**
 * The recorded messages of a release: every run of its chain, from `runId` (default: the latest) back through
 * continue-as-new to the first run. One history read per run.
 */
export async function readRecordedMessages(client: Client, workflowId: string, runId?: string): Promise<RecordedMessage[]> {
  const runs: RecordedMessage[][] = [];
  let current = runId ?? (await client.workflow.getHandle(workflowId).describe()).runId;
  for (let guard = 0; current && guard < 1000; guard++) {
    const events = (await client.workflow.getHandle(workflowId, current).fetchHistory()).events ?? [];
    runs.unshift(recordedMessages(events));
    current = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId ?? '';
  }
  return runs.flat();
}
