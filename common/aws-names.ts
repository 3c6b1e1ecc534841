/** Names the activities and the workflow agree on: error types and the tags canary puts on AWS resources. Workflow-safe. */

/** Error types the activities throw; the workflow's activity profiles list the non-retryable ones. */
export const ErrorTypes = {
  ListenerNotFound: 'ListenerNotFound',
  UnsupportedListener: 'UnsupportedListener',
  TargetGroupNameConflict: 'TargetGroupNameConflict',
  TargetsUnhealthy: 'TargetsUnhealthy',
  WeightsNotVerified: 'WeightsNotVerified',
  TargetGroupStillRouted: 'TargetGroupStillRouted',
  InvalidAwsRequest: 'InvalidAwsRequest',
  /** A forward action is not what the release verified last: someone changed it; nothing was written. */
  ForwardActionDrifted: 'ForwardActionDrifted',
  /** Targets of the wrong kind for the group's target type. */
  TargetTypeMismatch: 'TargetTypeMismatch',
  /** Pair mode: neither (or both) of the pair gets the traffic. */
  PairNotLive: 'PairNotLive',
  /** Pair mode: the idle group holds targets that are not the canary's. */
  IdleGroupNotEmpty: 'IdleGroupNotEmpty',
  /** Pair mode: no canary targets given and none registered by the deployer. */
  IdleGroupEmpty: 'IdleGroupEmpty',
  NoRoomForSegmentRule: 'NoRoomForSegmentRule',
  /** The load balancer cannot take the release's target groups (ALB allows 100 per load balancer, not adjustable). */
  NoRoomForTargetGroup: 'NoRoomForTargetGroup',
  SegmentRuleUnsupported: 'SegmentRuleUnsupported',
  SegmentPriorityTaken: 'SegmentPriorityTaken',
  SegmentRuleNotVerified: 'SegmentRuleNotVerified',
  SegmentRuleDrifted: 'SegmentRuleDrifted',
  SegmentRuleNotOurs: 'SegmentRuleNotOurs',
  /**
   * The worker's AWS credentials are missing, expired or rejected: non-retryable in a forward step, retryable in a
   * compensation (activities/errors.ts), so a rollback completes once valid credentials are back.
   */
  AwsCredentials: 'AwsCredentials',
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
