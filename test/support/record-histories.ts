/**
 * Records the workflow histories that test/unit/replay.test.ts replays against the current workflow code.
 *
 *   npx ts-node --transpile-only test/support/record-histories.ts [scenario ...]
 *
 * Starts its own local stack (dev/stack.ts: Temporal dev server + moto), bundles workflows/index.ts, runs each
 * scenario's release with an in-process worker against a freshly seeded ALB, checks that it ended as intended, and
 * writes its history to test/fixtures/histories/<scenario>.json in the JSON form `temporal workflow show -o json`
 * prints and @temporalio/common's historyToJSON writes (./history-json.ts explains why its own copy is used);
 * historyFromJSON turns it back into the History that Worker.runReplayHistories takes. Nothing is written
 * unless every requested scenario ran as intended and replays against the bundle it was recorded with. With
 * scenario names as arguments, only those are re-recorded; the other files stay as they are.
 *
 * When to run it: before 1.0 is cut, after any change to the commands the workflow issues: re-record everything (no
 * release runs anywhere outside our tests, so old histories protect nobody). From 1.0 on, a change goes through the
 * version registry and gets new recordings next to the old ones, which keep replaying.
 *
 * The workflow id of a recording is `release-<service>`, where the service is read back from the history's start
 * input; the replay test derives it the same way.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { DescribeListenersCommand, DescribeLoadBalancersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { motoClients, type AwsClients } from '../../activities/aws-clients';
import { actions, startRelease } from '../../client/release-client';
import { signedPayload } from '../../client/signing';
import type { Outcome } from '../../common/status';
import { seedAlb } from '../../dev/seed';
import { startLocalStack } from '../../dev/stack';
import { approveSignal } from '../../common/messages';
import { historyFromJSON, historyToJSON } from './history-json';
import { forwardLiveAndIdle } from './listener';
import { shortHash } from '../../workflows/plan';
import { dimensionOf, publishAfterTraffic, testSpec, waitForStatus } from './release-fixture';

export const HISTORIES_DIR = path.resolve(__dirname, '..', 'fixtures', 'histories');
const SIGNING_KEYS = path.resolve(__dirname, '..', 'fixtures', 'signing');

interface Scenario {
  /** File name (without .json) and, prefixed, the service name: a fixed name keeps re-recordings comparable. */
  name: string;
  /** What it covers, printed while recording. */
  about: string;
  spec: Record<string, unknown>;
  expect: Outcome;
  /** Continue as new past this many events (ReleaseInput.historyEventLimit); the last run's history is recorded. */
  historyEventLimit?: number;
  /** Steers the running release: publishes metrics, sends messages. */
  drive?(ctx: { client: Client; aws: AwsClients; handle: WorkflowHandle; loadBalancer: string }): Promise<void>;
}

/** Counts for the canary in the buckets after its current traffic began (the ones an analysis step judges). */
const healthyTraffic = async (aws: AwsClients, handle: WorkflowHandle, loadBalancer: string, requests: number, errors: number): Promise<void> => {
  const status = await waitForStatus(handle, (s) => s.targetGroups.some((t) => t.role === 'canary'));
  const canary = status.targetGroups.find((t) => t.role === 'canary')?.arn as string;
  await publishAfterTraffic(aws, { targetGroup: dimensionOf(canary), loadBalancer }, requests, errors, status.trafficSince);
};

