/**
 * Before a release, against the shared dev server and moto: `canary doctor` (each check made to fail once, with its
 * fix, then passing; `--fix` registering the search attributes), the versioned contract at start (a worker that runs
 * another spec apiVersion refuses the start), a start on a namespace without the search attributes, and
 * `canary start --dry-run` writing nothing. The CLI runs in-process; one real worker process (worker/main.ts)
 * advertises its build and spec versions.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { DescribeRulesCommand, DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Client, Connection } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import * as YAML from 'yaml';
import { createActivities } from '../../activities';
import { motoClients } from '../../activities/aws-clients';
import { verifyHookRequest } from '../../activities/hooks';
import { loadBalancerDimension } from '../../activities/traffic';
import { unregisteredWarning } from '../../client/namespace';
import { packageVersion } from '../../client/package-info';
import { taskQueuePollers } from '../../client/workers';
import { workerIdentity } from '../../common/versions';
import { actionsOf, fetchProxyStats } from '../../dev/iam-check';
import { bareNamespace, namespaceAnswers, testAws, testClient, testStack, testWorker, uniqueName } from '../support/env';
import { dimensionOf, errorRateTemplate, forwardActions, publishTraffic, seedService, targetGroupsOf, testSpec } from '../support/release-fixture';
import { putTargetErrorAlarm } from '../support/alarms';
import { expectExit, runCanaryInProcess, type Ran } from '../support/cli-run';
import { killAllWorkerProcesses, spawnWorker, workerEnv, type WorkerProcess } from '../support/worker-process';

const aws = testAws();
let client: Client;
let connection: Connection;
let tmp: string;
/** The real worker process, on the default namespace. */
let realWorker: WorkerProcess;
const realQueue = uniqueName('tq-doctor');
/** Namespaces created bare, as on an existing cluster: one to start a release in, one for `doctor --fix`. */
const startNs = uniqueName('ns-start');
const fixNs = uniqueName('ns-fix');

const createNamespace = (name: string): Promise<void> => bareNamespace(connection, name);
const namespaceReady = (name: string): Promise<void> => namespaceAnswers(connection, name);

