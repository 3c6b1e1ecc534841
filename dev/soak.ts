/**
 * `npm run soak`: the longer soak of the reliability issue. On its own headless local stack, the real worker runs as
 * a child process whose AWS is a fault-injecting proxy in front of moto, and is SIGKILLed and restarted every
 * --kill-every (jittered). For --minutes, --concurrency releases run at all times, each on a freshly seeded service
 * (seeded through moto directly), a seeded random mix of: healthy multi-step releases (→ promoted), releases aborted at
 * a random moment (→ aborted, or promoted if the abort was rejected), releases approved after a random delay
 * (→ promoted) and releases whose canary publishes a high 5xx rate (→ rolled-back). Every finished release's AWS state
 * is checked against its outcome; a mismatch is a LOST release. Exits 1 if any release was lost or missed its deadline.
 *
 *   ts-node --transpile-only dev/soak.ts [--minutes 5] [--concurrency 4] [--seed 1]
 *     [--throttle 0.1 --server-error 0.03 --drop 0.03] [--kill-every 20s] [--deadline 3m]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { Command } from 'commander';
import { motoClients, type AwsClients } from '../activities/aws-clients';
import { Tags } from '../activities/contract';
import { loadBalancerDimension } from '../activities/traffic';
import { actions, MessageRejectedError, startRelease, type ReleaseHandle } from '../client/release-client';
import type { ReleaseResult, ReleaseStatus } from '../common/status';
import { CrashableWorker, workerEnv } from '../test/support/worker-process';
import { statusQuery } from '../common/messages';
import { dimensionOf, forwardActions, handFedErrorRateTemplate, publishAfterTraffic, targetGroupsOf, type ForwardAction } from './aws-state';
import { startFaultProxy, type FaultKind, type FaultProxy } from './fault-proxy';
import { seedAlb, type SeededAlb } from './seed';
import { mulberry32 } from './simulator';
import { startLocalStack, type LocalStack } from './stack';

const KINDS = ['healthy', 'abort', 'approval', 'bad-analysis'] as const;
type Kind = (typeof KINDS)[number];
type Ending = 'promoted' | 'rolled-back' | 'aborted' | 'failed' | 'deadline';
const ENDINGS: readonly Ending[] = ['promoted', 'rolled-back', 'aborted', 'failed', 'deadline'];

interface Args {
  minutes: number;
  concurrency: number;
  seed: number;
  throttle: number;
  serverError: number;
  drop: number;
  killEveryMs: number;
  deadlineMs: number;
}

/** `20s`, `1.5m`, `500ms` or a bare number of seconds; `0` turns the thing off. */
function parseDuration(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new Error(`${what}: "${text}" is not a duration like 20s, 2m or 500ms`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
}

function parseArgs(): Args {
  const o = new Command('soak')
    .description('Soak canary releases under AWS faults and worker SIGKILLs on the embedded local stack')
    .option('--minutes <n>', 'how long to keep starting releases', '5')
    .option('--concurrency <n>', 'releases running at once', '4')
    .option('--seed <n>', 'PRNG seed of the release mix, delays and faults', '1')
    .option('--throttle <p>', 'probability of a Throttling answer per AWS request', '0.1')
    .option('--server-error <p>', 'probability of a 500/503 answer per AWS request', '0.03')
    .option('--drop <p>', 'probability of a dropped connection per AWS request', '0.03')
    .option('--kill-every <duration>', 'SIGKILL and restart the worker this often (jittered ±50%; 0: never)', '20s')
    .option('--deadline <duration>', 'per-release deadline', '3m')
    .parse()
    .opts<Record<string, string>>();
  const num = (key: string, flag: string, ok: (n: number) => boolean): number => {
    const n = Number(o[key]);
    if (!ok(n)) throw new Error(`${flag}: "${o[key]}" is out of range`);
    return n;
  };
  const prob = (n: number): boolean => n >= 0 && n <= 1;
  return {
    minutes: num('minutes', '--minutes', (n) => n > 0),
    concurrency: num('concurrency', '--concurrency', (n) => Number.isInteger(n) && n >= 1),
    seed: num('seed', '--seed', Number.isInteger),
    throttle: num('throttle', '--throttle', prob),
    serverError: num('serverError', '--server-error', prob),
    drop: num('drop', '--drop', prob),
    killEveryMs: parseDuration(o.killEvery ?? '20s', '--kill-every'),
    deadlineMs: parseDuration(o.deadline ?? '3m', '--deadline'),
  };
}

// ---- AWS state (read from moto directly, never through the proxy) ----

/** What the end state must be for the outcome; undefined when it is. */
async function checkEndState(aws: AwsClients, r: Run, outcome: Ending): Promise<string | undefined> {
  const fwd = await forwardActions(aws, r.seeded);
  const groups = await targetGroupsOf(aws, r.seeded);
  const state = `forward ${JSON.stringify(fwd)}; target groups in the VPC ${JSON.stringify(groups.map((g) => ({ name: g.name, version: g.tags[Tags.version] ?? g.tags.version })))}`;
  if (outcome === 'promoted') {
    const forwards = fwd.filter((a) => a.Type === 'forward');
    const weighted = (forwards[0]?.ForwardConfig?.TargetGroups ?? []).filter((t) => (t.Weight ?? 0) > 0).map((t) => t.TargetGroupArn);
    const arns = forwards[0]?.TargetGroupArn ? [forwards[0].TargetGroupArn] : weighted;
    const only = groups[0];
    if (fwd.length !== 1 || forwards.length !== 1 || arns.length !== 1 || groups.length !== 1 || !only || arns[0] !== only.arn) {
      return `promoted, but the forward action does not send 100% to the one remaining target group: ${state}`;
    }
    if (only.tags[Tags.version] !== r.version) return `promoted, but the remaining group is not tagged with version ${r.version}: ${state}`;
    return undefined;
  }
  if (outcome === 'rolled-back' || outcome === 'aborted') {
    if (!isDeepStrictEqual(fwd, r.before)) return `${outcome}, but the forward action differs from the pre-release ${JSON.stringify(r.before)}: ${state}`;
    if (groups.length !== 1 || groups[0]?.arn !== r.seeded.stableTargetGroupArn) return `${outcome}, but not only the original stable group remains: ${state}`;
    return undefined;
  }
  return `${outcome}: the release has no outcome; ${state}`;
}

// ---- releases ----

interface Run {
  n: number;
  kind: Kind;
  service: string;
  version: string;
  seeded: SeededAlb;
  before: ForwardAction[];
  handle?: ReleaseHandle;
  startedAt: number;
  /** The abort's fate (abort kind only). */
  abort?: 'accepted' | 'rejected' | 'not sent' | `error: ${string}`;
  note?: string;
}

interface Finished {
  run: Run;
  ending: Ending;
  reason: string;
  durationMs: number;
  expected: boolean;
  lost?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function spec(r: Run, steps: unknown[]): Record<string, unknown> {
  return {
    apiVersion: 'canary/v1',
    service: r.service,
    version: r.version,
    region: 'us-east-1',
    initiator: 'soak',
    traffic: r.seeded.ruleArn ? { listenerArn: r.seeded.listenerArn, ruleArn: r.seeded.ruleArn } : { listenerArn: r.seeded.listenerArn },
    environment: { canaryTargets: [{ id: '10.0.0.21', port: 8080 }], healthyTimeout: '30s' },
    steps,
    analysis: { errors: handFedErrorRateTemplate() },
    promotion: { keepPreviousFor: '1s' },
    rollback: { retryInterval: '1s' },
  };
}

async function status(handle: ReleaseHandle): Promise<ReleaseStatus | undefined> {
  return handle.query(statusQuery).catch(() => undefined);
}

/**
 * Sends an update until the workflow took it or refused it, or the release ended. An update caught in a worker kill
 * may fail with an RPC error; it is sent again (a repeat is refused by the workflow, which is fine).
 */
async function act(handle: ReleaseHandle, send: () => Promise<unknown>, until: number): Promise<'accepted' | 'rejected' | 'ended'> {
  for (;;) {
    if ((await handle.describe().catch(() => undefined))?.status.name !== 'RUNNING') return 'ended';
    try {
      await send();
      return 'accepted';
    } catch (err) {
      if (err instanceof MessageRejectedError) return 'rejected';
      if (Date.now() > until) throw err;
      await sleep(500);
    }
  }
}

/** Polls the status until `pred` holds or the release ended (undefined then). */
async function waitForStatus(handle: ReleaseHandle, pred: (s: ReleaseStatus) => boolean, until: number): Promise<ReleaseStatus | undefined> {
  for (;;) {
    const s = await status(handle);
    if (s?.result) return undefined;
    if (s && pred(s)) return s;
    if (Date.now() > until) throw new Error(`status condition not met before the deadline; last phase ${s?.phase ?? '?'}`);
    await sleep(300);
  }
}

async function main(): Promise<number> {
  const args = parseArgs();
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const t0 = Date.now();
  const rand = mulberry32(args.seed);
  const between = (lo: number, hi: number): number => lo + (hi - lo) * rand();
  const log = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  const elapsed = (): string => `${((Date.now() - t0) / 1000).toFixed(0)}s`;

  let interrupted = false;
  let onInterrupt: () => void = () => undefined;
  const interruptedP = new Promise<void>((resolve) => (onInterrupt = resolve));
  const sigint = (): void => {
    if (interrupted) return;
    interrupted = true;
    log(`\n[soak] SIGINT: stopping (worker, proxy, stack)...`);
    onInterrupt();
  };
  process.on('SIGINT', sigint);
  process.on('SIGTERM', sigint);

  log(
    `[soak] ${args.minutes} min, concurrency ${args.concurrency}, seed ${args.seed}, faults throttle ${args.throttle} serverError ${args.serverError} drop ${args.drop}, ` +
      `kill every ${args.killEveryMs / 1000}s (±50%), deadline ${args.deadlineMs / 1000}s per release`,
  );
  log('[soak] starting the local stack (Temporal dev server, moto; headless) and bundling the workflow code...');
  let stack: LocalStack | undefined;
  let proxy: FaultProxy | undefined;
  let worker: CrashableWorker | undefined;
  let connection: Connection | undefined;
  let aws: AwsClients | undefined;
  const finished: Finished[] = [];
  let started = 0;
  const inFlight = new Set<Run>();
  try {
    const [s, bundle] = await Promise.all([
      startLocalStack({ label: 'soak' }),
      bundleWorkflowCode({
        workflowsPath: require.resolve('../workflows'),
        logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m) => log(m) },
      }),
    ]);
    stack = s;
    const bundlePath = path.join(stack.logDir, 'workflow-bundle.js');
    fs.writeFileSync(bundlePath, bundle.code);
    proxy = await startFaultProxy({
      target: stack.moto.endpoint,
      seed: args.seed,
      rates: { throttle: args.throttle, serverError: args.serverError, drop: args.drop },
    });
    aws = motoClients(stack.moto.endpoint);
    connection = await Connection.connect({ address: stack.temporal.address });
    const client = new Client({ connection });
    const taskQueue = `soak-${process.pid}`;
    worker = new CrashableWorker(taskQueue, workerEnv({ temporalAddress: stack.temporal.address, awsEndpoint: proxy.endpoint, bundlePath }, taskQueue));
    await worker.start();
    log(
      `[soak] Temporal ${stack.temporal.address}, moto ${stack.moto.endpoint}, fault proxy ${proxy.endpoint}, worker ready in ` +
        `${((worker.startTimes[0] ?? 0) / 1000).toFixed(1)}s, logs ${stack.logDir} (${elapsed()})`,
    );

    const endAt = Date.now() + args.minutes * 60_000;
    const stopping = (): boolean => interrupted || Date.now() >= endAt;

    // ---- the killer ----
    const w = worker;
    const killer = (async () => {
      if (args.killEveryMs <= 0) return;
      for (;;) {
        const wait = args.killEveryMs * between(0.5, 1.5);
        const wake = Date.now() + wait;
        while (Date.now() < wake && !interrupted && !(stopping() && inFlight.size === 0)) await sleep(200);
        // Kills go on until the last release ended: the releases still running after --minutes are soaked too.
        if (interrupted || (stopping() && inFlight.size === 0)) return;
        try {
          await w.restart();
        } catch (err) {
          log(`[soak] worker restart failed (${(err as Error).message.split('\n')[0]}); starting again`);
          await w.stop();
          await w.start().catch((e: Error) => log(`[soak] worker start failed again: ${e.message.split('\n')[0]}`));
        }
      }
    })();

    // ---- one release ----
    const runOne = async (n: number): Promise<void> => {
      const kind = KINDS[Math.floor(rand() * KINDS.length)] as Kind;
      const withRule = rand() < 0.3;
      const forwardConfig = rand() < 0.5;
      const pause = (): string => `${Math.round(between(1, 3))}s`;
      const abortDelay = between(0, 12_000);
      const approveDelay = between(0, 5_000);
      const service = `soak${n}-${args.seed}`.slice(0, 16);
      const seeded = await seedAlb(aws as AwsClients, { name: service, withRule, forwardConfig });
      const r: Run = { n, kind, service, version: `2.${n}.0`, seeded, before: await forwardActions(aws as AwsClients, seeded), startedAt: Date.now() };
      const until = r.startedAt + args.deadlineMs;
      const steps: Record<Kind, unknown[]> = {
        healthy: [
          { setWeight: Math.round(between(5, 30)) },
          { pause: { duration: pause() } },
          { setWeight: 50 },
          { pause: { duration: pause() } },
          { setWeight: 100 },
        ],
        abort: [{ setWeight: 20 }, { pause: { duration: pause() } }, { setWeight: 50 }, { pause: { duration: pause() } }, { setWeight: 100 }],
        approval: [{ setWeight: 20 }, { approval: { approvers: ['alice'], timeout: '10m' } }, { setWeight: 100 }],
        'bad-analysis': [{ setWeight: 25 }, { pause: {} }, { analysis: { template: 'errors' } }, { setWeight: 100 }],
      };
      inFlight.add(r);
      started++;
      let ending: Ending;
      let reason = '';
      try {
        const handle = await startRelease(client, spec(r, steps[kind]), { taskQueue });
        r.handle = handle;
        const driver = (async () => {
          if (kind === 'abort') {
            await sleep(abortDelay);
            const fate = await act(handle, () => actions.abort(client, handle.workflowId, { by: 'soak', reason: 'soak abort' }), until);
            r.abort = fate === 'ended' ? 'not sent' : fate;
          } else if (kind === 'approval') {
            const gate = await waitForStatus(handle, (s) => s.gate?.kind === 'approval', until);
            if (!gate) return;
            await sleep(approveDelay);
            r.note = await act(handle, () => actions.approve(client, handle.workflowId, { by: 'alice', step: gate.step }), until);
          } else if (kind === 'bad-analysis') {
            const paused = await waitForStatus(handle, (s) => s.gate?.kind === 'pause', until);
            const canary = paused?.targetGroups.find((t) => t.role === 'canary')?.arn;
            if (!paused || !canary) return;
            await publishAfterTraffic(
              aws as AwsClients,
              { targetGroup: dimensionOf(canary), loadBalancer: loadBalancerDimension(seeded.listenerArn) },
              200,
              40,
              paused.trafficSince,
            );
            r.note = await act(handle, () => actions.resume(client, handle.workflowId, { by: 'alice' }), until);
          }
        })().catch((err: Error) => {
          r.note = `driver: ${err.message.split('\n')[0]}`;
        });
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<'deadline'>((resolve) => (timer = setTimeout(() => resolve('deadline'), Math.max(0, until - Date.now()))));
        const result = await Promise.race([handle.result().catch((err: Error) => err), deadline]);
        clearTimeout(timer);
        await Promise.race([driver, sleep(5_000)]);
        if (result === 'deadline') {
          ending = 'deadline';
          reason = `not finished within ${args.deadlineMs / 1000}s; phase ${(await status(handle))?.phase ?? '?'}`;
        } else if (result instanceof Error) {
          ending = 'failed';
          reason = `${result.message}${result.cause ? `: ${(result.cause as Error).message}` : ''}`;
        } else {
          ending = (result as ReleaseResult).outcome as Ending;
          reason = (result as ReleaseResult).reason;
        }
      } catch (err) {
        ending = 'failed';
        reason = `start: ${(err as Error).message.split('\n')[0]}`;
      }
      const durationMs = Date.now() - r.startedAt;
      const expected =
        kind === 'bad-analysis'
          ? ending === 'rolled-back' && /analysis errors failed/.test(reason)
          : kind === 'abort'
            ? ending === 'aborted' || (ending === 'promoted' && r.abort !== 'accepted')
            : ending === 'promoted';
      let lost: string | undefined;
      if (ending !== 'deadline') {
        lost = await checkEndState(aws as AwsClients, r, ending).catch((err: Error) => `could not read the end state: ${err.message}`);
      }
      if (kind === 'abort' && ending === 'promoted' && r.abort === 'accepted')
        lost = `promoted although the abort was accepted; ${lost ?? 'end state consistent'}`;
      const f: Finished = { run: r, ending, reason, durationMs, expected, lost };
      finished.push(f);
      inFlight.delete(r);
      const head = `#${n} ${kind} ${service} (${seeded.ruleArn ? 'rule' : 'listener'}${forwardConfig ? ', ForwardConfig' : ''})`;
      const extra = `${r.abort ? ` abort ${r.abort};` : ''}${r.note ? ` ${r.note};` : ''} ${(durationMs / 1000).toFixed(1)}s`;
      if (lost) log(`[soak] LOST ${head} → ${ending}: ${reason};${extra}\n         ${lost}`);
      else if (ending === 'deadline') log(`[soak] DEADLINE ${head}: ${reason};${extra}`);
      else if (!expected) log(`[soak] unexpected outcome ${head} → ${ending}: ${reason};${extra} (end state consistent with it)`);
    };

    // ---- lanes ----
    let next = 0;
    const lanes = Array.from({ length: args.concurrency }, async () => {
      while (!stopping()) await runOne(++next).catch((err: Error) => log(`[soak] release #${next} could not be set up: ${err.stack ?? err.message}`));
    });

    const progress = setInterval(() => {
      const by = ENDINGS.map((e) => `${e} ${finished.filter((f) => f.ending === e).length}`).join(', ');
      const faults = (proxy as FaultProxy).stats().faults;
      const kinds = (Object.keys(faults) as FaultKind[]).filter((k) => faults[k] > 0).map((k) => `${k} ${faults[k]}`);
      log(
        `[soak] ${elapsed()}: started ${started}, finished ${finished.length} (${by}), running ${inFlight.size}, ` +
          `lost ${finished.filter((f) => f.lost).length}, unexpected ${finished.filter((f) => !f.expected).length}, kills ${w.kills}, ` +
          `faults ${kinds.join(', ') || 'none'}`,
      );
    }, 10_000);
    const drain = setTimeout(() => log(`[soak] ${elapsed()}: no new releases; waiting for the ${inFlight.size} still running`), endAt - Date.now());
    await Promise.race([Promise.all(lanes), interruptedP]);
    clearTimeout(drain);
    await Promise.race([killer, interruptedP]);
    clearInterval(progress);
  } finally {
    process.removeListener('SIGINT', sigint);
    process.on('SIGINT', () => undefined);
    await worker?.stop();
    await proxy?.stop();
    await connection?.close().catch(() => undefined);
    aws?.destroy();
    await stack?.stop();
  }

  // ---- summary ----
  const faults = proxy?.stats().faults;
  const faultTotal = faults ? Object.values(faults).reduce((a, b) => a + b, 0) : 0;
  const rows = [['kind', ...ENDINGS, 'unexpected', 'lost', 'mean s', 'max s']];
  for (const kind of KINDS) {
    const mine = finished.filter((f) => f.run.kind === kind);
    const d = mine.map((f) => f.durationMs / 1000);
    rows.push([
      kind,
      ...ENDINGS.map((e) => String(mine.filter((f) => f.ending === e).length)),
      String(mine.filter((f) => !f.expected).length),
      String(mine.filter((f) => f.lost).length),
      d.length ? (d.reduce((a, b) => a + b, 0) / d.length).toFixed(1) : '-',
      d.length ? Math.max(...d).toFixed(1) : '-',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  log('');
  for (const r of rows) log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  '));
  if (faults)
    log(
      `faults: ${Object.entries(faults)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}; AWS requests ${proxy?.stats().requests}`,
    );
  if (inFlight.size > 0) log(`still running when stopped: ${[...inFlight].map((r) => `#${r.n} ${r.kind}`).join(', ')}`);
  const lost = finished.filter((f) => f.lost).length;
  const late = finished.filter((f) => f.ending === 'deadline').length;
  log(
    `soak: ${finished.length} releases, ${worker?.kills ?? 0} kills, ${faultTotal} faults injected, ${lost} lost${late ? `, ${late} past the deadline` : ''}`,
  );
  if (stack) log(`logs: ${stack.logDir}`);
  if (interrupted) return 130;
  return lost > 0 || late > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`soak failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
