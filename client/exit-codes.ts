/**
 * The CLI's exit codes, what a CI job branches on (docs/CLI.md, "Exit codes"). The library reports outcomes as
 * values and typed errors; only the CLI turns them into numbers, here.
 */
import { SigningError } from './signing';
import { CommanderError } from 'commander';
import { SpecValidationError } from '../common/spec';
import type { ReleaseResult } from '../common/status';
import { ConnectionConfigError } from './connection';
import type { FollowEnding } from './follow';
import { formatSpecErrors } from './format';
import { MessageRejectedError, ReleaseAlreadyRunningError, ReleaseNotFoundError, type ReleaseFailure } from './release-client';
import { IncompatibleWorkerError } from './workers';

export const ExitCode = {
  /** ok; for `start --wait` / `watch`: promoted. */
  ok: 0,
  /** The release rolled back; traffic is on the previous version. */
  rolledBack: 1,
  /** Invalid input or conflict: nothing was started or changed. */
  invalid: 2,
  /** Aborted by a person (or the workflow was cancelled). */
  aborted: 3,
  /** An action was refused by the release; nothing was recorded. */
  rejected: 4,
  /** Cannot reach Temporal, bad connection settings, or another error. */
  error: 5,
  /** `--timeout` ended the wait: the release is still running. */
  stillRunning: 6,
  /** Ctrl-C stopped following (the release goes on): the shell's code for SIGINT. */
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** `canary doctor`: a check failed, its line says how to fix it (1, as a rollback: for CI, both mean "do not ship"). */
export const CHECK_FAILED: ExitCode = ExitCode.rolledBack;

/** An error the CLI reports as one message (and detail lines) with a chosen exit code. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** 0 promoted, 1 rolled back, 3 aborted. */
export function exitCodeFor(result: ReleaseResult): ExitCode {
  return result.outcome === 'promoted' ? ExitCode.ok : result.outcome === 'aborted' ? ExitCode.aborted : ExitCode.rolledBack;
}

/** A run that failed instead of returning a result: 2 refused as invalid, 3 cancelled (rolled back), else 5. */
export function exitCodeForFailure(failure: ReleaseFailure): ExitCode {
  switch (failure.kind) {
    case 'invalid':
      return ExitCode.invalid;
    case 'cancelled':
      return ExitCode.aborted;
    case 'terminated':
    case 'timed-out':
    case 'failed':
      return ExitCode.error;
  }
}

/** The exit code of `start --wait` and `watch`. */
export function exitCodeForEnding(ending: FollowEnding): ExitCode {
  switch (ending.kind) {
    case 'ended':
      return exitCodeFor(ending.result);
    case 'failed':
      return exitCodeForFailure(ending.failure);
    case 'still-running':
      return ExitCode.stillRunning;
  }
}

/** Maps any error a command throws to its message lines and exit code. */
export function errorExit(e: unknown): { code: ExitCode; lines: string[] } {
  if (e instanceof CliError) return { code: e.exitCode, lines: [e.message, ...e.details] };
  if (e instanceof SigningError) return { code: ExitCode.invalid, lines: [e.message] };
  if (e instanceof SpecValidationError) return { code: ExitCode.invalid, lines: ['invalid release spec, nothing was started:', ...formatSpecErrors(e.errors)] };
  if (e instanceof ReleaseAlreadyRunningError) return { code: ExitCode.invalid, lines: [e.message] };
  if (e instanceof IncompatibleWorkerError) return { code: ExitCode.invalid, lines: [e.message] };
  if (e instanceof ReleaseNotFoundError) return { code: ExitCode.invalid, lines: [`${e.message} (canary list shows the releases there)`] };
  if (e instanceof MessageRejectedError) return { code: ExitCode.rejected, lines: [`rejected: ${e.reason}`] };
  if (e instanceof ConnectionConfigError) return { code: ExitCode.error, lines: [e.message] };
  // Commander printed usage errors itself; help and version exit 0.
  if (e instanceof CommanderError) return { code: e.exitCode === 0 ? ExitCode.ok : ExitCode.invalid, lines: [] };
  return { code: ExitCode.error, lines: [`error: ${(e as Error)?.message ?? String(e)}`] };
}
