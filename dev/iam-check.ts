/**
 * Checks the AWS actions the worker sent (counted per caller by the local stack's proxy, ./fault-proxy.ts) against the
 * least-privilege policy in docs/iam-policy.json, so the documented policy cannot fall behind the code: a new AWS call
 * in an activity fails the check until the policy allows it.
 *
 * The evaluator covers what that policy uses: Allow and Deny statements with `Action` / `NotAction` as a string or a
 * list, `*` and `?` wildcards, case-insensitive as IAM matches actions. An explicit Deny wins. Resources and conditions
 * are not evaluated: the check is about which actions, and the policy's resources are reviewed by reading it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import type { AwsClients } from '../activities/aws-clients';
import { callerHeader } from './fault-proxy';

/** The caller name the worker's AWS clients carry in the tests (header, or AWS_SDK_UA_APP_ID for worker processes). */
export const workerCaller = 'canary-worker';

const actionList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
const StatementSchema = z
  .object({
    Sid: z.string().optional(),
    Effect: z.enum(['Allow', 'Deny']),
    Action: actionList.optional(),
    NotAction: actionList.optional(),
    Resource: z.union([z.string(), z.array(z.string())]).optional(),
    Condition: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((s) => (s.Action === undefined) !== (s.NotAction === undefined), { message: 'a statement has exactly one of Action and NotAction' });
export const IamPolicySchema = z.object({
  Version: z.literal('2012-10-17'),
  Statement: z.array(StatementSchema).min(1),
});
export type IamPolicy = z.infer<typeof IamPolicySchema>;

/** docs/iam-policy.json of this repository. */
export const iamPolicyPath = path.resolve(__dirname, '..', 'docs', 'iam-policy.json');

/** Reads and validates a policy document; errors name the statement and field. */
export function loadIamPolicy(file = iamPolicyPath): IamPolicy {
  const parsed = IamPolicySchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${file}: ${issue?.path.join('.') || '(document)'}: ${issue?.message}`);
  }
  return parsed.data;
}

/**
 * Actions AWS authorizes besides the one called: CreateTargetGroup and CreateRule with Tags also need AddTags
 * (ELB's tag-on-create authorization).
 */
export const impliedActions: Readonly<Record<string, readonly string[]>> = {
  'elasticloadbalancing:CreateTargetGroup': ['elasticloadbalancing:AddTags'],
  'elasticloadbalancing:CreateRule': ['elasticloadbalancing:AddTags'],
};

function patternMatches(pattern: string, action: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  );
  return re.test(action);
}

function statementMatches(s: IamPolicy['Statement'][number], action: string): boolean {
  const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  if (s.Action !== undefined) return list(s.Action).some((p) => patternMatches(p, action));
  return !list(s.NotAction).some((p) => patternMatches(p, action));
}

/** Whether the policy allows `service:Action` (e.g. `elasticloadbalancing:ModifyListener`): some Allow matches, no Deny does. */
export function isAllowed(policy: IamPolicy, action: string): boolean {
  if (policy.Statement.some((s) => s.Effect === 'Deny' && statementMatches(s, action))) return false;
  return policy.Statement.some((s) => s.Effect === 'Allow' && statementMatches(s, action));
}

export interface ActionCheck {
  /** Every action checked: the ones sent plus the ones they imply, sorted. */
  checked: string[];
  /** The ones the policy does not allow, each with why it was needed. */
  denied: { action: string; neededFor: string }[];
}

/** Checks sent actions (`service:Action`) and the actions they imply against the policy. */
export function checkActions(policy: IamPolicy, sent: Iterable<string>): ActionCheck {
  const needed = new Map<string, string>();
  for (const a of sent) {
    if (!needed.has(a)) needed.set(a, 'sent');
    for (const implied of impliedActions[a] ?? []) if (!needed.has(implied)) needed.set(implied, `implied by ${a}`);
  }
  const checked = [...needed.keys()].sort();
  return { checked, denied: checked.filter((a) => !isAllowed(policy, a)).map((action) => ({ action, neededFor: needed.get(action) ?? 'sent' })) };
}

/** The actions one caller sent, from the proxy's stats (`GET /canary-realism/stats` or FaultProxy.stats()). */
export function actionsOf(stats: { byCaller: Record<string, Record<string, number>> }, caller = workerCaller): string[] {
  return Object.keys(stats.byCaller[caller] ?? {}).sort();
}

/** Reads the stats of a proxy running in another process (the tests' shared stack). */
export async function fetchProxyStats(endpoint: string): Promise<{ byCaller: Record<string, Record<string, number>> }> {
  const res = await fetch(`${endpoint}/canary-realism/stats`);
  if (!res.ok) throw new Error(`${endpoint} is not the local stack's proxy (GET /canary-realism/stats answered HTTP ${res.status})`);
  return (await res.json()) as { byCaller: Record<string, Record<string, number>> };
}

/** Marks every request of these clients (and of the scoped clients they hand out) with the caller's name, for the proxy's per-caller counts. */
export function tagCaller(aws: AwsClients, caller: string): AwsClients {
  const setHeader = (request: unknown): void => {
    const headers = (request as { headers?: Record<string, string> }).headers;
    if (headers) headers[callerHeader] = caller;
  };
  const options = { step: 'build', name: 'canaryCallerTag', override: true } as const;
  aws.elbv2.middlewareStack.add((next) => async (args) => (setHeader(args.request), next(args)), options);
  aws.cloudwatch.middlewareStack.add((next) => async (args) => (setHeader(args.request), next(args)), options);
  aws.ec2.middlewareStack.add((next) => async (args) => (setHeader(args.request), next(args)), options);
  // Clients of another region or an assumed role (a spec's `region`, `aws.roleArn`) send the worker's calls too.
  const clientsFor = aws.clientsFor;
  aws.clientsFor = async (scope, sessionName) => {
    const scoped = await clientsFor(scope, sessionName);
    scoped.elbv2.middlewareStack.add((next) => async (args) => (setHeader(args.request), next(args)), options);
    scoped.cloudwatch.middlewareStack.add((next) => async (args) => (setHeader(args.request), next(args)), options);
    return scoped;
  };
  return aws;
}
