import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { EC2Client } from '@aws-sdk/client-ec2';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { z } from 'zod';
import { DescribeBudgets, paceDescribes, roleAccount } from './api-pacer';
import type { AwsScope } from './contract';
import { aws } from './errors';

/** Where the AWS API is and who we are; every field may come from the environment. */
export const AwsConfigSchema = z.object({
  region: z.string().min(1),
  /** A custom endpoint (moto, LocalStack, a VPC endpoint); AWS's own when absent. */
  endpoint: z.url().optional(),
  accessKeyId: z.string().min(1).optional(),
  secretAccessKey: z.string().min(1).optional(),
  sessionToken: z.string().min(1).optional(),
  /** SDK attempts per call; the emulator uses 1 so that an unimplemented call fails fast. */
  maxAttempts: z.number().int().min(1).max(10).optional(),
  /**
   * ELB Describe calls per second this process allows itself per account and region (api-pacer.ts), bursting to
   * twice that; absent or 0: not paced. The worker sets it from CANARY_ELB_DESCRIBE_RATE.
   */
  elbDescribeRate: z.number().min(0).max(1000).optional(),
});
export type AwsConfig = z.infer<typeof AwsConfigSchema>;

/**
 * Reads AwsConfig from the conventional variables: AWS_REGION (or AWS_DEFAULT_REGION), AWS_ENDPOINT_URL,
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, AWS_MAX_ATTEMPTS. Without keys, the SDK's
 * default credential chain (profiles, IMDS, IRSA) applies.
 */
