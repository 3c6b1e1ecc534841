/**
 * Segment rules: a listener rule per segment that forwards one group of users (office CIDRs, a beta cookie, a
 * country, a header) to the canary, placed just ahead of the service's own forward. Plan (read-only: room on the
 * load balancer, a free priority), ensure (checked again right before writing; a collision is refused, never
 * overwritten), check for drift, delete. Every rule is tagged with the release id and the segment name, so a
 * retried attempt finds its own rule and nothing else is ever touched. Each call works in its input's `aws` scope
 * (the spec's region and role), like every other ELB activity: the listener lives in the release's account.
 */
import {
  CreateRuleCommand,
  DeleteRuleCommand,
  DescribeAccountLimitsCommand,
  DescribeListenersCommand,
  DescribeRulesCommand,
  DescribeTagsCommand,
  type Action,
  type ElasticLoadBalancingV2Client,
  type Rule,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { ApplicationFailure } from '@temporalio/common';
import type { ClientResolver } from './aws-clients';
import { AlbRuleLimits, combineConditions, conditionsKey, segmentConditions, type RuleCondition, type SegmentMatch } from '../common/segments';
import { aws, isNotFound } from './errors';
import {
  ErrorTypes,
  Tags,
  type EnsuredSegmentRule,
  type SegmentRoom,
  type SegmentRuleCheck,
  type SegmentRuleDelete,
  type SegmentRulePlan,
  type SegmentRuleRequest,
  type Scoped,
  type ReleaseActivities,
  type TrafficRef,
} from './contract';
import { forwardTargets, loadBalancerArnOf } from './traffic';

/** What the release routes: the service rule's priority, conditions and actions, or the listener's default. */
interface ServiceRoute {
  /** The rule's priority; above every rule priority for the listener default (it is evaluated last). */
  priority: number;
  conditions: RuleCondition[];
  actions: Action[];
  isDefault: boolean;
  /** Every other field of the rule the SDK models (its `Transforms`: URL and host-header rewrite), copied as it is. */
  copied: CopiedRuleFields;
}

/** The fields of a rule a segment rule copies unchanged: all but the ones it writes itself. */
type CopiedRuleFields = Omit<Rule, 'RuleArn' | 'Priority' | 'IsDefault' | 'Conditions' | 'Actions'>;

interface ListenerRules {
  /** Non-default rules with their numeric priorities. */
  rules: (Rule & { priorityNumber: number })[];
  service: ServiceRoute;
}

const fail = (type: string, message: string, cause?: unknown): ApplicationFailure =>
  ApplicationFailure.create({ type, nonRetryable: true, message, cause: cause instanceof Error ? cause : undefined });

/** The AWS error name inside what `aws()` threw (its type when retryable, details[0] when not). */
function awsName(err: unknown): string {
  if (err instanceof ApplicationFailure) return String(err.details?.[0] ?? err.type ?? '');
  return '';
}

/** JSON copy, undefined dropped: conditions as AWS returned them, for comparing and for writing back. */
function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value ?? null)) as T;
}

/**
 * Every field of a rule that a segment rule copies as it is: whatever the SDK models besides the ARN, priority,
 * conditions and actions the segment rule writes itself. Today that is `Transforms`: a copy without them would reach
 * the canary un-rewritten. Empty lists count as absent (AWS may answer either for a rule without transforms).
 */
export function copiedRuleFields(rule: Rule): CopiedRuleFields {
  const { RuleArn: _arn, Priority: _priority, IsDefault: _isDefault, Conditions: _conditions, Actions: _actions, ...rest } = rule;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(plain(rest) as Record<string, unknown>)) {
    if (k === 'priorityNumber' || v === null || (Array.isArray(v) && v.length === 0)) continue;
    out[k] = v;
  }
  return out as CopiedRuleFields;
}

/** A value as text with object keys sorted: the same fields compare equal whatever order a parser gave them. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

/**
 * The segment activities over the clients of each input's scope (`aws`: region and role; absent: the worker's own).
 */
