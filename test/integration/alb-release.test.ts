/**
 * Whole releases on the realism stack (the dev server, moto behind the ALB realism layer, the real worker) for the
 * two features a platform team meets first on a real account: `pair` mode, where Terraform/ECS own a blue and a
 * green target group and a release may create or delete neither, and a release into another AWS account through
 * `aws.roleArn` (STS AssumeRole), whose credentials never reach the workflow history.
 */
import {
  CreateTargetGroupCommand,
  DescribeRulesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ModifyTargetGroupAttributesCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { AwsClients } from '../../activities/aws-clients';
import { Tags } from '../../activities/contract';
import { actions, startRelease } from '../../client/release-client';
import { statusQuery } from '../../common/messages';
import type { SeededAlb } from '../../dev/seed';
import { clientsAssuming, roleIn } from '../support/accounts';
import { testStack } from '../support/env';
import { historyText } from '../support/history-text';
import { forwardActions, releaseTestEnvironment, seedService, targetGroupsOf, testEnvironment, testSpec, waitForStatus } from '../support/release-fixture';
import { forwardLiveAndIdle } from '../support/listener';

const env = releaseTestEnvironment();
const aws = env.aws;

/** A service whose IaC keeps two groups in the listener's forward action: blue live at 100, green idle at 0. */
async function bluegreen(prefix: string): Promise<{ service: string; seeded: SeededAlb; blue: string; green: string }> {
  const { service, seeded } = await seedService(aws, prefix);
  const out = await aws.elbv2.send(
    new CreateTargetGroupCommand({
      Name: `${service}-green`.slice(0, 32),
      Protocol: 'HTTP',
      Port: 8080,
      VpcId: seeded.vpcId,
      TargetType: 'ip',
      HealthCheckPath: '/healthz',
      HealthCheckIntervalSeconds: 10,
      HealthyThresholdCount: 2,
      Tags: [{ Key: 'service', Value: service }],
    }),
  );
  const green = out.TargetGroups?.[0]?.TargetGroupArn as string;
  await aws.elbv2.send(
    new ModifyTargetGroupAttributesCommand({ TargetGroupArn: green, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '2' }] }),
  );
  const blue = seeded.stableTargetGroupArn;
  await forwardLiveAndIdle(aws.elbv2, seeded.listenerArn, blue, green);
  return { service, seeded, blue, green };
}

