/**
 * The worker's configuration, read once from the environment at start.
 *
 * The Temporal connection follows the SDK's environment-configuration conventions (TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE) and is loaded by
 * @temporalio/envconfig in client/temporal-config.ts, the loader the CLI uses too, so a worker, the `temporal` CLI and
 * the canary client read one profile the same way.
 * AWS comes from the conventional AWS_* variables (activities/aws-clients.ts), credentials from the AWS SDK's default
 * chain. The rest are CANARY_* variables. Every variable is documented once, in docs/running-for-real.md#variables
 * (test/unit/worker-variables.test.ts holds the table, WORKER_ENV_VARS and the reading code together).
 */
import * as fs from 'node:fs';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { z } from 'zod';
import { awsConfigFromEnv, describeCredentialSource, staticSessionWarning, type AwsConfig } from '../activities/aws-clients';
import { notifyLinksFromEnv, webhooksFromEnv, type NotifyLinks } from '../activities/notify';
import { hooksFromEnv, type HookConfig } from '../activities/hooks';
import { sourceSettingsFromEnv, SOURCE_VARIABLES, type SourceSettings } from '../activities/sources/settings';
import { loadTemporalConfig, TEMPORAL_ENV_VARS, TemporalConfigError } from '../client/temporal-config';
import { DEFAULT_TASK_QUEUE } from '../common/constants';
import { ApproverKeys, fieldErrors } from '../common/spec';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from '../common/duration';

/** Where Prometheus scrapes the worker unless CANARY_METRICS_ADDRESS says otherwise. */
export const DEFAULT_METRICS_ADDRESS = '0.0.0.0:9464';

/**
 * Extra time after CANARY_SHUTDOWN_GRACE before the worker gives up on activities that ignore cancellation and
 * fails, rather than hanging until the orchestrator kills it without a word. Deployment stop timeouts must exceed
 * the grace time plus this.
 */
export const FORCE_AFTER_GRACE_MS = 10_000;

/** Variables awsConfigFromEnv reads. */
export const AWS_ENV_VARS = ['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_ENDPOINT_URL', 'AWS_MAX_ATTEMPTS'] as const;

/**
 * The credential variables of the AWS SDK's default chain that the worker reads too, to name its credential source
 * (describeCredentialSource) and warn about session keys that cannot be refreshed (staticSessionWarning).
 */
export const AWS_CREDENTIAL_ENV_VARS = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_CREDENTIAL_EXPIRATION',
  'AWS_PROFILE',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_ROLE_ARN',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_EC2_METADATA_DISABLED',
] as const;

/** Where notifications go and link to (activities/notify.ts); `CANARY_WEBHOOK_<NAME>` stands for every webhook's variable. */
export const NOTIFY_ENV_VARS = ['CANARY_WEBHOOK_<NAME>', 'CANARY_UI_URL', 'CANARY_REPORT_URL'] as const;

/** Each hook a spec may name (activities/hooks.ts): its URL, secret, per-request timeout, and the link-local opt-in. */
export const HOOK_ENV_VARS = ['CANARY_HOOK_<NAME>', 'CANARY_HOOK_<NAME>_SECRET', 'CANARY_HOOK_<NAME>_TIMEOUT', 'CANARY_HOOK_<NAME>_ALLOW_LINK_LOCAL'] as const;

/** Each Prometheus server and web endpoint a metric may name (activities/sources/settings.ts): URL, credentials, timeout. */
export const SOURCE_ENV_VARS = [
  ...SOURCE_VARIABLES.prometheus.suffixes.map((s) => `${SOURCE_VARIABLES.prometheus.prefix}<NAME>_${s}`),
  ...SOURCE_VARIABLES.web.suffixes.map((s) => `${SOURCE_VARIABLES.web.prefix}<NAME>_${s}`),
] as const;

/** Variables of the worker itself. */
export const CANARY_ENV_VARS = [
  'CANARY_TASK_QUEUE',
  'CANARY_METRICS_ADDRESS',
  'CANARY_SHUTDOWN_GRACE',
  'CANARY_MAX_CONCURRENT_ACTIVITIES',
  'CANARY_MAX_CONCURRENT_WORKFLOW_TASKS',
  'CANARY_MAX_CACHED_WORKFLOWS',
  'CANARY_WORKFLOW_BUNDLE',
  'CANARY_LOG_LEVEL',
  'CANARY_LOG_FORMAT',
  'CANARY_STICKY_QUEUE_TIMEOUT',
  'CANARY_ELB_DESCRIBE_RATE',
  'CANARY_APPROVER_KEYS',
  'CANARY_OWNERSHIP_TAGS',
  'CANARY_TIME_SCALE',
] as const;

