/** `canary list`: release summaries from Temporal visibility, newest first. */
import { Command } from 'commander';
import { RELEASE_WORKFLOW, releaseWorkflowId } from '../../common/messages';
import { ReleaseService } from '../../common/search-attributes';
import { cliAction, integer, withSession } from '../cli-kit';
import { CliError, ExitCode } from '../exit-codes';
import { formatList } from '../format';
import { isUnregisteredSearchAttribute, RELEASE_ATTRIBUTES } from '../namespace';
import { err, json, out } from '../render';
import { listReleases } from '../release-client';

/**
 * The visibility query of `canary list`. Values are checked, not escaped: service names are [a-z0-9-]. Without our
 * search attributes (`bySearchAttributes: false`), a service is found by its workflow id, `release-SERVICE`.
 */
export function listQuery(opts: { service?: string; running?: boolean }, bySearchAttributes = true): string {
  const clauses = [`WorkflowType = '${RELEASE_WORKFLOW}'`];
  if (opts.service !== undefined) {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(opts.service))
      throw new CliError(ExitCode.invalid, `--service "${opts.service}": a service name is letters, digits, . _ -`);
    clauses.push(bySearchAttributes ? `${ReleaseService.name} = "${opts.service}"` : `WorkflowId = "${releaseWorkflowId(opts.service)}"`);
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
          const rows = await listReleases(s.client, query, opts.limit).catch((e: unknown) => {
            if (!isUnregisteredSearchAttribute(e)) throw e;
            return listReleases(s.client, listQuery(opts, false), opts.limit);
          });
          // Releases started where our search attributes are not registered carry none (canary start warned).
          if (rows.some((r) => r.service === undefined)) {
            err(
              `note: namespace ${s.conn.namespace} lacks the ${RELEASE_ATTRIBUTES.map((a) => a.name).join(', ')} search attributes for some releases: ` +
                'version, phase and canary weight are not shown for them (canary status RELEASE has them; canary doctor --fix registers the attributes)',
            );
          }
          // JSON keeps its documented shape: the execution status under `status`, and a link per run.
          if (opts.json) json(rows.map(({ execution, ...r }) => ({ ...r, status: execution, uiUrl: s.link(r.workflowId, r.runId) ?? null })));
          else out(formatList(rows));
          return ExitCode.ok;
        });
      }),
    );
}
