import { GetMetricDataCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeListenersCommand, DescribeTargetGroupsCommand, DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import * as fs from 'node:fs';
import { seedAlb } from '../../dev/seed';
import { resultOrFailedTask } from '../support/failed-tasks';
import { historyFromJSON } from '../support/history-json';
import { testAws, testClient, testWorker, uniqueName } from '../support/env';

describe('local stack', () => {
  const aws = testAws();
  afterAll(() => aws.destroy());

  it('runs a workflow and its activity on the real dev server', async () => {
    const taskQueue = uniqueName('smoke');
    const { client, connection } = await testClient();
    const { worker, connection: native } = await testWorker({
      taskQueue,
      activities: { echo: async (text: string) => text.toUpperCase() },
    });
    try {
      const result = await worker.runUntil(client.workflow.execute('smokeWorkflow', { taskQueue, workflowId: uniqueName('smoke'), args: ['hello'] }));
      expect(result).toBe('workflow saw HELLO');
    } finally {
      await connection.close();
      await native.close();
    }
  });

  // A failed workflow task is retried for ever, so awaiting the result alone would wait for the test's timeout.
  it('reports a failed workflow task at once, with its message and the history saved, instead of awaiting a result that never comes', async () => {
    const taskQueue = uniqueName('failing');
    const { client, connection } = await testClient();
    const { worker, connection: native } = await testWorker({ taskQueue });
    const handle = await client.workflow.start('failingTaskWorkflow', { taskQueue, workflowId: uniqueName('failing'), args: [] });
    try {
      const err: Error = await worker.runUntil(
        resultOrFailedTask(handle, 200).then(
          () => new Error('resolved'),
          (e: Error) => e,
        ),
      );
      expect(err.message).toMatch(
        new RegExp(
          `^${handle.workflowId}: workflow task failed at event 4 \\(WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE\\): this workflow task fails on purpose; history saved to (.+)$`,
        ),
      );
      const file = /history saved to (.+)$/.exec(err.message)?.[1] as string;
      const saved = historyFromJSON(JSON.parse(fs.readFileSync(file, 'utf8')));
      expect(saved.events?.[3]?.workflowTaskFailedEventAttributes?.failure?.message).toBe('this workflow task fails on purpose');
    } finally {
      await handle.terminate('test over').catch(() => undefined);
      await connection.close();
      await native.close();
    }
  });

  it('creates and describes a target group and a listener through the ELBv2 SDK against moto', async () => {
    const name = uniqueName('smk');
    const seeded = await seedAlb(aws, { name });
    const tgs = await aws.elbv2.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [seeded.stableTargetGroupArn] }));
    expect(tgs.TargetGroups?.[0]).toMatchObject({ TargetGroupName: `${name}-v1`, Protocol: 'HTTP', Port: 8080, VpcId: seeded.vpcId, TargetType: 'ip' });
    const health = await aws.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: seeded.stableTargetGroupArn }));
    expect(health.TargetHealthDescriptions?.map((d) => d.Target?.Id).sort()).toEqual(['10.0.0.11', '10.0.1.12']);
    const listeners = await aws.elbv2.send(new DescribeListenersCommand({ ListenerArns: [seeded.listenerArn] }));
    expect(listeners.Listeners?.[0]?.DefaultActions?.[0]?.TargetGroupArn).toBe(seeded.stableTargetGroupArn);
  });

  it('speaks the pinned CloudWatch client protocol (AWS JSON 1.0) for PutMetricData and GetMetricData', async () => {
    const metric = uniqueName('SmokeMetric');
    const start = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 60_000);
    await aws.cloudwatch.send(
      new PutMetricDataCommand({
        Namespace: 'Canary/Smoke',
        MetricData: [
          { MetricName: metric, Value: 3, Unit: 'Count', Dimensions: [{ Name: 'TargetGroup', Value: 'tg' }] },
          { MetricName: metric, Value: 4, Unit: 'Count', Dimensions: [{ Name: 'TargetGroup', Value: 'tg' }] },
        ],
      }),
    );
    const data = await aws.cloudwatch.send(
      new GetMetricDataCommand({
        StartTime: start,
        EndTime: new Date(Date.now() + 60_000),
        MetricDataQueries: [
          {
            Id: 'm1',
            MetricStat: {
              Metric: { Namespace: 'Canary/Smoke', MetricName: metric, Dimensions: [{ Name: 'TargetGroup', Value: 'tg' }] },
              Period: 60,
              Stat: 'Sum',
            },
          },
        ],
      }),
    );
    const values = data.MetricDataResults?.[0]?.Values ?? [];
    expect(values.reduce((a, b) => a + b, 0)).toBe(7);
  });
});
