/**
 * The worker process: runs release workflows and their AWS activities on one task queue.
 *
 * Configuration comes from the environment (./config.ts). On SIGINT or SIGTERM the SDK Runtime stops polling and
 * gives in-flight activities CANARY_SHUTDOWN_GRACE to finish, so a rollback that is restoring the listener is
 * not cut off by a deploy of the worker itself; the process then exits 0. A failure to start (bad configuration,
 * server unreachable, unknown namespace) prints one line to stderr and exits 1.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NativeConnection, Runtime, Worker, type RuntimeOptions, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createAwsClients, type CallerIdentity } from '../activities/aws-clients';
import { histogramBuckets } from '../common/release-metrics';
import { packageVersion } from '../client/package-info';
import { SPEC_API_VERSIONS, workerIdentity } from '../common/versions';
import { DEFAULT_BUNDLE_PATH, WORKFLOW_INTERCEPTOR_MODULES, WORKFLOWS_PATH } from './build-bundle';
import { FORCE_AFTER_GRACE_MS, loadWorkerConfig, type WorkerConfig } from './config';
import { releaseLogContext, routeStrayOutput, workerLine, workerLogger, type LogFormat } from './log';

/**
 * Installs the process-wide SDK Runtime: logs at CANARY_LOG_LEVEL in CANARY_LOG_FORMAT (SDK Core's own logs and
 * workflow code's forwarded to the same logger; in JSON mode, what libraries print too) and a Prometheus exporter on
 * CANARY_METRICS_ADDRESS, with Temporal's metrics and the release metrics of common/release-metrics.ts. Call once,
 * before any connection is made.
 */
export function installRuntime(config: Pick<WorkerConfig, 'logLevel' | 'metricsAddress'> & { logFormat?: LogFormat }): Runtime {
  const telemetryOptions: RuntimeOptions['telemetryOptions'] = {
    logging: { filter: { core: config.logLevel }, forward: {} },
  };
  if (config.metricsAddress) {
    // Release histograms are in seconds; the SDK's default buckets are for milliseconds.
    telemetryOptions.metrics = { prometheus: { bindAddress: config.metricsAddress, histogramBucketOverrides: histogramBuckets() } };
  }
  const logger = workerLogger(config.logLevel, config.logFormat ?? 'text');
  if (config.logFormat === 'json') routeStrayOutput(logger);
  return Runtime.install({ logger, telemetryOptions });
}

/** Which workflow code the worker runs, and how to say so in the startup line. */
export interface WorkflowSource {
  options: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'>;
  description: string;
  /** Set when the default bundle is older than the workflow sources next to it. */
  staleWarning?: string;
}

/**
 * CANARY_WORKFLOW_BUNDLE, else a prebuilt dist/workflow-bundle.js (the Docker image has one), else bundle
 * workflows/ from source at start (slower, but never stale: the choice for `npm run worker` in a checkout).
 */
export function resolveWorkflowSource(config: Pick<WorkerConfig, 'workflowBundle'>): WorkflowSource {
  if (config.workflowBundle) {
    return { options: { workflowBundle: { codePath: config.workflowBundle } }, description: `bundle ${config.workflowBundle}` };
  }
  if (fs.existsSync(DEFAULT_BUNDLE_PATH)) {
    const newer = newestSource(fs.statSync(DEFAULT_BUNDLE_PATH).mtimeMs);
    return {
      options: { workflowBundle: { codePath: DEFAULT_BUNDLE_PATH } },
      description: `bundle ${path.relative(process.cwd(), DEFAULT_BUNDLE_PATH)}`,
      staleWarning: newer && `${DEFAULT_BUNDLE_PATH} is older than ${newer}: rebuild it (worker/build-bundle.ts) or delete it to bundle from source`,
    };
  }
  return { options: { workflowsPath: require.resolve(WORKFLOWS_PATH) }, description: 'bundled from source' };
}

// A checkout with an old dist/ would otherwise run yesterday's workflow code without a word.
function newestSource(sinceMs: number): string | undefined {
  for (const dir of [WORKFLOWS_PATH, path.resolve(WORKFLOWS_PATH, '..', 'common')]) {
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir)) {
      const file = path.join(dir, name);
      if (name.endsWith('.ts') && fs.statSync(file).mtimeMs > sinceMs) return path.relative(process.cwd(), file);
    }
  }
  return undefined;
}

/**
 * The one line the worker prints when it is polling; operators and tests wait for its first words. It ends with the
 * AWS identity the worker acts as (STS GetCallerIdentity), or why that could not be read.
 */
export function startupLine(config: WorkerConfig, workflows: WorkflowSource, identity?: CallerIdentity): string {
  const metrics = config.metricsAddress ? `http://${config.metricsAddress}/metrics` : 'off';
  return (
    `canary worker ready: task queue ${config.taskQueue}, namespace ${config.temporal.namespace}, ` +
    `server ${config.temporal.address}, metrics ${metrics}, workflows ${workflows.description}, ` +
    `approver keys ${config.approverKeys ? `held for ${Object.keys(config.approverKeys).join(', ')} (every release signed)` : 'from each spec'}` +
    (identity ? `, ${identityText(identity)}` : '')
  );
}

