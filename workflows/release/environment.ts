/**
 * The release's environment: what it finds behind the listener(s), and the canary (and baseline) target groups
 * it prepares. A group is attached to the forward action at weight 0 before the health wait (a load balancer
 * health-checks only attached groups) and gets weight only once every target is healthy.
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import type { ElbAction, HealthyTargets, TargetHealthReport } from '../../activities/contract';
import { Tags } from '../../common/aws-names';
import { formatDuration } from '../../common/duration';
import type { ParsedReleaseSpec } from '../../common/spec';
import { describeRef, describeStickiness, refKey, sameStickiness, type ForwardStickiness } from '../../common/forward';
import type { Compensation, Role } from '../../common/status';
import { sessionsNote } from '../../common/status-view';
import { targetGroupName } from '../plan';
import { aws, healthWait } from './activities';
import { interruptible } from './gates';
import type { ReleaseState } from './state';
import { shift } from './traffic';

type Targets = NonNullable<ParsedReleaseSpec['environment']['baselineTargets']>;

/** What discovery found that preparing the environment needs. */
export interface Found {
  stableArn: string;
  /** Per forward action (spec order), the actions a rollback restores. */
  originals: { ref: { listenerArn: string; ruleArn?: string }; actions: ElbAction[] }[];
  /** Pair mode: the idle group of the pair, which becomes the canary. */
  idle?: { targetGroupArn: string; targetGroupName: string; dimension: string };
}

/** Reads the forward action(s) and their one stable target group. */
export async function discover(state: ReleaseState): Promise<Found> {
  const { spec } = state;
  // Where each forward action is, nothing else (a ref of the spec also carries its `stickiness`).
  const refs = state.refs().map((r) => (r.ruleArn ? { listenerArn: r.listenerArn, ruleArn: r.ruleArn } : { listenerArn: r.listenerArn }));
  const pair = spec.environment.mode === 'pair' ? spec.environment.pair : undefined;
  const traffic = await aws.discoverForwards({ aws: state.scope(), forwards: refs, pair });
  state.data.forwards = traffic.forwards.map((f) => ({ ref: f.ref, verified: f.forward }));
  const found = {
    stableArn: traffic.stableTargetGroupArn,
    originals: traffic.forwards.map((f) => ({ ref: f.ref, actions: f.originalActions })),
    idle: traffic.idle,
  };
  const dims = { targetGroup: traffic.stableDimension, loadBalancer: traffic.loadBalancerDimension };
  state.addGroup('stable', traffic.stableTargetGroupName, traffic.stableTargetGroupArn, dims);
  state.setWeights({ verified: { stable: 100 } });
  await checkTargetGroupRoom(state, traffic.idle);
  return found;
}

/**
 * Before anything changes: the load balancer can take the groups the release attaches (ALB allows 100 per load
 * balancer, not adjustable). The previous stable is attached already and stays until finalizing; a refusal fails the
 * release as invalid with nothing changed, and says how many there are.
 */
async function checkTargetGroupRoom(state: ReleaseState, idle: { attached: boolean } | undefined): Promise<void> {
  const { spec } = state;
  const adding = spec.environment.mode === 'pair' ? (idle && !idle.attached ? ['the idle group of the pair'] : []) : ['canary'];
  if (spec.environment.mode !== 'pair' && spec.environment.baselineTargets?.length) adding.push('baseline');
  if (adding.length === 0) return;
  const ref = state.refs()[0] as { listenerArn: string };
  const room = await aws.checkTargetGroupRoom({ listenerArn: ref.listenerArn, aws: state.scope(), adding });
  state.record('canary', 'room for target groups', `${room.adding} to attach; the load balancer has ${room.onLoadBalancer} of ${room.limit}`);
}

