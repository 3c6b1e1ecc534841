/**
 * `npm run demo`: a real canary release on the embedded local stack (Temporal dev server with UI, moto),
 * with a traffic simulator publishing per-target-group CloudWatch metrics from the live listener weights.
 *
 *   npm run demo                                 healthy release, about a minute
 *   npm run demo -- --scenario bad-canary        5xx trips the analysis, automatic rollback
 *   npm run demo -- --scenario approval          stops at a gate until you approve (UI, temporal CLI or canary CLI)
 *   npm run demo -- --scenario subtle-regression 30% slower canary caught by the sequential judge
 *   npm run demo -- --scenario unhealthy         the new version fails its health checks: rolled back at weight 0
 *   npm run demo -- --scenario crash             the new version drops connections (ALB 502s, no target 5xx): rolled back
 *   npm run demo -- --scenario business-metric   HTTP fine, checkout conversion (Prometheus) broken: rolled back
 *   npm run demo -- --scenario business-metric --healthy   the same metric passes: promoted
 *   npm run demo -- --scenario smoke-test        a smoke test reaches the new version through a test route at weight 0
 *   npm run demo -- --scenario smoke-test --broken   the smoke test fails it: rolled back before any user reaches it
 *   npm run demo -- --keep                       leave the stack and the UI up afterwards
 */
import * as path from 'node:path';
import { DescribeListenersCommand, DescribeRulesCommand, DescribeTargetGroupsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { Command, Option } from 'commander';
import { createActivities } from '../activities';
import { motoClients, type AwsClients } from '../activities/aws-clients';
import { actions, startRelease } from '../client/release-client';
import { formatAnalysis, formatResult, formatTimelineEntry, progressLine } from '../client/format';
import { formatDuration } from '../common/duration';
import type { ReleaseResult, ReleaseStatus } from '../common/status';
import { statusQuery } from '../common/messages';
import { tellRealismLayer } from './alb-realism';
import { PROMETHEUS_SCENARIOS, SCENARIOS, buildScenario, type ScenarioName } from './scenarios';
import { seedAlb } from './seed';
import { startSimulator, type FaultProfile } from './simulator';
import { realismFromEnv, startLocalStack, timeScaleFromEnv, type LocalStack } from './stack';
import { repoRoot, temporalCli } from './paths';
import { writeReport } from '../client/report';
import { startSmokeTest, type SmokeTest } from './smoke-test';
import { BUSINESS_METRICS, CHECKOUT_SHARE, DEFAULT_CONVERSION, startBusinessMetrics, type BusinessMetricsStack } from './business-metrics';

export interface ScenarioRunOptions {
  client: Client;
  aws: AwsClients;
  taskQueue: string;
  scenario: ScenarioName;
  /** Time scale of the scenario's pauses and intervals (1 = demo pace). */
  scale?: number;
  service?: string;
  /** Where progress lines go. */
  out?: (line: string) => void;
  temporalAddress: string;
  uiUrl?: string;
  /** In the approval scenario, approve as `alice` after this long (non-interactive runs). */
  autoApproveAfterMs?: number;
  requestsPerSecond?: number;
  /** ALB-shaped metrics (the realism layer); CANARY_REALISM when absent. */
  realism?: boolean;
  /** Seconds of simulated AWS time per real second; CANARY_TIME_SCALE when absent. */
  timeScale?: number;
  /** Ctrl-C: stop following the release at once (the terminal's SIGINT also stops the stack's servers). */
  signal?: AbortSignal;
  /** Where the release report goes (client/report.ts); default `.canary/reports/<scenario>-<service>.html`. */
  reportPath?: string;
  /** business-metric: the new version converts as well as the old (`--healthy`). */
  healthy?: boolean;
  /**
   * Scenarios that judge a Prometheus metric: the business metrics stack (dev/business-metrics.ts) the simulator feeds;
   * its worker must hold the stack's `sources` (server `main`), and the report reads them too.
   */
  business?: Pick<BusinessMetricsStack, 'exporter' | 'sources'>;
  /** smoke-test: the new version is broken (`--broken`). */
  broken?: boolean;
  /** smoke-test: the demo's smoke-test server (dev/smoke-test.ts), whose hook `smoke` the worker holds. */
  smokeTest?: Pick<SmokeTest, 'use'>;
}

export interface ScenarioRun {
  result: ReleaseResult;
  expected: ReleaseResult['outcome'];
  /** The forward action at the end, as DescribeListeners/DescribeRules answer it: target group names and weights. */
  finalForward: { name: string; weight: number }[];
  /** The highest weight the simulator read for the new version's target group on the listener (every tick), -1 if never on it. */
  maxCanaryWeight: number;
  targetGroups: string[];
  workflowId: string;
  durationMs: number;
  ok: boolean;
  /** The release report's path; undefined when it could not be written (the reason was printed). */
  report?: string;
}

/** Thrown by {@link runScenario} when its signal aborts (Ctrl-C). */
export class ScenarioInterrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'ScenarioInterrupted';
  }
}

