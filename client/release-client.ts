/**
 * The typed client library: start a release, read its status (query with a timeout, describe, a summary from
 * what the server alone knows), act on it with the verbs of common/messages.ts, wait for its end (./follow.ts
 * follows it). The CLI, the demo and the tests are built on it; it validates every input before anything reaches
 * Temporal (or AWS), and it reports outcomes as values and typed errors: exit codes are the CLI's (./exit-codes.ts).
 */
import {
  type Client,
  isGrpcCancelledError,
  isGrpcDeadlineError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowExecutionDescription,
  type WorkflowExecutionInfo,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import {
  ApplicationFailure,
  CancelledFailure,
  TerminatedFailure,
  TimeoutFailure,
  type TypedSearchAttributes,
  WorkflowExecutionAlreadyStartedError,
  type UpdateDefinition,
} from '@temporalio/common';
import { DEFAULT_TASK_QUEUE } from '../common/constants';
import { payloadProblem, VERB_NAMES, VERBS, type MessageAck, type Verb, type VerbInput } from '../common/messages';
import { CanaryWeight, initialSearchAttributes, ReleasePhase, ReleaseService, ReleaseVersion } from '../common/search-attributes';
import { parseReleaseSpec, type ParsedReleaseSpec, type Target } from '../common/spec';
import type { ReleaseResult, ReleaseStatus } from '../common/status';
import * as msg from '../common/messages';
import { isUnregisteredSearchAttribute, unregisteredWarning } from './namespace';
import { assertWorkersCanRun } from './workers';

export class ReleaseAlreadyRunningError extends Error {
  constructor(
    readonly workflowId: string,
    readonly running: { version?: string; initiator?: string; startedAt?: Date; runId?: string },
  ) {
    super(
      `a release of this service is already running: ${workflowId}${running.version ? ` (version ${running.version}` : ' ('}` +
        `${running.initiator ? `, started by ${running.initiator}` : ''}${running.startedAt ? ` at ${running.startedAt.toISOString()}` : ''}); ` +
        'wait for it to finish, or abort it first',
    );
    this.name = 'ReleaseAlreadyRunningError';
  }
}

/** No release by this id in the client's namespace (never started, or its history was deleted by retention). */
export class ReleaseNotFoundError extends Error {
  constructor(
    readonly workflowId: string,
    readonly namespace: string,
  ) {
    super(`no release ${workflowId} in namespace ${namespace}`);
    this.name = 'ReleaseNotFoundError';
  }
}

/** An update the workflow refused; `reason` is the validator's message. Nothing was written to history. */
export class MessageRejectedError extends Error {
  constructor(
    readonly verb: string,
    readonly reason: string,
  ) {
    super(`${verb} rejected: ${reason}`);
    this.name = 'MessageRejectedError';
  }
}

export interface StartOptions {
  taskQueue?: string;
  /** Overrides spec.version (CI passes the build's version). */
  version?: string;
  /** Overrides environment.canaryTargets. */
  targets?: Target[];
  /** Overrides spec.initiator. */
  initiator?: string;
  /** Continue as new once a run's history has this many events (default 8,000; tests use a small one). */
  historyEventLimit?: number;
  /**
   * Hears what the start did differently from what was asked (the namespace lacks the search attributes: started
   * without them). Nothing is said when absent.
   */
  onWarning?: (message: string) => void;
}

/** Parses `10.0.1.17:8080,10.0.1.18:8080` (port optional). */
export function parseTargets(text: string): Target[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      const i = item.lastIndexOf(':');
      if (i <= 0) return { id: item };
      const port = Number(item.slice(i + 1));
      return Number.isInteger(port) ? { id: item.slice(0, i), port } : { id: item };
    });
}

/** The spec with CLI overrides applied, then parsed (throws SpecValidationError naming every bad field). */
export function prepareSpec(specInput: unknown, opts: StartOptions = {}): ParsedReleaseSpec {
  const raw = (typeof specInput === 'object' && specInput !== null ? { ...(specInput as Record<string, unknown>) } : specInput) as Record<string, unknown>;
  if (typeof raw === 'object' && raw !== null) {
    if (opts.version !== undefined) raw.version = opts.version;
    if (opts.initiator !== undefined) raw.initiator = opts.initiator;
    if (opts.targets !== undefined) {
      const env = typeof raw.environment === 'object' && raw.environment !== null ? (raw.environment as Record<string, unknown>) : {};
      raw.environment = { ...env, canaryTargets: opts.targets };
    }
  }
  return parseReleaseSpec(raw);
}

export type ReleaseHandle = WorkflowHandle<msg.ReleaseWorkflow>;

/**
 * Starts `release-<service>`. One live release per service: a second start fails with ReleaseAlreadyRunningError
 * naming the running one; a finished release's id can be used again. Refused with IncompatibleWorkerError when
 * every worker polling the task queue advertises spec versions without the spec's `apiVersion` (./workers.ts). On
 * a namespace without the release search attributes the release starts without them (`onWarning` hears it).
 */
