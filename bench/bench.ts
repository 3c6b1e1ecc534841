/**
 * `npm run bench`: rollback latency, detection-to-safety, orchestration overhead, history cost and scale on one
 * worker, measured side by side in one run on the embedded local stack (Temporal dev server + moto, headless).
 * Prints a table and writes bench/results/latest.json. Figures, not assertions.
 *
 *   npm run bench                          everything (about 15–20 minutes on 2 cores; longbake alone 5–10)
 *   npm run bench -- --quick               fewer repetitions, scale 10 and 100 only
 *   npm run bench -- --only rollback,scale a selection of: rollback, detection, overhead, history, scale, report, longbake, judge, validation
 *   npm run bench -- --only longbake       a 7-day bake under continue-as-new on the time-skipping server (no stack)
 *   npm run bench -- --sizes 10,50         scale phase sizes
 *   npm run bench -- --elb-limits          scale under ELB's account limit on Describe* (40 at once, 10/s)
 *   npm run bench -- --elb-limits --elb-pace 0   ... with the worker not pacing its own Describe calls (default: 8/s)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { Command } from 'commander';
import { createActivities } from '../activities';
import { motoClients } from '../activities/aws-clients';
import { startLocalStack } from '../dev/stack';
import type { BenchContext } from './context';
import { measureDetection } from './measure-detection';
import { measureHistory } from './measure-history';
import { measureJudge } from './measure-judge';
import { measureLongBake } from './measure-long-bake';
import { measureOverhead } from './measure-overhead';
import { measureRollback } from './measure-rollback';
import { measureReport } from './measure-report';
import { measureScale } from './measure-scale';
import { measureValidation } from './measure-validation';
import { cpuSnapshot, cpuUsage } from './proc-sampler';
import { renderReport, writeJson, type BenchResults } from './report';

const PARTS = ['rollback', 'detection', 'overhead', 'history', 'scale', 'report', 'longbake', 'judge', 'validation'] as const;
type Part = (typeof PARTS)[number];
/** Parts that bring their own server (or need none): the local stack starts only for the others. */
const STANDALONE: readonly Part[] = ['report', 'longbake', 'judge', 'validation'];

interface CliOptions {
  quick: boolean;
  bakeDays?: string;
  only?: string;
  sizes?: string;
  deadline?: string;
  elbLimits: boolean;
  elbPace: string;
  out: string;
}

function parseList(text: string, what: string): string[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new Error(`${what}: give a comma-separated list`);
  return items;
}

function parseArgs(): {
  quick: boolean;
  parts: Part[];
  sizes: number[];
  deadlineMs: (n: number) => number;
  elbLimits: boolean;
  elbPace: number;
  out: string;
  bakeDays: number;
} {
  const opts = new Command('bench')
    .description('Benchmarks of canary on the embedded local stack')
    .option('--quick', 'fewer repetitions; scale 10 and 100 only', false)
    .option('--only <parts>', `comma-separated: ${PARTS.join(', ')}`)
    .option('--bake-days <days>', 'longbake: days of the bake (default 7; 1 with --quick)')
    .option('--sizes <list>', 'scale phase sizes, e.g. 10,100,500')
    .option('--deadline <seconds>', 'scale: deadline per phase (default 60 s up to 100 releases, 240 s above)')
    .option('--elb-limits', "scale: the worker's AWS calls under ELB's account limit on Describe* (40 at once, 10/s), with SDK retries", false)
    .option('--elb-pace <rate>', "with --elb-limits: the worker's own Describe calls per second (CANARY_ELB_DESCRIBE_RATE; 0: not paced)", '8')
    .option('--out <file>', 'JSON results file', path.join(__dirname, 'results', 'latest.json'))
    .parse()
    .opts<CliOptions>();
  const parts = opts.only ? parseList(opts.only, '--only') : [...PARTS];
  for (const p of parts) if (!PARTS.includes(p as Part)) throw new Error(`--only: unknown part "${p}" (parts: ${PARTS.join(', ')})`);
  const sizes = opts.sizes ? parseList(opts.sizes, '--sizes').map(Number) : opts.quick ? [10, 100] : [10, 100, 500];
  for (const n of sizes) if (!Number.isInteger(n) || n < 1) throw new Error(`--sizes: ${n} is not a positive whole number`);
  const fixed = opts.deadline === undefined ? undefined : Number(opts.deadline) * 1000;
  if (fixed !== undefined && !(fixed > 0)) throw new Error(`--deadline: ${opts.deadline} is not a positive number of seconds`);
  const elbPace = Number(opts.elbPace);
  if (!(elbPace >= 0)) throw new Error(`--elb-pace: ${opts.elbPace} is not a number of calls per second (0 or more)`);
  const bakeDays = opts.bakeDays === undefined ? (opts.quick ? 1 : 7) : Number(opts.bakeDays);
  if (!Number.isInteger(bakeDays) || bakeDays < 1) throw new Error(`--bake-days: ${opts.bakeDays} is not a positive whole number`);
  return {
    quick: opts.quick,
    bakeDays,
    parts: PARTS.filter((p) => parts.includes(p)),
    sizes,
    deadlineMs: (n) => fixed ?? (n <= 100 ? 60_000 : 240_000),
    elbLimits: opts.elbLimits,
    elbPace,
    out: path.resolve(opts.out),
  };
}

const quietBundler = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => process.stderr.write(`[bundler] ${message}\n`),
  error: (message: string) => process.stderr.write(`[bundler] ${message}\n`),
};

