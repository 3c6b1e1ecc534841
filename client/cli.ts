/**
 * `canary`: start, follow and steer releases from CI or a terminal. A thin shell over the client library
 * (./release-client.ts): it parses arguments and files, calls the library, prints through ./format.ts and turns
 * outcomes into exit codes (docs/CLI.md):
 *
 *   0 ok / promoted, 1 rolled back, 2 invalid input or conflict, 3 aborted, 4 action rejected, 5 connection or other error.
 */
import * as fs from 'node:fs';
import { MultiBar, type SingleBar } from 'cli-progress';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { WorkflowFailedError, WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, TerminatedFailure, TimeoutFailure } from '@temporalio/common';
import * as YAML from 'yaml';
import { CanaryWeight, ReleasePhase, ReleaseService, ReleaseVersion } from '../common/search-attributes';
import { SpecValidationError, type Target } from '../common/spec';
import type { ReleaseResult, ReleaseStatus, TimelineEntry } from '../common/status';
import { RELEASE_WORKFLOW, statusQuery } from '../common/messages';
import { connect, ConnectionConfigError, resolveConnection, workflowUrl, type ConnectionFlags, type ResolvedConnection } from './connection';
import {
  formatFallbackStatus,
  formatHistory,
  formatList,
  formatResult,
  formatSpecErrors,
  formatStatus,
  formatTimelineEntry,
  historyJson,
  progressBarPayload,
  progressLine,
  type FallbackStatus,
  type ListRow,
} from './format';
import {
  actions,
  exitCodeFor,
  MessageRejectedError,
  parseTargets,
  prepareSpec,
  ReleaseAlreadyRunningError,
  releaseHandle,
  startRelease,
  type ReleaseHandle,
} from './release-client';

export const ExitCode = {
  ok: 0,
  rolledBack: 1,
  invalid: 2,
  aborted: 3,
  rejected: 4,
  error: 5,
} as const;

/** An error the CLI reports as one message with a chosen exit code. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** How long the status query may take before `status` falls back to what the server alone knows. */
const QUERY_TIMEOUT_MS = 15_000;
const POLL_MS = 1_000;

const out = (text: string): void => void process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
const err = (text: string): void => void process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
const json = (value: unknown): void => out(JSON.stringify(value, null, 2));

/** Who acts: --by, else $CANARY_USER, else $USER. */
function actor(by: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return by?.trim() || env.CANARY_USER?.trim() || env.USER?.trim() || env.USERNAME?.trim() || undefined;
}

// Spec names (initiator) are stricter than message `by` fields; an unusable login name is left out rather than
// turned into a spec error the user did not write.
const SPEC_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

function integer(name: string) {
  return (text: string): number => {
    const n = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`${name} must be a whole number >= 0`);
    return n;
  };
}

// ---- session: one connection per command ----

interface Session {
  client: Client;
  conn: ResolvedConnection;
  close(): Promise<void>;
}

type GlobalOpts = ConnectionFlags;

async function open(flags: GlobalOpts): Promise<Session> {
  const conn = resolveConnection(flags);
  try {
    const { client, connection } = await connect(conn);
    return { client, conn, close: () => connection.close() };
  } catch (e) {
    throw new CliError(ExitCode.error, `cannot connect to Temporal at ${conn.address} (namespace ${conn.namespace}): ${(e as Error).message}`);
  }
}

async function withSession<T>(flags: GlobalOpts, fn: (s: Session) => Promise<T>): Promise<T> {
  const s = await open(flags);
  try {
    return await fn(s);
  } finally {
    await s.close().catch(() => undefined);
  }
}

function link(s: Session, workflowId: string, runId?: string): string | undefined {
  return workflowUrl(s.conn.uiUrl, s.conn.namespace, workflowId, runId);
}

