/**
 * `canary doctor`'s AWS checks, with the credentials of the environment it runs in (run it where the worker runs, or
 * with the worker's role, to check the worker): who they are and in which region (STS), and with --spec: the
 * listener or rule and its one stable target group (the release's own discovery, read-only), data for each metric of
 * the spec's analysis templates for the stable group in the last hour (CloudWatch metrics, through the analysis's own
 * source in activities/sources/; ./sources.ts checks the others), the alarms, and the permissions a release
 * needs (iam:SimulatePrincipalPolicy against docs/iam-policy.json's actions, where the credentials may call it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IAMClient, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { ApplicationFailure } from '@temporalio/common';
import { cloudWatchSource } from '../../activities/sources/cloudwatch';
import { createSources, fetchMetrics } from '../../activities/sources/index';
import { createTrafficActivities } from '../../activities/traffic';
import { metricShape, sourceOf } from '../../common/sources/index';
import { awsScope } from '../../common/spec';
import { oneLine, specCheck, stableGroupCheck, type CheckResult, type DoctorCheck } from './checks';

const identity: DoctorCheck = {
  id: 'aws-identity',
  title: 'AWS identity',
  async run(ctx) {
    const aws = ctx.aws();
    const who = await aws.identity();
    const region = ctx.spec && ctx.spec.region !== who.region ? `${who.region}; the spec's region ${ctx.spec.region}` : who.region;
    if ('error' in who) {
      return {
        status: 'fail',
        text: `STS GetCallerIdentity in ${region}: ${who.error}`,
        fix: `give the credentials a release uses (now: ${aws.credentialSource}); AWS_PROFILE (aws sso login), a role, or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, and AWS_REGION`,
      };
    }
    ctx.identity = { account: who.account, arn: who.arn };
    const role = ctx.spec?.aws?.roleArn ? `; releases assume ${ctx.spec.aws.roleArn}` : '';
    return { status: 'ok', text: `${who.arn} (account ${who.account}), region ${region}${role}` };
  },
};

const listener = specCheck({
  id: 'aws-listener',
  title: 'listener and stable target group',
  needs: ['aws-identity'],
  async run(spec, ctx) {
    const traffic = createTrafficActivities(() => ctx.scoped());
    const pair = spec.environment.mode === 'pair' ? spec.environment.pair : undefined;
    try {
      ctx.discovered = await traffic.discoverForwards({ aws: awsScope(spec), forwards: spec.traffic, pair });
    } catch (e) {
      if (!(e instanceof ApplicationFailure)) throw e;
      return {
        status: 'fail',
        text: e.message,
        fix: 'point traffic.listenerArn / traffic.ruleArn at the forward action that serves the service, in the spec region, sending all traffic to one target group',
      };
    }
    const d = ctx.discovered;
    const where = d.forwards.map((f) => (f.ref.ruleArn ? 'rule' : 'listener default action')).join(', ');
    return { status: 'ok', text: `${where} forwards to ${d.stableTargetGroupName} (${d.targetType}, ${d.vpcId})` };
  },
});

const metrics = stableGroupCheck({
  id: 'aws-metrics',
  title: 'CloudWatch metrics have data',
  async run(spec, { discovered: d, stable }, ctx): Promise<CheckResult> {
    // The analysis's own CloudWatch source (activities/sources/); ./sources.ts checks the other sources.
    const sources = createSources({ cloudwatch: (await ctx.scoped()).cloudwatch });
    const endMs = Math.floor(Date.now() / 60_000) * 60_000;
    const window = { startMs: endMs - 3_600_000, endMs };
    const empty: string[] = [];
    const seen: string[] = [];
    for (const [name, template] of Object.entries(spec.analysis)) {
      for (const metric of template.metrics.filter((m) => sourceOf(m) === 'cloudwatch')) {
        const label = `${name}/${metric.name}`;
        let fetched: Awaited<ReturnType<typeof fetchMetrics>>;
        try {
          fetched = await fetchMetrics(sources, [{ metric, variants: { stable } }], window);
        } catch (e) {
          empty.push(`${label} (${oneLine(e).slice(0, 200)})`);
          continue;
        }
        const series = fetched[0]?.stable ?? {};
        const shape = metricShape(metric);
        // A series with `fill` may rightly be empty (ALB publishes no 5xx datapoint in a minute without 5xx).
        const needed = shape.bySource ? [shape.result] : shape.series.filter((s) => s.fill === undefined).map((s) => s.id);
        const points = Object.values(series).reduce((n, s) => n + s.t.length, 0);
        const missing = needed.filter((id) => !series[id]?.t.length);
        if (missing.length || points === 0) empty.push(`${label} (${(missing.length ? missing : shape.series.map((s) => s.id)).join(', ')})`);
        else seen.push(`${label} ${points} datapoint(s)`);
      }
    }
    if (empty.length) {
      return {
        status: 'fail',
        text: `no data for ${d.stableTargetGroupName} in the last hour: ${empty.join('; ')}`,
        fix: 'check each query (namespace, metric name, the ${targetGroup} / ${loadBalancer} dimensions, Period, Stat) in the CloudWatch console, and that the service had traffic',
      };
    }
    if (!seen.length) return { status: 'skip', text: 'the spec has no CloudWatch metric' };
    return { status: 'ok', text: `${d.stableTargetGroupName}, last hour: ${seen.join('; ')}` };
  },
});

const alarms = specCheck({
  id: 'aws-alarms',
  title: 'alarms exist',
  needs: ['aws-identity'],
  async run(spec, ctx): Promise<CheckResult> {
    const gates = Object.entries(spec.analysis).flatMap(([name, t]) => (t.alarms ? [{ name, gate: t.alarms }] : []));
    if (!gates.length) return { status: 'skip', text: 'the spec names no alarms' };
    const cloudwatch = cloudWatchSource((await ctx.scoped()).cloudwatch);
    const problems: string[] = [];
    let found = 0;
    for (const { name, gate } of gates) {
      try {
        found += (await cloudwatch.alarms(gate)).length;
      } catch (e) {
        problems.push(`${name}: ${oneLine(e)}`);
      }
    }
    if (problems.length) {
      return { status: 'fail', text: problems.join('; '), fix: `create the alarms in ${spec.region}, or correct analysis.*.alarms (names, prefix)` };
    }
    return { status: 'ok', text: `${found} alarm(s) found` };
  },
});

/**
 * The actions docs/iam-policy.json allows (the worker's least-privilege policy, shipped in the package: two levels
 * up from client/doctor/ in a checkout, three from dist/client/doctor/), AssumeRole and wildcards left out.
 */
