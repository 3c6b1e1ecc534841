/** The release's environment: what it finds behind the listener, and the canary (and baseline) groups it clones. */
import { Tags } from '../../common/aws-names';
import { formatDuration } from '../../common/duration';
import type { ParsedReleaseSpec } from '../../common/spec';
import { targetGroupName } from '../plan';
import { aws, healthWait } from './activities';
import { interruptible } from './gates';
import type { ReleaseState } from './state';

type Targets = NonNullable<ParsedReleaseSpec['environment']['baselineTargets']>;

/** Reads the forward action and its one stable target group. */
export async function discover(
  state: ReleaseState,
): Promise<{ stableArn: string; originalActions: Awaited<ReturnType<typeof aws.discoverTraffic>>['originalActions'] }> {
  const traffic = await aws.discoverTraffic(state.spec.traffic);
  state.arns.stable = traffic.stableTargetGroupArn;
  state.dims.stable = { targetGroup: traffic.stableDimension, loadBalancer: traffic.loadBalancerDimension };
  state.status.targetGroups.push({ role: 'stable', name: traffic.stableTargetGroupName, arn: traffic.stableTargetGroupArn });
  state.status.verifiedWeights = { stable: 100 };
  return { stableArn: traffic.stableTargetGroupArn, originalActions: traffic.originalActions };
}

/** Clones the stable group for a role, registers the role's targets and waits until they are healthy. */
export async function cloneRole(state: ReleaseState, role: 'canary' | 'baseline', label: string, targets: Targets, stableArn: string): Promise<void> {
  const { spec, releaseId } = state;
  const name = targetGroupName(spec.service, label, releaseId);
  state.register({ kind: 'deleteTargetGroup', listenerArn: spec.traffic.listenerArn, ruleArn: spec.traffic.ruleArn, name });
  const tg = await aws.ensureTargetGroup({
    sourceTargetGroupArn: stableArn,
    name,
    tags: {
      [Tags.service]: spec.service,
      [Tags.version]: role === 'canary' ? spec.version : `baseline-of-${spec.version}`,
      [Tags.releaseId]: releaseId,
      [Tags.role]: role,
    },
  });
  state.arns[role] = tg.targetGroupArn;
  state.dims[role] = { targetGroup: tg.dimension, loadBalancer: state.dims.stable?.loadBalancer ?? '' };
  state.status.targetGroups.push({ role, name, arn: tg.targetGroupArn });
  state.record('canary', `create ${role} target group`, `${name}${tg.created ? '' : ' (found from an earlier attempt)'}`);
  await aws.registerTargets({ targetGroupArn: tg.targetGroupArn, targets });
  const wait = healthWait(spec.environment.healthyTimeout);
  const healthy = (await interruptible(state, () =>
    wait.waitHealthy({ targetGroupArn: tg.targetGroupArn, targets, timeoutMs: spec.environment.healthyTimeout }),
  )) as { healthy: number; waitedMs: number };
  state.record('canary', `${role} targets healthy`, `${healthy.healthy}/${targets.length} after ${formatDuration(healthy.waitedMs)}`);
}

/** Clones canary (and baseline) and registers the restore of the pre-release actions. */
export async function cloneEnvironment(state: ReleaseState, found: Awaited<ReturnType<typeof discover>>): Promise<void> {
  const { spec } = state;
  state.setPhase('CloningEnvironment');
  await cloneRole(state, 'canary', spec.version, spec.environment.canaryTargets, found.stableArn);
  if (spec.environment.baselineTargets?.length) await cloneRole(state, 'baseline', 'base', spec.environment.baselineTargets, found.stableArn);
  state.register({ kind: 'restoreActions', listenerArn: spec.traffic.listenerArn, ruleArn: spec.traffic.ruleArn, actions: found.originalActions });
}
