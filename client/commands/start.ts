/**
 * `canary start` (validate a spec and start its release; with --wait follow it to the end) and `canary validate`
 * (the same checks without a Temporal server, for CI linting). Both read the spec and apply the same overrides.
 */
import { Command, Option } from 'commander';
import { SpecValidationError, type ParsedReleaseSpec } from '../../common/spec';
import { actor, cliAction, readSpecFile, withSession } from '../cli-kit';
import { CliError, ExitCode } from '../exit-codes';
import { formatSpecErrors, formatValidSpec, shortStep } from '../format';
import { json, out } from '../render';
import { parseTargets, prepareSpec, releaseHandle, startRelease, type StartOptions } from '../release-client';
import { followToEnd, timeoutOption } from './watch';

interface SpecOpts {
  spec: string;
  version?: string;
  targets?: string;
  by?: string;
}

// Spec names (initiator) are stricter than message `by` fields; an unusable login name is left out rather than
// turned into a spec error the user did not write.
const SPEC_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** The spec file's content and the overrides `start` applies to it (initiator: --by, the spec's, else the login). */
function specInput(opts: SpecOpts): { raw: unknown; overrides: StartOptions } {
  const raw = readSpecFile(opts.spec);
  const specInitiator = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>).initiator : undefined;
  const login = actor(undefined);
  const initiator = opts.by?.trim() || (specInitiator === undefined && login && SPEC_NAME.test(login) ? login : undefined);
  return { raw, overrides: { version: opts.version, targets: opts.targets !== undefined ? parseTargets(opts.targets) : undefined, initiator } };
}

/** The options both commands take, so `validate` checks exactly what `start` would start. */
function withSpecOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--spec <file>', 'release spec, YAML or JSON')
    .option('--version <v>', "the version being released (overrides the spec's version)")
    .option('--targets <id:port,...>', "the new version's compute (overrides environment.canaryTargets)")
    .option('--by <name>', 'initiator (default: the spec, else $CANARY_USER, else $USER)');
}

export function startCommand(): Command {
  return withSpecOptions(new Command('start').description('validate a spec and start its release; with --wait, follow it to the end'))
    .option('--wait', 'follow the release and exit 0 promoted / 1 rolled back / 3 aborted / 6 still running at --timeout')
    .addOption(timeoutOption())
    .option('--json', 'print JSON: {workflowId, runId, uiUrl} (and result with --wait)')
    .action(
      cliAction(async (opts: SpecOpts & { wait?: boolean; timeout: number; json?: boolean }, cmd: Command) => {
        const { raw, overrides } = specInput(opts);
        // Validate before connecting: a bad spec fails the same way with or without a server, and starts nothing.
        const spec = prepareSpec(raw, overrides);
        return withSession(cmd, async (s) => {
          const handle = await startRelease(s.client, raw, { ...overrides, taskQueue: s.conn.taskQueue });
          const runId = handle.firstExecutionRunId;
          const uiUrl = s.link(handle.workflowId, runId);
          if (!opts.json) {
            out(`started ${handle.workflowId}: ${spec.service} ${spec.version}, ${spec.steps.length} steps, by ${spec.initiator}`);
            out(`  run     ${runId}`);
            if (uiUrl) out(`  ui      ${uiUrl}`);
            if (!opts.wait) out(`  follow  canary watch ${handle.workflowId}`);
          }
          if (!opts.wait) {
            if (opts.json) json({ workflowId: handle.workflowId, runId, uiUrl: uiUrl ?? null });
            return ExitCode.ok;
          }
          const base = opts.json ? { workflowId: handle.workflowId, runId, uiUrl: uiUrl ?? null } : undefined;
          return followToEnd(releaseHandle(s.client, handle.workflowId, runId), s.conn.taskQueue, { timeoutMs: opts.timeout, json: base });
        });
      }),
    );
}

/** What `validate --json` prints for a valid spec. */
function validJson(file: string, spec: ParsedReleaseSpec): Record<string, unknown> {
  return {
    valid: true,
    file,
    service: spec.service,
    version: spec.version,
    initiator: spec.initiator,
    steps: spec.steps.map(shortStep),
    canaryTargets: spec.environment.canaryTargets.map((t) => (t.port === undefined ? t.id : `${t.id}:${t.port}`)),
  };
}

export function validateCommand(): Command {
  return withSpecOptions(new Command('validate').description('check a spec as start would, without a Temporal server: exit 0 valid, 2 with every wrong field'))
    .addOption(new Option('--json', 'print {valid, file, ...} or {valid: false, file, errors: [{field, message}]}'))
    .action(
      cliAction(async (opts: SpecOpts & { json?: boolean }) => {
        const { raw, overrides } = specInput(opts);
        let spec: ParsedReleaseSpec;
        try {
          spec = prepareSpec(raw, overrides);
        } catch (e) {
          if (!(e instanceof SpecValidationError)) throw e;
          if (opts.json) json({ valid: false, file: opts.spec, errors: e.errors });
          throw new CliError(ExitCode.invalid, `invalid release spec ${opts.spec}:`, formatSpecErrors(e.errors));
        }
        if (opts.json) json(validJson(opts.spec, spec));
        else out(formatValidSpec(opts.spec, spec));
        return ExitCode.ok;
      }),
    );
}
