/**
 * The versioned contract between the `canary` CLI and the worker, which CI and operators upgrade separately
 * (docs/COMPATIBILITY.md): the spec's `apiVersion`, the ones this build can run, and how a worker advertises its
 * build and those versions in the identity Temporal shows for each poller (DescribeTaskQueue). Workflow-safe.
 */

/** The spec apiVersion this build writes and documents. */
export const SPEC_API_VERSION = 'canary/v1';

/** Every spec apiVersion this build can validate and run (a worker advertises exactly these). */
export const SPEC_API_VERSIONS: readonly string[] = [SPEC_API_VERSION];

/** Why a spec's apiVersion cannot be used by this build, or undefined when it can. */
export function apiVersionProblem(apiVersion: string): string | undefined {
  if (SPEC_API_VERSIONS.includes(apiVersion)) return undefined;
  return `unknown apiVersion "${apiVersion}": this canary reads ${SPEC_API_VERSIONS.join(', ')} (a newer spec needs a newer canary)`;
}

/** What a canary worker says about itself in its Temporal identity. */
export interface WorkerAdvert {
  /** The package version of the worker (`0.1.0`), `unknown` outside a package. */
  build: string;
  /** The spec apiVersions it runs. */
  apiVersions: string[];
}

const IDENTITY = /^canary-worker\/(\S+) spec=(\S+)(?: |$)/;

/**
 * The worker's identity: `canary-worker/0.1.0 spec=canary/v1 12345@host` (the SDK's default `pid@host` last, so
 * an operator still finds the process). DescribeTaskQueue returns it for each poller; see {@link parseWorkerIdentity}.
 */
export function workerIdentity(advert: WorkerAdvert, processAndHost: string): string {
  return `canary-worker/${advert.build} spec=${advert.apiVersions.join(',')} ${processAndHost}`;
}

/** What a poller's identity advertises; undefined for a worker that does not say (an older build, another client). */
export function parseWorkerIdentity(identity: string): WorkerAdvert | undefined {
  const m = IDENTITY.exec(identity);
  if (!m) return undefined;
  return { build: m[1] as string, apiVersions: (m[2] as string).split(',').filter(Boolean) };
}

/** Whether build `a` is older than `b` (`0.1.0` < `0.2.0`); false when either is not a plain x.y.z version. */
export function olderBuild(a: string, b: string): boolean {
  const parse = (v: string): number[] | undefined => (/^\d+\.\d+\.\d+$/.test(v) ? v.split('.').map(Number) : undefined);
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) return false;
  for (let i = 0; i < 3; i++) if ((x[i] as number) !== (y[i] as number)) return (x[i] as number) < (y[i] as number);
  return false;
}

/** One poller of a task queue as DescribeTaskQueue reports it. */
export interface PollerAdvert {
  identity: string;
  advert?: WorkerAdvert;
}

/**
 * Whether the workers polling a task queue can run a spec of `apiVersion`: `ok` when one advertises it, `unknown`
 * when none polls or some do not advertise (they may), `refused` when every poller advertises and none lists it.
 */
export function workerVerdict(apiVersion: string, pollers: readonly PollerAdvert[]): { verdict: 'ok' | 'unknown' | 'refused'; message: string } {
  const describe = (p: PollerAdvert): string =>
    p.advert ? `canary-worker ${p.advert.build} (${p.advert.apiVersions.join(', ') || 'no spec version'})` : `${p.identity} (does not advertise)`;
  const seen = [...new Set(pollers.map(describe))].join('; ');
  if (pollers.some((p) => p.advert?.apiVersions.includes(apiVersion))) return { verdict: 'ok', message: seen };
  if (pollers.length === 0) return { verdict: 'unknown', message: 'no worker polls the task queue' };
  if (pollers.some((p) => !p.advert)) return { verdict: 'unknown', message: seen };
  return { verdict: 'refused', message: seen };
}
