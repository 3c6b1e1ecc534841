/** `canary list`: release summaries from Temporal visibility, newest first. */
import { Command } from 'commander';
import { RELEASE_WORKFLOW } from '../../common/messages';
import { ReleaseService } from '../../common/search-attributes';
import { cliAction, integer, withSession } from '../cli-kit';
import { CliError, ExitCode } from '../exit-codes';
import { formatList } from '../format';
import { json, out } from '../render';
import { listReleases } from '../release-client';

/** The visibility query of `canary list`. Values are checked, not escaped: service names are [a-z0-9-]. */
export function listQuery(opts: { service?: string; running?: boolean }): string {
  const clauses = [`WorkflowType = '${RELEASE_WORKFLOW}'`];
  if (opts.service !== undefined) {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(opts.service))
      throw new CliError(ExitCode.invalid, `--service "${opts.service}": a service name is letters, digits, . _ -`);
    clauses.push(`${ReleaseService.name} = "${opts.service}"`);
  }
  if (opts.running) clauses.push(`ExecutionStatus = "Running"`);
  return clauses.join(' AND ');
}

interface ListOpts {
  service?: string;
  running?: boolean;
  limit: number;
  json?: boolean;
}

export function listCommand(): Command {
  return new Command('list')
    .description('releases from Temporal visibility, newest first')
    .option('--service <name>', 'only this service')
    .option('--running', 'only running releases')
    .option('--limit <n>', 'at most this many', integer('--limit'), 20)
    .option('--json', 'print JSON')
    .action(
      cliAction(async (opts: ListOpts, cmd: Command) => {
        const query = listQuery(opts);
        return withSession(cmd, async (s) => {
          const rows = await listReleases(s.client, query, opts.limit);
          // JSON keeps its documented shape: the execution status under `status`, and a link per run.
          if (opts.json) json(rows.map(({ execution, ...r }) => ({ ...r, status: execution, uiUrl: s.link(r.workflowId, r.runId) ?? null })));
          else out(formatList(rows));
          return ExitCode.ok;
        });
      }),
    );
}