/** Resolves with `p`, or rejects with ScenarioInterrupted as soon as `signal` aborts (a query to a stopped server retries for long). */
function unlessAborted<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new ScenarioInterrupted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new ScenarioInterrupted());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Runs one scenario against a running stack and worker: seed, simulate, release, watch, summarise. */
export async function runScenario(opts: ScenarioRunOptions): Promise<ScenarioRun> {
  const out = opts.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const service = opts.service ?? 'checkout';
  const t0 = Date.now();
  out(`[seed] ALB for ${service}: VPC, subnets, load balancer, HTTP listener, stable target group ${service}-v1 with 2 targets`);
  const seeded = await seedAlb(opts.aws, { name: service });
  const timeScale = opts.timeScale ?? timeScaleFromEnv();
  const scenario = buildScenario(opts.scenario, { service, seeded, scale: opts.scale, timeScale, healthy: opts.healthy, broken: opts.broken });
  if (scenario.smokeTest && !opts.smokeTest)
    throw new Error(`scenario ${scenario.name} calls the smoke-test hook: start it (startSmokeTest) and pass it as smokeTest`);
  opts.smokeTest?.use(service, { v1: scenario.stable, [String(scenario.spec.version)]: scenario.canary });
  if (scenario.prometheus && !opts.business)
    throw new Error(`scenario ${scenario.name} judges a Prometheus metric: start the business metrics stack (startBusinessMetrics) and pass it as business`);
  out(`[scenario] ${scenario.name}: ${scenario.summary}`);
  const version = String(scenario.spec.version);
  for (const [v, profile] of [
    ['v1', scenario.stable],
    [version, scenario.canary],
  ] as const) {
    if (!profile.health) continue;
    const told = await tellRealismLayer(opts.aws.config.endpoint ?? '', { service, version: v, health: profile.health });
    out(
      told
        ? `[realism] ${service} ${v}: health checks find it ${profile.health}`
        : `[realism] off (CANARY_REALISM=off): moto reports every target healthy, so ${v} cannot be ${profile.health} here`,
    );
  }
  let maxCanaryWeight = -1;
  const simulator = startSimulator({
    aws: opts.aws,
    listenerArn: seeded.listenerArn,
    ruleArn: seeded.ruleArn,
    requestsPerSecond: opts.requestsPerSecond ?? 200,
    tickMs: 1000,
    profiles: { v1: scenario.stable, [String(scenario.spec.version)]: scenario.canary },
    defaultProfile: scenario.stable,
    seed: 42,
    onTick: (t) => {
      for (const s of t.split) if (s.version === version) maxCanaryWeight = Math.max(maxCanaryWeight, s.weight);
      if (scenario.prometheus) opts.business?.exporter.record(t, (v) => (v === version ? scenario.canary : scenario.stable));
    },
    realism: (opts.realism ?? realismFromEnv()) ? { timeScale } : false,
    ...(scenario.population ? { population: scenario.population } : {}),
  });
  const shape = simulator.buckets();
  out(
    shape
      ? `[simulator] ALB-shaped metrics: one datapoint per ${formatDuration(shape.bucketMs)} bucket (a minute at time scale ${timeScale}), zero 5xx counts left out, delivered ${formatDuration(shape.lagMs)} late`
      : '[simulator] metrics realism off (CANARY_REALISM=off): a datapoint per tick, visible at once',
  );
  out(
    `[simulator] ${opts.requestsPerSecond ?? 200} req/s split by the live listener ${scenario.population ? `rules (${scenario.population.groups.map((g) => `${g.name} ${Math.round(g.share * 100)}%`).join(', ')})` : 'weights'}; v1 ${Math.round(scenario.stable.errorRate * 1000) / 10}% 5xx ~${scenario.stable.latencyMs} ms, ` +
      `${scenario.spec.version} ${Math.round(scenario.canary.errorRate * 1000) / 10}% 5xx ~${scenario.canary.latencyMs} ms` +
      (scenario.canary.connectionErrorRate
        ? `, ${Math.round(scenario.canary.connectionErrorRate * 1000) / 10}% of its connections fail (the ALB answers 502/504 itself)`
        : ''),
  );
  if (scenario.prometheus) {
    const pct = (p: FaultProfile): string => `${Math.round((p.conversion ?? DEFAULT_CONVERSION) * 100)}%`;
    out(
      `[simulator] checkout: ${CHECKOUT_SHARE * 100}% of requests are checkout visits; v1 converts ${pct(scenario.stable)} of them, ${version} ${pct(scenario.canary)} (counters ${BUSINESS_METRICS.orders} / ${BUSINESS_METRICS.visits} per target group, scraped by Prometheus)`,
    );
  }
  // Let the stable version build up a little metric history before the canary appears.
  await new Promise((r) => setTimeout(r, 1500));
  try {
    const handle = await startRelease(opts.client, scenario.spec, { taskQueue: opts.taskQueue });
    const workflowId = handle.workflowId;
    out(`[release] started ${workflowId} (run ${handle.firstExecutionRunId})`);
    if (opts.uiUrl)
      out(`[release] watch it in the Temporal UI: ${opts.uiUrl}/namespaces/default/workflows/${workflowId}/${handle.firstExecutionRunId}/history`);

    let lastLine = '';
    let seen = 0;
    const shownAnalyses = new Set<string>();
    let gateShown = false;
    let approveTimer: NodeJS.Timeout | undefined;
    const done = handle.result();
    let finished = false;
    void done.finally(() => (finished = true)).catch(() => undefined);
    for (;;) {
      const st: ReleaseStatus | undefined = await unlessAborted(
        handle.query(statusQuery).catch(() => undefined),
        opts.signal,
      );
      if (st) {
        for (const e of st.timeline.slice(seen)) out(`  ${formatTimelineEntry(e)}`);
        seen = st.timeline.length;
        const line = progressLine(st, new Date());
        if (line !== lastLine) out(`[${formatDuration(Date.now() - t0)}] ${line}`);
        lastLine = line;
        for (const run of [st.analysis, st.backgroundAnalysis]) {
          if (!run?.last) continue;
          const key = `${run.templateName}${run.last.at}`;
          if (shownAnalyses.has(key)) continue;
          shownAnalyses.add(key);
          for (const l of formatAnalysis(run)) out(`    ${l}`);
          if (run.last.score) out(`      judge score ${run.last.score.score}: ${run.last.score.verdict}`);
          for (const m of run.last.metrics.filter((x) => x.stat)) {
            const s = m.stat as NonNullable<typeof m.stat>;
            const ev = s.evidence;
            out(
              ev
                ? `      ${m.metric} vs ${s.against}: ${s.verdict}, e-value ${Number(ev.eValue.toPrecision(3))} / ${Number(ev.boundary.toPrecision(3))} after ${ev.buckets} bucket(s), ratio ${ev.effect === null ? '-' : ev.effect.toFixed(3)}`
                : `      ${m.metric} vs ${s.against}: ${s.verdict}, p=${s.pValue === null ? '-' : s.pValue.toExponential(2)}, ratio ${s.ratioOfMeans === null ? '-' : s.ratioOfMeans.toFixed(3)}`,
            );
          }
        }
        if (st.gate?.kind === 'approval' && !gateShown) {
          gateShown = true;
          const who = st.gate.approvers?.join(' or ') ?? 'an approver';
          out(`\n  The release waits for ${who} at step ${st.gate.step}. Approve it from:`);
          if (opts.uiUrl)
            out(
              `    the Temporal UI   ${opts.uiUrl}/namespaces/default/workflows/${workflowId} → Send Update "approve" with {"by":"alice","step":${st.gate.step}}`,
            );
          out(
            `    the temporal CLI  ${temporalCli()} workflow update execute --address ${opts.temporalAddress} --workflow-id ${workflowId} --name approve --input '{"by":"alice","step":${st.gate.step}}'`,
          );
          out(`    the canary CLI    TEMPORAL_ADDRESS=${opts.temporalAddress} npm run canary -- approve ${workflowId} --by alice --step ${st.gate.step}\n`);
          if (opts.autoApproveAfterMs !== undefined) {
            const step = st.gate.step;
            out(`  (non-interactive: approving as alice in ${formatDuration(opts.autoApproveAfterMs)})`);
            approveTimer = setTimeout(() => {
              actions
                .approve(opts.client, workflowId, { by: 'alice', step, comment: 'demo auto-approval' })
                .catch((err: Error) => out(`  auto-approval failed: ${err.message}`));
            }, opts.autoApproveAfterMs);
          }
        }
      }
      if (finished) break;
      await unlessAborted(new Promise((r) => setTimeout(r, 500)), opts.signal);
    }
    if (approveTimer) clearTimeout(approveTimer);
    const result = await done;
    const finalForward = await readForward(opts.aws, seeded.listenerArn, seeded.ruleArn);
    const all = await opts.aws.elbv2.send(new DescribeTargetGroupsCommand({}));
    const targetGroups = (all.TargetGroups ?? []).filter((t) => t.VpcId === seeded.vpcId).map((t) => t.TargetGroupName ?? '');
    const run: ScenarioRun = {
      result,
      expected: scenario.expected,
      finalForward,
      maxCanaryWeight,
      targetGroups,
      workflowId,
      durationMs: Date.now() - t0,
      ok: result.outcome === scenario.expected,
    };
    out('');
    out('──── summary ─────────────────────────────────────────────');
    out(`scenario      ${scenario.name} (expected: ${scenario.expected})`);
    out(`verdict       ${formatResult(result)}`);
    out(`duration      ${formatDuration(result.durationMs)} for ${result.stepsCompleted}/${result.steps} steps`);
    out(`listener now  forward ${finalForward.map((f) => `${f.name}=${f.weight}`).join(', ')} (DescribeListeners)`);
    out(`target groups ${targetGroups.join(', ')}`);
    out(
      `simulator     ${simulator.ticks()} ticks, ${simulator.errors()} errors; ${version} weight on the listener at most ${maxCanaryWeight < 0 ? '- (never on it)' : maxCanaryWeight}`,
    );
    try {
      run.report = await writeReport({
        client: opts.client,
        release: workflowId,
        out: opts.reportPath ?? path.join(repoRoot, '.canary', 'reports', `${scenario.name}-${service}.html`),
        uiUrl: opts.uiUrl,
        cloudwatch: opts.aws.cloudwatch,
        sources: opts.business?.sources,
      });
      out(`report        ${run.report}`);
    } catch (err) {
      out(`report        not written: ${(err as Error).message}`);
    }
    out(run.ok ? 'scenario OK' : `scenario FAILED: expected ${scenario.expected}, got ${result.outcome}`);
    return run;
  } finally {
    await simulator.stop();
  }
}

