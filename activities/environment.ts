/**
 * Target groups of a release: clone the stable group as canary/baseline (or take the idle group of a pair),
 * register targets, wait until healthy, drain, and tear down, never while a forward action still routes to the group.
 */
import {
  AddTagsCommand,
  CreateTargetGroupCommand,
  DeleteTargetGroupCommand,
  DeregisterTargetsCommand,
  DescribeListenersCommand,
  DescribeRulesCommand,
  DescribeTagsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
  type Action,
  type ElasticLoadBalancingV2Client,
  type TargetDescription,
  type TargetGroup,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { activityInfo, Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { targetKind, type Target } from '../common/spec';
import { describeTargetHealth, describeUnhealthy, notAttached } from '../common/target-health';
import type { ClientResolver } from './aws-clients';
import { aws, isNotFound } from './errors';
import { FreshReads } from './fresh-read';
import {
  ErrorTypes,
  Tags,
  type AwsScope,
  type DrainResult,
  type EnsuredTargetGroup,
  type HealthyTargets,
  type PreparedIdleGroup,
  type Scoped,
  type TargetGroupRoom,
  type TargetHealthReport,
  type TrafficRef,
} from './contract';
import { forwardTargets, loadBalancerArnOf, loadBalancerDimension, targetGroupDimension } from './traffic';

/** `10.0.1.17:8080`, or the id alone when the port is the group's. */
export function targetLabel(t: { id: string; port?: number }): string {
  return t.port === undefined ? t.id : `${t.id}:${t.port}`;
}

/** RegisterTargets / DeregisterTargets / DescribeTargetHealth form of a target. */
function description(t: Target): TargetDescription {
  return { Id: t.id, Port: t.port, AvailabilityZone: t.availabilityZone };
}

/** How often an activity heartbeats while it waits on AWS calls (well inside the 30 s heartbeat timeouts). */
const KEEP_ALIVE_MS = 5_000;

/** Runs `work`, heartbeating `details` at once and every KEEP_ALIVE_MS until it settles. */
async function keepAlive<T>(ctx: Context, details: unknown, work: () => Promise<T>): Promise<T> {
  ctx.heartbeat(details);
  const timer = setInterval(() => ctx.heartbeat(details), KEEP_ALIVE_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** How much of each waiting activity's state goes into a heartbeat (details stay small: they are stored per beat). */
const MAX_REPORTED_TARGETS = 50;

/**
 * ALB's quota of unique target groups per load balancer, across all its listeners and rules (a group in several
 * actions counts once). Not adjustable, so not read from DescribeAccountLimits.
 */
export const TARGET_GROUPS_PER_LOAD_BALANCER = 100;

/**
 * The tag CloudFormation (and CDK, which deploys through it) puts on every resource of a stack: a group carrying it
 * belongs to the stack, always counted as owned by infrastructure code.
 */
export const CLOUDFORMATION_STACK_TAG = 'aws:cloudformation:stack-name';

/** How often the health wait asks AWS at most: AWS's own checks are at least 5 s apart; never more than once a second. */
const MIN_HEALTH_POLL_MS = 1_000;
/** How long the health wait waits between two asks at most (AWS seconds): a 5-minute health check interval is not polled that rarely. */
const MAX_HEALTH_POLL_SECONDS = 30;

/**
 * The health wait's cadence: the group's own health check interval (nothing changes between two checks), at most
 * MAX_HEALTH_POLL_SECONDS, in real time at `timeScale` AWS seconds per real second, and not under MIN_HEALTH_POLL_MS.
 */
export function healthPollMs(intervalSeconds: number | undefined, timeScale = 1): number {
  const seconds = Math.min(intervalSeconds && intervalSeconds > 0 ? intervalSeconds : 30, MAX_HEALTH_POLL_SECONDS);
  return Math.max(MIN_HEALTH_POLL_MS, Math.round((seconds * 1000) / timeScale));
}

/** What the environment activities take from the worker's settings. */
export interface EnvironmentOptions {
  /**
   * Tags that mark a target group as owned by infrastructure code, `key` (any value) or `key=value`, besides
   * CLOUDFORMATION_STACK_TAG (worker variable CANARY_OWNERSHIP_TAGS). Finalizing does not delete such a group.
   */
  ownershipTags?: readonly string[];
  /**
   * AWS seconds per real second of the AWS endpoint: 1 against AWS; the local stack compresses time (its health
   * checks run that much faster), and the health wait polls at the same pace.
   */
  timeScale?: number;
}

/** `key` or `key=value` entries as matchers; the CloudFormation stack tag always among them. */
function ownershipMatchers(entries: readonly string[] = []): { key: string; value?: string }[] {
  const out = [{ key: CLOUDFORMATION_STACK_TAG }] as { key: string; value?: string }[];
  for (const e of entries) {
    const i = e.indexOf('=');
    const m = i < 0 ? { key: e.trim() } : { key: e.slice(0, i).trim(), value: e.slice(i + 1).trim() };
    if (m.key && !out.some((o) => o.key === m.key && o.value === m.value)) out.push(m);
  }
  return out;
}

export function createEnvironmentActivities(clients: ClientResolver, options: EnvironmentOptions = {}) {
  const owners = ownershipMatchers(options.ownershipTags);
  const timeScale = options.timeScale && options.timeScale > 0 ? options.timeScale : 1;
  /** Forward-action scans in flight, per client (account, region, role) and load balancer. */
  const scans = new WeakMap<ElasticLoadBalancingV2Client, FreshReads<Map<string, number>>>();
  const elbv2Of = async (scope: AwsScope | undefined): Promise<ElasticLoadBalancingV2Client> => (await clients(scope)).elbv2;

  async function findByName(elbv2: ElasticLoadBalancingV2Client, name: string): Promise<TargetGroup | undefined> {
    try {
      const out = await aws('DescribeTargetGroups', () => elbv2.send(new DescribeTargetGroupsCommand({ Names: [name] })));
      return out.TargetGroups?.[0];
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async function findByArn(elbv2: ElasticLoadBalancingV2Client, arn: string): Promise<TargetGroup | undefined> {
    try {
      const out = await aws('DescribeTargetGroups', () => elbv2.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [arn] })));
      return out.TargetGroups?.[0];
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async function tagsOf(elbv2: ElasticLoadBalancingV2Client, arn: string): Promise<Record<string, string>> {
    const out = await aws('DescribeTags', () => elbv2.send(new DescribeTagsCommand({ ResourceArns: [arn] })));
    const tags: Record<string, string> = {};
    for (const t of out.TagDescriptions?.[0]?.Tags ?? []) if (t.Key) tags[t.Key] = t.Value ?? '';
    return tags;
  }

  /** Sets the version tags present on the group to `version`; returns the keys changed. */
  async function retag(elbv2: ElasticLoadBalancingV2Client, arn: string, keys: string[], version: string): Promise<string[]> {
    const tags = await tagsOf(elbv2, arn);
    const stale = keys.filter((k) => k in tags && tags[k] !== version);
    if (stale.length > 0) {
      await aws('AddTags', () => elbv2.send(new AddTagsCommand({ ResourceArns: [arn], Tags: stale.map((Key) => ({ Key, Value: version })) })));
    }
    return stale;
  }

  /** Copies the source's attributes where they differ (a retried attempt finds most already set). */
  async function syncAttributes(elbv2: ElasticLoadBalancingV2Client, sourceArn: string, targetArn: string): Promise<void> {
    const [src, dst] = await Promise.all([
      aws('DescribeTargetGroupAttributes', () => elbv2.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: sourceArn }))),
      aws('DescribeTargetGroupAttributes', () => elbv2.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: targetArn }))),
    ]);
    const current = new Map((dst.Attributes ?? []).map((a) => [a.Key, a.Value]));
    const changes = (src.Attributes ?? []).filter((a) => a.Key && current.get(a.Key) !== a.Value);
    if (changes.length > 0) {
      await aws('ModifyTargetGroupAttributes', () => elbv2.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: targetArn, Attributes: changes })));
    }
  }

  /**
   * Every target group a forward action of the load balancer sends to, with its highest weight: the default actions
   * and every rule of every listener (a target group serves one load balancer, so this is every place it can be).
   * One Describe call per listener: concurrent checks on one load balancer share a scan that started after they
   * asked (./fresh-read.ts), so a hundred releases finishing together do not each spend the account's Describe budget.
   */
  function routedTargetGroups(elbv2: ElasticLoadBalancingV2Client, listenerArn: string): Promise<Map<string, number>> {
    const loadBalancerArn = loadBalancerArnOf(listenerArn);
    let reads = scans.get(elbv2);
    if (!reads) {
      reads = new FreshReads<Map<string, number>>();
      scans.set(elbv2, reads);
    }
    return reads.get(loadBalancerArn, () => scanForwards(elbv2, loadBalancerArn));
  }

  async function scanForwards(elbv2: ElasticLoadBalancingV2Client, loadBalancerArn: string): Promise<Map<string, number>> {
    const listeners: { ListenerArn?: string; DefaultActions?: Action[] }[] = [];
    let marker: string | undefined;
    do {
      const out = await aws('DescribeListeners', () =>
        elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: loadBalancerArn, Marker: marker, PageSize: 400 })),
      );
      listeners.push(...(out.Listeners ?? []));
      marker = out.NextMarker;
    } while (marker);
    const actions: Action[] = listeners.flatMap((l) => l.DefaultActions ?? []);
    for (const l of listeners) {
      if (!l.ListenerArn) continue;
      const arn = l.ListenerArn;
      let ruleMarker: string | undefined;
      do {
        const out = await aws('DescribeRules', () => elbv2.send(new DescribeRulesCommand({ ListenerArn: arn, Marker: ruleMarker, PageSize: 400 })));
        actions.push(...(out.Rules ?? []).flatMap((r) => r.Actions ?? []));
        ruleMarker = out.NextMarker;
      } while (ruleMarker);
    }
    const routed = new Map<string, number>();
    for (const a of actions.filter((x) => x.Type === 'forward')) {
      for (const t of forwardTargets(a)) routed.set(t.targetGroupArn, Math.max(routed.get(t.targetGroupArn) ?? 0, t.weight));
    }
    return routed;
  }

  /** TargetGroupStillRouted (retryable) unless no forward action references the group (or, `no-traffic`, sends it any). */
  async function requireUnrouted(
    elbv2: ElasticLoadBalancingV2Client,
    ref: TrafficRef,
    arn: string,
    until: 'detached' | 'no-traffic',
    doing: string,
  ): Promise<void> {
    const weight = (await routedTargetGroups(elbv2, ref.listenerArn)).get(arn);
    if (weight === undefined || (until === 'no-traffic' && weight === 0)) return;
    throw ApplicationFailure.create({
      type: ErrorTypes.TargetGroupStillRouted,
      message: `not ${doing} ${targetGroupDimension(arn)}: a forward action of load balancer ${loadBalancerArnOf(ref.listenerArn)} still ${weight > 0 ? `sends it traffic (weight ${weight})` : 'references it (weight 0)'}`,
    });
  }

  /** Targets of the wrong kind for the group: AWS would refuse them one by one; say it once, with the field. */
  function checkKinds(tg: TargetGroup, targets: Target[]): void {
    const type = tg.TargetType ?? 'instance';
    const wrong = targets.filter((t) => targetKind(t.id) !== type);
    if (wrong.length > 0 && (type === 'ip' || type === 'instance')) {
      throw ApplicationFailure.create({
        type: ErrorTypes.TargetTypeMismatch,
        nonRetryable: true,
        message: `${tg.TargetGroupName} takes ${type === 'ip' ? 'IP addresses' : 'EC2 instance ids'} (target type ${type}); ${wrong.map((t) => t.id).join(', ')} ${wrong.length === 1 ? 'is' : 'are'} not`,
      });
    }
  }

  async function health(elbv2: ElasticLoadBalancingV2Client, arn: string, targets?: Target[]): Promise<TargetHealthDescription[]> {
    const out = await aws('DescribeTargetHealth', () =>
      elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn, Targets: targets?.map(description) })),
    );
    return out.TargetHealthDescriptions ?? [];
  }

  /** Registered targets that are not on their way out (draining ones leave by themselves). */
  function registered(descriptions: TargetHealthDescription[]): Target[] {
    return descriptions
      .filter((d) => d.Target?.Id && d.TargetHealth?.State !== 'draining' && d.TargetHealth?.State !== 'unavailable')
      .filter((d) => !(d.TargetHealth?.State === 'unused' && d.TargetHealth.Reason === 'Target.NotRegistered'))
      .map((d) => ({ id: d.Target?.Id as string, port: d.Target?.Port }));
  }

  /** Whether a registered target (with its port) is the wanted one (whose port may be the group's). */
  const matches = (wanted: Target, have: { id: string; port?: number }): boolean =>
    wanted.id === have.id && (wanted.port === undefined || have.port === undefined || wanted.port === have.port);

  async function register(elbv2: ElasticLoadBalancingV2Client, arn: string, targets: Target[]): Promise<Target[]> {
    const have = registered(await health(elbv2, arn));
    const missing = targets.filter((t) => !have.some((h) => matches(t, h)));
    if (missing.length > 0) {
      await aws('RegisterTargets', () => elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: missing.map(description) })));
    }
    return missing;
  }

  async function describeGroup(elbv2: ElasticLoadBalancingV2Client, arn: string): Promise<TargetGroup> {
    const tg = await findByArn(elbv2, arn);
    if (!tg) throw ApplicationFailure.create({ type: ErrorTypes.InvalidAwsRequest, nonRetryable: true, message: `target group ${arn} not found` });
    return tg;
  }

  return {
    async checkTargetGroupRoom(input: TrafficRef & Scoped & { adding: string[] }): Promise<TargetGroupRoom> {
      const elbv2 = await elbv2Of(input.aws);
      const onLoadBalancer = (await routedTargetGroups(elbv2, input.listenerArn)).size;
      const room = { onLoadBalancer, limit: TARGET_GROUPS_PER_LOAD_BALANCER, adding: input.adding.length };
      if (onLoadBalancer + input.adding.length > TARGET_GROUPS_PER_LOAD_BALANCER) {
        throw ApplicationFailure.create({
          type: ErrorTypes.NoRoomForTargetGroup,
          nonRetryable: true,
          message:
            `load balancer ${loadBalancerDimension(input.listenerArn)} has ${onLoadBalancer} target groups in its listeners' forward actions and ALB allows ` +
            `${TARGET_GROUPS_PER_LOAD_BALANCER} (not adjustable); the release would add ${input.adding.length} (${input.adding.join(', ')}): ` +
            `detach unused target groups from its listener rules first, or use environment.mode: pair`,
        });
      }
      return room;
    },

    async ensureTargetGroup(
      input: Scoped & { sourceTargetGroupArn: string; name: string; tags: Record<string, string>; versionTags?: { keys: string[]; version: string } },
    ): Promise<EnsuredTargetGroup> {
      const elbv2 = await elbv2Of(input.aws);
      const existing = await findByName(elbv2, input.name);
      if (existing?.TargetGroupArn) {
        const tags = await tagsOf(elbv2, existing.TargetGroupArn);
        if (tags[Tags.releaseId] !== input.tags[Tags.releaseId]) {
          throw ApplicationFailure.create({
            type: ErrorTypes.TargetGroupNameConflict,
            nonRetryable: true,
            message: `target group ${input.name} already exists and was not created by this release (its ${Tags.releaseId} is ${tags[Tags.releaseId] ?? 'absent'}); delete it or release another version`,
          });
        }
        await syncAttributes(elbv2, input.sourceTargetGroupArn, existing.TargetGroupArn);
        if (input.versionTags) await retag(elbv2, existing.TargetGroupArn, input.versionTags.keys, input.versionTags.version);
        return { targetGroupArn: existing.TargetGroupArn, name: input.name, dimension: targetGroupDimension(existing.TargetGroupArn), created: false };
      }
      const src = await findByArn(elbv2, input.sourceTargetGroupArn);
      if (!src)
        throw ApplicationFailure.create({
          type: ErrorTypes.InvalidAwsRequest,
          nonRetryable: true,
          message: `source target group ${input.sourceTargetGroupArn} not found`,
        });
      const versionKeys = new Set(input.versionTags?.keys ?? []);
      // The copy serves the new version: tags that name the version say so (canary:version alone would contradict them).
      const sourceTags = Object.entries(await tagsOf(elbv2, input.sourceTargetGroupArn))
        .filter(([k]) => !k.startsWith('canary:') && !k.startsWith('aws:'))
        .map(([k, v]) => [k, input.versionTags && versionKeys.has(k) ? input.versionTags.version : v] as const);
      const created = await aws(`CreateTargetGroup ${input.name}`, () =>
        elbv2.send(
          new CreateTargetGroupCommand({
            Name: input.name,
            Protocol: src.Protocol,
            ProtocolVersion: src.ProtocolVersion,
            Port: src.Port,
            VpcId: src.VpcId,
            TargetType: src.TargetType,
            IpAddressType: src.IpAddressType,
            HealthCheckEnabled: src.HealthCheckEnabled,
            HealthCheckProtocol: src.HealthCheckProtocol,
            HealthCheckPort: src.HealthCheckPort,
            HealthCheckPath: src.HealthCheckPath,
            HealthCheckIntervalSeconds: src.HealthCheckIntervalSeconds,
            HealthCheckTimeoutSeconds: src.HealthCheckTimeoutSeconds,
            HealthyThresholdCount: src.HealthyThresholdCount,
            UnhealthyThresholdCount: src.UnhealthyThresholdCount,
            Matcher: src.Matcher,
            Tags: [...sourceTags.map(([Key, Value]) => ({ Key, Value })), ...Object.entries(input.tags).map(([Key, Value]) => ({ Key, Value }))],
          }),
        ),
      );
      const arn = created.TargetGroups?.[0]?.TargetGroupArn;
      if (!arn) throw ApplicationFailure.create({ type: 'CreateTargetGroupEmpty', message: `CreateTargetGroup ${input.name} answered without an ARN` });
      await syncAttributes(elbv2, input.sourceTargetGroupArn, arn);
      return { targetGroupArn: arn, name: input.name, dimension: targetGroupDimension(arn), created: true };
    },

    async retagVersion(input: Scoped & { targetGroupArn: string; keys: string[]; version: string }): Promise<{ changed: string[] }> {
      const elbv2 = await elbv2Of(input.aws);
      return { changed: await retag(elbv2, input.targetGroupArn, input.keys, input.version) };
    },

    async registerTargets(input: Scoped & { targetGroupArn: string; targets: Target[] }): Promise<void> {
      const elbv2 = await elbv2Of(input.aws);
      checkKinds(await describeGroup(elbv2, input.targetGroupArn), input.targets);
      await register(elbv2, input.targetGroupArn, input.targets);
    },

    async waitHealthy(input: Scoped & { targetGroupArn: string; targets: Target[]; timeoutMs: number }): Promise<HealthyTargets> {
      const elbv2 = await elbv2Of(input.aws);
      const ctx = Context.current();
      // The deadline spans retries: the first attempt's start (and the cadence it read) come back in the heartbeat details.
      const resumed = activityInfo().heartbeatDetails as { startedAt?: number; pollMs?: number } | undefined;
      const startedAt = resumed?.startedAt ?? Date.now();
      // Read once: a target's state changes only at the group's health checks, and every ask spends the account's
      // shared Describe budget (10 per second for every tool in it).
      const pollMs = resumed?.pollMs ?? healthPollMs((await describeGroup(elbv2, input.targetGroupArn)).HealthCheckIntervalSeconds, timeScale);
      for (;;) {
        // Asking for each target by name makes AWS answer for missing ones too (Target.NotRegistered).
        const descriptions = await health(elbv2, input.targetGroupArn, input.targets);
        const reports: TargetHealthReport[] = input.targets.map((t) => {
          const d = descriptions.find((x) => x.Target?.Id && matches(t, { id: x.Target.Id, port: x.Target.Port }));
          const port = t.port ?? d?.Target?.Port;
          return {
            target: targetLabel({ id: t.id, port }),
            state: d?.TargetHealth?.State ?? 'unavailable',
            reason: d ? d.TargetHealth?.Reason : 'Target.NotRegistered',
            description: d?.TargetHealth?.Description,
          };
        });
        const healthy = reports.filter((r) => r.state === 'healthy').length;
        const bad = reports.filter((r) => r.state !== 'healthy');
        const details = { startedAt, pollMs, healthy, total: reports.length, targets: bad.slice(0, MAX_REPORTED_TARGETS).map(describeTargetHealth) };
        ctx.heartbeat(details);
        if (bad.length === 0) return { healthy, waitedMs: Date.now() - startedAt, targets: reports };
        if (Date.now() - startedAt > input.timeoutMs) {
          const hint = notAttached(bad)
            ? ' The load balancer health-checks a group only while a forward action references it: attach it at weight 0 before waiting.'
            : '';
          throw ApplicationFailure.create({
            type: ErrorTypes.TargetsUnhealthy,
            nonRetryable: true,
            message: `${healthy}/${reports.length} targets healthy in ${targetGroupDimension(input.targetGroupArn)} after ${Math.round(input.timeoutMs / 1000)}s: ${describeUnhealthy(reports)}.${hint}`,
            details: [{ targets: reports }],
          });
        }
        // Until the next health check (the last ask at the deadline), heartbeating well inside the heartbeat timeout.
        const nextAt = Date.now() + Math.min(pollMs, startedAt + input.timeoutMs + 1 - Date.now());
        for (let left = nextAt - Date.now(); left > 0; left = nextAt - Date.now()) {
          await ctx.sleep(Math.min(left, KEEP_ALIVE_MS));
          ctx.heartbeat(details);
        }
      }
    },

    async targetGroupOwner(input: Scoped & { targetGroupArn: string }): Promise<{ owner?: string }> {
      const elbv2 = await elbv2Of(input.aws);
      let tags: Record<string, string>;
      try {
        tags = await tagsOf(elbv2, input.targetGroupArn);
      } catch (err) {
        if (isNotFound(err)) return {};
        throw err;
      }
      // A group a release created is canary's own, whatever tags it copied from the group it cloned.
      if (tags[Tags.releaseId]) return {};
      const hit = owners.find((o) => o.key in tags && (o.value === undefined || tags[o.key] === o.value));
      return hit ? { owner: `tagged ${hit.key}=${tags[hit.key]}` } : {};
    },

    async drainTargetGroup(input: TrafficRef & Scoped & { targetGroupArn: string; capMs: number; until?: 'detached' | 'no-traffic' }): Promise<DrainResult> {
      const elbv2 = await elbv2Of(input.aws);
      const ctx = Context.current();
      const resumed = activityInfo().heartbeatDetails as { startedAt?: number; delayMs?: number } | undefined;
      const startedAt = resumed?.startedAt ?? Date.now();
      // The check before the wait can take long when many releases finish at once (throttled or shared scans): it
      // heartbeats, so a slow check is not timed out and started over. The details carry no startedAt of their own:
      // the drain is counted only from an attempt that found the group unrouted.
      const tg = await keepAlive(ctx, { ...resumed, checking: 'forward actions' }, async () => {
        const found = await findByArn(elbv2, input.targetGroupArn);
        if (found) await requireUnrouted(elbv2, input, input.targetGroupArn, input.until ?? 'detached', 'draining');
        return found;
      });
      if (!tg) return { delayMs: 0, waitedMs: 0, capped: false };
      let delayMs = resumed?.delayMs;
      if (delayMs === undefined) {
        const attrs = await aws('DescribeTargetGroupAttributes', () =>
          elbv2.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: input.targetGroupArn })),
        );
        // AWS's default when the attribute is missing (it never is on AWS; an emulator may omit it).
        const seconds = Number(attrs.Attributes?.find((a) => a.Key === 'deregistration_delay.timeout_seconds')?.Value ?? 300);
        delayMs = Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : 300_000;
      }
      const waitMs = Math.min(delayMs, Math.max(0, input.capMs));
      const deadline = startedAt + waitMs;
      for (let left = deadline - Date.now(); left > 0; left = deadline - Date.now()) {
        ctx.heartbeat({ startedAt, delayMs, deadline: new Date(deadline).toISOString() });
        await ctx.sleep(Math.min(left, 5_000));
      }
      return { delayMs, waitedMs: Math.max(waitMs, Date.now() - startedAt), capped: waitMs < delayMs };
    },

    async deleteTargetGroup(input: TrafficRef & Scoped & { name: string }): Promise<{ deleted: boolean }> {
      const elbv2 = await elbv2Of(input.aws);
      const tg = await findByName(elbv2, input.name);
      if (!tg?.TargetGroupArn) return { deleted: false };
      const arn = tg.TargetGroupArn;
      // The invariant: nothing is torn down until a describe shows no forward action sends it traffic. The check
      // heartbeats, as the drain's does: it can wait behind a shared scan of every listener.
      await keepAlive(Context.current(), { checking: 'forward actions' }, () => requireUnrouted(elbv2, input, arn, 'detached', 'deleting'));
      try {
        await aws(`DeleteTargetGroup ${input.name}`, () => elbv2.send(new DeleteTargetGroupCommand({ TargetGroupArn: arn })));
      } catch (err) {
        if (isNotFound(err)) return { deleted: false };
        throw err;
      }
      return { deleted: true };
    },

    async prepareIdleGroup(input: Scoped & { targetGroupArn: string; targets?: Target[] }): Promise<PreparedIdleGroup> {
      const elbv2 = await elbv2Of(input.aws);
      const tg = await describeGroup(elbv2, input.targetGroupArn);
      const have = registered(await health(elbv2, input.targetGroupArn));
      const name = tg.TargetGroupName ?? input.targetGroupArn;
      if (!input.targets?.length) {
        if (have.length === 0) {
          throw ApplicationFailure.create({
            type: ErrorTypes.IdleGroupEmpty,
            nonRetryable: true,
            message: `the idle group ${name} has no registered targets and the spec names no canaryTargets: register the new version's targets (or list them)`,
          });
        }
        return { targets: have, registered: [] };
      }
      checkKinds(tg, input.targets);
      const wanted = input.targets;
      const strangers = have.filter((h) => !wanted.some((t) => matches(t, h)));
      if (strangers.length > 0) {
        // They would get the canary's traffic; and they are not ours to deregister.
        throw ApplicationFailure.create({
          type: ErrorTypes.IdleGroupNotEmpty,
          nonRetryable: true,
          message: `the idle group ${name} holds targets that are not canaryTargets: ${strangers.map(targetLabel).join(', ')}; deregister them (or list them) first`,
        });
      }
      return { targets: wanted, registered: await register(elbv2, input.targetGroupArn, wanted) };
    },

    async deregisterTargets(input: TrafficRef & Scoped & { targetGroupArn: string; targets?: Target[] }): Promise<{ deregistered: Target[] }> {
      const elbv2 = await elbv2Of(input.aws);
      if (!(await findByArn(elbv2, input.targetGroupArn))) return { deregistered: [] };
      await keepAlive(Context.current(), { checking: 'forward actions' }, () =>
        requireUnrouted(elbv2, input, input.targetGroupArn, 'no-traffic', 'deregistering targets of'),
      );
      const have = registered(await health(elbv2, input.targetGroupArn));
      const gone = input.targets ? have.filter((h) => input.targets?.some((t) => matches(t, h))) : have;
      if (gone.length > 0) {
        await aws('DeregisterTargets', () =>
          elbv2.send(new DeregisterTargetsCommand({ TargetGroupArn: input.targetGroupArn, Targets: gone.map((t) => ({ Id: t.id, Port: t.port })) })),
        );
      }
      return { deregistered: gone };
    },
  };
}
