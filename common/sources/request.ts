/**
 * What a source's request is made of, besides its query: the name of the server or endpoint the worker holds (the
 * spec names it, the worker's environment maps it to a URL and credentials, so a spec never points the worker at a
 * host), and the `${name}` placeholders that say which variant and which window a request is for. The source fills
 * them per variant (activities/sources/); a name no source fills is a field error at `canary validate`, never a
 * literal `${...}` sent to a server. Workflow-safe.
 */
import { z } from 'zod';

/**
 * The name of a Prometheus server (`server: main`) or web endpoint (`endpoint: synthetics`): lower case letters,
 * digits and `-`, as hooks' names; the worker's variable is its upper-case form with `_` (see {@link sourceEnvName}).
 */
export const InstanceName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,39}$/, 'lower case letters, digits and -, starting with a letter, at most 40 characters (the worker maps it to its variables)');

/** `('CANARY_PROMETHEUS_', 'eu-main', 'URL')` → `CANARY_PROMETHEUS_EU_MAIN_URL`. */
export function sourceEnvName(prefix: string, name: string, suffix: string): string {
  return `${prefix}${name.toUpperCase().replace(/-/g, '_')}_${suffix}`;
}

/** Placeholders that select a variant: its target group and load balancer (ARN resource parts) and its role. */
export const VARIANT_PLACEHOLDERS = {
  /** `targetgroup/NAME/ID`, as ALB's CloudWatch dimension (and the CloudWatch exporter's label) has it. */
  targetGroup: 'the variant target group as targetgroup/NAME/ID',
  /** `NAME` of `targetgroup/NAME/ID`: the label a service's own metrics most often carry. */
  targetGroupName: "the variant target group's name",
  /** `app/NAME/ID`. */
  loadBalancer: 'the load balancer as app/NAME/ID',
  /** `canary`, `baseline` or `stable`. */
  variant: 'canary, baseline or stable',
} as const;

/** Placeholders that say which buckets are asked for: the step, and (web) the window's edges. */
export const WINDOW_PLACEHOLDERS = {
  /** The bucket length as a PromQL duration, `60s`: the range of `increase(x[${period}])`. */
  period: 'the bucket length, e.g. 60s',
  /** Seconds of a bucket, `60`. */
  periodSeconds: 'the bucket length in seconds',
  /** The window's first instant, ISO 8601. */
  start: "the window's start (ISO 8601)",
  /** The window's end (exclusive), ISO 8601. */
  end: "the window's end (ISO 8601)",
  startSeconds: "the window's start in Unix seconds",
  endSeconds: "the window's end in Unix seconds",
} as const;

export type PlaceholderName = keyof typeof VARIANT_PLACEHOLDERS | keyof typeof WINDOW_PLACEHOLDERS;

const PLACEHOLDER = /\$\{([^}]*)\}/g;

/** The placeholders `text` names. */
export function placeholdersIn(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER)].map((m) => m[1] as string);
}

/**
 * Why `text`'s placeholders cannot all be filled (a name not in `known`, or a `${` left open), or undefined when they
 * can. `known` lists the names the source fills.
 */
export function placeholderError(text: string, known: readonly string[]): string | undefined {
  const unknown = placeholdersIn(text).filter((n) => !known.includes(n));
  if (unknown.length) return `unknown placeholder ${unknown.map((n) => `\${${n}}`).join(', ')}: one of ${known.map((n) => `\${${n}}`).join(', ')}`;
  if (text.replace(PLACEHOLDER, '').includes('${')) return '"${" without its closing "}"';
  return undefined;
}

/** `text` with each `${name}` replaced by `values[name]` (a name without a value is left as it is). */
export function fillText(text: string, values: Partial<Record<PlaceholderName, string>>): string {
  return text.replace(PLACEHOLDER, (whole, name: string) => values[name as PlaceholderName] ?? whole);
}

/** The values of the variant placeholders for one variant. */
export function variantValues(variant: string, target: { targetGroup: string; loadBalancer: string }): Record<keyof typeof VARIANT_PLACEHOLDERS, string> {
  return {
    targetGroup: target.targetGroup,
    targetGroupName: target.targetGroup.split('/')[1] ?? target.targetGroup,
    loadBalancer: target.loadBalancer,
    variant,
  };
}
