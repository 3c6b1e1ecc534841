/**
 * The typed client library: start a release, read its status, act on it, wait for its end.
 * The CLI and tests are built on it; it validates every input before anything reaches Temporal (or AWS).
 */
import { type Client, WorkflowUpdateFailedError, type WorkflowHandle, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, TypedSearchAttributes } from '@temporalio/common';
import { DEFAULT_TASK_QUEUE } from '../common/constants';
import { AbortInput, ApproveInput, PauseInput, PromoteInput, ResumeInput, payloadProblem, type MessageAck } from '../common/messages';
import { CanaryWeight, ReleasePhase, ReleaseService, ReleaseVersion } from '../common/search-attributes';
import { parseReleaseSpec, type ParsedReleaseSpec, type Target } from '../common/spec';
import type { ReleaseResult, ReleaseStatus } from '../common/status';
import * as msg from '../common/messages';

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
 * naming the running one; a finished release's id can be used again.
 */
export async function startRelease(
  client: Client,
  specInput: unknown,
  opts: StartOptions = {},
): Promise<WorkflowHandleWithFirstExecutionRunId<msg.ReleaseWorkflow>> {
  const spec = prepareSpec(specInput, opts);
  const workflowId = msg.releaseWorkflowId(spec.service);
  try {
    return await client.workflow.start<msg.ReleaseWorkflow>(msg.RELEASE_WORKFLOW, {
      taskQueue: opts.taskQueue ?? DEFAULT_TASK_QUEUE,
      workflowId,
      args: [{ spec }],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: new TypedSearchAttributes([
        { key: ReleaseService, value: spec.service },
        { key: ReleaseVersion, value: spec.version },
        { key: ReleasePhase, value: 'Validating' },
        { key: CanaryWeight, value: 0 },
      ]),
      staticSummary: `${spec.service} ${spec.version}`,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      const running = client.workflow.getHandle(workflowId);
      const d = await running.describe().catch(() => undefined);
      const sa = d?.typedSearchAttributes;
      const st = await running.query(msg.statusQuery).catch(() => undefined);
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

export async function getStatus(client: Client, idOrService: string): Promise<ReleaseStatus> {
  return releaseHandle(client, idOrService).query(msg.statusQuery);
}

async function send<T>(
  verb: string,
  schema: { safeParse(v: unknown): { success: boolean; error?: unknown; data?: unknown } },
  payload: T,
  run: (p: T) => Promise<MessageAck>,
): Promise<MessageAck> {
  const parsed = schema.safeParse(payload);
  if (!parsed.success) throw new MessageRejectedError(verb, payloadProblem(parsed.error as never));
  try {
    return await run(parsed.data as T);
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const cause = err.cause as Error | undefined;
      throw new MessageRejectedError(verb, cause?.message ?? err.message);
    }
    throw err;
  }
}

/** Synchronous actions (updates): resolve with the workflow's acknowledgement, or reject with its reason. */
export const actions = {
  approve: (client: Client, id: string, input: ApproveInput) =>
    send('approve', ApproveInput, input, (p) => releaseHandle(client, id).executeUpdate(msg.approveUpdate, { args: [p] })),
  abort: (client: Client, id: string, input: AbortInput) =>
    send('abort', AbortInput, input, (p) => releaseHandle(client, id).executeUpdate(msg.abortUpdate, { args: [p] })),
  pause: (client: Client, id: string, input: PauseInput) =>
    send('pause', PauseInput, input, (p) => releaseHandle(client, id).executeUpdate(msg.pauseUpdate, { args: [p] })),
  resume: (client: Client, id: string, input: ResumeInput) =>
    send('resume', ResumeInput, input, (p) => releaseHandle(client, id).executeUpdate(msg.resumeUpdate, { args: [p] })),
  promote: (client: Client, id: string, input: PromoteInput) =>
    send('promote', PromoteInput, input, (p) => releaseHandle(client, id).executeUpdate(msg.promoteUpdate, { args: [p] })),
};

/** Waits for the release's end. */
export async function waitForResult(client: Client, idOrService: string): Promise<ReleaseResult> {
  return releaseHandle(client, idOrService).result();
}

/** CLI exit codes: 0 promoted, 1 rolled back, 3 aborted (2 is invalid input, decided before a start). */
export function exitCodeFor(result: ReleaseResult): number {
  return result.outcome === 'promoted' ? 0 : result.outcome === 'aborted' ? 3 : 1;
}
