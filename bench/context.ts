/**
 * What every measurement gets from the entry point: the running stack, a client, AWS clients for direct calls
 * and seeding, the in-process worker's task queue, and a progress printer. Plus small shared helpers.
 */
import type { Client } from '@temporalio/client';
import type { AwsClients } from '../activities/aws-clients';
import type { LocalStack } from '../dev/stack';
import { seedAlb, type SeededAlb, type SeedOptions } from '../dev/seed';

export interface BenchContext {
  stack: LocalStack;
  client: Client;
  /** The bench's own AWS clients (direct calls, seeding, metric publishing); the worker has its own. */
  aws: AwsClients;
  /** Task queue of the in-process worker (parts 1–4). */
  taskQueue: string;
  /** The workflow bundle built once for every worker of the run. */
  bundlePath: string;
  quick: boolean;
  /** Progress output (stdout, one line each). */
  log(line: string): void;
}

let serviceCounter = 0;

/** A fresh service name (≤ 20 characters; the seeded ALB is `<name>-alb`). */
export function serviceName(prefix: string): string {
  serviceCounter += 1;
  return `${prefix}-${serviceCounter.toString(36)}`.slice(0, 20).replace(/-+$/, '');
}

export async function seedService(aws: AwsClients, prefix: string, opts: Partial<SeedOptions> = {}): Promise<{ service: string; seeded: SeededAlb }> {
  const service = serviceName(prefix);
  return { service, seeded: await seedAlb(aws, { name: service, ...opts }) };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every `everyMs` until it returns a value other than undefined; throws after `timeoutMs`. */
export async function pollUntil<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`bench: ${what} did not happen within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i] as T, i);
    }
  });
  await Promise.all(lanes);
  return out;
}

/** `[12.3s]` since `t0`, for progress lines. */
export function elapsed(t0: number): string {
  return `${((Date.now() - t0) / 1000).toFixed(1)}s`;
}
