/**
 * Bad input against the real thing: invalid specs are refused by the env.client before anything starts, listeners a
 * release cannot work with fail the workflow as InvalidRelease before anything changes in AWS, and invalid update
 * payloads sent straight through the Temporal env.client are refused by the workflow's validators, naming the field.
 * Every case checks that the listener's actions and the set of target groups are exactly what they were.
 */
import { CreateTargetGroupCommand, ModifyListenerCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { ApplicationFailure, WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { actions, parseTargets, startRelease, type StartOptions } from '../../client/release-client';
import { SpecValidationError, type FieldError } from '../../common/spec';
import type { SeededAlb } from '../../dev/seed';
import { statusQuery } from '../../common/messages';
import { forwardActions, historyOf, seedService, targetGroupsOf, testSpec, waitForStatus, releaseTestEnvironment } from '../support/release-fixture';

const env = releaseTestEnvironment();
const aws = env.aws;

/** What a release may change in AWS: the forward actions and the target groups of the service's VPC. */
async function awsState(seeded: SeededAlb): Promise<{ actions: unknown; groups: string[] }> {
  return { actions: await forwardActions(aws, seeded), groups: (await targetGroupsOf(aws, seeded)).map((g) => `${g.name} ${g.arn}`) };
}

/** The chain of causes of an error: messages and failure types, outermost first. */
function causes(err: unknown): { name: string; type?: string; message: string }[] {
  const out: { name: string; type?: string; message: string }[] = [];
  for (let e = err as (Error & { type?: string; cause?: unknown }) | undefined; e; e = e.cause as typeof e) {
    out.push({ name: e.constructor?.name ?? 'Error', type: e.type, message: e.message });
  }
  return out;
}

const randomHex = (n: number): string => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');

describe('specs the env.client refuses: nothing starts, nothing changes in AWS', () => {
  interface ClientCase {
    name: string;
    spec: (seeded: SeededAlb, service: string) => Record<string, unknown>;
    opts?: StartOptions;
    field: string;
    message: string;
    bug?: string;
  }
  const cases: ClientCase[] = [
    {
      name: 'a weight above 100',
      spec: (s, svc) => testSpec(s, svc, { steps: [{ setWeight: 120 }, { setWeight: 100 }] }),
      field: 'steps[0].setWeight',
      message: 'must be between 0 and 100',
    },
    {
      name: 'an analysis step with an unknown template',
      spec: (s, svc) => testSpec(s, svc, { steps: [{ setWeight: 10 }, { analysis: { template: 'latency' } }, { setWeight: 100 }] }),
      field: 'steps[1].analysis.template',
      message: 'unknown analysis template "latency"',
    },
    {
      name: "a region other than the listener's",
      spec: (s, svc) => testSpec(s, svc, { region: 'eu-west-1' }),
      field: 'traffic.listenerArn',
      message: "the spec's region is eu-west-1",
    },
    {
      name: 'a rule of another load balancer',
      spec: (s, svc) =>
        testSpec(s, svc, {
          traffic: {
            listenerArn: s.listenerArn,
            ruleArn: `${s.listenerArn.replace(':listener/', ':listener-rule/').replace(/\/app\/[^/]+\//, '/app/other-alb/')}/${randomHex(16)}`,
          },
        }),
      field: 'traffic.ruleArn',
      message: 'the rule does not belong to traffic.listenerArn',
    },
    {
      name: '10k steps',
      spec: (s, svc) => testSpec(s, svc, { steps: [...Array.from({ length: 9_999 }, () => ({ setWeight: 5 })), { setWeight: 100 }] }),
      field: 'steps',
      message: '<=100 items',
    },
    {
      name: 'a target given twice on the command line',
      spec: (s, svc) => testSpec(s, svc),
      opts: { targets: parseTargets('10.0.0.21:8080,10.0.0.21:8080') },
      field: 'environment.canaryTargets[1]',
      message: 'is listed twice',
    },
    {
      name: 'a baseline target that is also a canary target',
      spec: (s, svc) =>
        testSpec(s, svc, { environment: { canaryTargets: [{ id: '10.0.0.21', port: 8080 }], baselineTargets: [{ id: '10.0.0.21', port: 8080 }] } }),
      field: 'environment.baselineTargets[0]',
      message: 'cannot also be a canary target',
    },
    {
      name: 'a version with spaces (the --version override)',
      spec: (s, svc) => testSpec(s, svc),
      opts: { version: 'v2 beta' },
      field: 'version',
      message: 'letters, digits',
    },
    {
      name: 'a pause of 99999999d',
      spec: (s, svc) => testSpec(s, svc, { steps: [{ setWeight: 10 }, { pause: { duration: '99999999d' } }, { setWeight: 100 }] }),
      field: 'steps[1].pause.duration',
      message: 'duration "99999999d" is longer than the 365d a release may wait',
    },
  ];

  it.each(cases.map((c) => [c.bug ? `${c.name} [known bug]` : c.name, c] as const))('refuses %s', async (_label, c) => {
    const { service, seeded } = await seedService(aws, 'cli');
    const before = await awsState(seeded);
    const err = await startRelease(env.client, c.spec(seeded, service), { ...c.opts, taskQueue: env.taskQueue }).then(
      async (handle) => {
        // Accepted although it should not have been: let the release end so it leaves nothing behind, then report.
        const outcome = await handle.result().then(
          (r) => `${r.outcome}: ${r.reason}`,
          (e: unknown) => `failed: ${(e as Error).message}`,
        );
        return new Error(`${c.bug ? `KNOWN BUG: ${c.bug}\n` : ''}startRelease accepted the spec; the release ended ${outcome}`);
      },
      (e: unknown) => e,
    );
    if (!(err instanceof SpecValidationError)) throw err;
    const errors: FieldError[] = err.errors;
    expect(errors).toContainEqual({ field: c.field, message: expect.stringContaining(c.message) as string });
    expect(err.message).toContain(c.field);
    expect(await awsState(seeded)).toEqual(before);
    await expect(env.client.workflow.getHandle(`release-${service}`).describe()).rejects.toThrow(/not found/i);
  });
});

describe('listeners a release cannot work with: the workflow fails as InvalidRelease, AWS unchanged', () => {
  interface WorkflowCase {
    name: string;
    /** Seeds the service (and breaks it); returns the traffic block of the spec. */
    arrange: (seeded: SeededAlb) => Promise<Record<string, unknown>>;
    seed?: { withRule?: boolean; forwardConfig?: boolean };
    /** The root cause's type and message. */
    rootType: string;
    reason: RegExp;
  }
  const cases: WorkflowCase[] = [
    {
      name: 'a listener with unsupported actions (fixed-response default, no ruleArn)',
      seed: { withRule: true },
      arrange: async (s) => ({ listenerArn: s.listenerArn }),
      rootType: 'UnsupportedListener',
      reason: /has actions \[fixed-response\]; a release needs exactly one forward action/,
    },
    {
      name: "a listener that doesn't exist (well-formed ARN, made-up id)",
      arrange: async (s) => ({ listenerArn: s.listenerArn.replace(/\/[0-9a-f]+$/, `/${randomHex(16)}`) }),
      rootType: 'ListenerNotFound',
      reason: /does not exist \(check traffic\.listenerArn/,
    },
    {
      name: "a rule that doesn't exist on a real listener",
      seed: { withRule: true },
      arrange: async (s) => ({ listenerArn: s.listenerArn, ruleArn: (s.ruleArn as string).replace(/\/[0-9a-f]+$/, `/${randomHex(16)}`) }),
      rootType: 'ListenerNotFound',
      reason: /rule .* does not exist/,
    },
    {
      name: 'a listener already forwarding to two target groups',
      arrange: async (s) => {
        const other = await aws.elbv2.send(
          new CreateTargetGroupCommand({
            Name: `${s.stableTargetGroupName.slice(0, 24)}-manual`,
            Protocol: 'HTTP',
            Port: 8080,
            VpcId: s.vpcId,
            TargetType: 'ip',
          }),
        );
        await aws.elbv2.send(
          new ModifyListenerCommand({
            ListenerArn: s.listenerArn,
            DefaultActions: [
              {
                Type: 'forward',
                ForwardConfig: {
                  TargetGroups: [
                    { TargetGroupArn: s.stableTargetGroupArn, Weight: 90 },
                    { TargetGroupArn: other.TargetGroups?.[0]?.TargetGroupArn as string, Weight: 10 },
                  ],
                },
              },
            ],
          }),
        );
        return { listenerArn: s.listenerArn };
      },
      rootType: 'UnsupportedListener',
      reason: /forward targetgroup\/.*=90, targetgroup\/.*-manual\/.*=10.*is another release or a manual split in progress\?/,
    },
  ];

  it.each(cases.map((c) => [c.name, c] as const))('fails the release as InvalidRelease on %s', async (_label, c) => {
    const { service, seeded } = await seedService(aws, 'wfbad', c.seed ?? {});
    const traffic = await c.arrange(seeded);
    const before = await awsState(seeded);
    const handle = await startRelease(env.client, testSpec(seeded, service, { traffic }), { taskQueue: env.taskQueue });
    const err = await handle.result().then(
      (r) => new Error(`the release ended ${r.outcome} instead of failing: ${r.reason}`),
      (e: unknown) => e,
    );
    if (!(err instanceof WorkflowFailedError)) throw err;
    const chain = causes(err.cause);
    const top = err.cause as ApplicationFailure;

    expect(top).toBeInstanceOf(ApplicationFailure);
    expect(top.type).toBe('InvalidRelease');
    expect(top.nonRetryable).toBe(true);
    // The activity's own failure is in the chain, with what to do about it.
    expect(chain).toContainEqual(expect.objectContaining({ type: c.rootType, message: expect.stringMatching(c.reason) as string }));
    expect(await awsState(seeded)).toEqual(before);
    expect((await handle.query(statusQuery)).phase).toBe('RolledBack');
    // The worker's approver keys, then the one discovery that found the problem: nothing that writes.
    const events = (await env.client.workflow.getHandle(handle.workflowId).fetchHistory()).events ?? [];
    const scheduled = events.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name] : []));
    expect(scheduled).toEqual(['workerApproverKeys', expect.stringMatching(/^discover/)]);

    // What `canary start --wait` prints is the InvalidRelease failure's message: the reason, not "Activity task failed".
    expect(top.message).toMatch(c.reason);
  });
});

