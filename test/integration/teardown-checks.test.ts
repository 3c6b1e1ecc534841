/**
 * Teardown checks when many releases finish at once on shared load balancers: "is this group still routed?" reads
 * every listener and rule of the load balancer (one DescribeRules per listener). Concurrent checks on one load
 * balancer share a scan that started after they asked, and a drain, a delete and a deregistration heartbeat while
 * they wait for their check. Runs the
 * drain activity against moto through a proxy that counts the calls and makes DescribeRules slow (so scans overlap,
 * as they do when AWS throttles or moto is loaded).
 */
import { CreateListenerCommand, CreateTargetGroupCommand, ModifyListenerCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { motoClients } from '../../activities/aws-clients';
import { ErrorTypes, type DrainResult, type ReleaseActivities } from '../../activities/contract';
import { startFaultProxy, type FaultProxy } from '../../dev/fault-proxy';
import { seedAlb, type SeededAlb } from '../../dev/seed';
import { testStack, uniqueName } from '../support/env';

jest.setTimeout(60_000);

const LISTENERS = 12;
const DRAINS = 10;
const SLOW_MS = 150;

const harness = motoClients(testStack.motoEndpoint);
const quiet = new DefaultLogger('ERROR');
let proxy: FaultProxy;
let workerAws: ReturnType<typeof motoClients>;
let acts: ReleaseActivities;
let seeded: SeededAlb;
let listeners: string[];
let unattached: string[];
const answered: string[] = [];

async function namedGroup(prefix: string): Promise<{ name: string; arn: string }> {
  const name = uniqueName(prefix).slice(0, 32);
  const out = await harness.elbv2.send(new CreateTargetGroupCommand({ Name: name, Protocol: 'HTTP', Port: 8080, VpcId: seeded.vpcId, TargetType: 'ip' }));
  return { name, arn: out.TargetGroups?.[0]?.TargetGroupArn as string };
}

const group = async (prefix: string): Promise<string> => (await namedGroup(prefix)).arn;

const describeRules = (): number => proxy.stats().byAction.DescribeRules?.requests ?? 0;

/** One activity as a worker runs it; its heartbeats are kept. */
async function run<I, R>(fn: (input: I) => Promise<R>, input: I): Promise<{ result?: R; error?: ApplicationFailure; beats: unknown[] }> {
  const env = new MockActivityEnvironment({}, { logger: quiet });
  const beats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => beats.push(d));
  try {
    return { result: await env.run(fn, input), beats };
  } catch (err) {
    if (!(err instanceof ApplicationFailure)) throw err;
    return { error: err, beats };
  }
}

/** One drain as a worker runs it. */
const drain = (targetGroupArn: string): Promise<{ result?: DrainResult; error?: ApplicationFailure; beats: unknown[] }> =>
  run(acts.drainTargetGroup, { listenerArn: seeded.listenerArn, targetGroupArn, capMs: 0 });

beforeAll(async () => {
  seeded = await seedAlb(harness, { name: uniqueName('tdc').slice(0, 20).replace(/-+$/, '') });
  listeners = [seeded.listenerArn];
  for (let i = 1; i < LISTENERS; i++) {
    const out = await harness.elbv2.send(
      new CreateListenerCommand({
        LoadBalancerArn: seeded.loadBalancerArn,
        Protocol: 'HTTP',
        Port: 8000 + i,
        DefaultActions: [{ Type: 'forward', TargetGroupArn: await group(`tdc-s${i}`) }],
      }),
    );
    listeners.push(out.Listeners?.[0]?.ListenerArn as string);
  }
  unattached = [];
  for (let i = 0; i < DRAINS; i++) unattached.push(await group(`tdc-o${i}`));
  proxy = await startFaultProxy({ target: testStack.motoEndpoint, rates: { slowRate: 1, slowMs: SLOW_MS }, match: (a) => a === 'DescribeRules' });
  workerAws = motoClients(proxy.endpoint);
  // Which of the worker's calls have been answered, in order: tells when a check asked relative to a running scan.
  workerAws.elbv2.middlewareStack.add(
    (next, context) => async (args) => {
      const out = await next(args);
      answered.push(context.commandName ?? '?');
      return out;
    },
    { step: 'initialize', name: 'answeredLog' },
  );
  acts = createActivities(workerAws);
});

