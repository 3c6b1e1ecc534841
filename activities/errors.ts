import { ApplicationFailure } from '@temporalio/common';
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
  'TooManyTargetsException',
  'InvalidTargetException',
  'IncompatibleProtocolsException',
  'UnsupportedProtocolException',
  'InvalidParameterValue',
  'InvalidParameterCombination',
  'MissingRequiredParameter',
  'AccessDenied',
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
]);

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
