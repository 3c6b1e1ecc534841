/**
 * The release's activities replaced at the contract boundary (activities/contract.ts): an in-memory model of one
 * listener's forward action and the target groups around it, answering as the AWS-backed activities do
 * (describe before write, read-back verification, the delete guard, the error types the workflow's retry
 * profiles know). It records every call, and lets a test script failures, analysis verdicts, and hold a call open
 * (to act on the release while it is in a given phase).
 *
 * It judges nothing itself: runAnalysis answers the verdicts a test scripts, so a workflow test pins what the
 * workflow does with a verdict, not how a verdict is reached (test/unit/analysis.test.ts covers that).
 */
import { drifted } from '../../activities/traffic';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  ErrorTypes,
  Tags,
  type DiscoveredForwards,
  type DiscoveredTraffic,
  type DrainResult,
  type ElbAction,
  type EnsuredTargetGroup,
  type ForwardDrift,
  type ForwardState,
  type HealthyTargets,
  type PreparedIdleGroup,
  type ReleaseActivities,
  type RestoredForward,
  type TargetHealthReport,
  type TrafficRef,
  type VerifiedWeights,
  type WeightedTargetGroup,
} from '../../activities/contract';
import { describeRef, describeStickiness, forwardDrift, sameForward, sameStickiness, sameTargetGroups, withWeights } from '../../common/forward';
import type { Notification } from '../../activities/notify';
import { createHookActivities, type HookConfig } from '../../activities/hooks';
import type { AnalysisCounters, AnalysisRequest, AnalysisRun, AnalysisVerdict } from '../../analysis/analysis';
import type { Target } from '../../common/spec';

export type ActivityName = keyof ReleaseActivities;

/** One call the workflow made, as the worker ran it. */
export interface FakeCall {
  activity: ActivityName;
  input: unknown;
  attempt: number;
  /** `ok`, `cancelled`, or the error message it failed with. */
  outcome?: string;
}

export interface FakeTargetGroup {
  arn: string;
  name: string;
  tags: Record<string, string>;
  targets: Target[];
  /**
   * Health a test scripted per target (`10.0.1.17:8080` → state, reason); a target not listed is `healthy` while
   * the group is in a forward action and `unused` (Target.NotInUse) otherwise, as ALB reports it.
   */
  health: Map<string, { state: string; reason?: string; description?: string }>;
  /** `deregistration_delay.timeout_seconds` in ms (ALB's default 300 s). */
  deregistrationDelayMs: number;
}

export interface FakeAlbOptions {
  /** The stable target group's name; default `<service>-stable`. */
  stableName?: string;
  /** Webhooks configured on the worker (notify fails with WebhookNotConfigured for others). Default: ops. */
  webhooks?: string[];
  /** Stable's tags besides `canary:service` (e.g. `{ version: 'v1' }` to see versionTags rewritten). */
  stableTags?: Record<string, string>;
  /**
   * How a background batch with no scripted verdict behaves: `hold` (default) runs until the workflow cancels it, as a
   * real batch of `reportEvery` outlasts a short test; `pass` measures for its `count × intervalMs` of the test
   * server's clock (see FakeAlb.clock), heartbeating between measurements, and passes, as a healthy bake does.
   */
  backgroundBatches?: 'hold' | 'pass';
  /** The approver keys the worker holds (CANARY_APPROVER_KEYS); default none. */
  approverKeys?: Record<string, string[]>;
  /** The worker answers the release's request for its keys only once this settles (default: at once). */
  approverKeysAnswered?: Promise<unknown>;
  /** The hooks the worker holds: callHook and workerHooks are the real activities over them (default none). */
  hooks?: HookConfig;
}

/** The time-skipping test server's clock, as a background batch of `backgroundBatches: 'pass'` uses it. */
export interface ServerClock {
  /** Waits `ms` of server time, releasing the caller's time-skipping lock meanwhile (TestService.UnlockTimeSkippingWithSleep). */
  sleep(ms: number): Promise<void>;
  /** Records a heartbeat for the activity and says whether its workflow asked to cancel it or has closed. */
  heartbeat(taskToken: Uint8Array): Promise<'ok' | 'cancel' | 'closed'>;
  /** Releases one time-skipping lock (TestService.UnlockTimeSkipping). */
  unlock(): Promise<void>;
}

/** Server time a `pass` batch waits between heartbeats: under the 60 s heartbeat timeout of analysis activities. */
const SLICE_MS = 50_000;

/** A call held open by `hold()`: the test acts on the release, then lets the call finish (or the workflow cancels it). */
export interface Hold<I = unknown> {
  /** Resolves with the call's input once the workflow has made the call. */
  readonly reached: Promise<I>;
  /** Lets the held call go on with its normal behaviour. */
  release(): void;
  /** Resolves `cancelled` when the workflow cancelled the held activity, `released` otherwise. */
  readonly ended: Promise<'released' | 'cancelled'>;
}

type Script = (input: unknown, attempt: number) => void | Promise<void>;

const ACCOUNT = '123456789012';
let nextId = 0x1000;

/** A verdict as runAnalysis answers it. */
export function analysisRun(templateName: string, verdict: AnalysisVerdict, reason = `scripted ${verdict}`): AnalysisRun {
  const counters: AnalysisCounters = {
    measurements: 1,
    failed: verdict === 'fail' ? 1 : 0,
    inconclusive: verdict === 'inconclusive' ? 1 : 0,
    errors: 0,
    consecutiveErrors: 0,
  };
  return { templateName, verdict, reason, counters };
}