afterAll(async () => {
  workerAws?.destroy();
  harness.destroy();
  await proxy?.stop();
});

test('concurrent drains on one load balancer share its scans, and each heartbeats while it waits for its check', async () => {
  const before = describeRules();
  const drains = await Promise.all(unattached.map((arn) => drain(arn)));
  // Each drain scanning alone reads every listener's rules: DRAINS × LISTENERS calls. Shared: the first drain's scan,
  // then one scan for every drain that asked while it ran (and a third at worst for a straggler).
  const calls = describeRules() - before;
  expect(calls).toBeGreaterThanOrEqual(LISTENERS);
  expect(calls).toBeLessThanOrEqual(3 * LISTENERS);
  for (const d of drains) {
    expect(d.error).toBeUndefined();
    expect(d.result).toMatchObject({ waitedMs: expect.any(Number) });
    // The first heartbeat comes before the check, not after it: a slow check does not run into the heartbeat timeout.
    expect(d.beats[0]).toMatchObject({ checking: 'forward actions' });
  }
});

test('a check never takes the answer of a scan that started before it asked: a group attached meanwhile is still routed', async () => {
  const before = describeRules();
  const firstMark = answered.length;
  const first = Promise.all(unattached.slice(0, 2).map((arn) => drain(arn)));
  const attached = await group('tdc-x');
  // The running scan has read the first listener (moto lists listeners in creation order): its default actions
  // (DescribeListeners) and its rules, the default rule included (the second DescribeRules is sent only once the first
  // one was answered). A scan that joined it would miss the change below.
  while (describeRules() - before < 2) await new Promise((r) => setTimeout(r, 10));
  await harness.elbv2.send(new ModifyListenerCommand({ ListenerArn: listeners[0] as string, DefaultActions: [{ Type: 'forward', TargetGroupArn: attached }] }));
  const mark = answered.length;
  const late = await drain(attached);
  // Precondition: the first scan was still running when the late check asked (right after its DescribeTargetGroups,
  // the first answered since the change: the first drains sent theirs before their scan).
  const since = answered.slice(mark);
  const asked = mark + since.indexOf('DescribeTargetGroupsCommand');
  expect(asked).toBeGreaterThanOrEqual(mark);
  expect(answered.slice(firstMark, asked).filter((c) => c === 'DescribeRulesCommand').length).toBeLessThan(LISTENERS);
  expect(late.error?.type).toBe(ErrorTypes.TargetGroupStillRouted);
  expect(late.error?.message).toMatch(/tdc-x.*still sends it traffic/);
  for (const d of await first) expect(d.error).toBeUndefined();
});

test('a delete and a deregistration heartbeat while they wait for their check, as the drain does', async () => {
  const [gone, emptied] = [await namedGroup('tdc-del'), await group('tdc-dereg')];
  const before = describeRules();
  const [deleted, deregistered] = await Promise.all([
    run(acts.deleteTargetGroup, { listenerArn: seeded.listenerArn, name: gone.name }),
    run(acts.deregisterTargets, { listenerArn: seeded.listenerArn, targetGroupArn: emptied }),
  ]);
  // Both checked every listener (a slow scan: LISTENERS DescribeRules calls at SLOW_MS each, at least one scan).
  expect(describeRules() - before).toBeGreaterThanOrEqual(LISTENERS);
  expect(deleted).toMatchObject({ result: { deleted: true } });
  expect(deregistered).toMatchObject({ result: { deregistered: [] } });
  // The first heartbeat comes before the check: the workflow gives them a heartbeat timeout, not 15 s for the scan.
  expect(deleted.beats[0]).toMatchObject({ checking: 'forward actions' });
  expect(deregistered.beats[0]).toMatchObject({ checking: 'forward actions' });
});
