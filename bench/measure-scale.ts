/**
 * 5. Scale on one worker: N concurrent releases with short timers, each on its own listener, run by one worker
 * process. Completion within a deadline, workflow task latency and activity schedule-to-start from the
 * histories, worker RSS sampled, CPU per process of the stack read from /proc, moto's request count from its log.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fork, type ChildProcess } from 'node:child_process';
import { startRelease } from '../client/release-client';
import { ELB_DESCRIBE_LIMIT, startFaultProxy, type FaultProxy } from '../dev/fault-proxy';
import { ReleasePhase } from '../common/search-attributes';
import { elapsed, mapLimit, sleep, type BenchContext } from './context';
import {
  activityExecutions,
  eventTypeCounts,
  loadHistory,
  runSpan,
  timeBreakdown,
  workflowTaskLatencies,
  workflowTaskLatenciesByQueue,
  workflowTaskTimeouts,
  type RunHistory,
  type TimeBreakdown,
} from './history';
import { cpuSnapshot, cpuUsage, type CpuUsage } from './proc-sampler';
import { ScalePool } from './scale-pool';
import type { ScaleWorkerConfig, WorkerMessage, WorkerSample } from './scale-worker';
import { benchSpec } from './specs';
import { formatBytes, mean, median, percentile, summarize, type Summary } from './stats';

export interface ScaleOptions {
  sizes: number[];
  /** Deadline from the first start, per phase size. */
  deadlineMs: (n: number) => number;
  pauseMs: number;
  startConcurrency: number;
  /**
   * The worker's AWS calls go through a proxy with ELB's documented account limit on Describe* (40 at once, 10/s)
   * and use the SDK's retries, as on a real account; without it, straight to moto, one attempt per call.
   */
  elbLimits?: boolean;
  /** With elbLimits: the worker's own pacing of its Describe calls per second (CANARY_ELB_DESCRIBE_RATE); 0: none. */
  elbPace?: number;
}

export interface ScalePhase {
  releases: number;
  seed: { seeded: number; ms: number; calls: number };
  deadlineMs: number;
  /** Sum of the configured pauses of one release (the floor of its duration). */
  idealBakeMs: number;
  /** First start call → last start call answered. */
  startSpreadMs: number;
  startCallMs: Summary;
  completedInDeadline: number;
  completionRate: number;
  /** Final state per workflow status / release phase, e.g. `Completed/Succeeded: 500`. */
  outcomes: Record<string, number>;
  /** First start → last close, ms (null when some never closed). */
  allClosedMs: number | null;
  /** Releases closed per second over allClosedMs. */
  throughputPerSec: number | null;
  releaseDurationMs: Summary;
  workflowTaskLatencyMs: Summary;
  /** Tasks on the worker's sticky queue (cached workflows) and on the task queue (first tasks, after timeouts). */
  workflowTaskLatencyStickyMs: Summary;
  workflowTaskLatencyNormalMs: Summary;
  workflowTaskTimeoutsByType: Record<string, number>;
  /** First attempts only; retried ones are counted in `retriedActivities`. */
  activityScheduleToStartMs: Summary;
  activityRunMs: Summary;
  activities: number;
  retriedActivities: number;
  /** Distinct reasons the earlier attempts of retried activities failed (activity type: message). */
  retryReasons: string[];
  /** The median release took ≥ 3× its pauses: releases queue for shared resources, so throughput is the figure. */
  queueing: boolean;
  workflowTaskTimeouts: number;
  workflowTaskFailures: number;
  eventsPerRelease: Summary;
  /** Median per release of where its time went (the parts add up to about its duration). */
  timePerRelease: TimeBreakdown;
  /** CPU seconds per release, per process of the stack (phase CPU / releases). */
  cpuSecondsPerRelease: { moto: number; temporal: number; worker: number; bench: number; total: number };
  /** Releases/s if CPU were the only limit: cores left by other processes / CPU seconds per release. */
  cpuCeilingPerSec: number | null;
  /** moto CPU per request it logged, ms. */
  motoCpuMsPerRequest: number | null;
  worker: {
    rssBeforeBytes: number | null;
    rssMaxBytes: number | null;
    rssMeanBytes: number | null;
    rssEndBytes: number | null;
    heapMaxBytes: number | null;
    maxInFlightActivities: number;
    maxInFlightActivations: number;
    maxCachedWorkflows: number;
    samples: number;
  };
  cpu: CpuUsage;
  /** Requests moto logged during the phase, and how many it answered with a 5xx. */
  moto: { requests: number | null; serverErrors: number | null; raceErrors: number | null; perSecond: number | null };
  loadAvgAtStart: number[];
  /** Where the limit showed, derived from the figures above. */
  hints: string[];
}

