/**
 * Releases at the same time: many services on one worker do not step on each other's listeners or target groups,
 * and two starts racing for one service leave exactly one release running.
 */
import { Tags } from '../../activities/contract';
import { ReleaseAlreadyRunningError, startRelease } from '../../client/release-client';
import { statusQuery } from '../../common/messages';
import { forwardActions, seedService, targetGroupsOf, testSpec, waitForStatus, releaseTestEnvironment } from '../support/release-fixture';

const env = releaseTestEnvironment();
const aws = env.aws;

type Started = Awaited<ReturnType<typeof startRelease>>;
type ForwardJson = { Type?: string; TargetGroupArn?: string; ForwardConfig?: { TargetGroups?: { TargetGroupArn?: string; Weight?: number }[] } }[];
const forwardOf = (actions: unknown): { arn?: string; weight?: number }[] =>
  ((actions as ForwardJson).find((a) => a.Type === 'forward')?.ForwardConfig?.TargetGroups ?? []).map((t) => ({ arn: t.TargetGroupArn, weight: t.Weight }));

describe('concurrent releases', () => {
  it('promotes six services released at once on one worker, each listener forwarding only to its own canary', async () => {
    const count = 6;
    // Half route through a listener rule, half through the listener's default action. Seeded one after another:
    // what runs at once here is the releases; moto's CreateTargetGroup is not thread-safe (seen once: "OrderedDict
    // mutated during iteration" while six seeds created groups at once), where AWS is.
    const services: Awaited<ReturnType<typeof seedService>>[] = [];
    for (let i = 0; i < count; i++) services.push(await seedService(aws, `conc${i}`, i % 2 ? { withRule: true, forwardConfig: true } : {}));
    const t0 = Date.now();
    const handles = await Promise.all(
      services.map(({ service, seeded }, i) =>
        startRelease(
          env.client,
          testSpec(seeded, service, { version: `v2-${i}`, steps: [{ setWeight: 20 }, { pause: { duration: '1s' } }, { setWeight: 50 }, { setWeight: 100 }] }),
          {
            taskQueue: env.taskQueue,
          },
        ),
      ),
    );
    const results = await Promise.all(handles.map((h) => h.result()));
    const wallMs = Date.now() - t0;

    expect(results.map((r) => r.outcome)).toEqual(Array(count).fill('promoted'));
    for (const [i, { service, seeded }] of services.entries()) {
      const runId = (await handles[i]?.describe())?.runId;
      const groups = await targetGroupsOf(aws, seeded);
      expect(groups).toHaveLength(1);
      const canary = groups[0];
      expect(canary?.tags).toMatchObject({
        [Tags.service]: service,
        [Tags.version]: `v2-${i}`,
        [Tags.role]: 'canary',
        [Tags.releaseId]: `release-${service}/${runId}`,
      });
      expect(forwardOf(await forwardActions(aws, seeded))).toEqual([{ arn: canary?.arn, weight: 100 }]);
      expect(results[i]).toMatchObject({ service, version: `v2-${i}`, stepsCompleted: 4 });
    }
    process.stdout.write(
      `[figure] concurrency: ${count} releases (4 steps, 1 s pause, 1 s keepPrevious) at once on one worker: all promoted in ${(wallMs / 1000).toFixed(1)} s\n`,
    );
  }, 180_000);

  it('lets exactly one of two racing starts for the same service win; the other gets ReleaseAlreadyRunningError naming the winner', async () => {
    const { service, seeded } = await seedService(aws, 'race');
    const spec = testSpec(seeded, service, { steps: [{ setWeight: 10 }, { pause: { duration: '2s' } }, { setWeight: 100 }] });
    const settled = await Promise.allSettled([
      startRelease(env.client, spec, { taskQueue: env.taskQueue, version: 'v2', initiator: 'ci-a' }),
      startRelease(env.client, spec, { taskQueue: env.taskQueue, version: 'v3', initiator: 'ci-b' }),
    ]);
    const won = settled.filter((s): s is PromiseFulfilledResult<Started> => s.status === 'fulfilled');
    const lost = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const err = lost[0]?.reason as ReleaseAlreadyRunningError;
    expect(err).toBeInstanceOf(ReleaseAlreadyRunningError);
    expect(err.workflowId).toBe(`release-${service}`);

    const winner = won[0]?.value as Started;
    const status = await waitForStatus(winner, () => true);
    const winnerVersion = status.version;
    expect(['v2', 'v3']).toContain(winnerVersion);
    // The loser is told which release runs: the winner's version and run.
    expect(err.running.version).toBe(winnerVersion);
    expect(err.running.runId).toBe(winner.firstExecutionRunId);
    expect(err.message).toContain(`release-${service}`);

    const result = await winner.result();
    expect(result).toMatchObject({ outcome: 'promoted', version: winnerVersion });
    // Only the winner touched AWS: one canary, of the winning version, serving everything.
    const groups = await targetGroupsOf(aws, seeded);
    expect(groups.map((g) => g.tags[Tags.version])).toEqual([winnerVersion]);
    expect(forwardOf(await forwardActions(aws, seeded))).toEqual([{ arn: groups[0]?.arn, weight: 100 }]);
    expect((await winner.query(statusQuery)).timeline.filter((t) => t.action === 'start')).toHaveLength(1);
  }, 120_000);
});
