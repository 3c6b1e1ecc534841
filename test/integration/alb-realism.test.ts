/**
 * The ALB realism layer (dev/alb-realism.ts) through the AWS SDK against the shared moto: target health gated by
 * attachment, initial health checks, failing versions, draining, and the off switch. Each test starts its own proxy
 * at a high time scale, so a 10 s × 2 health check takes a second.
 */
import {
  CreateTargetGroupCommand,
  DeregisterTargetsCommand,
  DescribeTargetHealthCommand,
  ModifyListenerCommand,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { motoClients, type AwsClients } from '../../activities/aws-clients';
import { createAlbRealism } from '../../dev/alb-realism';
import { startFaultProxy, type FaultProxy } from '../../dev/fault-proxy';
import { realismFromEnv } from '../../dev/stack';
import { seedService } from '../support/release-fixture';
import { testStack } from '../support/env';

/** 20 simulated seconds per real second: the seed's 10 s × 2 health checks take 1 s. */
const timeScale = 20;

let proxy: FaultProxy;
let aws: AwsClients;

beforeAll(async () => {
  proxy = await startFaultProxy({ target: testStack.motoEndpoint, realism: createAlbRealism({ motoEndpoint: testStack.motoEndpoint, timeScale }) });
  aws = motoClients(proxy.endpoint);
});
afterAll(async () => {
  aws.destroy();
  await proxy.stop();
});

/** A seeded ALB plus a second target group copied like a canary (10 s interval, 2 checks), with two targets registered. */
async function seedWithCanary(prefix: string, version = 'v2'): Promise<{ service: string; listenerArn: string; stableArn: string; canaryArn: string }> {
  const { service, seeded } = await seedService(aws, prefix);
  const created = await aws.elbv2.send(
    new CreateTargetGroupCommand({
      Name: `${service}-${version}`.slice(0, 32),
      Protocol: 'HTTP',
      Port: 8080,
      VpcId: seeded.vpcId,
      TargetType: 'ip',
      HealthCheckPath: '/healthz',
      HealthCheckIntervalSeconds: 10,
      HealthyThresholdCount: 2,
      UnhealthyThresholdCount: 3,
      Tags: [
        { Key: 'canary:service', Value: service },
        { Key: 'canary:version', Value: version },
      ],
    }),
  );
  const canaryArn = created.TargetGroups?.[0]?.TargetGroupArn as string;
  await aws.elbv2.send(
    new RegisterTargetsCommand({
      TargetGroupArn: canaryArn,
      Targets: [
        { Id: '10.0.0.21', Port: 8080 },
        { Id: '10.0.1.22', Port: 8080 },
      ],
    }),
  );
  return { service, listenerArn: seeded.listenerArn, stableArn: seeded.stableTargetGroupArn, canaryArn };
}

async function health(targetGroupArn: string, via: AwsClients = aws): Promise<TargetHealthDescription[]> {
  return (await via.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }))).TargetHealthDescriptions ?? [];
}

const states = (d: TargetHealthDescription[]): string[] => d.map((x) => `${x.Target?.Id}=${x.TargetHealth?.State}/${x.TargetHealth?.Reason ?? '-'}`).sort();

async function attachAtZero(listenerArn: string, stableArn: string, canaryArn: string): Promise<number> {
  await aws.elbv2.send(
    new ModifyListenerCommand({
      ListenerArn: listenerArn,
      DefaultActions: [
        {
          Type: 'forward',
          ForwardConfig: {
            TargetGroups: [
              { TargetGroupArn: stableArn, Weight: 100 },
              { TargetGroupArn: canaryArn, Weight: 0 },
            ],
          },
        },
      ],
    }),
  );
  return Date.now();
}

