/**
 * `canary status` (one snapshot from the status query, else what the server alone knows) and `canary history`
 * (the timeline of every run: the newest from the same query, older runs' from the histories of the runs after them).
 */
import type { Client } from '@temporalio/client';
import { Command } from 'commander';
import type { ReleaseStatus } from '../../common/status';
import { readRecordedMessages, withCallers, type TimelineEntryWithCaller } from '../callers';
import { cliAction, withSession } from '../cli-kit';
import { CliError, ExitCode } from '../exit-codes';
import { formatFallbackStatus, formatRunHistory, formatStatus, runHistoryJson } from '../format';
import { readReleaseRuns, timelineByRun } from '../report-data';
import { json, out } from '../render';
import { describeRelease, queryStatus, releaseEnd, releaseHandle, releaseSummary } from '../release-client';

const RELEASE_ARG = ['<release>', 'release id (release-SERVICE) or service name'] as const;

/** The timeline with each message's client identity from the history; the timeline alone when the history cannot be read. */
async function timelineWithCallers(client: Client, workflowId: string, runId: string, status: ReleaseStatus): Promise<TimelineEntryWithCaller[]> {
  const messages = await readRecordedMessages(client, workflowId, runId).catch(() => undefined);
  return messages ? withCallers(status.timeline, messages) : status.timeline;
}

export function statusCommand(): Command {
  return new Command('status')
    .argument(...RELEASE_ARG)
    .description('one snapshot: phase, step, weights, analysis, open gate, rollback plan, result')
    .option('--json', 'print the full status as JSON')
    .action(
      cliAction((id: string, opts: { json?: boolean }, cmd: Command) =>
        withSession(cmd, async (s) => {
          const d = await describeRelease(s.client, id);
          const run = releaseHandle(s.client, d.workflowId, d.runId);
          const uiUrl = s.link(d.workflowId, d.runId);
          const execution = d.status.name;
          const closed = execution !== 'RUNNING';
          let status: ReleaseStatus | undefined;
          let queryError = 'no answer';
          try {
            status = await queryStatus(run);
          } catch (e) {
            queryError = (e as Error).message;
          }
          if (status) {
            // A run that failed (invalid release) or was terminated has no result in its status: say why it ended.
            const end = closed && !status.result ? await releaseEnd(run) : undefined;
            const failure = end && 'failure' in end ? end.failure.message : undefined;
            const timeline = await timelineWithCallers(s.client, d.workflowId, d.runId, status);
            if (opts.json) {
              json({
                workflowId: d.workflowId,
                runId: d.runId,
                execution,
                uiUrl: uiUrl ?? null,
                source: 'query',
                phase: status.phase,
                status: { ...status, timeline },
                result: status.result ?? null,
                failure: failure ?? null,
              });
            } else out(formatStatus(status, { now: new Date(), uiUrl, execution, failure, timeline }));
            return ExitCode.ok;
          }
          // No worker answered: what describe() and, for a closed run, result() tell.
          const end = closed ? await releaseEnd(run) : undefined;
          const fallback = {
            ...releaseSummary(d),
            result: end && 'result' in end ? end.result : undefined,
            failure: end && 'failure' in end ? end.failure.message : undefined,
            queryError,
          };
          if (opts.json) json({ ...fallback, uiUrl: uiUrl ?? null, source: 'describe', status: null, result: fallback.result ?? null });
          else out(formatFallbackStatus(fallback, { uiUrl }));
          return ExitCode.ok;
        }),
      ),
    );
}

export function historyCommand(): Command {
  return new Command('history')
    .argument(...RELEASE_ARG)
    .description(
      'the timeline of every run, oldest first: who approved, paused, aborted, when and why; ignored signals marked; for each message the key that signed it and the client identity Temporal recorded',
    )
    .option('--json', 'print JSON')
    .action(
      cliAction((id: string, opts: { json?: boolean }, cmd: Command) =>
        withSession(cmd, async (s) => {
          const d = await describeRelease(s.client, id);
          let status: ReleaseStatus;
          try {
            status = await queryStatus(releaseHandle(s.client, d.workflowId, d.runId));
          } catch (e) {
            throw new CliError(
              ExitCode.error,
              `cannot read the timeline of ${d.workflowId}: ${(e as Error).message}; it comes from the status query, which needs a worker on the release's task queue (or see the event history in the Temporal UI)`,
            );
          }
          // A release that continued as new: each run's own entries, from the timeline it handed to the next run.
          const messages = await readRecordedMessages(s.client, d.workflowId, d.runId).catch(() => undefined);
          const runs = timelineByRun(await readReleaseRuns(s.client, d.workflowId, d.runId), status.timeline).map((r) => ({
            ...r,
            entries: messages ? withCallers(r.entries, messages) : r.entries,
          }));
          if (opts.json) json({ workflowId: d.workflowId, runId: d.runId, phase: status.phase, ...runHistoryJson(runs) });
          else out(formatRunHistory(runs));
          return ExitCode.ok;
        }),
      ),
    );
}
