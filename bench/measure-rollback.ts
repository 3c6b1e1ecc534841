/**
 * 1. Rollback latency: from the failing analysis activity's completion (ActivityTaskCompleted of runAnalysis) to
 * the listener verified back on stable (ActivityTaskCompleted of restoreActions), both server event times of the
 * workflow history, against direct ModifyListener + DescribeListeners pairs to the same moto server, interleaved
 * with the releases so both see the same machine load.
 */
import { DescribeListenersCommand, ModifyListenerCommand, type Action } from '@aws-sdk/client-elastic-load-balancing-v2';
import { loadBalancerDimension, targetGroupDimension } from '../activities/traffic';
import { actions, startRelease } from '../client/release-client';
import { publishAfterTraffic } from '../dev/aws-state';
import type { ReleaseStatus } from '../common/status';
import type { SeededAlb } from '../dev/seed';
import { statusQuery } from '../common/messages';
import { pollUntil, seedService, type BenchContext } from './context';
import { activityExecutions, loadHistory } from './history';
import { benchSpec, errorRateTemplate } from './specs';
import { median, ratio, summarize, type Summary } from './stats';

export interface RollbackRep {
  workflowId: string;
  /** runAnalysis completed (fail) → restoreActions completed, ms. */
  latencyMs: number;
  /** runAnalysis completed → restoreActions scheduled: the workflow task that decides to roll back. */
  decideMs: number;
  /** restoreActions scheduled → started: activity dispatch to the worker. */
  dispatchMs: number;
  /** restoreActions started → completed: DescribeListeners, ModifyListener, DescribeListeners against moto. */
  restoreMs: number;
  outcome: string;
  /** The listener's default actions after the rollback equal the pre-release ones (DescribeListeners). */
  restoredExactly: boolean;
}

export interface RollbackResult {
  reps: RollbackRep[];
  latency: Summary;
  decide: Summary;
  dispatch: Summary;
  restore: Summary;
  /** One ModifyListener + DescribeListeners pair, called directly (ms). */
  directPair: Summary;
  /** DescribeListeners + ModifyListener + DescribeListeners, the calls restoreActions makes (ms). */
  directTriple: Summary;
  /** Median rollback latency / median direct pair. */
  ratioToPair: number | null;
  ratioToTriple: number | null;
}

async function describeDefault(ctx: BenchContext, seeded: SeededAlb): Promise<Action[]> {
  const out = await ctx.aws.elbv2.send(new DescribeListenersCommand({ ListenerArns: [seeded.listenerArn] }));
  return out.Listeners?.[0]?.DefaultActions ?? [];
}

/** Times `n` direct pairs and triples; each writes the listener's current actions back (a real write in moto). */
async function directCalls(ctx: BenchContext, seeded: SeededAlb, n: number): Promise<{ pairs: number[]; triples: number[] }> {
  const current = await describeDefault(ctx, seeded);
  const pairs: number[] = [];
  const triples: number[] = [];
  for (let i = 0; i < n; i++) {
    let t0 = performance.now();
    await ctx.aws.elbv2.send(new ModifyListenerCommand({ ListenerArn: seeded.listenerArn, DefaultActions: current }));
    await ctx.aws.elbv2.send(new DescribeListenersCommand({ ListenerArns: [seeded.listenerArn] }));
    pairs.push(performance.now() - t0);
    t0 = performance.now();
    await ctx.aws.elbv2.send(new DescribeListenersCommand({ ListenerArns: [seeded.listenerArn] }));
    await ctx.aws.elbv2.send(new ModifyListenerCommand({ ListenerArn: seeded.listenerArn, DefaultActions: current }));
    await ctx.aws.elbv2.send(new DescribeListenersCommand({ ListenerArns: [seeded.listenerArn] }));
    triples.push(performance.now() - t0);
  }
  return { pairs, triples };
}

