/**
 * The worker process with credentials that expire, as operators run it: no keys in its environment, the AWS SDK's
 * default chain reading a loopback container credentials endpoint (dev/credentials-endpoint.ts), and the stack's AWS
 * endpoint answering `ExpiredToken` to calls signed with expired keys (dev/fault-proxy.ts). Its logs are JSON
 * (CANARY_LOG_FORMAT=json) and its Prometheus endpoint serves the canary_* release metrics.
 */
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Client, Connection } from '@temporalio/client';
import { ErrorTypes } from '../../activities/contract';
import { actions, startRelease } from '../../client/release-client';
import { startCredentialsEndpoint, type CredentialsEndpoint } from '../../dev/credentials-endpoint';
import { freePort } from '../../dev/stack';
import { testAws, testClient, testStack, uniqueName } from '../support/env';
import { forwardActions, seedService, targetGroupsOf, testSpec, waitForStatus } from '../support/release-fixture';
import { killAllWorkerProcesses, spawnWorker, workerEnv, type WorkerProcess } from '../support/worker-process';

jest.setTimeout(240_000);

const aws = testAws();
let client: Client;
let connection: Connection;
let creds: CredentialsEndpoint;
let worker: WorkerProcess;
let taskQueue: string;
let metricsUrl: string;
/** Webhook posts the worker sent (CANARY_WEBHOOK_OPS). */
const posts: { event?: string; message?: string; releaseId?: string }[] = [];
let hooks: http.Server;

/** No keys and no profile: only the container credentials endpoint can give the worker credentials. */
function chainOnlyEnv(queue: string, extra: Record<string, string>): Record<string, string> {
  const env = workerEnv(testStack, queue);
  delete env.AWS_ACCESS_KEY_ID;
  delete env.AWS_SECRET_ACCESS_KEY;
  return {
    ...env,
    AWS_CONFIG_FILE: path.join(os.tmpdir(), 'canary-test-no-such-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(os.tmpdir(), 'canary-test-no-such-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    // One SDK attempt per call (the emulator's rule): every retry here is Temporal's.
    AWS_MAX_ATTEMPTS: '1',
    CANARY_LOG_FORMAT: 'json',
    CANARY_LOG_LEVEL: 'INFO',
    ...extra,
  };
}

/** Every line a worker process wrote, on stdout and stderr, each parsed as JSON (a line that is not fails the test). */
function jsonLines(proc: WorkerProcess): Record<string, unknown>[] {
  return [...proc.stdout().split('\n'), ...proc.stderr().split('\n')]
    .filter((l) => l.trim() !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`a worker log line is not JSON: ${line}`);
      }
    });
}

async function scrape(): Promise<string> {
  const res = await fetch(metricsUrl);
  if (!res.ok) throw new Error(`${metricsUrl}: HTTP ${res.status}`);
  return res.text();
}

