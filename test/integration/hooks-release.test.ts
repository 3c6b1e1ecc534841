/**
 * Hooks against the dev server and moto, with a real HTTP hook server that verifies the HMAC signature of every call:
 * the test route (a listener rule that only requests with the release's test header reach) is open while the
 * before-traffic hook runs, routes such a request to the canary through the listener's real rules (dev/alb-rules.ts
 * evaluates them as ALB does), and is gone afterwards: the load balancer's rules and target groups described before
 * the release equal those after it, on success and on rollback.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DescribeListenersCommand, DescribeRulesCommand, DescribeTagsCommand, DescribeTargetGroupsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Client } from '@temporalio/client';
import { verifyHookRequest, type HookConfig } from '../../activities/hooks';
import { startRelease } from '../../client/release-client';
import type { HookContext } from '../../common/hooks';
import { matchRule } from '../../dev/alb-rules';
import { testAws, testClient } from '../support/env';
import { historyText } from '../support/history-text';
import { seedService, startTestWorker, testSpec } from '../support/release-fixture';

const aws = testAws();
const SECRET = 'integration-hook-secret';

/** What a smoke test saw through the test route while its hook call was open. */
interface Seen {
  context: HookContext;
  verified: boolean;
  /** The target group a request with the test header reached, and one without it. */
  withHeader?: string;
  withoutHeader?: string;
}

let server: http.Server;
let url = '';
const seen: Seen[] = [];
let verdict: 'pass' | 'fail' = 'pass';
let client: Client;
let closeClient: () => Promise<void>;
let worker: Awaited<ReturnType<typeof startTestWorker>>;

/**
 * The target group ALB's rules send a request for the service (the seeded rule matches `/<service>/*`) with `headers`
 * to on this listener now: the group with the highest weight in the matched rule's forward.
 */
async function routedTo(listenerArn: string, service: string, headers: Record<string, string>): Promise<string | undefined> {
  const rules = (await aws.elbv2.send(new DescribeRulesCommand({ ListenerArn: listenerArn }))).Rules ?? [];
  const rule = matchRule(rules, { host: 'service.example.com', path: `/${service}/checkout`, method: 'GET', sourceIp: '198.51.100.7', headers });
  const forward = rule?.Actions?.find((a) => a.Type === 'forward');
  const groups = forward?.ForwardConfig?.TargetGroups ?? [];
  return [...groups].sort((a, b) => (b.Weight ?? 0) - (a.Weight ?? 0))[0]?.TargetGroupArn ?? forward?.TargetGroupArn;
}

