/**
 * What the release workflow may ask of the outside world. The workflow sees only these types
 * (`proxyActivities<ReleaseActivities>`); `createActivities` in ./index.ts builds them over AWS SDK clients.
 * Every activity is idempotent: describe first, act only if different, find what an earlier attempt created.
 */
import type { RuleCondition, SegmentMatch } from '../common/segments';
import type { Target } from '../common/spec';
import type { ForwardState, ForwardStickiness, TrafficRef, WeightedTargetGroup } from '../common/forward';
import type { AnalysisRequest, AnalysisRun } from '../analysis/analysis';
import type { Notification } from './notify';
import type { HookAnswer, HookContext, WorkerHooks } from '../common/hooks';

export type { ForwardState, ForwardStickiness, TrafficRef, WeightedTargetGroup } from '../common/forward';

/**
 * Which AWS account and region an activity works in: the spec's `region` and, optionally, a role the worker
 * assumes (`aws.roleArn`, `aws.externalId`). Never credentials: the worker resolves these to cached clients,
 * so nothing secret reaches the workflow history. Absent: the worker's own region and credentials.
 */
export interface AwsScope {
  region: string;
  roleArn?: string;
  externalId?: string;
}

/** Every AWS activity input may carry the scope it runs in. */
export interface Scoped {
  aws?: AwsScope;
}

/** An ALB action as JSON (the SDK's Action shape, dates and undefined stripped). */
export type ElbAction = Record<string, unknown> & { Type: string; Order?: number };

export interface DiscoveredTraffic {
  /** The listener's default actions, or the rule's actions, exactly as AWS returned them: what a rollback restores. */
  originalActions: ElbAction[];
  stableTargetGroupArn: string;
  stableTargetGroupName: string;
  /** `targetgroup/NAME/ID`: the CloudWatch TargetGroup dimension. */
  stableDimension: string;
  loadBalancerArn: string;
  /** `app/NAME/ID`: the CloudWatch LoadBalancer dimension. */
  loadBalancerDimension: string;
  vpcId: string;
}

/** One forward action found at discovery: what a rollback restores and what the first change expects. */
export interface DiscoveredForward {
  ref: TrafficRef;
  /** The actions (listener default actions or the rule's) exactly as AWS returned them, the OIDC secret stripped. */
  originalActions: ElbAction[];
  /** The forward as found: the `expected` of the release's first change to it. */
  forward: ForwardState;
}

export interface DiscoveredForwards extends DiscoveredTraffic {
  /** One entry per `traffic` ref, in spec order; `originalActions` of the first is DiscoveredTraffic's. */
  forwards: DiscoveredForward[];
  /** `stableTargetGroupArn`'s target type: `ip`, `instance` (targets are checked against it). */
  targetType: string;
  /** Pair mode: the group of the pair that gets no traffic (the canary's), and which name it has in the spec. */
  idle?: { role: 'blue' | 'green'; targetGroupArn: string; targetGroupName: string; dimension: string; attached: boolean };
  /** Pair mode: which of the pair is live (the stable). */
  live?: 'blue' | 'green';
}

export interface EnsuredTargetGroup {
  targetGroupArn: string;
  name: string;
  /** `targetgroup/NAME/ID` */
  dimension: string;
  /** False when an earlier attempt of the same release had already created it. */
  created: boolean;
}

export interface VerifiedWeights {
  /** As read back from AWS after the change (DescribeListeners / DescribeRules). */
  weights: WeightedTargetGroup[];
  /** True when the call found AWS already in the requested state and changed nothing. */
  unchanged: boolean;
  /**
   * The forward action as verified (weights and stickiness): the `expected` of the next change to this action.
   * Absent in results recorded before drift detection existed.
   */
  forward?: ForwardState;
}

export interface RestoredForward extends VerifiedWeights {
  /**
   * Changes made by someone else during the release that the restore kept, in words (empty: the actions are
   * exactly the pre-release ones). E.g. `stickiness: 3600s (was off)`, `actions: authenticate-oidc, forward (were: forward)`.
   */
  kept: string[];
}

