/**
 * Target groups of a release: clone the stable group as canary/baseline, register targets, wait until healthy,
 * and tear down, never while a forward action still references the group.
 */
import {
  CreateTargetGroupCommand,
  DeleteTargetGroupCommand,
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
  type TargetGroup,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { activityInfo, Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Target } from '../common/spec';
import { aws, isNotFound } from './errors';
import { ErrorTypes, Tags, type EnsuredTargetGroup, type TrafficRef } from './contract';
import { forwardTargets, targetGroupDimension } from './traffic';

export function createEnvironmentActivities(elbv2: ElasticLoadBalancingV2Client) {
  async function findByName(name: string): Promise<TargetGroup | undefined> {
    try {
      const out = await aws('DescribeTargetGroups', () => elbv2.send(new DescribeTargetGroupsCommand({ Names: [name] })));
      return out.TargetGroups?.[0];
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async function tagsOf(arn: string): Promise<Record<string, string>> {
    const out = await aws('DescribeTags', () => elbv2.send(new DescribeTagsCommand({ ResourceArns: [arn] })));
    const tags: Record<string, string> = {};
    for (const t of out.TagDescriptions?.[0]?.Tags ?? []) if (t.Key) tags[t.Key] = t.Value ?? '';
    return tags;
  }

  /** Copies the source's attributes where they differ (a retried attempt finds most already set). */
  async function syncAttributes(sourceArn: string, targetArn: string): Promise<void> {
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

  /** Every target group a forward action of this listener (default actions and all rules) references. */
  async function routedTargetGroups(listenerArn: string): Promise<Set<string>> {
    const [listeners, rules] = await Promise.all([
      aws('DescribeListeners', () => elbv2.send(new DescribeListenersCommand({ ListenerArns: [listenerArn] }))),
      aws('DescribeRules', () => elbv2.send(new DescribeRulesCommand({ ListenerArn: listenerArn }))),
    ]);
    const actions: Action[] = [...(listeners.Listeners?.[0]?.DefaultActions ?? []), ...(rules.Rules ?? []).flatMap((r) => r.Actions ?? [])];
    return new Set(actions.filter((a) => a.Type === 'forward').flatMap((a) => forwardTargets(a).map((t) => t.targetGroupArn)));
  }

  return {
    async ensureTargetGroup(input: { sourceTargetGroupArn: string; name: string; tags: Record<string, string> }): Promise<EnsuredTargetGroup> {
      const existing = await findByName(input.name);
      if (existing?.TargetGroupArn) {
        const tags = await tagsOf(existing.TargetGroupArn);
        if (tags[Tags.releaseId] !== input.tags[Tags.releaseId]) {
          throw ApplicationFailure.create({
            type: ErrorTypes.TargetGroupNameConflict,
            nonRetryable: true,
            message: `target group ${input.name} already exists and was not created by this release (its ${Tags.releaseId} is ${tags[Tags.releaseId] ?? 'absent'}); delete it or release another version`,
          });
        }
        await syncAttributes(input.sourceTargetGroupArn, existing.TargetGroupArn);
        return { targetGroupArn: existing.TargetGroupArn, name: input.name, dimension: targetGroupDimension(existing.TargetGroupArn), created: false };
      }
      const src = (await aws('DescribeTargetGroups', () => elbv2.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [input.sourceTargetGroupArn] }))))
        .TargetGroups?.[0];
      if (!src)
        throw ApplicationFailure.create({
          type: ErrorTypes.InvalidAwsRequest,
          nonRetryable: true,
          message: `source target group ${input.sourceTargetGroupArn} not found`,
        });
      const sourceTags = Object.entries(await tagsOf(input.sourceTargetGroupArn)).filter(([k]) => !k.startsWith('canary:') && !k.startsWith('aws:'));
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
      await syncAttributes(input.sourceTargetGroupArn, arn);
      return { targetGroupArn: arn, name: input.name, dimension: targetGroupDimension(arn), created: true };
    },

    async registerTargets(input: { targetGroupArn: string; targets: Target[] }): Promise<void> {
      const health = await aws('DescribeTargetHealth', () => elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: input.targetGroupArn })));
      const registered = new Set((health.TargetHealthDescriptions ?? []).map((d) => `${d.Target?.Id}:${d.Target?.Port ?? ''}`));
      const missing = input.targets.filter(
        (t) => !registered.has(`${t.id}:${t.port ?? ''}`) && !(t.port === undefined && [...registered].some((r) => r.startsWith(`${t.id}:`))),
      );
      if (missing.length > 0) {
        await aws('RegisterTargets', () =>
          elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: input.targetGroupArn, Targets: missing.map((t) => ({ Id: t.id, Port: t.port })) })),
        );
      }
    },

    async waitHealthy(input: { targetGroupArn: string; targets: Target[]; timeoutMs: number }): Promise<{ healthy: number; waitedMs: number }> {
      const ctx = Context.current();
      // The deadline spans retries: the first attempt's start comes back in the heartbeat details.
      const startedAt = (activityInfo().heartbeatDetails as { startedAt?: number } | undefined)?.startedAt ?? Date.now();
      const wanted = new Set(input.targets.map((t) => t.id));
      for (;;) {
        const health = await aws('DescribeTargetHealth', () => elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: input.targetGroupArn })));
        const mine = (health.TargetHealthDescriptions ?? []).filter((d) => d.Target?.Id && wanted.has(d.Target.Id));
        const healthy = mine.filter((d) => d.TargetHealth?.State === 'healthy').length;
        ctx.heartbeat({ startedAt, healthy, total: wanted.size });
        if (healthy >= wanted.size) return { healthy, waitedMs: Date.now() - startedAt };
        if (Date.now() - startedAt > input.timeoutMs) {
          const states = mine.map((d) => `${d.Target?.Id}=${d.TargetHealth?.State}${d.TargetHealth?.Reason ? `(${d.TargetHealth.Reason})` : ''}`).join(', ');
          throw ApplicationFailure.create({
            type: ErrorTypes.TargetsUnhealthy,
            nonRetryable: true,
            message: `${healthy}/${wanted.size} targets healthy in ${targetGroupDimension(input.targetGroupArn)} after ${Math.round(input.timeoutMs / 1000)}s: ${states || 'none registered'}`,
          });
        }
        await ctx.sleep(1_000);
      }
    },

    async deleteTargetGroup(input: TrafficRef & { name: string }): Promise<{ deleted: boolean }> {
      const tg = await findByName(input.name);
      if (!tg?.TargetGroupArn) return { deleted: false };
      const arn = tg.TargetGroupArn;
      // The invariant: nothing is torn down until a describe shows no forward action sends it traffic.
      if ((await routedTargetGroups(input.listenerArn)).has(arn)) {
        throw ApplicationFailure.create({
          type: ErrorTypes.TargetGroupStillRouted,
          message: `not deleting ${input.name}: listener ${input.listenerArn} still forwards to it`,
        });
      }
      try {
        await aws(`DeleteTargetGroup ${input.name}`, () => elbv2.send(new DeleteTargetGroupCommand({ TargetGroupArn: arn })));
      } catch (err) {
        if (isNotFound(err)) return { deleted: false };
        throw err;
      }
      return { deleted: true };
    },
  };
}
