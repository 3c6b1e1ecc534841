/**
 * 2. Detection-to-safety: a release bakes a healthy canary at 20% under the traffic simulator with background
 * analysis running; at a random moment the canary's fault profile turns bad (setProfile). Measured from that
 * moment to the first DescribeListeners (polled every few ms by the bench) that shows the listener forwarding to
 * stable only, against the bound the metrics allow: delay + period + interval. The simulator publishes like ALB
 * (one datapoint per bucket of a compressed minute, delivered late), so a fault is visible only once its bucket
 * has closed and is older than the template's delay; the next measurement then sees it.
 */
import { DescribeListenersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { forwardTargets } from '../activities/traffic';
import { startRelease } from '../client/release-client';
import type { ReleaseStatus } from '../common/status';
import { startSimulator } from '../dev/simulator';
import { localMetricTiming } from '../dev/scenarios';
import { statusQuery } from '../common/messages';
import { pollUntil, seedService, sleep, type BenchContext } from './context';
import { activityExecutions, loadHistory } from './history';
import { benchSpec, errorRateTemplate } from './specs';
import { ratio, summarize, type Summary } from './stats';

export interface DetectionConfig {
  /** Seconds of simulated time per real second: the bucket is a minute compressed by it. */
  timeScale: number;
  /** The template's delay (covers the simulated delivery lag of 90 s, compressed). */
  delayMs: number;
  intervalMs: number;
  reportEveryMs: number;
  periodMs: number;
  windowMs: number;
  simulatorTickMs: number;
  requestsPerSecond: number;
  /** The bad profile's share of 5xx, and the pass bound of the 5xx rate. */
  badErrorRate: number;
  maxErrorRate: number;
}

export interface DetectionRep {
  workflowId: string;
  /** setProfile(bad) → first DescribeListeners showing stable only (bench poll), ms. */
  toSafetyMs: number;
  /** setProfile(bad) → the failing background runAnalysis completed (history), ms. */
  toDetectionMs: number;
  /** failing runAnalysis completed → restoreActions completed (history), ms. */
  reactionMs: number;
  /** restoreActions completed (history) vs the bench's poll seeing stable: how late the poll saw it, ms. */
  pollLagMs: number;
  outcome: string;
}

export interface DetectionResult {
  config: DetectionConfig;
  reps: DetectionRep[];
  toSafety: Summary;
  toDetection: Summary;
  reaction: Summary;
  /**
   * delay + period + interval: a strong fault fills the bucket it starts in, which closes within a period, becomes
   * judgeable `delay` later, and is read at the next measurement, at most an interval after that.
   */
  budgetDelayPeriodIntervalMs: number;
  /** delay + window + interval: the worst case for a fault that needs the whole window to cross the bound. */
  budgetDelayWindowIntervalMs: number;
  ratioToDelayPeriodInterval: number | null;
  ratioToDelayWindowInterval: number | null;
  simulatorTicks: number;
  simulatorErrors: number;
}

export async function measureDetection(ctx: BenchContext, opts: { reps: number }): Promise<DetectionResult> {
  // Time scale 12: a minute lasts 5 s and is delivered 7.5 s after it closed, so alignment and lag weigh as on AWS.
  const timeScale = 12;
  const timing = localMetricTiming(timeScale);
  const config: DetectionConfig = {
    timeScale,
    delayMs: Number(timing.delay.replace(/s$/, '')) * 1000,
    intervalMs: 5_000,
    reportEveryMs: 20_000,
    periodMs: timing.periodSeconds * 1000,
    windowMs: 2 * timing.periodSeconds * 1000,
    simulatorTickMs: 500,
    requestsPerSecond: 200,
    badErrorRate: 0.5,
    maxErrorRate: 0.02,
  };
  const { service, seeded } = await seedService(ctx.aws, 'dt');
  const simulator = startSimulator({
    aws: ctx.aws,
    listenerArn: seeded.listenerArn,
    requestsPerSecond: config.requestsPerSecond,
    tickMs: config.simulatorTickMs,
    profiles: {},
    defaultProfile: { errorRate: 0, latencyMs: 40, latencyJitter: 0.1 },
    seed: 7,
    realism: { timeScale: config.timeScale },
  });
  const reps: DetectionRep[] = [];
  try {
    for (let i = 1; i <= opts.reps; i++) {
      const version = `dt${i}`;
      const spec = benchSpec(seeded, service, version, {
        steps: [{ setWeight: 20 }, { pause: { duration: '10m' } }, { setWeight: 100 }],
        backgroundAnalysis: { template: 'errors', interval: `${config.intervalMs}ms`, reportEvery: `${config.reportEveryMs}ms` },
        analysis: {
          errors: errorRateTemplate({
            max: config.maxErrorRate,
            periodSeconds: config.periodMs / 1000,
            window: `${config.windowMs}ms`,
            delay: `${config.delayMs}ms`,
          }),
        },
      });
      const handle = await startRelease(ctx.client, spec, { taskQueue: ctx.taskQueue });
      await pollUntil<ReleaseStatus>(
        'the bake at 20%',
        async () => {
          const s = await handle.query(statusQuery);
          return s.gate?.kind === 'pause' ? s : undefined;
        },
        60_000,
      );
      // A healthy canary bakes until its buckets are judged; the fault starts at a random phase of bucket and cadence.
      await sleep(config.delayMs + config.windowMs + Math.random() * Math.max(config.intervalMs, config.periodMs));
      const t0 = Date.now();
      simulator.setProfile(version, { errorRate: config.badErrorRate, latencyMs: 40, latencyJitter: 0.1 });
      const safeAt = await pollUntil(
        'the listener back on stable',
        async () => {
          const out = await ctx.aws.elbv2.send(new DescribeListenersCommand({ ListenerArns: [seeded.listenerArn] }));
          const forward = out.Listeners?.[0]?.DefaultActions?.find((a) => a.Type === 'forward');
          const targets = forward ? forwardTargets(forward) : [];
          const stableOnly = targets.length === 1 && targets[0]?.targetGroupArn === seeded.stableTargetGroupArn;
          return stableOnly ? Date.now() : undefined;
        },
        120_000,
        10,
      );
      const result = await handle.result();
      const h = await loadHistory(ctx.client, handle.workflowId, handle.firstExecutionRunId);
      const acts = activityExecutions(h.events);
      const failing = acts.filter((a) => a.type === 'runAnalysis' && a.outcome === 'completed').pop();
      const restore = acts.find((a) => a.type === 'restoreActions' && a.outcome === 'completed');
      if (!failing?.closedMs || !restore?.closedMs)
        throw new Error(`bench: ${handle.workflowId} ended ${result.outcome} (${result.reason}) without a failing analysis and a restore`);
      const rep: DetectionRep = {
        workflowId: handle.workflowId,
        toSafetyMs: safeAt - t0,
        toDetectionMs: failing.closedMs - t0,
        reactionMs: restore.closedMs - failing.closedMs,
        pollLagMs: safeAt - restore.closedMs,
        outcome: result.outcome,
      };
      reps.push(rep);
      ctx.log(
        `[detection] rep ${i}/${opts.reps}: fault→listener on stable ${rep.toSafetyMs} ms ` +
          `(fault→analysis fail ${rep.toDetectionMs.toFixed(0)} ms, fail→restore verified ${rep.reactionMs.toFixed(0)} ms); outcome ${rep.outcome}: ${result.reason}`,
      );
    }
  } finally {
    await simulator.stop();
  }
  const toSafety = summarize(reps.map((r) => r.toSafetyMs));
  const budgetDelayPeriodIntervalMs = config.delayMs + config.periodMs + config.intervalMs;
  const budgetDelayWindowIntervalMs = config.delayMs + config.windowMs + config.intervalMs;
  return {
    config,
    reps,
    toSafety,
    toDetection: summarize(reps.map((r) => r.toDetectionMs)),
    reaction: summarize(reps.map((r) => r.reactionMs)),
    budgetDelayPeriodIntervalMs,
    budgetDelayWindowIntervalMs,
    ratioToDelayPeriodInterval: ratio(toSafety.median, budgetDelayPeriodIntervalMs),
    ratioToDelayWindowInterval: ratio(toSafety.median, budgetDelayWindowIntervalMs),
    simulatorTicks: simulator.ticks(),
    simulatorErrors: simulator.errors(),
  };
}

/** For the report: the configured durations as the spec writes them. */
export function describeDetectionConfig(c: DetectionConfig): string {
  const s = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
  return (
    `ALB-shaped metrics at time scale ${c.timeScale} (a minute = ${s(c.periodMs)} bucket, delivered ${s(Math.round((90 / c.timeScale) * 1000))} late), ` +
    `delay ${s(c.delayMs)}, background interval ${s(c.intervalMs)}, reportEvery ${s(c.reportEveryMs)}, period ${s(c.periodMs)}, window ${s(c.windowMs)}, simulator tick ${s(c.simulatorTickMs)}`
  );
}
