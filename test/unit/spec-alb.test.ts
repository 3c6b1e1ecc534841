/**
 * The spec fields a release on a real ALB needs: several forward actions, another account's role, pair mode,
 * drain and settle, version tags, instance and outside-VPC targets. Valid forms parse to what the workflow gets;
 * each wrong one names its field (the style of the bad-input catalogue). Also the pure forward/health helpers.
 */
import { describeForward, forwardDrift, pairPromotedWeights, sameForward, trafficRefs, withWeights, type ForwardState } from '../../common/forward';
import { awsScope, fieldErrors, parseReleaseSpec, ReleaseSpec, targetKind } from '../../common/spec';
import { describeTargetHealth, describeUnhealthy, notAttached } from '../../common/target-health';

const ACCOUNT = '123456789012';
const LB = 'app/checkout-alb/50dc6c495c0c9188';
const LISTENER = `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT}:listener/${LB}/f2f7dc8efc522ab2`;
const HTTPS = `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT}:listener/${LB}/0a0a0a0a0a0a0a0a`;
const RULE = `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT}:listener-rule/${LB}/f2f7dc8efc522ab2/9683b2d02a6cabee`;
const BLUE = `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT}:targetgroup/checkout-blue/73e2d6bc24d8a067`;
const GREEN = `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT}:targetgroup/checkout-green/83e2d6bc24d8a067`;

function base(): Record<string, unknown> {
  return {
    service: 'checkout',
    version: 'v2',
    region: 'us-east-1',
    traffic: { listenerArn: LISTENER },
    environment: { canaryTargets: [{ id: '10.0.1.17', port: 8080 }] },
    steps: [{ setWeight: 10 }, { setWeight: 100 }],
  };
}

function errorsOf(spec: Record<string, unknown>): { field: string; message: string }[] {
  const r = ReleaseSpec.safeParse(spec);
  if (r.success) throw new Error('expected the spec to be rejected');
  return fieldErrors(r.error);
}

describe('valid specs', () => {
  test('the single traffic form parses to a list of one; defaults for settle, drainCap, versionTags, mode', () => {
    const spec = parseReleaseSpec(base());
    expect(spec.traffic).toEqual([{ listenerArn: LISTENER }]);
    expect(spec.environment).toMatchObject({
      mode: 'clone',
      settle: 5_000,
      drainCap: 300_000,
      versionTags: ['version', 'Version', 'app.kubernetes.io/version'],
    });
    expect(spec.aws).toBeUndefined();
  });

  test('several listeners and rules of one load balancer, an assumed role, instance and outside-VPC targets', () => {
    const spec = parseReleaseSpec({
      ...base(),
      traffic: [{ listenerArn: LISTENER, ruleArn: RULE }, { listenerArn: HTTPS }],
      aws: { roleArn: `arn:aws:iam::${ACCOUNT}:role/canary-release`, externalId: 'ci-4711' },
      environment: {
        canaryTargets: [{ id: 'i-0123456789abcdef0' }, { id: 'i-0abcdef1', port: 8080 }],
        settle: '10s',
        drainCap: '1m',
        versionTags: ['release'],
      },
    });
    expect(spec.traffic).toEqual([{ listenerArn: LISTENER, ruleArn: RULE }, { listenerArn: HTTPS }]);
    expect(spec.environment).toMatchObject({ settle: 10_000, drainCap: 60_000, versionTags: ['release'] });
    expect(spec.aws).toEqual({ roleArn: `arn:aws:iam::${ACCOUNT}:role/canary-release`, externalId: 'ci-4711' });
    expect(awsScope(spec)).toEqual({ region: 'us-east-1', roleArn: `arn:aws:iam::${ACCOUNT}:role/canary-release`, externalId: 'ci-4711' });
    expect(awsScope(parseReleaseSpec(base()))).toEqual({ region: 'us-east-1' });
    const outside = parseReleaseSpec({ ...base(), environment: { canaryTargets: [{ id: '192.168.7.7', port: 8080, availabilityZone: 'all' }] } });
    expect(outside.environment.canaryTargets).toEqual([{ id: '192.168.7.7', port: 8080, availabilityZone: 'all' }]);
  });

  test('pair mode without canaryTargets (the deployer registers them)', () => {
    const spec = parseReleaseSpec({ ...base(), environment: { mode: 'pair', pair: { blue: BLUE, green: GREEN } } });
    expect(spec.environment).toMatchObject({ mode: 'pair', pair: { blue: BLUE, green: GREEN }, canaryTargets: [] });
  });

  test('target kinds', () => {
    expect(targetKind('10.0.1.17')).toBe('ip');
    expect(targetKind('2600:1f18::1')).toBe('ip');
    expect(targetKind('i-0123456789abcdef0')).toBe('instance');
    expect(targetKind('web-1.internal')).toBeUndefined();
    expect(targetKind('10.0.1.256')).toBeUndefined();
  });
});