/** `AWS account 123456789012 (arn:...), region us-east-1`, or a plain statement that the identity is unknown and why. */
export function identityText(identity: CallerIdentity): string {
  if ('error' in identity) {
    return `AWS identity UNKNOWN: STS GetCallerIdentity failed (${identity.error}); region ${identity.region}; releases will fail until AWS accepts the worker's credentials`;
  }
  return `AWS account ${identity.account} as ${identity.arn}, region ${identity.region}`;
}

/** Hooks for callers that run the worker in-process (tests). */
export interface RunWorkerHooks {
  /** Called once the worker is polling, after the startup line is printed. */
  onReady?(worker: Worker): void;
}

/**
 * Connects to Temporal and runs the worker until a shutdown signal (or `worker.shutdown()`) has drained it.
 * Uses the installed Runtime (see {@link installRuntime}), or the SDK's default one.
 *
 * @throws Error naming the server and namespace when the worker cannot start; the worker's own error when it fails.
 */
export async function runWorker(config: WorkerConfig, hooks: RunWorkerHooks = {}): Promise<void> {
  const workflows = resolveWorkflowSource(config);
  if (workflows.staleWarning) Runtime.instance().logger.warn(workflows.staleWarning);
  const where = `Temporal at ${config.temporal.address} (namespace ${config.temporal.namespace})`;
  const connection = await NativeConnection.connect(config.temporal.connection).catch((err: unknown) => {
    throw new Error(`cannot connect to ${where}: ${oneLine(err)}`, { cause: err });
  });
  const aws = createAwsClients({ ...config.aws, elbDescribeRate: config.elbDescribeRate });
  const logger = Runtime.instance().logger;
  logger.info(`AWS credentials from ${config.credentials.source}`, { sdkComponent: 'worker' });
  if (config.credentials.warning) logger.warn(config.credentials.warning, { sdkComponent: 'worker' });
  // Asked while the worker is created: a slow or failing STS delays nothing and stops nothing.
  const identity = aws.identity();
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.taskQueue,
      // Build and spec versions, for `canary start` and `canary doctor` to read from DescribeTaskQueue's pollers.
      identity: workerIdentity({ build: packageVersion(__dirname), apiVersions: [...SPEC_API_VERSIONS] }, `${process.pid}@${os.hostname()}`),
      ...workflows.options,
      activities: createActivities({
        ...aws,
        webhooks: config.webhooks,
        notifyLinks: config.notifyLinks,
        approverKeys: config.approverKeys,
        ownershipTags: config.ownershipTags,
        timeScale: config.timeScale,
        hooks: config.hooks,
        sources: config.sources,
      }),
      // Activities' log lines name their release, step and phase (worker/log.ts).
      // Workflow code's too (workflows/release/log-context.ts): bundled here from source, built into a prebuilt bundle.
      interceptors: {
        activity: [releaseLogContext],
        ...(workflows.options.workflowsPath ? { workflowModules: WORKFLOW_INTERCEPTOR_MODULES.map((m) => require.resolve(m)) } : {}),
      },
      maxConcurrentActivityTaskExecutions: config.maxConcurrentActivities,
      ...(config.maxConcurrentWorkflowTasks !== undefined && { maxConcurrentWorkflowTaskExecutions: config.maxConcurrentWorkflowTasks }),
      ...(config.maxCachedWorkflows !== undefined && { maxCachedWorkflows: config.maxCachedWorkflows }),
      stickyQueueScheduleToStartTimeout: config.stickyQueueTimeoutMs,
      shutdownGraceTime: config.shutdownGraceMs,
      shutdownForceTime: config.shutdownGraceMs + FORCE_AFTER_GRACE_MS,
    }).catch((err: unknown) => {
      throw new Error(`cannot start a worker on ${where}: ${oneLine(err)}`, { cause: err });
    });
    const running = worker.run();
    const who = await identity;
    process.stdout.write(`${workerLine(config.logFormat, 'error' in who ? 'WARN' : 'INFO', startupLine(config, workflows, who), { aws: who })}\n`);
    hooks.onReady?.(worker);
    await running;
  } finally {
    aws.destroy();
    await connection.close();
  }
}

/** An error as one line: its message, then its causes' messages, newlines folded. */
export function oneLine(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e !== undefined && parts.length < 4; e = e instanceof Error ? e.cause : undefined) {
    const text = (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim();
    if (text && !parts.some((p) => p.includes(text))) parts.push(text);
  }
  return parts.join(': ');
}

/** The worker process (the `canary-worker` command, bin/canary-worker.js): runs until drained, then exits 0; exits 1 when it cannot start. */
export function main(): void {
  // Read before the configuration is: a configuration error is a line in the same format.
  const format: LogFormat = /^json$/i.test(process.env.CANARY_LOG_FORMAT?.trim() ?? '') ? 'json' : 'text';
  (async () => {
    const config = loadWorkerConfig();
    installRuntime(config);
    await runWorker(config);
  })().then(
    () => {
      process.stdout.write(`${workerLine(format, 'INFO', 'canary worker stopped')}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${workerLine(format, 'ERROR', `canary worker: ${oneLine(err)}`)}\n`);
      process.exit(1);
    },
  );
}

if (require.main === module) main();
