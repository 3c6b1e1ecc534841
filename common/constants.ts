/** Names that the worker, the client and the docs must agree on. Workflow-safe. */

/** The task queue releases run on unless CANARY_TASK_QUEUE (worker) or `--task-queue` (client) says otherwise. */
export const DEFAULT_TASK_QUEUE = 'canary-releases';

/**
 * The activity header in which workflow code names the release, step and phase an activity runs for (an object with
 * any of `releaseId`, `step`, `phase`): the worker puts them on the activity's log lines (worker/log.ts).
 */
export const RELEASE_LOG_HEADER = 'canary-release';
