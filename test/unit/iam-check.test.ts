import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as cloudwatch from '@aws-sdk/client-cloudwatch';
import * as elbv2 from '@aws-sdk/client-elastic-load-balancing-v2';
import * as sts from '@aws-sdk/client-sts';
import { assumeRolePatterns, roleOutsidePolicyWarning } from '../../client/commands/start';
import {
  authRequestsOf,
  checkActions,
  evaluate,
  iamPairPolicyPath,
  instantiatePolicy,
  isAllowed,
  loadIamPolicy,
  type AuthRequest,
  type IamPolicy,
} from '../../dev/iam-check';

const policy = loadIamPolicy();

/** Every AWS SDK command the product's AWS code constructs, as an IAM action (`elasticloadbalancing:ModifyListener`). */
function commandsUsedBy(dirs: string[]): string[] {
  const root = path.resolve(__dirname, '..', '..');
  const out = new Set<string>();
  for (const dir of dirs) {
    if (!fs.existsSync(path.join(root, dir))) continue;
    // Every .ts file below the folder (the metric sources live in activities/sources/).
    const files = (fs.readdirSync(path.join(root, dir), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
    for (const file of files) {
      const text = fs.readFileSync(path.join(root, dir, file), 'utf8');
      for (const m of text.matchAll(/new (\w+)Command\(/g)) {
        const name = m[1] as string;
        const key = `${name}Command`;
        if (key in elbv2) out.add(`elasticloadbalancing:${name}`);
        else if (key in cloudwatch) out.add(`cloudwatch:${name}`);
        else if (key in sts) out.add(`sts:${name}`);
        else throw new Error(`${dir}/${file}: ${key} is from an SDK this test does not map to an IAM prefix; add it`);
      }
    }
  }
  return [...out].sort();
}

describe('IAM policy check (docs/iam-policy.json)', () => {
  it('allows every AWS call the activities and the worker construct, and what they imply (AddTags with CreateTargetGroup)', () => {
    const used = commandsUsedBy(['activities', 'worker']);
    expect(used).toEqual(expect.arrayContaining(['elasticloadbalancing:ModifyListener', 'elasticloadbalancing:CreateTargetGroup', 'cloudwatch:GetMetricData']));
    const result = checkActions(policy, used);
    expect(result.denied).toEqual([]);
    expect(result.checked).toContain('elasticloadbalancing:AddTags');
  });

  it('denies what only the test harness and the simulator do: creating load balancers, VPCs, publishing metrics', () => {
    const result = checkActions(policy, [
      'elasticloadbalancing:CreateLoadBalancer',
      'elasticloadbalancing:CreateListener',
      'ec2:CreateVpc',
      'cloudwatch:PutMetricData',
    ]);
    expect(result.denied.map((d) => d.action)).toEqual([
      'cloudwatch:PutMetricData',
      'ec2:CreateVpc',
      'elasticloadbalancing:CreateListener',
      'elasticloadbalancing:CreateLoadBalancer',
    ]);
  });

  it('matches wildcards case-insensitively, lets an explicit Deny win, and honours NotAction', () => {
    const p: IamPolicy = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'elasticloadbalancing:Describe*', Resource: '*' },
        { Effect: 'Allow', Action: ['cloudwatch:Get?etricData'], Resource: '*' },
        { Effect: 'Deny', Action: 'elasticloadbalancing:DescribeTags', Resource: '*' },
        { Effect: 'Allow', NotAction: ['sts:*', 'iam:*', 'elasticloadbalancing:*', 'cloudwatch:*'], Resource: '*' },
      ],
    };
    expect(isAllowed(p, 'elasticloadbalancing:DescribeListeners')).toBe(true);
    expect(isAllowed(p, 'ElasticLoadBalancing:describelisteners')).toBe(true);
    expect(isAllowed(p, 'cloudwatch:GetMetricData')).toBe(true);
    expect(isAllowed(p, 'cloudwatch:GetMetricsData')).toBe(false);
    expect(isAllowed(p, 'elasticloadbalancing:DescribeTags')).toBe(false);
    expect(isAllowed(p, 'elasticloadbalancing:ModifyListener')).toBe(false);
    expect(isAllowed(p, 'ec2:DescribeVpcs')).toBe(true);
    expect(isAllowed(p, 'sts:AssumeRole')).toBe(false);
  });

  it('requires AddTags for CreateTargetGroup even though the call never names it', () => {
    const withoutAddTags: IamPolicy = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'elasticloadbalancing:CreateTargetGroup', Resource: '*' }],
    };
    expect(checkActions(withoutAddTags, ['elasticloadbalancing:CreateTargetGroup']).denied).toEqual([
      { action: 'elasticloadbalancing:AddTags', neededFor: 'implied by elasticloadbalancing:CreateTargetGroup' },
    ]);
  });

  it('rejects a malformed policy naming the field', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'iam-')), 'policy.json');
    fs.writeFileSync(file, JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Permit', Action: 'x:y' }] }));
    expect(() => loadIamPolicy(file)).toThrow(/Statement\.0\.Effect/);
  });
});

