/**
 * Listener states the tests set up on moto: a blue/green pair in the default action as IaC keeps it, and a listener
 * filled up to ALB's quota of target groups for the tests of what a release does when there is no room.
 */
import {
  CreateRuleCommand,
  CreateTargetGroupCommand,
  ModifyListenerCommand,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { SeededAlb } from '../../dev/seed';

/** Sets the listener's default action to forward to `live` at weight 100 and `idle` at 0 (how IaC keeps a blue/green pair). */
export async function forwardLiveAndIdle(elbv2: ElasticLoadBalancingV2Client, listenerArn: string, live: string, idle: string): Promise<void> {
  await elbv2.send(
    new ModifyListenerCommand({
      ListenerArn: listenerArn,
      DefaultActions: [
        {
          Type: 'forward',
          ForwardConfig: {
            TargetGroups: [
              { TargetGroupArn: live, Weight: 100 },
              { TargetGroupArn: idle, Weight: 0 },
            ],
          },
        },
      ],
    }),
  );
}

/**
 * Adds 99 target groups (`<namePrefix><i>`, the last 32 characters) to rules of the seeded listener, 5 per rule on
 * path `/<pathPrefix><i>/*`: with stable, the load balancer forwards to 100, ALB's limit. Write through `elbv2` of
 * moto directly: fast, and the realism layer, which would refuse past the limit, is not in the way. Returns the
 * groups' ARNs.
 */
export async function fillToGroupLimit(elbv2: ElasticLoadBalancingV2Client, seeded: SeededAlb, namePrefix: string, pathPrefix: string): Promise<string[]> {
  const groups: string[] = [];
  for (let i = 0; i < 99; i++) {
    const out = await elbv2.send(
      new CreateTargetGroupCommand({ Name: `${namePrefix}${i}`.slice(-32), Protocol: 'HTTP', Port: 80, VpcId: seeded.vpcId, TargetType: 'ip' }),
    );
    groups.push(out.TargetGroups?.[0]?.TargetGroupArn as string);
  }
  for (let i = 0; i < groups.length; i += 5) {
    await elbv2.send(
      new CreateRuleCommand({
        ListenerArn: seeded.listenerArn,
        Priority: 100 + i,
        Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: [`/${pathPrefix}${i}/*`] } }],
        Actions: [{ Type: 'forward', ForwardConfig: { TargetGroups: groups.slice(i, i + 5).map((TargetGroupArn) => ({ TargetGroupArn, Weight: 1 })) } }],
      }),
    );
  }
  return groups;
}