/** Prepares canary (and baseline), attached at weight 0 and healthy, and registers the restore of the pre-release actions. */
export async function cloneEnvironment(state: ReleaseState, found: Found): Promise<void> {
  const { spec } = state;
  state.setPhase('CloningEnvironment');
  state.atSafePoint = false;
  const roles: { role: 'canary' | 'baseline'; targets: Targets }[] = [];
  if (found.idle) roles.push({ role: 'canary', targets: await prepareIdle(state, found.idle) });
  else {
    await createRole(state, 'canary', spec.version, spec.environment.canaryTargets, found.stableArn);
    roles.push({ role: 'canary', targets: spec.environment.canaryTargets });
  }
  if (spec.environment.baselineTargets?.length) {
    await createRole(state, 'baseline', 'base', spec.environment.baselineTargets, found.stableArn);
    roles.push({ role: 'baseline', targets: spec.environment.baselineTargets });
  }
  registerRestores(state, found);
  // Attached at weight 0: health-checked by the load balancer, no user traffic yet.
  await shift(state, state.hasBaseline ? { stable: 100, canary: 0, baseline: 0 } : { stable: 100, canary: 0 }, 'canary', 'attach at weight 0');
  // Before any weight: the first users the canary gets stay on it, and no one drifts between versions mid-session.
  await setStickiness(state);
  for (const r of roles) await waitRoleHealthy(state, r.role, r.targets);
  state.atSafePoint = true;
}

/**
 * `traffic.stickiness`: each forward action keeps a user on the group they got (ALB's target group stickiness) for the
 * release. Its own setting is registered to be restored, at promotion or rollback, before the write.
 */
async function setStickiness(state: ReleaseState): Promise<void> {
  // The spec's refs, in the order discovery recorded the forward actions; each may carry its `stickiness`.
  const refs = state.refs() as { stickiness?: number }[];
  for (const [i, f] of state.data.forwards.entries()) {
    const ms = refs[i]?.stickiness;
    if (!ms) continue;
    const wanted: ForwardStickiness = { enabled: true, durationSeconds: Math.round(ms / 1000) };
    const original = f.verified.stickiness;
    if (!sameStickiness(original, wanted)) {
      state.register({ kind: 'restoreStickiness', ...f.ref, original, set: wanted });
      const v = await aws.setForwardStickiness({ ...f.ref, aws: state.scope(), stickiness: wanted, expected: f.verified });
      if (v.forward) f.verified = v.forward;
    }
    state.data.stickiness = { durationSeconds: wanted.durationSeconds as number };
    state.record(
      'canary',
      'stickiness',
      `${describeRef(f.ref)}: ${describeStickiness(wanted)} for the release (was: ${describeStickiness(original)}); ${sessionsNote(ms / 1000)}`,
    );
  }
}

/** Puts one forward action's stickiness back (rollback or finalizing) and records what it found. */
export async function restoreStickiness(
  state: ReleaseState,
  c: Extract<Compensation, { kind: 'restoreStickiness' }>,
  act: { restoreStickiness: (typeof aws)['restoreStickiness'] },
): Promise<void> {
  const ref = c.ruleArn ? { listenerArn: c.listenerArn, ruleArn: c.ruleArn } : { listenerArn: c.listenerArn };
  const r = await act.restoreStickiness({ ...ref, aws: state.scope(), original: c.original, set: c.set });
  const f = state.data.forwards.find((x) => refKey(x.ref) === refKey(ref));
  if (f && r.forward) f.verified = r.forward;
  if (r.kept.length) state.data.keptOnRestore = [...(state.data.keptOnRestore ?? []), ...r.kept];
  state.data.stickiness = undefined;
  state.record(
    'canary',
    'restored stickiness',
    `${describeRef(ref)}: ${r.kept.length ? `kept someone else's change: ${r.kept.join('; ')}` : `${describeStickiness(c.original)} (verified by describe)`}`,
  );
}

function registerRestores(state: ReleaseState, found: Found): void {
  for (const o of found.originals) state.register({ kind: 'restoreActions', listenerArn: o.ref.listenerArn, ruleArn: o.ref.ruleArn, actions: o.actions });
}