/** One target's health as AWS reports it. */
export interface TargetHealthReport {
  /** `10.0.1.17:8080`, `i-0abc...:80`. */
  target: string;
  state: string;
  reason?: string;
  description?: string;
}

export interface HealthyTargets {
  healthy: number;
  waitedMs: number;
  /** Every target's last state (all healthy on success). */
  targets: TargetHealthReport[];
}

/** A forward action that is not what the release last verified (someone changed it). */
export interface ForwardDrift {
  ref: TrafficRef;
  expected: ForwardState;
  /** Undefined: the actions hold no forward action any more. */
  actual?: ForwardState;
  /** What changed, in words. */
  message: string;
}

export interface DrainResult {
  /** The group's `deregistration_delay.timeout_seconds`, in ms. */
  delayMs: number;
  /** What was waited (the delay capped by `capMs`), counted from the first attempt. */
  waitedMs: number;
  capped: boolean;
}

/** Pair mode: the idle group, ready to receive the canary's traffic. */
export interface PreparedIdleGroup {
  /** The canary targets: the ones given, or, when none were given, those the deployer registered. */
  targets: Target[];
  /** The ones this call registered (a rollback deregisters exactly these). */
  registered: Target[];
}

/** One segment rule of a release: who it selects, on which listener, ahead of which forward, to which canary. */
export interface SegmentRuleRequest extends TrafficRef, Scoped {
  /** `workflowId/runId` of the release (the `canary:release-id` tag of everything it creates). */
  releaseId: string;
  /** The segment's name (tag `canary:segment`); one rule per name and release. */
  name: string;
  match: SegmentMatch;
  canaryTargetGroupArn: string;
  /** Extra tags (e.g. `canary:service`, `canary:version`). */
  tags?: Record<string, string>;
}

/** Where a segment rule will go: a priority free now, or the rule an earlier attempt already created. */
export interface SegmentRulePlan {
  priority: number;
  existingRuleArn?: string;
}

/** A segment rule as verified by a describe after the write; what the drift check and the status compare with. */
export interface EnsuredSegmentRule {
  ruleArn: string;
  priority: number;
  /** The conditions written: the service rule's own conditions plus the segment's. */
  conditions: RuleCondition[];
  /** Action types in order (authentication copied from the service, then forward). */
  actionTypes: string[];
  /**
   * The service rule's other fields the segment rule carries as they are (its `Transforms`: URL and host-header
   * rewrite). Absent in rules recorded before segment rules copied them (then not compared).
   */
  copied?: Record<string, unknown>;
  /** False when an earlier attempt had already created it. */
  created: boolean;
}

/** The load balancer's target group budget, as checked before anything changed. */
export interface TargetGroupRoom {
  /** Unique target groups the forward actions of all its listeners and rules reference now. */
  onLoadBalancer: number;
  /** ALB's quota: 100 per load balancer, not adjustable. */
  limit: number;
  /** Groups the release attaches (canary, baseline, the idle group of a pair not attached yet). */
  adding: number;
}

/** The load balancer's rule budget, as checked before anything changed. */
export interface SegmentRoom {
  /** Non-default rules on all listeners of the load balancer (ALB's quota counts per load balancer). */
  rulesOnLoadBalancer: number;
  limit: number;
  /** New rules the release still needs (segments active at once, minus rules an earlier run already created). */
  needed: number;
  /** The service rule's priority (segment rules go below it), null for the listener's default action. */
  servicePriority: number | null;
}

/** A segment rule as the release verified it last, to compare with the listener now. */
export interface SegmentRuleCheck extends Scoped {
  listenerArn: string;
  name: string;
  rule: EnsuredSegmentRule;
  canaryTargetGroupArn: string;
}

/** Finds a segment rule by its ARN, or by its tags when the ARN was never learnt (a crash between create and record). */
export interface SegmentRuleDelete extends Scoped {
  listenerArn: string;
  releaseId: string;
  name: string;
  ruleArn?: string;
}

