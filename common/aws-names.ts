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
} as const;

/** Tags canary puts on what it creates, so a retried or crashed attempt finds its own resources. */
export const Tags = {
  service: 'canary:service',
  version: 'canary:version',
  releaseId: 'canary:release-id',
  role: 'canary:role',
} as const;