/** Creates a role's group as a copy of stable (version tags rewritten) and registers its targets. */
async function createRole(state: ReleaseState, role: 'canary' | 'baseline', label: string, targets: Targets, stableArn: string): Promise<void> {
  const { spec, releaseId } = state;
  const ref = state.refs()[0] as { listenerArn: string; ruleArn?: string };
  const name = targetGroupName(spec.service, label, releaseId);
  const inverse = {
    kind: 'deleteTargetGroup' as const,
    listenerArn: ref.listenerArn,
    ruleArn: ref.ruleArn,
    name,
    drain: true,
    targetGroupArn: undefined as string | undefined,
  };
  state.register(inverse);
  // A baseline runs the stable version: its copied version tags are already right.
  const tg = await aws.ensureTargetGroup({
    aws: state.scope(),
    sourceTargetGroupArn: stableArn,
    name,
    tags: roleTags(state, role),
    ...(role === 'canary' ? { versionTags: { keys: spec.environment.versionTags, version: spec.version } } : {}),
  });
  inverse.targetGroupArn = tg.targetGroupArn;
  recordGroup(state, role, name, tg.targetGroupArn, tg.dimension, tg.created);
  await aws.registerTargets({ aws: state.scope(), targetGroupArn: tg.targetGroupArn, targets });
}

/** Pair mode: the idle group of the pair becomes the canary; nothing is created. */
async function prepareIdle(state: ReleaseState, idle: NonNullable<Found['idle']>): Promise<Targets> {
  const { spec } = state;
  const ref = state.refs()[0] as { listenerArn: string; ruleArn?: string };
  const given = spec.environment.canaryTargets;
  if (given.length) {
    state.register({ kind: 'deregisterTargets', ...ref, targetGroupArn: idle.targetGroupArn, name: idle.targetGroupName, targets: given });
  }
  recordGroup(state, 'canary', idle.targetGroupName, idle.targetGroupArn, idle.dimension, false);
  const prepared = await aws.prepareIdleGroup({ aws: state.scope(), targetGroupArn: idle.targetGroupArn, targets: given.length ? given : undefined });
  state.record('canary', 'canary targets in the idle group', `${prepared.targets.length} target(s), ${prepared.registered.length} registered by this release`);
  return prepared.targets;
}

function roleTags(state: ReleaseState, role: 'canary' | 'baseline'): Record<string, string> {
  const { spec, releaseId } = state;
  return {
    [Tags.service]: spec.service,
    [Tags.version]: role === 'canary' ? spec.version : `baseline-of-${spec.version}`,
    [Tags.releaseId]: releaseId,
    [Tags.role]: role,
  };
}

function recordGroup(state: ReleaseState, role: Role, name: string, arn: string, dimension: string, created: boolean): void {
  state.addGroup(role, name, arn, { targetGroup: dimension, loadBalancer: state.data.dims.stable?.loadBalancer ?? '' });
  if (state.spec.environment.mode !== 'pair' || role !== 'canary')
    state.record('canary', `create ${role} target group`, `${name}${created ? '' : ' (found from an earlier attempt)'}`);
}

async function waitRoleHealthy(state: ReleaseState, role: 'canary' | 'baseline', targets: Targets): Promise<void> {
  const { spec } = state;
  const wait = healthWait(spec.environment.healthyTimeout);
  const input = { targetGroupArn: state.data.arns[role] as string, targets, timeoutMs: spec.environment.healthyTimeout };
  let healthy: HealthyTargets;
  try {
    healthy = (await interruptible(state, () => wait.waitHealthy({ ...input, aws: state.scope() }))) as HealthyTargets;
  } catch (err) {
    // TargetsUnhealthy carries every target's last state: the status shows which targets failed and why.
    const details = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause.details?.[0] : undefined;
    const targets = (details as { targets?: TargetHealthReport[] } | undefined)?.targets;
    if (targets) state.data.targetHealth = { ...state.data.targetHealth, [role]: targets };
    throw err;
  }
  if (healthy.targets) state.data.targetHealth = { ...state.data.targetHealth, [role]: healthy.targets };
  state.record('canary', `${role} targets healthy`, `${healthy.healthy}/${targets.length} after ${formatDuration(healthy.waitedMs)}`);
}
