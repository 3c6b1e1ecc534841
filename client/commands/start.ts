/**
 * `canary start` (validate a spec and start its release; with --wait follow it to the end) and `canary validate`
 * (the same checks without a Temporal server, for CI linting). Both read the spec and apply the same overrides.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { awsConfigFromEnv, createAwsClients } from '../../activities/aws-clients';
import { SpecValidationError, type ParsedReleaseSpec } from '../../common/spec';
import { ACTOR_NAME_PATTERN } from '../../common/names';
import { SPEC_API_VERSION } from '../../common/versions';
import { actor, cliAction, readSpecFile, withSession } from '../cli-kit';
import { dryRun, formatDryRun, refusal } from '../dry-run';
import { CliError, ExitCode } from '../exit-codes';
import { formatSpecErrors, formatValidSpec, shortStep } from '../format';
import { err, json, out } from '../render';
import { parseTargets, prepareSpec, releaseHandle, startRelease, type StartOptions } from '../release-client';
import { followToEnd, timeoutOption } from './watch';

export interface SpecOpts {
  spec: string;
  version?: string;
  targets?: string;
  by?: string;
}

/**
 * The spec file's content and the overrides `start` applies to it (initiator: --by, the spec's, else the login).
 * A spec without `apiVersion` is read as canary/v1, with a warning on stderr (docs/COMPATIBILITY.md).
 */
export function specInput(opts: SpecOpts): { raw: unknown; overrides: StartOptions } {
  const raw = readSpecFile(opts.spec);
  if (typeof raw === 'object' && raw !== null && !('apiVersion' in raw)) {
    err(`warning: ${opts.spec} has no apiVersion: read as ${SPEC_API_VERSION}; add apiVersion: ${SPEC_API_VERSION} (docs/COMPATIBILITY.md)`);
  }
  const specInitiator = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>).initiator : undefined;
  // A login name outside the names rule (common/names.ts; CI bots such as dependabot[bot] are in it) is left out
  // rather than turned into a spec error the user did not write.
  const login = actor(undefined);
  const initiator = opts.by?.trim() || (specInitiator === undefined && login && ACTOR_NAME_PATTERN.test(login) ? login : undefined);
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
    .option('--dry-run', 'discover the listener with your AWS credentials and print every change the release would make and its undo; writes nothing')
    .action(
      cliAction(async (opts: SpecOpts & { wait?: boolean; timeout: number; json?: boolean; dryRun?: boolean }, cmd: Command) => {
        const { raw, overrides } = specInput(opts);
        // Validate before connecting: a bad spec fails the same way with or without a server, and starts nothing.
        const spec = prepareSpec(raw, overrides);
        if (opts.dryRun) return rehearse(spec, opts.json === true);
        return withSession(cmd, async (s) => {
          const handle = await startRelease(s.client, raw, { ...overrides, taskQueue: s.conn.taskQueue, onWarning: err });
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

/** `start --dry-run`: exit 0 with the plan, 2 when the release would refuse the spec, 5 when AWS cannot be asked. */
async function rehearse(spec: ParsedReleaseSpec, asJson: boolean): Promise<number> {
  const aws = createAwsClients(awsConfigFromEnv());
  try {
    const plan = await dryRun(spec, aws).catch((e: unknown) => {
      const refused = refusal(e);
      if (refused) throw new CliError(ExitCode.invalid, `dry run: the release would refuse this spec, nothing was written: ${refused}`);
      throw new CliError(ExitCode.error, `dry run: cannot read the listener from AWS (region ${spec.region}): ${(e as Error).message}`);
    });
    if (asJson) json(plan);
    else out(formatDryRun(plan, spec).join('\n'));
    return plan.problems.length ? ExitCode.invalid : ExitCode.ok;
  } finally {
    aws.destroy();
  }
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

/** The `sts:AssumeRole` resource patterns a policy document allows (`arn:aws:iam::*:role/canary-*`). */
export function assumeRolePatterns(policy: unknown): string[] {
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : []);
  const raw = (policy as { Statement?: unknown } | undefined)?.Statement;
  const statements: unknown[] = Array.isArray(raw) ? raw : raw && typeof raw === 'object' ? [raw] : [];
  return statements.flatMap((st) => {
    const s = st as { Effect?: unknown; Action?: unknown; Resource?: unknown };
    const allowsAssume = s.Effect === 'Allow' && list(s.Action).some((a) => /^(sts:\*|sts:assumerole|\*)$/i.test(a));
    return allowsAssume ? list(s.Resource) : [];
  });
}

/**
 * A warning when the spec's `aws.roleArn` is outside the shipped policy's AssumeRole resources (docs/iam-policy.json):
 * a worker given that policy could not assume the role, and the release would fail at its first AWS call.
 */
export function roleOutsidePolicyWarning(roleArn: string | undefined, patterns: readonly string[]): string | undefined {
  if (!roleArn || patterns.length === 0) return undefined;
  const glob = (p: string): RegExp =>
    new RegExp(
      `^${p
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
    );
  if (patterns.some((p) => glob(p).test(roleArn))) return undefined;
  return `aws.roleArn ${roleArn} is outside the shipped IAM policy's sts:AssumeRole resources (${patterns.join(', ')}): a worker with docs/iam-policy.json cannot assume it; name the role to match or widen the policy's AssumeRole resource (docs/running-for-real.md#the-scoped-policy)`;
}

/** The shipped policy next to this canary (a checkout or the installed package), or undefined. */
function shippedPolicy(): unknown {
  for (const file of [path.resolve(__dirname, '..', '..', 'docs', 'iam-policy.json'), path.resolve(__dirname, '..', '..', '..', 'docs', 'iam-policy.json')]) {
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    } catch {
      // not there: the next candidate
    }
  }
  return undefined;
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
        const roleWarning = roleOutsidePolicyWarning(spec.aws?.roleArn, assumeRolePatterns(shippedPolicy()));
        if (roleWarning) err(`warning: ${roleWarning}`);
        if (opts.json) json(validJson(opts.spec, spec));
        else out(formatValidSpec(opts.spec, spec));
        return ExitCode.ok;
      }),
    );
}