export interface ScaleResult {
  workerOptions: ScaleWorkerConfig['options'];
  /** AWS SDK default sockets per host in the worker's HTTP agent. */
  sdkMaxSockets: number;
  seedTotal: { services: number; ms: number; calls: number; perServiceMs: number; layout: string };
  phases: ScalePhase[];
  sdkSocketWarnings: number;
  /** With ScaleOptions.elbLimits: the bucket, and the requests answered `Throttling` for it, per action. */
  elbLimits?: { bucket: string; limited: Record<string, number>; requests: number; pace: number; byAction: Record<string, number> };
}

const workerOptions: ScaleWorkerConfig['options'] = {
  maxConcurrentWorkflowTaskExecutions: 40,
  maxConcurrentActivityTaskExecutions: 100,
  maxCachedWorkflows: 1000,
  workflowTaskPollerBehavior: { type: 'simple-maximum', maximum: 10 },
  activityTaskPollerBehavior: { type: 'simple-maximum', maximum: 10 },
};

interface WorkerProcess {
  child: ChildProcess;
  samples: WorkerSample[];
  stderrTail(): string;
  socketWarnings(): number;
  stop(): Promise<void>;
}

async function startScaleWorker(ctx: BenchContext, taskQueue: string, limited?: FaultProxy, pace?: number): Promise<WorkerProcess> {
  const cfg: ScaleWorkerConfig = {
    address: ctx.stack.temporal.address,
    motoEndpoint: limited?.endpoint ?? ctx.stack.moto.endpoint,
    sdkRetries: limited !== undefined,
    elbDescribeRate: pace,
    taskQueue,
    bundlePath: ctx.bundlePath,
    sampleMs: 500,
    options: workerOptions,
  };
  const child = fork(path.join(__dirname, 'scale-worker.ts'), [JSON.stringify(cfg)], {
    execArgv: ['-r', 'ts-node/register/transpile-only'],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  const samples: WorkerSample[] = [];
  let stderr = '';
  let warnings = 0;
  const onOutput = (d: string): void => {
    warnings += (d.match(/socket usage at capacity/g) ?? []).length;
    stderr = (stderr + d).slice(-4000);
  };
  child.stdout?.setEncoding('utf8').on('data', onOutput);
  child.stderr?.setEncoding('utf8').on('data', onOutput);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.on('message', (m: WorkerMessage) => {
      if (m.kind === 'ready') resolve();
      else if (m.kind === 'sample') samples.push(m);
      else if (m.kind === 'error') reject(new Error(`scale worker failed: ${m.message}`));
    });
    void exited.then(() => reject(new Error(`scale worker exited before it was ready:\n${stderr}`)));
  });
  return {
    child,
    samples,
    stderrTail: () => stderr,
    socketWarnings: () => warnings,
    async stop() {
      if (child.exitCode === null) child.send({ kind: 'shutdown' });
      const timeout = sleep(20_000).then(() => child.kill('SIGKILL'));
      await Promise.race([exited, timeout]);
    },
  };
}

