/**
 * `canary doctor [--spec FILE] [--fix]`: the preflight a person runs before a first release and CI before every
 * start. Runs the checks of ../doctor/registry.ts, one line each; exit 0 when none failed, 1 when one did, 2 for a
 * spec that cannot be read or is invalid (docs/CLI.md).
 */
import { Command } from 'commander';
import { awsConfigFromEnv, createAwsClients, type AwsClients, type ScopedClients } from '../../activities/aws-clients';
import { awsScope, type ParsedReleaseSpec } from '../../common/spec';
import { connectionFlags, cliAction } from '../cli-kit';
import { resolveConnection } from '../connection';
import { formatOutcome, runChecks, type DoctorContext } from '../doctor/checks';
import { DOCTOR_CHECKS } from '../doctor/registry';
import { CHECK_FAILED, ExitCode } from '../exit-codes';
import { json, out } from '../render';
import { prepareSpec } from '../release-client';
import { specInput } from './start';

interface DoctorOpts {
  spec?: string;
  version?: string;
  targets?: string;
  fix?: boolean;
  json?: boolean;
}

export function doctorCommand(): Command {
  return new Command('doctor')
    .description(
      'check Temporal (server, namespace, search attributes, workers) and AWS (identity; with --spec: listener, metrics, alarms, permissions) before a release',
    )
    .option('--spec <file>', 'also check what this spec needs in AWS, and that a worker runs its apiVersion')
    .option('--version <v>', 'for a spec that leaves version to CI: as start would get it')
    .option('--targets <id:port,...>', 'for a spec that leaves the canary targets to CI: as start would get them')
    .option('--fix', 'register the missing search attributes (self-hosted Temporal; Temporal Cloud: prints the tcld command)')
    .option('--json', 'print [{id, title, status, text, fix?}]')
    .action(
      cliAction(async (opts: DoctorOpts, cmd: Command) => {
        let spec: ParsedReleaseSpec | undefined;
        if (opts.spec !== undefined) {
          const { raw, overrides } = specInput({ spec: opts.spec, version: opts.version, targets: opts.targets });
          spec = prepareSpec(raw, overrides);
        }
        let temporalSettings: DoctorContext['temporalSettings'];
        try {
          temporalSettings = resolveConnection(connectionFlags(cmd));
        } catch (e) {
          temporalSettings = { problem: (e as Error).message };
        }
        let aws: AwsClients | undefined;
        const awsClients = (): AwsClients => (aws ??= createAwsClients(awsConfigFromEnv()));
        let scoped: Promise<ScopedClients> | undefined;
        const ctx: DoctorContext = {
          spec,
          fix: opts.fix === true,
          temporalSettings,
          aws: awsClients,
          scoped: () => (scoped ??= spec ? awsClients().clientsFor(awsScope(spec)) : Promise.resolve(awsClients())),
        };
        try {
          const outcomes = await runChecks(ctx, DOCTOR_CHECKS);
          if (opts.json) json(outcomes.map((o) => ({ id: o.id, title: o.title, ...o.result })));
          else for (const o of outcomes) out(formatOutcome(o));
          return outcomes.some((o) => o.result.status === 'fail') ? CHECK_FAILED : ExitCode.ok;
        } finally {
          aws?.destroy();
          await ctx.temporal?.connection.close().catch(() => undefined);
        }
      }),
    );
}
