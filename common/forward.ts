/**
 * The part of a listener/rule forward action a release owns, as plain data: which target groups, with which
 * weights, under which stickiness. Pure and workflow-safe, so the workflow and the activities compare forward
 * actions the same way (drift detection, verification, restore).
 */

/** Where a forward action lives: the listener's default actions, or one rule of it. */
export interface TrafficRef {
  listenerArn: string;
  ruleArn?: string;
}

export interface WeightedTargetGroup {
  targetGroupArn: string;
  /** 0..100 (ALB accepts 0..999; canary uses percent). */
  weight: number;
}

/** Target group stickiness of a forward action (ALB's TargetGroupStickinessConfig); absent means disabled. */
export interface ForwardStickiness {
  enabled: boolean;
  durationSeconds?: number;
}

/** One forward action as a release sees it: what it verified last and what it compares before each change. */
export interface ForwardState {
  targetGroups: WeightedTargetGroup[];
  stickiness: ForwardStickiness;
}

/** The list form of the spec's `traffic` (a recorded spec may still hold the single `{listenerArn, ruleArn}` form). */
export function trafficRefs(traffic: TrafficRef | readonly TrafficRef[]): TrafficRef[] {
  return Array.isArray(traffic) ? [...(traffic as readonly TrafficRef[])] : [traffic as TrafficRef];
}

/** `listener .../ID` or `rule .../ID`: how messages name a forward action. */
export function describeRef(ref: TrafficRef): string {
  return ref.ruleArn ? `rule ${ref.ruleArn}` : `listener ${ref.listenerArn}`;
}

/** A stable key of a ref, for maps keyed by forward action. */
export function refKey(ref: TrafficRef): string {
  return ref.ruleArn ?? ref.listenerArn;
}

function normalStickiness(s: ForwardStickiness | undefined): ForwardStickiness {
  // AWS reports a duration even for disabled stickiness; only an enabled one's duration changes routing.
  if (!s?.enabled) return { enabled: false };
  return { enabled: true, durationSeconds: s.durationSeconds };
}

function groupsKey(groups: readonly WeightedTargetGroup[]): string {
  return groups
    .map((g) => `${g.targetGroupArn}=${g.weight}`)
    .sort()
    .join(',');
}

/** Same target groups with the same weights (order does not matter: ALB does not keep it meaningful). */
export function sameTargetGroups(a: readonly WeightedTargetGroup[], b: readonly WeightedTargetGroup[]): boolean {
  return groupsKey(a) === groupsKey(b);
}

/** Same stickiness as far as routing goes (a disabled one's duration does not count). */
export function sameStickiness(a: ForwardStickiness | undefined, b: ForwardStickiness | undefined): boolean {
  const sa = normalStickiness(a);
  const sb = normalStickiness(b);
  return sa.enabled === sb.enabled && sa.durationSeconds === sb.durationSeconds;
}

/** `stickiness 300s` or `no stickiness`. */
export function describeStickiness(s: ForwardStickiness | undefined): string {
  const n = normalStickiness(s);
  return n.enabled ? `stickiness ${n.durationSeconds ?? '?'}s` : 'no stickiness';
}

/** Same target groups, weights and stickiness. */
export function sameForward(a: ForwardState, b: ForwardState): boolean {
  return sameTargetGroups(a.targetGroups, b.targetGroups) && sameStickiness(a.stickiness, b.stickiness);
}

/** `targetgroup/NAME/ID` of an ARN: short enough for messages, unique per account and region. */
export function shortTargetGroup(arn: string): string {
  const i = arn.indexOf(':targetgroup/');
  return i < 0 ? arn : arn.slice(i + 1);
}

/** `forward targetgroup/a/1=90, targetgroup/b/2=10, stickiness 300s`: a forward state in one line. */
export function describeForward(f: ForwardState | undefined): string {
  if (!f) return 'no forward action';
  const groups = f.targetGroups.map((g) => `${shortTargetGroup(g.targetGroupArn)}=${g.weight}`).join(', ') || 'no target groups';
  return `forward ${groups}, ${describeStickiness(f.stickiness)}`;
}

/**
 * What differs between the forward a release expects and the one AWS holds, in words; undefined when they are
 * the same. `actual` undefined: the action holds no forward action at all (someone replaced it).
 */
export function forwardDrift(expected: ForwardState, actual: ForwardState | undefined): string | undefined {
  if (!actual) return `expected ${describeForward(expected)}, found no forward action`;
  if (sameForward(expected, actual)) return undefined;
  const changes: string[] = [];
  if (!sameTargetGroups(expected.targetGroups, actual.targetGroups)) changes.push('target groups / weights');
  if (!sameStickiness(expected.stickiness, actual.stickiness)) changes.push('stickiness');
  return `${changes.join(' and ')} changed: expected ${describeForward(expected)}, found ${describeForward(actual)}`;
}

/** The forward a weight change produces from `state`: these weights, the stickiness left as it is. */
export function withWeights(state: ForwardState, weights: readonly WeightedTargetGroup[]): ForwardState {
  return { targetGroups: weights.map((w) => ({ ...w })), stickiness: normalStickiness(state.stickiness) };
}

/**
 * Pair mode: the weights that end a promotion. The idle group (now serving the new version) gets everything; the
 * previously live one stays in the action at weight 0 when the pre-release action listed both groups (the usual
 * Terraform/CodeDeploy shape, so the infrastructure code sees the shape it wrote), and leaves it otherwise.
 */
export function pairPromotedWeights(original: ForwardState, liveArn: string, idleArn: string): WeightedTargetGroup[] {
  const listedBoth = original.targetGroups.some((g) => g.targetGroupArn === idleArn);
  return listedBoth
    ? [
        { targetGroupArn: idleArn, weight: 100 },
        { targetGroupArn: liveArn, weight: 0 },
      ]
    : [{ targetGroupArn: idleArn, weight: 100 }];
}
