/**
 * `canary start --dry-run`: the release rehearsed against the live account without writing anything. Discovery
 * runs the release's own read-only activities (discoverForwards, checkSegmentRoom) with the CLI's AWS
 * credentials; the changes are planned with the workflow's pure helpers (workflows/plan.ts: group names, weights per
 * step, the rollback order and its words), so what is printed is what the release would do, each change with its undo.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { AwsClients } from '../activities/aws-clients';
import type { DiscoveredForwards } from '../activities/contract';
import { createSegmentActivities } from '../activities/segments';
import { createTrafficActivities } from '../activities/traffic';
import { formatDuration } from '../common/duration';
import { describeRef, sameTargetGroups, type ForwardState, type TrafficRef, type WeightedTargetGroup } from '../common/forward';
import { describeMatch, maxConcurrentSegments, TEST_ROUTE_SEGMENT } from '../common/segments';
import { awsScope, targetKind, type ParsedReleaseSpec, type Target } from '../common/spec';
import type { Compensation, Role, RoleWeights } from '../common/status';
import { describeCompensation, forwardFor, roleWeights, rollbackOrder, targetGroupName } from '../workflows/plan';
import { describeStep } from './format';

/** One change the release would make, with what undoes it on a rollback. */
export interface PlannedChange {
  /** `before the steps`, `step 2/6 (#1): setWeight 10%`, `promotion`, `finalizing`. */
  when: string;
  what: string;
  /** How a rollback undoes it; absent for changes a rollback does not need to undo (or that nothing undoes). */
  undo?: string;
}

export interface DryRunPlan {
  release: string;
  /** What discovery found, in words. */
  found: string[];
  changes: PlannedChange[];
  /** A rollback at any point, in the order it runs once every change before promotion was made. */
  rollback: string[];
  /** What the release would refuse once started (targets of the wrong kind, ...): nothing is written either way. */
  problems: string[];
}

/** Stands in for the run's hash in the names of the groups a release creates (it is known once the run starts). */
export const RUN_HASH_PLACEHOLDER = '??????';
const DRY_RUN_ID = 'release-dry-run/0';

function groupName(arn: string, names: Map<string, string>): string {
  return names.get(arn) ?? arn.split(':targetgroup/')[1]?.split('/')[0] ?? arn;
}

/** `forward checkout-v1=90, checkout-v2-??????=10 (stickiness 3600s)`. */
export function formatForward(groups: readonly WeightedTargetGroup[], names: Map<string, string>, stickiness?: ForwardState['stickiness']): string {
  const list = groups.map((g) => `${groupName(g.targetGroupArn, names)}=${g.weight}`).join(', ');
  return `forward ${list}${stickiness?.enabled ? ` (stickiness ${stickiness.durationSeconds ?? '?'}s)` : ''}`;
}