/** Every environment variable the worker reads, for deployment files, the docs and their tests (see {@link isWorkerEnvVar}). */
export const WORKER_ENV_VARS: readonly string[] = [
  ...TEMPORAL_ENV_VARS,
  ...AWS_ENV_VARS,
  ...AWS_CREDENTIAL_ENV_VARS,
  ...CANARY_ENV_VARS,
  ...NOTIFY_ENV_VARS,
  ...HOOK_ENV_VARS,
  ...SOURCE_ENV_VARS,
];

/** Whether the worker reads `name`: one of {@link WORKER_ENV_VARS}, a `<NAME>` in it standing for any name. */
export function isWorkerEnvVar(name: string): boolean {
  return WORKER_ENV_VARS.some((v) => v === name || (v.includes('<NAME>') && new RegExp(`^${v.replace('<NAME>', '[A-Z0-9_]+')}$`).test(name)));
}

const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
const LOG_FORMATS = ['text', 'json'] as const;

// A bind address, not a URL: the Prometheus exporter takes `host:port` (IPv6 in brackets).
const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/;
function isHostPort(text: string): boolean {
  const m = HOST_PORT.exec(text);
  return !!m && Number(m[2]) >= 1 && Number(m[2]) <= 65_535;
}

/**
 * The CANARY_* variables, keyed by variable name so that every issue's path names the variable to fix.
 * Blank values count as unset (a compose file's `${X:-}` passes an empty string), except
 * CANARY_METRICS_ADDRESS, where an empty string turns metrics off.
 */
