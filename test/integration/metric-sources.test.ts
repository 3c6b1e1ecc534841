/**
 * The CloudWatch source against moto: `minRequests` counted from each target group's RequestCount, GetMetricData and
 * DescribeAlarms paced per account and region, an assumed role's session named for the release, and `canary report`
 * reading the release's own region and account in the buckets the data's age still has.
 */
import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { createMetricsActivities } from '../../activities/metrics';
import { createAwsClients, type AwsClients } from '../../activities/aws-clients';
import { CloudWatchBudgets } from '../../activities/sources/cloudwatch';
import type { AnalysisRequest, AnalysisRun } from '../../analysis/analysis';
import { reportMetrics } from '../../client/report-data';
import { AnalysisTemplate } from '../../common/spec';
import { errorRateTemplate, publishTraffic } from '../../dev/aws-state';
import { clientsAssuming, roleIn } from '../support/accounts';
import { activityScheduledNow } from '../support/activity-env';
import { putTargetErrorAlarm } from '../support/alarms';
import { testAws, testStack, uniqueName } from '../support/env';

const loadBalancer = 'app/checkout/50dc6c495c0c9188';
const dimsOf = (name: string) => ({ targetGroup: `targetgroup/${name}/0123456789abcdef`.slice(0, 60), loadBalancer });

/** The worker's clients: the default account and us-east-1, as a worker or the CLI builds them from its environment. */
function ownClients(): AwsClients {
  return createAwsClients({ region: 'us-east-1', endpoint: testStack.awsEndpoint, accessKeyId: 'testing', secretAccessKey: 'testing', maxAttempts: 1 });
}

async function analyse(
  aws: AwsClients,
  req: Omit<AnalysisRequest, 'templateName' | 'intervalMs' | 'count'> & Partial<AnalysisRequest> & { aws?: { region: string; roleArn?: string } },
  opts: { budgets?: CloudWatchBudgets; workflowId?: string } = {},
): Promise<AnalysisRun> {
  const { runAnalysis } = createMetricsActivities(async (scope) => (scope ? aws.clientsFor(scope) : aws), { cloudwatchBudgets: opts.budgets });
  const env = activityScheduledNow({
    scheduleToCloseTimeoutMs: 0,
    ...(opts.workflowId ? { workflowExecution: { workflowId: opts.workflowId, runId: 'run-1' } } : {}),
  });
  return (await env.run(runAnalysis, { templateName: 't', count: 1, intervalMs: 10, ...req })) as AnalysisRun;
}

describe('minRequests in the analysis activity', () => {
  const aws = testAws();
  afterAll(() => aws.destroy());

  it("fails a canary's 1 error in 3 requests without minRequests, and leaves that thin window to noData with it", async () => {
    const name = uniqueName('thin');
    const canary = dimsOf(`${name}-c`);
    const stable = dimsOf(`${name}-s`);
    await publishTraffic(aws, canary, 3, 1);
    await publishTraffic(aws, stable, 900, 0);

    const judged = await analyse(aws, { template: AnalysisTemplate.parse(errorRateTemplate(0.05)), variants: { canary, stable } });
    expect(judged.verdict).toBe('fail');
    expect(judged.last?.metrics).toEqual([expect.objectContaining({ metric: '5xx-rate', canary: 1 / 3, verdict: 'fail' })]);

    const thin = await analyse(aws, { template: AnalysisTemplate.parse(errorRateTemplate(0.05, { minRequests: 100 })), variants: { canary, stable } });
    expect(thin.verdict).toBe('inconclusive');
    expect(thin.last?.verdict).toBe('inconclusive');
    expect(thin.last?.metrics).toEqual([
      expect.objectContaining({
        metric: '5xx-rate',
        canary: 1 / 3,
        verdict: 'nodata',
        thin: 'too few requests to judge: canary 3 in the window, minRequests 100',
      }),
    ]);
  });
});

describe("CloudWatch's calls are paced per account and region", () => {
  it('takes a token for every GetMetricData and DescribeAlarms call of the analysis', async () => {
    const aws = ownClients();
    try {
      const name = uniqueName('paced');
      await putTargetErrorAlarm(aws.cloudwatch, `${name}-5xx`, { value: 'OK', reason: 'test' });
      const budgets = new CloudWatchBudgets({ GetMetricData: { perSecond: 20, burst: 1 }, DescribeAlarms: { perSecond: 20, burst: 1 } });
      const template = AnalysisTemplate.parse(errorRateTemplate(0.05, { alarms: { names: [`${name}-5xx`] } }));
      await analyse(aws, { template, variants: { canary: dimsOf(`${name}-c`), stable: dimsOf(`${name}-s`) }, count: 3 }, { budgets });
      const pace = budgets.for('worker', 'us-east-1');
      // Three measurements: one GetMetricData and one DescribeAlarms each, every one through the bucket.
      expect(pace.GetMetricData.stats.immediate + pace.GetMetricData.stats.waited).toBe(3);
      expect(pace.DescribeAlarms.stats.immediate + pace.DescribeAlarms.stats.waited).toBe(3);
      expect(pace.GetMetricData.stats.refused).toBe(0);
    } finally {
      aws.destroy();
    }
  });
});