/** The ref's short name: `listener app/NAME/ID/ID` or `rule .../ID`. */
function refName(ref: TrafficRef): string {
  return describeRef(ref).replace(/arn:aws[a-z-]*:elasticloadbalancing:[^:]+:\d+:(listener-rule|listener)\/app\//, '');
}

/**
 * The changes a release of `spec` would make, from what discovery found. Pure: the planning half of the dry run,
 * in the order the workflow runs (workflows/release/runbook.ts), with the workflow's own names and weights.
 */
export function planRelease(spec: ParsedReleaseSpec, found: DiscoveredForwards): DryRunPlan {
  const names = new Map<string, string>([[found.stableTargetGroupArn, found.stableTargetGroupName]]);
  const refs = found.forwards.map((f) => f.ref);
  const first = refs[0] as TrafficRef;
  const pair = spec.environment.mode === 'pair' && found.idle !== undefined;
  const hasBaseline = (spec.environment.baselineTargets?.length ?? 0) > 0;
  const hashed = (label: string): string => targetGroupName(spec.service, label, DRY_RUN_ID).replace(/[a-z0-9]{6}$/, RUN_HASH_PLACEHOLDER);
  const arns: Partial<Record<Role, string>> = { stable: found.stableTargetGroupArn };
  const changes: PlannedChange[] = [];
  const saga: Compensation[] = [];
  const problems: string[] = [];
  const before = 'before the steps';

  const checkKind = (targets: readonly Target[] | undefined, field: string): void => {
    const wanted = found.targetType === 'instance' ? 'instance' : found.targetType === 'ip' ? 'ip' : undefined;
    for (const t of targets ?? []) {
      const kind = targetKind(t.id);
      if (wanted && kind && kind !== wanted)
        problems.push(
          `${field}: ${t.id} is ${kind === 'ip' ? 'an IP address' : 'an instance id'}; ${found.stableTargetGroupName} holds targets of type ${found.targetType}`,
        );
    }
  };
  checkKind(spec.environment.canaryTargets, 'environment.canaryTargets');
  checkKind(spec.environment.baselineTargets, 'environment.baselineTargets');
  const targetList = (targets: readonly Target[]): string => targets.map((t) => (t.port === undefined ? t.id : `${t.id}:${t.port}`)).join(', ');

  if (pair && found.idle) {
    arns.canary = found.idle.targetGroupArn;
    names.set(found.idle.targetGroupArn, found.idle.targetGroupName);
    const given = spec.environment.canaryTargets;
    changes.push({
      when: before,
      what: given.length
        ? `register ${given.length} canary target(s) in the idle group ${found.idle.targetGroupName}: ${targetList(given)}`
        : `use the targets the deployer registered in the idle group ${found.idle.targetGroupName} (it must hold some, and only the new version)`,
      undo: given.length ? `deregister them from ${found.idle.targetGroupName} once it gets no traffic and has drained` : undefined,
    });
    if (given.length)
      saga.push({ kind: 'deregisterTargets', ...first, targetGroupArn: found.idle.targetGroupArn, name: found.idle.targetGroupName, targets: given });
  } else {
    const canary = hashed(spec.version);
    arns.canary = `canary`;
    names.set('canary', canary);
    saga.push({ kind: 'deleteTargetGroup', ...first, name: canary, drain: true });
    changes.push({
      when: before,
      what: `create target group ${canary} as a copy of ${found.stableTargetGroupName} (protocol, port, VPC ${found.vpcId}, target type ${found.targetType}, health check, attributes, tags; version tags set to ${spec.version}) and register ${spec.environment.canaryTargets.length} canary target(s): ${targetList(spec.environment.canaryTargets)}`,
      undo: `delete ${canary} once no forward action references it and its deregistration delay has passed`,
    });
  }
  if (hasBaseline) {
    const baseline = hashed('base');
    arns.baseline = 'baseline';
    names.set('baseline', baseline);
    saga.push({ kind: 'deleteTargetGroup', ...first, name: baseline, drain: true });
    changes.push({
      when: before,
      what: `create target group ${baseline} as a copy of ${found.stableTargetGroupName} and register ${spec.environment.baselineTargets?.length} baseline target(s) (the stable version): ${targetList(spec.environment.baselineTargets ?? [])}`,
      undo: `delete ${baseline} once no forward action references it and its deregistration delay has passed`,
    });
  }
  for (const f of found.forwards) saga.push({ kind: 'restoreActions', listenerArn: f.ref.listenerArn, ruleArn: f.ref.ruleArn, actions: f.originalActions });

  // Each forward action as it is now, then after every change of weights.
  const current = new Map(found.forwards.map((f) => [f.ref, f.forward]));
  const shift = (when: string, weights: RoleWeights, why: string, extra?: WeightedTargetGroup[]): void => {
    const groups = [...forwardFor(weights, arns), ...(extra ?? [])];
    for (const f of found.forwards) {
      const was = current.get(f.ref) as ForwardState;
      // The workflow writes only what differs from what it requested last.
      if (sameTargetGroups(was.targetGroups, groups)) {
        changes.push({ when, what: `${refName(f.ref)}: no change, ${formatForward(groups, names, was.stickiness)} already (${why})` });
        continue;
      }
      changes.push({
        when,
        what: `${refName(f.ref)}: ${formatForward(was.targetGroups, names, was.stickiness)} → ${formatForward(groups, names, was.stickiness)} (${why})`,
        undo: `restore the pre-release actions: ${formatForward(f.forward.targetGroups, names, f.forward.stickiness)}`,
      });
      current.set(f.ref, { targetGroups: groups, stickiness: was.stickiness });
    }
  };
  shift(
    before,
    hasBaseline ? { stable: 100, canary: 0, baseline: 0 } : { stable: 100, canary: 0 },
    `attach at weight 0, then wait until every target is healthy, at most ${formatDuration(spec.environment.healthyTimeout)}`,
  );

  // The test route (hooks.testRoute) lives from the canary's health to the end of the before-traffic hooks.
  const testRoute = spec.hooks?.testRoute;
  const beforeTraffic = spec.hooks?.beforeTraffic.map((u) => u.hook) ?? [];
  if (testRoute) {
    changes.push({
      when: before,
      what: `create listener rule "${TEST_ROUTE_SEGMENT}" on ${refName({ listenerArn: first.listenerArn })} ahead of the service's forward: requests with header ${testRoute.header}: <the release's test token> go 100% to ${groupName(arns.canary as string, names)}, for the before-traffic hooks only`,
      undo: `remove segment rule ${TEST_ROUTE_SEGMENT} and verify it is gone`,
    });
  }
  if (beforeTraffic.length) changes.push({ when: before, what: `no change to AWS: call hook(s) ${beforeTraffic.join(', ')}; a fail rolls back` });
  if (testRoute) changes.push({ when: before, what: `delete listener rule "${TEST_ROUTE_SEGMENT}" (verified gone)` });

  const segmentRule = new Map<string, string>();
  spec.steps.forEach((step, i) => {
    const when = `step ${i + 1}/${spec.steps.length} (#${i}): ${describeStep(step)}`;
    switch (step.kind) {
      case 'setWeight':
        shift(when, roleWeights(step.weight, hasBaseline), `${step.weight}% to the canary`);
        break;
      case 'segment': {
        segmentRule.set(step.name, `segment rule ${step.name}`);
        saga.push({ kind: 'deleteSegmentRule', listenerArn: first.listenerArn, releaseId: DRY_RUN_ID, name: step.name });
        changes.push({
          when,
          what: `create listener rule "${step.name}" on ${refName({ listenerArn: first.listenerArn })} ahead of the service's forward: requests where ${describeMatch(step.match)} go 100% to ${groupName(arns.canary as string, names)}`,
          undo: `remove segment rule ${step.name} and verify it is gone`,
        });
        break;
      }
      case 'endSegment':
        changes.push({ when, what: `delete listener rule "${step.name}" (verified gone)` });
        segmentRule.delete(step.name);
        break;
      case 'pause':
      case 'analysis':
      case 'approval':
        changes.push({ when, what: 'no change to AWS' });
        break;
      case 'webhook':
        changes.push({ when, what: `no change to AWS: call hook ${step.hook}; a fail rolls back` });
        break;
      default:
        return unplannedStep(step);
    }
  });

  const rollback = rollbackOrder(saga).map((c) => describeCompensation(c).description.replace(/\brelease-dry-run\/0\b/g, 'this release'));

  const full = hasBaseline ? { stable: 0, canary: 100, baseline: 0 } : { stable: 0, canary: 100 };
  shift(
    'promotion',
    full,
    `all traffic to the new version; ${found.stableTargetGroupName} kept attached at weight 0 for ${formatDuration(spec.promotion.keepPreviousFor)}, a fast rollback`,
  );
  for (const name of segmentRule.keys()) changes.push({ when: 'finalizing', what: `delete listener rule "${name}" (still active at promotion)` });
  const final: WeightedTargetGroup[] = [{ targetGroupArn: arns.canary as string, weight: 100 }];
  if (pair) final.push({ targetGroupArn: found.stableTargetGroupArn, weight: 0 });
  for (const f of found.forwards) {
    const was = current.get(f.ref) as ForwardState;
    changes.push({
      when: 'finalizing',
      what: `${refName(f.ref)}: ${formatForward(was.targetGroups, names, was.stickiness)} → ${formatForward(final, names, was.stickiness)} (${pair ? 'the previous group stays attached at weight 0 for the next release' : 'the previous target groups leave the forward action'})`,
    });
  }
  const old = [found.stableTargetGroupName, ...(hasBaseline ? [names.get('baseline') as string] : [])];
  for (const name of old) {
    changes.push({
      when: 'finalizing',
      what: pair
        ? `deregister the previous version's targets from ${name} (after its deregistration delay)`
        : `delete target group ${name} once no forward action references it (after its deregistration delay)`,
    });
  }

  const found0: string[] = found.forwards.map((f) => `${refName(f.ref)} ${formatForward(f.forward.targetGroups, names, f.forward.stickiness)}`);
  found0.push(`stable target group ${found.stableTargetGroupName} (type ${found.targetType}, ${found.vpcId})`);
  if (found.idle)
    found0.push(
      `pair mode: ${found.live} is live, ${found.idle.role} (${found.idle.targetGroupName}) is idle${found.idle.attached ? ' and attached at weight 0' : ''}`,
    );
  return { release: `release-${spec.service}`, found: found0, changes, rollback, problems };
}

/** The plan as the CLI prints it. */
export function formatDryRun(plan: DryRunPlan, spec: ParsedReleaseSpec): string[] {
  const lines = [`dry run of ${plan.release}: ${spec.service} ${spec.version}, ${spec.steps.length} steps — nothing was written`, 'found'];
  for (const f of plan.found) lines.push(`  ${f}`);
  lines.push('changes, in order (undo: what a rollback does about it)');
  let when = '';
  for (const c of plan.changes) {
    if (c.when !== when) lines.push(`  ${c.when}`);
    when = c.when;
    lines.push(`    ${c.what}`);
    if (c.undo) lines.push(`      undo: ${c.undo}`);
  }
  lines.push('on a rollback (failed analysis, abort, timeout, error), in this order');
  for (const r of plan.rollback) lines.push(`  ${r}`);
  if (plan.problems.length) {
    lines.push('the release would refuse this spec');
    for (const p of plan.problems) lines.push(`  ${p}`);
  }
  return lines;
}

/** Why discovery refused the spec (ListenerNotFound, UnsupportedListener, ...), or undefined for another error. */
export function refusal(err: unknown): string | undefined {
  return err instanceof ApplicationFailure && err.nonRetryable ? `${err.type}: ${err.message}` : undefined;
}

/**
 * Rehearses a release of `spec`: read-only discovery in the spec's account and region (the spec's role assumed
 * when it names one), then the plan. AWS clients from the environment unless given.
 *
 * @throws what discovery throws: ApplicationFailure (non-retryable: the release would refuse the spec, see {@link refusal}) or an AWS error.
 */
export async function dryRun(spec: ParsedReleaseSpec, aws: AwsClients): Promise<DryRunPlan> {
  const scope = awsScope(spec);
  const clients = async (): Promise<Awaited<ReturnType<AwsClients['clientsFor']>>> => aws.clientsFor(scope);
  const traffic = createTrafficActivities(clients);
  const pair = spec.environment.mode === 'pair' ? spec.environment.pair : undefined;
  const found = await traffic.discoverForwards({ aws: scope, forwards: spec.traffic, pair });
  const plan = planRelease(spec, found);
  const concurrent = maxConcurrentSegments(spec.steps);
  if (concurrent > 0) {
    const segments = spec.steps.flatMap((s) => (s.kind === 'segment' ? [{ name: s.name, match: s.match }] : []));
    const first = spec.traffic[0] as TrafficRef;
    const room = await createSegmentActivities(clients).checkSegmentRoom({ ...first, aws: scope, releaseId: DRY_RUN_ID, segments, concurrent });
    plan.found.push(`segment rules: ${room.needed} needed at once; the load balancer has ${room.rulesOnLoadBalancer} of ${room.limit} rules`);
  }
  return plan;
}

/** A step kind without a case in the plan does not compile (its step is not `never` there). */
function unplannedStep(step: never): never {
  throw new Error(`the dry run has no plan for step ${JSON.stringify(step)}`);
}
