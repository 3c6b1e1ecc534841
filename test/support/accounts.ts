/**
 * Another AWS account on the local stack: moto keeps state per account (found from the access key) and implements
 * STS AssumeRole into any account id, so a role ARN of account 111111111111 gives credentials whose calls read and
 * write that account's load balancers. Tests seed the other account with these clients, as its owner would.
 */
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { createAwsClients, type AwsClients } from '../../activities/aws-clients';

/** A role ARN in `account` (12 digits) for a release to assume. */
export function roleIn(account: string, name = 'canary-release'): string {
  return `arn:aws:iam::${account}:role/${name}`;
}

/** AwsClients (ELBv2, CloudWatch, EC2) with credentials of `roleArn`, assumed once through STS at `endpoint`. */
export async function clientsAssuming(endpoint: string, roleArn: string, region = 'us-east-1'): Promise<AwsClients> {
  const sts = new STSClient({ region, endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, maxAttempts: 1 });
  try {
    const out = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'test-owner' }));
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error(`AssumeRole ${roleArn} answered without credentials`);
    return createAwsClients({ region, endpoint, accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, maxAttempts: 1 });
  } finally {
    sts.destroy();
  }
}
