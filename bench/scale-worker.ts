/**
 * The worker of the scale runs, as its own process (forked by measure-scale.ts) so that its RSS and CPU are its
 * own and not the bench client's. Reports samples over IPC; stops on a `shutdown` message or when the bench goes.
 */
import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createAwsClients, motoClients } from '../activities/aws-clients';

export interface ScaleWorkerConfig {
  address: string;
  motoEndpoint: string;
  /** The SDK's own retries (3 attempts, as a production worker has) instead of one attempt per call. */
  sdkRetries?: boolean;
  /** ELB Describe calls per second the worker allows itself (CANARY_ELB_DESCRIBE_RATE); absent or 0: not paced. */
  elbDescribeRate?: number;
  taskQueue: string;
  bundlePath: string;
  sampleMs: number;
  options: Pick<
    WorkerOptions,
    | 'maxConcurrentWorkflowTaskExecutions'
    | 'maxConcurrentActivityTaskExecutions'
    | 'maxCachedWorkflows'
    | 'workflowTaskPollerBehavior'
    | 'activityTaskPollerBehavior'
  >;
}

export interface WorkerSample {
  kind: 'sample';
  atMs: number;
  rss: number;
  heapUsed: number;
  inFlightActivations: number;
  inFlightActivities: number;
  cachedWorkflows: number;
}

export type WorkerMessage = { kind: 'ready' } | WorkerSample | { kind: 'error'; message: string };

function send(m: WorkerMessage): void {
  process.send?.(m);
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as ScaleWorkerConfig;
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address: cfg.address });
  const aws = cfg.sdkRetries
    ? createAwsClients({
        region: 'us-east-1',
        endpoint: cfg.motoEndpoint,
        accessKeyId: 'testing',
        secretAccessKey: 'testing',
        elbDescribeRate: cfg.elbDescribeRate,
      })
    : motoClients(cfg.motoEndpoint);
  const worker = await Worker.create({
    connection,
    taskQueue: cfg.taskQueue,
    workflowBundle: { codePath: cfg.bundlePath },
    activities: createActivities(aws),
    ...cfg.options,
  });
  const running = worker.run();
  const stop = (): void => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
  };
  process.on('message', (m: { kind?: string }) => {
    if (m?.kind === 'shutdown') stop();
  });
  process.on('disconnect', stop);
  const timer = setInterval(() => {
    const st = worker.getStatus();
    const mem = process.memoryUsage();
    send({
      kind: 'sample',
      atMs: Date.now(),
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      inFlightActivations: st.numInFlightWorkflowActivations,
      inFlightActivities: st.numInFlightActivities,
      cachedWorkflows: st.numCachedWorkflows,
    });
  }, cfg.sampleMs);
  send({ kind: 'ready' });
  try {
    await running;
  } finally {
    clearInterval(timer);
    await connection.close();
    aws.destroy();
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    send({ kind: 'error', message: err.stack ?? err.message });
    process.exit(1);
  },
);