const scenarios: Scenario[] = [
  {
    name: 'healthy-gated',
    about: 'timed pause, open pause resumed by update, ignored signal, analysis pass, background analysis, approval by update, promotion',
    spec: {
      steps: [
        { setWeight: 10 },
        { pause: { duration: '1s' } },
        { setWeight: 25 },
        { pause: {} },
        { analysis: { template: 'errors' } },
        { approval: { approvers: ['alice'], timeout: '1h' } },
        { setWeight: 100 },
      ],
      backgroundAnalysis: { template: 'errors', interval: '1s', reportEvery: '2s' },
    },
    expect: 'promoted',
    async drive({ client, aws, handle, loadBalancer }) {
      await waitForStatus(handle, (s) => s.gate?.kind === 'pause' && s.step === 3);
      // Recorded in the timeline as ignored: it names the approval gate (step 5), which is not open yet.
      await handle.signal(approveSignal, { by: 'mallory', step: 5 });
      await healthyTraffic(aws, handle, loadBalancer, 200, 0);
      await actions.resume(client, handle.workflowId, { by: 'alice', comment: 'dashboards look fine' });
      await waitForStatus(handle, (s) => s.gate?.kind === 'approval');
      await actions.approve(client, handle.workflowId, { by: 'alice', comment: 'ship it' });
    },
  },
  {
    name: 'analysis-fail-rollback',
    about: 'analysis fails at 25% (5xx rate 0.2 > 0.05): rollback restores the listener and deletes the canary',
    spec: { steps: [{ setWeight: 25 }, { pause: {} }, { analysis: { template: 'errors' } }, { setWeight: 100 }] },
    expect: 'rolled-back',
    async drive({ client, aws, handle, loadBalancer }) {
      await waitForStatus(handle, (s) => s.gate?.kind === 'pause');
      await healthyTraffic(aws, handle, loadBalancer, 200, 40);
      await actions.resume(client, handle.workflowId, { by: 'alice' });
    },
  },
  {
    name: 'abort-at-gate',
    about: 'aborted by update at an approval gate: rollback',
    spec: { steps: [{ setWeight: 30 }, { approval: { approvers: ['alice'], timeout: '1h' } }, { setWeight: 100 }] },
    expect: 'aborted',
    async drive({ client, handle }) {
      await waitForStatus(handle, (s) => s.gate?.kind === 'approval');
      await actions.abort(client, handle.workflowId, { by: 'bob', reason: 'customer complaints' });
    },
  },
  {
    name: 'promote-full-at-pause',
    about: 'full promotion by update at an open pause skips the remaining steps',
    spec: { steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { setWeight: 100 }] },
    expect: 'promoted',
    async drive({ client, handle }) {
      await waitForStatus(handle, (s) => s.gate?.kind === 'pause');
      await actions.promote(client, handle.workflowId, { by: 'alice', full: true });
    },
  },
];

/** A person changes the listener by hand mid-release: the release stops at a drift gate and adopts the change on resume. */
const driftScenario: Scenario = {
  name: 'drift-adopted',
  about: 'hand edit of the listener at a pause: drift gate instead of an overwrite, resumed (adopt), promotion',
  spec: { steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { setWeight: 100 }] },
  expect: 'promoted',
  async drive({ client, aws, handle }) {
    const status = await waitForStatus(handle, (s) => s.gate?.kind === 'pause');
    const arn = (role: string): string => status.targetGroups.find((t) => t.role === role)?.arn as string;
    const listenerArn = await listenerOf(aws, arn('stable'));
    await forwardLiveAndIdle(aws.elbv2, listenerArn, arn('stable'), arn('canary'));
    await actions.resume(client, handle.workflowId, { by: 'alice' });
    await waitForStatus(handle, (s) => s.gate?.kind === 'drift');
    await actions.resume(client, handle.workflowId, { by: 'alice', comment: 'incident over, go on' });
  },
};

/** The listener whose default action forwards to a target group (the seeded service has one). */
async function listenerOf(aws: AwsClients, targetGroupArn: string): Promise<string> {
  const lbs = await aws.elbv2.send(new DescribeLoadBalancersCommand({}));
  for (const lb of lbs.LoadBalancers ?? []) {
    const ls = await aws.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: lb.LoadBalancerArn }));
    for (const l of ls.Listeners ?? []) if (JSON.stringify(l.DefaultActions ?? []).includes(targetGroupArn)) return l.ListenerArn as string;
  }
  throw new Error(`no listener forwards to ${targetGroupArn}`);
}

/** Staff first through a segment rule, then weights; the segment ends before full weight. */
const segmentScenario: Scenario = {
  name: 'segment-staff',
  about: 'staff segment rule (source IP), analysis on its traffic, 50%, endSegment, 100%, promotion',
  spec: {
    steps: [
      { segment: { name: 'staff', match: { sourceIp: ['10.20.0.0/16'] } } },
      { analysis: { template: 'errors' } },
      { setWeight: 50 },
      { endSegment: 'staff' },
      { setWeight: 100 },
    ],
  },
  expect: 'promoted',
  async drive({ aws, handle, loadBalancer }) {
    await waitForStatus(handle, (s) => (s.segments?.length ?? 0) > 0);
    await healthyTraffic(aws, handle, loadBalancer, 200, 0);
  },
};