/** Everything of the load balancer a release may touch, as Describe answers it (rules with tags, target groups). */
async function snapshot(loadBalancerArn: string): Promise<unknown> {
  const listeners = (await aws.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: loadBalancerArn }))).Listeners ?? [];
  const out: unknown[] = [];
  for (const l of listeners) {
    const rules = (await aws.elbv2.send(new DescribeRulesCommand({ ListenerArn: l.ListenerArn }))).Rules ?? [];
    const tags = rules.length
      ? ((await aws.elbv2.send(new DescribeTagsCommand({ ResourceArns: rules.map((r) => r.RuleArn as string) }))).TagDescriptions ?? [])
      : [];
    out.push({
      listener: l.ListenerArn,
      defaultActions: l.DefaultActions,
      rules: rules.map((r) => ({ ...r, tags: tags.find((t) => t.ResourceArn === r.RuleArn)?.Tags })),
    });
  }
  const groups = (await aws.elbv2.send(new DescribeTargetGroupsCommand({ LoadBalancerArn: loadBalancerArn }))).TargetGroups ?? [];
  out.push(groups.map((g) => g.TargetGroupArn).sort());
  return JSON.parse(JSON.stringify(out));
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      void (async () => {
        const context = JSON.parse(body) as HookContext;
        const verified = verifyHookRequest(SECRET, body, req.headers);
        const s: Seen = { context, verified };
        if (context.testRoute) {
          s.withHeader = await routedTo(context.listenerArn, context.service, { [context.testRoute.header]: context.testRoute.value });
          s.withoutHeader = await routedTo(context.listenerArn, context.service, {});
        }
        seen.push(s);
        res.writeHead(verified ? 200 : 401, { 'content-type': 'application/json' });
        res.end(JSON.stringify(verdict === 'pass' ? { result: 'pass' } : { result: 'fail', reason: 'the smoke test got HTTP 500 from /checkout' }));
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/smoke`;
  const hooks: HookConfig = { smoke: { url, secret: SECRET, requestTimeoutMs: 10_000, allowLinkLocal: false } };
  const opened = await testClient();
  client = opened.client;
  closeClient = () => opened.connection.close();
  worker = await startTestWorker(aws, undefined, { hooks });
});

afterAll(async () => {
  await worker?.stop();
  await closeClient?.();
  await new Promise<void>((r) => server.close(() => r()));
  aws.destroy();
});

beforeEach(() => {
  seen.length = 0;
});

/**
 * The hook's secret and URL stay on the worker: history names the hook, and a failure its scheme and host only (the
 * path and query of a URL may carry a token).
 */
async function expectNoHookSecrets(workflowId: string): Promise<void> {
  const text = await historyText(client, workflowId);
  expect(text).toContain('smoke');
  expect(text).not.toContain(SECRET);
  expect(text).not.toContain(url);
}

async function releaseWithTestRoute(prefix: string) {
  const { service, seeded } = await seedService(aws, prefix, { withRule: true });
  const before = await snapshot(seeded.loadBalancerArn);
  const spec = testSpec(seeded, service, {
    steps: [{ setWeight: 50 }, { setWeight: 100 }],
    hooks: { beforeTraffic: ['smoke'], testRoute: true },
    promotion: { keepPreviousFor: '0s' },
  });
  const handle = await startRelease(client, spec, { taskQueue: worker.taskQueue });
  const result = await handle.result();
  return { result, before, after: await snapshot(seeded.loadBalancerArn), seeded, workflowId: handle.workflowId };
}

it('a smoke test reaches the canary through the test route before any user does; promoted, the route is gone', async () => {
  verdict = 'pass';
  const { result, workflowId } = await releaseWithTestRoute('hookok');
  expect(result.outcome).toBe('promoted');
  expect(seen).toHaveLength(1);
  const [call] = seen;
  expect(call?.verified).toBe(true);
  const canary = call?.context.targetGroups.find((t) => t.role === 'canary')?.arn;
  const stable = call?.context.targetGroups.find((t) => t.role === 'stable')?.arn;
  // Through the listener's rules as they were during the call: the test header reaches the canary, nobody else does.
  expect(call?.withHeader).toBe(canary);
  expect(call?.withoutHeader).toBe(stable);
  expect(call?.context.weights).toEqual({ stable: 100, canary: 0 });
  await expectNoHookSecrets(workflowId);
});

it('a failing smoke test rolls back before any user traffic; the rules and groups are exactly as before', async () => {
  verdict = 'fail';
  const { result, before, after, workflowId } = await releaseWithTestRoute('hookfail');
  expect(result).toMatchObject({ outcome: 'rolled-back', reason: 'hook smoke (beforeTraffic) failed: the smoke test got HTTP 500 from /checkout' });
  expect(seen.map((s) => s.verified)).toEqual([true]);
  expect(after).toEqual(before);
  await expectNoHookSecrets(workflowId);
});

it('after a promotion with a test route, only the promoted group differs from before', async () => {
  verdict = 'pass';
  const { result, before, after } = await releaseWithTestRoute('hooksnap');
  expect(result.outcome).toBe('promoted');
  // No rule of the release is left: the rules (and their tags) are those of before; only the forward's group changed.
  const rulesOf = (snap: unknown) =>
    (snap as { rules?: { Priority?: string; Conditions?: unknown; tags?: unknown }[] }[])
      .filter((x) => x.rules)
      .flatMap((x) => x.rules ?? [])
      .map((r) => ({ priority: r.Priority, conditions: r.Conditions, tags: r.tags }));
  expect(rulesOf(after)).toEqual(rulesOf(before));
});