export async function startRelease(
  client: Client,
  specInput: unknown,
  opts: StartOptions = {},
): Promise<WorkflowHandleWithFirstExecutionRunId<msg.ReleaseWorkflow>> {
  const spec = prepareSpec(specInput, opts);
  const workflowId = msg.releaseWorkflowId(spec.service);
  const taskQueue = opts.taskQueue ?? DEFAULT_TASK_QUEUE;
  const older = await assertWorkersCanRun(client, taskQueue, spec.apiVersion);
  if (older) opts.onWarning?.(older);
  const start = (typedSearchAttributes?: TypedSearchAttributes): Promise<WorkflowHandleWithFirstExecutionRunId<msg.ReleaseWorkflow>> =>
    client.workflow.start<msg.ReleaseWorkflow>(msg.RELEASE_WORKFLOW, {
      taskQueue,
      workflowId,
      args: [{ spec, ...(opts.historyEventLimit ? { historyEventLimit: opts.historyEventLimit } : {}) }],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes,
      staticSummary: `${spec.service} ${spec.version}`,
    });
  try {
    try {
      return await start(initialSearchAttributes(spec));
    } catch (err) {
      // An existing cluster where nobody registered them: the release runs without (the workflow keeps only the
      // attributes its start carried); list and status show less until `canary doctor --fix` registers them.
      if (!isUnregisteredSearchAttribute(err)) throw err;
      opts.onWarning?.(unregisteredWarning(client.options.namespace));
      return await start();
    }
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      const running = client.workflow.getHandle(workflowId);
      const d = await running.describe().catch(() => undefined);
      const sa = d?.typedSearchAttributes;
      const st = await queryStatus(releaseHandle(client, workflowId)).catch(() => undefined);
      throw new ReleaseAlreadyRunningError(workflowId, {
        version: st?.version ?? sa?.get(ReleaseVersion),
        initiator: st?.initiator,
        startedAt: d?.startTime,
        runId: d?.runId,
      });
    }
    throw err;
  }
}

/** A release id is its workflow id (`release-checkout`); a bare service name is accepted too. */
export function releaseHandle(client: Client, idOrService: string, runId?: string): ReleaseHandle {
  const id = idOrService.startsWith('release-') ? idOrService : msg.releaseWorkflowId(idOrService);
  return client.workflow.getHandle<msg.ReleaseWorkflow>(id, runId);
}

/** How long a status query may go unanswered before the caller hears why (a closed release needs a worker to answer). */
export const STATUS_QUERY_TIMEOUT_MS = 15_000;

/**
 * Runs the `status` query, giving up after `timeoutMs` with an error saying so. The limit is the query's gRPC
 * deadline, so giving up ends the call, and every retry the connection makes of it, on the wire too: a query nobody
 * answers (no worker, a stuck task) would otherwise stay open after its caller has moved on.
 */
export async function queryStatus(handle: ReleaseHandle, timeoutMs = STATUS_QUERY_TIMEOUT_MS): Promise<ReleaseStatus> {
  const deadline = Date.now() + timeoutMs;
  try {
    return await handle.client.withDeadline(deadline, () => handle.query(msg.statusQuery));
  } catch (err) {
    // gRPC sends the deadline along and the server cancels the call when it passes. On a busy machine that cancel
    // (CANCELLED, "Call cancelled") can be read before our own deadline timer runs: at or past the deadline, it is
    // the same limit. A CANCELLED before it is something else and stays as it is.
    if (isGrpcDeadlineError(err) || (isGrpcCancelledError(err) && Date.now() >= deadline)) {
      throw new Error(`the status query got no answer in ${timeoutMs / 1000}s`, { cause: err });
    }
    throw err;
  }
}

export async function getStatus(client: Client, idOrService: string, timeoutMs = STATUS_QUERY_TIMEOUT_MS): Promise<ReleaseStatus> {
  return queryStatus(releaseHandle(client, idOrService), timeoutMs);
}

/** Describes the latest run of a release. @throws ReleaseNotFoundError when there is none. */
export async function describeRelease(client: Client, idOrService: string): Promise<WorkflowExecutionDescription> {
  const handle = releaseHandle(client, idOrService);
  try {
    return await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new ReleaseNotFoundError(handle.workflowId, client.options.namespace);
    throw err;
  }
}

/**
 * What the server alone knows about a release run, without a worker: its execution status and the search
 * attributes the workflow keeps (service, version, phase, canary weight). The rows of `canary list`, and what
 * `canary status` shows when the status query goes unanswered.
 */
export interface ReleaseSummary {
  workflowId: string;
  runId: string;
  /** The workflow execution's status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT, ... */
  execution: string;
  service?: string;
  version?: string;
  /** The `ReleasePhase` search attribute: the phase as of the last change the workflow recorded. */
  phase?: string;
  canaryWeight?: number;
  /** ISO times. */
  startTime: string;
  closeTime?: string;
}