/** The value of the first sample of `metric` whose labels include every one of `labels`; undefined when there is none. */
function sample(text: string, metric: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${metric}(?:\\{([^}]*)\\})? (\\S+)$`).exec(line);
    if (!m) continue;
    const have = Object.fromEntries([...(m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[2]);
  }
  return undefined;
}

/** Polls the metrics endpoint until `pred` holds for its text (metrics are exported as they are emitted, not at once). */
async function waitForMetrics(what: string, pred: (text: string) => boolean, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = await scrape().catch(() => '');
    if (pred(text)) return text;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `metrics never showed ${what}; last scrape:\n${text
      .split('\n')
      .filter((l) => l.startsWith('canary_'))
      .join('\n')}`,
  );
}

beforeAll(async () => {
  ({ client, connection } = await testClient());
  creds = await startCredentialsEndpoint({ awsEndpoint: testStack.awsEndpoint });
  hooks = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      posts.push(JSON.parse(body) as (typeof posts)[number]);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', () => resolve()));
  taskQueue = uniqueName('creds');
  const metricsPort = await freePort();
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  worker = spawnWorker(
    chainOnlyEnv(taskQueue, {
      ...creds.env,
      CANARY_METRICS_ADDRESS: `127.0.0.1:${metricsPort}`,
      CANARY_WEBHOOK_OPS: `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hook`,
      // Two Describe calls a second (bursting to 4): a release's calls wait for the pacer, and the metrics show it.
      CANARY_ELB_DESCRIBE_RATE: '2',
    }),
  );
  await worker.waitForLine(/"message":"canary worker ready:/, 90_000);
});

afterAll(async () => {
  killAllWorkerProcesses();
  await creds?.stop();
  await new Promise((resolve) => hooks?.close(resolve));
  // Let client calls retried by the SDK's gRPC backoff settle before the connection closes.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  await connection?.close();
  aws.destroy();
});

describe('a worker whose credentials come from a container credentials endpoint', () => {
  it('names the AWS account, ARN and region it acts as, and where its credentials come from', () => {
    const lines = jsonLines(worker);
    const ready = lines.find((l) => String(l.message).startsWith('canary worker ready:'));
    expect(ready?.message).toMatch(/, AWS account 123456789012 as arn:aws:sts::123456789012:\S+, region us-east-1$/);
    expect(ready?.aws).toMatchObject({ account: '123456789012', region: 'us-east-1' });
    expect(lines.map((l) => l.message)).toContain(
      `AWS credentials from the container credentials endpoint ${creds.url} (AWS_CONTAINER_CREDENTIALS_FULL_URI: EKS Pod Identity or an ECS task role)`,
    );
    expect(creds.stats.served).toBeGreaterThan(0);
  });

  it('fails the forward step at once when they expire, and the rollback completes once the endpoint serves fresh ones', async () => {
    const { service, seeded } = await seedService(aws, 'creds');
    const before = await forwardActions(aws, seeded);
    const spec = testSpec(seeded, service, {
      steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 50 }, { setWeight: 100 }],
      notifications: { webhook: 'ops', events: ['rollback-failed', 'rolled-back'], format: 'json' },
      rollback: { retryInterval: '1s' },
    });
    const handle = await startRelease(client, spec, { taskQueue });
    await waitForStatus(handle, (s) => s.phase === 'Paused', 90_000);

    await creds.expire();
    await actions.resume(client, handle.workflowId, { by: 'alice' });

    // The forward step's activity failed on its first attempt, non-retryable, saying where credentials come from.
    const failed = await waitForStatus(handle, (s) => s.phase === 'RollbackFailed', 120_000);
    expect(failed.rollbackError).toMatch(/AWS credentials expired \(ExpiredToken: The security token included in the request is expired\)/);
    expect(failed.rollbackError).toContain(`the worker's credentials come from the container credentials endpoint ${creds.url}`);
    const runs = await activityRuns(handle.workflowId);
    const forward = runs.find((r) => r.failure?.type === ErrorTypes.AwsCredentials && r.failure.nonRetryable);
    expect(forward).toMatchObject({ attempts: 1, outcome: 'failed' });
    expect(forward?.failure?.message).toMatch(/the release rolls back/);
    // The compensation kept retrying (a retryable failure each attempt) rather than failing at once.
    const restore = runs.find((r) => r.type === 'restoreActions');
    expect(restore?.failure).toMatchObject({ type: ErrorTypes.AwsCredentials, nonRetryable: false });
    expect(restore?.attempts).toBeGreaterThan(1);

    creds.renew();
    const done = await waitForStatus(handle, (s) => s.phase === 'RolledBack', 120_000);
    expect(done.rollbackError).toBeUndefined();
    expect(await forwardActions(aws, seeded)).toEqual(before);
    expect((await targetGroupsOf(aws, seeded)).map((g) => g.name)).toEqual([seeded.stableTargetGroupName]);

    // One alert, with the cause; then the rolled-back notification.
    const mine = posts.filter((p) => p.releaseId?.startsWith(handle.workflowId));
    const alerts = mine.filter((p) => p.event === 'rollback-failed');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.message).toMatch(/AWS credentials expired .* the worker's credentials come from the container credentials endpoint/);
    expect(mine.map((p) => p.event)).toContain('rolled-back');

    const text = await waitForMetrics('ExpiredToken errors', (t) => (sample(t, 'canary_aws_errors', { code: 'ExpiredToken' }) ?? 0) > 0);
    // Counted per activity type (the activity meter's own label): the compensation's every attempt.
    const restores = text.split('\n').filter((l) => /^canary_aws_errors\{/.test(l) && l.includes('code="ExpiredToken"') && l.includes('"restoreActions"'));
    expect(restores).toEqual([expect.stringMatching(/ ([2-9]|\d\d+)$/)]);
  });

  it('serves the release metrics and writes every log line as JSON naming the release', async () => {
    const { service, seeded } = await seedService(aws, 'credsok');
    const handle = await startRelease(client, testSpec(seeded, service), { taskQueue });
    const text = await waitForMetrics(
      'pacer waits',
      (t) => (sample(t, 'canary_pacer_wait_seconds_count', { account: 'worker', region: 'us-east-1' }) ?? 0) > 0,
    );
    expect(text).toMatch(/^# TYPE canary_pacer_wait_seconds histogram$/m);
    // Seconds, not the SDK's millisecond buckets.
    expect(text).toMatch(/^canary_pacer_wait_seconds_bucket\{[^}]*le="0\.25"[^}]*\} \d+$/m);
    expect(text).toMatch(/^# TYPE canary_aws_errors counter$/m);
    expect(text).toMatch(/^temporal_\w+/m);
    await expect(handle.result()).resolves.toMatchObject({ outcome: 'promoted' });
    // Workflow code's metrics: the phases it entered and how it ended.
    const ended = await waitForMetrics(
      'the release ending',
      (t) => (sample(t, 'canary_releases_finished', { phase: 'Succeeded', outcome: 'promoted' }) ?? 0) > 0,
    );
    expect(sample(ended, 'canary_release_phase_entered', { phase: 'Progressing' }) ?? 0).toBeGreaterThan(0);

    const lines = jsonLines(worker);
    expect(lines.length).toBeGreaterThan(3);
    for (const l of lines)
      expect({ time: typeof l.time, level: typeof l.level, message: typeof l.message }).toEqual({ time: 'string', level: 'string', message: 'string' });
    // Workflow code's lines (the rollback's retry above) name the release and its run.
    const fromWorkflow = lines.filter((l) => l.component === 'workflow');
    expect(fromWorkflow.length).toBeGreaterThan(0);
    for (const l of fromWorkflow) expect(l).toMatchObject({ releaseId: expect.stringMatching(/^release-creds/), run: expect.any(String) });
    // ... and, on the lines of the release's own code, its step and phase (workflows/release/log-context.ts).
    const retries = fromWorkflow.filter((l) => l.message === 'rollback failed; retrying');
    expect(retries.length).toBeGreaterThan(0);
    for (const l of retries) expect(l).toMatchObject({ step: expect.any(Number), phase: 'RollbackFailed' });
    // Activities' lines name the release (workflow id) and run too.
    const fromActivities = lines.filter((l) => l.component === 'activity');
    for (const l of fromActivities) expect(l).toMatchObject({ releaseId: expect.stringMatching(/^release-/), run: expect.any(String) });
  });
});

