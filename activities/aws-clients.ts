import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { EC2Client } from '@aws-sdk/client-ec2';
import { z } from 'zod';

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

export interface AwsClients {
  elbv2: ElasticLoadBalancingV2Client;
  cloudwatch: CloudWatchClient;
  ec2: EC2Client;
  config: AwsConfig;
  destroy(): void;
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
  const cloudwatch = new CloudWatchClient(common);
  const ec2 = new EC2Client(common);
  return {
    elbv2,
    cloudwatch,
    ec2,
    config,
    destroy() {
      elbv2.destroy();
      cloudwatch.destroy();
      ec2.destroy();
    },
  };
}

/** Clients for a moto server: fixed test credentials, one attempt per call. */
export function motoClients(endpoint: string, region = 'us-east-1'): AwsClients {
  return createAwsClients({ region, endpoint, accessKeyId: 'testing', secretAccessKey: 'testing', maxAttempts: 1 });
}
