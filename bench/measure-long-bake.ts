/**
 * 7. A long bake under continue-as-new: a 7-day pause at weight 10 with background analysis every minute
 * (`interval 1m`, `reportEvery 1m`) and the default `historyEventLimit`, run on Temporal's time-skipping test server
 * with the activities replaced at the contract boundary (test/support/fake-alb.ts): each background batch measures
 * for its minute on the server's clock, so the history grows as a real bake's does, a week in a few minutes of wall
 * time. Figures: runs, events per run (against the 10,240 warning and the 51,200 limit), events per batch, runs per week.
 * Needs no local stack: `npm run bench -- --only longbake`.
 */
import type { Client } from '@temporalio/client';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import { DEFAULT_HISTORY_EVENT_LIMIT, RELEASE_WORKFLOW, releaseWorkflowId, type ReleaseWorkflow } from '../common/messages';
import { trafficRefs, type TrafficRef } from '../common/forward';
import { parseReleaseSpec } from '../common/spec';
import type { ReleaseResult } from '../common/status';
import { FakeAlb, routedActivities } from '../test/support/fake-alb';
import { openTimeSkippingServer, serverClock } from '../test/support/time-skipping-server';
import { historyLimits } from './measure-history';
import { errorRateTemplate } from './specs';
import { formatCount } from './stats';

const DAY = 86_400_000;

export interface LongBakeResult {
  days: number;
  intervalMs: number;
  reportEveryMs: number;
  historyEventLimit: number;
  outcome: ReleaseResult['outcome'];
  runs: number;
  eventsPerRun: number[];
  maxEventsPerRun: number;
  totalEvents: number;
  batches: number;
  /** Events of the whole release per background batch (the handovers and the release's own events included). */
  eventsPerBatch: number;
  runsPerWeek: number;
  measurements: number;
  fractionOfWarnEvents: number;
  fractionOfMaxEvents: number;
  wallMs: number;
}

type Events = { eventType?: unknown; workflowExecutionContinuedAsNewEventAttributes?: { newExecutionRunId?: string | null } | null }[];

async function runsOf(client: Client, workflowId: string, firstRunId: string): Promise<number[]> {
  const counts: number[] = [];
  for (let runId: string | undefined = firstRunId; runId;) {
    const events: Events = (await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
    counts.push(events.length);
    runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return counts;
}

export async function measureLongBake(opts: { bundle: WorkflowBundle; days: number; log(line: string): void }): Promise<LongBakeResult> {
  const env = await openTimeSkippingServer();
  const fakes = new Map<string, FakeAlb>();
  const taskQueue = `bench-long-bake-${process.pid}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: opts.bundle,
    activities: routedActivities(fakes),
    // The batch cancelled at promotion learns it from the SDK's heartbeat: within 50 ms, not 80% of the 60 s timeout.
    maxHeartbeatThrottleInterval: '50ms',
  });
  const running = worker.run();
  try {
    const service = `longbake-${process.pid}`;
    const spec = parseReleaseSpec({
      service,
      version: 'v2',
      region: 'us-east-1',
      initiator: 'bench',
      traffic: { listenerArn: `arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/${service}/50dc6c495c0c9188/f2f7dc8efc522ab2` },
      environment: { canaryTargets: [{ id: '10.0.1.17', port: 8080 }], healthyTimeout: '1m' },
      steps: [{ setWeight: 10 }, { pause: { duration: `${opts.days}d` } }, { setWeight: 100 }],
      backgroundAnalysis: { template: 'errors', interval: '1m', reportEvery: '1m' },
      // The fake answers the batches; the template is there for the spec to be valid.
      analysis: { errors: errorRateTemplate({ max: 0.05, periodSeconds: 60, window: '5m' }) },
      promotion: { keepPreviousFor: '0s' },
    });
    const fake = new FakeAlb(trafficRefs(spec.traffic)[0] as TrafficRef, { backgroundBatches: 'pass' });
    fake.clock = serverClock(env);
    const workflowId = releaseWorkflowId(service);
    fakes.set(workflowId, fake);
    opts.log(`[bench] longbake: a ${opts.days}-day bake at reportEvery 1m on the time-skipping server (about 30 s of wall time per day)...`);
    const t0 = Date.now();
    const handle = await env.client.workflow.start<ReleaseWorkflow>(RELEASE_WORKFLOW, { taskQueue, workflowId, args: [{ spec }] });
    const progress = setInterval(() => {
      void handle
        .describe()
        .then((d) => opts.log(`[bench] longbake: ${((Date.now() - t0) / 1000).toFixed(0)}s, run ${d.runId.slice(0, 8)} at ${d.historyLength} events`))
        .catch(() => undefined);
    }, 30_000);
    let result: ReleaseResult;
    try {
      // The time-skipping client lets the server's clock run while it waits for the result.
      result = await handle.result();
    } finally {
      clearInterval(progress);
    }
    const wallMs = Date.now() - t0;
    const eventsPerRun = await runsOf(env.client, workflowId, handle.firstExecutionRunId);
    const batches = fake.callsOf('runAnalysis').filter((c) => c.outcome === 'ok').length;
    const totalEvents = eventsPerRun.reduce((a, b) => a + b, 0);
    const maxEventsPerRun = Math.max(...eventsPerRun);
    const out: LongBakeResult = {
      days: opts.days,
      intervalMs: 60_000,
      reportEveryMs: 60_000,
      historyEventLimit: DEFAULT_HISTORY_EVENT_LIMIT,
      outcome: result.outcome,
      runs: eventsPerRun.length,
      eventsPerRun,
      maxEventsPerRun,
      totalEvents,
      batches,
      eventsPerBatch: totalEvents / Math.max(1, batches),
      runsPerWeek: (eventsPerRun.length * 7) / opts.days,
      measurements: batches,
      fractionOfWarnEvents: maxEventsPerRun / historyLimits.warnEvents,
      fractionOfMaxEvents: maxEventsPerRun / historyLimits.maxEvents,
      wallMs,
    };
    opts.log(
      `[bench] longbake: ${result.outcome} after ${(result.durationMs / DAY).toFixed(2)} days; ${out.runs} runs, events per run ${eventsPerRun.map(formatCount).join(', ')}; ` +
        `${formatCount(batches)} batches, ${out.eventsPerBatch.toFixed(2)} events per batch; ${(wallMs / 1000).toFixed(0)}s wall`,
    );
    return out;
  } finally {
    worker.shutdown();
    await running.catch(() => undefined);
    await env.teardown();
  }
}
