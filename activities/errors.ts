import { Context } from '@temporalio/activity';
import { ApplicationFailure, type MetricMeter } from '@temporalio/common';
import { emitMetric } from '../common/release-metrics';
import { PacedOut } from './api-pacer';
import { ErrorTypes } from './contract';

/**
 * AWS errors that retrying cannot fix: the request is wrong, or names something that does not exist.
 * Everything else (throttling, 5xx, dropped connections) is left to Temporal's retry with backoff.
 */
const NON_RETRYABLE = new Set([
  'ValidationError',
  // CloudWatch's JSON protocol names its errors with an Exception suffix.
  'ValidationException',
  'InvalidParameterValueException',
  'InvalidParameterCombinationException',
  'MissingRequiredParameterException',
  'ResourceNotFoundException',
  'InvalidConfigurationRequestException',
  'ListenerNotFoundException',
  'RuleNotFoundException',
  'LoadBalancerNotFoundException',
  'TargetGroupNotFoundException',
  'DuplicateTargetGroupNameException',
  'TooManyTargetGroupsException',
  // 100 target groups per load balancer, not adjustable (activities/environment.ts checks the room up front).
  'TooManyUniqueTargetGroupsPerLoadBalancerException',
  'TooManyTargetsException',
  'InvalidTargetException',
  'IncompatibleProtocolsException',
  'UnsupportedProtocolException',
  'InvalidParameterValue',
  'InvalidParameterCombination',
  'MissingRequiredParameter',
  'AccessDenied',
  'AccessDeniedException',
]);

/**
 * A credential that is missing, expired or not (any longer) valid: the SDK found none, or AWS refused the signature's
 * key. Retrying the same call cannot fix it, but a refreshed or renewed credential can (see {@link aws}).
 */
const CREDENTIAL_ERRORS = new Set([
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AuthFailure',
  'MissingAuthenticationToken',
  'MissingAuthenticationTokenException',
  // The SDK's own: no provider of the chain had a credential (or an SSO token) to give.
  'CredentialsProviderError',
  'TokenProviderError',
]);

/**
 * The activities that undo or tear down (the saga's compensations, run by workflows/release/saga.ts, and the
 * teardown after promotion). On a credential error they keep retrying, so that a rollback completes as soon as valid
 * credentials are back instead of leaving the listener split; every other activity fails fast.
 */
export const COMPENSATING_ACTIVITIES: ReadonlySet<string> = new Set([
  'restoreActions',
  'drainTargetGroup',
  'deleteTargetGroup',
  'deregisterTargets',
  'deleteSegmentRule',
  'restoreStickiness',
]);

/**
 * Where the client that made a call takes its credentials from, in words (set on the SDK's error by the clients of
 * activities/aws-clients.ts), so that a credential failure can say what to fix.
 */
export const credentialSourceKey = Symbol.for('canary.credentialSource');

/** True for an error of a missing, expired or rejected credential (the SDK's error, or the failure {@link aws} made of it). */
export function isCredentialError(err: unknown): boolean {
  if (err instanceof ApplicationFailure) return err.type === ErrorTypes.AwsCredentials;
  return CREDENTIAL_ERRORS.has(awsErrorName(err) ?? '');
}

/** The running activity's context, or undefined outside one (a CLI, a test calling an activity function). */
function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/** The running activity's metric meter, if any (its metrics carry the activity type and task queue). */
export function activityMeter(): MetricMeter | undefined {
  return activityContext()?.metricMeter;
}

/**
 * A credential error as a failure that says where the credentials come from and what happens next: non-retryable
 * in a forward step (the release rolls back at once rather than retrying for minutes), retryable in a compensation.
 */
function credentialFailure(what: string, name: string, err: unknown): ApplicationFailure {
  const ctx = activityContext();
  const compensating = !!ctx && COMPENSATING_ACTIVITIES.has(ctx.info.activityType);
  const source = (err as { [credentialSourceKey]?: string } | undefined)?.[credentialSourceKey] ?? 'the AWS SDK default credential chain';
  const detail = (err as Error)?.message ?? String(err);
  const problem = `AWS credentials ${/Expired/.test(name) ? 'expired' : name === 'CredentialsProviderError' || name === 'TokenProviderError' ? 'missing' : 'rejected'}`;
  const then = compensating
    ? 'this undo step keeps retrying and completes as soon as valid credentials are back'
    : 'the step fails now (retrying would not renew them) and the release rolls back; the rollback keeps retrying until valid credentials are back';
  return ApplicationFailure.create({
    type: ErrorTypes.AwsCredentials,
    message: `${what}: ${problem} (${name}: ${detail}); the worker's credentials come from ${source}; ${then}`,
    nonRetryable: !compensating,
    cause: err instanceof Error ? err : undefined,
    details: [name],
  });
}

/** The error name the AWS SDK gives a service error. */
export function awsErrorName(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'name' in err ? String((err as { name: unknown }).name) : undefined;
}

/**
 * Runs one AWS call and turns its failure into an ApplicationFailure that says what was being done,
 * non-retryable for request errors, retryable (typed by the AWS error name) otherwise.
 */
export async function aws<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    if (err instanceof PacedOut) {
      // Never sent: retried when the account's budget would have had a token for it (its place is kept).
      throw ApplicationFailure.create({ type: err.name, message: `${what}: ${err.message}`, nextRetryDelay: err.waitMs, cause: err });
    }
    const name = awsErrorName(err) ?? 'Error';
    const meter = activityMeter();
    if (meter) emitMetric(meter, 'awsErrors', 1, { code: name });
    if (CREDENTIAL_ERRORS.has(name)) throw credentialFailure(what, name, err);
    const message = `${what}: ${name}: ${(err as Error)?.message ?? String(err)}`;
    if (NON_RETRYABLE.has(name)) {
      throw ApplicationFailure.create({ type: ErrorTypes.InvalidAwsRequest, message, nonRetryable: true, cause: err as Error, details: [name] });
    }
    throw ApplicationFailure.create({ type: name, message, nonRetryable: false, cause: err as Error });
  }
}

/** True for the SDK's "it does not exist" errors, which describe-first code treats as an answer. */
export function isNotFound(err: unknown): boolean {
  const name = awsErrorName(err) ?? '';
  const details = err instanceof ApplicationFailure ? String(err.details?.[0] ?? '') : '';
  return /NotFound/.test(name) || /NotFound/.test(details);
}