/** Registered targets of a group as the (realism) API reports them: id and state. */
async function targetsIn(via: AwsClients, targetGroupArn: string): Promise<{ id: string; state: string }[]> {
  const out = await via.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
  return (out.TargetHealthDescriptions ?? [])
    .map((d) => ({ id: d.Target?.Id ?? '', state: d.TargetHealth?.State ?? '' }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** The forward's target groups and weights, by ARN. */
function weightsOf(actionsJson: unknown): Record<string, number> {
  const tgs = (actionsJson as { ForwardConfig?: { TargetGroups?: { TargetGroupArn: string; Weight: number }[] } }[])[0]?.ForwardConfig?.TargetGroups ?? [];
  return Object.fromEntries(tgs.map((t) => [t.TargetGroupArn, t.Weight]));
}

/** Every activity the run scheduled, in order, with its decoded input. */
async function scheduledActivities(client: Client, workflowId: string): Promise<{ type: string; input: Record<string, unknown> }[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const a = e.activityTaskScheduledEventAttributes;
    if (!a) return [];
    const payload = a.input?.payloads?.[0];
    return [{ type: a.activityType?.name ?? '', input: payload ? defaultPayloadConverter.fromPayload<Record<string, unknown>>(payload) : {} }];
  });
}

describe('pair mode on the realism stack: nothing created or deleted', () => {
  it('promotes into the idle green group, keeps blue attached at 0 and deregisters its old targets only after draining', async () => {
    const { service, seeded, blue, green } = await bluegreen('pairok');
    const groupsBefore = (await targetGroupsOf(aws, seeded)).map((g) => g.arn).sort();
    const spec = testSpec(seeded, service, {
      environment: { ...testEnvironment, mode: 'pair', pair: { blue, green } },
      steps: [{ setWeight: 25 }, { setWeight: 100 }],
    });
    const handle = await startRelease(env.client, spec, { taskQueue: env.taskQueue });
    const result = await handle.result();

    expect(result).toMatchObject({ outcome: 'promoted', stepsCompleted: 2 });
    // The roles swapped: green serves, blue stays in the forward action at 0 for the next release.
    expect(weightsOf(await forwardActions(aws, seeded))).toEqual({ [green]: 100, [blue]: 0 });
    expect((await targetGroupsOf(aws, seeded)).map((g) => g.arn).sort()).toEqual(groupsBefore);
    expect(await targetsIn(aws, green)).toEqual([{ id: '10.0.0.21', state: 'healthy' }]);
    // Blue's old targets are no longer registered: draining for the deregistration delay (2 s of AWS time, a few
    // milliseconds at the stack's time scale), then gone. Still registered, they would answer healthy here.
    expect((await targetsIn(aws, blue)).every((t) => t.state === 'draining')).toBe(true);

    const scheduled = await scheduledActivities(env.client, handle.workflowId);
    const types = scheduled.map((a) => a.type);
    expect(types).not.toEqual(expect.arrayContaining(['ensureTargetGroup']));
    expect(types).not.toEqual(expect.arrayContaining(['deleteTargetGroup']));
    // Blue was drained before its targets left: traffic gone (verified), then the delay, then DeregisterTargets.
    const onBlue = scheduled.filter((a) => a.input.targetGroupArn === blue).map((a) => a.type);
    expect(onBlue).toEqual(['drainTargetGroup', 'deregisterTargets']);
    const status = await handle.query(statusQuery);
    expect(status.timeline.map((t) => t.action)).toEqual(expect.arrayContaining(['attach at weight 0', 'canary targets healthy', 'promoted']));
  });

  it('restores the exact pre-release listener when aborted, with both groups kept and green emptied of the canary targets', async () => {
    const { service, seeded, blue, green } = await bluegreen('pairab');
    const before = await forwardActions(aws, seeded);
    const groupsBefore = (await targetGroupsOf(aws, seeded)).map((g) => g.arn).sort();
    const blueTargets = (await targetsIn(aws, blue)).map((t) => t.id);
    const spec = testSpec(seeded, service, {
      environment: { ...testEnvironment, mode: 'pair', pair: { blue, green } },
      steps: [{ setWeight: 30 }, { approval: { approvers: ['alice'], timeout: '10m' } }, { setWeight: 100 }],
    });
    const handle = await startRelease(env.client, spec, { taskQueue: env.taskQueue });
    await waitForStatus(handle, (s) => s.phase === 'AwaitingApproval');
    expect(weightsOf(await forwardActions(aws, seeded))).toEqual({ [blue]: 70, [green]: 30 });
    await actions.abort(env.client, handle.workflowId, { by: 'bob', reason: 'wrong build' });
    const result = await handle.result();

    expect(result).toMatchObject({ outcome: 'aborted', by: 'bob' });
    expect(await forwardActions(aws, seeded)).toEqual(before);
    expect((await targetGroupsOf(aws, seeded)).map((g) => g.arn).sort()).toEqual(groupsBefore);
    expect(await targetsIn(aws, blue)).toEqual(blueTargets.map((id) => ({ id, state: 'healthy' })));
    // The canary targets the release registered into green are deregistered again (draining, then gone).
    expect((await targetsIn(aws, green)).every((t) => t.id === '10.0.0.21' && t.state === 'draining')).toBe(true);
    const types = (await scheduledActivities(env.client, handle.workflowId)).map((a) => a.type);
    expect(types).not.toEqual(expect.arrayContaining(['ensureTargetGroup']));
    expect(types).not.toEqual(expect.arrayContaining(['deleteTargetGroup']));
    expect((await handle.query(statusQuery)).rollbackPlan).toEqual([]);
  });
});

describe('a release into another account (aws.roleArn)', () => {
  it("assumes the role and changes only the role account's load balancer; no credentials in the history", async () => {
    const account = '777788889999';
    const roleArn = roleIn(account);
    const owner = await clientsAssuming(testStack.awsEndpoint, roleArn);
    try {
      const { service, seeded } = await seedService(owner, 'acct');
      expect(seeded.listenerArn).toContain(`:${account}:`);
      const rulesBefore = (await owner.elbv2.send(new DescribeRulesCommand({ ListenerArn: seeded.listenerArn }))).Rules?.map((r) => r.RuleArn);
      const spec = testSpec(seeded, service, {
        aws: { roleArn, externalId: 'ci-4711' },
        // A segment step too: its rule is created, checked and removed in the role account.
        steps: [{ segment: { name: 'staff', match: { sourceIp: ['10.20.0.0/16'] } } }, { setWeight: 50 }, { setWeight: 100 }],
      });
      const handle = await startRelease(env.client, spec, { taskQueue: env.taskQueue });
      const result = await handle.result();

      expect(result).toMatchObject({ outcome: 'promoted', stepsCompleted: 3 });
      const groups = await targetGroupsOf(owner, seeded);
      expect(groups).toHaveLength(1);
      expect(groups[0]?.arn).toContain(`:${account}:`);
      expect(groups[0]?.tags).toMatchObject({ [Tags.service]: service, [Tags.role]: 'canary' });
      expect(weightsOf(await forwardActions(owner, seeded))).toEqual({ [groups[0]?.arn as string]: 100 });
      expect((await owner.elbv2.send(new DescribeRulesCommand({ ListenerArn: seeded.listenerArn }))).Rules?.map((r) => r.RuleArn)).toEqual(rulesBefore);
      const status = await handle.query(statusQuery);
      expect(status.timeline.map((t) => t.action)).toEqual(expect.arrayContaining(['segment', 'remove segment rule']));
      // Nothing of this service in the worker's own account.
      const own = await aws.elbv2.send(new DescribeTargetGroupsCommand({}));
      expect((own.TargetGroups ?? []).filter((t) => t.TargetGroupName?.startsWith(service))).toEqual([]);

      // Every ELB activity carried the role ARN (never what it yields) ...
      const scheduled = await scheduledActivities(env.client, handle.workflowId);
      const elb = scheduled.filter((a) => a.type !== 'notify' && a.type !== 'runAnalysis' && a.type !== 'workerApproverKeys');
      expect(elb.length).toBeGreaterThan(10);
      for (const a of elb) expect({ type: a.type, aws: a.input.aws }).toEqual({ type: a.type, aws: { region: 'us-east-1', roleArn, externalId: 'ci-4711' } });
      // ... and the credentials the worker assumed appear nowhere in the history.
      // The release's own role session (named for the release: the worker keeps one per release).
      const credentials = await (
        await env.workerAws.clientsFor({ region: 'us-east-1', roleArn, externalId: 'ci-4711' }, handle.workflowId)
      ).elbv2.config.credentials();
      expect(credentials.accessKeyId).toMatch(/^ASIA/);
      const text = await historyText(env.client, handle.workflowId);
      expect(text).toContain(roleArn);
      for (const secret of [credentials.accessKeyId, credentials.secretAccessKey, credentials.sessionToken as string]) {
        expect(secret.length).toBeGreaterThan(10);
        expect(text).not.toContain(secret);
      }
    } finally {
      owner.destroy();
    }
  });
});
