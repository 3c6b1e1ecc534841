import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { ApplicationFailure } from '@temporalio/common';
import type { ClientResolver, ClientsFor, ScopedClients } from './aws-clients';
import { ErrorTypes, type ReleaseActivities } from './contract';
import { createEnvironmentActivities } from './environment';
import { createHookActivities, type HookConfig } from './hooks';
import { createMetricsActivities } from './metrics';
import { createNotifyActivities, type NotifyLinks } from './notify';
import { createSegmentActivities } from './segments';
import type { SourceSettings } from './sources/settings';
import { createTrafficActivities } from './traffic';

export interface ActivityDeps {
  /** The worker's default clients: used for inputs without an `aws` scope (and for the default scope). */
  elbv2: ElasticLoadBalancingV2Client;
  cloudwatch: CloudWatchClient;
  /** Clients for another region / role (createAwsClients' pool); without it, only the default scope is served. */
  clientsFor?: ClientsFor;
  /** Webhook name → URL (worker env CANARY_WEBHOOK_<NAME>, see webhooksFromEnv). */
  webhooks?: Record<string, string>;
  /** Where notifications link to: the Temporal UI and the release report (worker env, see notifyLinksFromEnv). */
  notifyLinks?: NotifyLinks;
  /** The approver keys the worker holds (worker env CANARY_APPROVER_KEYS, see approverKeysFromEnv); none by default. */
  approverKeys?: Record<string, string[]>;
  /** Hook name → URL, secret and limits (worker env CANARY_HOOK_<NAME>, see hooksFromEnv); none by default. */
  hooks?: HookConfig;
  /** Tags that mark a target group as owned by infrastructure code (worker env CANARY_OWNERSHIP_TAGS): never deleted by finalizing. */
  ownershipTags?: readonly string[];
  /** AWS seconds per real second: 1 against AWS (the default); the local stack's compressed time (worker env CANARY_TIME_SCALE). */
  timeScale?: number;
  /** The metric sources' Prometheus servers and web endpoints (worker env, see sourceSettingsFromEnv); none by default. */
  sources?: SourceSettings;
}

function resolver(deps: ActivityDeps): ClientResolver {
  const defaults: ScopedClients = { elbv2: deps.elbv2, cloudwatch: deps.cloudwatch };
  return async (scope) => {
    if (!scope) return defaults;
    if (deps.clientsFor) return deps.clientsFor(scope);
    const region = await deps.elbv2.config.region();
    if (scope.region === region && !scope.roleArn) return defaults;
    throw ApplicationFailure.create({
      type: ErrorTypes.InvalidAwsRequest,
      nonRetryable: true,
      message: `this worker has clients for ${region} only and cannot serve region ${scope.region}${scope.roleArn ? ` with role ${scope.roleArn}` : ''}: build its activities from createAwsClients`,
    });
  };
}

/** The release activities over injected AWS clients (AWS itself, or moto in tests and the demo). */
export function createActivities(deps: ActivityDeps): ReleaseActivities {
  const clients = resolver(deps);
  return {
    ...createTrafficActivities(clients),
    ...createEnvironmentActivities(clients, { ownershipTags: deps.ownershipTags, timeScale: deps.timeScale }),
    ...createMetricsActivities(clients, { sources: deps.sources }),
    ...createSegmentActivities(clients),
    ...createNotifyActivities(deps.webhooks ?? {}, fetch, deps.notifyLinks),
    workerApproverKeys: async () => ({ keys: deps.approverKeys ?? {} }),
    ...createHookActivities(deps.hooks ?? {}, { links: deps.notifyLinks }),
  };
}

export type { ReleaseActivities } from './contract';
