/**
 * A restarted Temporal server changes nothing about a release: a dev server of its own, persisting to a SQLite
 * file, is stopped twice mid-release (while a timed pause elapses, and at an approval gate) and started again on
 * the same port and file. The worker process keeps running through both outages and the release completes on the
 * same run, with a continuous history and the right listener in AWS (the shared moto).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { Tags } from '../../activities/contract';
import { actions, startRelease, type ReleaseHandle } from '../../client/release-client';
import { freePort, newLogDir, startTemporal, tailFile, type TemporalServer } from '../../dev/stack';
import { statusQuery } from '../../common/messages';
import { testAws, testStack, uniqueName } from '../support/env';
import { forwardActions, seedService, targetGroupsOf, testSpec, waitForStatus } from '../support/release-fixture';
import { CrashableWorker, workerEnv } from '../support/worker-process';

const EventType = temporal.api.enums.v1.EventType;
const aws = testAws();
let server: TemporalServer | undefined;
let connection: Connection | undefined;
let worker: CrashableWorker | undefined;

afterAll(async () => {
  await worker?.stop();
  await connection?.close().catch(() => undefined);
  await server?.stop().catch(() => undefined);
  aws.destroy();
});

/**
 * PIDs of dev servers running on `dbFilename`. TemporalServer.stop() resolves once the SDK has SIGKILLed the
 * guard.sh wrapper; the server itself gets SIGTERM from the wrapper's watchdog up to 0.5 s later and needs a few
 * seconds to stop, so a restart on the same port must wait for it, or it finds the dying server answering and
 * the new one failing with "address already in use".
 */
function serversOn(dbFilename: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const args = cmdline.split('\0');
    if (args.includes('start-dev') && args.includes(dbFilename) && !args.some((a) => a.endsWith('guard.sh'))) pids.push(Number(entry));
  }
  return pids;
}

