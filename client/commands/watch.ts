/**
 * `canary watch`, and the following it shares with `canary start --wait`: the library's follow loop
 * (../follow.ts) rendered on the terminal or in CI logs, Ctrl-C to stop watching (not the release), and a time
 * limit (--timeout, default 6h) after which the command exits 6 saying the release still runs.
 */
import { Command, Option } from 'commander';
import { formatDuration } from '../../common/duration';
import { cliAction, duration, withSession } from '../cli-kit';
import { ExitCode, exitCodeForEnding } from '../exit-codes';
import { followRelease, type FollowEnding } from '../follow';
import { err, out, printEnding, rendererFor } from '../render';
import { describeRelease, releaseHandle, type ReleaseHandle } from '../release-client';

/** How long `start --wait` and `watch` follow a release unless --timeout says otherwise: a CI job's usual maximum. */
export const DEFAULT_FOLLOW_TIMEOUT = '6h';

/** `--timeout DURATION` of the commands that follow a release. */
export function timeoutOption(): Option {
  return new Option('--timeout <duration>', 'stop following after this long and exit 6; the release goes on (30s, 10m, 6h, 1d)')
    .argParser(duration('--timeout'))
    .default(duration('--timeout')(DEFAULT_FOLLOW_TIMEOUT), DEFAULT_FOLLOW_TIMEOUT);
}

const SILENT_HINT_MS = 20_000;

/**
 * Follows `handle` until the release ends or `timeoutMs` passes, renders it, prints how it ended (JSON of `json`
 * and the result with --json) and returns the exit code: 0 promoted, 1 rolled back, 3 aborted, 6 still running.
 */
export async function followToEnd(handle: ReleaseHandle, taskQueue: string, opts: { timeoutMs: number; json?: Record<string, unknown> }): Promise<number> {
  const renderer = rendererFor(!!opts.json);
  const onInterrupt = (): void => {
    renderer.stop();
    err(`stopped following ${handle.workflowId}; the release goes on (canary watch ${handle.workflowId})`);
    process.exit(ExitCode.interrupted);
  };
  process.once('SIGINT', onInterrupt);
  let ending: FollowEnding;
  try {
    ending = await followRelease(handle, {
      timeoutMs: opts.timeoutMs,
      silentAfterMs: SILENT_HINT_MS,
      onStatus: (status) => renderer.update(status),
      // Queries (and the release itself) need a worker: the usual cause of silence is none on this task queue.
      onSilent: (ms) =>
        renderer.note(`no answer from ${handle.workflowId} for ${formatDuration(ms)}: is a canary worker polling task queue ${taskQueue}? Still waiting.`),
    });
  } finally {
    process.removeListener('SIGINT', onInterrupt);
    renderer.stop();
  }
  printEnding(ending, handle.workflowId, opts.timeoutMs, opts.json);
  return exitCodeForEnding(ending);
}

export function watchCommand(): Command {
  return new Command('watch')
    .argument('<release>', 'release id (release-SERVICE) or service name')
    .description('follow a release live until it ends; exit code like start --wait')
    .addOption(timeoutOption())
    .option('--json', 'print the result as JSON at the end (progress goes to stderr)')
    .action(
      cliAction((id: string, opts: { timeout: number; json?: boolean }, cmd: Command) =>
        withSession(cmd, async (s) => {
          const d = await describeRelease(s.client, id);
          const uiUrl = s.link(d.workflowId, d.runId);
          if (!opts.json) out(`watching ${d.workflowId} (run ${d.runId})${uiUrl ? `  ${uiUrl}` : ''}`);
          const base = opts.json ? { workflowId: d.workflowId, runId: d.runId, uiUrl: uiUrl ?? null } : undefined;
          return followToEnd(releaseHandle(s.client, d.workflowId, d.runId), d.taskQueue, { timeoutMs: opts.timeout, json: base });
        }),
      ),
    );
}