async function readForward(aws: AwsClients, listenerArn: string, ruleArn?: string): Promise<{ name: string; weight: number }[]> {
  const actionsNow = ruleArn
    ? (await aws.elbv2.send(new DescribeRulesCommand({ RuleArns: [ruleArn] }))).Rules?.[0]?.Actions
    : (await aws.elbv2.send(new DescribeListenersCommand({ ListenerArns: [listenerArn] }))).Listeners?.[0]?.DefaultActions;
  const forward = actionsNow?.find((a) => a.Type === 'forward');
  const groups = forward?.ForwardConfig?.TargetGroups?.length
    ? forward.ForwardConfig.TargetGroups.map((t) => ({ arn: t.TargetGroupArn ?? '', weight: t.Weight ?? 1 }))
    : forward?.TargetGroupArn
      ? [{ arn: forward.TargetGroupArn, weight: 1 }]
      : [];
  return groups.map((g) => ({ name: g.arn.split(':').pop()?.split('/')[1] ?? g.arn, weight: g.weight }));
}

/**
 * Stops the demo's worker once: after Ctrl-C the SDK's signal handler has already begun its shutdown, and a second
 * `shutdown()` throws IllegalStateError. A worker whose server is gone may never finish draining, so this waits a
 * bounded time before closing the connections.
 */
