/**
 * The workers that poll a release's task queue, and what they can run: each canary worker advertises its build and
 * spec apiVersions in its identity (common/versions.ts), which DescribeTaskQueue returns per poller. `canary start`
 * refuses a spec no polling worker can run; `canary doctor` shows them.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { olderBuild, parseWorkerIdentity, workerVerdict, type PollerAdvert } from '../common/versions';
import { packageVersion } from './package-info';

/** A start refused because every worker on the task queue advertises spec versions that exclude the spec's. */
export class IncompatibleWorkerError extends Error {
  constructor(
    readonly apiVersion: string,
    readonly taskQueue: string,
    readonly pollers: string,
  ) {
    super(
      `no worker polling task queue ${taskQueue} can run a spec of apiVersion ${apiVersion}: ${pollers}; ` +
        'nothing was started: upgrade the workers (canary-worker) or write the spec in a version they run',
    );
    this.name = 'IncompatibleWorkerError';
  }
}

/** The workflow pollers of a task queue, with what each advertises. */
export async function taskQueuePollers(client: Client, taskQueue: string): Promise<PollerAdvert[]> {
  const answer = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  return (answer.pollers ?? []).map((p) => {
    const identity = p.identity ?? '';
    const advert = parseWorkerIdentity(identity);
    return advert ? { identity, advert } : { identity };
  });
}

/**
 * Throws IncompatibleWorkerError when the workers polling `taskQueue` all advertise and none runs `apiVersion`.
 * No poller, a poller that does not advertise, or a DescribeTaskQueue the caller may not make: the start goes on
 * (the release waits for a worker, as it always has). Returns a warning when every advertised build is older than
 * this CLI (a field added since is ignored by those workers: docs/COMPATIBILITY.md).
 */
export async function assertWorkersCanRun(client: Client, taskQueue: string, apiVersion: string, cliBuild = packageVersion()): Promise<string | undefined> {
  const pollers = await taskQueuePollers(client, taskQueue).catch(() => undefined);
  if (!pollers) return undefined;
  const { verdict, message } = workerVerdict(apiVersion, pollers);
  if (verdict === 'refused') throw new IncompatibleWorkerError(apiVersion, taskQueue, message);
  const builds = pollers.flatMap((p) => (p.advert ? [p.advert.build] : []));
  if (builds.length && builds.every((b) => olderBuild(b, cliBuild))) {
    return `warning: the workers on ${taskQueue} run canary-worker ${[...new Set(builds)].join(', ')}, older than this canary ${cliBuild}: spec fields added since are ignored by them (upgrade the workers first)`;
  }
  return undefined;
}
