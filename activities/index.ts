import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { ReleaseActivities } from './contract';
import { createEnvironmentActivities } from './environment';
import { createMetricsActivities } from './metrics';
import { createNotifyActivities } from './notify';
import { createSegmentActivities } from './segments';
import { createTrafficActivities } from './traffic';

export interface ActivityDeps {
  elbv2: ElasticLoadBalancingV2Client;
  cloudwatch: CloudWatchClient;
  /** Webhook name → URL (worker env CANARY_WEBHOOK_<NAME>, see webhooksFromEnv). */
  webhooks?: Record<string, string>;
}

/** The release activities over injected AWS clients (AWS itself, or moto in tests and the demo). */
export function createActivities(deps: ActivityDeps): ReleaseActivities {
  return {
    ...createTrafficActivities(deps.elbv2),
    ...createEnvironmentActivities(deps.elbv2),
    ...createSegmentActivities(deps.elbv2),
    ...createMetricsActivities(deps.cloudwatch),
    ...createNotifyActivities(deps.webhooks ?? {}),
  };
}

export type { ReleaseActivities } from './contract';