/** Runs the status query, giving up after a while (a closed release needs a worker to answer). */
async function queryStatus(handle: ReleaseHandle, timeoutMs = QUERY_TIMEOUT_MS): Promise<ReleaseStatus> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the status query got no answer in ${timeoutMs / 1000}s`)), timeoutMs);
  });
  try {
    return await Promise.race([handle.query(statusQuery), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Describes the release, turning "not found" into an input error naming what was looked for. */
async function describe(s: Session, handle: ReleaseHandle): Promise<WorkflowExecutionDescription> {
  try {
    return await handle.describe();
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) throw notFound(s, handle.workflowId);
    throw e;
  }
}

function notFound(s: Session, workflowId: string): CliError {
  return new CliError(ExitCode.invalid, `no release ${workflowId} in namespace ${s.conn.namespace} (canary list shows the releases there)`);
}

// ---- following a release: shared by `watch` and `start --wait` ----

/** How a followed release ended. */
type Ending = { result: ReleaseResult } | { failure: CliError };

interface Renderer {
  update(status: ReleaseStatus): void;
  /** A remark outside the progress (a hint), to stderr. */
  note(text: string): void;
  stop(): void;
}

/** A bar of the canary weight with phase and step, and timeline entries logged above it. */
function barRenderer(): Renderer {
  const multi = new MultiBar({
    format: '{bar} canary {weight}% | step {step} | {phase} {note}',
    barsize: 30,
    hideCursor: true,
    clearOnComplete: false,
    stopOnComplete: false,
    fps: 5,
    stream: process.stderr,
  });
  let bar: SingleBar | undefined;
  const seen = new Set<string>();
  return {
    update(status) {
      for (const e of unseen(status.timeline, seen)) multi.log(`${formatTimelineEntry(e)}\n`);
      const payload = progressBarPayload(status, new Date());
      if (!bar) bar = multi.create(100, payload.weight, payload);
      else bar.update(payload.weight, payload);
    },
    note: (text) => multi.log(`${text}\n`),
    stop: () => multi.stop(),
  };
}

/** One line per change: the progress line when it changes, and each new timeline entry. */
function lineRenderer(write: (text: string) => void): Renderer {
  let last = '';
  const seen = new Set<string>();
  return {
    update(status) {
      for (const e of unseen(status.timeline, seen)) write(`  ${formatTimelineEntry(e)}`);
      const line = progressLine(status, new Date());
      if (line !== last) write(`${new Date().toISOString().slice(11, 19)}Z ${line}`);
      last = line;
    },
    note: err,
    stop: () => undefined,
  };
}

function unseen(timeline: TimelineEntry[], seen: Set<string>): TimelineEntry[] {
  const fresh: TimelineEntry[] = [];
  for (const e of timeline) {
    const key = `${e.at}\u0000${e.by}\u0000${e.action}\u0000${e.detail ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    fresh.push(e);
  }
  return fresh;
}

function rendererFor(jsonMode: boolean): Renderer {
  if (!jsonMode && process.stdout.isTTY && process.stderr.isTTY) return barRenderer();
  // With --json, stdout carries only the JSON document; progress goes to stderr.
  return lineRenderer(jsonMode ? err : out);
}

/**
 * The innermost message of a failure chain: a failed activity's own reason rather than "Activity task failed".
 */
export function rootMessage(e: Error): string {
  let cur: Error = e;
  while (cur.cause instanceof Error) cur = cur.cause;
  return cur.message || e.message;
}

/** The exit code and one-line reason of a release that failed instead of returning a result. */
export function failureEnding(e: unknown): CliError {
  if (e instanceof WorkflowFailedError) {
    const cause = e.cause;
    if (cause instanceof ApplicationFailure && cause.type === 'InvalidRelease') {
      return new CliError(ExitCode.invalid, `invalid release, nothing was changed: ${rootMessage(cause)}`);
    }
    if (cause instanceof CancelledFailure)
      return new CliError(ExitCode.aborted, 'aborted: the workflow was cancelled; traffic is back on the previous version');
    if (cause instanceof TerminatedFailure) {
      return new CliError(ExitCode.error, `terminated: ${cause.message}; the workflow was killed without a rollback, check the listener by hand`);
    }
    if (cause instanceof TimeoutFailure) return new CliError(ExitCode.error, `timed out: ${cause.message}`);
    return new CliError(ExitCode.error, `release failed: ${cause ? rootMessage(cause) : e.message}`);
  }
  return new CliError(ExitCode.error, (e as Error).message);
}

/** How long the status query may go unanswered before `follow` says why the view is not moving. */
const SILENT_HINT_MS = 20_000;

