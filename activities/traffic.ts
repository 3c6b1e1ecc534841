/**
 * Listener and rule forward actions: discover the stable target group, set weights and verify them,
 * restore the recorded pre-release actions.
 */
import {
  DescribeListenersCommand,
  DescribeRulesCommand,
  DescribeTargetGroupsCommand,
  ModifyListenerCommand,
  ModifyRuleCommand,
  type Action,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { ApplicationFailure } from '@temporalio/common';
import { aws, isNotFound } from './errors';
import { ErrorTypes, type DiscoveredTraffic, type ElbAction, type TrafficRef, type VerifiedWeights, type WeightedTargetGroup } from './contract';

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

/** The target groups and raw weights of a forward action; a plain TargetGroupArn counts as weight 1. */
export function forwardTargets(action: Action | ElbAction): WeightedTargetGroup[] {
  const fc = action.ForwardConfig as Action['ForwardConfig'];
  if (fc?.TargetGroups?.length) {
    return fc.TargetGroups.filter((t) => t.TargetGroupArn).map((t) => ({ targetGroupArn: t.TargetGroupArn as string, weight: t.Weight ?? 1 }));
  }
  const arn = action.TargetGroupArn as string | undefined;
  return arn ? [{ targetGroupArn: arn, weight: 1 }] : [];
}

function sameWeights(a: WeightedTargetGroup[], b: WeightedTargetGroup[]): boolean {
  const key = (w: WeightedTargetGroup[]): string =>
    w
      .map((x) => `${x.targetGroupArn}=${x.weight}`)
      .sort()
      .join(',');
  return key(a) === key(b);
}

export interface TrafficActivities {
  discoverTraffic(ref: TrafficRef): Promise<DiscoveredTraffic>;
  setForwardWeights(input: TrafficRef & { weights: WeightedTargetGroup[] }): Promise<VerifiedWeights>;
  restoreActions(input: TrafficRef & { actions: ElbAction[] }): Promise<VerifiedWeights>;
}

export function createTrafficActivities(elbv2: ElasticLoadBalancingV2Client) {
  /** The actions that hold the forward: the rule's, or the listener's default ones. */
  async function readActions(ref: TrafficRef): Promise<Action[]> {
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
          message: `${ref.ruleArn ? `rule ${ref.ruleArn}` : `listener ${ref.listenerArn}`} does not exist (check traffic.listenerArn / traffic.ruleArn and the region)`,
          cause: err as Error,
        });
      }
      throw err;
    }
  }

  function where(ref: TrafficRef): string {
    return ref.ruleArn ? `rule ${ref.ruleArn}` : `listener ${ref.listenerArn}`;
  }

  /** The single forward action, or UnsupportedListener saying what is there instead. */
  function theForward(ref: TrafficRef, actions: Action[]): Action {
    const forwards = actions.filter((a) => a.Type === 'forward');
    if (forwards.length !== 1) {
      throw ApplicationFailure.create({
        type: ErrorTypes.UnsupportedListener,
        nonRetryable: true,
        message: `${where(ref)} has actions [${actions.map((a) => a.Type).join(', ') || 'none'}]; a release needs exactly one forward action (point traffic.ruleArn at the rule that forwards to the service)`,
      });
    }
    return forwards[0] as Action;
  }

  async function verify(ref: TrafficRef, expected: WeightedTargetGroup[]): Promise<WeightedTargetGroup[]> {
    const actual = forwardTargets(theForward(ref, await readActions(ref)));
    if (!sameWeights(actual, expected)) {
      throw ApplicationFailure.create({
        type: ErrorTypes.WeightsNotVerified,
        message: `${where(ref)} forwards ${JSON.stringify(actual)} after the change, expected ${JSON.stringify(expected)}`,
      });
    }
    return actual;
  }

  async function writeActions(ref: TrafficRef, actions: Action[]): Promise<void> {
    if (ref.ruleArn) {
      const ruleArn = ref.ruleArn;
      await aws('ModifyRule', () => elbv2.send(new ModifyRuleCommand({ RuleArn: ruleArn, Actions: actions })));
    } else {
      await aws('ModifyListener', () => elbv2.send(new ModifyListenerCommand({ ListenerArn: ref.listenerArn, DefaultActions: actions })));
    }
  }

  return {
    async discoverTraffic(ref: TrafficRef): Promise<DiscoveredTraffic> {
      const actions = await readActions(ref);
      const targets = forwardTargets(theForward(ref, actions));
      if (targets.length !== 1) {
        throw ApplicationFailure.create({
          type: ErrorTypes.UnsupportedListener,
          nonRetryable: true,
          message: `${where(ref)} forwards to ${targets.length} target groups (${targets.map((t) => `${targetGroupDimension(t.targetGroupArn)}=${t.weight}`).join(', ')}); a release starts from one stable target group: is another release or a manual split in progress?`,
        });
      }
      const stableArn = (targets[0] as WeightedTargetGroup).targetGroupArn;
      const tgs = await aws('DescribeTargetGroups', () => elbv2.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [stableArn] })));
      const stable = tgs.TargetGroups?.[0];
      if (!stable?.VpcId || !stable.TargetGroupName) {
        throw ApplicationFailure.create({
          type: ErrorTypes.UnsupportedListener,
          nonRetryable: true,
          message: `stable target group ${stableArn} could not be described`,
        });
      }
      return {
        originalActions: toElbActions(actions),
        stableTargetGroupArn: stableArn,
        stableTargetGroupName: stable.TargetGroupName,
        stableDimension: targetGroupDimension(stableArn),
        loadBalancerArn: loadBalancerArnOf(ref.listenerArn),
        loadBalancerDimension: loadBalancerDimension(ref.listenerArn),
        vpcId: stable.VpcId,
      };
    },

    async setForwardWeights(input: TrafficRef & { weights: WeightedTargetGroup[] }): Promise<VerifiedWeights> {
      // moto accepts any weight and any number of groups; AWS does not, so check here.
      if (input.weights.length === 0 || input.weights.length > 5) {
        throw ApplicationFailure.create({
          type: ErrorTypes.InvalidAwsRequest,
          nonRetryable: true,
          message: `a forward action takes 1 to 5 target groups, got ${input.weights.length}`,
        });
      }
      for (const w of input.weights) {
        if (!Number.isInteger(w.weight) || w.weight < 0 || w.weight > 100) {
          throw ApplicationFailure.create({
            type: ErrorTypes.InvalidAwsRequest,
            nonRetryable: true,
            message: `weight ${w.weight} for ${w.targetGroupArn} is not an integer 0..100`,
          });
        }
      }
      if (input.weights.every((w) => w.weight === 0)) {
        throw ApplicationFailure.create({
          type: ErrorTypes.InvalidAwsRequest,
          nonRetryable: true,
          message: 'at least one target group needs a weight above 0',
        });
      }
      const actions = await readActions(input);
      const forward = theForward(input, actions);
      if (sameWeights(forwardTargets(forward), input.weights)) {
        return { weights: await verify(input, input.weights), unchanged: true };
      }
      const next: Action = {
        Type: 'forward',
        Order: forward.Order,
        ForwardConfig: {
          TargetGroups: input.weights.map((w) => ({ TargetGroupArn: w.targetGroupArn, Weight: w.weight })),
          TargetGroupStickinessConfig: forward.ForwardConfig?.TargetGroupStickinessConfig,
        },
      };
      await writeActions(
        input,
        actions.map((a) => (a === forward ? next : a)),
      );
      return { weights: await verify(input, input.weights), unchanged: false };
    },

    async restoreActions(input: TrafficRef & { actions: ElbAction[] }): Promise<VerifiedWeights> {
      // Write first, then verify: this is the rollback's hot path, and writing the recorded actions again is
      // harmless, so the describe-before-write that other activities do would only delay getting traffic back.
      const expected = input.actions.filter((a) => a.Type === 'forward').flatMap((a) => forwardTargets(a));
      await writeActions(input, input.actions as unknown as Action[]);
      return { weights: await verify(input, expected), unchanged: false };
    },
  };
}
