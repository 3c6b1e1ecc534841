/**
 * Which release, step and phase a log line of workflow code is about, and the same for the activities it schedules:
 * a workflow interceptor module (WORKFLOW_INTERCEPTOR_MODULES in worker/build-bundle.ts registers it with the worker
 * and the prebuilt bundle) adds `releaseId`, `step` and `phase` to every line of the workflow logger, and sends them
 * to each activity in the `canary-release` header (worker/log.ts reads it). The runbook names its state once with
 * `setLogContext`; the interceptor reads it from the workflow's own global scope, which the SDK keeps apart for every
 * workflow.
 */
import { defaultPayloadConverter, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { RELEASE_LOG_HEADER } from '../../common/constants';

/** What the interceptor reads: the release's data as it is at the moment of the log line or the schedule. */
interface LogSource {
  data: { releaseId: string; step: number; phase: string };
}

/** A plain string key: the SDK keeps a workflow's global scope apart by its named properties. */
const KEY = '__canaryReleaseLogContext';

/** Names the state whose release id, step and phase go with this workflow's log lines and activity calls. */
export function setLogContext(state: LogSource): void {
  (globalThis as Record<string, unknown>)[KEY] = state;
}

function fields(): Record<string, unknown> {
  const state = (globalThis as Record<string, unknown>)[KEY] as LogSource | undefined;
  if (!state) return {};
  const { releaseId, step, phase } = state.data;
  // The release's id as every log line names it: its workflow id (the run is a field of its own).
  return { releaseId: releaseId.split('/')[0], step, phase };
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
