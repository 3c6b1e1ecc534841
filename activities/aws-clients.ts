import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { EC2Client } from '@aws-sdk/client-ec2';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Context } from '@temporalio/activity';
import { z } from 'zod';
import { DescribeBudgets, paceDescribes, roleAccount } from './api-pacer';
import type { AwsScope } from './contract';
import { aws, awsErrorName, credentialSourceKey } from './errors';

/** Where the AWS API is and who we are; every field may come from the environment. */
export const AwsConfigSchema = z.object({
  region: z.string().min(1),
  /** A custom endpoint (moto, LocalStack, a VPC endpoint); AWS's own when absent. */
  endpoint: z.url().optional(),
  /** Static keys given in code (moto in tests, the demo and the bench); absent: the SDK's default credential chain. */
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
  /**
   * The most one HTTP request to AWS may take, connection included, before it fails with a TimeoutError (which the
   * SDK retries within maxAttempts); 60 s ({@link REQUEST_TIMEOUT_MS}) by default. The SDK's own default is none:
   * an endpoint that accepts and never answers (a proxy, a firewall that holds it) would hold a CLI command forever.
   */
  requestTimeoutMs: z.number().int().min(1).max(3_600_000).optional(),
});
export type AwsConfig = z.infer<typeof AwsConfigSchema>;

/** The default of AwsConfig.requestTimeoutMs: far above what any call of ours takes on AWS, and still an end. */
export const REQUEST_TIMEOUT_MS = 60_000;
/** How long connecting to AWS may take (TCP and TLS), within the request timeout. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Reads AwsConfig from the conventional variables: AWS_REGION (or AWS_DEFAULT_REGION), AWS_ENDPOINT_URL,
 * AWS_MAX_ATTEMPTS. Credentials are not read here: the SDK's default credential chain reads them, and refreshes what
 * can be refreshed (environment keys, SSO and profiles, web identity for IRSA, EKS Pod Identity and ECS container
 * credentials, instance metadata; see {@link describeCredentialSource}).
 */
