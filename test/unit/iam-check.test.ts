import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as cloudwatch from '@aws-sdk/client-cloudwatch';
import * as elbv2 from '@aws-sdk/client-elastic-load-balancing-v2';
import * as sts from '@aws-sdk/client-sts';
import { checkActions, isAllowed, loadIamPolicy, type IamPolicy } from '../../dev/iam-check';

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