type Mutation = (doc: Record<string, unknown>) => void;
const env =
  (patch: Record<string, unknown>): Mutation =>
  (doc) => {
    doc.environment = { ...(doc.environment as object), ...patch };
  };
const rows: { name: string; mutate: Mutation; field: string; message: string }[] = [
  {
    name: 'a listener of another load balancer in the list',
    mutate: (d) => (d.traffic = [{ listenerArn: LISTENER }, { listenerArn: LISTENER.replace('checkout-alb', 'payments-alb') }]),
    field: 'traffic[1].listenerArn',
    message: 'list listeners of one load balancer',
  },
  {
    name: 'the same listener twice',
    mutate: (d) => (d.traffic = [{ listenerArn: LISTENER }, { listenerArn: LISTENER }]),
    field: 'traffic[1].listenerArn',
    message: 'listed twice',
  },
  { name: 'an empty traffic list', mutate: (d) => (d.traffic = []), field: 'traffic', message: 'list at least one listener' },
  {
    name: 'a rule of another listener in the list',
    mutate: (d) => (d.traffic = [{ listenerArn: HTTPS, ruleArn: RULE }]),
    field: 'traffic[0].ruleArn',
    message: 'the rule does not belong to traffic[0].listenerArn',
  },
  {
    name: 'a listener of another region in the list',
    mutate: (d) => (d.traffic = [{ listenerArn: LISTENER }, { listenerArn: HTTPS.replace('us-east-1', 'eu-west-1') }]),
    field: 'traffic[1].listenerArn',
    message: 'on load balancer',
  },
  {
    name: 'an unknown field in a listed ref',
    mutate: (d) => (d.traffic = [{ listenerArn: LISTENER, weight: 5 }]),
    field: 'traffic[0].weight',
    message: 'unknown field',
  },
  {
    name: 'single form keeps its path for region errors',
    mutate: (d) => (d.region = 'eu-west-1'),
    field: 'traffic.listenerArn',
    message: "the listener is in us-east-1, the spec's region is eu-west-1",
  },
  {
    name: 'a role ARN that is a user',
    mutate: (d) => (d.aws = { roleArn: `arn:aws:iam::${ACCOUNT}:user/bob` }),
    field: 'aws.roleArn',
    message: 'an IAM role ARN',
  },
  {
    name: 'a role in another account than the load balancer',
    mutate: (d) => (d.aws = { roleArn: 'arn:aws:iam::999999999999:role/canary' }),
    field: 'aws.roleArn',
    message: 'the role is in account 999999999999, the listener in 123456789012',
  },
  {
    name: 'credentials in the spec',
    mutate: (d) => (d.aws = { roleArn: `arn:aws:iam::${ACCOUNT}:role/canary`, secretAccessKey: 'x' }),
    field: 'aws.secretAccessKey',
    message: 'unknown field',
  },
  {
    name: 'an external id with spaces',
    mutate: (d) => (d.aws = { roleArn: `arn:aws:iam::${ACCOUNT}:role/c`, externalId: 'a b' }),
    field: 'aws.externalId',
    message: 'letters',
  },
  { name: 'pair mode without pair', mutate: env({ mode: 'pair' }), field: 'environment.pair', message: 'mode: pair needs pair' },
  { name: 'pair given in clone mode', mutate: env({ pair: { blue: BLUE, green: GREEN } }), field: 'environment.pair', message: 'set mode: pair' },
  {
    name: 'blue and green the same',
    mutate: env({ mode: 'pair', pair: { blue: BLUE, green: BLUE } }),
    field: 'environment.pair.green',
    message: 'the same target group',
  },
  {
    name: 'a pair member that is not a target group',
    mutate: env({ mode: 'pair', pair: { blue: BLUE, green: LISTENER } }),
    field: 'environment.pair.green',
    message: 'a target group ARN',
  },
  {
    name: 'a pair member in another account',
    mutate: env({ mode: 'pair', pair: { blue: BLUE, green: GREEN.replace(ACCOUNT, '999999999999') } }),
    field: 'environment.pair.green',
    message: 'account 999999999999',
  },
  {
    name: 'a baseline in pair mode',
    mutate: env({ mode: 'pair', pair: { blue: BLUE, green: GREEN }, baselineTargets: [{ id: '10.0.1.30', port: 8080 }] }),
    field: 'environment.baselineTargets',
    message: 'pair mode creates none',
  },
  {
    name: 'clone mode without canary targets',
    mutate: env({ canaryTargets: [] }),
    field: 'environment.canaryTargets',
    message: 'give at least one canary target',
  },
  {
    name: 'a hostname target',
    mutate: env({ canaryTargets: [{ id: 'web-1.internal', port: 80 }] }),
    field: 'environment.canaryTargets[0].id',
    message: 'neither an IP address nor an EC2 instance id',
  },
  {
    name: 'instance ids and IPs mixed',
    mutate: env({ canaryTargets: [{ id: '10.0.1.17', port: 80 }, { id: 'i-0123456789abcdef0' }] }),
    field: 'environment.canaryTargets[1].id',
    message: 'a target group holds one kind',
  },
  {
    name: 'an availability zone on an instance',
    mutate: env({ canaryTargets: [{ id: 'i-0123456789abcdef0', availabilityZone: 'all' }] }),
    field: 'environment.canaryTargets[0].availabilityZone',
    message: 'remove availabilityZone',
  },
  {
    name: 'an availability zone that is no zone',
    mutate: env({ canaryTargets: [{ id: '10.0.1.17', availabilityZone: 'everywhere' }] }),
    field: 'environment.canaryTargets[0].availabilityZone',
    message: 'all (an IP outside the VPC)',
  },
  {
    name: 'baseline of another kind than the canary',
    mutate: env({ canaryTargets: [{ id: '10.0.1.17' }], baselineTargets: [{ id: 'i-0123456789abcdef0' }] }),
    field: 'environment.baselineTargets[0].id',
    message: 'different kinds',
  },
  { name: 'settle is not a duration', mutate: env({ settle: 5 }), field: 'environment.settle', message: 'expected string' },
  { name: 'drainCap is not a duration', mutate: env({ drainCap: 'a while' }), field: 'environment.drainCap', message: 'is not a duration' },
  { name: 'an empty version tag key', mutate: env({ versionTags: [''] }), field: 'environment.versionTags[0]', message: '>=1' },
  { name: 'an unknown mode', mutate: env({ mode: 'swap' }), field: 'environment.mode', message: 'clone' },
];

