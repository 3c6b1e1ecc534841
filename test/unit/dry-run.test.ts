/**
 * The planning half of `canary start --dry-run` (client/dry-run.ts): from what discovery found, every change in the
 * workflow's order with its undo, the rollback in the order it runs, and what is deleted at the end.
 * test/integration/doctor.test.ts runs the whole dry run against the local stack and checks it writes nothing.
 */
import type { DiscoveredForwards } from '../../activities/contract';
import { planRelease, type PlannedChange } from '../../client/dry-run';
import { parseReleaseSpec } from '../../common/spec';

const LISTENER = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/checkout/50dc6c495c0c9188/f2f7dc8efc522ab2';
const STABLE = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/checkout-v1/73e2d6bc24d8a067';
const GREEN = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/checkout-green/0e2d6bc24d8a0671';

function found(groups: { targetGroupArn: string; weight: number }[], extra: Partial<DiscoveredForwards> = {}): DiscoveredForwards {
  const forward = { targetGroups: groups, stickiness: { enabled: false } };
  const actions = [{ Type: 'forward', ForwardConfig: { TargetGroups: groups.map((g) => ({ TargetGroupArn: g.targetGroupArn, Weight: g.weight })) } }];
  return {
    originalActions: actions,
    stableTargetGroupArn: STABLE,
    stableTargetGroupName: 'checkout-v1',
    stableDimension: 'targetgroup/checkout-v1/73e2d6bc24d8a067',
    loadBalancerArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/checkout/50dc6c495c0c9188',
    loadBalancerDimension: 'app/checkout/50dc6c495c0c9188',
    vpcId: 'vpc-0abc',
    targetType: 'ip',
    forwards: [{ ref: { listenerArn: LISTENER }, originalActions: actions, forward }],
    ...extra,
  };
}

function spec(fields: Record<string, unknown> = {}) {
  return parseReleaseSpec({
    apiVersion: 'canary/v1',
    service: 'checkout',
    version: 'v2.3.1',
    region: 'us-east-1',
    traffic: { listenerArn: LISTENER },
    environment: { canaryTargets: [{ id: '10.0.1.17', port: 8080 }] },
    steps: [{ setWeight: 20 }, { pause: { duration: '5m' } }, { setWeight: 100 }],
    ...fields,
  });
}

const at = (changes: PlannedChange[], when: string): string[] => changes.filter((c) => c.when === when).map((c) => c.what);
const LB = 'listener checkout/50dc6c495c0c9188/f2f7dc8efc522ab2';

