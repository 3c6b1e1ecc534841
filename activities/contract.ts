/**
 * What the release workflow may ask of the outside world. The workflow sees only these types
 * (`proxyActivities<ReleaseActivities>`); `createActivities` in ./index.ts builds them over AWS SDK clients.
 * Every activity is idempotent: describe first, act only if different, find what an earlier attempt created.
 */
import type { RuleCondition, SegmentMatch } from '../common/segments';
import type { Target } from '../common/spec';
import type { AnalysisRequest, AnalysisRun } from '../analysis/analysis';
import type { Notification } from './notify';

/** Where the forward action lives: the listener's default action, or one rule of it. */
export interface TrafficRef {
  listenerArn: string;
  ruleArn?: string;
}

export interface WeightedTargetGroup {
  targetGroupArn: string;
  /** 0..100 (ALB accepts 0..999; canary uses percent). */
  weight: number;
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
}

/** One segment rule of a release: who it selects, on which listener, ahead of which forward, to which canary. */
export interface SegmentRuleRequest extends TrafficRef {
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
  /** False when an earlier attempt had already created it. */
  created: boolean;
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

/** Finds a segment rule by its ARN, or by its tags when the ARN was never learnt (a crash between create and record). */
export interface SegmentRuleDelete {
  listenerArn: string;
  releaseId: string;
  name: string;
  ruleArn?: string;
}

export interface ReleaseActivities {
  /** Reads the forward action and the one target group it sends traffic to. Non-retryable: ListenerNotFound, UnsupportedListener. */
  discoverTraffic(ref: TrafficRef): Promise<DiscoveredTraffic>;

  /**
   * Creates `name` as a copy of the source group (protocol, port, VPC, target type, health check, attributes, tags)
   * plus `tags`, or returns it when it exists with the same `canary:release-id` tag. Non-retryable: TargetGroupNameConflict.
   */
  ensureTargetGroup(input: { sourceTargetGroupArn: string; name: string; tags: Record<string, string> }): Promise<EnsuredTargetGroup>;

  /** Registers the targets (already-registered ones are left alone). */
  registerTargets(input: { targetGroupArn: string; targets: Target[] }): Promise<void>;

  /** Waits, heartbeating, until every target is healthy. Non-retryable: TargetsUnhealthy (after timeoutMs). */
  waitHealthy(input: { targetGroupArn: string; targets: Target[]; timeoutMs: number }): Promise<{ healthy: number; waitedMs: number }>;

  /**
   * Points the forward action at exactly these target groups with these weights (keeping its stickiness config),
   * then describes it and checks every weight. Retryable: WeightsNotVerified.
   */
  setForwardWeights(input: TrafficRef & { weights: WeightedTargetGroup[] }): Promise<VerifiedWeights>;

  /** Puts back the exact actions recorded by discoverTraffic and verifies them by describing. */
  restoreActions(input: TrafficRef & { actions: ElbAction[] }): Promise<VerifiedWeights>;

  /**
   * Deletes a target group only after a describe of the listener (default actions and every rule) shows that no
   * forward action references it. Retryable: TargetGroupStillRouted. Gone already → { deleted: false }.
   */
  deleteTargetGroup(input: TrafficRef & { name: string }): Promise<{ deleted: boolean }>;

  /**
   * Read-only, before anything changes: every segment's rule can be written (conditions combined with the service
   * rule's within ALB's limits, no OIDC to copy), the load balancer has room for `concurrent` more rules (its quota,
   * from DescribeAccountLimits), and as many free priorities precede the service's forward.
   * Non-retryable: NoRoomForSegmentRule, SegmentRuleUnsupported, ListenerNotFound.
   */
  checkSegmentRoom(
    input: Pick<SegmentRuleRequest, 'listenerArn' | 'ruleArn' | 'releaseId'> & {
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
   * release id and segment name, then verifies it by describing; returns the rule an earlier attempt created.
   * The listener is read again right before the write: a priority taken since the plan is refused, never overwritten.
   * Non-retryable: SegmentPriorityTaken, NoRoomForSegmentRule, SegmentRuleUnsupported. Retryable: SegmentRuleNotVerified.
   */
  ensureSegmentRule(input: SegmentRuleRequest & { priority: number }): Promise<EnsuredSegmentRule>;

  /**
   * The segment rule still exists with the priority, conditions and canary forward the release wrote. Non-retryable:
   * SegmentRuleDrifted, whose `details[0]` is the rule as it is now (an EnsuredSegmentRule, or null when deleted).
   */
  checkSegmentRule(input: { listenerArn: string; name: string; rule: EnsuredSegmentRule; canaryTargetGroupArn: string }): Promise<void>;

  /**
   * Deletes the segment's rule (only one tagged with this release and name) and verifies it is gone. Gone already →
   * { deleted: false }. Non-retryable: SegmentRuleNotOurs.
   */
  deleteSegmentRule(input: SegmentRuleDelete): Promise<{ deleted: boolean }>;

  /** Takes measurements of an analysis template (heartbeating between them) and judges them; see workflows/analysis.ts. */
  runAnalysis(input: AnalysisRequest): Promise<AnalysisRun>;

  /** Posts a notification to a webhook configured on the worker. Non-retryable: WebhookNotConfigured. */
  notify(input: Notification): Promise<{ status: number }>;
}

/** Error types the activities throw; the workflow's activity profiles list the non-retryable ones. */
export const ErrorTypes = {
  ListenerNotFound: 'ListenerNotFound',
  UnsupportedListener: 'UnsupportedListener',
  TargetGroupNameConflict: 'TargetGroupNameConflict',
  TargetsUnhealthy: 'TargetsUnhealthy',
  WeightsNotVerified: 'WeightsNotVerified',
  TargetGroupStillRouted: 'TargetGroupStillRouted',
  InvalidAwsRequest: 'InvalidAwsRequest',
  NoRoomForSegmentRule: 'NoRoomForSegmentRule',
  SegmentRuleUnsupported: 'SegmentRuleUnsupported',
  SegmentPriorityTaken: 'SegmentPriorityTaken',
  SegmentRuleNotVerified: 'SegmentRuleNotVerified',
  SegmentRuleDrifted: 'SegmentRuleDrifted',
  SegmentRuleNotOurs: 'SegmentRuleNotOurs',
} as const;

/** Tags canary puts on what it creates, so a retried or crashed attempt finds its own resources. */
export const Tags = {
  service: 'canary:service',
  version: 'canary:version',
  releaseId: 'canary:release-id',
  role: 'canary:role',
  /** On segment rules (role `segment`): the segment's name. */
  segment: 'canary:segment',
} as const;