describe('a worker whose credentials cannot be used', () => {
  it('warns about session keys in the environment and says plainly in its startup line that its AWS identity is unknown', async () => {
    const expired = { accessKeyId: `ASIAEXPIRED${Date.now().toString(36).toUpperCase()}`.slice(0, 20), secret: 'expired-secret', token: 'expired-token' };
    const res = await fetch(`${testStack.awsEndpoint}/canary-realism/expired-credentials`, {
      method: 'POST',
      body: JSON.stringify({ accessKeyId: expired.accessKeyId }),
    });
    expect(res.status).toBe(200);
    const proc = spawnWorker(
      chainOnlyEnv(uniqueName('creds-bad'), {
        AWS_ACCESS_KEY_ID: expired.accessKeyId,
        AWS_SECRET_ACCESS_KEY: expired.secret,
        AWS_SESSION_TOKEN: expired.token,
        AWS_CREDENTIAL_EXPIRATION: new Date(Date.now() - 60_000).toISOString(),
        CANARY_METRICS_ADDRESS: '',
      }),
    );
    const ready = JSON.parse(await proc.waitForLine(/"message":"canary worker ready:/, 90_000)) as { level: string; message: string };
    expect(ready.level).toBe('WARN');
    expect(ready.message).toMatch(
      /, AWS identity UNKNOWN: STS GetCallerIdentity failed \(ExpiredToken: The security token included in the request is expired\); region us-east-1; releases will fail until AWS accepts the worker's credentials$/,
    );
    const warning = jsonLines(proc).find((l) => l.level === 'WARN' && String(l.message).startsWith('AWS credentials are session keys'));
    expect(warning?.message).toMatch(/they expired at .* \(AWS_CREDENTIAL_EXPIRATION\) and the worker cannot refresh them/);
    proc.child.kill('SIGTERM');
    await proc.exited;
  });
});

interface ActivityRun {
  type: string;
  attempts: number;
  outcome: 'completed' | 'failed' | 'running';
  failure?: { type?: string; nonRetryable?: boolean; message?: string };
}

/** Every activity of a release's run from its history: type, the attempt that ended it, how it ended. */
async function activityRuns(workflowId: string): Promise<ActivityRun[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const runs = new Map<string, ActivityRun>();
  for (const e of history.events ?? []) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) runs.set(String(e.eventId), { type: scheduled.activityType?.name ?? '?', attempts: 0, outcome: 'running' });
    const started = e.activityTaskStartedEventAttributes;
    if (started) runs.get(String(started.scheduledEventId))!.attempts = started.attempt ?? 0;
    if (e.activityTaskCompletedEventAttributes) runs.get(String(e.activityTaskCompletedEventAttributes.scheduledEventId))!.outcome = 'completed';
    const failed = e.activityTaskFailedEventAttributes;
    if (failed) {
      const r = runs.get(String(failed.scheduledEventId))!;
      const info = failed.failure?.applicationFailureInfo;
      r.outcome = 'failed';
      r.failure = { type: info?.type ?? undefined, nonRetryable: info?.nonRetryable ?? undefined, message: failed.failure?.message ?? undefined };
    }
  }
  return [...runs.values()];
}
