/**
 * A container credentials endpoint on loopback, as ECS (task roles) and EKS Pod Identity serve them: the AWS SDK's
 * default chain reads it through AWS_CONTAINER_CREDENTIALS_FULL_URI (an http URL on 127.0.0.0/8 is allowed) and sends
 * AWS_CONTAINER_AUTHORIZATION_TOKEN as the Authorization header. It serves session credentials that expire: tests
 * make them run out mid-release and come back, to see what a release does when its worker's credentials do.
 *
 * The credentials it serves live shorter than the SDK's five-minute refresh window, so the SDK asks again on every
 * call, as it does in a real credential's last five minutes. {@link CredentialsEndpoint.expire} is the case that
 * breaks a release: nothing renews the credentials, the endpoint keeps serving the last ones past their expiration,
 * and the AWS endpoint in front of moto (./fault-proxy.ts), told so, answers `ExpiredToken` to calls signed with them.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CredentialsEndpointOptions {
  /** The local AWS endpoint (the fault proxy in front of moto, `http://127.0.0.1:PORT`) that refuses expired keys. */
  awsEndpoint: string;
  /** How long served credentials are valid, in real milliseconds; default 60 s (under the SDK's 5-minute refresh window). */
  lifetimeMs?: number;
}

/** Session credentials as the endpoint serves them. */
export interface ServedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

export interface CredentialsEndpoint {
  /** `http://127.0.0.1:PORT/v1/credentials`. */
  url: string;
  /** The variables that point the SDK's default chain here (AWS_CONTAINER_CREDENTIALS_FULL_URI, AWS_CONTAINER_AUTHORIZATION_TOKEN). */
  env: Record<string, string>;
  /** The credentials served now. */
  readonly current: ServedCredentials;
  /** Requests answered with credentials, and refused (wrong token, failing). */
  readonly stats: { served: number; refused: number };
  /**
   * The current credentials run out and nothing renews them: the AWS endpoint refuses them from now on (`ExpiredToken`)
   * and this endpoint keeps serving them with their expiration in the past.
   */
  expire(): Promise<void>;
  /** Valid credentials are back: new keys with a fresh expiration (and answers again after {@link fail}). */
  renew(): ServedCredentials;
  /** The endpoint answers HTTP `status` (the SDK's chain then has no credential: CredentialsProviderError). */
  fail(status?: number): void;
  stop(): Promise<void>;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
function accessKeyId(): string {
  return `ASIA${Array.from(randomBytes(16), (b) => ALNUM[b % ALNUM.length]).join('')}`;
}

function newCredentials(): ServedCredentials {
  return { accessKeyId: accessKeyId(), secretAccessKey: randomBytes(30).toString('base64'), sessionToken: randomBytes(96).toString('base64') };
}

/** Starts the endpoint on a free loopback port. */
export async function startCredentialsEndpoint(opts: CredentialsEndpointOptions): Promise<CredentialsEndpoint> {
  const lifetimeMs = opts.lifetimeMs ?? 60_000;
  const token = randomUUID();
  let current = newCredentials();
  let expiresAt = Date.now() + lifetimeMs;
  let expired = false;
  let failing: number | undefined;
  const stats = { served: 0, refused: 0 };

  const server = http.createServer((req, res) => {
    req.resume();
    const send = (status: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (req.headers.authorization !== token) {
      stats.refused++;
      return send(403, { Code: 'AccessDenied', Message: 'the authorization token is missing or wrong' });
    }
    if (failing !== undefined) {
      stats.refused++;
      return send(failing, { Code: 'InternalError', Message: 'credentials are not available' });
    }
    // Until renewed, the same credentials with a fresh expiration; once expired, the same ones, past it.
    if (!expired && expiresAt - Date.now() < lifetimeMs / 2) expiresAt = Date.now() + lifetimeMs;
    stats.served++;
    send(200, {
      AccessKeyId: current.accessKeyId,
      SecretAccessKey: current.secretAccessKey,
      Token: current.sessionToken,
      Expiration: new Date(expired ? Math.min(expiresAt, Date.now() - 1_000) : expiresAt).toISOString(),
      AccountId: '123456789012',
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/v1/credentials`;

  return {
    url,
    env: { AWS_CONTAINER_CREDENTIALS_FULL_URI: url, AWS_CONTAINER_AUTHORIZATION_TOKEN: token },
    get current() {
      return { ...current };
    },
    stats,
    async expire() {
      const res = await fetch(`${opts.awsEndpoint}/canary-realism/expired-credentials`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ accessKeyId: current.accessKeyId }),
      });
      if (!res.ok) throw new Error(`${opts.awsEndpoint} did not take the expired key: HTTP ${res.status} ${await res.text()}`);
      expired = true;
    },
    renew() {
      current = newCredentials();
      expiresAt = Date.now() + lifetimeMs;
      expired = false;
      failing = undefined;
      return { ...current };
    },
    fail(status = 500) {
      failing = status;
    },
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