async function stopServer(dbFilename: string): Promise<void> {
  await server?.stop();
  server = undefined;
  const deadline = Date.now() + 30_000;
  while (serversOn(dbFilename).length > 0) {
    if (Date.now() > deadline) throw new Error(`the dev server on ${dbFilename} is still running 30 s after stop(): ${serversOn(dbFilename).join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Event {
  eventId: number;
  type: string;
}

async function events(handle: ReleaseHandle): Promise<Event[]> {
  const h = await handle.fetchHistory();
  return (h.events ?? []).map((e) => ({ eventId: Number(e.eventId), type: EventType[e.eventType ?? 0] ?? String(e.eventType) }));
}

describe('a release across restarts of the Temporal server', () => {
  it('completes on the same run, with a continuous history, after the SQLite-backed dev server is stopped and started again twice', async () => {
    const logDir = newLogDir('server-restart');
    const dbFilename = path.join(logDir, 'temporal.sqlite');
    const port = await freePort();
    const t0 = Date.now();
    server = await startTemporal({ logDir, dbFilename, port });
    expect(serversOn(dbFilename)).toHaveLength(1);
    const firstStartMs = Date.now() - t0;
    const address = server.address;

    const taskQueue = uniqueName('srv-restart');
    worker = new CrashableWorker(
      taskQueue,
      workerEnv({ temporalAddress: address, awsEndpoint: testStack.awsEndpoint, bundlePath: testStack.bundlePath, timeScale: testStack.timeScale }, taskQueue),
    );
    await worker.start();
    connection = await Connection.connect({ address });
    const client = new Client({ connection });

    const { service, seeded } = await seedService(aws, 'srv');
    const spec = testSpec(seeded, service, {
      steps: [{ setWeight: 20 }, { pause: { duration: '4s' } }, { setWeight: 50 }, { approval: { approvers: ['alice'], timeout: '10m' } }, { setWeight: 100 }],
    });
    const handle = await startRelease(client, spec, { taskQueue });
    const runId = handle.firstExecutionRunId;

    const restart = async (): Promise<number> => {
      const t = Date.now();
      await stopServer(dbFilename);
      server = await startTemporal({ logDir, dbFilename, port });
      expect(server.address).toBe(address);
      return Date.now() - t;
    };

    try {
      // Outage 1: the pause's timer is due while the server is down; it fires once the server is back.
      const paused = await waitForStatus(handle, (s) => s.gate?.kind === 'pause', 90_000);
      const deadline = Date.parse(paused.gate?.deadline ?? '');
      const beforeFirst = await events(handle);
      await stopServer(dbFilename);
      // Setup, not an assertion: let the pause's deadline pass while no server runs.
      await new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now()) + 500));
      server = await startTemporal({ logDir, dbFilename, port });

      // Outage 2: at the approval gate; the approval is sent once the server is back.
      const gated = await waitForStatus(handle, (s) => s.gate?.kind === 'approval', 120_000);
      expect(gated.verifiedWeights).toEqual({ stable: 50, canary: 50 });
      expect(gated.timeline.find((t) => t.action === 'pause ended')).toMatchObject({ detail: 'after 4s' });
      const beforeSecond = await events(handle);
      const secondRestartMs = await restart();
      // The worker rides both outages out: it reconnects by itself, no restart needed.
      expect(worker.alive).toBe(true);
      await waitForStatus(handle, (s) => s.gate?.kind === 'approval', 120_000);
      await actions.approve(client, handle.workflowId, { by: 'alice' });

      const result = await handle.result();
      expect(result).toMatchObject({ outcome: 'promoted', stepsCompleted: 5, steps: 5 });

      // The same run throughout, and its history continuous: what was there before each outage is a prefix of it.
      const described = await handle.describe();
      expect(described.runId).toBe(runId);
      const after = await events(handle);
      expect(after.map((e) => e.eventId)).toEqual(after.map((_, i) => i + 1));
      expect(after.slice(0, beforeFirst.length)).toEqual(beforeFirst);
      expect(after.slice(0, beforeSecond.length)).toEqual(beforeSecond);
      expect(after.filter((e) => e.type === 'EVENT_TYPE_WORKFLOW_TASK_FAILED')).toEqual([]);
      expect(after.filter((e) => e.type === 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED')).toHaveLength(1);
      expect(after.filter((e) => e.type === 'EVENT_TYPE_TIMER_FIRED').length).toBeGreaterThanOrEqual(1);

      // AWS: the canary is the only target group and takes all traffic.
      const groups = await targetGroupsOf(aws, seeded);
      expect(groups).toHaveLength(1);
      expect(groups[0]?.tags).toMatchObject({ [Tags.role]: 'canary', [Tags.releaseId]: `${handle.workflowId}/${runId}` });
      const forward = (await forwardActions(aws, seeded)) as {
        Type?: string;
        ForwardConfig?: { TargetGroups?: { TargetGroupArn?: string; Weight?: number }[] };
      }[];
      expect(forward).toHaveLength(1);
      expect(forward[0]?.ForwardConfig?.TargetGroups?.map((t) => ({ arn: t.TargetGroupArn, weight: t.Weight }))).toEqual([
        { arn: groups[0]?.arn, weight: 100 },
      ]);
      const status = await handle.query(statusQuery);
      expect(status.phase).toBe('Succeeded');

      expect(worker.kills).toBe(0);
      expect(worker.alive).toBe(true);
      process.stdout.write(
        `[figure] server restart: 2 outages of the SQLite-backed dev server survived on one run (${after.length} history events, worker never restarted); ` +
          `server start ${(firstStartMs / 1000).toFixed(1)} s, stop+start ${(secondRestartMs / 1000).toFixed(1)} s\n`,
      );
    } catch (err) {
      throw new Error(
        `${(err as Error).message}\n--- worker stderr\n${worker.stderr().slice(-3000)}\n--- ${path.join(logDir, 'temporal.log')}\n${tailFile(path.join(logDir, 'temporal.log'), 30)}`,
        {
          cause: err,
        },
      );
    }
  }, 240_000);
});
