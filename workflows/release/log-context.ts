/**
 * Which release, step and phase a log line of workflow code is about, and the same for the activities it schedules:
 * a workflow interceptor module (registered by the worker and the bundle builder, worker/workflow-interceptors.ts)
 * adds `releaseId`, `step` and `phase` to every line of the workflow logger, and sends them to each activity in the
 * `canary-release` header (worker/log.ts reads it). The runbook names its state once with `setLogContext`; the
 * interceptor reads it from the workflow's own global scope, which the SDK keeps apart for every workflow.
 */
import { defaultPayloadConverter, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { RELEASE_LOG_HEADER } from '../../common/constants';

/** What the interceptor reads: the release's data as it is at the moment of the log line or the schedule. */
interface LogSource {
  data: { releaseId: string; step: number; phase: string };
}

const KEY = Symbol.for('canary.release.log-context');

/** Names the state whose release id, step and phase go with this workflow's log lines and activity calls. */
export function setLogContext(state: LogSource): void {
  (globalThis as Record<symbol, unknown>)[KEY] = state;
}

function fields(): Record<string, unknown> {
  const state = (globalThis as Record<symbol, unknown>)[KEY] as LogSource | undefined;
  if (!state) return {};
  const { releaseId, step, phase } = state.data;
  return { releaseId, step, phase };
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [
    {
      getLogAttributes: (input, next) => next({ ...input, ...fields() }),
      scheduleActivity: (input, next) => {
        const f = fields();
        if (!f.releaseId) return next(input);
        return next({ ...input, headers: { ...input.headers, [RELEASE_LOG_HEADER]: defaultPayloadConverter.toPayload(f) } });
      },
    },
  ],
});