export const CanaryEnvSchema = z
  .object({
    CANARY_TASK_QUEUE: z.string().regex(/^\S+$/, 'expected a task queue name without spaces').default(DEFAULT_TASK_QUEUE),
    CANARY_METRICS_ADDRESS: z
      .string()
      .refine((s) => s === '' || isHostPort(s), 'expected a bind address host:port such as 0.0.0.0:9464, or empty to turn metrics off')
      .default(DEFAULT_METRICS_ADDRESS),
    CANARY_SHUTDOWN_GRACE: z
      .string()
      .default('60s')
      .transform((text, ctx) => {
        const ms = parseDuration(text);
        if (ms === undefined || ms <= 0) {
          ctx.addIssue({ code: 'custom', message: 'expected a positive duration such as 30s, 2m or 1h' });
          return z.NEVER;
        }
        return ms;
      }),
    CANARY_MAX_CONCURRENT_ACTIVITIES: z.coerce
      .number({ error: 'expected a whole number' })
      .int('expected a whole number')
      .min(1, 'expected at least 1')
      .max(10_000, 'expected at most 10000')
      .default(100),
    // Unset: the SDK's defaults (40 workflow task slots; a sticky cache sized from the process's memory).
    CANARY_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce
      .number({ error: 'expected a whole number' })
      .int('expected a whole number')
      .min(2, 'expected at least 2 (one poller for the sticky queue, one for the task queue)')
      .max(10_000, 'expected at most 10000')
      .optional(),
    CANARY_MAX_CACHED_WORKFLOWS: z.coerce
      .number({ error: 'expected a whole number' })
      .int('expected a whole number')
      .min(0, 'expected 0 (no sticky cache) or more')
      .max(100_000, 'expected at most 100000')
      .optional(),
    CANARY_WORKFLOW_BUNDLE: z
      .string()
      .refine((p) => fs.existsSync(p), 'no file at this path (build one with `ts-node worker/build-bundle.ts`)')
      .optional(),
    CANARY_LOG_LEVEL: z
      .string()
      .default('INFO')
      .transform((s) => s.toUpperCase())
      .pipe(z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` })),
    // json: one JSON object per line (worker/log.ts), for log collectors.
    CANARY_LOG_FORMAT: z
      .string()
      .default('text')
      .transform((s) => s.toLowerCase())
      .pipe(z.enum(LOG_FORMATS, { error: `expected one of ${LOG_FORMATS.join(', ')}` })),
    // The SDK's default; shorter means a replacement worker gets a crashed worker's workflow tasks sooner.
    CANARY_STICKY_QUEUE_TIMEOUT: z
      .string()
      .default('10s')
      .transform((text, ctx) => {
        const ms = parseDuration(text);
        if (ms === undefined || ms <= 0) {
          ctx.addIssue({ code: 'custom', message: 'expected a positive duration such as 1s or 10s' });
          return z.NEVER;
        }
        return ms;
      }),
    // ELB refills an account's Describe budget at 10 per second for every tool in it; the worker keeps to 8.
    CANARY_ELB_DESCRIBE_RATE: z.coerce
      .number({ error: 'expected a number of calls per second' })
      .min(0, 'expected 0 (not paced) or more calls per second')
      .max(1000, 'expected at most 1000 calls per second')
      .default(8),
    // A file (YAML or JSON) or inline JSON: approver name → ssh-ed25519 key or list of keys, as a spec's approverKeys.
    // Comma-separated `key` or `key=value`: a target group with such a tag belongs to infrastructure code (not deleted).
    CANARY_OWNERSHIP_TAGS: z
      .string()
      .transform((text, ctx) => {
        const entries = text
          .split(',')
          .map((e) => e.trim())
          .filter(Boolean);
        const bad = entries.find((e) => !/^[^=\s][^=]{0,127}(=.{0,256})?$/.test(e));
        if (bad !== undefined) {
          ctx.addIssue({ code: 'custom', message: `"${bad}" is not a tag key or key=value (comma-separated, e.g. ManagedBy=terraform,owner)` });
          return z.NEVER;
        }
        return entries;
      })
      .default([]),
    // Only the local stack compresses AWS's time (dev/stack.ts); against AWS leave it unset.
    CANARY_TIME_SCALE: z.coerce
      .number({ error: 'expected AWS seconds per real second, e.g. 60 for the local stack' })
      .positive('expected a number above 0')
      .max(3600, 'expected at most 3600')
      .default(1),
    CANARY_APPROVER_KEYS: z
      .string()
      .transform((text, ctx) => {
        const parsed = readApproverKeys(text);
        if ('problem' in parsed) {
          ctx.addIssue({ code: 'custom', message: parsed.problem });
          return z.NEVER;
        }
        return parsed.keys;
      })
      .optional(),
  })
  .transform((v) => ({
    taskQueue: v.CANARY_TASK_QUEUE,
    /** Undefined when metrics are off. */
    metricsAddress: v.CANARY_METRICS_ADDRESS || undefined,
    /** How long in-flight activities (a rollback, say) may run on after a shutdown signal. */
    shutdownGraceMs: v.CANARY_SHUTDOWN_GRACE,
    maxConcurrentActivities: v.CANARY_MAX_CONCURRENT_ACTIVITIES,
    /** Workflow tasks this worker runs at once; undefined: the SDK's default. */
    maxConcurrentWorkflowTasks: v.CANARY_MAX_CONCURRENT_WORKFLOW_TASKS,
    /**
     * Workflows kept in memory between their tasks (the sticky cache), so a release's next task does not replay its
     * history; 0 turns caching off. Undefined: the SDK's default.
     */
    maxCachedWorkflows: v.CANARY_MAX_CACHED_WORKFLOWS,
    /** An explicit prebuilt workflow bundle; see worker/main.ts for the fallbacks. */
    workflowBundle: v.CANARY_WORKFLOW_BUNDLE,
    logLevel: v.CANARY_LOG_LEVEL,
    /** `json`: every line the worker writes is one JSON object (worker/log.ts); `text`: the SDK's lines. */
    logFormat: v.CANARY_LOG_FORMAT,
    /**
     * How long a workflow task waits on this worker's sticky queue before the server hands it to any worker of
     * the task queue: after a crash, the delay before a replacement worker continues the crashed worker's releases.
     */
    stickyQueueTimeoutMs: v.CANARY_STICKY_QUEUE_TIMEOUT,
    /** ELB Describe calls per second per account and region this worker allows itself; 0: not paced. */
    elbDescribeRate: v.CANARY_ELB_DESCRIBE_RATE,
    /**
     * Approver name → public keys, held by the worker: every release it runs is in signed mode with these keys, and a
     * spec cannot add or replace any (docs/APPROVALS.md). Undefined: releases use their spec's approverKeys.
     */
    approverKeys: v.CANARY_APPROVER_KEYS,
    /** Tags (`key` or `key=value`) that mark a target group as owned by infrastructure code, besides aws:cloudformation:stack-name. */
    ownershipTags: v.CANARY_OWNERSHIP_TAGS,
    /** AWS seconds per real second of the AWS endpoint: 1 against AWS; the local stack's compressed time. */
    timeScale: v.CANARY_TIME_SCALE,
  }));

/** CANARY_APPROVER_KEYS: inline JSON (`{"alice": "ssh-ed25519 ..."}`) or the path of a YAML / JSON file of the same. */
function readApproverKeys(text: string): { keys: Record<string, string[]> } | { problem: string } {
  let source: unknown;
  try {
    source = parseYaml(text.startsWith('{') ? text : fs.readFileSync(text, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return {
      problem: e.code === 'ENOENT' ? 'no file at this path (a YAML or JSON file of approver name: key, or inline JSON)' : `not YAML or JSON: ${e.message}`,
    };
  }
  const keys = ApproverKeys.safeParse(source);
  if (keys.success) return { keys: keys.data };
  return {
    problem: fieldErrors(keys.error)
      .map((e) => (e.field ? `${e.field}: ${e.message}` : e.message))
      .join('; '),
  };
}

/** The worker's own settings (from CANARY_* variables). */
export type CanarySettings = z.output<typeof CanaryEnvSchema>;

/** How the worker reaches Temporal. */
export interface TemporalSettings {
  /** For NativeConnection.connect: address, TLS, API key, gRPC metadata as @temporalio/envconfig built them. */
  connection: NativeConnectionOptions;
  /** The server address, for the startup line and error messages. */
  address: string;
  namespace: string;
}

/** Where the worker's AWS credentials come from (the SDK's default chain), in words, and a warning when they cannot be refreshed. */
export interface CredentialSettings {
  source: string;
  warning?: string;
}

/** Everything the worker process needs, validated. */
export interface WorkerConfig extends CanarySettings {
  temporal: TemporalSettings;
  aws: AwsConfig;
  credentials: CredentialSettings;
  /** Webhook name → URL (CANARY_WEBHOOK_<NAME>). */
  webhooks: Record<string, string>;
  /** Where notifications link to (CANARY_UI_URL, CANARY_REPORT_URL). */
  notifyLinks: NotifyLinks;
  /** Hook name → URL, secret and limits (CANARY_HOOK_<NAME>); a hook that cannot be used carries its problem. */
  hooks: HookConfig;
  /** The metric sources' Prometheus servers and web endpoints (CANARY_PROMETHEUS_<NAME>_*, CANARY_SOURCE_<NAME>_*). */
  sources: SourceSettings;
}

/**
 * Reads and validates the worker's configuration.
 *
 * @throws Error whose message names the variable (or profile/config file) to fix and what was expected.
 */
export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  return {
    ...loadCanarySettings(env),
    temporal: loadTemporalSettings(env),
    aws: loadAwsSettings(env),
    credentials: { source: describeCredentialSource(env), warning: staticSessionWarning(env) },
    webhooks: webhooksFromEnv(env),
    notifyLinks: notifyLinksFromEnv(env),
    hooks: hooksFromEnv(env),
    sources: sourceSettingsFromEnv(env),
  };
}

function loadCanarySettings(env: NodeJS.ProcessEnv): CanarySettings {
  const raw: Record<string, string | undefined> = {};
  for (const name of CANARY_ENV_VARS) {
    const value = env[name];
    raw[name] = name === 'CANARY_METRICS_ADDRESS' ? value?.trim() : value?.trim() || undefined;
  }
  const parsed = CanaryEnvSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? 'CANARY_*');
    return `${name}=${JSON.stringify(env[name] ?? '')}: ${issue.message}`;
  });
  throw new Error(`invalid worker configuration: ${problems.join('; ')}`);
}

// The same loader as the CLI's (client/temporal-config.ts): one profile, one set of defaults and checks.
function loadTemporalSettings(env: NodeJS.ProcessEnv): TemporalSettings {
  try {
    const { connectionOptions, address, namespace } = loadTemporalConfig(env);
    return { connection: connectionOptions, address, namespace };
  } catch (err) {
    if (!(err instanceof TemporalConfigError)) throw err;
    throw new Error(`invalid worker configuration: ${err.message}`, { cause: err });
  }
}

const AWS_FIELD_VARS: Record<string, string> = {
  region: 'AWS_REGION',
  endpoint: 'AWS_ENDPOINT_URL',
  maxAttempts: 'AWS_MAX_ATTEMPTS',
};

function loadAwsSettings(env: NodeJS.ProcessEnv): AwsConfig {
  // Blank counts as unset here too: compose passes `${AWS_REGION:-}` through as an empty string.
  const aws: NodeJS.ProcessEnv = { ...env };
  for (const name of AWS_ENV_VARS) if (!aws[name]?.trim()) delete aws[name];
  try {
    return awsConfigFromEnv(aws);
  } catch (err) {
    // awsConfigFromEnv names the AwsConfig field; the operator needs the variable.
    const text = errorText(err);
    const field = /environment: (\w+)/.exec(text)?.[1];
    const name = (field && AWS_FIELD_VARS[field]) ?? AWS_ENV_VARS.join(' / ');
    throw new Error(`invalid worker configuration: ${name}: ${text}`, { cause: err });
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
