/**
 * Reading and feeding the AWS state of a seeded service, for tests, the soak and the bench: the actions that route
 * it, the target groups in its VPC, ALB-shaped request/5xx counts, and the analysis template that reads them.
 * No test-framework code here, so scripts can import it.
 */
import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeListenersCommand, DescribeRulesCommand, DescribeTagsCommand, DescribeTargetGroupsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { z } from 'zod';
import type { AwsClients } from '../activities/aws-clients';
import type { AnalysisMetric } from '../common/spec';
import { albMetricQuery } from './alb-metrics';
import type { SeededAlb } from './seed';

/** An action as Describe* answers it, reduced to what the checks read; undefined fields dropped (JSON copy). */
export interface ForwardAction {
  Type?: string;
  TargetGroupArn?: string;
  ForwardConfig?: { TargetGroups?: { TargetGroupArn?: string; Weight?: number }[] };
}

/**
 * The README's `5xx-rate` metric: 5xx / requests of the variant's target group. ALB leaves a zero 5xx count out, so
 * a missing bucket is 0 (fill); no RequestCount is no traffic (no data).
 */
export function errorRateMetric(max: number, periodSeconds = 60): z.input<typeof AnalysisMetric> {
  return perRequestMetric('5xx-rate', 'errors', 'HTTPCode_Target_5XX_Count', max, periodSeconds);
}

/**
 * The README's `connection-errors` metric: failed connections to the variant's targets (refused, reset, timed out)
 * per request. A version that crashes answers no 5xx at all: the ALB answers 502/504 itself, counted in
 * HTTPCode_ELB_5XX_Count, which has no TargetGroup dimension; only TargetConnectionErrorCount (which has one) says
 * which group's targets failed. ALB leaves a zero count out, so a missing bucket is 0 (fill).
 */
export function connectionErrorMetric(max: number, periodSeconds = 60): z.input<typeof AnalysisMetric> {
  return perRequestMetric('connection-errors', 'failed', 'TargetConnectionErrorCount', max, periodSeconds);
}

/** An ALB count of the variant's target group per request, at most `max`; a missing count bucket is 0 (fill). */
function perRequestMetric(name: string, id: string, metricName: string, max: number, periodSeconds: number): z.input<typeof AnalysisMetric> {
  return {
    name,
    query: [
      albMetricQuery(id, metricName, 'Sum', periodSeconds, 0),
      albMetricQuery('requests', 'RequestCount', 'Sum', periodSeconds),
      { Id: 'rate', Expression: `${id} / requests` },
    ],
    pass: { max },
  };
}

/** An `errors` template over ALB-shaped metrics: 5xx / requests of the variant's target group (default delay 2m). */
export function errorRateTemplate(max = 0.05, extra: Record<string, unknown> = {}, periodSeconds = 60): Record<string, unknown> {
  return {
    metrics: [errorRateMetric(max, periodSeconds)],
    window: '2m',
    ...extra,
  };
}

/**
 * The start of the newest minute that errorRateTemplate's window (2 minutes, ending at the last complete minute at
 * least 2 minutes old) judges now and for the next minute: what a hand-fed test publishes into.
 */
export function judgedMinute(nowMs = Date.now()): Date {
  return new Date(Math.floor((nowMs - 120_000) / 60_000) * 60_000 - 60_000);
}

/**
 * The `errors` template for releases whose counts a test publishes by hand (publishAfterTraffic): 1 s buckets, a 2 s
 * window, 1 s delay, so an analysis step's first window (whole buckets after the canary's traffic began) comes soon.
 */
export function handFedErrorRateTemplate(max = 0.05, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return errorRateTemplate(max, { window: '2s', delay: '1s', ...extra }, 1);
}

/**
 * Publishes the same counts into every whole 1 s bucket from the canary's current traffic on (`status.trafficSince`)
 * for `seconds`: whichever window of handFedErrorRateTemplate the analysis judges in that time holds them.
 */
