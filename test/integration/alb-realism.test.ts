/**
 * The ALB realism layer (dev/alb-realism.ts) through the AWS SDK against the shared moto: target health gated by
 * attachment, initial health checks, failing versions, draining, and the off switch. Each test starts its own proxy
 * at a high time scale, so a 10 s × 2 health check takes a second.
 */
import {
  CreateRuleCommand,
  CreateTargetGroupCommand,
  DescribeListenersCommand,
  DescribeRulesCommand,
  ModifyRuleCommand,
  type RuleTransform,
  DeregisterTargetsCommand,
  DescribeTargetHealthCommand,
  ModifyListenerCommand,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { motoClients, type AwsClients } from '../../activities/aws-clients';
import { createAlbRealism, tellRealismLayer } from '../../dev/alb-realism';
import { startFaultProxy, type FaultProxy } from '../../dev/fault-proxy';
import { realismFromEnv } from '../../dev/stack';
import { seedService } from '../support/release-fixture';
import { testStack } from '../support/env';
import { forwardLiveAndIdle, fillToGroupLimit } from '../support/listener';

/** 20 simulated seconds per real second: the seed's 10 s × 2 health checks take 1 s. */
const timeScale = 20;

/**
 * The layer's clock, moved by the tests: the state at an exact simulated time does not depend on how fast moto
 * answers on a loaded machine. One test runs on the real clock.
 */
let clock = Date.now();
const advance = (simulatedSeconds: number): void => {
  clock += (simulatedSeconds * 1000) / timeScale;
};

let proxy: FaultProxy;
let aws: AwsClients;

beforeAll(async () => {
  proxy = await startFaultProxy({
    target: testStack.motoEndpoint,
    realism: createAlbRealism({ motoEndpoint: testStack.motoEndpoint, timeScale, now: () => clock }),
  });
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
  await forwardLiveAndIdle(aws.elbv2, listenerArn, stableArn, canaryArn);
  return Date.now();
}

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
    // Time alone changes nothing: an unused group is never health-checked.
    advance(3600);
    expect(states(await health(canaryArn))).toEqual(['10.0.0.21=unused/Target.NotInUse', '10.0.1.22=unused/Target.NotInUse']);
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
    await attachAtZero(listenerArn, stableArn, canaryArn);
    const initial = { State: 'initial', Reason: 'Elb.InitialHealthChecking', Description: 'Initial health checks in progress' };
    expect((await health(canaryArn)).map((x) => x.TargetHealth)).toEqual([initial, initial]);
    advance(19.9);
    expect((await health(canaryArn)).map((x) => x.TargetHealth)).toEqual([initial, initial]);
    advance(0.1);
    expect(states(await health(canaryArn))).toEqual(['10.0.0.21=healthy/-', '10.0.1.22=healthy/-']);

    // A target registered into the attached group goes through initial on its own.
    await aws.elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: canaryArn, Targets: [{ Id: '10.0.0.23', Port: 8080 }] }));
    expect(states(await health(canaryArn))).toEqual(['10.0.0.21=healthy/-', '10.0.0.23=initial/Elb.InitialHealthChecking', '10.0.1.22=healthy/-']);
    advance(20);
    expect(states(await health(canaryArn)).every((x) => x.endsWith('=healthy/-'))).toBe(true);

    // Leaving the forward action makes the group unused; coming back starts the health checks over.
    await aws.elbv2.send(new ModifyListenerCommand({ ListenerArn: listenerArn, DefaultActions: [{ Type: 'forward', TargetGroupArn: stableArn }] }));
    expect(states(await health(canaryArn)).every((x) => x.endsWith('=unused/Target.NotInUse'))).toBe(true);
    await attachAtZero(listenerArn, stableArn, canaryArn);
    expect(states(await health(canaryArn)).every((x) => x.endsWith('=initial/Elb.InitialHealthChecking'))).toBe(true);
  });

  it('fails the health checks of a version whose profile says unhealthy, after interval × unhealthy threshold, for that service only', async () => {
    const sick = await seedWithCanary('rl-sick', 'v9');
    const fine = await seedWithCanary('rl-fine', 'v9');
    expect(await tellRealismLayer(proxy.endpoint, { service: sick.service, version: 'v9', health: 'unhealthy' })).toBe(true);
    await attachAtZero(sick.listenerArn, sick.stableArn, sick.canaryArn);
    await attachAtZero(fine.listenerArn, fine.stableArn, fine.canaryArn);
    // UnhealthyThresholdCount 3 × 10 s.
    advance(29.9);
    expect(states(await health(sick.canaryArn)).every((x) => x.endsWith('=initial/Elb.InitialHealthChecking'))).toBe(true);
    advance(0.1);
    const failed = await health(sick.canaryArn);
    expect(failed.map((x) => x.TargetHealth)).toEqual([
      { State: 'unhealthy', Reason: 'Target.FailedHealthChecks', Description: 'Health checks failed' },
      { State: 'unhealthy', Reason: 'Target.FailedHealthChecks', Description: 'Health checks failed' },
    ]);
    // The same version of another service, and the stable version of this one, pass.
    expect(states(await health(fine.canaryArn))).toEqual(['10.0.0.21=healthy/-', '10.0.1.22=healthy/-']);
    expect(states(await health(sick.stableArn))).toEqual(['10.0.0.11=healthy/-', '10.0.1.12=healthy/-']);
    await expect(tellRealismLayer(proxy.endpoint, { version: 'v9', health: 'sick' as 'unhealthy' })).rejects.toThrow(/must be healthy or unhealthy/);
  });

  it("drains a deregistered target for the group's deregistration delay, then forgets it; an unused group's target just goes", async () => {
    const { listenerArn, stableArn, canaryArn } = await seedWithCanary('rl-drain');
    await aws.elbv2.send(
      new ModifyTargetGroupAttributesCommand({ TargetGroupArn: canaryArn, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '40' }] }),
    );
    await attachAtZero(listenerArn, stableArn, canaryArn);
    advance(20);
    expect(states(await health(canaryArn))).toEqual(['10.0.0.21=healthy/-', '10.0.1.22=healthy/-']);
    await aws.elbv2.send(new DeregisterTargetsCommand({ TargetGroupArn: canaryArn, Targets: [{ Id: '10.0.0.21', Port: 8080 }] }));
    expect(states(await health(canaryArn))).toEqual(['10.0.0.21=draining/Target.DeregistrationInProgress', '10.0.1.22=healthy/-']);
    expect((await health(canaryArn)).find((x) => x.Target?.Id === '10.0.0.21')?.TargetHealth?.Description).toBe('Target deregistration is in progress');
    advance(39.9);
    expect(states(await health(canaryArn))).toEqual(['10.0.0.21=draining/Target.DeregistrationInProgress', '10.0.1.22=healthy/-']);
    advance(0.1);
    expect(states(await health(canaryArn))).toEqual(['10.0.1.22=healthy/-']);
    const asked = await aws.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: canaryArn, Targets: [{ Id: '10.0.0.21', Port: 8080 }] }));
    expect(asked.TargetHealthDescriptions?.map((x) => x.TargetHealth?.State)).toEqual(['unused']);

    const idle = await seedWithCanary('rl-idle');
    await aws.elbv2.send(new DeregisterTargetsCommand({ TargetGroupArn: idle.canaryArn, Targets: [{ Id: '10.0.0.21', Port: 8080 }] }));
    expect(states(await health(idle.canaryArn))).toEqual(['10.0.1.22=unused/Target.NotInUse']);
  });

  it('runs on the real clock at the stack’s time scale: attached at weight 0, healthy after about interval × threshold / timeScale', async () => {
    const live = await startFaultProxy({ target: testStack.motoEndpoint, realism: createAlbRealism({ motoEndpoint: testStack.motoEndpoint, timeScale }) });
    const via = motoClients(live.endpoint);
    try {
      const { listenerArn, stableArn, canaryArn } = await seedWithCanary('rl-live');
      // Attach through the live layer so it sees the change as it happens.
      await forwardLiveAndIdle(via.elbv2, listenerArn, stableArn, canaryArn);
      const attachedAt = Date.now();
      let latency = 0;
      let calls = 0;
      for (;;) {
        const t0 = Date.now();
        const d = await health(canaryArn, via);
        latency += Date.now() - t0;
        calls++;
        if (d.every((x) => x.TargetHealth?.State === 'healthy')) break;
        expect(d.map((x) => x.TargetHealth?.State)).toEqual(['initial', 'initial']);
        if (Date.now() - attachedAt > 30_000) throw new Error('not healthy after 30 s');
        await new Promise((r) => setTimeout(r, 50));
      }
      const waited = Date.now() - attachedAt;
      process.stdout.write(
        `[figure] realism layer on the real clock, time scale ${timeScale}: attach → healthy ${waited} ms (20 simulated s = ${20_000 / timeScale} ms); ` +
          `DescribeTargetHealth through the layer ${Math.round(latency / calls)} ms on average over ${calls} calls\n`,
      );
      expect(waited).toBeGreaterThanOrEqual(20_000 / timeScale);
    } finally {
      via.destroy();
      await live.stop();
    }
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
      expect(await tellRealismLayer(plain.endpoint, { version: 'v2', health: 'unhealthy' })).toBe(false);
    } finally {
      via.destroy();
      await plain.stop();
    }
  });

  it('passes moto’s error on for a target group that does not exist', async () => {
    const missing = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/nope/0123456789abcdef';
    await expect(health(missing)).rejects.toMatchObject({ name: expect.stringMatching(/TargetGroupNotFound/) });
  });

  it('keeps a rule’s Transforms, which moto drops: CreateRule, ModifyRule and DescribeRules answer them as AWS does', async () => {
    const { seeded } = await seedService(aws, 'rl-tx', { withRule: true });
    const transforms: RuleTransform[] = [
      { Type: 'url-rewrite', UrlRewriteConfig: { Rewrites: [{ Regex: '^/api/v1/(.*)$', Replace: '/$1' }] } },
      { Type: 'host-header-rewrite', HostHeaderRewriteConfig: { Rewrites: [{ Regex: '^www\\.(.*)$', Replace: '$1' }] } },
    ];
    const plainMoto = motoClients(testStack.motoEndpoint);
    try {
      const created = await aws.elbv2.send(
        new CreateRuleCommand({
          ListenerArn: seeded.listenerArn,
          Priority: 3,
          Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/api/v1/*'] } }],
          Actions: [{ Type: 'forward', TargetGroupArn: seeded.stableTargetGroupArn }],
          Transforms: transforms,
        }),
      );
      const ruleArn = created.Rules?.[0]?.RuleArn as string;
      expect(created.Rules?.[0]?.Transforms).toEqual(transforms);
      const described = async (via: AwsClients = aws) => (await via.elbv2.send(new DescribeRulesCommand({ RuleArns: [ruleArn] }))).Rules?.[0]?.Transforms;
      expect(await described()).toEqual(transforms);
      // What the layer fixes: moto itself forgot them.
      expect(await described(plainMoto)).toBeUndefined();
      // Listing the listener's rules answers them too, for this rule only.
      const listed = (await aws.elbv2.send(new DescribeRulesCommand({ ListenerArn: seeded.listenerArn }))).Rules ?? [];
      expect(listed.find((r) => r.RuleArn === ruleArn)?.Transforms).toEqual(transforms);
      expect(listed.filter((r) => r.RuleArn !== ruleArn).map((r) => r.Transforms)).toEqual(listed.filter((r) => r.RuleArn !== ruleArn).map(() => undefined));

      // A ModifyRule without Transforms leaves them; with them replaces them; ResetTransforms removes them. (moto
      // wants conditions or actions in every ModifyRule.)
      const Conditions = [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/api/*'] } }];
      await aws.elbv2.send(new ModifyRuleCommand({ RuleArn: ruleArn, Conditions }));
      expect(await described()).toEqual(transforms);
      const modified = await aws.elbv2.send(new ModifyRuleCommand({ RuleArn: ruleArn, Conditions, Transforms: [transforms[0] as RuleTransform] }));
      expect(modified.Rules?.[0]?.Transforms).toEqual([transforms[0]]);
      expect(await described()).toEqual([transforms[0]]);
      await aws.elbv2.send(new ModifyRuleCommand({ RuleArn: ruleArn, Conditions, ResetTransforms: true }));
      expect(await described()).toBeUndefined();
    } finally {
      plainMoto.destroy();
    }
  });

  it('refuses a write that would make a load balancer forward to more than 100 target groups, as AWS does (moto does not)', async () => {
    const { seeded } = await seedService(aws, 'rl-q');
    const direct = motoClients(testStack.motoEndpoint);
    try {
      // 99 more groups in rules of the listener (written to moto directly: fast), 5 per rule: 100 with stable.
      const groups = await fillToGroupLimit(direct.elbv2, seeded, `${seeded.stableTargetGroupName}-`, 'r');
      const extra = await aws.elbv2.send(
        new CreateTargetGroupCommand({
          Name: `${seeded.stableTargetGroupName}-x`.slice(-32),
          Protocol: 'HTTP',
          Port: 80,
          VpcId: seeded.vpcId,
          TargetType: 'ip',
        }),
      );
      const extraArn = extra.TargetGroups?.[0]?.TargetGroupArn as string;
      const attach = (arns: string[]) =>
        aws.elbv2.send(
          new ModifyListenerCommand({
            ListenerArn: seeded.listenerArn,
            DefaultActions: [{ Type: 'forward', ForwardConfig: { TargetGroups: arns.map((TargetGroupArn) => ({ TargetGroupArn, Weight: 1 })) } }],
          }),
        );
      await expect(attach([seeded.stableTargetGroupArn, extraArn])).rejects.toMatchObject({
        name: 'TooManyUniqueTargetGroupsPerLoadBalancerException',
        message: expect.stringMatching(/\(100\); this change would make it 101/),
      });
      // Nothing changed; a group already in a rule counts once, and replacing stable with the new one stays at 100.
      expect(
        (await direct.elbv2.send(new DescribeListenersCommand({ ListenerArns: [seeded.listenerArn] }))).Listeners?.[0]?.DefaultActions?.[0]?.TargetGroupArn,
      ).toBe(seeded.stableTargetGroupArn);
      await attach([seeded.stableTargetGroupArn, groups[0] as string]);
      await attach([extraArn]);
    } finally {
      direct.destroy();
    }
  });
});