export function createSegmentActivities(clients: ClientResolver) {
  const within = async (scope: Scoped['aws']) => segmentRulesVia((await clients(scope)).elbv2);
  return {
    async checkSegmentRoom(input: SegmentRoomRequest): Promise<SegmentRoom> {
      return (await within(input.aws)).checkSegmentRoom(input);
    },
    async planSegmentRule(input: SegmentRuleRequest): Promise<SegmentRulePlan> {
      return (await within(input.aws)).planSegmentRule(input);
    },
    async ensureSegmentRule(input: SegmentRuleRequest & { priority: number }): Promise<EnsuredSegmentRule> {
      return (await within(input.aws)).ensureSegmentRule(input);
    },
    async checkSegmentRule(input: SegmentRuleCheck): Promise<void> {
      return (await within(input.aws)).checkSegmentRule(input);
    },
    async deleteSegmentRule(input: SegmentRuleDelete): Promise<{ deleted: boolean }> {
      return (await within(input.aws)).deleteSegmentRule(input);
    },
  };
}

/** The segment operations through one ELB client (one account and region). */
function segmentRulesVia(elbv2: ElasticLoadBalancingV2Client) {
  async function describeRules(listenerArn: string): Promise<Rule[]> {
    const rules: Rule[] = [];
    let marker: string | undefined;
    do {
      const out = await aws('DescribeRules', () => elbv2.send(new DescribeRulesCommand({ ListenerArn: listenerArn, Marker: marker, PageSize: 400 })));
      rules.push(...(out.Rules ?? []));
      marker = out.NextMarker;
    } while (marker);
    return rules;
  }

  async function readListener(ref: TrafficRef): Promise<ListenerRules> {
    let all: Rule[];
    try {
      all = await describeRules(ref.listenerArn);
    } catch (err) {
      if (isNotFound(err))
        throw fail(ErrorTypes.ListenerNotFound, `listener ${ref.listenerArn} does not exist (check traffic.listenerArn and the region)`, err);
      throw err;
    }
    const rules = all.filter((r) => !r.IsDefault && r.Priority !== 'default').map((r) => ({ ...r, priorityNumber: Number(r.Priority) }));
    let service: ServiceRoute;
    if (ref.ruleArn) {
      const rule = rules.find((r) => r.RuleArn === ref.ruleArn);
      if (!rule) throw fail(ErrorTypes.ListenerNotFound, `rule ${ref.ruleArn} is not a rule of listener ${ref.listenerArn}`);
      service = {
        priority: rule.priorityNumber,
        conditions: plain((rule.Conditions ?? []) as RuleCondition[]),
        actions: rule.Actions ?? [],
        isDefault: false,
        copied: copiedRuleFields(rule),
      };
    } else {
      const out = await aws('DescribeListeners', () => elbv2.send(new DescribeListenersCommand({ ListenerArns: [ref.listenerArn] })));
      const listener = out.Listeners?.[0];
      if (!listener) throw fail(ErrorTypes.ListenerNotFound, `listener ${ref.listenerArn} not found`);
      const defaultRule = all.find((r) => r.IsDefault || r.Priority === 'default');
      service = {
        priority: AlbRuleLimits.maxPriority + 1,
        conditions: [],
        actions: listener.DefaultActions ?? [],
        isDefault: true,
        copied: defaultRule ? copiedRuleFields(defaultRule) : {},
      };
    }
    return { rules, service };
  }

  async function tagsOf(arns: string[]): Promise<Map<string, Record<string, string>>> {
    const tags = new Map<string, Record<string, string>>();
    // DescribeTags takes at most 20 resources per call.
    for (let i = 0; i < arns.length; i += 20) {
      const out = await aws('DescribeTags', () => elbv2.send(new DescribeTagsCommand({ ResourceArns: arns.slice(i, i + 20) })));
      for (const d of out.TagDescriptions ?? []) {
        if (d.ResourceArn) tags.set(d.ResourceArn, Object.fromEntries((d.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])));
      }
    }
    return tags;
  }

  const isOurs = (tags: Record<string, string> | undefined, releaseId: string, name: string): boolean =>
    tags?.[Tags.releaseId] === releaseId && tags[Tags.role] === 'segment' && tags[Tags.segment] === name;

  /** The rules this release created on the listener, by segment name. */
  async function ownRules(rules: ListenerRules['rules'], releaseId: string): Promise<Map<string, ListenerRules['rules'][number]>> {
    const tags = await tagsOf(rules.flatMap((r) => (r.RuleArn ? [r.RuleArn] : [])));
    const out = new Map<string, ListenerRules['rules'][number]>();
    for (const r of rules) {
      const t = tags.get(r.RuleArn ?? '');
      const name = t?.[Tags.segment];
      if (name && isOurs(t, releaseId, name)) out.set(name, r);
    }
    return out;
  }

  /** Non-default rules on every listener of the load balancer: what ALB's rules quota counts. */
  async function rulesOnLoadBalancer(listenerArn: string): Promise<number> {
    const listeners: string[] = [];
    let marker: string | undefined;
    do {
      const out = await aws('DescribeListeners', () =>
        elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: loadBalancerArnOf(listenerArn), Marker: marker, PageSize: 400 })),
      );
      listeners.push(...(out.Listeners ?? []).flatMap((l) => (l.ListenerArn ? [l.ListenerArn] : [])));
      marker = out.NextMarker;
    } while (marker);
    let count = 0;
    for (const l of listeners) count += (await describeRules(l)).filter((r) => !r.IsDefault && r.Priority !== 'default').length;
    return count;
  }

  /** The account's rules-per-load-balancer quota; the documented default when the worker may not read it. */
  async function ruleLimit(): Promise<{ limit: number; source: string }> {
    try {
      const out = await aws('DescribeAccountLimits', () => elbv2.send(new DescribeAccountLimitsCommand({})));
      const max = Number(out.Limits?.find((l) => l.Name === 'rules-per-application-load-balancer')?.Max);
      if (Number.isInteger(max) && max > 0) return { limit: max, source: 'DescribeAccountLimits' };
    } catch (err) {
      if (!/AccessDenied|UnauthorizedOperation/.test(awsName(err))) throw err;
    }
    return { limit: AlbRuleLimits.rulesPerLoadBalancer, source: 'the documented default (DescribeAccountLimits not allowed or not answered)' };
  }

  /** Free priorities that take precedence over the service's forward, highest (closest to the service) first. */
  function freePriorities(listener: ListenerRules, limit = Infinity): number[] {
    const taken = new Set(listener.rules.map((r) => r.priorityNumber));
    const out: number[] = [];
    for (let p = listener.service.priority - 1; p >= 1 && out.length < limit; p--) if (!taken.has(p)) out.push(p);
    return out;
  }

  function where(ref: TrafficRef): string {
    return ref.ruleArn ? `rule ${ref.ruleArn}` : `the default action of listener ${ref.listenerArn}`;
  }

  /** The segment rule's conditions and actions, or SegmentRuleUnsupported saying why ALB (or we) cannot write it. */
  function ruleBody(input: { name: string; match: SegmentMatch; canaryTargetGroupArn: string }, ref: TrafficRef, service: ServiceRoute) {
    const combined = combineConditions(service.conditions, segmentConditions(input.match));
    if ('problem' in combined) throw fail(ErrorTypes.SegmentRuleUnsupported, `segment ${input.name}: ${combined.problem}`);
    const forwards = service.actions.filter((a) => a.Type === 'forward');
    if (forwards.length !== 1) {
      throw fail(ErrorTypes.UnsupportedListener, `${where(ref)} has ${forwards.length} forward actions; a segment rule copies the one forward of the service`);
    }
    if (service.actions.some((a) => a.Type === 'authenticate-oidc')) {
      // AWS never returns an OIDC client secret, and a new rule has no existing one to reuse.
      throw fail(
        ErrorTypes.SegmentRuleUnsupported,
        `segment ${input.name}: ${where(ref)} authenticates with OIDC; a segment rule would need the client secret, which AWS never returns`,
      );
    }
    // The service's other actions (authentication) stay in front, so a segment never skips them.
    const actions: Action[] = service.actions.map((a) =>
      a.Type === 'forward'
        ? { Type: 'forward', Order: a.Order, ForwardConfig: { TargetGroups: [{ TargetGroupArn: input.canaryTargetGroupArn, Weight: 100 }] } }
        : plain(a),
    );
    return { conditions: combined.conditions, actions, copied: service.copied };
  }

  /** Compares a described rule with what the release wrote; the difference in words, or undefined. */
  function difference(
    rule: Rule,
    expected: { priority: number; conditions: RuleCondition[]; canaryTargetGroupArn: string; actionTypes: string[]; copied?: Record<string, unknown> },
  ): string | undefined {
    if (Number(rule.Priority) !== expected.priority) return `its priority is ${rule.Priority}, the release wrote ${expected.priority}`;
    if (conditionsKey(plain((rule.Conditions ?? []) as RuleCondition[])) !== conditionsKey(expected.conditions)) {
      return `its conditions are ${JSON.stringify(plain(rule.Conditions))}, the release wrote ${JSON.stringify(expected.conditions)}`;
    }
    // Absent in a rule recorded before the release copied the service rule's other fields: nothing to compare.
    if (expected.copied && canonical(copiedRuleFields(rule)) !== canonical(expected.copied)) {
      return `its ${Object.keys({ ...copiedRuleFields(rule), ...expected.copied }).join(', ') || 'other fields'} are ${JSON.stringify(copiedRuleFields(rule))}, the release wrote ${JSON.stringify(expected.copied)}`;
    }
    const types = (rule.Actions ?? []).map((a) => a.Type ?? '');
    if (types.join(',') !== expected.actionTypes.join(','))
      return `its actions are [${types.join(', ')}], the release wrote [${expected.actionTypes.join(', ')}]`;
    const forward = (rule.Actions ?? []).find((a) => a.Type === 'forward');
    const targets = forward ? forwardTargets(forward).filter((t) => t.weight > 0) : [];
    if (targets.length !== 1 || targets[0]?.targetGroupArn !== expected.canaryTargetGroupArn) {
      return `it forwards to ${JSON.stringify(targets)}, the release wrote 100% to ${expected.canaryTargetGroupArn}`;
    }
    return undefined;
  }

  function ensured(rule: Rule, conditions: RuleCondition[], created: boolean): EnsuredSegmentRule {
    return {
      ruleArn: rule.RuleArn ?? '',
      priority: Number(rule.Priority),
      conditions: plain(conditions),
      actionTypes: (rule.Actions ?? []).map((a) => a.Type ?? ''),
      copied: copiedRuleFields(rule),
      created,
    };
  }

  async function describeRule(ruleArn: string): Promise<Rule | undefined> {
    try {
      const out = await aws('DescribeRules', () => elbv2.send(new DescribeRulesCommand({ RuleArns: [ruleArn] })));
      return out.Rules?.[0];
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Rules on the load balancer and its quota; the reason when `needed` more do not fit. */
  async function room(ref: TrafficRef, needed: number): Promise<{ count: number; limit: number; problem?: string }> {
    const [count, { limit, source }] = await Promise.all([rulesOnLoadBalancer(ref.listenerArn), ruleLimit()]);
    if (needed > 0 && count + needed > limit) {
      return {
        count,
        limit,
        problem: `the load balancer has ${count} listener rules and its quota is ${limit} (${source}); the release needs ${needed} more for its segments`,
      };
    }
    return { count, limit };
  }

  return {
    async checkSegmentRoom(input: SegmentRoomRequest): Promise<SegmentRoom> {
      const listener = await readListener(input);
      // Conditions and actions first: a segment that can never be written is refused before anything changes.
      for (const s of input.segments) ruleBody({ ...s, canaryTargetGroupArn: 'arn:check-only' }, input, listener.service);
      const own = await ownRules(listener.rules, input.releaseId);
      const needed = Math.max(0, input.concurrent - own.size);
      const { count, limit, problem } = await room(input, needed);
      if (problem) throw fail(ErrorTypes.NoRoomForSegmentRule, problem);
      const free = freePriorities(listener, needed).length;
      if (free < needed) {
        throw fail(
          ErrorTypes.NoRoomForSegmentRule,
          `only ${free} free priorities below ${where(input)} (priority ${listener.service.priority}), the release needs ${needed}; renumber the listener's rules to leave room`,
        );
      }
      return { rulesOnLoadBalancer: count, limit, needed, servicePriority: listener.service.isDefault ? null : listener.service.priority };
    },

    async planSegmentRule(input: SegmentRuleRequest): Promise<SegmentRulePlan> {
      const listener = await readListener(input);
      ruleBody(input, input, listener.service);
      const mine = (await ownRules(listener.rules, input.releaseId)).get(input.name);
      if (mine?.RuleArn) return { priority: mine.priorityNumber, existingRuleArn: mine.RuleArn };
      const { problem } = await room(input, 1);
      if (problem) throw fail(ErrorTypes.NoRoomForSegmentRule, problem);
      const [priority] = freePriorities(listener, 1);
      if (priority === undefined) {
        throw fail(
          ErrorTypes.NoRoomForSegmentRule,
          `no free priority below ${where(input)} (priority ${listener.service.priority}); renumber the listener's rules to leave room`,
        );
      }
      return { priority };
    },

    async ensureSegmentRule(input: SegmentRuleRequest & { priority: number }): Promise<EnsuredSegmentRule> {
      const listener = await readListener(input);
      const body = ruleBody(input, input, listener.service);
      const expected = {
        priority: input.priority,
        conditions: body.conditions,
        canaryTargetGroupArn: input.canaryTargetGroupArn,
        actionTypes: body.actions.map((a) => a.Type ?? ''),
        copied: body.copied,
      };

      const verify = async (ruleArn: string, created: boolean): Promise<EnsuredSegmentRule> => {
        const rule = await describeRule(ruleArn);
        const diff = rule ? difference(rule, expected) : 'it is gone';
        if (!rule || diff) {
          throw ApplicationFailure.create({
            type: ErrorTypes.SegmentRuleNotVerified,
            message: `segment ${input.name}: rule ${ruleArn} after the write: ${diff}`,
          });
        }
        return ensured(rule, body.conditions, created);
      };

      const mine = (await ownRules(listener.rules, input.releaseId)).get(input.name);
      if (mine?.RuleArn) return verify(mine.RuleArn, false);

      // Checked again right before writing: the plan may be minutes old, and people and other tools edit listeners.
      const occupant = listener.rules.find((r) => r.priorityNumber === input.priority);
      if (occupant) {
        throw fail(
          ErrorTypes.SegmentPriorityTaken,
          `segment ${input.name}: priority ${input.priority} was free when planned and is now taken by ${occupant.RuleArn}; the release does not overwrite it`,
        );
      }
      if (input.priority >= listener.service.priority) {
        throw fail(
          ErrorTypes.SegmentPriorityTaken,
          `segment ${input.name}: priority ${input.priority} no longer precedes ${where(input)} (now at priority ${listener.service.priority})`,
        );
      }
      const { problem } = await room(input, 1);
      if (problem) throw fail(ErrorTypes.NoRoomForSegmentRule, problem);

      let ruleArn: string | undefined;
      try {
        const out = await aws('CreateRule', () =>
          elbv2.send(
            new CreateRuleCommand({
              // The service rule's other fields first (Transforms): the segment's requests are rewritten as the service's are.
              ...body.copied,
              ListenerArn: input.listenerArn,
              Priority: input.priority,
              Conditions: body.conditions,
              Actions: body.actions,
              Tags: Object.entries({ ...input.tags, [Tags.releaseId]: input.releaseId, [Tags.role]: 'segment', [Tags.segment]: input.name }).map(
                ([Key, Value]) => ({ Key, Value }),
              ),
            }),
          ),
        );
        ruleArn = out.Rules?.[0]?.RuleArn;
      } catch (err) {
        const name = awsName(err);
        if (name === 'PriorityInUseException' || name === 'PriorityInUse') {
          // An earlier attempt of ours that timed out may have won the race; anything else is someone else's rule.
          const again = (await ownRules((await readListener(input)).rules, input.releaseId)).get(input.name);
          if (again?.RuleArn) return verify(again.RuleArn, false);
          throw fail(
            ErrorTypes.SegmentPriorityTaken,
            `segment ${input.name}: AWS says priority ${input.priority} is in use; the release does not overwrite it`,
            err,
          );
        }
        if (name === 'TooManyRulesException' || name === 'TooManyRules') {
          throw fail(ErrorTypes.NoRoomForSegmentRule, `segment ${input.name}: the load balancer has no room for another rule (${name})`, err);
        }
        throw err;
      }
      if (!ruleArn)
        throw ApplicationFailure.create({ type: ErrorTypes.SegmentRuleNotVerified, message: `segment ${input.name}: CreateRule answered without a rule ARN` });
      return verify(ruleArn, true);
    },

    async checkSegmentRule(input: SegmentRuleCheck): Promise<void> {
      const rule = await describeRule(input.rule.ruleArn);
      const diff = rule
        ? difference(rule, {
            priority: input.rule.priority,
            conditions: input.rule.conditions,
            canaryTargetGroupArn: input.canaryTargetGroupArn,
            actionTypes: input.rule.actionTypes,
            copied: input.rule.copied,
          })
        : 'it no longer exists';
      if (diff) {
        // The rule as it is now (null when gone) rides along, so a workflow that adopts the change can record it.
        const current: EnsuredSegmentRule | null = rule ? ensured(rule, plain((rule.Conditions ?? []) as RuleCondition[]), false) : null;
        throw ApplicationFailure.create({
          type: ErrorTypes.SegmentRuleDrifted,
          nonRetryable: true,
          message: `segment ${input.name}: listener rule ${input.rule.ruleArn} was changed by someone else: ${diff}; resume to adopt, abort to roll back`,
          details: [current],
        });
      }
    },

    async deleteSegmentRule(input: SegmentRuleDelete): Promise<{ deleted: boolean }> {
      let rule: Rule | undefined;
      if (input.ruleArn) {
        rule = await describeRule(input.ruleArn);
        if (rule && !isOurs((await tagsOf([input.ruleArn])).get(input.ruleArn), input.releaseId, input.name)) {
          throw fail(ErrorTypes.SegmentRuleNotOurs, `rule ${input.ruleArn} is not tagged as segment ${input.name} of ${input.releaseId}; it is left alone`);
        }
      } else {
        const listener = await readListener({ listenerArn: input.listenerArn });
        rule = (await ownRules(listener.rules, input.releaseId)).get(input.name);
      }
      const ruleArn = rule?.RuleArn;
      if (!ruleArn) return { deleted: false };
      try {
        await aws('DeleteRule', () => elbv2.send(new DeleteRuleCommand({ RuleArn: ruleArn })));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      const left = (await describeRules(input.listenerArn)).some((r) => r.RuleArn === ruleArn);
      if (left)
        throw ApplicationFailure.create({
          type: ErrorTypes.SegmentRuleNotVerified,
          message: `segment ${input.name}: rule ${ruleArn} is still listed after DeleteRule`,
        });
      return { deleted: true };
    },
  };
}

type SegmentRoomRequest = Parameters<ReleaseActivities['checkSegmentRoom']>[0];