/** A release that continues as new at an open pause and is resumed in its next run. */
const continuedScenario: Scenario = {
  name: 'continued-at-pause',
  about: 'ignored messages fill the history at an open pause: the release continues as new, the next run takes the resume, promotion',
  spec: { steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 100 }] },
  historyEventLimit: 60,
  expect: 'promoted',
  async drive({ client, handle }) {
    await waitForStatus(handle, (s) => s.gate?.kind === 'pause');
    const live = client.workflow.getHandle(handle.workflowId);
    const first = (await live.describe()).runId;
    for (let i = 0; i < 40 && (await live.describe()).runId === first; i++) {
      await live.signal(approveSignal, { by: 'mallory', step: 9, comment: `noise ${i}` });
      await new Promise((r) => setTimeout(r, 100));
    }
    if ((await live.describe()).runId === first) throw new Error('continued-at-pause: the release did not continue as new');
    await waitForStatus(live, (s) => s.gate?.kind === 'pause');
    await actions.resume(client, handle.workflowId, { by: 'alice', comment: 'after the handover' });
  },
};

/** A promote that ends a manual pause ends only that pause: the approval gate after it still waits for alice. */
const manualPauseScenario: Scenario = {
  name: 'promote-ends-manual-pause',
  about: 'paused during a timed pause, the manual pause ended by promote; the approval after it still waits for its approver',
  spec: {
    steps: [{ setWeight: 10 }, { pause: { duration: '5s' } }, { setWeight: 20 }, { approval: { approvers: ['alice'], timeout: '1h' } }, { setWeight: 100 }],
  },
  expect: 'promoted',
  async drive({ client, handle }) {
    await waitForStatus(handle, (s) => s.gate?.kind === 'pause');
    await actions.pause(client, handle.workflowId, { by: 'carol', reason: 'look first' });
    await waitForStatus(handle, (s) => s.gate?.kind === 'manual-pause');
    await actions.promote(client, handle.workflowId, { by: 'carol' });
    await waitForStatus(handle, (s) => s.gate?.kind === 'approval');
    await actions.approve(client, handle.workflowId, { by: 'alice' });
  },
};

/** Signed mode: alice's key in the spec; an unsigned approval is ignored, her signed one passes the gate. */
const signedScenario: Scenario = {
  name: 'signed-approval',
  about: 'signed mode: an unsigned approve signal ignored, a signed approve by update accepted, promotion',
  spec: {
    approverKeys: { alice: fs.readFileSync(path.join(SIGNING_KEYS, 'alice_ed25519.pub'), 'utf8').trim() },
    steps: [{ setWeight: 10 }, { approval: { approvers: ['alice'], timeout: '1h' } }, { setWeight: 100 }],
  },
  expect: 'promoted',
  async drive({ client, handle }) {
    await waitForStatus(handle, (s) => s.gate?.kind === 'approval');
    await handle.signal(approveSignal, { by: 'alice' });
    await waitForStatus(handle, (s) => s.timeline.some((e) => e.action === 'approve' && !e.accepted));
    const payload = await signedPayload({
      client,
      release: handle.workflowId,
      verb: 'approve',
      payload: { by: 'alice' },
      keyFile: path.join(SIGNING_KEYS, 'alice_ed25519'),
    });
    await actions.approve(client, handle.workflowId, payload);
  },
};

/**
 * Hooks: the test route around a before-traffic smoke hook that first answers running (asked again after 1 s), an
 * after-step hook at each weight, a webhook step.
 */
const hooksScenario: Scenario = {
  name: 'hooks-test-route',
  about: 'test route open for a before-traffic smoke hook (running, then pass), after-step hooks, a webhook step, promotion',
  spec: {
    hooks: { beforeTraffic: ['smoke'], afterStep: ['smoke'], testRoute: true },
    steps: [{ setWeight: 50 }, { webhook: 'smoke' }, { setWeight: 100 }],
  },
  expect: 'promoted',
};