/** The summary of a listed or described run. */
export function releaseSummary(
  info: Pick<WorkflowExecutionInfo, 'workflowId' | 'runId' | 'startTime' | 'closeTime' | 'typedSearchAttributes'> & { status: { name: string } },
): ReleaseSummary {
  const sa = info.typedSearchAttributes;
  return {
    workflowId: info.workflowId,
    runId: info.runId,
    execution: info.status.name,
    service: sa.get(ReleaseService),
    version: sa.get(ReleaseVersion),
    phase: sa.get(ReleasePhase),
    canaryWeight: sa.get(CanaryWeight),
    startTime: info.startTime.toISOString(),
    closeTime: info.closeTime?.toISOString(),
  };
}

/** Summaries of the releases a visibility query finds, newest first, at most `limit`. */
export async function listReleases(client: Client, query: string, limit: number): Promise<ReleaseSummary[]> {
  const rows: ReleaseSummary[] = [];
  if (limit <= 0) return rows;
  for await (const info of client.workflow.list({ query, pageSize: Math.min(limit, 100) })) {
    rows.push(releaseSummary(info));
    if (rows.length >= limit) break;
  }
  return rows;
}

/**
 * Why a release run failed instead of returning a result: `invalid` (the workflow refused the release before
 * changing anything), `cancelled` (it rolled back), `terminated` (killed without a rollback), `timed-out`, or
 * `failed` (anything else, with the innermost reason).
 */
export interface ReleaseFailure {
  kind: 'invalid' | 'cancelled' | 'terminated' | 'timed-out' | 'failed';
  message: string;
}

/** The innermost message of a failure chain: a failed activity's own reason rather than "Activity task failed". */
export function rootMessage(e: Error): string {
  let cur: Error = e;
  while (cur.cause instanceof Error) cur = cur.cause;
  return cur.message || e.message;
}

/** Classifies what `handle.result()` threw; anything that is not a workflow failure is `failed` with its message. */
export function releaseFailure(e: unknown): ReleaseFailure {
  if (!(e instanceof WorkflowFailedError)) return { kind: 'failed', message: e instanceof Error ? e.message : String(e) };
  const cause = e.cause;
  if (cause instanceof ApplicationFailure && cause.type === 'InvalidRelease') {
    return { kind: 'invalid', message: `invalid release, nothing was changed: ${rootMessage(cause)}` };
  }
  if (cause instanceof CancelledFailure) return { kind: 'cancelled', message: 'aborted: the workflow was cancelled; traffic is back on the previous version' };
  if (cause instanceof TerminatedFailure) {
    return { kind: 'terminated', message: `terminated: ${cause.message}; the workflow was killed without a rollback, check the listener by hand` };
  }
  if (cause instanceof TimeoutFailure) return { kind: 'timed-out', message: `timed out: ${cause.message}` };
  return { kind: 'failed', message: `release failed: ${cause ? rootMessage(cause) : e.message}` };
}

/** How a finished run ended: its result, or why it failed. Waits for the end if the run is still going. */
export async function releaseEnd(handle: ReleaseHandle): Promise<{ result: ReleaseResult } | { failure: ReleaseFailure }> {
  return handle.result().then(
    (result) => ({ result }),
    (e: unknown) => ({ failure: releaseFailure(e) }),
  );
}

/**
 * Sends a verb as an update: the payload is checked against the verb's schema first (nothing is sent when it is
 * invalid), then the workflow's validator accepts it with an acknowledgement or refuses it with a reason.
 *
 * @throws MessageRejectedError for an invalid payload, a refusal, or a release that has finished;
 *   ReleaseNotFoundError when there is no such release.
 */
export async function sendVerb<V extends Verb>(client: Client, idOrService: string, verb: V, input: VerbInput<V>): Promise<MessageAck> {
  const parsed = VERBS[verb].input.safeParse(input);
  if (!parsed.success) throw new MessageRejectedError(verb, payloadProblem(parsed.error));
  const handle = releaseHandle(client, idOrService);
  try {
    return await handle.executeUpdate(msg.updates[verb] as UpdateDefinition<MessageAck, [VerbInput<V>], V>, { args: [parsed.data as VerbInput<V>] });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const cause = err.cause as Error | undefined;
      throw new MessageRejectedError(verb, cause?.message ?? err.message);
    }
    if (err instanceof WorkflowNotFoundError) {
      // An update to a finished release is "not found" too: say which it is.
      const d = await describeRelease(client, handle.workflowId);
      const phase = d.typedSearchAttributes.get(ReleasePhase);
      throw new MessageRejectedError(verb, `${d.workflowId} has finished (${d.status.name.toLowerCase()}${phase ? `, ${phase}` : ''})`);
    }
    throw err;
  }
}

/** One function per verb of common/messages.ts (`actions.approve(client, id, {by, step})`), derived from its table. */
export const actions = Object.fromEntries(
  VERB_NAMES.map((verb) => [verb, (client: Client, idOrService: string, input: VerbInput<typeof verb>) => sendVerb(client, idOrService, verb, input)]),
) as { [V in Verb]: (client: Client, idOrService: string, input: VerbInput<V>) => Promise<MessageAck> };

/** Waits for the release's end, however long that takes (./follow.ts follows it with a time limit). */
export async function waitForResult(client: Client, idOrService: string): Promise<ReleaseResult> {
  return releaseHandle(client, idOrService).result();
}