describe('the scoped policies, evaluated with resources and conditions (@cloud-copilot/iam-simulate)', () => {
  const account = '123456789012';
  const lb = 'checkout-alb';
  const listener = `arn:aws:elasticloadbalancing:us-east-1:${account}:listener/app/${lb}/50dc6c495c0c9188/f2f7dc8efc522ab2`;
  const group = (name: string): string => `arn:aws:elasticloadbalancing:us-east-1:${account}:targetgroup/${name}/73e2d6bc24d8a067`;
  const tags: Record<string, Record<string, string>> = {
    [group('checkout-blue')]: { 'canary:service': 'checkout' },
    [group('payments-blue')]: { 'canary:service': 'payments' },
    [group('untagged')]: {},
  };
  const scoped = instantiatePolicy(loadIamPolicy(), { albNames: [lb], services: ['checkout'] });
  const call = (action: string, params: Record<string, string>): AuthRequest[] =>
    authRequestsOf({ caller: 'canary-worker', action: `elasticloadbalancing:${action}`, region: 'us-east-1', params }, account, (arn) => tags[arn] ?? {});
  const decide = async (reqs: AuthRequest[]): Promise<string[]> => Promise.all(reqs.map((r) => evaluate(scoped, r)));

  it('ships no SetRulePriorities (never called) and placeholders the docs explain', () => {
    const text = fs.readFileSync(path.resolve(__dirname, '..', '..', 'docs', 'iam-policy.json'), 'utf8');
    expect(text).not.toContain('SetRulePriorities');
    expect(text).toContain('ALB_NAME');
    expect(fs.readFileSync(path.resolve(__dirname, '..', '..', 'docs', 'running-for-real.md'), 'utf8')).toContain('ALB_NAME');
  });

  it('allows deleting the service’s own groups and denies another service’s and untagged ones', async () => {
    expect(await decide(call('DeleteTargetGroup', { TargetGroupArn: group('checkout-blue') }))).toEqual(['Allowed']);
    expect(await decide(call('DeleteTargetGroup', { TargetGroupArn: group('payments-blue') }))).toEqual(['ImplicitlyDenied']);
    expect(await decide(call('DeleteTargetGroup', { TargetGroupArn: group('untagged') }))).toEqual(['ImplicitlyDenied']);
  });

  it('allows ModifyListener on the named ALB only', async () => {
    expect(await decide(call('ModifyListener', { ListenerArn: listener }))).toEqual(['Allowed']);
    expect(await decide(call('ModifyListener', { ListenerArn: listener.replace(lb, 'payments-alb') }))).toEqual(['ImplicitlyDenied']);
  });

  it('allows CreateTargetGroup with its tag-on-create AddTags only when the request tags name the service and a release', async () => {
    const tagged = {
      Name: 'checkout-v2-abc',
      'Tags.member.1.Key': 'canary:service',
      'Tags.member.1.Value': 'checkout',
      'Tags.member.2.Key': 'canary:release-id',
      'Tags.member.2.Value': 'release-checkout/1',
    };
    const reqs = call('CreateTargetGroup', tagged);
    expect(reqs.map((r) => r.action)).toEqual(['elasticloadbalancing:CreateTargetGroup', 'elasticloadbalancing:AddTags']);
    // The implied AddTags carries CreateAction; iam-simulate 0.1.173's service data lists AddTags on `loadbalancer` only
    // (no.resource.types for a target group), so only the CreateTargetGroup authorization is simulated here.
    expect(reqs[1]?.context['elasticloadbalancing:CreateAction']).toBe('CreateTargetGroup');
    expect(await decide(reqs.slice(0, 1))).toEqual(['Allowed']);
    expect(await decide(call('CreateTargetGroup', { ...tagged, 'Tags.member.1.Value': 'payments' }).slice(0, 1))).toEqual(['ImplicitlyDenied']);
    expect(await decide(call('CreateTargetGroup', { Name: 'x' }))).toEqual(['ImplicitlyDenied']);
  });

  it('allows AssumeRole of canary-* roles only', async () => {
    const assume = (arn: string): AuthRequest[] =>
      authRequestsOf({ caller: 'w', action: 'sts:AssumeRole', region: 'us-east-1', params: { RoleArn: arn } }, account, () => ({}));
    expect(await decide(assume(`arn:aws:iam::${account}:role/canary-release`))).toEqual(['Allowed']);
    expect(await decide(assume(`arn:aws:iam::${account}:role/deployer`))).toEqual(['ImplicitlyDenied']);
  });
});

describe('canary validate: a spec role outside the shipped AssumeRole resources', () => {
  it('reads the pattern from docs/iam-policy.json and warns only for a role it does not match', () => {
    const patterns = assumeRolePatterns(loadIamPolicy());
    expect(patterns).toEqual(['arn:aws:iam::*:role/canary-*']);
    expect(assumeRolePatterns(loadIamPolicy(iamPairPolicyPath))).toEqual(patterns);
    expect(roleOutsidePolicyWarning('arn:aws:iam::210987654321:role/canary-release', patterns)).toBeUndefined();
    expect(roleOutsidePolicyWarning('arn:aws:iam::210987654321:role/deployer', patterns)).toMatch(/role\/deployer is outside .*role\/canary-\*/);
    expect(roleOutsidePolicyWarning(undefined, patterns)).toBeUndefined();
  });
});