/** Every recording the replay test holds: the workflow as it is today (before 1.0, a behaviour change re-records them). */
const allScenarios = [...scenarios, driftScenario, segmentScenario, continuedScenario, manualPauseScenario, signedScenario, hooksScenario];

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !allScenarios.some((s) => s.name === w));
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${allScenarios.map((s) => s.name).join(', ')}`);
  const chosen = wanted.length ? allScenarios.filter((s) => wanted.includes(s.name)) : allScenarios;
  // True, and said by every AWS client this script makes.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // ./env.ts (through ./release-fixture) installed it already, at WARN too
  }
  const t0 = Date.now();
  const [stack, bundle] = await Promise.all([
    startLocalStack({ label: 'record-histories' }),
    bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: new DefaultLogger('WARN') }),
  ]);
  process.stdout.write(`local stack up, workflows bundled (${Date.now() - t0} ms); logs in ${stack.logDir}\n`);
  const aws = motoClients(stack.moto.endpoint);
  // Every recording asks for webhook notifications (so the histories hold notify activities); this receives them,
  // and answers the hooks of the hooks scenario (the first before-traffic call: running, asked again after 1 s).
  const received: string[] = [];
  const hook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const message = JSON.parse(body) as { event?: string; hook?: string; point?: string; attempt?: number };
      if (message.hook) {
        const running = message.point === 'beforeTraffic' && message.attempt === 1;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(running ? { result: 'running', retryAfter: '1s' } : { result: 'pass' }));
        return;
      }
      received.push(message.event ?? '');
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  const webhooks = { ops: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` };
  const connection = await Connection.connect({ address: stack.temporal.address });
  const client = new Client({ connection });
  const workerConnection = await NativeConnection.connect({ address: stack.temporal.address });
  const taskQueue = 'record-histories';
  const hooks = { smoke: { url: `${webhooks.ops}/smoke`, secret: 'recording-secret', requestTimeoutMs: 10_000, allowLinkLocal: false } };
  const worker = await Worker.create({
    connection: workerConnection,
    taskQueue,
    workflowBundle: bundle,
    activities: createActivities({ ...aws, webhooks, hooks }),
  });
  const recorded: { name: string; json: string; workflowId: string }[] = [];
  try {
    await worker.runUntil(async () => {
      for (const sc of chosen) {
        const t = Date.now();
        const service = `rec-${shortHash(sc.name, 4)}-${sc.name}`.slice(0, 20).replace(/-+$/, '');
        const seeded = await seedAlb(aws, { name: service });
        const loadBalancer = seeded.loadBalancerArn.slice(seeded.loadBalancerArn.indexOf(':loadbalancer/') + 14);
        const handle = await startRelease(client, testSpec(seeded, service, { notifications: { webhook: 'ops' }, ...sc.spec }), {
          taskQueue,
          ...(sc.historyEventLimit ? { historyEventLimit: sc.historyEventLimit } : {}),
        });
        const before = received.length;
        await sc.drive?.({ client, aws, handle, loadBalancer });
        const result = await handle.result();
        if (result.outcome !== sc.expect) throw new Error(`${sc.name}: expected ${sc.expect}, the release ended ${result.outcome}: ${result.reason}`);
        if (!received.slice(before).includes(sc.expect))
          throw new Error(`${sc.name}: no "${sc.expect}" notification arrived (got ${received.slice(before).join(', ') || 'none'})`);
        // The newest run's (a release that continued as new has several; its last run holds the handover and the end).
        const history = await client.workflow.getHandle(handle.workflowId).fetchHistory();
        recorded.push({ name: sc.name, json: historyToJSON(history), workflowId: handle.workflowId });
        process.stdout.write(`${sc.name}: ${result.outcome} in ${Date.now() - t} ms, ${history.events?.length} events (${sc.about})\n`);
      }
    });
    // A recording that does not replay against the code that produced it would make the replay test meaningless.
    for (const r of recorded) {
      await Worker.runReplayHistory({ workflowBundle: bundle }, historyFromJSON(JSON.parse(r.json)), r.workflowId);
    }
  } finally {
    hook.close();
    await workerConnection.close();
    await connection.close();
    aws.destroy();
    await stack.stop();
  }
  fs.mkdirSync(HISTORIES_DIR, { recursive: true });
  for (const r of recorded) {
    const file = path.join(HISTORIES_DIR, `${r.name}.json`);
    fs.writeFileSync(file, `${r.json}\n`);
    process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`record-histories failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
