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
export async function fetchProxyStats(endpoint: string): Promise<{ byCaller: Record<string, Record<string, number>>; calls?: CallRecord[] }> {
  const res = await fetch(`${endpoint}/canary-realism/stats`);
  if (!res.ok) throw new Error(`${endpoint} is not the local stack's proxy (GET /canary-realism/stats answered HTTP ${res.status})`);
  return (await res.json()) as { byCaller: Record<string, Record<string, number>>; calls?: CallRecord[] };
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

// ---------------------------------------------------------------------------------------------------------------------
// Resources and conditions: every recorded call evaluated by a real IAM policy evaluator (@cloud-copilot/iam-simulate)

/** docs/iam-policy-pair.json: the variant for `environment.mode: pair` (no target group is created or deleted). */
export const iamPairPolicyPath = path.resolve(__dirname, '..', 'docs', 'iam-policy-pair.json');

/** The placeholders the shipped policies carry (docs/running-for-real.md#iam): the services' ALB names, the service names. */
export const policyPlaceholders = { albName: 'ALB_NAME', serviceName: 'SERVICE_NAME' } as const;

/**
 * The policy with its placeholders filled in: `ALB_NAME` in resource ARNs becomes each load balancer name (one ARN per
 * name), a `SERVICE_NAME` condition value becomes the list of services.
 */
export function instantiatePolicy(policy: IamPolicy, fill: { albNames: readonly string[]; services: readonly string[] }): IamPolicy {
  const resources = (r: string | string[] | undefined): string | string[] | undefined =>
    r === undefined
      ? undefined
      : (Array.isArray(r) ? r : [r]).flatMap((arn) =>
          arn.includes(policyPlaceholders.albName) ? fill.albNames.map((n) => arn.split(policyPlaceholders.albName).join(n)) : [arn],
        );
  const values = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.flatMap((x) => (x === policyPlaceholders.serviceName ? [...fill.services] : [values(x)]))
      : v === policyPlaceholders.serviceName
        ? [...fill.services]
        : v && typeof v === 'object'
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, values(x)]))
          : v;
  return {
    ...policy,
    Statement: policy.Statement.map((s) => ({
      ...s,
      Resource: resources(s.Resource),
      ...(s.Condition ? { Condition: values(s.Condition) as Record<string, unknown> } : {}),
    })),
  };
}

/** One authorization AWS makes: the action, the resource ARN (`*` for actions without resource types) and the condition context. */
export interface AuthRequest {
  action: string;
  resource: string;
  context: Record<string, string | string[]>;
  /** The call it is made for (`elasticloadbalancing:CreateTargetGroup checkout-v2-abc`). */
  neededFor: string;
}

/** A recorded call (dev/fault-proxy.ts FaultStats.calls). */
export interface CallRecord {
  caller: string;
  action: string;
  region: string;
  params: Record<string, string>;
}

/** `Tags.member.N.Key/Value` of an awsQuery request. */
function requestTags(params: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) {
    const m = /^Tags\.member\.(\d+)\.Key$/.exec(k);
    if (m) out[v] = params[`Tags.member.${m[1]}.Value`] ?? '';
  }
  return out;
}

function tagContext(prefix: 'aws:ResourceTag' | 'aws:RequestTag', tags: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).map(([k, v]) => [`${prefix}/${k}`, v]));
}

/**
 * What AWS authorizes for one recorded call: the call on its resource (with the resource's tags, from `tagsOf`, and the
 * request's tags), plus the AddTags that tag-on-create implies (with `elasticloadbalancing:CreateAction`).
 */