async function oneRollback(ctx: BenchContext, seeded: SeededAlb, service: string, rep: number): Promise<RollbackRep> {
  const before = JSON.stringify(await describeDefault(ctx, seeded));
  const spec = benchSpec(seeded, service, `rb${rep}`, {
    // The pause lets the bench publish the canary's 5xx before the analysis step reads them.
    steps: [{ setWeight: 20 }, { pause: {} }, { analysis: { template: 'errors' } }, { setWeight: 100 }],
    analysis: { errors: errorRateTemplate({ max: 0.05, periodSeconds: 1, window: '2s', delay: '1s', count: 1 }) },
  });
  const handle = await startRelease(ctx.client, spec, { taskQueue: ctx.taskQueue });
  const paused = await pollUntil<ReleaseStatus>(
    'the pause gate',
    async () => {
      const s = await handle.query(statusQuery);
      return s.gate?.kind === 'pause' ? s : undefined;
    },
    60_000,
  );
  const canaryArn = paused.targetGroups.find((t) => t.role === 'canary')?.arn ?? '';
  // Into the buckets after the canary's traffic began: the ones the analysis step's windows judge.
  await publishAfterTraffic(
    ctx.aws,
    { targetGroup: targetGroupDimension(canaryArn), loadBalancer: loadBalancerDimension(seeded.listenerArn) },
    200,
    40,
    paused.trafficSince,
  );
  await actions.resume(ctx.client, handle.workflowId, { by: 'bench' });
  const result = await handle.result();
  const after = JSON.stringify(await describeDefault(ctx, seeded));

  const h = await loadHistory(ctx.client, handle.workflowId, handle.firstExecutionRunId);
  const acts = activityExecutions(h.events);
  const analysis = acts.find((a) => a.type === 'runAnalysis' && a.outcome === 'completed');
  const restore = acts.find((a) => a.type === 'restoreActions' && a.outcome === 'completed');
  if (!analysis?.closedMs || !restore?.closedMs || restore.startedMs === undefined) {
    throw new Error(`bench: ${handle.workflowId} ended ${result.outcome} without a completed runAnalysis and restoreActions in its history (${result.reason})`);
  }
  return {
    workflowId: handle.workflowId,
    latencyMs: restore.closedMs - analysis.closedMs,
    decideMs: restore.scheduledMs - analysis.closedMs,
    dispatchMs: restore.startedMs - restore.scheduledMs,
    restoreMs: restore.closedMs - restore.startedMs,
    outcome: result.outcome,
    restoredExactly: before === after,
  };
}

export async function measureRollback(ctx: BenchContext, opts: { reps: number; directPerRep: number }): Promise<RollbackResult> {
  const { service, seeded } = await seedService(ctx.aws, 'rb');
  const reps: RollbackRep[] = [];
  const pairs: number[] = [];
  const triples: number[] = [];
  // Warm the HTTP connections and moto's code paths before timing anything.
  await directCalls(ctx, seeded, 3);
  for (let i = 1; i <= opts.reps; i++) {
    const direct = await directCalls(ctx, seeded, opts.directPerRep);
    pairs.push(...direct.pairs);
    triples.push(...direct.triples);
    const rep = await oneRollback(ctx, seeded, service, i);
    reps.push(rep);
    ctx.log(
      `[rollback] rep ${i}/${opts.reps}: fail→verified stable ${rep.latencyMs.toFixed(1)} ms ` +
        `(decide ${rep.decideMs.toFixed(1)}, dispatch ${rep.dispatchMs.toFixed(1)}, restore ${rep.restoreMs.toFixed(1)}); ` +
        `direct pair median so far ${median(pairs)?.toFixed(1)} ms; outcome ${rep.outcome}, listener restored exactly: ${rep.restoredExactly}`,
    );
  }
  const latency = summarize(reps.map((r) => r.latencyMs));
  const directPair = summarize(pairs);
  const directTriple = summarize(triples);
  return {
    reps,
    latency,
    decide: summarize(reps.map((r) => r.decideMs)),
    dispatch: summarize(reps.map((r) => r.dispatchMs)),
    restore: summarize(reps.map((r) => r.restoreMs)),
    directPair,
    directTriple,
    ratioToPair: ratio(latency.median, directPair.median),
    ratioToTriple: ratio(latency.median, directTriple.median),
  };
}
