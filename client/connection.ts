/**
 * How the CLI reaches Temporal: the connection the worker loads too (./temporal-config.ts: @temporalio/envconfig's
 * TEMPORAL_* conventions and profile, the same defaults and checks), with command-line flags over it; plus the task
 * queue a release starts on and where the Temporal UI is, for the links the CLI prints.
 */
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { DEFAULT_TASK_QUEUE } from '../common/constants';
import { cliIdentity } from './callers';
import { loadTemporalConfig, settingText, TemporalConfigError } from './temporal-config';

/** The port `temporal server start-dev` serves its UI on unless told otherwise. */
export const DEV_UI_PORT = 8233;

/** Global flags that override the environment / profile. */
export interface ConnectionFlags {
  address?: string;
  namespace?: string;
  profile?: string;
  taskQueue?: string;
  uiUrl?: string;
}

export interface ResolvedConnection {
  connectionOptions: ConnectionOptions;
  address: string;
  namespace: string;
  taskQueue: string;
  /** Base URL of the Temporal UI, without a trailing slash; undefined when unknown. */
  uiUrl?: string;
}

/** A configuration problem (bad profile, unreadable cert): the user's to fix, reported before any connection. */
export class ConnectionConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConnectionConfigError';
  }
}

/**
 * Resolves address, namespace, TLS/API key, task queue and UI URL. Precedence: flag, then environment variable,
 * then the profile in the Temporal config file, then defaults.
 *
 * @throws ConnectionConfigError naming the flag or variable to fix.
 */
export function resolveConnection(flags: ConnectionFlags = {}, env: NodeJS.ProcessEnv = process.env): ResolvedConnection {
  let loaded: ReturnType<typeof loadTemporalConfig>;
  try {
    loaded = loadTemporalConfig(env, { address: flags.address, namespace: flags.namespace, profile: flags.profile });
  } catch (err) {
    if (!(err instanceof TemporalConfigError)) throw err;
    throw new ConnectionConfigError(`cannot use the Temporal connection settings: ${settingText(err.setting, false)}: ${err.problem}`, { cause: err });
  }
  const { address, namespace } = loaded;
  const { apiKey, tls, metadata } = loaded.connectionOptions;
  // The client's ConnectionOptions, from the worker-shaped options envconfig builds.
  const connectionOptions: ConnectionOptions = { address };
  if (apiKey !== undefined) connectionOptions.apiKey = apiKey as string;
  if (tls !== undefined && tls !== null) connectionOptions.tls = tls;
  if (metadata !== undefined) connectionOptions.metadata = metadata;
  return {
    connectionOptions,
    address,
    namespace,
    taskQueue: flags.taskQueue?.trim() || env.CANARY_TASK_QUEUE?.trim() || DEFAULT_TASK_QUEUE,
    uiUrl: uiUrlFor(address, flags.uiUrl ?? env.CANARY_UI_URL),
  };
}

/**
 * The Temporal UI's base URL: the explicit one (flag or CANARY_UI_URL) if given; for a local dev server the
 * default UI port on the same host; for Temporal Cloud the cloud UI, whichever endpoint the client uses (the
 * namespace endpoint `<namespace>.<account>.tmprl.cloud` of mTLS, or the regional `<region>.<cloud>.api.temporal.io`
 * of API keys); otherwise unknown.
 */
export function uiUrlFor(address: string, explicit?: string): string | undefined {
  if (explicit?.trim()) return explicit.trim().replace(/\/+$/, '');
  const host = hostOf(address);
  if (host === 'localhost' || host === '::1' || host === '[::1]' || /^127\./.test(host)) {
    return `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${DEV_UI_PORT}`;
  }
  if (/\.tmprl\.cloud$/.test(host) || /\.api\.temporal\.io$/.test(host)) return 'https://cloud.temporal.io';
  return undefined;
}

function hostOf(address: string): string {
  if (address.startsWith('[')) return address.slice(0, address.indexOf(']') + 1);
  const i = address.lastIndexOf(':');
  return i > 0 && address.indexOf(':') === i ? address.slice(0, i) : address;
}

/** Link to a workflow run in the Temporal UI. */
export function workflowUrl(uiUrl: string | undefined, namespace: string, workflowId: string, runId?: string): string | undefined {
  if (!uiUrl) return undefined;
  const base = `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${encodeURIComponent(runId)}` : base;
}

/**
 * Connects a client; the caller closes the connection. Its requests carry the identity `canary:USER@HOST`
 * (./callers.ts), which Temporal records in the history next to each start, signal and update.
 */
export async function connect(resolved: ResolvedConnection): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ ...resolved.connectionOptions, connectTimeout: '10s' });
  return { client: new Client({ connection, namespace: resolved.namespace, identity: cliIdentity() }), connection };
}
