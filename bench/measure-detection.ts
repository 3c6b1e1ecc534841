/**
 * 2. Detection-to-safety: a release bakes a healthy canary at 20% under the traffic simulator with background
 * analysis running; at a random moment the canary's fault profile turns bad (setProfile). Measured from that
 * moment to the first DescribeListeners (polled every few ms by the bench) that shows the listener forwarding to
 * stable only, against the configured analysis cadence (interval + period, and interval + window).
 */
import { DescribeListenersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { forwardTargets } from '../activities/traffic';
import { startRelease } from '../client/release-client';
import type { ReleaseStatus } from '../common/status';
import { startSimulator } from '../dev/simulator';
import { statusQuery } from '../common/messages';
import { pollUntil, seedService, sleep, type BenchContext } from './context';
import { activityExecutions, loadHistory } from './history';
import { benchSpec, errorRateTemplate } from './specs';
import { ratio, summarize, type Summary } from './stats';

export interface DetectionConfig {
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
  /** interval + period: a strong fault shows in the next bucket, read at the next measurement. */
  budgetIntervalPlusPeriodMs: number;
  /** interval + window: the worst case for a fault that needs the whole window to cross the bound. */
  budgetIntervalPlusWindowMs: number;
  ratioToIntervalPlusPeriod: number | null;
  ratioToIntervalPlusWindow: number | null;
  simulatorTicks: number;
  simulatorErrors: number;
}

export async function measureDetection(ctx: BenchContext, opts: { reps: number }): Promise<DetectionResult> {
  const config: DetectionConfig = {
    intervalMs: 2_000,
    reportEveryMs: 10_000,
    periodMs: 1_000,
    windowMs: 10_000,
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
  });
  const reps: DetectionRep[] = [];
  try {
    for (let i = 1; i <= opts.reps; i++) {
      const version = `dt${i}`;
      const spec = benchSpec(seeded, service, version, {
        steps: [{ setWeight: 20 }, { pause: { duration: '10m' } }, { setWeight: 100 }],
        backgroundAnalysis: { template: 'errors', interval: `${config.intervalMs}ms`, reportEvery: `${config.reportEveryMs}ms` },
        analysis: {
          errors: errorRateTemplate({ max: config.maxErrorRate, periodSeconds: config.periodMs / 1000, window: `${config.windowMs}ms` }),
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
      // A healthy canary bakes for a while; the fault starts at a random phase of the measurement cadence.
      await sleep(config.windowMs / 2 + Math.random() * config.intervalMs);
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
  const budgetIntervalPlusPeriodMs = config.intervalMs + config.periodMs;
  const budgetIntervalPlusWindowMs = config.intervalMs + config.windowMs;
  return {
    config,
    reps,
    toSafety,
    toDetection: summarize(reps.map((r) => r.toDetectionMs)),
    reaction: summarize(reps.map((r) => r.reactionMs)),
    budgetIntervalPlusPeriodMs,
    budgetIntervalPlusWindowMs,
    ratioToIntervalPlusPeriod: ratio(toSafety.median, budgetIntervalPlusPeriodMs),
    ratioToIntervalPlusWindow: ratio(toSafety.median, budgetIntervalPlusWindowMs),
    simulatorTicks: simulator.ticks(),
    simulatorErrors: simulator.errors(),
  };
}

/** For the report: the configured durations as the spec writes them. */
export function describeDetectionConfig(c: DetectionConfig): string {
  const s = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
  return `background interval ${s(c.intervalMs)}, reportEvery ${s(c.reportEveryMs)}, period ${s(c.periodMs)}, window ${s(c.windowMs)}, simulator tick ${s(c.simulatorTickMs)}`;
}