function countMotoRequests(logFile: string, fromByte: number): { requests: number; serverErrors: number; raceErrors: number; size: number } {
  const size = fs.statSync(logFile).size;
  const fd = fs.openSync(logFile, 'r');
  try {
    const buf = Buffer.alloc(Math.max(0, size - fromByte));
    fs.readSync(fd, buf, 0, buf.length, fromByte);
    // werkzeug colours the request line of non-200 answers with ANSI escapes.
    // eslint-disable-next-line no-control-regex -- the escape character is exactly what is being removed
    const text = buf.toString('utf8').replace(/\x1b\[[0-9;]*m/g, '');
    return {
      requests: (text.match(/"(?:POST|GET) [^"]*HTTP\/1\.[01]" \d{3}/g) ?? []).length,
      serverErrors: (text.match(/"(?:POST|GET) [^"]*HTTP\/1\.[01]" 5\d\d/g) ?? []).length,
      raceErrors: (text.match(/(?:mutated|changed size) during iteration/g) ?? []).length,
      size,
    };
  } finally {
    fs.closeSync(fd);
  }
}

function hintsFor(p: Omit<ScalePhase, 'hints'>): string[] {
  const h: string[] = [];
  const c = p.cpu.coresByGroup;
  if (c.moto >= 0.8) h.push(`moto used ${c.moto.toFixed(2)} cores: its server handles requests under one Python GIL, so ~1 core is its ceiling`);
  if (c.temporal >= 0.8) h.push(`the dev server used ${c.temporal.toFixed(2)} cores (persistence in SQLite, matching, timers)`);
  if (c.worker >= 0.8) h.push(`the worker used ${c.worker.toFixed(2)} cores (workflow activations run on one JS thread; activities share the event loop)`);
  if (!p.queueing)
    h.push(
      `releases did not queue (median ${((p.releaseDurationMs.median ?? 0) / 1000).toFixed(1)} s for ${p.idealBakeMs / 1000} s of pauses): latency-bound, not throughput-bound`,
    );
  if (p.queueing && p.cpu.cores > 0 && p.cpu.coresSystem >= 0.9 * p.cpu.cores) {
    h.push(
      `the machine was CPU-bound: ${p.cpu.coresSystem.toFixed(2)} of ${p.cpu.cores} cores busy (${p.cpu.coresForeign.toFixed(2)} by processes outside the bench)`,
    );
  }
  if (p.worker.maxInFlightActivities >= (workerOptions.maxConcurrentActivityTaskExecutions ?? 100))
    h.push(`all ${workerOptions.maxConcurrentActivityTaskExecutions} activity slots were taken at some point`);
  if (p.worker.maxInFlightActivations >= (workerOptions.maxConcurrentWorkflowTaskExecutions ?? 40))
    h.push(`all ${workerOptions.maxConcurrentWorkflowTaskExecutions} workflow task slots were taken at some point`);
  // Only a phase whose releases queue is limited by throughput; otherwise other processes take the CPU left idle.
  if (p.queueing && p.throughputPerSec !== null && p.cpuCeilingPerSec !== null && p.throughputPerSec >= 0.75 * p.cpuCeilingPerSec) {
    h.push(
      `throughput ${p.throughputPerSec.toFixed(2)} releases/s is at ${Math.round((100 * p.throughputPerSec) / p.cpuCeilingPerSec)}% of the CPU ceiling ` +
        `(${p.cpuCeilingPerSec.toFixed(2)}/s = cores left by other processes / ${p.cpuSecondsPerRelease.total.toFixed(2)} CPU s per release)`,
    );
  }
  const t = p.timePerRelease;
  const parts: [string, number][] = [
    ['waiting for workflow tasks', t.wftWaitMs],
    ['running workflow tasks', t.wftRunMs],
    ['in activities (AWS calls to moto)', t.activityRunMs],
    ['queued activities', t.activityQueueMs],
  ];
  const [name, ms] = parts.sort((a, b) => b[1] - a[1])[0] as [string, number];
  if (ms > t.timerMs) h.push(`a median release spent more time ${name} (${(ms / 1000).toFixed(1)} s) than in its pauses (${(t.timerMs / 1000).toFixed(1)} s)`);
  const normal = p.workflowTaskLatencyNormalMs.median;
  const sticky = p.workflowTaskLatencyStickyMs.median;
  if (p.queueing && normal !== null && sticky !== null && normal > 5 * sticky) {
    h.push(
      `first workflow tasks waited ${(normal / 1000).toFixed(1)} s (median, task queue) against ${(sticky / 1000).toFixed(1)} s for tasks of running releases (sticky queue): ` +
        'started releases queue for admission while the worker serves the ones it already runs (with nonStickyToStickyPollRatio 0.2 about 2 of the 10 workflow pollers poll the task queue)',
    );
  }
  if (p.workflowTaskTimeouts > 0) {
    h.push(
      `${p.workflowTaskTimeouts} workflow task(s) timed out (${Object.entries(p.workflowTaskTimeoutsByType)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}; ` + 'a sticky task not picked up within 10 s goes back to the task queue, and the next worker to take it replays the history)',
    );
  }
  if (p.moto.serverErrors) {
    h.push(
      `moto answered ${p.moto.serverErrors} request(s) with HTTP 500, ${p.moto.raceErrors ?? 0} of them "dict mutated/changed size during iteration": ` +
        'its stores have no locks, and concurrent releases mutate them at once; the activity retries absorbed them',
    );
  }
  if (p.retriedActivities > 0) h.push(`${p.retriedActivities} activit(y/ies) needed more than one attempt: ${p.retryReasons.join(' | ')}`);
  return h;
}

async function runPhase(ctx: BenchContext, pool: ScalePool, worker: WorkerProcess, n: number, opts: ScaleOptions, taskQueue: string): Promise<ScalePhase> {
  const seed = await pool.ensure(n);
  if (seed.seeded > 0) ctx.log(`[scale ${n}] seeded ${seed.seeded} services in ${(seed.ms / 1000).toFixed(1)}s (${seed.calls} AWS calls, one at a time)`);
  const services = pool.clean().slice(0, n);
  const version = `sc${n}`;
  const deadlineMs = opts.deadlineMs(n);
  const loadAvgAtStart = os.loadavg();
  const motoFrom = fs.statSync(ctx.stack.moto.logFile).size;
  const cpu0 = cpuSnapshot(worker.child.pid);
  const t0 = Date.now();
  const rssBefore = worker.samples[worker.samples.length - 1]?.rss ?? null;
  const startCalls: number[] = [];
  ctx.log(
    `[scale ${n}] starting ${n} releases (${opts.startConcurrency} start calls in flight), deadline ${deadlineMs / 1000}s; load average ${loadAvgAtStart.map((l) => l.toFixed(2)).join(' ')}`,
  );
  const handles = await mapLimit(services, opts.startConcurrency, async (s) => {
    const spec = benchSpec(s.seeded, s.service, version, {
      steps: [
        { setWeight: 20 },
        { pause: { duration: `${opts.pauseMs}ms` } },
        { setWeight: 50 },
        { pause: { duration: `${opts.pauseMs}ms` } },
        { setWeight: 100 },
      ],
      // The seeded groups keep AWS's default 300 s deregistration delay; this part measures the platform, not the
      // drain of the previous stable group before it is deleted, so it caps the drain and the settle like the tests.
      environment: { canaryTargets: [{ id: '10.0.0.21', port: 8080 }], healthyTimeout: '60s', settle: '200ms', drainCap: '1s' },
    });
    const t = performance.now();
    const handle = await startRelease(ctx.client, spec, { taskQueue });
    startCalls.push(performance.now() - t);
    return handle;
  });
  const startSpreadMs = Date.now() - t0;
  const query = `ReleaseVersion = "${version}"`;
  const closedCount = async (): Promise<number> => (await ctx.client.workflow.count(`${query} AND ExecutionStatus != "Running"`)).count;

  let closed = 0;
  let lastLog = 0;
  // Past the deadline the phase still waits up to 2 minutes for stragglers: on a CPU-bound machine a slow stack still
  // closes every release, and only then is there a throughput (releases/s) to report; a stuck one is cancelled.
  const graceMs = 120_000;
  while (Date.now() - t0 < deadlineMs + graceMs) {
    closed = await closedCount().catch(() => closed);
    if (closed >= n) break;
    if (Date.now() - lastLog >= 5_000) {
      lastLog = Date.now();
      const s = worker.samples[worker.samples.length - 1];
      ctx.log(
        `[scale ${n}] ${elapsed(t0)}: ${closed}/${n} closed` +
          (s
            ? `; worker rss ${formatBytes(s.rss)}, ${s.inFlightActivities} activities and ${s.inFlightActivations} workflow activations in flight, ${s.cachedWorkflows} cached`
            : '') +
          (Date.now() - t0 > deadlineMs ? ' (past the deadline, waiting for stragglers)' : ''),
      );
    }
    await sleep(1_000);
  }
  const cpu1 = cpuSnapshot(worker.child.pid);
  const moto = countMotoRequests(ctx.stack.moto.logFile, motoFrom);
  if (closed < n) {
    ctx.log(`[scale ${n}] ${n - closed} release(s) still running after deadline + grace: cancelling them (they roll back)`);
    await mapLimit(handles, 20, (h) => h.cancel().catch(() => undefined));
    const until = Date.now() + 60_000;
    while (Date.now() < until && (await closedCount().catch(() => 0)) < n) await sleep(1_000);
    await mapLimit(handles, 20, (h) => h.terminate('bench: still running after cancellation').catch(() => undefined));
  }

  // Final states from visibility, figures from the histories.
  const infos: { workflowId: string; runId: string; status: string; phase: string; closeMs?: number }[] = [];
  for await (const info of ctx.client.workflow.list({ query })) {
    infos.push({
      workflowId: info.workflowId,
      runId: info.runId,
      status: info.status.name,
      phase: String(info.typedSearchAttributes.get(ReleasePhase) ?? '?'),
      closeMs: info.closeTime?.getTime(),
    });
  }
  const outcomes: Record<string, number> = {};
  for (const i of infos) outcomes[`${i.status}/${i.phase}`] = (outcomes[`${i.status}/${i.phase}`] ?? 0) + 1;
  for (const s of services) {
    const i = infos.find((x) => x.workflowId === `release-${s.service}`);
    if (!i || !['Succeeded', 'RolledBack'].includes(i.phase) || i.status === 'TERMINATED') s.dirty = true;
  }
  ctx.log(`[scale ${n}] reading ${infos.length} histories...`);
  const histories: RunHistory[] = await mapLimit(infos, 8, (i) => loadHistory(ctx.client, i.workflowId, i.runId));
  const wft: number[] = [];
  const wftSticky: number[] = [];
  const wftNormal: number[] = [];
  const timeoutsByType: Record<string, number> = {};
  const s2s: number[] = [];
  const run: number[] = [];
  const durations: number[] = [];
  let activities = 0;
  let retried = 0;
  const retryReasons = new Set<string>();
  let wftTimeouts = 0;
  let wftFailures = 0;
  let inDeadline = 0;
  let lastClose = 0;
  const breakdowns: TimeBreakdown[] = [];
  for (const h of histories) {
    breakdowns.push(timeBreakdown(h.events));
    wft.push(...workflowTaskLatencies(h.events));
    const byQueue = workflowTaskLatenciesByQueue(h.events);
    wftSticky.push(...byQueue.sticky);
    wftNormal.push(...byQueue.normal);
    for (const [k, v] of Object.entries(workflowTaskTimeouts(h.events))) timeoutsByType[k] = (timeoutsByType[k] ?? 0) + v;
    for (const a of activityExecutions(h.events)) {
      activities++;
      if ((a.attempt ?? 1) > 1) {
        retried++;
        retryReasons.add(`${a.type}: ${a.lastFailure ?? 'no failure recorded'}`);
      } else if (a.startedMs !== undefined) s2s.push(a.startedMs - a.scheduledMs);
      if (a.startedMs !== undefined && a.closedMs !== undefined) run.push(a.closedMs - a.startedMs);
    }
    const types = eventTypeCounts(h.events);
    wftTimeouts += types.WorkflowTaskTimedOut ?? 0;
    wftFailures += types.WorkflowTaskFailed ?? 0;
    const span = runSpan(h.events);
    if (span.closeMs !== undefined) {
      durations.push(span.closeMs - span.startMs);
      lastClose = Math.max(lastClose, span.closeMs);
      const completed = h.events[h.events.length - 1]?.workflowExecutionCompletedEventAttributes;
      const phase = infos.find((i) => i.workflowId === h.workflowId)?.phase;
      if (completed && phase === 'Succeeded' && span.closeMs - t0 <= deadlineMs) inDeadline++;
    }
  }
  const allClosed = closed >= n && lastClose > 0;
  const samples = worker.samples.filter((s) => s.atMs >= t0 && s.atMs <= cpu1.atMs);
  const rss = samples.map((s) => s.rss);
  const cpu = cpuUsage(cpu0, cpu1);
  const cpuSec = (cores: number): number => (cores * cpu.wallSeconds) / n;
  const g = cpu.coresByGroup;
  const cpuSecondsPerRelease = {
    moto: cpuSec(g.moto),
    temporal: cpuSec(g.temporal),
    worker: cpuSec(g.worker),
    bench: cpuSec(g.bench),
    total: cpuSec(g.moto + g.temporal + g.worker + g.bench + g.other),
  };
  const pick = (k: keyof TimeBreakdown): number => median(breakdowns.map((b) => b[k])) ?? 0;
  const phase: Omit<ScalePhase, 'hints'> = {
    releases: n,
    seed,
    deadlineMs,
    idealBakeMs: 2 * opts.pauseMs,
    startSpreadMs,
    startCallMs: summarize(startCalls),
    completedInDeadline: inDeadline,
    completionRate: inDeadline / n,
    outcomes,
    allClosedMs: allClosed ? lastClose - t0 : null,
    throughputPerSec: allClosed ? n / ((lastClose - t0) / 1000) : null,
    releaseDurationMs: summarize(durations),
    workflowTaskLatencyMs: summarize(wft),
    workflowTaskLatencyStickyMs: summarize(wftSticky),
    workflowTaskLatencyNormalMs: summarize(wftNormal),
    workflowTaskTimeoutsByType: timeoutsByType,
    activityScheduleToStartMs: summarize(s2s),
    activityRunMs: summarize(run),
    activities,
    retriedActivities: retried,
    retryReasons: [...retryReasons].slice(0, 5),
    queueing: (median(durations) ?? 0) >= 3 * 2 * opts.pauseMs,
    workflowTaskTimeouts: wftTimeouts,
    workflowTaskFailures: wftFailures,
    eventsPerRelease: summarize(histories.map((h) => h.events.length)),
    timePerRelease: {
      wftWaitMs: pick('wftWaitMs'),
      wftRunMs: pick('wftRunMs'),
      activityQueueMs: pick('activityQueueMs'),
      activityRunMs: pick('activityRunMs'),
      timerMs: pick('timerMs'),
    },
    cpuSecondsPerRelease,
    cpuCeilingPerSec: cpu.cores > 0 && cpuSecondsPerRelease.total > 0 ? Math.max(0, cpu.cores - cpu.coresForeign) / cpuSecondsPerRelease.total : null,
    motoCpuMsPerRequest: moto.requests > 0 ? ((g.moto * cpu.wallSeconds) / moto.requests) * 1000 : null,
    worker: {
      rssBeforeBytes: rssBefore,
      rssMaxBytes: rss.length ? Math.max(...rss) : null,
      rssMeanBytes: mean(rss),
      rssEndBytes: rss.length ? (rss[rss.length - 1] as number) : null,
      heapMaxBytes: samples.length ? Math.max(...samples.map((s) => s.heapUsed)) : null,
      maxInFlightActivities: Math.max(0, ...samples.map((s) => s.inFlightActivities)),
      maxInFlightActivations: Math.max(0, ...samples.map((s) => s.inFlightActivations)),
      maxCachedWorkflows: Math.max(0, ...samples.map((s) => s.cachedWorkflows)),
      samples: samples.length,
    },
    cpu,
    moto: {
      requests: moto.requests,
      serverErrors: moto.serverErrors,
      raceErrors: moto.raceErrors,
      perSecond: moto.requests / Math.max(1e-3, (cpu1.atMs - t0) / 1000),
    },
    loadAvgAtStart,
  };
  const result: ScalePhase = { ...phase, hints: hintsFor(phase) };
  const c = result.cpu.coresByGroup;
  ctx.log(
    `[scale ${n}] ${inDeadline}/${n} promoted within ${deadlineMs / 1000}s; all closed after ${result.allClosedMs === null ? '-' : `${(result.allClosedMs / 1000).toFixed(1)}s`}; ` +
      `release p50/p90 ${((result.releaseDurationMs.median ?? 0) / 1000).toFixed(1)}/${((result.releaseDurationMs.p90 ?? 0) / 1000).toFixed(1)}s (bake ${(2 * opts.pauseMs) / 1000}s); WFT latency p50/p99 ${percentile(wft, 50)?.toFixed(0)}/${percentile(wft, 99)?.toFixed(0)} ms; ` +
      `activity schedule-to-start p50/p99 ${percentile(s2s, 50)?.toFixed(0)}/${percentile(s2s, 99)?.toFixed(0)} ms; cores: moto ${c.moto.toFixed(2)}, temporal ${c.temporal.toFixed(2)}, worker ${c.worker.toFixed(2)}, bench ${c.bench.toFixed(2)}, others ${result.cpu.coresForeign.toFixed(2)}`,
  );
  return result;
}

export async function measureScale(ctx: BenchContext, opts: ScaleOptions): Promise<ScaleResult> {
  const taskQueue = `bench-scale-${process.pid}`;
  const pool = new ScalePool(ctx.aws, ctx.log);
  const limited = opts.elbLimits ? await startFaultProxy({ target: ctx.stack.moto.endpoint, limits: [ELB_DESCRIBE_LIMIT] }) : undefined;
  const bucket = `Describe* ${ELB_DESCRIBE_LIMIT.capacity} at once, ${ELB_DESCRIBE_LIMIT.refillPerSecond}/s per account`;
  const pace = limited ? (opts.elbPace ?? 0) : undefined;
  const paced = pace ? `, the worker pacing its Describe calls at ${pace}/s` : ', the worker not pacing itself';
  ctx.log(
    `[scale] starting the scale worker process (${JSON.stringify(workerOptions)})${limited ? `; its AWS calls limited: ${bucket}, SDK retries on${paced}` : ''}`,
  );
  const worker = await startScaleWorker(ctx, taskQueue, limited, pace);
  while (worker.samples.length === 0) await sleep(100);
  const phases: ScalePhase[] = [];
  try {
    for (const n of opts.sizes) phases.push(await runPhase(ctx, pool, worker, n, opts, taskQueue));
  } finally {
    await worker.stop();
  }
  const limits = limited?.stats();
  await limited?.stop();
  const services = pool.services.length;
  return {
    workerOptions,
    sdkMaxSockets: 50,
    seedTotal: {
      services,
      ms: pool.seedMs,
      calls: pool.calls,
      perServiceMs: services ? pool.seedMs / services : 0,
      layout: `1 VPC, ${Math.ceil(services / 50)} ALB(s) with up to 50 listeners each, 1 stable target group per listener; sequential calls`,
    },
    phases,
    sdkSocketWarnings: worker.socketWarnings(),
    ...(limits
      ? {
          elbLimits: {
            bucket,
            limited: limits.limited,
            requests: limits.requests,
            pace: pace ?? 0,
            byAction: Object.fromEntries(Object.entries(limits.byAction).map(([a, v]) => [a, v.requests])),
          },
        }
      : {}),
  };
}