async function polled(namespaceClient: Client, queue: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await taskQueuePollers(namespaceClient, queue)).length === 0) {
    if (Date.now() > deadline) throw new Error(`no poller on ${queue} within 60 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  ({ client, connection } = await testClient());
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'canary-doctor-test-'));
  realWorker = spawnWorker(workerEnv(testStack, realQueue));
  await Promise.all([createNamespace(startNs), createNamespace(fixNs)]);
  await Promise.all([realWorker.waitForLine(/^canary worker ready/, 90_000), namespaceReady(startNs), namespaceReady(fixNs)]);
});
afterAll(async () => {
  realWorker?.child.kill('SIGTERM');
  await realWorker?.exited;
  killAllWorkerProcesses();
  await connection?.close();
  aws.destroy();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const HERMETIC = /^(TEMPORAL_|AWS_|CANARY_(?!TEST_))/;

/**
 * `canary ARGS`, run in-process (the CLI's `main`, as test/unit/cli-validate.test.ts does; test/integration/cli.test.ts
 * runs the child process) with a hermetic Temporal and AWS environment: moto behind the realism layer.
 */
async function canary(args: string[], extraEnv: Record<string, string> = {}): Promise<Ran> {
  const saved = Object.fromEntries(Object.entries(process.env).filter(([k]) => HERMETIC.test(k)));
  for (const k of Object.keys(saved)) delete process.env[k];
  Object.assign(process.env, {
    TEMPORAL_ADDRESS: testStack.temporalAddress,
    TEMPORAL_CONFIG_FILE: path.join(tmp, 'no-such-temporal.toml'),
    CANARY_USER: 'ci-bot',
    AWS_ENDPOINT_URL: testStack.awsEndpoint,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-east-1',
    AWS_MAX_ATTEMPTS: '1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...extraEnv,
  });
  try {
    return await runCanaryInProcess(args);
  } finally {
    for (const k of Object.keys(process.env)) if (HERMETIC.test(k)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

/** The doctor line that starts with `mark title:`. */
function line(ran: Ran, start: string): string {
  const found = ran.stdout.split('\n').find((l) => l.startsWith(start));
  if (found === undefined) throw new Error(`no line starting with "${start}"\nstdout: ${ran.stdout}\nstderr: ${ran.stderr}`);
  return found;
}

/**
 * The `errors` template in ALB's real minutes (Period 60), for the specs doctor reads metrics of: doctor asks for the
 * last hour, 60 buckets of it. In the local stack's 1 s buckets that hour is 3,600, and moto compares every datapoint
 * it holds with each bucket: minutes of CPU once the suite has published for a while, and a doctor that timed out.
 */
const minuteTemplate = (extra: Record<string, unknown> = {}): Record<string, unknown> => errorRateTemplate(0.05, extra);

function writeSpec(name: string, spec: Record<string, unknown>): string {
  const file = path.join(tmp, `${name}.yaml`);
  fs.writeFileSync(file, YAML.stringify(spec));
  return file;
}

describe('canary doctor: Temporal', () => {
  it('names an unreachable server and a missing namespace, each with its fix, and checks nothing that depends on them', async () => {
    const down = await canary(['--address', '127.0.0.1:1', 'doctor']);
    expectExit(down, 1);
    expect(line(down, '✖ Temporal reachable:')).toMatch(/^✖ Temporal reachable: 127\.0\.0\.1:1 does not answer: .+ — fix: check TEMPORAL_ADDRESS \/ --address/);
    expect(down.stdout).toContain('- namespace exists: not checked (needs Temporal reachable first)\n');
    expect(down.stdout).toContain('- worker: not checked (needs namespace exists first)\n');

    const nowhere = uniqueName('ns-none');
    const missing = await canary(['--namespace', nowhere, 'doctor']);
    expectExit(missing, 1);
    expect(line(missing, '✔ Temporal reachable:').startsWith(`✔ Temporal reachable: ${testStack.temporalAddress} (server `)).toBe(true);
    expect(line(missing, '✖ namespace exists:')).toBe(
      `✖ namespace exists: no namespace ${nowhere} on ${testStack.temporalAddress} — fix: temporal operator namespace create --namespace ${nowhere} --address ${testStack.temporalAddress}, or set TEMPORAL_NAMESPACE`,
    );
    expect(missing.stdout).toContain('- search attributes: not checked (needs namespace exists first)\n');
  });

  it('names missing search attributes and an unpolled task queue; --fix registers the attributes and the next run passes', async () => {
    const queue = uniqueName('tq-nobody');
    const before = await canary(['--namespace', fixNs, '--task-queue', queue, 'doctor']);
    expectExit(before, 1);
    expect(line(before, '✖ search attributes:')).toBe(
      `✖ search attributes: namespace ${fixNs} lacks ReleaseService, ReleaseVersion, ReleasePhase, CanaryWeight (releases start without them; list and status show less) — fix: canary doctor --fix registers them (OperatorService AddSearchAttributes)`,
    );
    expect(line(before, '✖ worker:')).toBe(
      `✖ worker: no worker polls task queue ${queue} in namespace ${fixNs} — fix: start canary-worker with TEMPORAL_NAMESPACE=${fixNs} and CANARY_TASK_QUEUE=${queue} (or pass the worker's queue with --task-queue)`,
    );

    const fixed = await canary(['--namespace', fixNs, '--task-queue', queue, 'doctor', '--fix']);
    expect(line(fixed, '✔ search attributes:')).toBe('✔ search attributes: registered ReleaseService, ReleaseVersion, ReleasePhase, CanaryWeight (--fix)');
    const after = await canary(['--namespace', fixNs, '--task-queue', queue, 'doctor']);
    expect(line(after, '✔ search attributes:')).toBe('✔ search attributes: ReleaseService, ReleaseVersion, ReleasePhase, CanaryWeight registered');
  });

  it("shows the polling worker's build and spec versions, as the real worker advertises them", async () => {
    const ran = await canary(['--task-queue', realQueue, 'doctor']);
    expect(line(ran, '✔ worker:')).toBe(`✔ worker: 1 poller(s) on ${realQueue}: canary-worker ${packageVersion()} (canary/v1)`);
  });
});