async function main(): Promise<number> {
  const args = parseArgs();
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const t0 = Date.now();
  const log = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  const startedAt = new Date().toISOString();
  const loadAvgStart = os.loadavg();
  log(
    `[bench] parts: ${args.parts.join(', ')}${args.quick ? ' (quick)' : ''}; load average ${loadAvgStart.map((l) => l.toFixed(2)).join(' ')} on ${os.cpus().length} cores`,
  );
  const needsStack = args.parts.some((p) => !STANDALONE.includes(p));
  log(`[bench] ${needsStack ? 'starting the local stack (Temporal dev server, moto; headless) and ' : ''}bundling the workflow code...`);
  const [opened, bundle] = await Promise.all([
    needsStack ? openStack(args.quick, log) : Promise.resolve(undefined),
    bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: quietBundler }),
  ]);
  if (opened) await opened.startWorker(bundle.code);
  const stackCtx = (): BenchContext => {
    if (!opened) throw new Error('this part needs the local stack');
    return opened.ctx();
  };
  const results: BenchResults = { meta: undefined as unknown as BenchResults['meta'], errors: [] };
  const cpu0 = cpuSnapshot();
  const runPart = async (part: Part, fn: () => Promise<void>): Promise<void> => {
    if (!args.parts.includes(part)) return;
    const p0 = Date.now();
    log(`\n[bench] ── ${part} ──`);
    try {
      await fn();
    } catch (err) {
      const message = (err as Error).stack ?? String(err);
      results.errors.push({ part, message });
      log(`[bench] ${part} FAILED: ${message}`);
    }
    log(`[bench] ${part} took ${((Date.now() - p0) / 1000).toFixed(1)}s`);
  };
  try {
    await runPart('rollback', async () => {
      results.rollback = await measureRollback(stackCtx(), { reps: args.quick ? 3 : 9, directPerRep: 5 });
    });
    await runPart('detection', async () => {
      results.detection = await measureDetection(stackCtx(), { reps: args.quick ? 2 : 5 });
    });
    await runPart('overhead', async () => {
      results.overhead = await measureOverhead(stackCtx(), { steps: [2, 6, 12], reps: args.quick ? 1 : 3, pauseMs: 1_000 });
    });
    await runPart('history', async () => {
      results.history = await measureHistory(stackCtx(), { bakeMs: args.quick ? 10_000 : 20_000 });
    });
    await runPart('scale', async () => {
      results.scale = await measureScale(stackCtx(), {
        sizes: args.sizes,
        deadlineMs: args.deadlineMs,
        pauseMs: 2_000,
        startConcurrency: 20,
        elbLimits: args.elbLimits,
        elbPace: args.elbPace,
      });
    });
    await runPart('report', async () => {
      results.report = await measureReport({ reps: args.quick ? 3 : 7, log });
    });
    await runPart('longbake', async () => {
      results.longbake = await measureLongBake({ bundle, days: args.bakeDays, log });
    });
    await runPart('judge', async () => {
      results.judge = measureJudge({ reps: args.quick ? 5 : 15 });
    });
    await runPart('validation', async () => {
      results.validation = measureValidation({ reps: args.quick ? 5 : 15 });
    });
  } finally {
    const cpu1 = cpuSnapshot();
    const usage = cpuUsage(cpu0, cpu1);
    results.meta = {
      startedAt,
      finishedAt: new Date().toISOString(),
      durationMs: Date.now() - t0,
      quick: args.quick,
      parts: args.parts,
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? '?',
      loadAvgStart,
      loadAvgEnd: os.loadavg(),
      foreignCoresMean: usage.coresForeign,
      systemCoresMean: usage.coresSystem,
      temporalAddress: opened?.stack.temporal.address ?? '-',
      motoEndpoint: opened?.stack.moto.endpoint ?? '-',
      logDir: opened?.stack.logDir ?? '-',
    };
    await opened?.close();
  }
  log(`\n${renderReport(results)}\n`);
  writeJson(args.out, results);
  log(`[bench] results written to ${args.out}`);
  return results.errors.length > 0 ? 1 : 0;
}

/** The local stack and an in-process worker on it, for the parts that release against moto. */
async function openStack(quick: boolean, log: (line: string) => void) {
  const t0 = Date.now();
  const stack = await startLocalStack({ label: 'bench' });
  log(`[bench] Temporal ${stack.temporal.address}, moto ${stack.moto.endpoint}, logs ${stack.logDir} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  const workerAws = motoClients(stack.moto.endpoint);
  const aws = motoClients(stack.moto.endpoint);
  const connection = await Connection.connect({ address: stack.temporal.address });
  const client = new Client({ connection });
  const native = await NativeConnection.connect({ address: stack.temporal.address });
  const taskQueue = `bench-${process.pid}`;
  const bundlePath = path.join(stack.logDir, 'workflow-bundle.js');
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  return {
    stack,
    /** The context of the stack parts (after startWorker). */
    ctx(): BenchContext {
      return { stack, client, aws, taskQueue, bundlePath, quick, log };
    },
    async startWorker(bundleCode: string): Promise<void> {
      fs.writeFileSync(bundlePath, bundleCode);
      worker = await Worker.create({
        connection: native,
        taskQueue,
        workflowBundle: { codePath: bundlePath },
        activities: createActivities({ ...workerAws, timeScale: stack.timeScale }),
      });
      running = worker.run();
    },
    async close(): Promise<void> {
      worker?.shutdown();
      await running?.catch(() => undefined);
      await native.close();
      await connection.close();
      workerAws.destroy();
      aws.destroy();
      await stack.stop();
    },
  };
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`bench failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
