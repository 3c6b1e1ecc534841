/**
 * Services for the scale runs: one listener each (one release per service), 50 listeners per ALB (AWS's quota)
 * in one shared VPC. Seeded one call at a time, since moto's stores are plain dicts without locks. Services are
 * reused across scale phases: a promoted release leaves its listener forwarding to one (new) stable group, which
 * is exactly what the next release starts from; a service whose release did not finish is set aside.
 */
import { CreateSubnetCommand, CreateVpcCommand } from '@aws-sdk/client-ec2';
import { CreateListenerCommand, CreateLoadBalancerCommand, CreateTargetGroupCommand, RegisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { AwsClients } from '../activities/aws-clients';
import type { SeededAlb } from '../dev/seed';

export interface ScaleService {
  service: string;
  seeded: SeededAlb;
  /** Its last release did not end cleanly: not used again. */
  dirty: boolean;
}

const listenersPerAlb = 50;

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined || v === null) throw new Error(`bench seed: AWS answered without ${what}`);
  return v;
}

export class ScalePool {
  readonly services: ScaleService[] = [];
  private vpc?: { vpcId: string; subnets: string[] };
  private alb?: { arn: string; listeners: number };
  private albs = 0;
  /** AWS calls made and time spent seeding, in total. */
  calls = 0;
  seedMs = 0;

  constructor(
    private readonly aws: AwsClients,
    private readonly log: (line: string) => void,
  ) {}

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    this.calls++;
    return fn();
  }

  private async network(): Promise<{ vpcId: string; subnets: string[] }> {
    if (this.vpc) return this.vpc;
    const vpc = await this.call(() => this.aws.ec2.send(new CreateVpcCommand({ CidrBlock: '10.8.0.0/16' })));
    const vpcId = need(vpc.Vpc?.VpcId, 'VpcId');
    const subnets: string[] = [];
    for (const [i, az] of ['a', 'b'].entries()) {
      const s = await this.call(() =>
        this.aws.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `10.8.${i}.0/24`, AvailabilityZone: `${this.aws.config.region}${az}` })),
      );
      subnets.push(need(s.Subnet?.SubnetId, 'SubnetId'));
    }
    this.vpc = { vpcId, subnets };
    return this.vpc;
  }

  private async loadBalancer(): Promise<{ arn: string; listeners: number }> {
    if (this.alb && this.alb.listeners < listenersPerAlb) return this.alb;
    const { subnets } = await this.network();
    this.albs++;
    const lb = await this.call(() =>
      this.aws.elbv2.send(new CreateLoadBalancerCommand({ Name: `scale-${this.albs}-alb`, Subnets: subnets, Type: 'application', Scheme: 'internal' })),
    );
    this.alb = { arn: need(lb.LoadBalancers?.[0]?.LoadBalancerArn, 'LoadBalancerArn'), listeners: 0 };
    return this.alb;
  }

  private async seedOne(index: number): Promise<ScaleService> {
    const { vpcId } = await this.network();
    const alb = await this.loadBalancer();
    const service = `sc-${index}`;
    const stableTargetGroupName = `${service}-v1`;
    const tg = await this.call(() =>
      this.aws.elbv2.send(
        new CreateTargetGroupCommand({
          Name: stableTargetGroupName,
          Protocol: 'HTTP',
          Port: 8080,
          VpcId: vpcId,
          TargetType: 'ip',
          HealthCheckPath: '/healthz',
          Tags: [{ Key: 'version', Value: 'v1' }],
        }),
      ),
    );
    const stableTargetGroupArn = need(tg.TargetGroups?.[0]?.TargetGroupArn, 'TargetGroupArn');
    await this.call(() =>
      this.aws.elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: stableTargetGroupArn, Targets: [{ Id: `10.8.0.${(index % 250) + 2}`, Port: 8080 }] })),
    );
    const listener = await this.call(() =>
      this.aws.elbv2.send(
        new CreateListenerCommand({
          LoadBalancerArn: alb.arn,
          Protocol: 'HTTP',
          Port: 10_000 + alb.listeners,
          DefaultActions: [{ Type: 'forward', TargetGroupArn: stableTargetGroupArn }],
        }),
      ),
    );
    alb.listeners++;
    return {
      service,
      dirty: false,
      seeded: {
        vpcId,
        loadBalancerArn: alb.arn,
        listenerArn: need(listener.Listeners?.[0]?.ListenerArn, 'ListenerArn'),
        stableTargetGroupArn,
        stableTargetGroupName,
      },
    };
  }

  /** Seeds services until `n` clean ones exist; returns how many were seeded now and how long it took. */
  async ensure(n: number): Promise<{ seeded: number; ms: number; calls: number }> {
    const t0 = performance.now();
    const calls0 = this.calls;
    let seeded = 0;
    while (this.clean().length < n) {
      this.services.push(await this.seedOne(this.services.length));
      seeded++;
      if (seeded % 100 === 0) this.log(`[scale] seeded ${seeded} services (${((performance.now() - t0) / 1000).toFixed(1)}s)`);
    }
    const ms = performance.now() - t0;
    this.seedMs += ms;
    return { seeded, ms, calls: this.calls - calls0 };
  }

  clean(): ScaleService[] {
    return this.services.filter((s) => !s.dirty);
  }
}