describe('the versioned contract at start', () => {
  let old: { worker: Worker; connection: NativeConnection; running: Promise<void> } | undefined;
  const oldQueue = uniqueName('tq-old');
  afterAll(async () => {
    old?.worker.shutdown();
    await old?.running;
    await old?.connection.close();
  });

  it('refuses, naming both versions, a spec no polling worker can run; doctor says the same', async () => {
    // A worker that advertises another spec version only (as a build from before or after canary/v1 would).
    const { worker, connection: nc } = await testWorker({
      taskQueue: oldQueue,
      identity: workerIdentity({ build: '0.0.9', apiVersions: ['canary/v0'] }, 'test@old-host'),
      activities: createActivities(aws),
    });
    old = { worker, connection: nc, running: worker.run() };
    await polled(client, oldQueue);
    const service = uniqueName('cver').slice(0, 20).replace(/-+$/, '');
    const listenerArn = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/nowhere/50dc6c495c0c9188/f2f7dc8efc522ab2';
    const file = writeSpec(service, {
      apiVersion: 'canary/v1',
      service,
      version: 'v2',
      region: 'us-east-1',
      traffic: { listenerArn },
      environment: { canaryTargets: [{ id: '10.0.0.21', port: 8080 }] },
      steps: [{ setWeight: 100 }],
    });

    const ran = await canary(['--task-queue', oldQueue, 'start', '--spec', file]);
    expectExit(ran, 2);
    expect(ran.stderr).toContain(
      `no worker polling task queue ${oldQueue} can run a spec of apiVersion canary/v1: canary-worker 0.0.9 (canary/v0); nothing was started: upgrade the workers (canary-worker) or write the spec in a version they run`,
    );
    await expect(client.workflow.getHandle(`release-${service}`).describe()).rejects.toThrow(/not found/i);

    const doctor = await canary(['--task-queue', oldQueue, 'doctor', '--spec', file]);
    expect(line(doctor, '✖ worker:')).toBe(
      `✖ worker: no worker on ${oldQueue} runs apiVersion canary/v1: canary-worker 0.0.9 (canary/v0) — fix: upgrade canary-worker to a build that lists it`,
    );
  });

  it('starts a release on a namespace without the search attributes, with one warning line; list and status still find it', async () => {
    const workerAws = motoClients(testStack.awsEndpoint);
    const queue = uniqueName('tq-bare');
    const { worker, connection: nc } = await testWorker({ namespace: startNs, taskQueue: queue, activities: createActivities(workerAws) });
    const running = worker.run();
    try {
      const { service, seeded } = await seedService(aws, 'cbare');
      const file = writeSpec(service, testSpec(seeded, service));
      const ran = await canary(['--namespace', startNs, '--task-queue', queue, 'start', '--spec', file, '--wait', '--timeout', '90s']);
      expectExit(ran, 0);
      expect(ran.stderr.split('\n').filter((l) => /^warning/.test(l))).toEqual([unregisteredWarning(startNs)]);
      expect(ran.stdout).toContain(`promoted: ${service} v2 serves 100% of traffic`);

      // `--service` queries ReleaseService, which this namespace does not know: found by workflow id instead.
      const listed = await canary(['--namespace', startNs, 'list', '--service', service]);
      expectExit(listed, 0);
      expect(listed.stdout).toMatch(new RegExp(`^release-${service} +- +- +- .*COMPLETED`, 'm'));
      expect(listed.stderr).toContain(`note: namespace ${startNs} lacks the ReleaseService, ReleaseVersion, ReleasePhase, CanaryWeight search attributes`);
      const status = await canary(['--namespace', startNs, 'status', service]);
      expectExit(status, 0);
      expect(status.stdout).toMatch(/^phase +Succeeded +\[workflow COMPLETED\]$/m);
    } finally {
      worker.shutdown();
      await running;
      await nc.close();
      workerAws.destroy();
    }
  });
});