/** Polls until every target is in `state`; returns when, and what was seen on the way. */
async function until(targetGroupArn: string, pred: (d: TargetHealthDescription[]) => boolean, timeoutMs = 10_000): Promise<{ at: number; seen: Set<string> }> {
  const seen = new Set<string>();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await health(targetGroupArn);
    for (const s of states(d)) seen.add(s.split('=')[1] ?? '');
    if (pred(d)) return { at: Date.now(), seen };
    if (Date.now() > deadline) throw new Error(`not reached in ${timeoutMs} ms; last: ${states(d).join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const all = (state: string) => (d: TargetHealthDescription[]) => d.length > 0 && d.every((x) => x.TargetHealth?.State === state);

describe('ALB realism layer in front of moto', () => {
  it('reports targets of a group no forward action references as unused / Target.NotInUse, worded like AWS', async () => {
    const { canaryArn } = await seedWithCanary('rl-unused');
    const d = await health(canaryArn);
    expect(d).toHaveLength(2);
    for (const x of d) {
      expect(x.TargetHealth).toEqual({
        State: 'unused',
        Reason: 'Target.NotInUse',
        Description: 'Target group is not configured to receive traffic from the load balancer',
      });
      // traffic-port is reported as the target's port, as AWS does.
      expect(x.HealthCheckPort).toBe('8080');
      expect(x.AdministrativeOverride?.State).toBe('no_override');
    }
    // A target asked for by name that is not registered.
    const asked = await aws.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: canaryArn, Targets: [{ Id: '10.0.9.9', Port: 8080 }] }));
    expect(asked.TargetHealthDescriptions?.map((x) => x.TargetHealth?.Reason)).toEqual(['Target.NotRegistered']);
    // moto itself says healthy: the layer, not moto, decided.
    const direct = motoClients(testStack.motoEndpoint);
    try {
      expect(states(await health(canaryArn, direct))).toEqual(['10.0.0.21=healthy/-', '10.0.1.22=healthy/-']);
    } finally {
      direct.destroy();
    }
  });

  it('health-checks a group once it is in the forward action at weight 0: initial for interval × healthy threshold, then healthy', async () => {
    const { listenerArn, stableArn, canaryArn } = await seedWithCanary('rl-attach');
    const attachedAt = await attachAtZero(listenerArn, stableArn, canaryArn);
    const t0 = Date.now();
    const first = await health(canaryArn);
    process.stdout.write(`[figure] DescribeTargetHealth through the realism layer: ${Date.now() - t0} ms\n`);
    expect(first.map((x) => x.TargetHealth)).toEqual([
      { State: 'initial', Reason: 'Elb.InitialHealthChecking', Description: 'Initial health checks in progress' },
      { State: 'initial', Reason: 'Elb.InitialHealthChecking', Description: 'Initial health checks in progress' },
    ]);
    const healthy = await until(canaryArn, all('healthy'));
    const waited = healthy.at - attachedAt;
    process.stdout.write(
      `[figure] attach → healthy at time scale ${timeScale}: ${waited} ms (10 s × 2 checks = ${(20_000 / timeScale).toFixed(0)} ms expected)\n`,
    );
    // Not before the health checks could have passed (20 simulated seconds); a little slack for the clock read before the call.
    expect(waited).toBeGreaterThanOrEqual(20_000 / timeScale - 50);
    expect([...healthy.seen].at(-1)).toBe('healthy/-');

    // A target registered into the attached group goes through initial on its own.
    await aws.elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: canaryArn, Targets: [{ Id: '10.0.0.23', Port: 8080 }] }));
    expect(states(await health(canaryArn))).toEqual(['10.0.0.21=healthy/-', '10.0.0.23=initial/Elb.InitialHealthChecking', '10.0.1.22=healthy/-']);
    await until(canaryArn, all('healthy'));

    // Leaving the forward action makes the group unused again.
    await aws.elbv2.send(new ModifyListenerCommand({ ListenerArn: listenerArn, DefaultActions: [{ Type: 'forward', TargetGroupArn: stableArn }] }));
    expect(states(await health(canaryArn)).every((s) => s.endsWith('=unused/Target.NotInUse'))).toBe(true);
  });

  it('fails the health checks of a version whose profile says unhealthy (after interval × unhealthy threshold)', async () => {
    const { service, listenerArn, stableArn, canaryArn } = await seedWithCanary('rl-sick', 'v9');
    const res = await fetch(`${proxy.endpoint}/canary-realism/health`, {
      method: 'POST',
      body: JSON.stringify({ service, version: 'v9', health: 'unhealthy' }),
    });
    expect(res.status).toBe(200);
    const attachedAt = await attachAtZero(listenerArn, stableArn, canaryArn);
    const sick = await until(canaryArn, all('unhealthy'));
    expect([...sick.seen]).toEqual(['initial/Elb.InitialHealthChecking', 'unhealthy/Target.FailedHealthChecks']);
    expect(sick.at - attachedAt).toBeGreaterThanOrEqual(30_000 / timeScale - 50);
    expect((await health(canaryArn))[0]?.TargetHealth).toEqual({
      State: 'unhealthy',
      Reason: 'Target.FailedHealthChecks',
      Description: 'Health checks failed',
    });
    // The stable group (v1) of the same service is not affected.
    await until(stableArn, all('healthy'));
  });

  it("drains a deregistered target for the group's deregistration delay, then forgets it", async () => {
    const { listenerArn, stableArn, canaryArn } = await seedWithCanary('rl-drain');
    // 40 simulated seconds: 2 s at this scale.
    await aws.elbv2.send(
      new ModifyTargetGroupAttributesCommand({ TargetGroupArn: canaryArn, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '40' }] }),
    );
    await attachAtZero(listenerArn, stableArn, canaryArn);
    await until(canaryArn, all('healthy'));
    await aws.elbv2.send(new DeregisterTargetsCommand({ TargetGroupArn: canaryArn, Targets: [{ Id: '10.0.0.21', Port: 8080 }] }));
    const deregisteredAt = Date.now();
    expect(states(await health(canaryArn))).toEqual(['10.0.0.21=draining/Target.DeregistrationInProgress', '10.0.1.22=healthy/-']);
    expect((await health(canaryArn)).find((x) => x.Target?.Id === '10.0.0.21')?.TargetHealth?.Description).toBe('Target deregistration is in progress');
    const gone = await until(canaryArn, (d) => d.length === 1);
    expect(states(await health(canaryArn))).toEqual(['10.0.1.22=healthy/-']);
    expect(gone.at - deregisteredAt).toBeGreaterThanOrEqual(40_000 / timeScale - 50);
  });

  it("answers moto's own health when the layer is off (CANARY_REALISM=off)", async () => {
    expect(realismFromEnv({ CANARY_REALISM: 'off' })).toBe(false);
    expect(realismFromEnv({})).toBe(true);
    const plain = await startFaultProxy({ target: testStack.motoEndpoint });
    const via = motoClients(plain.endpoint);
    try {
      const { canaryArn } = await seedWithCanary('rl-off');
      expect(states(await health(canaryArn, via))).toEqual(['10.0.0.21=healthy/-', '10.0.1.22=healthy/-']);
      expect(plain.realism).toBeUndefined();
      expect(plain.stats().realism.answered).toBe(0);
    } finally {
      via.destroy();
      await plain.stop();
    }
  });

  it('passes moto’s error on for a target group that does not exist', async () => {
    const missing = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/nope/0123456789abcdef';
    await expect(health(missing)).rejects.toMatchObject({ name: expect.stringMatching(/TargetGroupNotFound/) });
  });
});