/** Polls the status query every second and renders it until the release ends; resolves with how it ended. */
async function follow(handle: ReleaseHandle, renderer: Renderer, taskQueue: string): Promise<Ending> {
  let ending: Ending | undefined;
  const ended = handle.result().then(
    (result) => void (ending = { result }),
    (e: unknown) => void (ending = { failure: failureEnding(e) }),
  );
  const onInterrupt = (): void => {
    renderer.stop();
    err(`stopped following ${handle.workflowId}; the release goes on (canary watch ${handle.workflowId})`);
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  let silentSince: number | undefined;
  let hinted = false;
  try {
    for (;;) {
      const status = await queryStatus(handle, 10_000).catch((e: unknown) => {
        if (e instanceof WorkflowNotFoundError) throw e;
        return undefined;
      });
      if (status) {
        renderer.update(status);
        silentSince = undefined;
      } else if (!ending) {
        silentSince ??= Date.now();
        if (!hinted && Date.now() - silentSince >= SILENT_HINT_MS) {
          // Queries (and the release itself) need a worker: the usual cause is none on this task queue.
          renderer.note(
            `no answer from ${handle.workflowId} for ${SILENT_HINT_MS / 1000}s: is a canary worker polling task queue ${taskQueue}? Still waiting.`,
          );
          hinted = true;
        }
      }
      if (ending) break;
      await Promise.race([ended, new Promise((r) => setTimeout(r, POLL_MS))]);
      if (ending && !status) break;
    }
    // One last look so the final phase and timeline entries are shown (a closed release answers while a worker runs).
    const final = await queryStatus(handle, 5_000).catch(() => undefined);
    if (final) renderer.update(final);
  } finally {
    process.removeListener('SIGINT', onInterrupt);
    renderer.stop();
  }
  return ending as Ending;
}

function endingExit(e: Ending): number {
  return 'result' in e ? exitCodeFor(e.result) : e.failure.exitCode;
}

// ---- commands ----

interface StartOpts {
  spec: string;
  version?: string;
  targets?: string;
  by?: string;
  wait?: boolean;
  json?: boolean;
}

function readSpecFile(file: string): unknown {
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

async function startCommand(opts: StartOpts, flags: GlobalOpts): Promise<number> {
  const raw = readSpecFile(opts.spec);
  const targets: Target[] | undefined = opts.targets !== undefined ? parseTargets(opts.targets) : undefined;
  const specInitiator = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>).initiator : undefined;
  const login = actor(undefined);
  const initiator = opts.by?.trim() || (specInitiator === undefined && login && SPEC_NAME.test(login) ? login : undefined);
  const startOpts = { version: opts.version, targets, initiator };
  // Validate before connecting: a bad spec fails the same way with or without a server, and starts nothing.
  const spec = prepareSpec(raw, startOpts);

  return withSession(flags, async (s) => {
    const handle = await startRelease(s.client, raw, { ...startOpts, taskQueue: s.conn.taskQueue });
    const runId = handle.firstExecutionRunId;
    const uiUrl = link(s, handle.workflowId, runId);
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
    const ending = await follow(releaseHandle(s.client, handle.workflowId, runId), rendererFor(!!opts.json), s.conn.taskQueue);
    report(ending, opts.json ? { workflowId: handle.workflowId, runId, uiUrl: uiUrl ?? null } : undefined);
    return endingExit(ending);
  });
}

/** Prints how a release ended: the result line, or JSON with the result when `base` is given. */
function report(ending: Ending, base?: Record<string, unknown>): void {
  if (base) {
    // stdout carries the JSON; the one-line reason goes to stderr for the humans reading the CI log.
    if ('result' in ending) {
      json({ ...base, result: ending.result });
      err(formatResult(ending.result));
    } else {
      json({ ...base, result: null, error: ending.failure.message });
      err(ending.failure.message);
    }
    return;
  }
  if ('result' in ending) out(formatResult(ending.result));
  else err(ending.failure.message);
}

async function watchCommand(id: string, opts: { json?: boolean }, flags: GlobalOpts): Promise<number> {
  return withSession(flags, async (s) => {
    const handle = releaseHandle(s.client, id);
    const d = await describe(s, handle);
    if (!opts.json) {
      const uiUrl = link(s, d.workflowId, d.runId);
      out(`watching ${d.workflowId} (run ${d.runId})${uiUrl ? `  ${uiUrl}` : ''}`);
    }
    const ending = await follow(releaseHandle(s.client, d.workflowId, d.runId), rendererFor(!!opts.json), d.taskQueue);
    report(ending, opts.json ? { workflowId: d.workflowId, runId: d.runId, uiUrl: link(s, d.workflowId, d.runId) ?? null } : undefined);
    return endingExit(ending);
  });
}

async function statusCommand(id: string, opts: { json?: boolean }, flags: GlobalOpts): Promise<number> {
  return withSession(flags, async (s) => {
    const handle = releaseHandle(s.client, id);
    const d = await describe(s, handle);
    const run = releaseHandle(s.client, d.workflowId, d.runId);
    const uiUrl = link(s, d.workflowId, d.runId);
    const execution = d.status.name;
    let status: ReleaseStatus | undefined;
    let queryError: string | undefined;
    try {
      status = await queryStatus(run);
    } catch (e) {
      queryError = (e as Error).message;
    }
    if (status) {
      // A run that failed (invalid release) or was terminated has no result in its status: say why it ended.
      const failure =
        execution !== 'RUNNING' && !status.result
          ? await run.result().then(
              () => undefined,
              (e: unknown) => failureEnding(e).message,
            )
          : undefined;
      if (opts.json) {
        json({
          workflowId: d.workflowId,
          runId: d.runId,
          execution,
          uiUrl: uiUrl ?? null,
          source: 'query',
          phase: status.phase,
          status,
          result: status.result ?? null,
          failure: failure ?? null,
        });
      } else out(formatStatus(status, { now: new Date(), uiUrl, execution, failure }));
      return ExitCode.ok;
    }
    const fallback = await fallbackStatus(run, d, queryError ?? 'no answer');
    if (opts.json) json({ ...fallback, uiUrl: uiUrl ?? null, source: 'describe', status: null, result: fallback.result ?? null });
    else out(formatFallbackStatus(fallback, { uiUrl }));
    return ExitCode.ok;
  });
}

/** What describe() and, for a closed run, result() tell without a worker. */
async function fallbackStatus(run: ReleaseHandle, d: WorkflowExecutionDescription, queryError: string): Promise<FallbackStatus> {
  const sa = d.typedSearchAttributes;
  const s: FallbackStatus = {
    workflowId: d.workflowId,
    runId: d.runId,
    execution: d.status.name,
    service: sa.get(ReleaseService),
    version: sa.get(ReleaseVersion),
    phase: sa.get(ReleasePhase),
    canaryWeight: sa.get(CanaryWeight),
    startTime: d.startTime.toISOString(),
    closeTime: d.closeTime?.toISOString(),
    queryError,
  };
  if (d.status.name !== 'RUNNING') {
    try {
      s.result = await run.result();
    } catch (e) {
      s.failure = failureEnding(e).message;
    }
  }
  return s;
}

async function historyCommand(id: string, opts: { json?: boolean }, flags: GlobalOpts): Promise<number> {
  return withSession(flags, async (s) => {
    const handle = releaseHandle(s.client, id);
    const d = await describe(s, handle);
    let status: ReleaseStatus;
    try {
      status = await queryStatus(releaseHandle(s.client, d.workflowId, d.runId));
    } catch (e) {
      throw new CliError(
        ExitCode.error,
        `cannot read the timeline of ${d.workflowId}: ${(e as Error).message}; it comes from the status query, which needs a worker on the release's task queue (or see the event history in the Temporal UI)`,
      );
    }
    if (opts.json) json({ workflowId: d.workflowId, runId: d.runId, phase: status.phase, timeline: historyJson(status.timeline) });
    else out(formatHistory(status.timeline));
    return ExitCode.ok;
  });
}

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

async function listCommand(opts: { service?: string; running?: boolean; limit: number; json?: boolean }, flags: GlobalOpts): Promise<number> {
  const query = listQuery(opts);
  return withSession(flags, async (s) => {
    const rows: ListRow[] = [];
    for await (const w of s.client.workflow.list({ query, pageSize: Math.min(opts.limit, 100) })) {
      const sa = w.typedSearchAttributes;
      rows.push({
        workflowId: w.workflowId,
        runId: w.runId,
        service: sa.get(ReleaseService),
        version: sa.get(ReleaseVersion),
        phase: sa.get(ReleasePhase),
        canaryWeight: sa.get(CanaryWeight),
        startTime: w.startTime.toISOString(),
        closeTime: w.closeTime?.toISOString(),
        status: w.status.name,
      });
      if (rows.length >= opts.limit) break;
    }
    if (opts.json) json(rows.map((r) => ({ ...r, uiUrl: link(s, r.workflowId, r.runId) ?? null })));
    else out(formatList(rows));
    return ExitCode.ok;
  });
}

type Verb = keyof typeof actions;

interface ActionOpts {
  by?: string;
  comment?: string;
  reason?: string;
  step?: number;
  full?: boolean;
  json?: boolean;
}

function payloadFor(verb: Verb, by: string, o: ActionOpts): Record<string, unknown> {
  const p: Record<string, unknown> = { by };
  if (verb === 'approve' || verb === 'resume' || verb === 'promote') if (o.comment !== undefined) p.comment = o.comment;
  if (verb === 'abort' || verb === 'pause') if (o.reason !== undefined) p.reason = o.reason;
  if (verb === 'approve' && o.step !== undefined) p.step = o.step;
  if (verb === 'promote') p.full = !!o.full;
  return p;
}

async function actionCommand(verb: Verb, id: string, o: ActionOpts, flags: GlobalOpts): Promise<number> {
  const by = actor(o.by);
  if (!by) throw new CliError(ExitCode.invalid, 'say who you are: --by NAME, or set CANARY_USER');
  const payload = payloadFor(verb, by, o);
  return withSession(flags, async (s) => {
    const handle = releaseHandle(s.client, id);
    const send = actions[verb] as (c: Client, id: string, p: unknown) => ReturnType<(typeof actions)['approve']>;
    // An update needs a worker to validate it and waits for one; say so instead of hanging silently.
    const hint = setTimeout(
      () => err(`no worker has taken the ${verb} yet: is a canary worker polling the release's task queue? Still waiting (Ctrl-C gives up).`),
      SILENT_HINT_MS,
    );
    let ack;
    try {
      ack = await send(s.client, handle.workflowId, payload);
    } catch (e) {
      if (!(e instanceof WorkflowNotFoundError)) throw e;
      // An update to a finished release is "not found" too: say which it is.
      const d = await describe(s, handle);
      const phase = d.typedSearchAttributes.get(ReleasePhase);
      throw new MessageRejectedError(verb, `${d.workflowId} has finished (${d.status.name.toLowerCase()}${phase ? `, ${phase}` : ''})`);
    } finally {
      clearTimeout(hint);
    }
    if (o.json) json({ workflowId: handle.workflowId, verb, payload, ...ack });
    else out(`${verb}: ${ack.message} (${handle.workflowId}: ${ack.phase}, step #${ack.step})`);
    return ExitCode.ok;
  });
}

// ---- program ----

/** The commander program; `main` runs it. Exported for tests of the argument surface. */
export function buildProgram(done: (code: number) => void): Command {
  const program = new Command('canary')
    .description('Durable canary releases behind an AWS Application Load Balancer, orchestrated by Temporal.')
    .version('0.1.0', '-V, --cli-version', 'print the version of the canary CLI')
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
      'Exit codes: 0 ok / promoted, 1 rolled back, 2 invalid input or conflict (nothing started), 3 aborted,',
      '            4 action rejected by the release, 5 connection or other error.',
      'Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE,',
      '             TEMPORAL_CONFIG_FILE, CANARY_TASK_QUEUE, CANARY_UI_URL, CANARY_USER. See docs/CLI.md.',
    ].join('\n'),
  );

  const g = (cmd: Command): GlobalOpts => cmd.optsWithGlobals<GlobalOpts>();
  const run =
    <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
    async (...args: A): Promise<void> =>
      done(await fn(...args));

  program
    .command('start')
    .description('validate a spec and start its release; with --wait, follow it to the end')
    .requiredOption('--spec <file>', 'release spec, YAML or JSON')
    .option('--version <v>', "the version being released (overrides the spec's version)")
    .option('--targets <id:port,...>', "the new version's compute (overrides environment.canaryTargets)")
    .option('--by <name>', 'initiator (default: the spec, else $CANARY_USER, else $USER)')
    .option('--wait', 'follow the release and exit 0 promoted / 1 rolled back / 3 aborted')
    .option('--json', 'print JSON: {workflowId, runId, uiUrl} (and result with --wait)')
    .action(run((opts: StartOpts, cmd: Command) => startCommand(opts, g(cmd))));

  program
    .command('status')
    .argument('<release>', 'release id (release-SERVICE) or service name')
    .description('one snapshot: phase, step, weights, analysis, open gate, rollback plan, result')
    .option('--json', 'print the full status as JSON')
    .action(run((id: string, opts: { json?: boolean }, cmd: Command) => statusCommand(id, opts, g(cmd))));

  program
    .command('watch')
    .argument('<release>', 'release id (release-SERVICE) or service name')
    .description('follow a release live until it ends; exit code like start --wait')
    .option('--json', 'print the result as JSON at the end (progress goes to stderr)')
    .action(run((id: string, opts: { json?: boolean }, cmd: Command) => watchCommand(id, opts, g(cmd))));

  program
    .command('list')
    .description('releases from Temporal visibility, newest first')
    .option('--service <name>', 'only this service')
    .option('--running', 'only running releases')
    .option('--limit <n>', 'at most this many', integer('--limit'), 20)
    .option('--json', 'print JSON')
    .action(run((opts: { service?: string; running?: boolean; limit: number; json?: boolean }, cmd: Command) => listCommand(opts, g(cmd))));

  program
    .command('history')
    .argument('<release>', 'release id (release-SERVICE) or service name')
    .description('the timeline: who approved, paused, aborted, when and why; ignored signals marked')
    .option('--json', 'print JSON')
    .action(run((id: string, opts: { json?: boolean }, cmd: Command) => historyCommand(id, opts, g(cmd))));

  const verbs: { verb: Verb; description: string; extra: (c: Command) => Command }[] = [
    {
      verb: 'approve',
      description: 'approve the open approval gate (also ends a pause or an inconclusive analysis)',
      extra: (c) =>
        c.option('--comment <text>', 'why').option('--step <n>', 'the 0-based index of the gate you approve (refused when stale)', integer('--step')),
    },
    {
      verb: 'abort',
      description: 'stop the release and roll back',
      extra: (c) => c.requiredOption('--reason <text>', 'why (recorded in the timeline and the result)'),
    },
    { verb: 'pause', description: 'hold the release before its next step', extra: (c) => c.option('--reason <text>', 'why') },
    { verb: 'resume', description: 'continue after a pause (manual, indefinite, or inconclusive analysis)', extra: (c) => c.option('--comment <text>', 'why') },
    {
      verb: 'promote',
      description: 'end the current pause or gate; with --full skip every remaining step and go to 100%',
      extra: (c) => c.option('--full', 'skip the remaining steps and analysis').option('--comment <text>', 'why'),
    },
  ];
  for (const { verb, description, extra } of verbs) {
    extra(
      program
        .command(verb)
        .argument('<release>', 'release id (release-SERVICE) or service name')
        .description(description)
        .option('--by <name>', 'who you are (default: $CANARY_USER, else $USER)'),
    )
      .option('--json', 'print the acknowledgement as JSON')
      .action(run((id: string, opts: ActionOpts, cmd: Command) => actionCommand(verb, id, opts, g(cmd))));
  }
  return program;
}

/** Maps any error to its message and exit code (docs/CLI.md). */
export function errorExit(e: unknown): { code: number; lines: string[] } {
  if (e instanceof CliError) return { code: e.exitCode, lines: [e.message, ...e.details] };
  if (e instanceof SpecValidationError) return { code: ExitCode.invalid, lines: ['invalid release spec, nothing was started:', ...formatSpecErrors(e.errors)] };
  if (e instanceof ReleaseAlreadyRunningError) return { code: ExitCode.invalid, lines: [e.message] };
  if (e instanceof MessageRejectedError) return { code: ExitCode.rejected, lines: [`rejected: ${e.reason}`] };
  if (e instanceof ConnectionConfigError) return { code: ExitCode.error, lines: [e.message] };
  return { code: ExitCode.error, lines: [`error: ${(e as Error)?.message ?? String(e)}`] };
}

/** Runs the CLI; resolves with the exit code (never throws). */
export async function main(argv: string[] = process.argv): Promise<number> {
  let code: number = ExitCode.ok;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv);
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; usage errors were printed by commander.
      return e.exitCode === 0 ? ExitCode.ok : ExitCode.invalid;
    }
    const { code: c, lines } = errorExit(e);
    for (const l of lines) err(l);
    return c;
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