export function authRequestsOf(call: CallRecord, account: string, tagsOf: (arn: string) => Record<string, string>): AuthRequest[] {
  const p = call.params;
  const elb = (rest: string): string => `arn:aws:elasticloadbalancing:${call.region}:${account}:${rest}`;
  const onResource = (arn: string, extra: Record<string, string | string[]> = {}): AuthRequest => ({
    action: call.action,
    resource: arn,
    context: { ...tagContext('aws:ResourceTag', tagsOf(arn)), ...extra },
    neededFor: `${call.action} ${arn}`,
  });
  const withRequestTags = (tags: Record<string, string>): Record<string, string | string[]> =>
    Object.keys(tags).length ? { ...tagContext('aws:RequestTag', tags), 'aws:TagKeys': Object.keys(tags) } : {};
  const name = call.action.slice(call.action.indexOf(':') + 1);
  switch (call.action) {
    case 'elasticloadbalancing:CreateTargetGroup':
    case 'elasticloadbalancing:CreateRule': {
      const tags = requestTags(p);
      // A new group's ARN is not known before the call: its name with a placeholder id. A new rule's tags authorize on the rule.
      const created =
        name === 'CreateTargetGroup'
          ? elb(`targetgroup/${p.Name ?? ''}/0000000000000000`)
          : `${(p.ListenerArn ?? '').replace(':listener/', ':listener-rule/')}/0000000000000000`;
      const main = name === 'CreateTargetGroup' ? created : (p.ListenerArn ?? '');
      const out: AuthRequest[] = [{ action: call.action, resource: main, context: withRequestTags(tags), neededFor: `${call.action} ${main}` }];
      if (Object.keys(tags).length)
        out.push({
          action: 'elasticloadbalancing:AddTags',
          resource: created,
          context: { ...withRequestTags(tags), 'elasticloadbalancing:CreateAction': name },
          neededFor: `tags of ${call.action} ${created}`,
        });
      return out;
    }
    case 'elasticloadbalancing:AddTags':
    case 'elasticloadbalancing:RemoveTags': {
      const arns = Object.entries(p)
        .filter(([k]) => /^ResourceArns\.member\.\d+$/.test(k))
        .map(([, v]) => v);
      return arns.map((arn) => onResource(arn, withRequestTags(requestTags(p))));
    }
    case 'elasticloadbalancing:ModifyListener':
      return [onResource(p.ListenerArn ?? '')];
    case 'elasticloadbalancing:ModifyRule':
    case 'elasticloadbalancing:DeleteRule':
      return [onResource(p.RuleArn ?? '')];
    case 'elasticloadbalancing:ModifyTargetGroupAttributes':
    case 'elasticloadbalancing:ModifyTargetGroup':
    case 'elasticloadbalancing:RegisterTargets':
    case 'elasticloadbalancing:DeregisterTargets':
    case 'elasticloadbalancing:DeleteTargetGroup':
      return [onResource(p.TargetGroupArn ?? '')];
    case 'sts:AssumeRole':
      return [{ action: call.action, resource: p.RoleArn ?? '', context: {}, neededFor: `${call.action} ${p.RoleArn ?? ''}` }];
    default:
      // Describe*, GetMetricData, DescribeAlarms, GetCallerIdentity: no resource-level permissions.
      if (/^(elasticloadbalancing|cloudwatch|sts):(Describe|Get)/.test(call.action))
        return [{ action: call.action, resource: '*', context: {}, neededFor: call.action }];
      throw new Error(`authRequestsOf: no resource mapping for ${call.action}; add one (dev/iam-check.ts)`);
  }
}

export type Decision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

/** The decision of a real IAM evaluator (@cloud-copilot/iam-simulate) for one request against one identity policy. */
export async function evaluate(policy: IamPolicy, request: AuthRequest, principal = 'arn:aws:iam::123456789012:role/canary-worker'): Promise<Decision> {
  const { runSimulation } = await import('@cloud-copilot/iam-simulate');
  const account = /^arn:aws:[^:]*:[^:]*:(\d{12}):/.exec(request.resource)?.[1] ?? /^arn:aws:iam::(\d{12}):/.exec(principal)?.[1] ?? '123456789012';
  const result = await runSimulation(
    {
      identityPolicies: [{ name: 'canary-worker', policy }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: { action: request.action, principal, resource: { accountId: account, resource: request.resource }, contextVariables: request.context },
    },
    {},
  );
  if (result.resultType === 'error') throw new Error(`IAM simulation of ${request.neededFor} failed: ${JSON.stringify(result.errors)}`);
  return result.overallResult as Decision;
}

/** Evaluates every request; returns the ones not allowed, with the decision. */
export async function deniedRequests(policy: IamPolicy, requests: readonly AuthRequest[]): Promise<(AuthRequest & { decision: Decision })[]> {
  const out: (AuthRequest & { decision: Decision })[] = [];
  // Many calls repeat (every Describe, every weight step on one listener): each distinct authorization is simulated once.
  const decided = new Map<string, Decision>();
  for (const r of requests) {
    const key = JSON.stringify([r.action, r.resource, Object.entries(r.context).sort()]);
    const decision = decided.get(key) ?? (await evaluate(policy, r));
    decided.set(key, decision);
    if (decision !== 'Allowed') out.push({ ...r, decision });
  }
  return out;
}

/** The recorded calls of one caller, from the proxy's stats. */
export function callsOf(stats: { calls?: CallRecord[] }, caller = workerCaller): CallRecord[] {
  return (stats.calls ?? []).filter((c) => c.caller === caller);
}