export async function stopDemo(worker: Worker, running: Promise<void>, close: () => Promise<void>, waitMs = 5_000): Promise<void> {
  if (worker.getState() === 'RUNNING') worker.shutdown();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([running.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, waitMs)))]);
  clearTimeout(timer);
  await close().catch(() => undefined);
}

async function main(): Promise<void> {
  const program = new Command('demo')
    .description('Run a canary release on the embedded local stack')
    .addOption(new Option('--scenario <name>', 'what the new version does').choices(SCENARIOS).default('healthy'))
    .option('--keep', 'leave the Temporal dev server, its UI and moto running afterwards (Ctrl-C stops them)', false)
    .option('--auto-approve <seconds>', 'approval scenario: approve as alice after this many seconds (default: in CI, 5)')
    .option('--healthy', 'business-metric: the new version converts as well as the old one, and is promoted', false)
    .option('--broken', 'smoke-test: the new version is broken; its smoke test fails it before any user reaches it', false)
    .parse();
  const opts = program.opts<{ scenario: ScenarioName; keep: boolean; autoApprove?: string; healthy: boolean; broken: boolean }>();

  Runtime.install({ logger: new DefaultLogger('WARN') });
  const t0 = Date.now();
  process.stdout.write('[stack] starting the Temporal dev server (with UI) and moto on free loopback ports...\n');
  const stack: LocalStack = await startLocalStack({ ui: true, label: 'demo' });
  process.stdout.write(
    `[stack] Temporal ${stack.temporal.address}, UI ${stack.temporal.uiUrl}, moto ${stack.moto.endpoint} (${formatDuration(Date.now() - t0)}); logs in ${stack.logDir}\n`,
  );
  process.stdout.write(
    stack.realism
      ? `[stack] ALB realism layer ${stack.awsEndpoint} in front of moto: target health like a real ALB, AWS time ×${stack.timeScale} (CANARY_REALISM=off for plain moto)\n`
      : `[stack] ALB realism layer off (CANARY_REALISM=off): ${stack.awsEndpoint} forwards everything to moto\n`,
  );
  let business: BusinessMetricsStack | undefined;
  if (PROMETHEUS_SCENARIOS.includes(opts.scenario)) {
    const t1 = Date.now();
    try {
      business = await startBusinessMetrics({ logDir: stack.logDir, timeScale: stack.timeScale });
    } catch (err) {
      await stack.stop();
      throw err;
    }
    process.stdout.write(
      `[stack] Prometheus ${business.prometheus.url} (${formatDuration(Date.now() - t1)}) scraping the simulator's checkout counters at ${business.exporter.address}; the worker holds it as server "main" (CANARY_PROMETHEUS_MAIN_URL)\n`,
    );
  }
  const aws = motoClients(stack.awsEndpoint);
  const native = await NativeConnection.connect({ address: stack.temporal.address });
  const connection = await Connection.connect({ address: stack.temporal.address });
  const client = new Client({ connection });
  const taskQueue = 'canary-demo';
  process.stdout.write('[worker] bundling the workflow code and starting a worker...\n');
  // The smoke-test scenario's hook server; the worker holds its URL and secret as it would CANARY_HOOK_SMOKE.
  const smokeTest = opts.scenario === 'smoke-test' ? await startSmokeTest(aws) : undefined;
  if (smokeTest) process.stdout.write(`[stack] smoke test ${smokeTest.hook.url}: the worker holds it as hook "smoke" (CANARY_HOOK_SMOKE)\n`);
  const worker = await Worker.create({
    connection: native,
    taskQueue,
    workflowsPath: require.resolve('../workflows'),
    activities: createActivities({
      ...aws,
      timeScale: stack.timeScale,
      sources: business?.sources,
      ...(smokeTest ? { hooks: { smoke: smokeTest.hook } } : {}),
    }),
  });
  const running = worker.run();
  // Ctrl-C reaches the whole foreground process group: the SDK's own handler shuts the worker down and the Temporal
  // server and moto stop too. Stop following the release at once instead of retrying a stopped server.
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let exitCode = 1;
  try {
    const autoApprove = opts.autoApprove !== undefined ? Number(opts.autoApprove) * 1000 : process.env.CI || !process.stdin.isTTY ? 5_000 : undefined;
    const run = await runScenario({
      client,
      aws,
      taskQueue,
      scenario: opts.scenario,
      temporalAddress: stack.temporal.address,
      uiUrl: stack.temporal.uiUrl,
      autoApproveAfterMs: autoApprove,
      realism: stack.realism,
      timeScale: stack.timeScale,
      signal: interrupt.signal,
      healthy: opts.healthy,
      business,
      broken: opts.broken,
      smokeTest,
    });
    exitCode = run.ok ? 0 : 1;
    if (opts.keep) {
      process.stdout.write(
        `\n[keep] the stack stays up: UI ${stack.temporal.uiUrl}, Temporal ${stack.temporal.address}, moto ${stack.moto.endpoint}. Ctrl-C to stop.\n`,
      );
      await new Promise<void>((resolve) => (interrupt.signal.aborted ? resolve() : interrupt.signal.addEventListener('abort', () => resolve())));
    }
  } catch (err) {
    if (!(err instanceof ScenarioInterrupted)) throw err;
    process.stdout.write('\n[demo] interrupted: stopping the worker and the stack\n');
    exitCode = 130;
  } finally {
    await stopDemo(worker, running, async () => {
      await native.close();
      await connection.close();
      aws.destroy();
    });
    await business?.stop();
    await smokeTest?.stop();
    await stack.stop();
  }
  process.exit(exitCode);
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`demo failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