describe("an assumed role's session is the release id", () => {
  it('names the session of the role the analysis assumes for the release it works for (as CloudTrail shows it)', async () => {
    const aws = ownClients();
    try {
      const account = '222233334444';
      const roleArn = roleIn(account);
      const release = uniqueName('release-sess');
      const name = uniqueName('sess');
      const run = await analyse(
        aws,
        {
          template: AnalysisTemplate.parse(errorRateTemplate(0.05)),
          variants: { canary: dimsOf(`${name}-c`), stable: dimsOf(`${name}-s`) },
          aws: { region: 'us-east-1', roleArn },
        },
        { workflowId: release },
      );
      expect(run.last?.verdict).not.toBe('error');
      // The clients the release's measurement used (cached per session), and who STS says they are.
      const credentials = await (await aws.clientsFor({ region: 'us-east-1', roleArn }, release)).cloudwatch.config.credentials();
      const sts = new STSClient({ region: 'us-east-1', endpoint: testStack.awsEndpoint, credentials, maxAttempts: 1 });
      try {
        const who = await sts.send(new GetCallerIdentityCommand({}));
        expect(who.Arn).toBe(`arn:aws:sts::${account}:assumed-role/canary-release/${release}`);
      } finally {
        sts.destroy();
      }
    } finally {
      aws.destroy();
    }
  });
});

describe("canary report reads the release's account and region, in the buckets its data's age still has", () => {
  const account = '333344445555';
  const roleArn = roleIn(account);
  const scope = { region: 'eu-west-1', roleArn };
  const templates = { errors: AnalysisTemplate.parse(errorRateTemplate(0.05)) };
  const HOUR = 3_600_000;
  const DAY = 24 * HOUR;
  let owner: AwsClients;
  let cli: AwsClients;
  beforeAll(async () => {
    owner = await clientsAssuming(testStack.awsEndpoint, roleArn, 'eu-west-1');
    cli = ownClients();
  });
  afterAll(() => {
    owner.destroy();
    cli.destroy();
  });

  /** One datapoint a minute for 10 minutes from `startMs`: requests 100 + i, 5xx i. */
  async function publishMinutes(targets: { canary: { targetGroup: string }; stable: { targetGroup: string } }, startMs: number): Promise<void> {
    for (const [variant, dims] of Object.entries(targets)) {
      const Dimensions = [
        { Name: 'TargetGroup', Value: dims.targetGroup },
        { Name: 'LoadBalancer', Value: loadBalancer },
      ];
      const at = (i: number) => new Date(startMs + i * 60_000);
      await owner.cloudwatch.send(
        new PutMetricDataCommand({
          Namespace: 'AWS/ApplicationELB',
          MetricData: Array.from({ length: 10 }, (_, i) => [
            { MetricName: 'RequestCount', Dimensions, Value: 100 + i, Timestamp: at(i) },
            { MetricName: 'HTTPCode_Target_5XX_Count', Dimensions, Value: variant === 'canary' ? i : 0, Timestamp: at(i) },
          ]).flat(),
        }),
      );
    }
  }

  it("finds the series in the role's account and the spec's region, where the CLI's own clients find none", async () => {
    const name = uniqueName('rep');
    const targets = { canary: dimsOf(`${name}-c`), stable: dimsOf(`${name}-s`) };
    const now = Date.now();
    const start = Math.floor((now - 2 * HOUR) / 60_000) * 60_000;
    await publishMinutes(targets, start);
    const range = { start, end: start + 10 * 60_000 };

    const cloudwatch = (await cli.clientsFor(scope, `release-${name}`)).cloudwatch;
    const read = await reportMetrics({ templates, targets, range, nowMs: now, cloudwatch, scope });
    expect(read.source).toEqual({ region: 'eu-west-1', roleArn });
    expect(read.metrics).toEqual([expect.objectContaining({ metric: '5xx-rate', reference: 'stable' })]);
    const rate = read.metrics[0]!;
    expect(rate.error).toBeUndefined();
    expect(rate.series.canary?.v).toEqual(Array.from({ length: 10 }, (_, i) => i / (100 + i)));
    expect(rate.series.stable?.t).toHaveLength(10);

    // What the report read before: the CLI's own region and account, where this release's metrics are not.
    const own = await reportMetrics({ templates, targets, range, nowMs: now, cloudwatch: cli.cloudwatch, scope: { region: 'us-east-1' } });
    expect(own.metrics[0]?.series.canary?.t).toEqual([]);
  });

  it('reads a 20-day-old release in 5-minute buckets and says why; one past 455 days is expired and not asked for', async () => {
    const name = uniqueName('old');
    const targets = { canary: dimsOf(`${name}-c`), stable: dimsOf(`${name}-s`) };
    const now = Date.now();
    const start = Math.floor((now - 20 * DAY) / 300_000) * 300_000;
    await publishMinutes(targets, start);
    const cloudwatch = (await cli.clientsFor(scope, `release-${name}`)).cloudwatch;

    const old = await reportMetrics({ templates, targets, range: { start, end: start + 10 * 60_000 }, nowMs: now, cloudwatch, scope });
    expect(old.source).toMatchObject({ minPeriodSeconds: 300, note: expect.stringContaining('shown in 5-minute buckets') });
    const rate = old.metrics[0]!;
    expect(rate.series.canary?.t).toEqual([start, start + 300_000]);
    // Each bucket's errors over its requests: minutes 0-4 and 5-9 summed.
    expect(rate.series.canary?.v).toEqual([10 / 510, 35 / 535]);

    const expired = await reportMetrics({ templates, targets, range: { start: now - 500 * DAY, end: now - 499 * DAY }, nowMs: now, cloudwatch, scope });
    expect(expired.source).toMatchObject({ expired: true, note: expect.stringContaining('its metrics have expired') });
    expect(expired.metrics[0]).toMatchObject({ metric: '5xx-rate', series: {} });
  });
});
