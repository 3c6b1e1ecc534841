/**
 * `canary doctor`: what a preflight check is, and the runner. The checks themselves are listed in ./registry.ts
 * (a feature that needs something of Temporal or AWS adds its check there, written in a module next to it, like
 * ./temporal.ts and ./aws.ts); each prints one line, ✔, ✖ with how to fix it, or "not checked" with why.
 */
import type { Client, Connection } from '@temporalio/client';
import type { AwsClients, ScopedClients } from '../../activities/aws-clients';
import type { DiscoveredForwards } from '../../activities/contract';
import type { VariantTarget } from '../../analysis/analysis';
import type { ParsedReleaseSpec } from '../../common/spec';
import type { ResolvedConnection } from '../connection';

/** What one check found. */
export type CheckResult =
  | { status: 'ok'; text: string }
  /** `fix`: what to do about it, in one sentence or one command. */
  | { status: 'fail'; text: string; fix: string }
  | { status: 'skip'; text: string };

/** What the checks share: the inputs, and connections and findings made once by the first check that needs them. */
export interface DoctorContext {
  /** The spec given with --spec, parsed; the checks that need one are "not checked" without it. */
  spec?: ParsedReleaseSpec;
  /** --fix: a check that can repair what it found (the search attributes) does, then checks again. */
  fix: boolean;
  /** The resolved Temporal settings, or why they cannot be used (the reachability check fails with it). */
  temporalSettings: ResolvedConnection | { problem: string };
  /** Set by the reachability check. */
  temporal?: { connection: Connection; client: Client };
  /** The AWS clients of the environment (created on first use) and those of the spec's region and role. */
  aws(): AwsClients;
  scoped(): Promise<ScopedClients>;
  /** Set by the listener check: what discovery found. */
  discovered?: DiscoveredForwards;
  /** Set by the identity check: who the AWS credentials are. */
  identity?: { account: string; arn: string };
}

export interface DoctorCheck {
  /** Stable id (`--json` output, `needs` of other checks). */
  id: string;
  /** What is checked, in a few words: the line starts with it. */
  title: string;
  /** Runs only with --spec. */
  needsSpec?: boolean;
  /** Checks that must have passed first; otherwise this one is "not checked". */
  needs?: readonly string[];
  run(ctx: DoctorContext): Promise<CheckResult>;
}

/**
 * A check whose `run` gets what it reads from the context (`inputsOf`: the spec, what an earlier check found, the
 * Temporal connection) ready to use: the one place each input is read and checked. An input that is not there fails
 * the check with the error `inputsOf` throws.
 */
export function checkWith<T>(
  inputsOf: (ctx: DoctorContext) => T,
  check: Omit<DoctorCheck, 'run'> & { run(inputs: T, ctx: DoctorContext): Promise<CheckResult> },
): DoctorCheck {
  return { ...check, run: (ctx) => check.run(inputsOf(ctx), ctx) };
}

/** A check that runs only with --spec, its `run` given the parsed spec. */
export function specCheck(
  check: Omit<DoctorCheck, 'run' | 'needsSpec'> & { run(spec: ParsedReleaseSpec, ctx: DoctorContext): Promise<CheckResult> },
): DoctorCheck {
  return checkWith(specOf, { ...check, needsSpec: true });
}

/** The parsed spec (the runner runs a `needsSpec` check only with one). */
export function specOf(ctx: DoctorContext): ParsedReleaseSpec {
  if (!ctx.spec) throw new Error('no spec: run canary doctor with --spec FILE');
  return ctx.spec;
}

/** What the listener check found, and its stable target group as the analysis names a variant. */
export interface StableGroup {
  discovered: DiscoveredForwards;
  stable: VariantTarget;
}

/** A check of the stable target group the listener check found (it runs with --spec, after that check). */
export function stableGroupCheck(
  check: Omit<DoctorCheck, 'run' | 'needsSpec' | 'needs'> & { run(spec: ParsedReleaseSpec, group: StableGroup, ctx: DoctorContext): Promise<CheckResult> },
): DoctorCheck {
  return specCheck({ ...check, needs: ['aws-listener'], run: (spec, ctx) => check.run(spec, stableGroupOf(ctx), ctx) });
}

function stableGroupOf(ctx: DoctorContext): StableGroup {
  const d = ctx.discovered;
  if (!d) throw new Error('the listener and stable target group are not discovered yet');
  return { discovered: d, stable: { targetGroup: d.stableDimension, loadBalancer: d.loadBalancerDimension } };
}

export interface CheckOutcome {
  id: string;
  title: string;
  result: CheckResult;
}

/** Runs the checks in order; a check that throws fails with the error's message. */
export async function runChecks(ctx: DoctorContext, checks: readonly DoctorCheck[]): Promise<CheckOutcome[]> {
  const outcomes: CheckOutcome[] = [];
  const passed = new Set<string>();
  for (const check of checks) {
    let result: CheckResult;
    const unmet = (check.needs ?? []).filter((id) => !passed.has(id));
    if (check.needsSpec && !ctx.spec) result = { status: 'skip', text: 'needs --spec FILE' };
    else if (unmet.length) {
      const titles = unmet.map((id) => checks.find((c) => c.id === id)?.title ?? id);
      result = { status: 'skip', text: `needs ${titles.join(', ')} first` };
    } else {
      result = await check.run(ctx).catch((e: unknown) => ({
        status: 'fail' as const,
        text: e instanceof Error ? e.message : String(e),
        fix: 'see the error above; run canary doctor again once it is fixed',
      }));
    }
    if (result.status === 'ok') passed.add(check.id);
    outcomes.push({ id: check.id, title: check.title, result });
  }
  return outcomes;
}

/** One line per check: `✔ title: text`, `✖ title: text — fix: ...`, `- title: not checked (why)`. */
export function formatOutcome(o: CheckOutcome): string {
  const { result } = o;
  switch (result.status) {
    case 'ok':
      return `✔ ${o.title}: ${result.text}`;
    case 'fail':
      return `✖ ${o.title}: ${result.text} — fix: ${result.fix}`;
    case 'skip':
      return `- ${o.title}: not checked (${result.text})`;
  }
}

/** A one-line error: whitespace folded. */
export function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim();
}