export async function publishAfterTraffic(
  aws: AwsClients,
  dims: { targetGroup: string; loadBalancer: string },
  requests: number,
  errors: number,
  trafficSince: string | undefined,
  seconds = 120,
): Promise<void> {
  if (!trafficSince) throw new Error('publishAfterTraffic: the release has no trafficSince yet');
  const first = Math.ceil(Date.parse(trafficSince) / 1000) * 1000;
  const MetricData = Array.from({ length: seconds }, (_, i) => countDatums(dims, requests, errors, new Date(first + i * 1000))).flat();
  // PutMetricData takes at most 1000 datums a call.
  for (let i = 0; i < MetricData.length; i += 1000) {
    await aws.cloudwatch.send(new PutMetricDataCommand({ Namespace: 'AWS/ApplicationELB', MetricData: MetricData.slice(i, i + 1000) }));
  }
}

/**
 * Publishes one minute's worth of ALB-shaped request and 5xx counts for a variant, timestamped in the minute the
 * default template judges (judgedMinute), as ALB would have delivered it by now; a zero 5xx count is left out.
 */
export async function publishTraffic(
  aws: AwsClients,
  dims: { targetGroup: string; loadBalancer: string },
  requests: number,
  errors: number,
  at: Date = judgedMinute(),
): Promise<void> {
  await aws.cloudwatch.send(new PutMetricDataCommand({ Namespace: 'AWS/ApplicationELB', MetricData: countDatums(dims, requests, errors, at) }));
}

/** One bucket's ALB request and 5xx counts for a variant, as datums; a zero 5xx count is left out, as ALB does. */
function countDatums(dims: { targetGroup: string; loadBalancer: string }, requests: number, errors: number, Timestamp: Date) {
  const Dimensions = [
    { Name: 'TargetGroup', Value: dims.targetGroup },
    { Name: 'LoadBalancer', Value: dims.loadBalancer },
  ];
  return [
    { MetricName: 'RequestCount', Dimensions, Value: requests, Unit: 'Count' as const, Timestamp },
    ...(errors > 0 ? [{ MetricName: 'HTTPCode_Target_5XX_Count', Dimensions, Value: errors, Unit: 'Count' as const, Timestamp }] : []),
  ];
}

/** `targetgroup/NAME/ID` of an ARN. */
export function dimensionOf(arn: string): string {
  return arn.slice(arn.indexOf(':targetgroup/') + 1);
}

/** The actions that route the service: the rule's, or the listener's default ones. */
export async function forwardActions(aws: AwsClients, seeded: SeededAlb): Promise<ForwardAction[]> {
  const raw = seeded.ruleArn
    ? (await aws.elbv2.send(new DescribeRulesCommand({ RuleArns: [seeded.ruleArn] }))).Rules?.[0]?.Actions
    : (await aws.elbv2.send(new DescribeListenersCommand({ ListenerArns: [seeded.listenerArn] }))).Listeners?.[0]?.DefaultActions;
  return JSON.parse(JSON.stringify(raw ?? [])) as ForwardAction[];
}

/** Names of the target groups in the seeded VPC (moto keeps every test's groups in one account). */
export async function targetGroupsOf(aws: AwsClients, seeded: SeededAlb): Promise<{ name: string; arn: string; tags: Record<string, string> }[]> {
  const all = await aws.elbv2.send(new DescribeTargetGroupsCommand({}));
  const mine = (all.TargetGroups ?? []).filter((t) => t.VpcId === seeded.vpcId);
  const out: { name: string; arn: string; tags: Record<string, string> }[] = [];
  for (const t of mine) {
    const tags = await aws.elbv2.send(new DescribeTagsCommand({ ResourceArns: [t.TargetGroupArn as string] }));
    out.push({
      name: t.TargetGroupName as string,
      arn: t.TargetGroupArn as string,
      tags: Object.fromEntries((tags.TagDescriptions?.[0]?.Tags ?? []).map((x) => [x.Key as string, x.Value ?? ''])),
    });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
