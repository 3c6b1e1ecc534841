/**
 * The demo's smoke test: a hook server (docs/HOOKS.md) that answers the before-traffic hook by calling the canary
 * through the release's test route. It verifies the call's signature, sends its requests through the listener's rules
 * as ALB evaluates them (dev/alb-rules.ts, over the rules DescribeRules returns) with the test header the hook was
 * given, finds which target group they reach and which version that group runs (its `version` tag), and serves
 * each request as the simulator would serve that version (its fault profile): too many errors fail the hook.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DescribeListenersCommand, DescribeRulesCommand, DescribeTagsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { AwsClients } from '../activities/aws-clients';
import { verifyHookRequest, type HookSettings } from '../activities/hooks';
import type { HookContext } from '../common/hooks';
import { defaultRequest, matchRule } from './alb-rules';
import { mulberry32, type FaultProfile } from './simulator';

export interface SmokeTest {
  /** The worker's settings for the hook (URL and secret), as CANARY_HOOK_SMOKE and its _SECRET would give them. */
  readonly hook: HookSettings;
  /** Serves the smoke requests of `service`'s releases with its versions' fault profiles (the scenario's, set before its release). */
  use(service: string, profiles: Record<string, FaultProfile>): void;
  /** What each call concluded, in order. */
  readonly verdicts: string[];
  stop(): Promise<void>;
}

/** Smoke requests per call, and the share of errors above which the version fails its smoke test. */
const REQUESTS = 20;
const MAX_ERROR_SHARE = 0.1;

async function rulesOf(aws: AwsClients, listenerArn: string) {
  const rules = (await aws.elbv2.send(new DescribeRulesCommand({ ListenerArn: listenerArn }))).Rules ?? [];
  if (rules.length) return rules;
  const listener = (await aws.elbv2.send(new DescribeListenersCommand({ ListenerArns: [listenerArn] }))).Listeners?.[0];
  return [{ IsDefault: true, Priority: 'default', Actions: listener?.DefaultActions ?? [] }];
}

/** The group a request with these headers reaches (the heaviest of the matched rule's forward). */
async function routedTo(aws: AwsClients, listenerArn: string, headers: Record<string, string>): Promise<string | undefined> {
  const rule = matchRule(await rulesOf(aws, listenerArn), { ...defaultRequest, headers });
  const forward = rule?.Actions?.find((a) => a.Type === 'forward');
  const groups = [...(forward?.ForwardConfig?.TargetGroups ?? [])].sort((a, b) => (b.Weight ?? 1) - (a.Weight ?? 1));
  return groups[0]?.TargetGroupArn ?? forward?.TargetGroupArn;
}

async function versionOf(aws: AwsClients, targetGroupArn: string): Promise<string | undefined> {
  const tags = (await aws.elbv2.send(new DescribeTagsCommand({ ResourceArns: [targetGroupArn] }))).TagDescriptions?.[0]?.Tags ?? [];
  return tags.find((t) => t.Key === 'version')?.Value ?? tags.find((t) => t.Key === 'canary:version')?.Value;
}

/** One smoke test of the canary through the test route: pass or fail, and why. */
async function smoke(aws: AwsClients, c: HookContext, profiles: Record<string, FaultProfile> = {}): Promise<{ result: 'pass' | 'fail'; text: string }> {
  if (!c.testRoute) return { result: 'fail', text: 'no test route is open: set hooks.testRoute in the spec' };
  const canary = c.targetGroups.find((t) => t.role === 'canary');
  const reached = await routedTo(aws, c.listenerArn, { [c.testRoute.header]: c.testRoute.value });
  if (!reached || reached !== canary?.arn)
    return { result: 'fail', text: `requests with ${c.testRoute.header} reached ${reached ?? 'no target group'}, not the canary ${canary?.name ?? ''}` };
  const version = await versionOf(aws, reached);
  const profile = version ? profiles[version] : undefined;
  if (!profile) return { result: 'fail', text: `the canary's group ${canary.name} runs no version the demo simulates (${version ?? 'no version tag'})` };
  const rng = mulberry32(c.attempt * 7919 + REQUESTS);
  let errors = 0;
  for (let i = 0; i < REQUESTS; i++) if (rng() < profile.errorRate) errors += 1;
  const text = `${REQUESTS} requests through the test route reached ${canary.name} (${version}): ${errors} answered 5xx`;
  return { result: errors / REQUESTS > MAX_ERROR_SHARE ? 'fail' : 'pass', text };
}

/** Starts the smoke-test server on a free loopback port. */
export async function startSmokeTest(aws: AwsClients, secret = 'demo-smoke-secret'): Promise<SmokeTest> {
  const verdicts: string[] = [];
  const byService = new Map<string, Record<string, FaultProfile>>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const signed = verifyHookRequest(secret, body, req.headers);
      if (!signed) {
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'signature does not verify' }));
        return;
      }
      const context = JSON.parse(body) as HookContext;
      smoke(aws, context, byService.get(context.service)).then(
        (v) => {
          verdicts.push(`${v.result}: ${v.text}`);
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify(v.result === 'pass' ? { result: 'pass', detail: v.text } : { result: 'fail', reason: v.text }));
        },
        (err: unknown) => res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(err) })),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/smoke`;
  return {
    hook: { url, secret, requestTimeoutMs: 10_000, allowLinkLocal: false },
    use: (service, profiles) => void byService.set(service, profiles),
    verdicts,
    stop: () => new Promise((r) => server.close(() => r())),
  };
}