describe('canary doctor: AWS', () => {
  it('names credentials that do not work, and checks nothing in AWS after them', async () => {
    const ran = await canary(['--task-queue', realQueue, 'doctor'], { AWS_ENDPOINT_URL: 'http://127.0.0.1:1' });
    expectExit(ran, 1);
    expect(line(ran, '✖ AWS identity:')).toMatch(
      /^✖ AWS identity: STS GetCallerIdentity in us-east-1: .+ — fix: give the credentials a release uses \(now: .+\); AWS_PROFILE/,
    );
    expect(ran.stdout).toContain('- IAM permissions: not checked (needs AWS identity first)\n');
  });

  it('with --spec: finds the listener, then names metrics without data and missing alarms with their fix until they exist', async () => {
    const { service, seeded } = await seedService(aws, 'cdoc');
    const alarmName = `${service}-5xx`;
    const file = writeSpec(service, testSpec(seeded, service, { analysis: { errors: minuteTemplate({ alarms: { names: [alarmName] } }) } }));

    const first = await canary(['--task-queue', realQueue, 'doctor', '--spec', file]);
    expectExit(first, 1);
    expect(line(first, '✔ AWS identity:')).toMatch(/^✔ AWS identity: arn:aws:.+ \(account 123456789012\), region us-east-1$/);
    expect(line(first, '✔ listener and stable target group:')).toBe(
      `✔ listener and stable target group: listener default action forwards to ${seeded.stableTargetGroupName} (ip, ${seeded.vpcId})`,
    );
    expect(line(first, '✖ CloudWatch metrics have data:')).toBe(
      `✖ CloudWatch metrics have data: no data for ${seeded.stableTargetGroupName} in the last hour: errors/5xx-rate (requests) — fix: check each query (namespace, metric name, the \${targetGroup} / \${loadBalancer} dimensions, Period, Stat) in the CloudWatch console, and that the service had traffic`,
    );
    expect(line(first, '✖ alarms exist:')).toBe(
      `✖ alarms exist: errors: alarm(s) ${alarmName} do not exist (DescribeAlarms) — fix: create the alarms in us-east-1, or correct analysis.*.alarms (names, prefix)`,
    );
    // moto does not implement iam:SimulatePrincipalPolicy: the check says it could not tell, never guesses.
    expect(line(first, '- IAM permissions:')).toMatch(/^- IAM permissions: not checked \(iam:SimulatePrincipalPolicy for arn:aws:.+ failed: .+\)$/);

    await publishTraffic(aws, { targetGroup: dimensionOf(seeded.stableTargetGroupArn), loadBalancer: loadBalancerDimension(seeded.listenerArn) }, 120, 0);
    await putTargetErrorAlarm(aws.cloudwatch, alarmName);
    const second = await canary(['--task-queue', realQueue, 'doctor', '--spec', file]);
    expectExit(second, 0);
    expect(line(second, '✔ CloudWatch metrics have data:')).toMatch(
      new RegExp(`^✔ CloudWatch metrics have data: ${seeded.stableTargetGroupName}, last hour: errors/5xx-rate \\d+ datapoint\\(s\\)$`),
    );
    expect(line(second, '✔ alarms exist:')).toBe('✔ alarms exist: 1 alarm(s) found');
    expect(line(second, '✔ worker:')).toBe(`✔ worker: 1 poller(s) on ${realQueue}: canary-worker ${packageVersion()} (canary/v1); runs canary/v1`);
  });

  it('with --spec: names a listener that does not exist, and does not read metrics for it', async () => {
    const { service, seeded } = await seedService(aws, 'cdocl');
    const gone = seeded.listenerArn.replace(/\/[0-9a-f]+$/, '/0000000000000000');
    const file = writeSpec(service, testSpec(seeded, service, { traffic: { listenerArn: gone } }));
    const ran = await canary(['--task-queue', realQueue, 'doctor', '--spec', file]);
    expectExit(ran, 1);
    expect(line(ran, '✖ listener and stable target group:')).toMatch(
      /^✖ listener and stable target group: listener arn:.+ does not exist \(check traffic\.listenerArn \/ traffic\.ruleArn and the region\) — fix: point traffic\.listenerArn/,
    );
    expect(ran.stdout).toContain('- CloudWatch metrics have data: not checked (needs listener and stable target group first)\n');
  });
});