export function policyActions(): { plain: string[]; scoped: string[] } | undefined {
  const candidates = [path.resolve(__dirname, '..', '..', 'docs', 'iam-policy.json'), path.resolve(__dirname, '..', '..', '..', 'docs', 'iam-policy.json')];
  const found = candidates.find((f) => fs.existsSync(f));
  if (!found) return undefined;
  type Statement = { Effect?: string; Action?: string | string[]; Resource?: string | string[]; Condition?: unknown };
  const policy = JSON.parse(fs.readFileSync(found, 'utf8')) as { Statement?: Statement[] };
  const list = (v: string | string[] | undefined): string[] => (Array.isArray(v) ? v : v ? [v] : []);
  const allows = (policy.Statement ?? []).filter((st) => st.Effect === 'Allow');
  // A statement scoped to resources or conditioned on tags needs the release's ARNs and tags to simulate.
  const isPlain = (st: Statement): boolean => !st.Condition && list(st.Resource).every((r) => r === '*');
  const actions = (sts: Statement[]) => [...new Set(sts.flatMap((st) => list(st.Action)).filter((a) => !a.startsWith('sts:') && !a.includes('*')))];
  const plain = actions(allows.filter(isPlain));
  return { plain, scoped: actions(allows.filter((st) => !isPlain(st))).filter((a) => !plain.includes(a)) };
}

/** The IAM principal a release acts as: the spec's role, else the caller (an assumed-role session → its role). */
export function principalArn(callerArn: string, specRole?: string): string {
  if (specRole) return specRole;
  const m = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(callerArn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : callerArn;
}

const permissions: DoctorCheck = {
  id: 'aws-permissions',
  title: 'IAM permissions',
  needs: ['aws-identity'],
  async run(ctx): Promise<CheckResult> {
    const policy = policyActions();
    if (!policy) return { status: 'skip', text: 'docs/iam-policy.json is not next to this canary' };
    // Only what the policy allows on any resource without conditions: simulating a tag-scoped statement without the
    // release's ARNs and tags would report a denial that is not one.
    const actions = policy.plain;
    const unsimulated = policy.scoped.length ? `; not simulated (scoped to the release's resources and tags): ${policy.scoped.join(', ')}` : '';
    const principal = principalArn((ctx.identity as { arn: string }).arn, ctx.spec?.aws?.roleArn);
    const config = ctx.aws().config;
    const iam = new IAMClient({ region: config.region, endpoint: config.endpoint, maxAttempts: config.maxAttempts });
    try {
      const denied: string[] = [];
      let Marker: string | undefined;
      do {
        const out = await iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: principal, ActionNames: actions, Marker }));
        for (const r of out.EvaluationResults ?? []) if (r.EvalDecision !== 'allowed' && r.EvalActionName) denied.push(r.EvalActionName);
        Marker = out.IsTruncated ? out.Marker : undefined;
      } while (Marker);
      if (denied.length) {
        return {
          status: 'fail',
          text: `${principal} may not ${denied.join(', ')}`,
          fix: `attach the statements of docs/iam-policy.json to ${principal}`,
        };
      }
      return { status: 'ok', text: `${principal} may make the unscoped calls of docs/iam-policy.json${unsimulated}` };
    } catch (e) {
      // Not allowed to simulate, or an endpoint without the call (moto): say so, never guess.
      return { status: 'skip', text: `iam:SimulatePrincipalPolicy for ${principal} failed: ${oneLine(e).slice(0, 200)}` };
    } finally {
      iam.destroy();
    }
  },
};

export const awsChecks: readonly DoctorCheck[] = [identity, listener, metrics, alarms, permissions];
