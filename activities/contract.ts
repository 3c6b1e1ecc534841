/**
 * What the release workflow may ask of the outside world. The workflow sees only these types
 * (`proxyActivities<ReleaseActivities>`); `createActivities` in ./index.ts builds them over AWS SDK clients.
 * Every activity is idempotent: describe first, act only if different, find what an earlier attempt created.
 */
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

  /** Takes measurements of an analysis template (heartbeating between them) and judges them; see workflows/analysis.ts. */
  runAnalysis(input: AnalysisRequest): Promise<AnalysisRun>;

  /** Posts a notification to a webhook configured on the worker. Non-retryable: WebhookNotConfigured. */
  notify(input: Notification): Promise<{ status: number }>;
}

export { ErrorTypes, Tags } from '../common/aws-names';