export interface ReleaseActivities {
  /**
   * Reads every forward action of `forwards` (one per `traffic` entry of the spec) and checks that they all send
   * traffic to the same one stable target group. Pair mode (`pair` given): the stable must be one of the pair,
   * and the other (the idle one) may already be in the actions at weight 0.
   * Non-retryable: ListenerNotFound, UnsupportedListener, PairNotLive.
   */
  discoverForwards(input: Scoped & { forwards: TrafficRef[]; pair?: { blue: string; green: string } }): Promise<DiscoveredForwards>;

  /** The forward action as AWS holds it now (undefined: no forward action). Non-retryable: ListenerNotFound. */
  readForward(input: TrafficRef & Scoped): Promise<{ forward?: ForwardState; actionTypes: string[] }>;

  /**
   * Compares each forward action with the state the release verified last; never writes. The workflow calls it
   * before each change to traffic and stops at a drift gate when `drifted` is not empty.
   */
  checkDrift(input: Scoped & { forwards: { ref: TrafficRef; expected: ForwardState }[] }): Promise<{ drifted: ForwardDrift[] }>;

  /**
   * Read-only, before anything changes: the load balancer has room for the target groups the release attaches
   * (`adding`, named for the message): ALB allows 100 unique target groups per load balancer across all its listeners
   * and rules. Clone mode attaches the canary (and a baseline), and keeps the previous stable attached until finalizing.
   * Non-retryable: NoRoomForTargetGroup, with the numbers.
   */
  checkTargetGroupRoom(input: TrafficRef & Scoped & { adding: string[] }): Promise<TargetGroupRoom>;

  /**
   * Creates `name` as a copy of the source group (protocol, port, VPC, target type, health check, attributes, tags)
   * plus `tags`, or returns it when it exists with the same `canary:release-id` tag. Copied tags named in
   * `versionTags.keys` get `versionTags.version` (the copied `version: v1` would otherwise claim the old version).
   * Non-retryable: TargetGroupNameConflict.
   */
  ensureTargetGroup(
    input: Scoped & {
      sourceTargetGroupArn: string;
      name: string;
      tags: Record<string, string>;
      versionTags?: { keys: string[]; version: string };
    },
  ): Promise<EnsuredTargetGroup>;

  /**
   * Rewrites the copied version tags (`versionTags.keys` present on the group) to `version`; other tags are left
   * alone. For a group promoted by an earlier release, or one created before version tags were rewritten.
   */
  retagVersion(input: Scoped & { targetGroupArn: string; keys: string[]; version: string }): Promise<{ changed: string[] }>;

  /**
   * Registers the targets (already-registered ones are left alone); IP targets outside the VPC with
   * `availabilityZone: all`. Non-retryable: TargetTypeMismatch (an instance id into an `ip` group, or the reverse).
   */
  registerTargets(input: Scoped & { targetGroupArn: string; targets: Target[] }): Promise<void>;

  /**
   * Waits, heartbeating `{ startedAt, pollMs, healthy, total, targets }`, until every target is healthy, asking AWS at
   * the group's health check cadence (HealthCheckIntervalSeconds, read once, at most every 30 s, at least 1 s apart). Each target's state
   * and reason are in the heartbeat, the result and the failure (`10.0.1.17:8080 unhealthy (Target.FailedHealthChecks)`);
   * `unused` / `Target.NotInUse` means the group is not in a forward action yet (attach it at weight 0 first).
   * Non-retryable: TargetsUnhealthy after timeoutMs (counted from the first attempt), naming every target not healthy.
   */
  waitHealthy(input: Scoped & { targetGroupArn: string; targets: Target[]; timeoutMs: number }): Promise<HealthyTargets>;

  /**
   * Who owns a target group the release did not create, by its tags: `aws:cloudformation:stack-name` (CloudFormation,
   * CDK) or a tag the worker is configured with (CANARY_OWNERSHIP_TAGS), in words (`tagged aws:cloudformation:stack-name=web`).
   * No owner for a group a release created (`canary:release-id`), one without such a tag, or one that is gone.
   */
  targetGroupOwner(input: Scoped & { targetGroupArn: string }): Promise<{ owner?: string }>;

