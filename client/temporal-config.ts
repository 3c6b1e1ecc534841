/**
 * How every canary process reaches Temporal: the worker (worker/config.ts) and the client and CLI
 * (./connection.ts) load the connection here, so they read one profile the same way, with the same defaults and
 * the same checks. The settings follow the SDK's environment-configuration conventions (TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_GRPC_META_*, TEMPORAL_PROFILE,
 * TEMPORAL_CONFIG_FILE) as @temporalio/envconfig reads them, which is also how the `temporal` CLI reads them.
 *
 * Node-only (reads files): not for common/ or workflows/.
 */
import { loadClientConnectConfig, type ClientConnectConfig } from '@temporalio/envconfig';

/** What the SDK connects to when neither an override, the environment nor a profile names a server. */
export const DEFAULT_TEMPORAL_ADDRESS = 'localhost:7233';
/** The namespace when nothing names one. */
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';

/** Variables @temporalio/envconfig reads (plus TEMPORAL_GRPC_META_* headers, matched by prefix). */
export const TEMPORAL_ENV_VARS = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_CERT_DATA',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_DATA',
  'TEMPORAL_TLS_SERVER_NAME',
  'TEMPORAL_PROFILE',
  'TEMPORAL_CONFIG_FILE',
] as const;

/** Values that win over the environment and the profile: the CLI's `--address`, `--namespace`, `--profile`. */
export interface TemporalOverrides {
  address?: string;
  namespace?: string;
  profile?: string;
}

/** A loaded, checked Temporal connection. */
export interface TemporalConfig {
  /** Address, TLS, API key and gRPC metadata as @temporalio/envconfig built them, with the checked address. */
  connectionOptions: ClientConnectConfig['connectionOptions'];
  /** `host:port`, for startup lines and error messages. */
  address: string;
  namespace: string;
}

/**
 * The setting a person has to fix: an environment variable (`TEMPORAL_PROFILE`), a flag (`--address`), or, when
 * no single setting is to blame, a description of where the value came from (no `value`).
 */
export interface TemporalSetting {
  name: string;
  value?: string;
}

/** The Temporal settings cannot be used; `setting` names what to fix and `problem` says what is wrong. */
export class TemporalConfigError extends Error {
  constructor(
    readonly setting: TemporalSetting,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${settingText(setting)}: ${problem}`, options);
    this.name = 'TemporalConfigError';
  }
}

/** `NAME="value"` (quoted, so blanks and empty values show), or the bare name when there is no single value. */
export function settingText(setting: TemporalSetting, quote = true): string {
  if (setting.value === undefined) return setting.name;
  return `${setting.name}=${quote ? JSON.stringify(setting.value) : setting.value}`;
}

/**
 * Loads the connection. Precedence: override, then environment variable, then the profile in the Temporal config
 * file, then the defaults (localhost:7233, namespace default).
 *
 * @throws TemporalConfigError naming the variable or flag to fix: a missing profile, an unreadable certificate,
 *   an address with a scheme.
 */
export function loadTemporalConfig(env: NodeJS.ProcessEnv = process.env, overrides: TemporalOverrides = {}): TemporalConfig {
  const vars = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  let loaded: ClientConnectConfig;
  try {
    loaded = loadClientConnectConfig({ profile: overrides.profile, overrideEnvVars: vars });
  } catch (err) {
    throw new TemporalConfigError(culprit(env, overrides, errorText(err)), errorText(err), { cause: err });
  }
  const address = (overrides.address ?? loaded.connectionOptions.address)?.trim() || DEFAULT_TEMPORAL_ADDRESS;
  if (/\s|:\/\//.test(address)) {
    const setting: TemporalSetting =
      overrides.address !== undefined
        ? { name: '--address', value: overrides.address }
        : env.TEMPORAL_ADDRESS !== undefined
          ? { name: 'TEMPORAL_ADDRESS', value: env.TEMPORAL_ADDRESS }
          : { name: "the profile's address", value: address };
    throw new TemporalConfigError(setting, 'expected host:port without a scheme, such as temporal.example.com:7233');
  }
  return {
    connectionOptions: { ...loaded.connectionOptions, address },
    address,
    namespace: (overrides.namespace ?? loaded.namespace)?.trim() || DEFAULT_TEMPORAL_NAMESPACE,
  };
}

// envconfig's errors name a profile or a file, not the setting that pointed there: find the flag or variable whose
// value the message quotes (a cert path, a profile name), else the ones that select a profile.
function culprit(env: NodeJS.ProcessEnv, overrides: TemporalOverrides, text: string): TemporalSetting {
  const quotes = (value: string | undefined): value is string => value !== undefined && value.length > 1 && text.includes(value);
  if (quotes(overrides.profile)) return { name: '--profile', value: overrides.profile };
  const name = TEMPORAL_ENV_VARS.find((n) => quotes(env[n]));
  if (name) return { name, value: env[name] };
  if (env.TEMPORAL_CONFIG_FILE) return { name: 'TEMPORAL_CONFIG_FILE', value: env.TEMPORAL_CONFIG_FILE };
  if (overrides.profile) return { name: '--profile', value: overrides.profile };
  if (env.TEMPORAL_PROFILE) return { name: 'TEMPORAL_PROFILE', value: env.TEMPORAL_PROFILE };
  return { name: 'Temporal client config file (TEMPORAL_CONFIG_FILE, default ~/.config/temporalio/temporal.toml)' };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
