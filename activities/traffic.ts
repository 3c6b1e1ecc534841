/**
 * Listener and rule forward actions: discover the stable target group, set weights and verify them (never over a
 * change someone else made), restore the pre-release forward.
 */
import {
  DescribeListenersCommand,
  DescribeRulesCommand,
  DescribeTargetGroupsCommand,
  ModifyListenerCommand,
  ModifyRuleCommand,
  type Action,
  type ElasticLoadBalancingV2Client,
  type TargetGroup,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { ApplicationFailure } from '@temporalio/common';
import {
  describeForward,
  describeRef,
  describeStickiness,
  forwardDrift,
  sameForward,
  sameStickiness,
  sameTargetGroups,
  withWeights,
  type ForwardState,
  type ForwardStickiness,
} from '../common/forward';
import type { ClientResolver } from './aws-clients';
import { aws, isNotFound } from './errors';
import {
  ErrorTypes,
  type AwsScope,
  type DiscoveredForward,
  type DiscoveredForwards,
  type ElbAction,
  type ForwardDrift,
  type RestoredForward,
  type Scoped,
  type TrafficRef,
  type VerifiedWeights,
  type WeightedTargetGroup,
} from './contract';

/** `arn:...:targetgroup/NAME/ID` → `targetgroup/NAME/ID` (CloudWatch's TargetGroup dimension). */
export function targetGroupDimension(arn: string): string {
  const i = arn.indexOf(':targetgroup/');
  return i < 0 ? arn : arn.slice(i + 1);
}

/** `arn:...:listener/app/NAME/ID/LID` → `app/NAME/ID` (CloudWatch's LoadBalancer dimension). */
export function loadBalancerDimension(listenerArn: string): string {
  const m = /:listener\/(app\/[^/]+\/[^/]+)\//.exec(listenerArn);
  return m?.[1] ?? listenerArn;
}

export function loadBalancerArnOf(listenerArn: string): string {
  return listenerArn.replace(/:listener\/(app\/[^/]+\/[^/]+)\/[^/]+$/, ':loadbalancer/$1');
}

/** JSON copy without undefined fields; the OIDC client secret never leaves the activity (no secrets in history). */
export function toElbActions(actions: Action[]): ElbAction[] {
  return actions.map((a) => {
    const copy = JSON.parse(JSON.stringify(a)) as ElbAction;
    const oidc = copy.AuthenticateOidcConfig as Record<string, unknown> | undefined;
    if (oidc && 'ClientSecret' in oidc) {
      delete oidc.ClientSecret;
      oidc.UseExistingClientSecret = true;
    }
    return copy;
  });
}

/**
 * Actions as ModifyListener / ModifyRule take them back: AWS never returns an OIDC client secret, and a write
 * without one must say to keep the existing secret.
 */
export function writableActions(actions: (Action | ElbAction)[]): Action[] {
  return actions.map((a) => {
    const copy = JSON.parse(JSON.stringify(a)) as ElbAction;
    const oidc = copy.AuthenticateOidcConfig as Record<string, unknown> | undefined;
    if (copy.Type === 'authenticate-oidc' && oidc) {
      delete oidc.ClientSecret;
      oidc.UseExistingClientSecret = true;
    }
    return copy as unknown as Action;
  });
}

/** The target groups and raw weights of a forward action; a plain TargetGroupArn counts as weight 1. */
export function forwardTargets(action: Action | ElbAction): WeightedTargetGroup[] {
  const fc = action.ForwardConfig as Action['ForwardConfig'];
  if (fc?.TargetGroups?.length) {
    return fc.TargetGroups.filter((t) => t.TargetGroupArn).map((t) => ({ targetGroupArn: t.TargetGroupArn as string, weight: t.Weight ?? 1 }));
  }
  const arn = action.TargetGroupArn as string | undefined;
  return arn ? [{ targetGroupArn: arn, weight: 1 }] : [];
}

/** A forward action as the release compares it: target groups, weights, stickiness. */
export function forwardState(action: Action | ElbAction): ForwardState {
  const s = (action.ForwardConfig as Action['ForwardConfig'])?.TargetGroupStickinessConfig;
  return {
    targetGroups: forwardTargets(action),
    stickiness: s?.Enabled ? { enabled: true, durationSeconds: s.DurationSeconds } : { enabled: false },
  };
}

function stickinessConfig(state: ForwardState): NonNullable<Action['ForwardConfig']>['TargetGroupStickinessConfig'] {
  return state.stickiness.enabled ? { Enabled: true, DurationSeconds: state.stickiness.durationSeconds } : { Enabled: false };
}

/** The forward action with these target groups and weights and this stickiness, in the same place among the actions. */
function withStickiness(forward: Action, state: ForwardState): Action {
  return {
    Type: 'forward',
    Order: forward.Order,
    ForwardConfig: {
      TargetGroups: state.targetGroups.map((g) => ({ TargetGroupArn: g.targetGroupArn, Weight: g.weight })),
      TargetGroupStickinessConfig: stickinessConfig(state),
    },
  };
}

/** The single forward action of a list, undefined when there is none; more than one is not something ALB allows. */
function forwardOf<A extends { Type?: string }>(actions: A[]): A | undefined {
  return actions.find((a) => a.Type === 'forward');
}

/** The failure of a forward-action write refused because someone else changed it (also the test fake's, so both say the same). */
export function drifted(ref: TrafficRef, expected: ForwardState, actual: ForwardState | undefined): ApplicationFailure {
  const drift: ForwardDrift = { ref, expected, actual, message: forwardDrift(expected, actual) ?? 'changed' };
  return ApplicationFailure.create({
    type: ErrorTypes.ForwardActionDrifted,
    nonRetryable: true,
    message: `${describeRef(ref)} was changed by someone else since this release last verified it; nothing was written. ${drift.message}`,
    details: [drift],
  });
}

export function createTrafficActivities(clients: ClientResolver) {
  const elbv2Of = async (scope: AwsScope | undefined): Promise<ElasticLoadBalancingV2Client> => (await clients(scope)).elbv2;

  /** The actions that hold the forward: the rule's, or the listener's default ones. */
  async function readActions(elbv2: ElasticLoadBalancingV2Client, ref: TrafficRef): Promise<Action[]> {
    try {
      if (ref.ruleArn) {
        const ruleArn = ref.ruleArn;
        const out = await aws('DescribeRules', () => elbv2.send(new DescribeRulesCommand({ RuleArns: [ruleArn] })));
        const rule = out.Rules?.[0];
        if (!rule) throw ApplicationFailure.create({ type: ErrorTypes.ListenerNotFound, nonRetryable: true, message: `rule ${ref.ruleArn} not found` });
        return rule.Actions ?? [];
      }
      const out = await aws('DescribeListeners', () => elbv2.send(new DescribeListenersCommand({ ListenerArns: [ref.listenerArn] })));
      const listener = out.Listeners?.[0];
      if (!listener)
        throw ApplicationFailure.create({ type: ErrorTypes.ListenerNotFound, nonRetryable: true, message: `listener ${ref.listenerArn} not found` });
      return listener.DefaultActions ?? [];
    } catch (err) {
      if (isNotFound(err)) {
        throw ApplicationFailure.create({
          type: ErrorTypes.ListenerNotFound,
          nonRetryable: true,
          message: `${describeRef(ref)} does not exist (check traffic.listenerArn / traffic.ruleArn and the region)`,
          cause: err as Error,
        });
      }
      throw err;
    }
  }

  /** The single forward action, or UnsupportedListener saying what is there instead. */
  function theForward(ref: TrafficRef, actions: Action[]): Action {
    const forwards = actions.filter((a) => a.Type === 'forward');
    if (forwards.length !== 1) {
      throw ApplicationFailure.create({
        type: ErrorTypes.UnsupportedListener,
        nonRetryable: true,
        message: `${describeRef(ref)} has actions [${actions.map((a) => a.Type).join(', ') || 'none'}]; a release needs exactly one forward action (point traffic.ruleArn at the rule that forwards to the service)`,
      });
    }
    return forwards[0] as Action;
  }

  async function verify(elbv2: ElasticLoadBalancingV2Client, ref: TrafficRef, expected: WeightedTargetGroup[]): Promise<ForwardState> {
    const actual = forwardState(theForward(ref, await readActions(elbv2, ref)));
    if (!sameTargetGroups(actual.targetGroups, expected)) {
      throw ApplicationFailure.create({
        type: ErrorTypes.WeightsNotVerified,
        message: `${describeRef(ref)} forwards ${JSON.stringify(actual.targetGroups)} after the change, expected ${JSON.stringify(expected)}`,
      });
    }
    return actual;
  }

  /** {@link verify}, and the stickiness read back is `expected` (after the `change` or the `restore` of it). */
  async function verifyStickiness(
    elbv2: ElasticLoadBalancingV2Client,
    ref: TrafficRef,
    groups: WeightedTargetGroup[],
    expected: ForwardStickiness,
    after: 'change' | 'restore',
  ): Promise<ForwardState> {
    const verified = await verify(elbv2, ref, groups);
    if (!sameStickiness(verified.stickiness, expected)) {
      throw ApplicationFailure.create({
        type: ErrorTypes.WeightsNotVerified,
        message: `${describeRef(ref)} has ${describeStickiness(verified.stickiness)} after the ${after}, expected ${describeStickiness(expected)}`,
      });
    }
    return verified;
  }

  async function writeActions(elbv2: ElasticLoadBalancingV2Client, ref: TrafficRef, actions: (Action | ElbAction)[]): Promise<void> {
    const body = writableActions(actions);
    if (ref.ruleArn) {
      const ruleArn = ref.ruleArn;
      await aws('ModifyRule', () => elbv2.send(new ModifyRuleCommand({ RuleArn: ruleArn, Actions: body })));
    } else {
      await aws('ModifyListener', () => elbv2.send(new ModifyListenerCommand({ ListenerArn: ref.listenerArn, DefaultActions: body })));
    }
  }

  async function describeGroup(elbv2: ElasticLoadBalancingV2Client, arn: string, what: string): Promise<TargetGroup> {
    const out = await aws(`DescribeTargetGroups ${what}`, () => elbv2.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [arn] })));
    const tg = out.TargetGroups?.[0];
    if (!tg?.VpcId || !tg.TargetGroupName) {
      throw ApplicationFailure.create({ type: ErrorTypes.UnsupportedListener, nonRetryable: true, message: `${what} ${arn} could not be described` });
    }
    return tg;
  }

  function validateWeights(weights: WeightedTargetGroup[]): void {
    // moto accepts any weight and any number of groups; AWS does not, so check here.
    if (weights.length === 0 || weights.length > 5) {
      throw ApplicationFailure.create({
        type: ErrorTypes.InvalidAwsRequest,
        nonRetryable: true,
        message: `a forward action takes 1 to 5 target groups, got ${weights.length}`,
      });
    }
    for (const w of weights) {
      if (!Number.isInteger(w.weight) || w.weight < 0 || w.weight > 100) {
        throw ApplicationFailure.create({
          type: ErrorTypes.InvalidAwsRequest,
          nonRetryable: true,
          message: `weight ${w.weight} for ${w.targetGroupArn} is not an integer 0..100`,
        });
      }
    }
    if (new Set(weights.map((w) => w.targetGroupArn)).size !== weights.length) {
      throw ApplicationFailure.create({ type: ErrorTypes.InvalidAwsRequest, nonRetryable: true, message: 'a target group is listed twice' });
    }
    if (weights.every((w) => w.weight === 0)) {
      throw ApplicationFailure.create({
        type: ErrorTypes.InvalidAwsRequest,
        nonRetryable: true,
        message: 'at least one target group needs a weight above 0',
      });
    }
  }

  return {
    async discoverForwards(input: Scoped & { forwards: TrafficRef[]; pair?: { blue: string; green: string } }): Promise<DiscoveredForwards> {
      const elbv2 = await elbv2Of(input.aws);
      if (input.forwards.length === 0) {
        throw ApplicationFailure.create({
          type: ErrorTypes.InvalidAwsRequest,
          nonRetryable: true,
          message: 'no forward action to discover (traffic is empty)',
        });
      }
      const pairArns = input.pair ? [input.pair.blue, input.pair.green] : [];
      const found: DiscoveredForward[] = [];
      let stableArn: string | undefined;
      for (const [i, ref] of input.forwards.entries()) {
        const actions = await readActions(elbv2, ref);
        const forward = forwardState(theForward(ref, actions));
        const live = forward.targetGroups.filter((g) => g.weight > 0);
        // Weight-0 groups: in pair mode the idle one may stay attached between releases; anything else is a
        // leftover or a split in progress, which a release must not build on.
        const parked = forward.targetGroups.filter((g) => g.weight === 0 && !pairArns.includes(g.targetGroupArn));
        if (live.length !== 1 || parked.length > 0) {
          throw ApplicationFailure.create({
            type: ErrorTypes.UnsupportedListener,
            nonRetryable: true,
            message: `${describeRef(ref)} ${describeForward(forward)}; a release starts from one stable target group getting all the traffic: is another release or a manual split in progress?`,
          });
        }
        const arn = (live[0] as WeightedTargetGroup).targetGroupArn;
        if (stableArn !== undefined && arn !== stableArn) {
          throw ApplicationFailure.create({
            type: ErrorTypes.UnsupportedListener,
            nonRetryable: true,
            message: `traffic[${i}] (${describeRef(ref)}) forwards to ${targetGroupDimension(arn)}, traffic[0] to ${targetGroupDimension(stableArn)}: the forward actions of one release serve one stable target group`,
          });
        }
        stableArn = arn;
        found.push({ ref, originalActions: toElbActions(actions), forward });
      }
      const stableTg = await describeGroup(elbv2, stableArn as string, 'stable target group');
      const first = input.forwards[0] as TrafficRef;
      const out: DiscoveredForwards = {
        originalActions: (found[0] as DiscoveredForward).originalActions,
        stableTargetGroupArn: stableArn as string,
        stableTargetGroupName: stableTg.TargetGroupName as string,
        stableDimension: targetGroupDimension(stableArn as string),
        loadBalancerArn: loadBalancerArnOf(first.listenerArn),
        loadBalancerDimension: loadBalancerDimension(first.listenerArn),
        vpcId: stableTg.VpcId as string,
        targetType: stableTg.TargetType ?? 'instance',
        forwards: found,
      };
      if (input.pair) {
        const live = input.pair.blue === stableArn ? 'blue' : input.pair.green === stableArn ? 'green' : undefined;
        if (!live) {
          throw ApplicationFailure.create({
            type: ErrorTypes.PairNotLive,
            nonRetryable: true,
            message: `the forward actions send traffic to ${targetGroupDimension(stableArn as string)}, which is neither environment.pair.blue nor environment.pair.green`,
          });
        }
        const idleRole = live === 'blue' ? 'green' : 'blue';
        const idleArn = input.pair[idleRole];
        const idle = await describeGroup(elbv2, idleArn, `environment.pair.${idleRole}`);
        if (idle.VpcId !== stableTg.VpcId || idle.TargetType !== stableTg.TargetType || idle.Protocol !== stableTg.Protocol) {
          throw ApplicationFailure.create({
            type: ErrorTypes.UnsupportedListener,
            nonRetryable: true,
            message: `environment.pair.${idleRole} (${idle.VpcId}, ${idle.TargetType}, ${idle.Protocol}) does not match the live ${live} group (${stableTg.VpcId}, ${stableTg.TargetType}, ${stableTg.Protocol}): the pair must be interchangeable`,
          });
        }
        out.live = live;
        out.idle = {
          role: idleRole,
          targetGroupArn: idleArn,
          targetGroupName: idle.TargetGroupName as string,
          dimension: targetGroupDimension(idleArn),
          attached: found.every((f) => f.forward.targetGroups.some((g) => g.targetGroupArn === idleArn)),
        };
      }
      return out;
    },

    async readForward(input: TrafficRef & Scoped): Promise<{ forward?: ForwardState; actionTypes: string[] }> {
      const actions = await readActions(await elbv2Of(input.aws), input);
      const forward = forwardOf(actions);
      return { forward: forward ? forwardState(forward) : undefined, actionTypes: actions.map((a) => a.Type ?? '?') };
    },

    async checkDrift(input: Scoped & { forwards: { ref: TrafficRef; expected: ForwardState }[] }): Promise<{ drifted: ForwardDrift[] }> {
      const elbv2 = await elbv2Of(input.aws);
      const out: ForwardDrift[] = [];
      for (const { ref, expected } of input.forwards) {
        const forward = forwardOf(await readActions(elbv2, ref));
        const actual = forward ? forwardState(forward) : undefined;
        const message = forwardDrift(expected, actual);
        if (message) out.push({ ref, expected, actual, message });
      }
      return { drifted: out };
    },

    async setForwardWeights(input: TrafficRef & Scoped & { weights: WeightedTargetGroup[]; expected?: ForwardState }): Promise<VerifiedWeights> {
      validateWeights(input.weights);
      const elbv2 = await elbv2Of(input.aws);
      const actions = await readActions(elbv2, input);
      const found = forwardOf(actions);
      if (!found && input.expected) throw drifted(input, input.expected, undefined);
      const forward = theForward(input, actions);
      const current = forwardState(forward);
      // A retry after a write that took effect finds the requested state: done, not drift.
      const requested = withWeights(input.expected ?? current, input.weights);
      if (sameForward(current, requested)) {
        const verified = await verify(elbv2, input, input.weights);
        return { weights: verified.targetGroups, unchanged: true, forward: verified };
      }
      if (input.expected && !sameForward(current, input.expected)) throw drifted(input, input.expected, current);
      const next: Action = {
        Type: 'forward',
        Order: forward.Order,
        ForwardConfig: {
          TargetGroups: input.weights.map((w) => ({ TargetGroupArn: w.targetGroupArn, Weight: w.weight })),
          TargetGroupStickinessConfig: forward.ForwardConfig?.TargetGroupStickinessConfig,
        },
      };
      await writeActions(
        elbv2,
        input,
        actions.map((a) => (a === forward ? next : a)),
      );
      const verified = await verify(elbv2, input, input.weights);
      return { weights: verified.targetGroups, unchanged: false, forward: verified };
    },

    async setForwardStickiness(input: TrafficRef & Scoped & { stickiness: ForwardStickiness; expected: ForwardState }): Promise<VerifiedWeights> {
      const elbv2 = await elbv2Of(input.aws);
      const actions = await readActions(elbv2, input);
      const found = forwardOf(actions);
      if (!found) throw drifted(input, input.expected, undefined);
      const current = forwardState(found);
      const requested: ForwardState = { targetGroups: current.targetGroups, stickiness: input.stickiness };
      // A retry after a write that took effect finds the requested stickiness on the expected groups: done, not drift.
      const done = sameTargetGroups(current.targetGroups, input.expected.targetGroups) && sameStickiness(current.stickiness, input.stickiness);
      if (!done) {
        if (!sameForward(current, input.expected)) throw drifted(input, input.expected, current);
        await writeActions(
          elbv2,
          input,
          actions.map((a) => (a === found ? withStickiness(found, requested) : a)),
        );
      }
      const verified = await verifyStickiness(elbv2, input, current.targetGroups, input.stickiness, 'change');
      return { weights: verified.targetGroups, unchanged: done, forward: verified };
    },

    async restoreStickiness(input: TrafficRef & Scoped & { original: ForwardStickiness; set: ForwardStickiness }): Promise<RestoredForward> {
      const elbv2 = await elbv2Of(input.aws);
      const actions = await readActions(elbv2, input);
      const found = forwardOf(actions);
      if (!found) return { weights: [], unchanged: true, kept: [`no forward action (someone replaced it): no stickiness to restore`] };
      const current = forwardState(found);
      if (sameStickiness(current.stickiness, input.original)) return { weights: current.targetGroups, unchanged: true, kept: [], forward: current };
      if (!sameStickiness(current.stickiness, input.set)) {
        // Not what the release set: someone changed it during the release, and their setting stays.
        return {
          weights: current.targetGroups,
          unchanged: true,
          kept: [
            `stickiness: ${describeStickiness(current.stickiness)} (the release set ${describeStickiness(input.set)}, was: ${describeStickiness(input.original)})`,
          ],
          forward: current,
        };
      }
      const restored: ForwardState = { targetGroups: current.targetGroups, stickiness: input.original };
      await writeActions(
        elbv2,
        input,
        actions.map((a) => (a === found ? withStickiness(found, restored) : a)),
      );
      const verified = await verifyStickiness(elbv2, input, current.targetGroups, input.original, 'restore');
      return { weights: verified.targetGroups, unchanged: false, kept: [], forward: verified };
    },

    async restoreActions(input: TrafficRef & Scoped & { actions: ElbAction[] }): Promise<RestoredForward> {
      const elbv2 = await elbv2Of(input.aws);
      const original = forwardOf(input.actions);
      if (!original) {
        // Nothing to merge with (not a discovery's record): put the recorded actions back as they are.
        await writeActions(elbv2, input, input.actions);
        return { weights: [], unchanged: false, kept: [] };
      }
      const originalState = forwardState(original);
      const actions = await readActions(elbv2, input);
      const current = forwardOf(actions);
      const types = (list: { Type?: string }[]): string => list.map((a) => a.Type).join(', ');
      if (!current) {
        // The release never removes the forward action: a person did (a maintenance page during an incident?).
        // Recreating it would overwrite that decision, and no forward action means the release's groups get nothing.
        return {
          weights: [],
          unchanged: true,
          kept: [`actions: ${types(actions) || 'none'} (were: ${types(input.actions)}): the forward action was removed by someone else and is not recreated`],
        };
      }
      const currentState = forwardState(current);
      const kept: string[] = [];
      const others = (list: (Action | ElbAction)[]): string =>
        JSON.stringify(toElbActions(list.filter((a) => a.Type !== 'forward') as Action[]).map(({ Order: _order, ...rest }) => rest));
      if (others(actions) !== others(input.actions)) kept.push(`actions: ${types(actions)} (were: ${types(input.actions)})`);
      const stickinessChanged = !sameStickiness(currentState.stickiness, originalState.stickiness);
      if (stickinessChanged) kept.push(`stickiness: ${describeStickiness(currentState.stickiness)} (was: ${describeStickiness(originalState.stickiness)})`);
      if (sameTargetGroups(currentState.targetGroups, originalState.targetGroups)) {
        return { weights: currentState.targetGroups, unchanged: true, kept, forward: await verify(elbv2, input, originalState.targetGroups) };
      }
      // The release only ever changes the forward's target groups and weights: put exactly those back, and keep
      // what else is there now (stickiness, other actions, order), which may be a person's change.
      const restored: Action | ElbAction = stickinessChanged
        ? {
            Type: 'forward',
            Order: current.Order,
            ForwardConfig: {
              TargetGroups: originalState.targetGroups.map((g) => ({ TargetGroupArn: g.targetGroupArn, Weight: g.weight })),
              TargetGroupStickinessConfig: stickinessConfig(currentState),
            },
          }
        : { ...original, Order: current.Order };
      await writeActions(
        elbv2,
        input,
        actions.map((a) => (a === current ? restored : a)),
      );
      const verified = await verify(elbv2, input, originalState.targetGroups);
      return { weights: verified.targetGroups, unchanged: false, kept, forward: verified };
    },
  };
}
