/**
 * `canary`: start, follow and steer releases from CI or a terminal. A thin shell over the client library
 * (./release-client.ts, ./follow.ts): each command is a commander `Command` built in its own module
 * (./commands/*.ts, on ./cli-kit.ts) and mounted here with one line; output goes through ./render.ts and
 * ./format.ts; outcomes become the exit codes of ./exit-codes.ts (docs/CLI.md):
 *
 *   0 ok / promoted, 1 rolled back, 2 invalid input or conflict, 3 aborted, 4 action rejected,
 *   5 connection or other error, 6 still running when --timeout ended the wait.
 */
import { Command, Option } from 'commander';
import { VERB_NAMES, type Verb } from '../common/messages';
import { exitCodeOf } from './cli-kit';
import { doctorCommand } from './commands/doctor';
import { listCommand } from './commands/list';
import { startCommand, validateCommand } from './commands/start';
import { historyCommand, statusCommand } from './commands/status';
import { verbCommand, type VerbOption } from './commands/verbs';
import { watchCommand } from './commands/watch';
import { packageVersion } from './package-info';
import { reportCommand } from './report';
import { signCommand, signWithOption, signedPayload, type SignablePayload } from './signing';
import type { SignedVerb } from '../common/signing';
import { errorExit } from './exit-codes';
import { err } from './render';

/** Options of a verb beyond its payload fields (e.g. `approve: [signWithOption]`); the fields come from common/messages.ts. */
const signWith: VerbOption = {
  option: signWithOption(),
  fields: ['signature'],
  apply: (payload, value, { verb, workflowId, client }) =>
    signedPayload({ client, release: workflowId, verb: verb as SignedVerb, payload: payload as SignablePayload, keyFile: String(value) }),
};
const VERB_OPTIONS: { [V in Verb]?: readonly VerbOption[] } = { approve: [signWith], promote: [signWith], abort: [signWith], resume: [signWith] };

/** The commander program; `main` runs it. */
export function buildProgram(): Command {
  const program = new Command('canary')
    .description('Durable canary releases behind an AWS Application Load Balancer, orchestrated by Temporal.')
    .version(packageVersion(), '-V, --cli-version', 'print the version of the canary CLI')
    .exitOverride()
    .showHelpAfterError('(canary --help lists the commands; canary COMMAND --help its options)')
    .addOption(new Option('--address <host:port>', 'Temporal frontend (default: $TEMPORAL_ADDRESS, the profile, localhost:7233)'))
    .addOption(new Option('--namespace <ns>', 'Temporal namespace (default: $TEMPORAL_NAMESPACE, the profile, default)'))
    .addOption(new Option('--profile <name>', 'profile in the Temporal config file (default: $TEMPORAL_PROFILE, default)'))
    .addOption(new Option('--task-queue <queue>', 'task queue the canary worker polls (default: $CANARY_TASK_QUEUE, canary-releases)'))
    .addOption(new Option('--ui-url <url>', 'Temporal UI base URL for links (default: $CANARY_UI_URL; http://HOST:8233 for a local server)'));

  program.addHelpText(
    'after',
    [
      '',
      'Exit codes: 0 ok / promoted, 1 rolled back (doctor: a check failed), 2 invalid input or conflict (nothing started), 3 aborted,',
      '            4 action rejected by the release, 5 connection or other error,',
      '            6 still running: --timeout (default 6h) ended start --wait / watch, the release goes on.',
      'Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE,',
      '             TEMPORAL_CONFIG_FILE, CANARY_TASK_QUEUE, CANARY_UI_URL, CANARY_USER. See docs/CLI.md.',
    ].join('\n'),
  );

  program.addCommand(startCommand());
  program.addCommand(validateCommand());
  program.addCommand(statusCommand());
  program.addCommand(watchCommand());
  program.addCommand(listCommand());
  program.addCommand(historyCommand());
  for (const verb of VERB_NAMES) program.addCommand(verbCommand(verb, VERB_OPTIONS[verb]));
  program.addCommand(signCommand());
  program.addCommand(reportCommand());
  program.addCommand(doctorCommand());

  inheritSettings(program);
  return program;
}

// Commands built on their own (`new Command(...)`, then addCommand) do not inherit the program's settings (exit
// override, help after errors) by themselves; their subcommands neither.
function inheritSettings(parent: Command): void {
  for (const cmd of parent.commands) {
    cmd.copyInheritedSettings(parent);
    inheritSettings(cmd);
  }
}

/** Runs the CLI; resolves with the exit code (never throws). */
export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return exitCodeOf(program);
  } catch (e) {
    const { code, lines } = errorExit(e);
    for (const l of lines) err(l);
    return code;
  }
}

/** Entry point for bin/canary.js and `npm run canary`. */
export function run(argv: string[] = process.argv): void {
  void main(argv).then((code) => {
    process.exitCode = code;
    // Give stdout a moment, then leave even if a gRPC channel still holds the event loop.
    setTimeout(() => process.exit(code), 2_000).unref();
  });
}

if (require.main === module) run();
