/**
 * Missing and expired AWS credentials: a forward step fails fast with an error that says where the credentials come
 * from; a compensation keeps retrying. And the worker's reading of where its credentials come from, and its warning
 * about session keys in the environment. (The same against real clients and a worker process:
 * test/integration/worker-credentials.test.ts.)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApplicationFailure, type MetricMeter, type MetricTags } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describeCredentialSource, staticSessionWarning } from '../../activities/aws-clients';
import { ErrorTypes } from '../../activities/contract';
import { aws, COMPENSATING_ACTIVITIES, credentialSourceKey, isCredentialError } from '../../activities/errors';

const repoRoot = path.resolve(__dirname, '..', '..');

/** An SDK service error as the AWS SDK throws it: its `name` is the AWS error code. */
function sdkError(name: string, message: string, source?: string): Error {
  const err = Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });
  if (source) Object.defineProperty(err, credentialSourceKey, { value: source });
  return err;
}

/** Runs `aws()` over a call failing with `err` in the context of activity `activityType`; returns the failure. */
async function failureIn(activityType: string | undefined, err: Error, meter?: MetricMeter): Promise<ApplicationFailure> {
  const call = (): Promise<unknown> => aws('ModifyListener arn:listener/1', () => Promise.reject(err));
  const outcome = activityType ? new MockActivityEnvironment({ activityType }, meter ? { metricMeter: meter } : {}).run(call) : call();
  const failure = await outcome.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(failure instanceof ApplicationFailure)) throw new Error(`expected an ApplicationFailure, got ${String(failure)}`);
  return failure;
}

const CREDENTIAL_CODES = ['ExpiredToken', 'ExpiredTokenException', 'InvalidClientTokenId', 'UnrecognizedClientException', 'CredentialsProviderError'];
const SOURCE = 'the container credentials endpoint http://127.0.0.1:1/v1/credentials';