describe('dry run plan', () => {
  it('hooks: the test route is created and removed around the before-traffic hooks, before any weight; a webhook step changes nothing', () => {
    const plan = planRelease(
      spec({ hooks: { beforeTraffic: ['smoke'], testRoute: true }, steps: [{ setWeight: 20 }, { webhook: 'load' }, { setWeight: 100 }] }),
      found([{ targetGroupArn: STABLE, weight: 1 }]),
    );
    const before = at(plan.changes, 'before the steps');
    const create = before.findIndex((w) => w.startsWith('create listener rule "test-route"'));
    expect(before[create]).toMatch(
      /ahead of the service's forward: requests with header X-Canary-Test: .* go 100% to checkout-v2-3-1-\?{6}, for the before-traffic hooks only$/,
    );
    expect(before.slice(create + 1)).toEqual(['no change to AWS: call hook(s) smoke; a fail rolls back', 'delete listener rule "test-route" (verified gone)']);
    // After the attach at weight 0 (the route reaches a healthy canary), before step 1.
    expect(before.findIndex((w) => w.includes('attach at weight 0'))).toBeLessThan(create);
    expect(at(plan.changes, 'step 2/3 (#1): webhook load (timeout 10m, then rollback)')).toEqual(['no change to AWS: call hook load; a fail rolls back']);
  });

  it('clone mode: creates the canary group, gives each step its weights, and deletes the previous stable at the end; each write has its undo', () => {
    const plan = planRelease(spec(), found([{ targetGroupArn: STABLE, weight: 1 }]));
    const before = plan.changes.filter((c) => c.when === 'before the steps');
    expect(before[0]?.what).toMatch(/^create target group checkout-v2-3-1-\?{6} as a copy of checkout-v1 .* register 1 canary target\(s\): 10\.0\.1\.17:8080$/);
    expect(before[0]?.undo).toBe('delete checkout-v2-3-1-?????? once no forward action references it and its deregistration delay has passed');
    expect(before[1]?.what).toBe(
      `${LB}: forward checkout-v1=1 → forward checkout-v1=100, checkout-v2-3-1-??????=0 (attach at weight 0, then wait until every target is healthy, at most 5m)`,
    );
    expect(at(plan.changes, 'step 1/3 (#0): setWeight 20%')).toEqual([
      `${LB}: forward checkout-v1=100, checkout-v2-3-1-??????=0 → forward checkout-v1=80, checkout-v2-3-1-??????=20 (20% to the canary)`,
    ]);
    expect(at(plan.changes, 'step 2/3 (#1): pause 5m')).toEqual(['no change to AWS']);
    // Every write before finalizing is undone by restoring what discovery found; finalizing has no way back.
    const writes = plan.changes.filter((c) => c.what.startsWith(`${LB}: forward`));
    expect(writes.map((c) => [c.when, c.undo])).toEqual([
      ['before the steps', 'restore the pre-release actions: forward checkout-v1=1'],
      ['step 1/3 (#0): setWeight 20%', 'restore the pre-release actions: forward checkout-v1=1'],
      ['step 3/3 (#2): setWeight 100%', 'restore the pre-release actions: forward checkout-v1=1'],
      ['finalizing', undefined],
    ]);
    // The last step already sends everything to the canary: promotion writes nothing.
    expect(at(plan.changes, 'promotion')).toEqual([
      `${LB}: no change, forward checkout-v1=0, checkout-v2-3-1-??????=100 already (all traffic to the new version; checkout-v1 kept attached at weight 0 for 10m, a fast rollback)`,
    ]);
    expect(at(plan.changes, 'finalizing')).toEqual([
      `${LB}: forward checkout-v1=0, checkout-v2-3-1-??????=100 → forward checkout-v2-3-1-??????=100 (the previous target groups leave the forward action)`,
      'delete target group checkout-v1 once no forward action references it (after its deregistration delay)',
    ]);
    expect(plan.rollback).toEqual([
      'restore the pre-release listener actions (forward) and verify them',
      'delete target group checkout-v2-3-1-?????? once no forward action references it and its deregistration delay has passed',
    ]);
    expect(plan.problems).toEqual([]);
  });

  it('a baseline gets its own group and weight; segment rules come and go with their steps and are removed first on a rollback', () => {
    const plan = planRelease(
      spec({
        environment: { canaryTargets: [{ id: '10.0.1.17', port: 8080 }], baselineTargets: [{ id: '10.0.1.30', port: 8080 }] },
        steps: [{ segment: { name: 'staff', match: { sourceIp: ['10.20.0.0/16'] } } }, { setWeight: 20 }, { endSegment: 'staff' }, { setWeight: 100 }],
      }),
      found([{ targetGroupArn: STABLE, weight: 1 }]),
    );
    expect(plan.changes.find((c) => c.when.startsWith('step 1/4'))).toEqual({
      when: 'step 1/4 (#0): segment staff: source IP 10.20.0.0/16 → canary',
      what: `create listener rule "staff" on ${LB} ahead of the service's forward: requests where source IP 10.20.0.0/16 go 100% to checkout-v2-3-1-??????`,
      undo: 'remove segment rule staff and verify it is gone',
    });
    expect(at(plan.changes, 'step 2/4 (#1): setWeight 20%')[0]).toContain('→ forward checkout-v1=60, checkout-v2-3-1-??????=20, checkout-base-??????=20');
    expect(at(plan.changes, 'step 3/4 (#2): end segment staff')).toEqual(['delete listener rule "staff" (verified gone)']);
    expect(at(plan.changes, 'finalizing')).toContain(
      'delete target group checkout-base-?????? once no forward action references it (after its deregistration delay)',
    );
    expect(plan.rollback[0]).toBe('remove segment rule staff and verify it is gone');
    expect(plan.rollback.slice(1)).toEqual([
      'restore the pre-release listener actions (forward) and verify them',
      'delete target group checkout-base-?????? once no forward action references it and its deregistration delay has passed',
      'delete target group checkout-v2-3-1-?????? once no forward action references it and its deregistration delay has passed',
    ]);
  });

  it('pair mode: creates nothing, registers the targets in the idle group and keeps the previous group attached at the end', () => {
    const idle = {
      role: 'green' as const,
      targetGroupArn: GREEN,
      targetGroupName: 'checkout-green',
      dimension: 'targetgroup/checkout-green/0e2d6bc24d8a0671',
      attached: true,
    };
    const plan = planRelease(
      spec({ environment: { mode: 'pair', pair: { blue: STABLE, green: GREEN }, canaryTargets: [{ id: '10.0.1.17', port: 8080 }] } }),
      found(
        [
          { targetGroupArn: STABLE, weight: 100 },
          { targetGroupArn: GREEN, weight: 0 },
        ],
        { idle, live: 'blue' },
      ),
    );
    expect(plan.changes.some((c) => c.what.startsWith('create target group'))).toBe(false);
    expect(plan.changes[0]).toEqual({
      when: 'before the steps',
      what: 'register 1 canary target(s) in the idle group checkout-green: 10.0.1.17:8080',
      undo: 'deregister them from checkout-green once it gets no traffic and has drained',
    });
    expect(plan.changes[1]?.what).toBe(
      `${LB}: no change, forward checkout-v1=100, checkout-green=0 already (attach at weight 0, then wait until every target is healthy, at most 5m)`,
    );
    expect(at(plan.changes, 'finalizing')).toEqual([
      `${LB}: forward checkout-v1=0, checkout-green=100 → forward checkout-green=100, checkout-v1=0 (the previous group stays attached at weight 0 for the next release)`,
      "deregister the previous version's targets from checkout-v1 (after its deregistration delay)",
    ]);
    expect(plan.found).toContain('pair mode: blue is live, green (checkout-green) is idle and attached at weight 0');
  });

  it('names targets the stable group cannot hold', () => {
    const plan = planRelease(spec({ environment: { canaryTargets: [{ id: 'i-0123456789abcdef0' }] } }), found([{ targetGroupArn: STABLE, weight: 1 }]));
    expect(plan.problems).toEqual(['environment.canaryTargets: i-0123456789abcdef0 is an instance id; checkout-v1 holds targets of type ip']);
  });
});
