/**
 * The worker's logs. CANARY_LOG_FORMAT=json: every line the worker writes is one JSON object, for log collectors:
 * the SDK's and SDK Core's logs, workflow code's (`log` of @temporalio/workflow) and activities' (their context's
 * `log`), the worker's own lines (startup, warnings, stop), and what libraries print (console, process warnings).
 * Each names the release where it is known: `releaseId`, `run`, `step` and `phase`.
 */
import { DefaultLogger, type LogEntry, type Logger, type LogLevel, type ActivityInterceptorsFactory } from '@temporalio/worker';
import { defaultPayloadConverter } from '@temporalio/common';
import { RELEASE_LOG_HEADER } from '../common/constants';

export type LogFormat = 'text' | 'json';

/** The release fields of a line, taken from the metadata the SDK, workflow code and activities attach. */
const RELEASE_FIELDS = ['releaseId', 'run', 'step', 'phase'] as const;

/** One log entry as one line of JSON (no newline inside: errors, bigints and cycles are flattened). */
export function jsonLine(entry: { level: LogLevel; message: string; meta?: Record<string, unknown>; timestampNanos?: bigint }): string {
  const meta: Record<string, unknown> = { ...(entry.meta ?? {}) };
  const take = (key: string): unknown => {
    const v = meta[key];
    delete meta[key];
    return v;
  };
  const component = take('sdkComponent');
  const release: Record<string, unknown> = {
    // Workflow code names the release; the SDK names the workflow (release-<service>) and its run.
    releaseId: take('releaseId') ?? meta.workflowId,
    run: take('run') ?? take('runId') ?? take('workflowRunId'),
    step: take('step'),
    phase: take('phase'),
  };
  const ms = entry.timestampNanos !== undefined ? Number(entry.timestampNanos / 1_000_000n) : Date.now();
  const line: Record<string, unknown> = { time: new Date(ms).toISOString(), level: entry.level, message: entry.message };
  if (component !== undefined) line.component = component;
  for (const key of RELEASE_FIELDS) if (release[key] !== undefined) line[key] = release[key];
  for (const [k, v] of Object.entries(meta)) if (v !== undefined && !(k in line)) line[k] = v;
  const seen = new WeakSet<object>();
  return JSON.stringify(line, (_key, value: unknown) => {
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof Error) return { name: value.name, message: value.message, ...(value.stack ? { stack: value.stack } : {}) };
    if (typeof value === 'object' && value !== null) {
      if (seen.has(value)) return '[circular]';
      seen.add(value);
    }
    return value;
  });
}

/** The Runtime's logger: the SDK's text lines on stderr, or one JSON object per line there. */
export function workerLogger(level: LogLevel, format: LogFormat, write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  if (format === 'text') return new DefaultLogger(level);
  return new DefaultLogger(level, (entry: LogEntry) => write(`${jsonLine(entry)}\n`));
}

/**
 * In JSON mode, what libraries print on their own (the AWS SDK's console warnings, Node's process warnings) goes
 * through the logger too, so that no line of the process is plain text.
 */
export function routeStrayOutput(logger: Logger): void {
  const text = (args: unknown[]): string => args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? a.message : JSON.stringify(a))).join(' ');
  console.log = (...args: unknown[]) => logger.info(text(args), { source: 'console' });
  console.info = (...args: unknown[]) => logger.info(text(args), { source: 'console' });
  console.debug = (...args: unknown[]) => logger.debug(text(args), { source: 'console' });
  console.warn = (...args: unknown[]) => logger.warn(text(args), { source: 'console' });
  console.error = (...args: unknown[]) => logger.error(text(args), { source: 'console' });
  // Node prints warnings through a listener of its own: replaced, not added to.
  process.removeAllListeners('warning');
  process.on('warning', (w: Error) => logger.warn(w.message, { source: 'process', warning: w.name }));
}

/** A line of the worker itself (startup, stop, a failure to start): as text, or as a JSON object in JSON mode. */
export function workerLine(format: LogFormat, level: LogLevel, message: string, fields: Record<string, unknown> = {}): string {
  return format === 'json' ? jsonLine({ level, message, meta: { sdkComponent: 'worker', ...fields } }) : message;
}

/**
 * Activities' log lines name the release, step and phase that workflow code put in the activity's
 * {@link RELEASE_LOG_HEADER} header (an object with any of `releaseId`, `step`, `phase`); without the header,
 * the SDK's workflow id and run id still name the release.
 */
export const releaseLogContext: ActivityInterceptorsFactory = () => {
  let fields: Record<string, unknown> = {};
  return {
    inbound: {
      async execute(input, next) {
        const payload = input.headers[RELEASE_LOG_HEADER];
        if (payload) {
          try {
            const value = defaultPayloadConverter.fromPayload<unknown>(payload);
            if (value && typeof value === 'object')
              fields = Object.fromEntries(Object.entries(value).filter(([k]) => k === 'releaseId' || k === 'step' || k === 'phase'));
          } catch {
            fields = {};
          }
        }
        return next(input);
      },
    },
    outbound: {
      getLogAttributes(input, next) {
        return next({ ...input, ...fields });
      },
    },
  };
};