/** The target groups and raw weights of a forward action; a plain TargetGroupArn counts as weight 1 (as ALB does). */
function forwardOf(action: ElbAction | undefined): WeightedTargetGroup[] {
  const fc = action?.ForwardConfig as { TargetGroups?: { TargetGroupArn: string; Weight?: number }[] } | undefined;
  if (fc?.TargetGroups?.length) return fc.TargetGroups.map((t) => ({ targetGroupArn: t.TargetGroupArn, weight: t.Weight ?? 1 }));
  const arn = action?.TargetGroupArn as string | undefined;
  return arn ? [{ targetGroupArn: arn, weight: 1 }] : [];
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** The forward action as a release compares it (target groups, weights, stickiness), as activities/traffic.ts reads it. */
function stateOf(action: ElbAction): ForwardState {
  const s = (action.ForwardConfig as { TargetGroupStickinessConfig?: { Enabled?: boolean; DurationSeconds?: number } } | undefined)
    ?.TargetGroupStickinessConfig;
  return { targetGroups: forwardOf(action), stickiness: s?.Enabled ? { enabled: true, durationSeconds: s.DurationSeconds } : { enabled: false } };
}

const targetKey = (t: Target): string => `${t.id}:${t.port ?? 80}`;

function notModelled(activity: string): never {
  throw ApplicationFailure.create({
    type: 'NotModelled',
    nonRetryable: true,
    message: `${activity}: not modelled by the fake ALB (segments run against moto)`,
  });
}

export class FakeAlb {
  /** The actions at `ref` (the listener's default actions, or the rule's) right now. */
  actions: ElbAction[];
  /** What the listener looked like before the release: a rollback must end exactly here. */
  readonly originalActions: ElbAction[];
  readonly targetGroups = new Map<string, FakeTargetGroup>();
  readonly stable: FakeTargetGroup;
  readonly calls: FakeCall[] = [];
  readonly notifications: Notification[] = [];
  /** Verdicts runAnalysis answers to analysis steps, in order; `pass` when empty. */
  readonly verdicts: (AnalysisVerdict | AnalysisRun)[] = [];
  /**
   * Verdicts of background analysis batches (`delayFirst` calls), in order; when empty a batch runs until the
   * workflow cancels it, as a real batch of `reportEvery` would outlast a short test.
   */
  readonly backgroundVerdicts: (AnalysisVerdict | AnalysisRun)[] = [];
  /** Calls the worker is running right now (see `settled`). */
  private readonly running = new Set<FakeCall>();
  /** `pass` batches waiting out a slice of the server's clock right now (see `settled`). */
  private serverSleeps = 0;
  private readonly scripts = new Map<ActivityName, Script[]>();
  private readonly holds: (() => void)[] = [];
  private readonly webhooks: string[];
  private readonly backgroundBatches: 'hold' | 'pass';
  /**
   * Waits `ms` of the test server's clock (test/support/time-skipping.ts sets it to `env.sleep`, the TestService's
   * UnlockTimeSkippingWithSleep): the server locks time skipping while an activity runs, so an activity that waits
   * on a wall-clock timer would hold workflow time still, and one that answers at once makes a loop of batches in
   * which no time passes. Waiting on the server's clock lets days of batches pass in seconds.
   */
  clock: ServerClock | undefined;

  constructor(
    readonly ref: TrafficRef,
    opts: FakeAlbOptions = {},
  ) {
    const lb = /listener\/(app\/[^/]+\/[0-9a-f]+)\//.exec(ref.listenerArn)?.[1] ?? 'app/unknown/0';
    const service = lb.split('/')[1] ?? 'svc';
    this.stable = this.createGroup(opts.stableName ?? `${service}-stable`, { ...opts.stableTags, [Tags.service]: service });
    // The shape DescribeListeners answers for a forward action with one target group and stickiness off.
    this.actions = [
      {
        Type: 'forward',
        Order: 1,
        TargetGroupArn: this.stable.arn,
        ForwardConfig: { TargetGroups: [{ TargetGroupArn: this.stable.arn, Weight: 1 }], TargetGroupStickinessConfig: { Enabled: false } },
      },
    ];
    this.originalActions = clone(this.actions);
    this.webhooks = opts.webhooks ?? ['ops'];
    this.backgroundBatches = opts.backgroundBatches ?? 'hold';
    this.heldKeys = opts.approverKeys ?? {};
    this.keysAnswered = opts.approverKeysAnswered ?? Promise.resolve();
    this.hookActivities = createHookActivities(opts.hooks ?? {});
  }

  /** The real hook activities over the test's hook configuration: hooks are HTTP, not AWS, so nothing to fake. */
  private readonly hookActivities: ReturnType<typeof createHookActivities>;

  private readonly keysAnswered: Promise<unknown>;

  /** The approver keys the fake worker holds. */
  private readonly heldKeys: Record<string, string[]>;

  /**
   * A person's edit of the listener behind the release's back (the console, another tool): the next drift-checked
   * write must refuse to overwrite it. Sets the forward action's weights by group name and/or its stickiness.
   */
  editByHand(change: { weights?: Record<string, number>; stickinessSeconds?: number }): void {
    const index = this.actions.findIndex((a) => a.Type === 'forward');
    const forward = this.actions[index] as ElbAction;
    const current = stateOf(forward);
    const groups = change.weights
      ? Object.entries(change.weights).map(([name, weight]) => ({ TargetGroupArn: this.arnOf(name), Weight: weight }))
      : current.targetGroups.map((g) => ({ TargetGroupArn: g.targetGroupArn, Weight: g.weight }));
    const stickiness =
      change.stickinessSeconds !== undefined
        ? { Enabled: true, DurationSeconds: change.stickinessSeconds }
        : current.stickiness.enabled
          ? { Enabled: true, DurationSeconds: current.stickiness.durationSeconds }
          : { Enabled: false };
    this.actions[index] = { Type: 'forward', Order: forward.Order, ForwardConfig: { TargetGroups: groups, TargetGroupStickinessConfig: stickiness } };
  }

  /** Scripts one target's health in a group (by name): `unhealthy` + `Target.FailedHealthChecks`, `draining`, ... */
  setTargetHealth(groupName: string, target: Target, state: string, reason?: string, description?: string): void {
    this.group(this.arnOf(groupName)).health.set(targetKey(target), { state, reason, description });
  }

  /** A group the deployer made (pair mode's blue/green); returns it. */
  addGroup(name: string, tags: Record<string, string> = {}, targets: Target[] = []): FakeTargetGroup {
    const g = this.createGroup(name, tags);
    g.targets.push(...targets.map((t) => ({ ...t })));
    return g;
  }

  /** The forward action as the release compares it. */
  forwardState(): ForwardState | undefined {
    const f = this.actions.find((a) => a.Type === 'forward');
    return f ? stateOf(f) : undefined;
  }

  // ---- what the test reads ----

  /** The forward action's target groups by name, with raw weights. */
  forward(): { name: string; weight: number }[] {
    return forwardOf(this.actions.find((a) => a.Type === 'forward')).map((t) => ({ name: this.nameOf(t.targetGroupArn), weight: t.weight }));
  }

  /** Names of the target groups that exist now. */
  groupNames(): string[] {
    return [...this.targetGroups.values()].map((g) => g.name);
  }

  /** The calls of one activity (or all), in the order the worker ran them. */
  callsOf(activity?: ActivityName): FakeCall[] {
    return activity ? this.calls.filter((c) => c.activity === activity) : [...this.calls];
  }

  /** Activity names in call order, mutations, drains and compensations only (no notify / runAnalysis / waitHealthy / reads). */
  writes(): string[] {
    return this.calls
      .filter((c) =>
        [
          'ensureTargetGroup',
          'registerTargets',
          'setForwardWeights',
          'restoreActions',
          'drainTargetGroup',
          'deleteTargetGroup',
          'prepareIdleGroup',
          'deregisterTargets',
        ].includes(c.activity),
      )
      .map((c) => {
        const input = c.input as { name?: string; weights?: WeightedTargetGroup[]; targetGroupArn?: string };
        if (c.activity === 'setForwardWeights')
          return `setForwardWeights ${(input.weights ?? []).map((w) => `${this.nameOf(w.targetGroupArn)}=${w.weight}`).join(',')}`;
        if (c.activity === 'ensureTargetGroup' || c.activity === 'deleteTargetGroup') return `${c.activity} ${input.name ?? ''}`;
        if (c.activity === 'drainTargetGroup' || c.activity === 'deregisterTargets') return `${c.activity} ${this.nameOf(input.targetGroupArn ?? '')}`;
        return c.activity;
      });
  }

  // ---- what the test scripts ----

  /** The next `times` calls of `activity` fail with `error` (retryable unless the error says otherwise). */
  fail(activity: ActivityName, error: Error | string, times = 1): void {
    let left = times;
    this.script(activity, () => {
      if (left <= 0) return;
      left -= 1;
      throw typeof error === 'string' ? ApplicationFailure.retryable(error, 'FakeAwsError') : error;
    });
  }

  /** Runs `fn` before each call of `activity` (throw to fail the call). */
  script(activity: ActivityName, fn: Script): void {
    this.scripts.set(activity, [...(this.scripts.get(activity) ?? []), fn]);
  }

  /**
   * Holds the next call of `activity` open until `release()` (heartbeating, so a cancellation from the workflow is
   * delivered); `matching` picks which call.
   */
  hold<I = unknown>(activity: ActivityName, matching: (input: I) => boolean = () => true): Hold<I> {
    let reached!: (input: I) => void;
    let release!: () => void;
    let ended!: (how: 'released' | 'cancelled') => void;
    const hold: Hold<I> = {
      reached: new Promise<I>((r) => (reached = r)),
      release: () => release(),
      ended: new Promise((r) => (ended = r)),
    };
    const released = new Promise<void>((r) => (release = r));
    this.holds.push(() => release());
    let used = false;
    this.script(activity, async (input) => {
      if (used || !matching(input as I)) return;
      used = true;
      reached(input as I);
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 50);
      try {
        await Promise.race([released, ctx.cancelled]);
        ended('released');
      } catch (err) {
        ended('cancelled');
        throw err;
      } finally {
        clearInterval(beat);
      }
    });
    return hold;
  }

  /**
   * Waits until no call of this fake is running, or says which still are after `timeoutMs`. The Java test server
   * stops skipping time for good when a workflow closes while one of its activities is still running on the worker
   * (the late completion is answered NotFound and its time lock is never released), so a test must not leave one.
   */
  async settled(timeoutMs = 20_000): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.running.size > 0 && Date.now() < deadline) {
      // A `pass` batch whose run has closed hears so only at the end of its slice of the server's clock, which runs at
      // wall speed while the test's client holds it (as it does once result() has returned): let that time pass.
      if (this.serverSleeps > 0 && this.clock) await this.clock.sleep(SLICE_MS);
      else await new Promise((r) => setTimeout(r, 20));
    }
    return this.running.size === 0 ? undefined : [...this.running].map((c) => `${c.activity} (attempt ${c.attempt})`).join(', ');
  }

  /** Lets every held call go (the file's teardown calls it so no activity outlives its test). */
  releaseAllHolds(): void {
    for (const r of this.holds) r();
  }

  // ---- the contract ----

  /** The activities of this fake, each recording its call and running the test's scripts first. */
  activities(): ReleaseActivities {
    const run = <I, O>(activity: ActivityName, fn: (input: I) => O | Promise<O>) => {
      return async (input: I): Promise<O> => {
        const call: FakeCall = { activity, input: clone(input), attempt: Context.current().info.attempt };
        this.calls.push(call);
        this.running.add(call);
        try {
          for (const s of this.scripts.get(activity) ?? []) await s(input, call.attempt);
          const out = await fn(input);
          call.outcome = 'ok';
          return out;
        } catch (err) {
          call.outcome = Context.current().cancellationSignal.aborted ? 'cancelled' : (err as Error).message;
          throw err;
        } finally {
          this.running.delete(call);
        }
      };
    };
    type In<K extends ActivityName> = Parameters<ReleaseActivities[K]>[0];
    return {
      discoverForwards: run('discoverForwards', (i: In<'discoverForwards'>) => this.discoverForwards(i)),
      readForward: run('readForward', (i: In<'readForward'>) => this.readForward(i)),
      checkDrift: run('checkDrift', (i: In<'checkDrift'>) => ({
        drifted: i.forwards.flatMap(({ ref, expected }): ForwardDrift[] => {
          const actual = this.readForward(ref).forward;
          const message = forwardDrift(expected, actual);
          return message ? [{ ref, expected, actual, message }] : [];
        }),
      })),
      ensureTargetGroup: run('ensureTargetGroup', (i: In<'ensureTargetGroup'>) => this.ensureTargetGroup(i)),
      retagVersion: run('retagVersion', (i: In<'retagVersion'>) => this.retagVersion(i)),
      registerTargets: run('registerTargets', (i: In<'registerTargets'>) => this.registerTargets(i)),
      waitHealthy: run('waitHealthy', (i: In<'waitHealthy'>) => this.waitHealthy(i)),
      setForwardWeights: run('setForwardWeights', (i: In<'setForwardWeights'>) => this.setForwardWeights(i)),
      restoreActions: run('restoreActions', (i: In<'restoreActions'>) => this.restoreActions(i)),
      checkTargetGroupRoom: run('checkTargetGroupRoom', (i: In<'checkTargetGroupRoom'>) => {
        this.checkRef(i);
        const onLoadBalancer = new Set(this.actions.flatMap((a) => (a.Type === 'forward' ? forwardOf(a).map((g) => g.targetGroupArn) : []))).size;
        return { onLoadBalancer, limit: 100, adding: i.adding.length };
      }),
      targetGroupOwner: run('targetGroupOwner', (i: In<'targetGroupOwner'>) => {
        const tags = this.targetGroups.get(i.targetGroupArn)?.tags ?? {};
        const stack = tags['aws:cloudformation:stack-name'];
        return !tags[Tags.releaseId] && stack !== undefined ? { owner: `tagged aws:cloudformation:stack-name=${stack}` } : {};
      }),
      setForwardStickiness: run('setForwardStickiness', (i: In<'setForwardStickiness'>) => this.setForwardStickiness(i)),
      restoreStickiness: run('restoreStickiness', (i: In<'restoreStickiness'>) => this.restoreStickiness(i)),
      drainTargetGroup: run('drainTargetGroup', (i: In<'drainTargetGroup'>) => this.drainTargetGroup(i)),
      deleteTargetGroup: run('deleteTargetGroup', (i: In<'deleteTargetGroup'>) => this.deleteTargetGroup(i)),
      prepareIdleGroup: run('prepareIdleGroup', (i: In<'prepareIdleGroup'>) => this.prepareIdleGroup(i)),
      deregisterTargets: run('deregisterTargets', (i: In<'deregisterTargets'>) => this.deregisterTargets(i)),
      runAnalysis: run('runAnalysis', (i: AnalysisRequest) => this.runAnalysis(i)),
      checkSegmentRoom: run('checkSegmentRoom', () => notModelled('checkSegmentRoom')),
      planSegmentRule: run('planSegmentRule', () => notModelled('planSegmentRule')),
      ensureSegmentRule: run('ensureSegmentRule', () => notModelled('ensureSegmentRule')),
      checkSegmentRule: run('checkSegmentRule', () => notModelled('checkSegmentRule')),
      deleteSegmentRule: run('deleteSegmentRule', () => notModelled('deleteSegmentRule')),
      notify: run('notify', (n: Notification) => this.notify(n)),
      // The worker's configuration, not AWS: not a call of the fake's (call lists stay about AWS).
      workerApproverKeys: async () => {
        await this.keysAnswered;
        return { keys: this.heldKeys };
      },
      callHook: run('callHook', (i: In<'callHook'>) => this.hookActivities.callHook(i)),
      workerHooks: () => this.hookActivities.workerHooks(),
    };
  }

  /**
   * Every ref must be this fake's one listener (ListenerNotFound otherwise). Clone mode: exactly one target group
   * gets traffic (UnsupportedListener). Pair mode: the group with traffic must be one of the pair (PairNotLive) and
   * the other may be in the action at weight 0.
   */
  private discoverForwards(input: { forwards: TrafficRef[]; pair?: { blue: string; green: string } }): DiscoveredForwards {
    for (const ref of input.forwards) this.checkRef(ref);
    const forwards = this.actions.filter((a) => a.Type === 'forward');
    const state = forwards[0] ? stateOf(forwards[0]) : undefined;
    const live = state?.targetGroups.filter((g) => g.weight > 0) ?? [];
    if (forwards.length !== 1 || live.length !== 1) {
      throw ApplicationFailure.create({
        type: ErrorTypes.UnsupportedListener,
        nonRetryable: true,
        message: `${describeRef(this.ref)}: the forward action sends traffic to ${live.length} target groups; a release needs exactly one`,
      });
    }
    const stableArn = (live[0] as WeightedTargetGroup).targetGroupArn;
    const others = (state as ForwardState).targetGroups.filter((g) => g.targetGroupArn !== stableArn);
    if (!input.pair && others.length > 0) {
      throw ApplicationFailure.create({
        type: ErrorTypes.UnsupportedListener,
        nonRetryable: true,
        message: `${describeRef(this.ref)}: the forward action holds other target groups at weight 0 (${others.map((g) => this.nameOf(g.targetGroupArn)).join(', ')})`,
      });
    }
    const base = this.discoverTrafficOf(stableArn);
    const out: DiscoveredForwards = {
      ...base,
      forwards: input.forwards.map((ref) => ({ ref, originalActions: clone(this.actions), forward: state as ForwardState })),
      targetType: 'ip',
    };
    if (input.pair) {
      const role = stableArn === input.pair.blue ? 'blue' : stableArn === input.pair.green ? 'green' : undefined;
      if (!role) {
        throw ApplicationFailure.create({
          type: ErrorTypes.PairNotLive,
          nonRetryable: true,
          message: `${describeRef(this.ref)} sends traffic to ${this.nameOf(stableArn)}, which is neither pair.blue nor pair.green`,
        });
      }
      const idleRole = role === 'blue' ? 'green' : 'blue';
      const idle = this.group(input.pair[idleRole]);
      out.live = role;
      out.idle = {
        role: idleRole,
        targetGroupArn: idle.arn,
        targetGroupName: idle.name,
        dimension: dimensionOf(idle.arn),
        attached: others.some((g) => g.targetGroupArn === idle.arn),
      };
    }
    return out;
  }

  private discoverTrafficOf(stableArn: string): DiscoveredTraffic {
    const stable = this.group(stableArn);
    const lbArn = this.ref.listenerArn.replace(':listener/', ':loadbalancer/').replace(/\/[0-9a-f]+$/, '');
    return {
      originalActions: clone(this.actions),
      stableTargetGroupArn: stable.arn,
      stableTargetGroupName: stable.name,
      stableDimension: dimensionOf(stable.arn),
      loadBalancerArn: lbArn,
      loadBalancerDimension: lbArn.slice(lbArn.indexOf(':loadbalancer/') + ':loadbalancer/'.length),
      vpcId: 'vpc-0fake',
    };
  }

  private readForward(ref: TrafficRef): { forward?: ForwardState; actionTypes: string[] } {
    this.checkRef(ref);
    const f = this.actions.find((a) => a.Type === 'forward');
    return { forward: f ? stateOf(f) : undefined, actionTypes: this.actions.map((a) => a.Type) };
  }

  private ensureTargetGroup(input: {
    sourceTargetGroupArn: string;
    name: string;
    tags: Record<string, string>;
    versionTags?: { keys: string[]; version: string };
  }): EnsuredTargetGroup {
    const source = this.group(input.sourceTargetGroupArn);
    const existing = [...this.targetGroups.values()].find((g) => g.name === input.name);
    if (existing) {
      if (existing.tags[Tags.releaseId] !== input.tags[Tags.releaseId]) {
        throw ApplicationFailure.create({
          type: ErrorTypes.TargetGroupNameConflict,
          nonRetryable: true,
          message: `target group ${input.name} exists and belongs to another release`,
        });
      }
      return { targetGroupArn: existing.arn, name: existing.name, dimension: dimensionOf(existing.arn), created: false };
    }
    // A copy of the source: its tags (copied version tags rewritten), then the release's own.
    const tags = { ...source.tags };
    for (const k of input.versionTags?.keys ?? []) if (k in tags) tags[k] = input.versionTags?.version as string;
    const g = this.createGroup(input.name, { ...tags, ...input.tags });
    g.deregistrationDelayMs = source.deregistrationDelayMs;
    return { targetGroupArn: g.arn, name: g.name, dimension: dimensionOf(g.arn), created: true };
  }

  private retagVersion(input: { targetGroupArn: string; keys: string[]; version: string }): { changed: string[] } {
    const g = this.group(input.targetGroupArn);
    const changed = input.keys.filter((k) => k in g.tags && g.tags[k] !== input.version);
    for (const k of changed) g.tags[k] = input.version;
    return { changed };
  }

  private registerTargets(input: { targetGroupArn: string; targets: Target[] }): void {
    const g = this.group(input.targetGroupArn);
    for (const t of input.targets) if (!g.targets.some((x) => targetKey(x) === targetKey(t))) g.targets.push({ ...t });
  }

  /** Whether any forward action sends the group traffic (`weighted`) or merely references it. */
  private routes(arn: string, weighted: boolean): boolean {
    return this.actions.some((a) => forwardOf(a).some((t) => t.targetGroupArn === arn && (!weighted || t.weight > 0)));
  }

  /** Each target's state as DescribeTargetHealth reports it. */
  private healthOf(g: FakeTargetGroup, targets: Target[]): TargetHealthReport[] {
    const attached = this.routes(g.arn, false);
    return targets.map((t) => {
      const key = targetKey(t);
      if (!g.targets.some((x) => targetKey(x) === key)) return { target: key, state: 'unavailable', reason: 'Target.NotRegistered' };
      if (!attached)
        return {
          target: key,
          state: 'unused',
          reason: 'Target.NotInUse',
          description: 'Target group is not configured to receive traffic from the load balancer',
        };
      const scripted = g.health.get(key);
      return scripted ? { target: key, ...scripted } : { target: key, state: 'healthy' };
    });
  }

  /**
   * Answers at once with the state the wait would end in: all healthy, or TargetsUnhealthy naming every target that
   * is not (details[0].targets), as the real activity does at `timeoutMs` (an activity that sat out the wait would
   * hold the test server's clock).
   */
  private waitHealthy(input: { targetGroupArn: string; targets: Target[]; timeoutMs: number }): HealthyTargets {
    const g = this.group(input.targetGroupArn);
    const reports = this.healthOf(g, input.targets);
    const healthy = reports.filter((r) => r.state === 'healthy').length;
    if (healthy === reports.length) return { healthy, waitedMs: 0, targets: reports };
    const bad = reports
      .filter((r) => r.state !== 'healthy')
      .map((r) => `${r.target} ${r.state}${r.reason ? ` (${r.reason})` : ''}`)
      .join(', ');
    throw ApplicationFailure.create({
      type: ErrorTypes.TargetsUnhealthy,
      nonRetryable: true,
      message: `${healthy}/${reports.length} targets healthy in ${dimensionOf(g.arn)} after ${Math.round(input.timeoutMs / 1000)}s: ${bad}`,
      details: [{ targets: reports }],
    });
  }

  private setForwardWeights(input: TrafficRef & { weights: WeightedTargetGroup[]; expected?: ForwardState }): VerifiedWeights {
    this.checkRef(input);
    if (input.weights.length === 0 || input.weights.length > 5 || input.weights.every((w) => w.weight === 0)) {
      throw ApplicationFailure.create({
        type: ErrorTypes.InvalidAwsRequest,
        nonRetryable: true,
        message: `invalid forward weights ${JSON.stringify(input.weights)}`,
      });
    }
    for (const w of input.weights) {
      this.group(w.targetGroupArn);
      if (!Number.isInteger(w.weight) || w.weight < 0 || w.weight > 100) {
        throw ApplicationFailure.create({ type: ErrorTypes.InvalidAwsRequest, nonRetryable: true, message: `weight ${w.weight} is not an integer 0..100` });
      }
    }
    const index = this.actions.findIndex((a) => a.Type === 'forward');
    if (index < 0) {
      if (input.expected) throw drifted(input, input.expected, undefined);
      throw ApplicationFailure.create({ type: ErrorTypes.UnsupportedListener, nonRetryable: true, message: `${describeRef(input)} has no forward action` });
    }
    const forward = this.actions[index] as ElbAction;
    const current = stateOf(forward);
    // A retry after a write that took effect finds the requested state: done, not drift.
    const requested = withWeights(input.expected ?? current, input.weights);
    if (sameForward(current, requested)) return { weights: current.targetGroups, unchanged: true, forward: current };
    if (input.expected && !sameForward(current, input.expected)) throw drifted(input, input.expected, current);
    const stickiness = (forward.ForwardConfig as { TargetGroupStickinessConfig?: unknown } | undefined)?.TargetGroupStickinessConfig;
    this.actions[index] = {
      Type: 'forward',
      Order: forward.Order,
      ForwardConfig: {
        TargetGroups: input.weights.map((w) => ({ TargetGroupArn: w.targetGroupArn, Weight: w.weight })),
        ...(stickiness ? { TargetGroupStickinessConfig: stickiness } : {}),
      },
    };
    const verified = stateOf(this.actions[index] as ElbAction);
    return { weights: verified.targetGroups, unchanged: false, forward: verified };
  }

  /** The forward action's stickiness, as the real activity sets it: the expected groups kept, drift refused. */
  private setForwardStickiness(input: TrafficRef & { stickiness: ForwardState['stickiness']; expected: ForwardState }): VerifiedWeights {
    this.checkRef(input);
    const index = this.actions.findIndex((a) => a.Type === 'forward');
    if (index < 0) throw drifted(input, input.expected, undefined);
    const current = stateOf(this.actions[index] as ElbAction);
    const done = sameTargetGroups(current.targetGroups, input.expected.targetGroups) && sameStickiness(current.stickiness, input.stickiness);
    if (!done && !sameForward(current, input.expected)) throw drifted(input, input.expected, current);
    this.writeStickiness(index, input.stickiness);
    const verified = stateOf(this.actions[index] as ElbAction);
    return { weights: verified.targetGroups, unchanged: done, forward: verified };
  }

  /** Back to `original` when the stickiness is still what the release set; someone else's stays (in `kept`). */
  private restoreStickiness(input: TrafficRef & { original: ForwardState['stickiness']; set: ForwardState['stickiness'] }): RestoredForward {
    this.checkRef(input);
    const index = this.actions.findIndex((a) => a.Type === 'forward');
    if (index < 0) return { weights: [], unchanged: true, kept: ['no forward action (someone replaced it): no stickiness to restore'] };
    const current = stateOf(this.actions[index] as ElbAction);
    if (sameStickiness(current.stickiness, input.original)) return { weights: current.targetGroups, unchanged: true, kept: [], forward: current };
    if (!sameStickiness(current.stickiness, input.set)) {
      const kept = `stickiness: ${describeStickiness(current.stickiness)} (the release set ${describeStickiness(input.set)}, was: ${describeStickiness(input.original)})`;
      return { weights: current.targetGroups, unchanged: true, kept: [kept], forward: current };
    }
    this.writeStickiness(index, input.original);
    const verified = stateOf(this.actions[index] as ElbAction);
    return { weights: verified.targetGroups, unchanged: false, kept: [], forward: verified };
  }

  private writeStickiness(index: number, stickiness: ForwardState['stickiness']): void {
    const forward = this.actions[index] as ElbAction;
    this.actions[index] = {
      Type: 'forward',
      Order: forward.Order,
      ForwardConfig: {
        TargetGroups: forwardOf(forward).map((g) => ({ TargetGroupArn: g.targetGroupArn, Weight: g.weight })),
        TargetGroupStickinessConfig: stickiness.enabled ? { Enabled: true, DurationSeconds: stickiness.durationSeconds } : { Enabled: false },
      },
    };
  }

  /**
   * Puts the recorded forward's target groups and weights back; keeps what the release never changes as it is now
   * (stickiness, other actions) and says so in `kept`; a forward action someone removed is not recreated.
   */
  private restoreActions(input: TrafficRef & { actions: ElbAction[] }): RestoredForward {
    this.checkRef(input);
    const original = input.actions.find((a) => a.Type === 'forward');
    for (const t of forwardOf(original)) this.group(t.targetGroupArn);
    if (!original) {
      this.actions = clone(input.actions);
      return { weights: [], unchanged: false, kept: [] };
    }
    const types = (list: ElbAction[]): string => list.map((a) => a.Type).join(', ');
    const index = this.actions.findIndex((a) => a.Type === 'forward');
    if (index < 0) {
      return {
        weights: [],
        unchanged: true,
        kept: [
          `actions: ${types(this.actions) || 'none'} (were: ${types(input.actions)}): the forward action was removed by someone else and is not recreated`,
        ],
      };
    }
    const current = stateOf(this.actions[index] as ElbAction);
    const originalState = stateOf(original);
    const kept: string[] = [];
    if (types(this.actions) !== types(input.actions)) kept.push(`actions: ${types(this.actions)} (were: ${types(input.actions)})`);
    if (!sameStickiness(current.stickiness, originalState.stickiness))
      kept.push(`stickiness: ${describeStickiness(current.stickiness)} (was: ${describeStickiness(originalState.stickiness)})`);
    if (sameTargetGroups(current.targetGroups, originalState.targetGroups)) return { weights: current.targetGroups, unchanged: true, kept, forward: current };
    const forward = this.actions[index] as ElbAction;
    this.actions[index] = {
      ...clone(original),
      Order: forward.Order,
      ForwardConfig: {
        ...(original.ForwardConfig as Record<string, unknown>),
        TargetGroupStickinessConfig: current.stickiness.enabled ? { Enabled: true, DurationSeconds: current.stickiness.durationSeconds } : { Enabled: false },
      },
    };
    const verified = stateOf(this.actions[index] as ElbAction);
    return { weights: verified.targetGroups, unchanged: false, kept, forward: verified };
  }

  /**
   * The guard of the real activity (nothing routes to the group: TargetGroupStillRouted, retryable), then the
   * deregistration delay capped by `capMs`, answered at once (a waiting activity would hold the test server's clock).
   */
  private drainTargetGroup(input: TrafficRef & { targetGroupArn: string; capMs: number; until?: 'detached' | 'no-traffic' }): DrainResult {
    this.checkRef(input);
    const g = this.targetGroups.get(input.targetGroupArn);
    if (!g) return { delayMs: 0, waitedMs: 0, capped: false };
    if (this.routes(g.arn, input.until === 'no-traffic')) {
      throw ApplicationFailure.create({
        type: ErrorTypes.TargetGroupStillRouted,
        message: `${g.name} is still ${input.until === 'no-traffic' ? 'getting traffic from' : 'in'} the forward action`,
      });
    }
    return { delayMs: g.deregistrationDelayMs, waitedMs: Math.min(g.deregistrationDelayMs, input.capMs), capped: g.deregistrationDelayMs > input.capMs };
  }

  private deleteTargetGroup(input: TrafficRef & { name: string }): { deleted: boolean } {
    this.checkRef(input);
    const g = [...this.targetGroups.values()].find((x) => x.name === input.name);
    if (!g) return { deleted: false };
    // The guard every delete goes through: nothing that still forwards to the group may lose it.
    if (this.routes(g.arn, false)) {
      throw ApplicationFailure.create({ type: ErrorTypes.TargetGroupStillRouted, message: `${g.name} is still in the forward action` });
    }
    this.targetGroups.delete(g.arn);
    return { deleted: true };
  }

  private prepareIdleGroup(input: { targetGroupArn: string; targets?: Target[] }): PreparedIdleGroup {
    const g = this.group(input.targetGroupArn);
    if (!input.targets) {
      if (g.targets.length === 0) {
        throw ApplicationFailure.create({
          type: ErrorTypes.IdleGroupEmpty,
          nonRetryable: true,
          message: `${g.name} has no targets: register the canary's first`,
        });
      }
      return { targets: clone(g.targets), registered: [] };
    }
    const named = new Set(input.targets.map(targetKey));
    const strangers = g.targets.filter((t) => !named.has(targetKey(t)));
    if (strangers.length) {
      throw ApplicationFailure.create({
        type: ErrorTypes.IdleGroupNotEmpty,
        nonRetryable: true,
        message: `${g.name} holds targets nobody named (${strangers.map(targetKey).join(', ')}): they would get canary traffic`,
      });
    }
    const registered = input.targets.filter((t) => !g.targets.some((x) => targetKey(x) === targetKey(t)));
    g.targets.push(...clone(registered));
    return { targets: clone(input.targets), registered };
  }

  private deregisterTargets(input: TrafficRef & { targetGroupArn: string; targets?: Target[] }): { deregistered: Target[] } {
    this.checkRef(input);
    const g = this.group(input.targetGroupArn);
    if (this.routes(g.arn, true)) {
      throw ApplicationFailure.create({ type: ErrorTypes.TargetGroupStillRouted, message: `${g.name} still gets traffic from the forward action` });
    }
    const which = new Set((input.targets ?? g.targets).map(targetKey));
    const deregistered = g.targets.filter((t) => which.has(targetKey(t)));
    g.targets = g.targets.filter((t) => !which.has(targetKey(t)));
    return { deregistered };
  }

  private async runAnalysis(input: AnalysisRequest): Promise<AnalysisRun> {
    const queue = input.delayFirst ? this.backgroundVerdicts : this.verdicts;
    if (input.delayFirst && queue.length === 0) {
      if (this.backgroundBatches === 'hold') await heartbeatUntilCancelled();
      else return this.passInServerTime(input);
    }
    const next = queue.shift() ?? 'pass';
    const run = typeof next === 'string' ? analysisRun(input.templateName, next) : next;
    return { ...run, counters: input.previous ? addCounters(input.previous, run.counters) : run.counters };
  }

  /**
   * A healthy background batch: `count` measurements, each after `intervalMs` of the server's clock, waited in
   * slices shorter than the batch's heartbeat timeout with a heartbeat recorded (and awaited) after each: the SDK's
   * own heartbeats are throttled and would reach the server after time had skipped past the timeout.
   */
  private async passInServerTime(input: AnalysisRequest): Promise<AnalysisRun> {
    const clock = this.clock;
    if (!clock) throw new Error('backgroundBatches: pass needs FakeAlb.clock (time-skipping.ts sets it)');
    const ctx = Context.current();
    for (let left = input.count * input.intervalMs; left > 0; left -= SLICE_MS) {
      this.serverSleeps++;
      try {
        await clock.sleep(Math.min(SLICE_MS, left));
      } finally {
        this.serverSleeps--;
      }
      const beat = await clock.heartbeat(ctx.info.taskToken);
      if (beat === 'ok') continue;
      // The run closed with this batch in flight (it continued as new): the server keeps the batch's time lock for
      // ever (temporalio/sdk-java#1138), so the fake gives it back before it stops.
      if (beat === 'closed') await clock.unlock();
      // The SDK learns the cancellation from its own next heartbeat and ends the activity as cancelled.
      const beats = setInterval(() => ctx.heartbeat(), 20);
      try {
        await ctx.cancelled;
      } finally {
        clearInterval(beats);
      }
    }
    const counters: AnalysisCounters = { measurements: input.count, failed: 0, inconclusive: 0, errors: 0, consecutiveErrors: 0 };
    return {
      templateName: input.templateName,
      verdict: 'pass',
      reason: `${input.count} measurements in bounds`,
      counters: input.previous ? addCounters(input.previous, counters) : counters,
    };
  }

  private notify(n: Notification): { status: number } {
    if (!this.webhooks.includes(n.webhook)) {
      throw ApplicationFailure.create({ type: 'WebhookNotConfigured', nonRetryable: true, message: `webhook "${n.webhook}" has no URL on this worker` });
    }
    this.notifications.push(clone(n));
    return { status: 204 };
  }

  private checkRef(ref: TrafficRef): void {
    if (ref.listenerArn !== this.ref.listenerArn || ref.ruleArn !== this.ref.ruleArn) {
      throw ApplicationFailure.create({ type: ErrorTypes.ListenerNotFound, nonRetryable: true, message: `no listener ${ref.listenerArn}` });
    }
  }

  private createGroup(name: string, tags: Record<string, string>): FakeTargetGroup {
    nextId += 1;
    const arn = `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT}:targetgroup/${name}/${nextId.toString(16).padStart(16, '0')}`;
    const g: FakeTargetGroup = { arn, name, tags: { ...tags }, targets: [], health: new Map(), deregistrationDelayMs: 300_000 };
    this.targetGroups.set(arn, g);
    return g;
  }

  private group(arn: string): FakeTargetGroup {
    const g = this.targetGroups.get(arn);
    if (!g) throw ApplicationFailure.create({ type: ErrorTypes.InvalidAwsRequest, nonRetryable: true, message: `TargetGroupNotFound: ${arn}` });
    return g;
  }

  private arnOf(name: string): string {
    const g = [...this.targetGroups.values()].find((x) => x.name === name);
    if (!g) throw new Error(`the fake has no target group ${name}`);
    return g.arn;
  }

  private nameOf(arn: string): string {
    return this.targetGroups.get(arn)?.name ?? /targetgroup\/([^/]+)\//.exec(arn)?.[1] ?? arn;
  }
}