  /**
   * Points the forward action at exactly these target groups with these weights (keeping its stickiness config and
   * every other action), then describes it and checks every weight. A weight 0 keeps the group in the action
   * (attached: health-checked, no traffic). With `expected` (the forward this release verified last), a forward
   * action that is neither `expected` nor already the requested one is left alone: non-retryable ForwardActionDrifted.
   * Retryable: WeightsNotVerified.
   */
  setForwardWeights(input: TrafficRef & Scoped & { weights: WeightedTargetGroup[]; expected?: ForwardState }): Promise<VerifiedWeights>;

  /**
   * `traffic.stickiness`: sets the forward action's target group stickiness (TargetGroupStickinessConfig), keeping its
   * target groups and weights and every other action, then describes it. With stickiness a user stays on the group
   * they got, so weights count new sessions, not requests. A forward action that is not `expected` (and not already
   * the requested one) is left alone: non-retryable ForwardActionDrifted. Retryable: WeightsNotVerified.
   */
  setForwardStickiness(input: TrafficRef & Scoped & { stickiness: ForwardStickiness; expected: ForwardState }): Promise<VerifiedWeights>;

  /**
   * Puts the forward action's stickiness back to `original` when it is still what the release `set`; a stickiness
   * someone else set since is kept (and named in `kept`), and so are the target groups and weights as they are now.
   * Verified by a describe. Retryable: WeightsNotVerified.
   */
  restoreStickiness(input: TrafficRef & Scoped & { original: ForwardStickiness; set: ForwardStickiness }): Promise<RestoredForward>;

  /**
   * Puts the pre-release forward back: the target groups and weights of the forward action in `actions` (recorded
   * by discovery). What the release never changes is kept as it is now (stickiness, other actions, their order), and
   * a forward action someone removed is not recreated; `kept` says what differs from `actions`. Verified by a describe.
   */
  restoreActions(input: TrafficRef & Scoped & { actions: ElbAction[] }): Promise<RestoredForward>;

  /**
   * Waits the group's deregistration delay (its `deregistration_delay.timeout_seconds`, capped by `capMs`) once a
   * describe of every listener of the load balancer shows no forward action references it (`until: 'detached'`,
   * the default) or sends it traffic (`until: 'no-traffic'`: weight 0 allowed, pair mode). Heartbeats, during that
   * check too; a retry resumes the same deadline. Retryable: TargetGroupStillRouted. Concurrent checks of one load
   * balancer in one worker share a scan that started after each of them asked (activities/fresh-read.ts); so do
   * those of deleteTargetGroup and deregisterTargets.
   */
  drainTargetGroup(input: TrafficRef & Scoped & { targetGroupArn: string; capMs: number; until?: 'detached' | 'no-traffic' }): Promise<DrainResult>;

  /**
   * Deletes a target group only after a describe of every listener of the load balancer (default actions and every
   * rule) shows that no forward action references it; heartbeats during that check. Retryable: TargetGroupStillRouted.
   * Gone already → { deleted: false }.
   */
  deleteTargetGroup(input: TrafficRef & Scoped & { name: string }): Promise<{ deleted: boolean }>;

  /**
   * Pair mode: makes the idle group hold exactly the canary targets: registers `targets` (those already there are
   * left alone) or, without `targets`, takes the ones the deployer registered. Non-retryable: IdleGroupNotEmpty
   * (targets nobody named are registered: they would get canary traffic), IdleGroupEmpty, TargetTypeMismatch.
   */
  prepareIdleGroup(input: Scoped & { targetGroupArn: string; targets?: Target[] }): Promise<PreparedIdleGroup>;

  /**
   * Deregisters targets (all registered ones when `targets` is absent) once a describe shows no forward action of the
   * load balancer sends the group traffic (weight 0 is fine); heartbeats during that check. Not registered → nothing to do.
   * Retryable: TargetGroupStillRouted.
   */
  deregisterTargets(input: TrafficRef & Scoped & { targetGroupArn: string; targets?: Target[] }): Promise<{ deregistered: Target[] }>;

