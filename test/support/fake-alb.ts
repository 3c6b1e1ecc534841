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
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  ErrorTypes,
  Tags,
  type DiscoveredTraffic,
  type ElbAction,
  type EnsuredTargetGroup,
  type ReleaseActivities,
  type TrafficRef,
  type VerifiedWeights,
  type WeightedTargetGroup,
} from '../../activities/contract';
import type { Notification } from '../../activities/notify';
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
}

export interface FakeAlbOptions {
  /** The stable target group's name; default `<service>-stable`. */
  stableName?: string;
  /** Webhooks configured on the worker (notify fails with WebhookNotConfigured for others). Default: ops. */
  webhooks?: string[];
}

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
  private readonly scripts = new Map<ActivityName, Script[]>();
  private readonly holds: (() => void)[] = [];
  private readonly webhooks: string[];

  constructor(
    readonly ref: TrafficRef,
    opts: FakeAlbOptions = {},
  ) {
    const lb = /listener\/(app\/[^/]+\/[0-9a-f]+)\//.exec(ref.listenerArn)?.[1] ?? 'app/unknown/0';
    const service = lb.split('/')[1] ?? 'svc';
    this.stable = this.createGroup(opts.stableName ?? `${service}-stable`, { [Tags.service]: service });
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

  /** Activity names in call order, mutations and compensations only (no notify / runAnalysis / waitHealthy). */
  writes(): string[] {
    return this.calls
      .filter((c) => ['ensureTargetGroup', 'registerTargets', 'setForwardWeights', 'restoreActions', 'deleteTargetGroup'].includes(c.activity))
      .map((c) => {
        const input = c.input as { name?: string; weights?: WeightedTargetGroup[] };
        if (c.activity === 'setForwardWeights')
          return `setForwardWeights ${(input.weights ?? []).map((w) => `${this.nameOf(w.targetGroupArn)}=${w.weight}`).join(',')}`;
        if (c.activity === 'ensureTargetGroup' || c.activity === 'deleteTargetGroup') return `${c.activity} ${input.name ?? ''}`;
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
  async settled(timeoutMs = 5_000): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
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
    return {
      discoverTraffic: run('discoverTraffic', (ref: TrafficRef) => this.discoverTraffic(ref)),
      ensureTargetGroup: run('ensureTargetGroup', (i: Parameters<ReleaseActivities['ensureTargetGroup']>[0]) => this.ensureTargetGroup(i)),
      registerTargets: run('registerTargets', (i: { targetGroupArn: string; targets: Target[] }) => this.registerTargets(i)),
      waitHealthy: run('waitHealthy', (i: { targetGroupArn: string; targets: Target[] }) => ({
        healthy: this.group(i.targetGroupArn).targets.filter((t) => i.targets.some((x) => x.id === t.id && x.port === t.port)).length,
        waitedMs: 0,
      })),
      setForwardWeights: run('setForwardWeights', (i: TrafficRef & { weights: WeightedTargetGroup[] }) => this.setForwardWeights(i)),
      restoreActions: run('restoreActions', (i: TrafficRef & { actions: ElbAction[] }) => this.restoreActions(i)),
      deleteTargetGroup: run('deleteTargetGroup', (i: TrafficRef & { name: string }) => this.deleteTargetGroup(i)),
      runAnalysis: run('runAnalysis', (i: AnalysisRequest) => this.runAnalysis(i)),
      notify: run('notify', (n: Notification) => this.notify(n)),
    };
  }

  private discoverTraffic(ref: TrafficRef): DiscoveredTraffic {
    this.checkRef(ref);
    const forwards = this.actions.filter((a) => a.Type === 'forward');
    const targets = forwardOf(forwards[0]);
    if (forwards.length !== 1 || targets.length !== 1) {
      throw ApplicationFailure.create({
        type: ErrorTypes.UnsupportedListener,
        nonRetryable: true,
        message: `forward action has ${targets.length} target groups`,
      });
    }
    const stable = this.group((targets[0] as WeightedTargetGroup).targetGroupArn);
    const lbArn = ref.listenerArn.replace(':listener/', ':loadbalancer/').replace(/\/[0-9a-f]+$/, '');
    return {
      originalActions: clone(this.actions),
      stableTargetGroupArn: stable.arn,
      stableTargetGroupName: stable.name,
      stableDimension: stable.arn.slice(stable.arn.indexOf('targetgroup/')),
      loadBalancerArn: lbArn,
      loadBalancerDimension: lbArn.slice(lbArn.indexOf(':loadbalancer/') + ':loadbalancer/'.length),
      vpcId: 'vpc-0fake',
    };
  }

  private ensureTargetGroup(input: { sourceTargetGroupArn: string; name: string; tags: Record<string, string> }): EnsuredTargetGroup {
    this.group(input.sourceTargetGroupArn);
    const existing = [...this.targetGroups.values()].find((g) => g.name === input.name);
    if (existing) {
      if (existing.tags[Tags.releaseId] !== input.tags[Tags.releaseId]) {
        throw ApplicationFailure.create({
          type: ErrorTypes.TargetGroupNameConflict,
          nonRetryable: true,
          message: `target group ${input.name} exists and belongs to another release`,
        });
      }
      return { targetGroupArn: existing.arn, name: existing.name, dimension: existing.arn.slice(existing.arn.indexOf('targetgroup/')), created: false };
    }
    const g = this.createGroup(input.name, input.tags);
    return { targetGroupArn: g.arn, name: g.name, dimension: g.arn.slice(g.arn.indexOf('targetgroup/')), created: true };
  }

  private registerTargets(input: { targetGroupArn: string; targets: Target[] }): void {
    const g = this.group(input.targetGroupArn);
    for (const t of input.targets) if (!g.targets.some((x) => x.id === t.id && x.port === t.port)) g.targets.push({ ...t });
  }

  private setForwardWeights(input: TrafficRef & { weights: WeightedTargetGroup[] }): VerifiedWeights {
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
    const forward = this.actions[index] as ElbAction;
    const same = JSON.stringify(forwardOf(forward)) === JSON.stringify(input.weights);
    if (!same) {
      const stickiness = (forward.ForwardConfig as { TargetGroupStickinessConfig?: unknown } | undefined)?.TargetGroupStickinessConfig;
      this.actions[index] = {
        Type: 'forward',
        Order: forward.Order,
        ForwardConfig: {
          TargetGroups: input.weights.map((w) => ({ TargetGroupArn: w.targetGroupArn, Weight: w.weight })),
          ...(stickiness ? { TargetGroupStickinessConfig: stickiness } : {}),
        },
      };
    }
    return { weights: forwardOf(this.actions[index]), unchanged: same };
  }

  private restoreActions(input: TrafficRef & { actions: ElbAction[] }): VerifiedWeights {
    this.checkRef(input);
    for (const a of input.actions) for (const t of forwardOf(a)) this.group(t.targetGroupArn);
    this.actions = clone(input.actions);
    return { weights: forwardOf(this.actions.find((a) => a.Type === 'forward')), unchanged: false };
  }

  private deleteTargetGroup(input: TrafficRef & { name: string }): { deleted: boolean } {
    this.checkRef(input);
    const g = [...this.targetGroups.values()].find((x) => x.name === input.name);
    if (!g) return { deleted: false };
    // The guard every delete goes through: nothing that still forwards to the group may lose it.
    if (this.actions.some((a) => forwardOf(a).some((t) => t.targetGroupArn === g.arn))) {
      throw ApplicationFailure.create({ type: ErrorTypes.TargetGroupStillRouted, message: `${g.name} is still in the forward action` });
    }
    this.targetGroups.delete(g.arn);
    return { deleted: true };
  }

  private async runAnalysis(input: AnalysisRequest): Promise<AnalysisRun> {
    const queue = input.delayFirst ? this.backgroundVerdicts : this.verdicts;
    if (input.delayFirst && queue.length === 0) await heartbeatUntilCancelled();
    const next = queue.shift() ?? 'pass';
    const run = typeof next === 'string' ? analysisRun(input.templateName, next) : next;
    return { ...run, counters: input.previous ? addCounters(input.previous, run.counters) : run.counters };
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
    const g: FakeTargetGroup = { arn, name, tags: { ...tags }, targets: [] };
    this.targetGroups.set(arn, g);
    return g;
  }

  private group(arn: string): FakeTargetGroup {
    const g = this.targetGroups.get(arn);
    if (!g) throw ApplicationFailure.create({ type: ErrorTypes.InvalidAwsRequest, nonRetryable: true, message: `TargetGroupNotFound: ${arn}` });
    return g;
  }

  private nameOf(arn: string): string {
    return this.targetGroups.get(arn)?.name ?? /targetgroup\/([^/]+)\//.exec(arn)?.[1] ?? arn;
  }
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
  return {
    discoverTraffic: route('discoverTraffic'),
    ensureTargetGroup: route('ensureTargetGroup'),
    registerTargets: route('registerTargets'),
    waitHealthy: route('waitHealthy'),
    setForwardWeights: route('setForwardWeights'),
    restoreActions: route('restoreActions'),
    deleteTargetGroup: route('deleteTargetGroup'),
    runAnalysis: route('runAnalysis'),
    notify: route('notify'),
  };
}