export function awsConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AwsConfig {
  const parsed = AwsConfigSchema.safeParse({
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    endpoint: env.AWS_ENDPOINT_URL || undefined,
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

/**
 * Clients for a release's scope (region, assumed role); cached per scope by {@link createAwsClients}. An assumed
 * role's session is named for the release (`sessionName`; in an activity, its workflow id by default).
 */
export type ClientsFor = (scope: AwsScope, sessionName?: string) => Promise<ScopedClients>;

/** Picks the clients of an activity input's scope (`undefined`: the worker's default clients). */
export type ClientResolver = (scope: AwsScope | undefined) => Promise<ScopedClients>;

export interface AwsClients {
  elbv2: ElasticLoadBalancingV2Client;
  cloudwatch: CloudWatchClient;
  ec2: EC2Client;
  config: AwsConfig;
  /** Clients in another region or account (the release's `region` and `aws.roleArn`); the default ones for the default scope. */
  clientsFor: ClientsFor;
  /** Where the worker's own credentials come from, in words (for the startup line and credential errors). */
  credentialSource: string;
  /** Who the worker's credentials are (STS GetCallerIdentity in the default region, given up after `timeoutMs`); never throws. */
  identity(timeoutMs?: number): Promise<CallerIdentity>;
  destroy(): void;
}

/** The worker's AWS identity, or why it could not be read. */
export type CallerIdentity = { account: string; arn: string; region: string } | { region: string; error: string };

/**
 * Where the SDK's default credential chain will take the worker's credentials from, in the chain's order, as an
 * operator reads it (`AWS_PROFILE prod (SSO or keys in ~/.aws/config)`). The chain itself decides; this only names
 * the first source the environment sets up, so that a credential error can say what to fix.
 */
export function describeCredentialSource(env: NodeJS.ProcessEnv = process.env): string {
  const set = (name: string): string | undefined => env[name]?.trim() || undefined;
  const configFile = set('AWS_CONFIG_FILE') ?? path.join(env.HOME ?? os.homedir(), '.aws', 'config');
  const profile = set('AWS_PROFILE');
  if (profile) return `profile ${profile} of ${configFile} (AWS_PROFILE; an SSO session there needs \`aws sso login\` once it ends)`;
  if (set('AWS_ACCESS_KEY_ID') && set('AWS_SECRET_ACCESS_KEY')) {
    return set('AWS_SESSION_TOKEN')
      ? 'session keys in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, which expire and are never refreshed (restart the worker with new ones, or give it a profile or a role)'
      : 'static keys in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY';
  }
  if (hasDefaultProfile(configFile, set('AWS_SHARED_CREDENTIALS_FILE') ?? path.join(path.dirname(configFile), 'credentials'))) {
    return `the default profile of ${configFile}`;
  }
  const tokenFile = set('AWS_WEB_IDENTITY_TOKEN_FILE');
  if (tokenFile && set('AWS_ROLE_ARN'))
    return `web identity (EKS IRSA): role ${set('AWS_ROLE_ARN')} with the token in ${tokenFile} (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE)`;
  const full = set('AWS_CONTAINER_CREDENTIALS_FULL_URI');
  if (full) return `the container credentials endpoint ${full} (AWS_CONTAINER_CREDENTIALS_FULL_URI: EKS Pod Identity or an ECS task role)`;
  const relative = set('AWS_CONTAINER_CREDENTIALS_RELATIVE_URI');
  if (relative) return `the ECS container credentials endpoint http://169.254.170.2${relative} (the task role)`;
  if (/^(true|1)$/i.test(set('AWS_EC2_METADATA_DISABLED') ?? ''))
    return 'nowhere: no keys, profile, web identity or container endpoint is set, and AWS_EC2_METADATA_DISABLED turns instance metadata off';
  return 'the EC2 instance metadata service (the instance profile), as no keys, profile, web identity or container endpoint is set';
}

function hasDefaultProfile(...files: string[]): boolean {
  return files.some((file) => {
    try {
      return /^\s*\[(profile\s+)?default\]\s*$/m.test(fs.readFileSync(file, 'utf8'));
    } catch {
      return false;
    }
  });
}

/**
 * A warning for the startup line's neighbour when the worker runs on session credentials from the environment: they
 * expire (at AWS_CREDENTIAL_EXPIRATION when set) and nothing refreshes them. Undefined when the chain can refresh.
 */
export function staticSessionWarning(env: NodeJS.ProcessEnv = process.env, now: number = Date.now()): string | undefined {
  const set = (name: string): string | undefined => env[name]?.trim() || undefined;
  if (set('AWS_PROFILE') || !set('AWS_ACCESS_KEY_ID') || !set('AWS_SECRET_ACCESS_KEY') || !set('AWS_SESSION_TOKEN')) return undefined;
  const expiration = set('AWS_CREDENTIAL_EXPIRATION');
  const at = expiration ? Date.parse(expiration) : NaN;
  const when = Number.isNaN(at)
    ? 'they expire (session credentials last 1 to 12 hours)'
    : at <= now
      ? `they expired at ${new Date(at).toISOString()} (AWS_CREDENTIAL_EXPIRATION)`
      : `they expire at ${new Date(at).toISOString()}, in ${Math.round((at - now) / 60_000)} min (AWS_CREDENTIAL_EXPIRATION)`;
  return (
    `AWS credentials are session keys in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN: ${when} and the worker cannot refresh them; ` +
    'a release then fails its next step and its rollback waits for new credentials. Give the worker a profile (AWS_PROFILE, SSO) or a role ' +
    '(EKS IRSA or Pod Identity, an ECS task role, an instance profile), whose credentials the SDK refreshes'
  );
}

/** Tags errors of a client's calls with where its credentials come from (read by activities/errors.ts). */
function labelCredentialSource(source: string, ...clients: (ElasticLoadBalancingV2Client | CloudWatchClient | EC2Client | STSClient)[]): void {
  const label = (err: unknown): never => {
    if (typeof err === 'object' && err !== null && !(credentialSourceKey in err)) Object.defineProperty(err, credentialSourceKey, { value: source });
    throw err;
  };
  const options = { step: 'initialize', name: 'canaryCredentialSource', priority: 'high', override: true } as const;
  for (const client of clients) {
    if (client instanceof ElasticLoadBalancingV2Client) client.middlewareStack.add((next) => (args) => next(args).catch(label), options);
    else if (client instanceof CloudWatchClient) client.middlewareStack.add((next) => (args) => next(args).catch(label), options);
    else if (client instanceof EC2Client) client.middlewareStack.add((next) => (args) => next(args).catch(label), options);
    else client.middlewareStack.add((next) => (args) => next(args).catch(label), options);
  }
}

/** Temporary credentials as the SDK takes them (its AwsCredentialIdentity). */
export interface TemporaryCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/**
 * The RoleSessionName of a release's assumed role: the release id, so CloudTrail tells releases apart (STS allows
 * 2-64 of `\w+=,.@-`); `canary-release` when there is none.
 */
export function roleSessionName(releaseId: string | undefined): string {
  const name = (releaseId ?? '').replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
  return name.length >= 2 ? name : 'canary-release';
}

/** The release the running activity works for (its workflow id), or undefined outside an activity. */
function activityReleaseId(): string | undefined {
  try {
    return Context.current().info.workflowExecution?.workflowId;
  } catch {
    return undefined;
  }
}

/** Scoped clients kept at most; the least recently asked for goes first (a release's are re-created when asked again). */
const MAX_SCOPED = 256;

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
  scope: { roleArn: string; externalId?: string; sessionName?: string },
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
          RoleSessionName: roleSessionName(scope.sessionName),
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

/**
 * The one place that builds the SDK clients, for the worker, the demo, the bench and the tests. Without keys in
 * `config` every client takes the SDK's default credential chain (`env` names its source in credential errors).
 */
export function createAwsClients(config: AwsConfig, env: NodeJS.ProcessEnv = process.env): AwsClients {
  const staticKeys = !!(config.accessKeyId && config.secretAccessKey);
  const requestTimeout = config.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const common = {
    region: config.region,
    endpoint: config.endpoint,
    maxAttempts: config.maxAttempts,
    requestHandler: {
      connectionTimeout: Math.min(CONNECT_TIMEOUT_MS, requestTimeout),
      requestTimeout,
      throwOnRequestTimeout: true,
    },
    credentials: staticKeys
      ? { accessKeyId: config.accessKeyId as string, secretAccessKey: config.secretAccessKey as string, sessionToken: config.sessionToken }
      : undefined,
  };
  const credentialSource = staticKeys ? 'static keys given to createAwsClients' : describeCredentialSource(env);
  const elbv2 = new ElasticLoadBalancingV2Client(common);
  const budgets = config.elbDescribeRate
    ? new DescribeBudgets({ perSecond: config.elbDescribeRate, burst: Math.max(1, Math.round(2 * config.elbDescribeRate)) })
    : undefined;
  // The worker's own credentials: its account, whichever it is. A role names its account, so releases that
  // assume roles in one account share its budget (the worker's own account, if a role is in it, gets two).
  if (budgets) paceDescribes(elbv2, budgets.for('worker', config.region));
  const cloudwatch = new CloudWatchClient(common);
  const ec2 = new EC2Client(common);
  labelCredentialSource(credentialSource, elbv2, cloudwatch, ec2);
  const scoped = new Map<string, ScopedClients>();
  const stsClients = new Map<string, STSClient>();
  const stsFor = (region: string): STSClient => {
    let sts = stsClients.get(region);
    if (!sts) {
      // Regional STS (the SDK's default); the worker's own credentials call AssumeRole.
      sts = new STSClient({ ...common, region });
      labelCredentialSource(credentialSource, sts);
      stsClients.set(region, sts);
    }
    return sts;
  };
  return {
    elbv2,
    cloudwatch,
    ec2,
    config,
    async clientsFor(scope: AwsScope, sessionName: string | undefined = activityReleaseId()): Promise<ScopedClients> {
      if (scope.region === config.region && !scope.roleArn) return { elbv2, cloudwatch };
      // The external id is part of the key: the same role with another id is another trust decision. The session
      // too: each release's calls are its own in CloudTrail.
      const session = scope.roleArn ? roleSessionName(sessionName) : '';
      const key = JSON.stringify([scope.region, scope.roleArn ?? '', scope.externalId ?? '', session]);
      let clients = scoped.get(key);
      if (clients) {
        scoped.delete(key);
        scoped.set(key, clients);
      } else {
        const credentials = scope.roleArn
          ? assumedRoleCredentials(stsFor(scope.region), { roleArn: scope.roleArn, externalId: scope.externalId, sessionName: session })
          : common.credentials;
        const options = { ...common, region: scope.region, credentials };
        clients = { elbv2: new ElasticLoadBalancingV2Client(options), cloudwatch: new CloudWatchClient(options) };
        labelCredentialSource(scope.roleArn ? `role ${scope.roleArn}, assumed with ${credentialSource}` : credentialSource, clients.elbv2, clients.cloudwatch);
        if (budgets) paceDescribes(clients.elbv2, budgets.for(roleAccount(scope.roleArn) ?? 'worker', scope.region));
        scoped.set(key, clients);
        // Forgotten, not destroyed: an activity may still be using them (they close with their idle sockets).
        if (scoped.size > MAX_SCOPED) scoped.delete(scoped.keys().next().value as string);
      }
      return { elbv2: clients.elbv2, cloudwatch: clients.cloudwatch };
    },
    credentialSource,
    async identity(timeoutMs = 10_000): Promise<CallerIdentity> {
      try {
        const out = await stsFor(config.region).send(new GetCallerIdentityCommand({}), { abortSignal: AbortSignal.timeout(timeoutMs) });
        return { account: out.Account ?? '?', arn: out.Arn ?? '?', region: config.region };
      } catch (err) {
        const name = awsErrorName(err);
        const text = (err as Error)?.message ?? String(err);
        return { region: config.region, error: `${name && !text.startsWith(name) ? `${name}: ` : ''}${text}`.replace(/\s+/g, ' ') };
      }
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