describe('a credential error in an activity', () => {
  it.each(CREDENTIAL_CODES)('%s fails a forward step at once, naming where the credentials come from', async (code) => {
    const f = await failureIn('setForwardWeights', sdkError(code, 'The security token included in the request is expired', SOURCE));
    expect({ type: f.type, nonRetryable: f.nonRetryable, details: f.details }).toEqual({
      type: ErrorTypes.AwsCredentials,
      nonRetryable: true,
      details: [code],
    });
    expect(f.message).toContain('ModifyListener arn:listener/1: AWS credentials');
    expect(f.message).toContain(`the worker's credentials come from ${SOURCE}`);
    expect(f.message).toMatch(/the release rolls back/);
    expect(isCredentialError(f)).toBe(true);
  });

  it('says whether the credential expired, is missing or was rejected', async () => {
    const words = async (code: string): Promise<string | undefined> =>
      /AWS credentials (\w+)/.exec((await failureIn('discoverTraffic', sdkError(code, 'x'))).message)?.[1];
    expect(await words('ExpiredToken')).toBe('expired');
    expect(await words('CredentialsProviderError')).toBe('missing');
    expect(await words('InvalidClientTokenId')).toBe('rejected');
  });

  it.each([...COMPENSATING_ACTIVITIES])('keeps %s (a compensation) retrying until valid credentials are back', async (activityType) => {
    const f = await failureIn(activityType, sdkError('ExpiredToken', 'The security token included in the request is expired', SOURCE));
    expect({ type: f.type, nonRetryable: f.nonRetryable }).toEqual({ type: ErrorTypes.AwsCredentials, nonRetryable: false });
    expect(f.message).toContain(`the worker's credentials come from ${SOURCE}`);
    expect(f.message).toMatch(/keeps retrying and completes as soon as valid credentials are back/);
  });

  it('fails fast outside an activity too (a CLI, the report), and names the default chain when the client did not say', async () => {
    const f = await failureIn(undefined, sdkError('ExpiredToken', 'expired'));
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toContain("the worker's credentials come from the AWS SDK default credential chain");
  });

  it('leaves other errors as they were: throttling retried, a bad request not', async () => {
    const throttled = await failureIn('restoreActions', sdkError('Throttling', 'Rate exceeded'));
    expect({ type: throttled.type, nonRetryable: throttled.nonRetryable }).toEqual({ type: 'Throttling', nonRetryable: false });
    const invalid = await failureIn('setForwardWeights', sdkError('ValidationError', 'bad'));
    expect({ type: invalid.type, nonRetryable: invalid.nonRetryable }).toEqual({ type: ErrorTypes.InvalidAwsRequest, nonRetryable: true });
    expect(isCredentialError(invalid)).toBe(false);
    expect(isCredentialError(sdkError('Throttling', 'x'))).toBe(false);
  });

  it('counts every AWS error by code on canary_aws_errors', async () => {
    const added: { name: string; value: number; tags?: MetricTags }[] = [];
    const meter: MetricMeter = {
      createCounter: (name) => ({ name, add: (value: number, tags?: MetricTags) => added.push({ name, value, tags }) }) as never,
      createHistogram: (name) => ({ name, record: () => undefined }) as never,
      createGauge: (name) => ({ name, set: () => undefined }) as never,
      withTags: () => meter,
    };
    await failureIn('setForwardWeights', sdkError('ExpiredToken', 'x'), meter);
    await failureIn('setForwardWeights', sdkError('Throttling', 'x'), meter);
    expect(added).toEqual([
      // The activity context adds its own tags (activity type, task queue, namespace).
      { name: 'canary_aws_errors', value: 1, tags: expect.objectContaining({ code: 'ExpiredToken', activityType: 'setForwardWeights' }) },
      { name: 'canary_aws_errors', value: 1, tags: expect.objectContaining({ code: 'Throttling', activityType: 'setForwardWeights' }) },
    ]);
  });

  it('treats as compensations exactly the activities the rollback and teardown call (workflows/release/saga.ts)', () => {
    const saga = fs.readFileSync(path.join(repoRoot, 'workflows/release/saga.ts'), 'utf8');
    const called = new Set([...saga.matchAll(/\b(?:compensate|teardown|remove|drainer\([^)]*\))\.(\w+)\(/g)].map((m) => m[1] as string));
    // Segment rules are removed through workflows/release/segments.ts's removeSegmentRule.
    if (/removeSegmentRule\(/.test(saga)) called.add('deleteSegmentRule');
    // Stickiness is restored through workflows/release/environment.ts's restoreStickiness, with the compensate profile.
    if (/restoreStickiness\(state, c, compensate\)/.test(saga)) called.add('restoreStickiness');
    expect(called.size).toBeGreaterThanOrEqual(4);
    expect([...called].sort()).toEqual([...COMPENSATING_ACTIVITIES].sort());
  });
});

describe('where the worker takes its AWS credentials from', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'canary-creds-'));
  const noFiles = { HOME: home };
  afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

  it('names each source of the default chain in its order', () => {
    expect(describeCredentialSource({ ...noFiles, AWS_PROFILE: 'prod', AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' })).toMatch(
      /^profile prod of .*\.aws\/config \(AWS_PROFILE; an SSO session/,
    );
    expect(describeCredentialSource({ ...noFiles, AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' })).toBe(
      'static keys in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY',
    );
    expect(describeCredentialSource({ ...noFiles, AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b', AWS_SESSION_TOKEN: 't' })).toMatch(
      /session keys .* never refreshed/,
    );
    expect(describeCredentialSource({ ...noFiles, AWS_ROLE_ARN: 'arn:aws:iam::1:role/r', AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/token' })).toMatch(
      /^web identity \(EKS IRSA\): role arn:aws:iam::1:role\/r with the token in \/var\/run\/token/,
    );
    expect(describeCredentialSource({ ...noFiles, AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://127.0.0.1:9/creds' })).toMatch(
      /^the container credentials endpoint http:\/\/127\.0\.0\.1:9\/creds \(AWS_CONTAINER_CREDENTIALS_FULL_URI: EKS Pod Identity or an ECS task role\)/,
    );
    expect(describeCredentialSource({ ...noFiles, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/x' })).toMatch(
      /169\.254\.170\.2\/v2\/credentials\/x \(the task role\)/,
    );
    expect(describeCredentialSource({ ...noFiles })).toMatch(/^the EC2 instance metadata service/);
    expect(describeCredentialSource({ ...noFiles, AWS_EC2_METADATA_DISABLED: 'true' })).toMatch(/^nowhere/);
  });

  it('finds a default profile in ~/.aws before web identity and instance metadata, as the chain does', () => {
    fs.mkdirSync(path.join(home, '.aws'), { recursive: true });
    fs.writeFileSync(path.join(home, '.aws', 'credentials'), '[default]\naws_access_key_id = a\n');
    try {
      expect(describeCredentialSource({ ...noFiles, AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://127.0.0.1:9/creds' })).toBe(
        `the default profile of ${path.join(home, '.aws', 'config')}`,
      );
    } finally {
      fs.rmSync(path.join(home, '.aws'), { recursive: true, force: true });
    }
  });

  it('warns about session keys in the environment, with their expiration when it is known', () => {
    const keys = { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b', AWS_SESSION_TOKEN: 't' };
    const now = Date.parse('2026-12-08T10:00:00Z');
    expect(staticSessionWarning(keys, now)).toMatch(
      /^AWS credentials are session keys in .* they expire \(session credentials last 1 to 12 hours\) and the worker cannot refresh them/,
    );
    expect(staticSessionWarning({ ...keys, AWS_CREDENTIAL_EXPIRATION: '2026-12-08T10:42:00Z' }, now)).toContain(
      'they expire at 2026-12-08T10:42:00.000Z, in 42 min (AWS_CREDENTIAL_EXPIRATION)',
    );
    expect(staticSessionWarning({ ...keys, AWS_CREDENTIAL_EXPIRATION: '2026-12-08T09:00:00Z' }, now)).toContain('they expired at 2026-12-08T09:00:00.000Z');
    expect(staticSessionWarning({ ...keys, AWS_PROFILE: 'prod' }, now)).toBeUndefined();
    expect(staticSessionWarning({ AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' }, now)).toBeUndefined();
    expect(staticSessionWarning({ AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://127.0.0.1:9/' }, now)).toBeUndefined();
  });
});
