/**
 * Traffic and metric simulator for the demo and the benchmarks.
 *
 * Nothing serves real requests locally, so this stands in for the ALB's own CloudWatch reporting: every tick
 * it reads the live forward action from the AWS API, splits a request budget across the target groups by
 * weight, draws errors and latencies from each version's fault profile, and publishes ALB-shaped metrics
 * (`AWS/ApplicationELB`, dimensions TargetGroup + LoadBalancer). Reading the listener every tick, rather than
 * being told the weights, is the point: the metrics follow whatever the release workflow really did to AWS.
 *
 * By default (the realism layer, see metrics-realism.ts) it publishes the way ALB does: one datapoint per 60 s
 * bucket (compressed by the time scale), counts summed per bucket, no datapoint for a zero count, nothing for a
 * group that served nothing, TargetResponseTime as the bucket's statistics, and each bucket only once it has
 * closed and its delivery lag has passed. `realism: false` (CANARY_REALISM=off) publishes every tick at once.
 */
import { PutMetricDataCommand, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import { DescribeListenersCommand, DescribeRulesCommand, DescribeTagsCommand, type Action } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { AwsClients } from '../activities/aws-clients';
import { forwardTargets, loadBalancerDimension, targetGroupDimension } from '../activities/traffic';
import { checkPopulation, routePopulation, type Population } from './alb-rules';
import { BucketedMetrics, metricsRealism, type MetricsRealismOptions } from './metrics-realism';
import { realismFromEnv, timeScaleFromEnv } from './stack';

// Module-local, read once: inside a vm context (jest's test environment; the workflow sandbox is one too) each lookup
// of a global goes through the context's interceptor, which made the judge's simulations 7 times slower under jest.
const Math = globalThis.Math;
const Number = globalThis.Number;

/** How one version of the service behaves. */
export interface FaultProfile {
  /** Share of requests answered 5xx, 0..1. */
  errorRate: number;
  /** Mean target response time in milliseconds. */
  latencyMs: number;
  /** Standard deviation of the response time relative to its mean; 0.1 when absent. */
  latencyJitter?: number;
  /** What the ALB's health checks of this version find (the realism layer, dev/alb-realism.ts, reports it); healthy when absent. */
  health?: 'healthy' | 'unhealthy';
  /**
   * Share of requests the version never answers, 0..1: it crashed, reset or refused the connection, or timed out. The
   * ALB then answers 502/504 itself: counted in TargetConnectionErrorCount (per target group) and HTTPCode_ELB_5XX_Count
   * (per load balancer only), never in HTTPCode_Target_5XX_Count or TargetResponseTime; still in RequestCount. 0 when absent.
   */
  connectionErrorRate?: number;
  /**
   * Share of checkout visits that end in an order, 0..1 (a business metric: ./business-metrics.ts exports it to
   * Prometheus; this simulator's ALB metrics ignore it); 0.3 when absent.
   */
  conversion?: number;
}

/** A version that never fails and answers in about 40 ms. */
export const healthyProfile: Readonly<FaultProfile> = Object.freeze({ errorRate: 0, latencyMs: 40, latencyJitter: 0.1 });

/** What one target group received in one tick. */
export interface SimulatedSplit {
  targetGroupArn: string;
  /** From the target group's tags (`canary:version`, else `version`), else its name. */
  version: string;
  /** The weight as the forward action states it (a plain TargetGroupArn counts as 1). */
  weight: number;
  requests: number;
  /** Requests the version answered with a 5xx. */
  errors: number;
  /** Requests the version never answered (connection refused, reset, timed out): the ALB's own 502/504. */
  connectionErrors: number;
  /** Mean of the drawn response times of the answered requests; 0 when none was answered. */
  meanLatencyMs: number;
  /** With `population`: the share of all traffic this group received, per traffic class (`everyone` for the rest). */
  classShares?: Record<string, number>;
}

/** One tick of the simulator. */
export interface SimulatorTick {
  at: Date;
  /** Every target group of the forward action, zero-weight ones included (with no requests). */
  split: SimulatedSplit[];
  /** Set when the tick failed; a failed tick published nothing (its one PutMetricData is the last call). */
  error?: Error;
  /** With `users`: per user (its index) who sent requests in this tick, the target groups that served them. */
  users?: Record<string, string[]>;
}

export interface SimulatorOptions {
  aws: AwsClients;
  /** The ALB listener; the LoadBalancer dimension comes from it, and its default action unless ruleArn is set. */
  listenerArn: string;
  /** Read this rule's forward action instead of the listener's default action. */
  ruleArn?: string;
  requestsPerSecond: number;
  /** Tick period, e.g. 1000; each tick carries `requestsPerSecond * tickMs / 1000` requests. */
  tickMs: number;
  /** Fault profile per version. */
  profiles: Record<string, FaultProfile>;
  /** For versions absent from `profiles`; healthyProfile when absent. */
  defaultProfile?: FaultProfile;
  /** PRNG seed: the same seed and the same sequence of weights draw the same errors and latencies. */
  seed?: number;
  /** Called after every tick, failed ones included; an exception thrown here is recorded like an AWS error. */
  onTick?: (t: SimulatorTick) => void;
  /**
   * Route every request by the listener's real rules (priority order, conditions; see ./alb-rules.ts) instead of the
   * weights of one forward action: `groups` are shares of the traffic that carry a segment's attributes (a header, a
   * cookie, a source address, a country header), merged over `base`; the rest (class `everyone`) is `base`, by
   * default a request the service's rule (`ruleArn`) matches. So a segment rule, not a weight, decides what the
   * canary's metrics are made of.
   */
  population?: Population;
  /**
   * Simulated users, each sending a share of the requests: with target group stickiness on the forward action
   * (TargetGroupStickinessConfig), a user stays on the group it was first sent to for the stickiness duration (AWS
   * seconds, compressed by the time scale), as ALB does with its AWSALBTG cookie, as long as that group still has weight
   * in the action; without stickiness every request is routed by the weights alone. Not with `population`.
   */
  users?: number;
  /**
   * With `users`: how long (real ms) a user stays before a new one (a new session) takes its place; forever when
   * absent. New users are how shifted weights reach a sticky forward action: they count new sessions.
   */
  userLifetimeMs?: number;
  /**
   * ALB-shaped delivery (buckets, sparse, late): on unless CANARY_REALISM=off; `false` publishes every tick at once.
   * The time scale comes from CANARY_TIME_SCALE unless given.
   */
  realism?: MetricsRealismOptions | false;
}

/** A running simulator. */
export interface Simulator {
  /** Stops scheduling ticks and waits for the one in flight. */
  stop(): Promise<void>;
  /** Changes a version's behaviour from the next tick on. */
  setProfile(version: string, profile: FaultProfile): void;
  /** Ticks completed, failed ones included. */
  ticks(): number;
  lastTick(): SimulatorTick | undefined;
  /** Failures so far: failed ticks plus exceptions thrown by onTick. */
  errors(): number;
  /** The latest failure, AWS's error kept as it came (name, message, $metadata). */
  lastError(): Error | undefined;
  /** With realism: the bucket length (ms) and delivery lag (ms) in real time; undefined without. */
  buckets(): { bucketMs: number; lagMs: number } | undefined;
}

/** One target group's share of a tick: `part / whole` of its requests, or (with `users`) the `requests` it got and who sent them. */
interface RoutedGroup {
  targetGroupArn: string;
  weight: number;
  part: number;
  whole: number;
  classShares?: Record<string, number>;
  requests?: number;
  users?: Record<string, string[]>;
}

/** The most a late tick draws of the ticks it missed (see slotsUntil in startSimulator). */
const MAX_CATCH_UP_MS = 60_000;

/** Namespace and metric names the simulator publishes, as a real ALB does. */
export const simulatedMetrics = {
  namespace: 'AWS/ApplicationELB',
  requestCount: 'RequestCount',
  target5xx: 'HTTPCode_Target_5XX_Count',
  targetResponseTime: 'TargetResponseTime',
  /** Per target group: connections to a target that failed (refused, reset, timed out). */
  targetConnectionErrors: 'TargetConnectionErrorCount',
  /** Per load balancer only (no TargetGroup dimension): 5xx the ALB answered itself, e.g. 502/504 for a crashed target. */
  elb5xx: 'HTTPCode_ELB_5XX_Count',
} as const;

/** Distinct TargetResponseTime values per target group and tick; the drawn latencies are binned down to this. */
const maxLatencyValues = 20;
const defaultSeed = 0x5eed;
const listenerArnPattern = /^arn:[^:]+:elasticloadbalancing:[^:]*:[^:]*:listener\/app\/[^/]+\/[^/]+\/[^/]+$/;

/** Small, fast, seedable PRNG (mulberry32): uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function checkProfile(version: string, p: FaultProfile): FaultProfile {
  const jitter = p.latencyJitter ?? 0.1;
  const crash = p.connectionErrorRate ?? 0;
  if (!(p.errorRate >= 0 && p.errorRate <= 1)) throw new RangeError(`profile of ${version}: errorRate must be within 0..1, got ${p.errorRate}`);
  if (!(p.latencyMs >= 0 && Number.isFinite(p.latencyMs))) throw new RangeError(`profile of ${version}: latencyMs must be ≥ 0, got ${p.latencyMs}`);
  if (!(jitter >= 0 && Number.isFinite(jitter))) throw new RangeError(`profile of ${version}: latencyJitter must be ≥ 0, got ${p.latencyJitter}`);
  if (!(crash >= 0 && crash <= 1)) throw new RangeError(`profile of ${version}: connectionErrorRate must be within 0..1, got ${p.connectionErrorRate}`);
  return { errorRate: p.errorRate, latencyMs: p.latencyMs, latencyJitter: jitter, ...(crash > 0 ? { connectionErrorRate: crash } : {}) };
}

function checkOptions(opts: SimulatorOptions): void {
  if (!listenerArnPattern.test(opts.listenerArn)) {
    throw new Error(
      `simulator: ${opts.listenerArn} is not an Application Load Balancer listener ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener/app/NAME/ID/ID)`,
    );
  }
  const listenerPath = opts.listenerArn.slice(opts.listenerArn.indexOf(':listener/') + ':listener/'.length);
  if (opts.ruleArn !== undefined && !opts.ruleArn.includes(`:listener-rule/${listenerPath}/`)) {
    throw new Error(`simulator: rule ${opts.ruleArn} does not belong to listener ${opts.listenerArn}; pass the listener the rule is on`);
  }
  if (!(opts.requestsPerSecond >= 0 && Number.isFinite(opts.requestsPerSecond))) {
    throw new RangeError(`simulator: requestsPerSecond must be ≥ 0, got ${opts.requestsPerSecond}`);
  }
  if (!(opts.tickMs > 0 && Number.isFinite(opts.tickMs))) throw new RangeError(`simulator: tickMs must be > 0, got ${opts.tickMs}`);
  if (opts.population) checkPopulation(opts.population);
  if (opts.users !== undefined) {
    if (!(Number.isInteger(opts.users) && opts.users > 0)) throw new RangeError(`simulator: users must be a whole number > 0, got ${opts.users}`);
    if (opts.population) throw new Error('simulator: users and population do not go together (users follow one forward action)');
    if (opts.userLifetimeMs !== undefined && !(opts.userLifetimeMs > 0))
      throw new RangeError(`simulator: userLifetimeMs must be > 0, got ${opts.userLifetimeMs}`);
  }
}

/** `arn:...:targetgroup/NAME/ID` → `NAME`. */
function targetGroupName(arn: string): string {
  return targetGroupDimension(arn).split('/')[1] ?? arn;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Latencies binned into at most `maxLatencyValues` equal-count groups, each reported at its mean: the sum and
 * the count are kept exactly (so Average and SampleCount are right) while the PutMetricData stays small.
 */
function binLatencies(secondsSorted: number[]): { values: number[]; counts: number[] } {
  const values: number[] = [];
  const counts: number[] = [];
  const n = secondsSorted.length;
  const bins = Math.min(maxLatencyValues, n);
  for (let b = 0; b < bins; b++) {
    const from = Math.floor((b * n) / bins);
    const to = Math.floor(((b + 1) * n) / bins);
    let sum = 0;
    for (let i = from; i < to; i++) sum += secondsSorted[i] ?? 0;
    const value = Math.round((sum / (to - from)) * 1e6) / 1e6;
    // CloudWatch wants distinct Values; equal means (e.g. zero jitter) merge into one count.
    const lastIndex = values.length - 1;
    if (lastIndex >= 0 && values[lastIndex] === value) {
      counts[lastIndex] = (counts[lastIndex] ?? 0) + (to - from);
    } else {
      values.push(value);
      counts.push(to - from);
    }
  }
  return { values, counts };
}

/**
 * Starts the simulator: the first tick runs at once, the next ones every `tickMs` (a slow tick delays the next
 * one instead of piling ticks up; the late one then also draws the ticks it missed, each at its own time, so the
 * metrics have no gap where this process was slow). Throws only on invalid options; AWS errors during a tick are
 * recorded on the tick, counted, and the loop goes on.
 *
 * moto stores every TargetResponseTime sample separately (it expands Counts), and its GetMetricData scans all
 * stored samples, so keep `requestsPerSecond` modest (hundreds) for long local runs.
 */
export function startSimulator(opts: SimulatorOptions): Simulator {
  checkOptions(opts);
  const { aws } = opts;
  const random = mulberry32(opts.seed ?? defaultSeed);
  const profiles = new Map<string, FaultProfile>(Object.entries(opts.profiles).map(([v, p]) => [v, checkProfile(v, p)]));
  const fallback = checkProfile('the default profile', opts.defaultProfile ?? healthyProfile);
  const loadBalancer = loadBalancerDimension(opts.listenerArn);
  const requestsPerTick = (opts.requestsPerSecond * opts.tickMs) / 1000;
  const realism = opts.realism === false || (opts.realism === undefined && !realismFromEnv()) ? undefined : metricsRealism(opts.realism ?? {});
  const bucketed = realism ? new BucketedMetrics(realism) : undefined;
  const versions = new Map<string, string>();
  // Fractions of a request left over per target group, so low rates and small weights still add up over time.
  const carry = new Map<string, number>();
  /** With `users`: the fraction of a request left over in all, and each user's sticky group until a real time. */
  let userCarry = 0;
  const sessions = new Map<number, { targetGroupArn: string; until: number }>();
  /** The user in each of the `users` places (an id), and since when: a user who outlived userLifetimeMs is replaced. */
  const present: { id: number; since: number }[] = [];
  let nextUser = 0;
  const sessionTimeScale = realism?.timeScale ?? timeScaleFromEnv();

  let completed = 0;
  let failed = 0;
  let last: SimulatorTick | undefined;
  let lastErr: Error | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;
  let nextAt = Date.now();
  /** The time of the last tick that routed traffic (see slotsUntil). */
  let lastSlot: number | undefined;

  function normal(): number {
    const u1 = 1 - random();
    const u2 = random();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /**
   * `users` mode: each request comes from a random user; with stickiness on the forward action a user keeps the group
   * it got while that group has weight and its session lasts, otherwise the request goes by the weights.
   */
  function routeUsers(
    targets: { targetGroupArn: string; weight: number }[],
    stickySeconds: number | undefined,
    count: number,
    now: number,
  ): { perGroup: Map<string, number>; users: Record<string, string[]> } {
    const live = targets.filter((t) => t.weight > 0);
    const total = live.reduce((a, t) => a + t.weight, 0);
    const perGroup = new Map<string, number>();
    const users: Record<string, string[]> = {};
    if (!stickySeconds) sessions.clear();
    for (let i = 0; i < count && total > 0; i++) {
      const place = Math.floor(random() * (opts.users ?? 1));
      let who = present[place];
      if (!who || (opts.userLifetimeMs !== undefined && now - who.since > opts.userLifetimeMs)) {
        if (who) sessions.delete(who.id);
        who = { id: nextUser++, since: now };
        present[place] = who;
      }
      const user = who.id;
      const session = stickySeconds ? sessions.get(user) : undefined;
      let arn = session && session.until > now && live.some((t) => t.targetGroupArn === session.targetGroupArn) ? session.targetGroupArn : undefined;
      if (!arn) {
        let r = random() * total;
        arn = (live.find((t) => (r -= t.weight) < 0) ?? live[live.length - 1])?.targetGroupArn as string;
        if (stickySeconds) sessions.set(user, { targetGroupArn: arn, until: now + (stickySeconds * 1000) / sessionTimeScale });
      }
      perGroup.set(arn, (perGroup.get(arn) ?? 0) + 1);
      const seen = (users[String(user)] ??= []);
      if (!seen.includes(arn)) seen.push(arn);
    }
    return { perGroup, users };
  }

  async function readForward(): Promise<Action | undefined> {
    let actions: Action[] | undefined;
    if (opts.ruleArn) {
      const out = await aws.elbv2.send(new DescribeRulesCommand({ RuleArns: [opts.ruleArn] }));
      actions = out.Rules?.[0]?.Actions;
    } else {
      const out = await aws.elbv2.send(new DescribeListenersCommand({ ListenerArns: [opts.listenerArn] }));
      actions = out.Listeners?.[0]?.DefaultActions;
    }
    // Authenticate actions may precede it; a listener without a forward (fixed response, redirect) sends no traffic to any group.
    return actions?.find((a) => a.Type === 'forward');
  }

  /**
   * Reads the forward action (or the rules) once for a tick: its target groups, and `route`, which gives each group's
   * part of one tick time's requests (part / whole), by the forward's weights or by the rules; with `users`, the
   * requests each group got (`requests`) and who sent them, drawn anew for each tick time.
   */
  async function readRoutes(): Promise<{ arns: string[]; route: (now: number) => RoutedGroup[] }> {
    if (!opts.population) {
      const forward = await readForward();
      const targets = forward ? forwardTargets(forward) : [];
      const arns = targets.map((t) => t.targetGroupArn);
      const totalWeight = targets.reduce((s, t) => s + Math.max(0, t.weight), 0);
      if (opts.users !== undefined) {
        const sticky = forward?.ForwardConfig?.TargetGroupStickinessConfig;
        return {
          arns,
          route: (now) => {
            const exact = requestsPerTick + userCarry;
            const count = Math.floor(exact + 1e-9);
            userCarry = Math.max(0, exact - count);
            const routed = routeUsers(targets, sticky?.Enabled ? (sticky.DurationSeconds ?? 3600) : undefined, count, now);
            return targets.map((t, i) => ({
              ...t,
              part: 0,
              whole: 1,
              requests: routed.perGroup.get(t.targetGroupArn) ?? 0,
              ...(i === 0 ? { users: routed.users } : {}),
            }));
          },
        };
      }
      const routes = targets.map((t) => ({ ...t, part: t.weight > 0 && totalWeight > 0 ? t.weight : 0, whole: totalWeight || 1 }));
      return { arns, route: () => routes };
    }
    const routes = (await routePopulation(aws.elbv2, { listenerArn: opts.listenerArn, ruleArn: opts.ruleArn, population: opts.population })).map((r) => ({
      ...r,
      part: r.share,
      whole: 1,
    }));
    return { arns: routes.map((r) => r.targetGroupArn), route: () => routes };
  }

  /**
   * The times a tick starting at `now` stands for: `now`, and before it every tick time missed since the last tick
   * that routed traffic (at most a minute of them). A real ALB's traffic does not pause while this process is slow (a
   * loaded machine held a tick back for seconds): the missed ticks are drawn late, at their own times, and a bucket
   * gets its requests as it would have.
   */
  function slotsUntil(now: number): number[] {
    if (lastSlot === undefined) return [now];
    const missed = Math.min(Math.floor((now - lastSlot) / opts.tickMs) - 1, Math.ceil(MAX_CATCH_UP_MS / opts.tickMs));
    const slots: number[] = [];
    for (let i = missed; i >= 1; i--) slots.push(now - i * opts.tickMs);
    slots.push(now);
    return slots;
  }

  async function resolveVersions(arns: string[]): Promise<void> {
    const unknown = arns.filter((arn) => !versions.has(arn));
    // DescribeTags takes at most 20 ARNs; a forward action has at most 5 groups.
    for (let i = 0; i < unknown.length; i += 20) {
      const out = await aws.elbv2.send(new DescribeTagsCommand({ ResourceArns: unknown.slice(i, i + 20) }));
      for (const d of out.TagDescriptions ?? []) {
        if (!d.ResourceArn) continue;
        const tag = (key: string): string | undefined => d.Tags?.find((t) => t.Key === key)?.Value || undefined;
        versions.set(d.ResourceArn, tag('canary:version') ?? tag('version') ?? targetGroupName(d.ResourceArn));
      }
    }
  }

  function draw(profile: FaultProfile, requests: number): { errors: number; connectionErrors: number; latenciesSec: number[] } {
    let errors = 0;
    let connectionErrors = 0;
    const latenciesSec: number[] = [];
    const sd = profile.latencyMs * (profile.latencyJitter ?? 0.1);
    const crash = profile.connectionErrorRate ?? 0;
    for (let i = 0; i < requests; i++) {
      // Drawn only for a crashing version: a profile without connection errors draws the same sequence as always.
      if (crash > 0 && random() < crash) {
        connectionErrors++;
        continue;
      }
      if (random() < profile.errorRate) errors++;
      latenciesSec.push(Math.max(0, profile.latencyMs + sd * normal()) / 1000);
    }
    latenciesSec.sort((a, b) => a - b);
    return { errors, connectionErrors, latenciesSec };
  }

  async function tick(): Promise<void> {
    const now = Date.now();
    const made: SimulatorTick[] = [];
    let error: Error | undefined;
    try {
      const { arns, route } = await readRoutes();
      await resolveVersions(arns);
      const metricData: MetricDatum[] = [];
      for (const slot of slotsUntil(now)) {
        const at = new Date(slot);
        const targets = route(slot);
        const split: SimulatedSplit[] = [];
        let users: Record<string, string[]> | undefined;
        for (const arn of carry.keys()) if (!targets.some((t) => t.targetGroupArn === arn && t.part > 0)) carry.delete(arn);
        let elb5xx = 0;
        for (const t of targets) {
          const version = versions.get(t.targetGroupArn) ?? targetGroupName(t.targetGroupArn);
          let requests = t.requests ?? 0;
          if (t.users) users = t.users;
          if (t.part > 0) {
            const exact = (requestsPerTick * t.part) / t.whole + (carry.get(t.targetGroupArn) ?? 0);
            requests = Math.floor(exact + 1e-9);
            carry.set(t.targetGroupArn, Math.max(0, exact - requests));
          }
          const { errors, connectionErrors, latenciesSec } = draw(profiles.get(version) ?? fallback, requests);
          const meanLatencyMs = latenciesSec.length > 0 ? (latenciesSec.reduce((s, x) => s + x, 0) / latenciesSec.length) * 1000 : 0;
          elb5xx += connectionErrors;
          split.push({
            targetGroupArn: t.targetGroupArn,
            version,
            weight: t.weight,
            requests,
            errors,
            connectionErrors,
            meanLatencyMs,
            ...(t.classShares ? { classShares: t.classShares } : {}),
          });
          // Like a real ALB, a group that served nothing in this tick reports nothing, so "no traffic" stays visible as no data.
          if (requests === 0) continue;
          if (bucketed) {
            bucketed.add(slot, { targetGroup: targetGroupDimension(t.targetGroupArn), loadBalancer }, requests, errors, latenciesSec, connectionErrors);
            continue;
          }
          const common = {
            Dimensions: [
              { Name: 'TargetGroup', Value: targetGroupDimension(t.targetGroupArn) },
              { Name: 'LoadBalancer', Value: loadBalancer },
            ],
            Timestamp: at,
            StorageResolution: 1,
          };
          const { values, counts } = binLatencies(latenciesSec);
          metricData.push(
            { ...common, MetricName: simulatedMetrics.requestCount, Unit: 'Count', Value: requests },
            { ...common, MetricName: simulatedMetrics.target5xx, Unit: 'Count', Value: errors },
          );
          if (values.length > 0)
            metricData.push({ ...common, MetricName: simulatedMetrics.targetResponseTime, Unit: 'Seconds', Values: values, Counts: counts });
          if (connectionErrors > 0) metricData.push({ ...common, MetricName: simulatedMetrics.targetConnectionErrors, Unit: 'Count', Value: connectionErrors });
        }
        // The ALB's own 502/504 for targets that never answered: counted per load balancer, with no TargetGroup dimension.
        if (!bucketed && elb5xx > 0) {
          metricData.push({
            MetricName: simulatedMetrics.elb5xx,
            Dimensions: [{ Name: 'LoadBalancer', Value: loadBalancer }],
            Timestamp: at,
            StorageResolution: 1,
            Unit: 'Count',
            Value: elb5xx,
          });
        }
        made.push({ at, split, ...(users ? { users } : {}) });
      }
      lastSlot = now;
      if (bucketed) metricData.push(...bucketed.due(Date.now()));
      // PutMetricData takes at most 1000 datums; a failed call leaves due buckets queued for the next tick.
      for (let i = 0; i < metricData.length; i += 1000) {
        const batch = metricData.slice(i, i + 1000);
        await aws.cloudwatch.send(new PutMetricDataCommand({ Namespace: simulatedMetrics.namespace, MetricData: batch }));
        bucketed?.delivered(batch);
      }
    } catch (err) {
      error = asError(err);
    }
    // A tick that failed before it routed anything is one tick, with no split; otherwise the failure is the last one's.
    if (made.length === 0) made.push({ at: new Date(now), split: [] });
    if (error) {
      made[made.length - 1] = { ...(made.at(-1) as SimulatorTick), error };
      failed++;
      lastErr = error;
    }
    for (const t of made) {
      completed++;
      last = t;
      try {
        opts.onTick?.(t);
      } catch (err) {
        failed++;
        lastErr = asError(err);
      }
    }
  }

  function schedule(): void {
    if (stopped) return;
    const now = Date.now();
    // Fixed rate keeps requestsPerSecond true; after an overrun, restart the grid rather than firing a burst.
    nextAt = nextAt + opts.tickMs > now ? nextAt + opts.tickMs : now;
    timer = setTimeout(run, nextAt - now);
  }

  function run(): void {
    timer = undefined;
    inFlight = tick().finally(() => {
      inFlight = undefined;
      schedule();
    });
  }

  timer = setTimeout(run, 0);

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await inFlight;
    },
    setProfile(version, profile) {
      profiles.set(version, checkProfile(version, profile));
    },
    ticks: () => completed,
    lastTick: () => last,
    errors: () => failed,
    lastError: () => lastErr,
    buckets: () => (realism ? { bucketMs: realism.bucketMs, lagMs: realism.lagMs } : undefined),
  };
}
