/**
 * `canary approve|abort|pause|resume|promote RELEASE`: one command per verb of the message table
 * (common/messages.ts `VERBS`), derived from it. Each payload field of a verb's schema becomes an option
 * (`comment` → `--comment <text>`, `step` → `--step <n>`, `full` → `--full`; required fields are required
 * options), `by` comes from `--by` / $CANARY_USER / $USER, and the verb's summary is the command's description.
 * A new verb is a row in that table and nothing here; an option that is not a payload field (approve --sign-with)
 * is a `VerbOption` passed to `verbCommand`.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { VERBS, type Verb, type VerbInput } from '../../common/messages';
import { actor, cliAction, withSession } from '../cli-kit';
import { CliError, ExitCode } from '../exit-codes';
import { err, json, out } from '../render';
import { releaseHandle, sendVerb } from '../release-client';

/**
 * An option of a verb that is not one of its payload fields: how its value changes the payload before it is sent
 * (e.g. `approve --sign-with KEY` adds a signature). `apply` runs only when the option was given.
 */
export interface VerbOption {
  option: Option;
  /** Payload fields this option provides: they get no option of their own. */
  fields?: readonly string[];
  apply(
    payload: Record<string, unknown>,
    value: unknown,
    context: { verb: Verb; workflowId: string; client: Client },
  ): Promise<Record<string, unknown>> | Record<string, unknown>;
}

/** Help for payload fields whose schema has no `.describe()`; a field missing here gets its own name. */
const FIELD_HELP: Record<string, string> = {
  comment: 'why (recorded in the timeline)',
  reason: 'why (recorded in the timeline)',
  step: 'the 0-based index of the gate you act on (refused when stale)',
  full: 'skip every remaining step and analysis and go to 100%',
};

/** How a payload field is asked for on the command line. */
interface FieldOption {
  field: string;
  option: Option;
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * The options of a verb's text, number and yes/no payload fields, from its zod schema, except `by` and the fields
 * in `provided` (filled by a `VerbOption`). Other fields (objects, lists) have no command-line form: only a
 * `VerbOption` can fill them, and a payload that misses a required one is refused naming the field.
 */
export function fieldOptions(verb: Verb, provided: readonly string[] = []): FieldOption[] {
  const shape = VERBS[verb].input.shape as Record<string, z.ZodType>;
  return Object.entries(shape).flatMap(([field, schema]): FieldOption[] => {
    if (field === 'by' || provided.includes(field)) return [];
    let inner: z.ZodType = schema;
    while (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault) inner = inner.def.innerType as z.ZodType;
    const help = schema.description ?? inner.description ?? FIELD_HELP[field] ?? field;
    const flag = `--${kebab(field)}`;
    let option: Option;
    if (inner instanceof z.ZodBoolean) option = new Option(flag, help);
    else if (inner instanceof z.ZodNumber) option = new Option(`${flag} <n>`, help).argParser(numberFor(flag, inner));
    else if (inner instanceof z.ZodString) option = new Option(`${flag} <text>`, help);
    else return [];
    // Required by the schema (abort's reason): commander says so before anything is sent.
    if (!schema.safeParse(undefined).success) option.makeOptionMandatory();
    return [{ field, option }];
  });
}

function numberFor(flag: string, schema: z.ZodNumber): (text: string) => number {
  return (text: string): number => {
    const n = text.trim() === '' ? NaN : Number(text);
    const checked = schema.safeParse(n);
    if (!checked.success) throw new InvalidArgumentError(`${flag} "${text}": ${checked.error.issues[0]?.message ?? 'not a valid number'}`);
    return n;
  };
}

/** An update the workflow has not taken after this long gets a hint: usually no worker polls its task queue. */
const NO_WORKER_HINT_MS = 20_000;

/** The command of one verb; `extra` adds options that are not payload fields. */
export function verbCommand(verb: Verb, extra: readonly VerbOption[] = []): Command {
  const fields = fieldOptions(
    verb,
    extra.flatMap((x) => x.fields ?? []),
  );
  const cmd = new Command(verb)
    .argument('<release>', 'release id (release-SERVICE) or service name')
    .description(VERBS[verb].summary)
    .option('--by <name>', 'who you are (default: $CANARY_USER, else $USER)');
  for (const f of fields) cmd.addOption(f.option);
  for (const x of extra) cmd.addOption(x.option);
  return cmd.option('--json', 'print the acknowledgement as JSON').action(
    cliAction(async (id: string, opts: Record<string, unknown>, command: Command) => {
      const by = actor(opts.by as string | undefined);
      if (!by) throw new CliError(ExitCode.invalid, 'say who you are: --by NAME, or set CANARY_USER');
      let payload: Record<string, unknown> = { by };
      for (const f of fields) {
        const value = opts[f.option.attributeName()];
        if (value !== undefined) payload[f.field] = value;
      }
      return withSession(command, async (s) => {
        const workflowId = releaseHandle(s.client, id).workflowId;
        for (const x of extra) {
          const value = opts[x.option.attributeName()];
          if (value !== undefined) payload = await x.apply(payload, value, { verb, workflowId, client: s.client });
        }
        // An update needs a worker to validate it and waits for one; say so instead of hanging silently.
        const hint = setTimeout(
          () => err(`no worker has taken the ${verb} yet: is a canary worker polling the release's task queue? Still waiting (Ctrl-C gives up).`),
          NO_WORKER_HINT_MS,
        );
        let ack;
        try {
          ack = await sendVerb(s.client, workflowId, verb, payload as VerbInput<typeof verb>);
        } finally {
          clearTimeout(hint);
        }
        if (opts.json) json({ workflowId, verb, payload: VERBS[verb].input.safeParse(payload).data ?? payload, ...ack });
        else out(`${verb}: ${ack.message} (${workflowId}: ${ack.phase}, step #${ack.step})`);
        return ExitCode.ok;
      });
    }),
  );
}