describe('invalid specs name the field', () => {
  test.each(rows)('$name → $field', ({ mutate, field, message }) => {
    const doc = base();
    mutate(doc);
    const errors = errorsOf(doc);
    const hit = errors.find((e) => e.field === field);
    if (!hit) throw new Error(`no error at ${field}; got ${JSON.stringify(errors)}`);
    expect(hit.message).toContain(message);
  });
});

describe('forward state helpers', () => {
  const a = 'arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/a/1';
  const b = 'arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/b/2';
  const f: ForwardState = {
    targetGroups: [
      { targetGroupArn: a, weight: 90 },
      { targetGroupArn: b, weight: 10 },
    ],
    stickiness: { enabled: false },
  };

  test('order of target groups and the duration of disabled stickiness do not count; weights and enabled stickiness do', () => {
    expect(sameForward(f, { targetGroups: [...f.targetGroups].reverse(), stickiness: { enabled: false, durationSeconds: 3600 } })).toBe(true);
    expect(
      sameForward(
        f,
        withWeights(f, [
          { targetGroupArn: a, weight: 80 },
          { targetGroupArn: b, weight: 20 },
        ]),
      ),
    ).toBe(false);
    expect(sameForward(f, { ...f, stickiness: { enabled: true, durationSeconds: 300 } })).toBe(false);
  });

  test('drift says what changed and shows both states', () => {
    expect(forwardDrift(f, f)).toBeUndefined();
    expect(forwardDrift(f, { targetGroups: [{ targetGroupArn: a, weight: 100 }], stickiness: { enabled: true, durationSeconds: 60 } })).toBe(
      'target groups / weights and stickiness changed: expected forward targetgroup/a/1=90, targetgroup/b/2=10, no stickiness, found forward targetgroup/a/1=100, stickiness 60s',
    );
    expect(forwardDrift(f, undefined)).toMatch(/found no forward action$/);
    expect(describeForward(undefined)).toBe('no forward action');
  });

  test('pair promotion keeps the shape the infrastructure code wrote', () => {
    const both: ForwardState = {
      targetGroups: [
        { targetGroupArn: BLUE, weight: 100 },
        { targetGroupArn: GREEN, weight: 0 },
      ],
      stickiness: { enabled: false },
    };
    expect(pairPromotedWeights(both, BLUE, GREEN)).toEqual([
      { targetGroupArn: GREEN, weight: 100 },
      { targetGroupArn: BLUE, weight: 0 },
    ]);
    const one: ForwardState = { targetGroups: [{ targetGroupArn: BLUE, weight: 1 }], stickiness: { enabled: false } };
    expect(pairPromotedWeights(one, BLUE, GREEN)).toEqual([{ targetGroupArn: GREEN, weight: 100 }]);
  });

  test('a recorded single traffic ref and the list form give the same list', () => {
    expect(trafficRefs({ listenerArn: LISTENER })).toEqual([{ listenerArn: LISTENER }]);
    expect(trafficRefs([{ listenerArn: LISTENER }, { listenerArn: HTTPS }])).toHaveLength(2);
  });
});

describe('target health in words', () => {
  test('state and reason per target; NotInUse says the group is not attached yet', () => {
    expect(describeTargetHealth({ target: '10.0.1.17:8080', state: 'unhealthy', reason: 'Target.FailedHealthChecks' })).toBe(
      '10.0.1.17:8080 unhealthy (Target.FailedHealthChecks)',
    );
    expect(describeTargetHealth({ target: '10.0.1.17:8080', state: 'unused', reason: 'Target.NotInUse' })).toMatch(
      /^10\.0\.1\.17:8080 unused \(Target\.NotInUse: not attached yet: the group is in no forward action/,
    );
    const all = [
      { target: 'a', state: 'healthy' },
      { target: 'b', state: 'initial', reason: 'Elb.InitialHealthChecking' },
    ];
    expect(describeUnhealthy(all)).toBe('b initial (Elb.InitialHealthChecking: first health checks running)');
    expect(notAttached([{ target: 'a', state: 'unused', reason: 'Target.NotInUse' }])).toBe(true);
    expect(notAttached(all)).toBe(false);
  });
});
