/**
 * What every `canary` command shares, so a command is a commander `Command` built in its own module and mounted
 * with one `program.addCommand(...)` line in ./cli.ts: the action wrapper that turns a command's result into the
 * exit code, one Temporal connection per command from the global flags, reading a spec file, who acts, and option
 * parsers.
 *
 * A command's action returns its exit code (./exit-codes.ts) or throws; for example
 *
 *   new Command('report').argument('<release>').action(cliAction((id: string, opts: {}, cmd: Command) =>
 *     withSession(cmd, async (s) => { ...; return ExitCode.ok; })));
 */
import * as fs from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import type { Client } from '@temporalio/client';
import * as YAML from 'yaml';
import { parseDuration } from '../common/duration';
import { connect, resolveConnection, workflowUrl, type ConnectionFlags, type ResolvedConnection } from './connection';
import { CliError, ExitCode } from './exit-codes';

// ---- exit codes of actions ----

const exitCodes = new WeakMap<Command, number>();

function rootOf(cmd: Command): Command {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c;
}

/**
 * Wraps a command's action: the number it resolves with becomes the program's exit code (`exitCodeOf`). Commander
 * passes the command itself as the action's last argument.
 */
export function cliAction<A extends unknown[]>(fn: (...args: A) => Promise<number>): (...args: A) => Promise<void> {
  return async (...args: A): Promise<void> => {
    const code = await fn(...args);
    exitCodes.set(rootOf(args[args.length - 1] as Command), code);
  };
}

/** The exit code the action run by `program` chose (0 when it chose none). */
export function exitCodeOf(program: Command): number {
  return exitCodes.get(program) ?? ExitCode.ok;
}

// ---- one connection per command ----

/** A connected client for one command, with the resolved settings (namespace, task queue, UI link base). */
export interface Session {
  client: Client;
  conn: ResolvedConnection;
  /** Link to a run in the Temporal UI, when the UI's URL is known. */
  link(workflowId: string, runId?: string): string | undefined;
}

/** The global connection flags (`--address`, `--namespace`, `--profile`, `--task-queue`, `--ui-url`) as given to `cmd`. */
export function connectionFlags(cmd: Command): ConnectionFlags {
  return cmd.optsWithGlobals<ConnectionFlags>();
}

/** Connects with `cmd`'s global flags, runs `fn`, and closes the connection whatever happens. */
export async function withSession<T>(cmd: Command, fn: (s: Session) => Promise<T>): Promise<T> {
  const conn = resolveConnection(connectionFlags(cmd));
  let opened: Awaited<ReturnType<typeof connect>>;
  try {
    opened = await connect(conn);
  } catch (e) {
    throw new CliError(ExitCode.error, `cannot connect to Temporal at ${conn.address} (namespace ${conn.namespace}): ${(e as Error).message}`);
  }
  try {
    return await fn({ client: opened.client, conn, link: (workflowId, runId) => workflowUrl(conn.uiUrl, conn.namespace, workflowId, runId) });
  } finally {
    await opened.connection.close().catch(() => undefined);
  }
}

// ---- inputs ----

/** Who acts: --by, else $CANARY_USER, else $USER. */
export function actor(by: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return by?.trim() || env.CANARY_USER?.trim() || env.USER?.trim() || env.USERNAME?.trim() || undefined;
}

/** A spec file's content (YAML or JSON), unvalidated. @throws CliError (exit 2) naming the file. */
export function readSpecFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError(ExitCode.invalid, `cannot read the spec ${file}: ${(e as Error).message}`);
  }
  try {
    // YAML 1.2 is a superset of JSON: one parser for both.
    return YAML.parse(text, { prettyErrors: true });
  } catch (e) {
    throw new CliError(ExitCode.invalid, `${file} is not valid YAML or JSON: ${(e as Error).message}`);
  }
}

/** Option parser for a whole number >= 0 (a usage error, exit 2, otherwise). */
export function integer(flag: string): (text: string) => number {
  return (text: string): number => {
    const n = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`${flag} must be a whole number >= 0`);
    return n;
  };
}

/** Option parser for a positive duration (`30s`, `10m`, `6h`, `1d`) in milliseconds. */
export function duration(flag: string): (text: string) => number {
  return (text: string): number => {
    const ms = parseDuration(text);
    if (ms === undefined || ms <= 0) throw new InvalidArgumentError(`${flag} must be a positive duration such as 30s, 10m or 6h`);
    return ms;
  };
}