/** `targetgroup/NAME/ID`: the CloudWatch dimension of a group ARN. */
function dimensionOf(arn: string): string {
  return arn.slice(arn.indexOf('targetgroup/'));
}

async function heartbeatUntilCancelled(): Promise<never> {
  const ctx = Context.current();
  const beat = setInterval(() => ctx.heartbeat(), 50);
  try {
    return await ctx.cancelled;
  } finally {
    clearInterval(beat);
  }
}

function addCounters(a: AnalysisCounters, b: AnalysisCounters): AnalysisCounters {
  return {
    measurements: a.measurements + b.measurements,
    failed: a.failed + b.failed,
    inconclusive: a.inconclusive + b.inconclusive,
    errors: a.errors + b.errors,
    consecutiveErrors: b.consecutiveErrors,
    // As the real activity's addMeasurement: the newest evidence, else the one carried in.
    ...((b.evidence ?? a.evidence) ? { evidence: b.evidence ?? a.evidence } : {}),
  };
}

/**
 * One set of activities for a worker that serves many releases: each call goes to the fake of the release that
 * made it (by workflow id), so tests of one file share a worker but never AWS state.
 */
export function routedActivities(fakes: Map<string, FakeAlb>): ReleaseActivities {
  const route = <K extends ActivityName>(name: K): ReleaseActivities[K] =>
    ((input: never) => {
      const workflowId = Context.current().info.workflowExecution?.workflowId ?? '';
      const fake = fakes.get(workflowId);
      if (!fake) throw ApplicationFailure.nonRetryable(`no fake ALB for ${workflowId}`, 'NoFake');
      return (fake.activities()[name] as (i: never) => unknown)(input);
    }) as ReleaseActivities[K];
  // Typed as a record so that an activity added to the contract and missing here fails the typecheck.
  const all: Record<ActivityName, true> = {
    discoverForwards: true,
    readForward: true,
    checkDrift: true,
    ensureTargetGroup: true,
    retagVersion: true,
    registerTargets: true,
    waitHealthy: true,
    setForwardWeights: true,
    restoreActions: true,
    checkTargetGroupRoom: true,
    targetGroupOwner: true,
    setForwardStickiness: true,
    restoreStickiness: true,
    drainTargetGroup: true,
    deleteTargetGroup: true,
    prepareIdleGroup: true,
    deregisterTargets: true,
    runAnalysis: true,
    checkSegmentRoom: true,
    planSegmentRule: true,
    ensureSegmentRule: true,
    checkSegmentRule: true,
    deleteSegmentRule: true,
    notify: true,
    workerApproverKeys: true,
    callHook: true,
    workerHooks: true,
  };
  return Object.fromEntries((Object.keys(all) as ActivityName[]).map((n) => [n, route(n)])) as unknown as ReleaseActivities;
}