  /** Takes measurements of an analysis template (heartbeating between them) and judges them; see analysis/analysis.ts. */
  runAnalysis(input: AnalysisRequest & Scoped): Promise<AnalysisRun>;

  /**
   * Read-only, before anything changes: every segment's rule can be written (conditions combined with the service
   * rule's within ALB's limits, no OIDC to copy), the load balancer has room for `concurrent` more rules (its quota,
   * from DescribeAccountLimits), and as many free priorities precede the service's forward.
   * Non-retryable: NoRoomForSegmentRule, SegmentRuleUnsupported, ListenerNotFound.
   */
  checkSegmentRoom(
    input: Pick<SegmentRuleRequest, 'listenerArn' | 'ruleArn' | 'releaseId' | 'aws'> & {
      segments: { name: string; match: SegmentMatch }[];
      concurrent: number;
    },
  ): Promise<SegmentRoom>;

  /**
   * Read-only: the highest free priority below the service rule's (any free one, the highest, for a listener default),
   * or the rule an earlier attempt created. Non-retryable: NoRoomForSegmentRule, SegmentRuleUnsupported.
   */
  planSegmentRule(input: SegmentRuleRequest): Promise<SegmentRulePlan>;

  /**
   * Creates the segment's rule at `priority` forwarding 100% of matching requests to the canary, tagged with the
   * release id and segment name, with every other field of the service rule the SDK models as it is (`Transforms`:
   * URL and host-header rewrite), then verifies it by describing; returns the rule an earlier attempt created.
   * The listener is read again right before the write: a priority taken since the plan is refused, never overwritten.
   * Non-retryable: SegmentPriorityTaken, NoRoomForSegmentRule, SegmentRuleUnsupported. Retryable: SegmentRuleNotVerified.
   */
  ensureSegmentRule(input: SegmentRuleRequest & { priority: number }): Promise<EnsuredSegmentRule>;

  /**
   * The segment rule still exists with the priority, conditions and canary forward the release wrote. Non-retryable:
   * SegmentRuleDrifted, whose `details[0]` is the rule as it is now (an EnsuredSegmentRule, or null when deleted).
   */
  checkSegmentRule(input: SegmentRuleCheck): Promise<void>;

  /**
   * Deletes the segment's rule (only one tagged with this release and name) and verifies it is gone. Gone already →
   * { deleted: false }. Non-retryable: SegmentRuleNotOurs.
   */
  deleteSegmentRule(input: SegmentRuleDelete): Promise<{ deleted: boolean }>;

  /** Posts a notification to a webhook configured on the worker. Non-retryable: WebhookNotConfigured. */
  notify(input: Notification): Promise<{ status: number }>;
  /**
   * The approver keys the worker holds (CANARY_APPROVER_KEYS): public keys by approver name, empty when it holds
   * none. Asked once, at the start of a release, so the keys are fixed for it and its history replays. Public keys
   * only; nothing secret.
   */
  workerApproverKeys(): Promise<{ keys: Record<string, string[]> }>;

  /**
   * One HTTP POST of the context to the URL the worker holds for `input.hook`, signed with its secret
   * (docs/HOOKS.md). The answer is returned as it came (`fail` too: the workflow decides), never retried here.
   * Retryable: HookUnavailable (connection error, request timeout, 429, 5xx). Non-retryable: HookRejected (another
   * 4xx, a redirect, a body not JSON, over 64 KiB or with an unknown result), HookNotConfigured (an unknown name,
   * no secret, a refused URL). Errors name the hook, its origin and the variable to fix; never the URL or the secret.
   */
  callHook(input: HookContext): Promise<HookAnswer>;
  /** The hook names the worker holds (CANARY_HOOK_<NAME>) and why each cannot be used, if so. No URLs, no secrets. */
  workerHooks(): Promise<{ hooks: WorkerHooks }>;
}

export { ErrorTypes, Tags } from '../common/aws-names';