describe('invalid update payloads sent through the Temporal env.client are refused by the workflow', () => {
  it('names the field, writes nothing to history, ignores invalid signals, and the release still rolls back exactly', async () => {
    const { service, seeded } = await seedService(aws, 'upd');
    const before = await awsState(seeded);
    const handle = await startRelease(env.client, testSpec(seeded, service, { steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 100 }] }), {
      taskQueue: env.taskQueue,
    });
    await waitForStatus(handle, (s) => s.gate?.kind === 'pause');
    const history = await historyOf(env.client, handle.workflowId);

    const bad: { update: string; payload: unknown; reason: RegExp }[] = [
      { update: 'approve', payload: { nope: 1 }, reason: /^nope: unknown field; by: say who you are/ },
      { update: 'approve', payload: { by: 'alice', nope: 1 }, reason: /^nope: unknown field$/ },
      { update: 'approve', payload: { by: '' }, reason: /^by: say who you are/ },
      { update: 'approve', payload: { by: 'alice', step: -1 }, reason: /^step: / },
      { update: 'abort', payload: { by: 'alice' }, reason: /^reason: / },
      { update: 'abort', payload: { by: 'alice', reason: '' }, reason: /^reason: give a reason/ },
      { update: 'promote', payload: { by: 'alice', full: 'yes' }, reason: /^full: .*expected boolean/ },
      { update: 'resume', payload: { by: 'alice', extra: true }, reason: /^extra: unknown field$/ },
      { update: 'pause', payload: 'alice', reason: /expected object/ },
      { update: 'resume', payload: { by: 'b'.repeat(10_000) }, reason: /^by: a name is 1-63 ASCII/ },
    ];
    for (const b of bad) {
      const err = await handle.executeUpdate(b.update, { args: [b.payload] }).then(
        (ack) => new Error(`${b.update} ${JSON.stringify(b.payload).slice(0, 80)} was accepted: ${JSON.stringify(ack)}`),
        (e: unknown) => e,
      );
      if (!(err instanceof WorkflowUpdateFailedError)) throw err;
      expect({ update: b.update, reason: (err.cause as Error | undefined)?.message }).toEqual({
        update: b.update,
        reason: expect.stringMatching(b.reason) as string,
      });
    }
    // Validators run before anything is written: the history did not grow.
    const after = await historyOf(env.client, handle.workflowId);
    expect(after.count).toBe(history.count);

    // A signal cannot be refused; an invalid one is recorded as ignored and changes nothing.
    await handle.signal('abort', { by: 'mallory' });
    const ignored = await waitForStatus(handle, (s) => s.timeline.some((t) => t.action === 'abort'));
    expect(ignored.timeline.find((t) => t.action === 'abort')).toMatchObject({
      by: 'mallory',
      accepted: false,
      detail: expect.stringMatching(/^ignored: reason: /) as string,
    });
    expect(ignored.gate?.kind).toBe('pause');

    await actions.abort(env.client, handle.workflowId, { by: 'alice', reason: 'done testing payloads' });
    expect(await handle.result()).toMatchObject({ outcome: 'aborted', by: 'alice' });
    expect(await awsState(seeded)).toEqual(before);
  });
});
