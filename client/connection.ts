/**
 * How the CLI reaches Temporal: the SDK's environment-configuration conventions (TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE) loaded by
 * @temporalio/envconfig, so `canary`, the worker and the `temporal` CLI read one profile the same way; command-line
 * flags override them. Also where the Temporal UI is, for the links the CLI prints.
 */
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { DEFAULT_TASK_QUEUE } from '../common/constants';

/** What the SDK connects to when neither the environment, a profile nor a flag names a server. */
export const DEFAULT_ADDRESS = 'localhost:7233';
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
 */
export function resolveConnection(flags: ConnectionFlags = {}, env: NodeJS.ProcessEnv = process.env): ResolvedConnection {
  const vars = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  let loaded: ReturnType<typeof loadClientConnectConfig>;
  try {
    loaded = loadClientConnectConfig({ profile: flags.profile, overrideEnvVars: vars });
  } catch (err) {
    const file = env.TEMPORAL_CONFIG_FILE
      ? `TEMPORAL_CONFIG_FILE=${env.TEMPORAL_CONFIG_FILE}`
      : 'the Temporal config file (~/.config/temporalio/temporal.toml)';
    const profile = flags.profile ? ` (--profile ${flags.profile})` : env.TEMPORAL_PROFILE ? ` (TEMPORAL_PROFILE=${env.TEMPORAL_PROFILE})` : '';
    throw new ConnectionConfigError(`cannot load the Temporal connection settings from ${file}${profile}: ${(err as Error).message}`, { cause: err });
  }
  const address = (flags.address ?? loaded.connectionOptions.address)?.trim() || DEFAULT_ADDRESS;
  if (/\s|:\/\//.test(address)) {
    throw new ConnectionConfigError(`Temporal address "${address}": expected host:port without a scheme, such as temporal.example.com:7233`);
  }
  const namespace = (flags.namespace ?? loaded.namespace)?.trim() || 'default';
  const { apiKey, tls, metadata } = loaded.connectionOptions;
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
 * default UI port on the same host; for Temporal Cloud the cloud UI; otherwise unknown.
 */
export function uiUrlFor(address: string, explicit?: string): string | undefined {
  if (explicit?.trim()) return explicit.trim().replace(/\/+$/, '');
  const host = hostOf(address);
  if (host === 'localhost' || host === '::1' || host === '[::1]' || /^127\./.test(host)) {
    return `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${DEV_UI_PORT}`;
  }
  if (/\.tmprl\.cloud$/.test(host)) return 'https://cloud.temporal.io';
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

/** Connects a client; the caller closes the connection. */
export async function connect(resolved: ResolvedConnection): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ ...resolved.connectionOptions, connectTimeout: '10s' });
  return { client: new Client({ connection, namespace: resolved.namespace }), connection };
}
