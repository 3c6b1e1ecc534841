/**
 * One HTTP request of a metric source (Prometheus's query API, a web endpoint): bounded in time and size, cancelled
 * with the activity, and failing with a message that names the server by its name and origin only — never its path,
 * query, credentials or headers, which are the worker's and would otherwise reach the release's history.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { formatDuration } from '../../common/duration';

/** The error type of a source's answer that asking again will not change (a bad query, a refused credential, no setting). */
export const SOURCE_REFUSED = 'MetricSourceRefused';

/** An answer no larger than this is read; a longer one fails the request. */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

export interface SourceRequest {
  url: URL;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** Who is asked, for error messages: `Prometheus server "main" (https://prom.example.com:9090)`. */
  where: string;
}

export interface SourceReply {
  status: number;
  headers: Headers;
  text: string;
}

/** A failure asking again cannot fix: the measurement is an error at once, not after retries. */
export function refused(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: SOURCE_REFUSED, message, nonRetryable: true });
}

/** The activity's cancellation signal when running as an activity (the report and doctor have none). */
function activitySignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

/** Node's connection error codes in words. */
const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  UND_ERR_SOCKET: 'connection closed',
};

/** Sends the request; resolves with any HTTP answer, rejects (retryably) when none came in time or the connection failed. */
export async function sourceRequest(req: SourceRequest): Promise<SourceReply> {
  const timeout = AbortSignal.timeout(req.timeoutMs);
  const cancelled = activitySignal();
  const signal = cancelled ? AbortSignal.any([timeout, cancelled]) : timeout;
  try {
    const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body, signal, redirect: 'manual' });
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = res.body?.getReader();
    for (;;) {
      const part = reader ? await reader.read() : { done: true as const, value: undefined };
      if (part.done) break;
      size += part.value.length;
      if (size > MAX_ANSWER_BYTES) {
        await reader?.cancel();
        throw refused(`${req.where} answered more than ${MAX_ANSWER_BYTES / 1024 / 1024} MB: ask for less (aggregate the query, a shorter window)`);
      }
      chunks.push(part.value);
    }
    return { status: res.status, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') };
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    if (cancelled?.aborted) throw cancelled.reason instanceof Error ? cancelled.reason : new Error('the activity was cancelled');
    if (timeout.aborted) throw new Error(`${req.where}: no answer within ${formatDuration(req.timeoutMs)}`);
    const cause = (err as { cause?: { code?: string } }).cause;
    const code = cause?.code ?? (err as { code?: string }).code;
    // Only the code: undici's messages may carry the URL.
    throw new Error(`${req.where}: ${code ? `${NETWORK_ERRORS[code] ?? 'request failed'} (${code})` : 'request failed'}`);
  }
}

/** An answer's first characters on one line, for an error message (a server's own error text). */
export function excerpt(text: string, max = 300): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/**
 * Throws for an answer that is not a 2xx: 429 and 5xx retryably (with the server's Retry-After), any other status
 * as refused. `detail` is the server's own error text when it has one.
 */
export function checkStatus(where: string, reply: SourceReply, detail?: string): void {
  const { status } = reply;
  if (status >= 200 && status < 300) return;
  const said = detail ?? excerpt(reply.text, 200);
  if (status === 429 || status >= 500) {
    const after = reply.headers.get('retry-after');
    throw new Error(
      `${where} answered HTTP ${status}${status === 429 ? ' (too many requests)' : ''}${after ? `, retry after ${excerpt(after, 40)}` : ''}${said ? `: ${said}` : ''}`,
    );
  }
  const hint =
    status === 401 || status === 403 ? ' (check its credentials variables)' : status >= 300 && status < 400 ? ' (a redirect: set the URL it redirects to)' : '';
  throw refused(`${where} answered HTTP ${status}${hint}${said ? `: ${said}` : ''}`);
}
