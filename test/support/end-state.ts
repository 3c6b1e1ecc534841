/**
 * A release's end state in the real world (moto's listener and target groups) and its result, with ARNs, the
 * service name and the run's hash replaced by roles and placeholders, so that two runs of the same spec on different
 * seeded services compare equal when they ended the same way: an interrupted run against an uninterrupted one.
 */
import type { Action } from '@aws-sdk/client-elastic-load-balancing-v2';
import { Tags } from '../../activities/contract';
import type { AwsClients } from '../../activities/aws-clients';
import type { ReleaseHandle } from '../../client/release-client';
import type { ReleaseResult } from '../../common/status';
import type { SeededAlb } from '../../dev/seed';
import { shortHash } from '../../workflows/plan';
import { forwardActions, targetGroupsOf } from './release-fixture';

export interface EndState {
  result: Omit<ReleaseResult, 'durationMs' | 'service'>;
  /** The forward action(s) with each target group replaced by its role. */
  listener: unknown;
  /** The service's target groups: names and tags with the service name and this run's hash replaced. */
  targetGroups: { name: string; tags: Record<string, string> }[];
}

/** Reads the end state of the release `handle` ran for `service` on `seeded`, once `result` is in. */
export async function endState(aws: AwsClients, service: string, seeded: SeededAlb, handle: ReleaseHandle, result: ReleaseResult): Promise<EndState> {
  // A release's id names its first run (it keeps it when it continues as new).
  const d = await handle.describe();
  const releaseId = `${handle.workflowId}/${d.raw.workflowExecutionInfo?.firstRunId || d.runId}`;
  const groups = await targetGroupsOf(aws, seeded);
  const role = (arn: unknown): string =>
    arn === seeded.stableTargetGroupArn ? 'pre-release stable' : (groups.find((g) => g.arn === arn)?.tags[Tags.role] ?? `unknown ${String(arn)}`);
  const hash = shortHash(releaseId);
  const name = (n: string): string => n.replace(service, 'SVC').replace(new RegExp(`-${hash}$`), '-THIS-RUN');
  const listener = ((await forwardActions(aws, seeded)) as Action[]).map((a) => ({
    Type: a.Type,
    Order: a.Order,
    TargetGroup: a.TargetGroupArn && role(a.TargetGroupArn),
    ForwardConfig: a.ForwardConfig && {
      TargetGroups: a.ForwardConfig.TargetGroups?.map((t) => ({ role: role(t.TargetGroupArn), Weight: t.Weight })),
      TargetGroupStickinessConfig: a.ForwardConfig.TargetGroupStickinessConfig,
    },
  }));
  const targetGroups = groups.map((g) => ({
    name: name(g.name),
    tags: Object.fromEntries(Object.entries(g.tags).map(([k, v]) => [k, v === service ? 'SVC' : k === Tags.releaseId && v === releaseId ? 'THIS-RUN' : v])),
  }));
  const { durationMs: _d, service: _s, ...rest } = result;
  return {
    result: { ...rest, reason: rest.reason.split(service).join('SVC'), finalForward: rest.finalForward.map((f) => ({ name: name(f.name), weight: f.weight })) },
    listener,
    targetGroups,
  };
}
