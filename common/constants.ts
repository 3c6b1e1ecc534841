/** Names that the worker, the client and the docs must agree on. Workflow-safe. */

/** The task queue releases run on unless CANARY_TASK_QUEUE (worker) or `--task-queue` (client) says otherwise. */
export const DEFAULT_TASK_QUEUE = 'canary-releases';
