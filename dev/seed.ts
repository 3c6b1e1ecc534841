/**
 * Seeds an Application Load Balancer in the local AWS API (moto): VPC, two subnets, ALB, the stable
 * target group with its targets, and an HTTP listener forwarding to it, as a real service would have.
 */
import { CreateSubnetCommand, CreateVpcCommand } from '@aws-sdk/client-ec2';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateRuleCommand,
  CreateTargetGroupCommand,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { AwsClients } from '../activities/aws-clients';

export interface SeededAlb {
  vpcId: string;
  loadBalancerArn: string;
  listenerArn: string;
  /** Set when seeded with a path rule: the rule forwards to the stable group, the default action returns 404. */
  ruleArn?: string;
  stableTargetGroupArn: string;
  stableTargetGroupName: string;
}

export interface SeedOptions {
  /** A short name; resources are named after it (ALB names allow 32 characters). */
  name: string;
  stableTargets?: { id: string; port: number }[];
  /** Route through a path rule instead of the listener's default action. */
  withRule?: boolean;
  /** Write the stable forward as a ForwardConfig with one weighted group (the console's form) instead of TargetGroupArn. */
  forwardConfig?: boolean;
  /**
   * The stable group's `deregistration_delay.timeout_seconds` (clones copy it, and a release drains a group that
   * long before deleting it). AWS's default is 300 s; the local stack's releases last seconds, so 2 s.
   */
  deregistrationDelaySeconds?: number;
}

/**
 * moto's ELBv2 backend is not thread-safe: two creates at once can answer a 500 (CreateTargetGroup iterates the
 * groups while another request adds one: `OrderedDict mutated during iteration`), before anything was created. The
 * seed is the harness's, not the product's (whose activities Temporal retries), so it tries such a call again. (The
 * local stack's moto, dev/moto-server.py, takes ELBv2 calls one at a time; the seed also runs against a plain moto.)
 */
async function again<T>(call: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const e = err as { $metadata?: { httpStatusCode?: number }; $response?: { statusCode?: number } };
      const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode ?? 0;
      if (status < 500 || attempt >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined || value === null) throw new Error(`seed: AWS answered without ${what}`);
  return value;
}

export async function seedAlb(aws: AwsClients, opts: SeedOptions): Promise<SeededAlb> {
  const vpc = await aws.ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }));
  const vpcId = required(vpc.Vpc?.VpcId, 'VpcId');
  const subnets: string[] = [];
  for (const [i, az] of ['a', 'b'].entries()) {
    const s = await aws.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `10.0.${i}.0/24`, AvailabilityZone: `${aws.config.region}${az}` }));
    subnets.push(required(s.Subnet?.SubnetId, 'SubnetId'));
  }
  const lb = await again(() =>
    aws.elbv2.send(new CreateLoadBalancerCommand({ Name: `${opts.name}-alb`.slice(0, 32), Subnets: subnets, Type: 'application', Scheme: 'internal' })),
  );
  const loadBalancerArn = required(lb.LoadBalancers?.[0]?.LoadBalancerArn, 'LoadBalancerArn');
  const stableTargetGroupName = `${opts.name}-v1`.slice(0, 32);
  const tg = await again(() =>
    aws.elbv2.send(
      new CreateTargetGroupCommand({
        Name: stableTargetGroupName,
        Protocol: 'HTTP',
        Port: 8080,
        VpcId: vpcId,
        TargetType: 'ip',
        HealthCheckPath: '/healthz',
        HealthCheckIntervalSeconds: 10,
        HealthyThresholdCount: 2,
        Matcher: { HttpCode: '200-299' },
        Tags: [
          { Key: 'service', Value: opts.name },
          { Key: 'version', Value: 'v1' },
        ],
      }),
    ),
  );
  const stableTargetGroupArn = required(tg.TargetGroups?.[0]?.TargetGroupArn, 'TargetGroupArn');
  await again(() =>
    aws.elbv2.send(
      new ModifyTargetGroupAttributesCommand({
        TargetGroupArn: stableTargetGroupArn,
        Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: String(opts.deregistrationDelaySeconds ?? 2) }],
      }),
    ),
  );
  const targets = opts.stableTargets ?? [
    { id: '10.0.0.11', port: 8080 },
    { id: '10.0.1.12', port: 8080 },
  ];
  await again(() =>
    aws.elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: stableTargetGroupArn, Targets: targets.map((t) => ({ Id: t.id, Port: t.port })) })),
  );
  const forward = opts.forwardConfig
    ? { Type: 'forward' as const, ForwardConfig: { TargetGroups: [{ TargetGroupArn: stableTargetGroupArn, Weight: 1 }] } }
    : { Type: 'forward' as const, TargetGroupArn: stableTargetGroupArn };
  const listener = await again(() =>
    aws.elbv2.send(
      new CreateListenerCommand({
        LoadBalancerArn: loadBalancerArn,
        Protocol: 'HTTP',
        Port: 80,
        DefaultActions: opts.withRule
          ? [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404', ContentType: 'text/plain', MessageBody: 'not found' } }]
          : [forward],
      }),
    ),
  );
  const listenerArn = required(listener.Listeners?.[0]?.ListenerArn, 'ListenerArn');
  let ruleArn: string | undefined;
  if (opts.withRule) {
    const rule = await again(() =>
      aws.elbv2.send(
        new CreateRuleCommand({
          ListenerArn: listenerArn,
          Priority: 10,
          Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: [`/${opts.name}/*`] } }],
          Actions: [forward],
        }),
      ),
    );
    ruleArn = required(rule.Rules?.[0]?.RuleArn, 'RuleArn');
  }
  return { vpcId, loadBalancerArn, listenerArn, ruleArn, stableTargetGroupArn, stableTargetGroupName };
}