describe('canary doctor: hooks', () => {
  it('with --spec: names a hook the environment does not hold, and says a held one answers its signed probe', async () => {
    const { service, seeded } = await seedService(aws, 'cdoch');
    const file = writeSpec(service, testSpec(seeded, service, { hooks: { beforeTraffic: ['smoke'] }, analysis: { errors: minuteTemplate() } }));
    const missing = await canary(['--task-queue', realQueue, 'doctor', '--spec', file]);
    expectExit(missing, 1);
    expect(line(missing, '✖ hooks answer:')).toMatch(
      /^✖ hooks answer: smoke: .*CANARY_HOOK_SMOKE.* — fix: set CANARY_HOOK_SMOKE and each one's _SECRET where the worker runs/,
    );

    const probes: { point?: string; verified: boolean }[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const verified = verifyHookRequest('doctor-secret', body, req.headers);
        probes.push({ point: (JSON.parse(body) as { point?: string }).point, verified });
        res.writeHead(verified ? 200 : 401, { 'content-type': 'application/json' }).end(JSON.stringify({ result: 'pass' }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/smoke`;
      const wrong = await canary(['--task-queue', realQueue, 'doctor', '--spec', file], { CANARY_HOOK_SMOKE: url, CANARY_HOOK_SMOKE_SECRET: 'not-the-secret' });
      expectExit(wrong, 1);
      expect(line(wrong, '✖ hooks answer:')).toMatch(/^✖ hooks answer: smoke: .*401/);
      const held = await canary(['--task-queue', realQueue, 'doctor', '--spec', file], { CANARY_HOOK_SMOKE: url, CANARY_HOOK_SMOKE_SECRET: 'doctor-secret' });
      expect(line(held, '✔ hooks answer:')).toBe('✔ hooks answer: smoke (HTTP 200, pass)');
      expect(probes).toEqual([
        { point: 'probe', verified: false },
        { point: 'probe', verified: true },
      ]);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('canary start --dry-run', () => {
  it('prints every change and its undo, and writes nothing: the load balancer reads the same before and after, and only reads were sent', async () => {
    const { service, seeded } = await seedService(aws, 'cdry');
    const file = writeSpec(
      service,
      testSpec(seeded, service, {
        steps: [{ segment: { name: 'staff', match: { sourceIp: ['10.20.0.0/16'] } } }, { setWeight: 20 }, { endSegment: 'staff' }, { setWeight: 100 }],
      }),
    );
    const snapshot = async (): Promise<unknown> => ({
      forward: await forwardActions(aws, seeded),
      rules: (await aws.elbv2.send(new DescribeRulesCommand({ ListenerArn: seeded.listenerArn }))).Rules,
      groups: await targetGroupsOf(aws, seeded),
      // Registered targets (their health moves on by itself: the realism layer's health checks).
      stableTargets: (await aws.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: seeded.stableTargetGroupArn }))).TargetHealthDescriptions?.map(
        (t) => t.Target,
      ),
    });
    const before = await snapshot();

    // Counted by the local stack's proxy under its own name (the SDK's app id).
    const ran = await canary(['start', '--spec', file, '--dry-run'], { AWS_SDK_UA_APP_ID: 'canary-dry-run' });
    expectExit(ran, 0);
    const out = ran.stdout;
    expect(out).toContain(`dry run of release-${service}: ${service} v2, 4 steps — nothing was written\n`);
    expect(out).toMatch(new RegExp(`create target group ${service}-v2-\\?{6} as a copy of ${seeded.stableTargetGroupName} `));
    expect(out).toContain(`      undo: delete ${service}-v2-?????? once no forward action references it and its deregistration delay has passed\n`);
    expect(out).toContain(`create listener rule "staff"`);
    expect(out).toContain(`→ forward ${seeded.stableTargetGroupName}=80, ${service}-v2-??????=20 (20% to the canary)`);
    expect(out).toContain(`delete target group ${seeded.stableTargetGroupName} once no forward action references it (after its deregistration delay)\n`);
    expect(out).toMatch(/^ {2}segment rules: 1 needed at once; the load balancer has \d+ of \d+ rules$/m);

    expect(await snapshot()).toEqual(before);
    const sent = actionsOf(await fetchProxyStats(testStack.awsEndpoint), 'canary-dry-run');
    expect(sent).toContain('elasticloadbalancing:DescribeListeners');
    expect(sent.filter((a) => !/^elasticloadbalancing:Describe/.test(a))).toEqual([]);
    await expect(client.workflow.getHandle(`release-${service}`).describe()).rejects.toThrow(/not found/i);
  });
});