export function awsConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AwsConfig {
  const parsed = AwsConfigSchema.safeParse({
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    endpoint: env.AWS_ENDPOINT_URL || undefined,
    accessKeyId: env.AWS_ACCESS_KEY_ID || undefined,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY || undefined,
    sessionToken: env.AWS_SESSION_TOKEN || undefined,
    maxAttempts: env.AWS_MAX_ATTEMPTS ? Number(env.AWS_MAX_ATTEMPTS) : undefined,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid AWS configuration from the environment: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  return parsed.data;
}

/** The clients an activity needs in one account and region. */
export interface ScopedClients {
  elbv2: ElasticLoadBalancingV2Client;
  cloudwatch: CloudWatchClient;
}

/** Clients for a release's scope (region, assumed role); cached per scope by {@link createAwsClients}. */
export type ClientsFor = (scope: AwsScope) => Promise<ScopedClients>;

/** Picks the clients of an activity input's scope (`undefined`: the worker's default clients). */
export type ClientResolver = (scope: AwsScope | undefined) => Promise<ScopedClients>;

export interface AwsClients {
  elbv2: ElasticLoadBalancingV2Client;
  cloudwatch: CloudWatchClient;
  ec2: EC2Client;
  config: AwsConfig;
  /** Clients in another region or account (the release's `region` and `aws.roleArn`); the default ones for the default scope. */
  clientsFor: ClientsFor;
  destroy(): void;
}

/** Temporary credentials as the SDK takes them (its AwsCredentialIdentity). */
export interface TemporaryCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** Assumed-role credentials are renewed this long before they expire (an activity's calls never carry stale ones). */
export const REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;
/** How long an assumed role's session lasts (AWS's minimum is 15 minutes; the default role maximum is one hour). */
const SESSION_SECONDS = 3600;

/**
 * Credentials of `roleArn`, assumed with the worker's own credentials through STS, cached and renewed
 * {@link REFRESH_BEFORE_EXPIRY_MS} before they expire; concurrent callers share one AssumeRole call. The
 * credentials live only in this process: activity inputs carry the role ARN, never what it yields.
 */
export function assumedRoleCredentials(
  sts: STSClient,
  scope: { roleArn: string; externalId?: string },
  now: () => number = Date.now,
): () => Promise<TemporaryCredentials> {
  let current: TemporaryCredentials | undefined;
  let pending: Promise<TemporaryCredentials> | undefined;
  const fresh = (c: TemporaryCredentials | undefined): c is TemporaryCredentials =>
    !!c && (!c.expiration || c.expiration.getTime() - now() > REFRESH_BEFORE_EXPIRY_MS);
  return async () => {
    if (fresh(current)) return current;
    pending ??= aws(`AssumeRole ${scope.roleArn}`, () =>
      sts.send(
        new AssumeRoleCommand({
          RoleArn: scope.roleArn,
          ExternalId: scope.externalId,
          RoleSessionName: 'canary-release',
          DurationSeconds: SESSION_SECONDS,
        }),
      ),
    )
      .then((out) => {
        const c = out.Credentials;
        if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error(`AssumeRole ${scope.roleArn} answered without credentials`);
        current = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
        return current;
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
}

/** The one place that builds the SDK clients, for the worker, the demo, the bench and the tests. */
export function createAwsClients(config: AwsConfig): AwsClients {
  const common = {
    region: config.region,
    endpoint: config.endpoint,
    maxAttempts: config.maxAttempts,
    credentials:
      config.accessKeyId && config.secretAccessKey
        ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey, sessionToken: config.sessionToken }
        : undefined,
  };
  const elbv2 = new ElasticLoadBalancingV2Client(common);
  const budgets = config.elbDescribeRate
    ? new DescribeBudgets({ perSecond: config.elbDescribeRate, burst: Math.max(1, Math.round(2 * config.elbDescribeRate)) })
    : undefined;
  // The worker's own credentials: its account, whichever it is. A role names its account, so releases that
  // assume roles in one account share its budget (the worker's own account, if a role is in it, gets two).
  if (budgets) paceDescribes(elbv2, budgets.for('worker', config.region));
  const cloudwatch = new CloudWatchClient(common);
  const ec2 = new EC2Client(common);
  const scoped = new Map<string, ScopedClients>();
  const stsClients = new Map<string, STSClient>();
  const stsFor = (region: string): STSClient => {
    let sts = stsClients.get(region);
    if (!sts) {
      // Regional STS (the SDK's default); the worker's own credentials call AssumeRole.
      sts = new STSClient({ ...common, region });
      stsClients.set(region, sts);
    }
    return sts;
  };
  return {
    elbv2,
    cloudwatch,
    ec2,
    config,
    async clientsFor(scope: AwsScope): Promise<ScopedClients> {
      if (scope.region === config.region && !scope.roleArn) return { elbv2, cloudwatch };
      // The external id is part of the key: the same role with another id is another trust decision.
      const key = JSON.stringify([scope.region, scope.roleArn ?? '', scope.externalId ?? '']);
      let clients = scoped.get(key);
      if (!clients) {
        const credentials = scope.roleArn
          ? assumedRoleCredentials(stsFor(scope.region), { roleArn: scope.roleArn, externalId: scope.externalId })
          : common.credentials;
        const options = { ...common, region: scope.region, credentials };
        clients = { elbv2: new ElasticLoadBalancingV2Client(options), cloudwatch: new CloudWatchClient(options) };
        if (budgets) paceDescribes(clients.elbv2, budgets.for(roleAccount(scope.roleArn) ?? 'worker', scope.region));
        scoped.set(key, clients);
      }
      return { elbv2: clients.elbv2, cloudwatch: clients.cloudwatch };
    },
    destroy() {
      elbv2.destroy();
      cloudwatch.destroy();
      ec2.destroy();
      for (const c of scoped.values()) {
        c.elbv2.destroy();
        c.cloudwatch.destroy();
      }
      for (const sts of stsClients.values()) sts.destroy();
      scoped.clear();
      stsClients.clear();
    },
  };
}

/** Clients for a moto server: fixed test credentials, one attempt per call. */
export function motoClients(endpoint: string, region = 'us-east-1'): AwsClients {
  return createAwsClients({ region, endpoint, accessKeyId: 'testing', secretAccessKey: 'testing', maxAttempts: 1 });
}
