/**
 * Client-side pacing of ELB's Describe calls, per account and region.
 *
 * ELB limits API requests per account and region with a token bucket: `Describe*` calls may burst to 40 and are
 * refilled at 10 per second, shared by every tool in the account (ELB user guide, "Request throttling for the ELB
 * API"). Past it AWS answers `Throttling`, and a worker that leaves that to retries spends its calls on rejections:
 * with a hundred releases at once, most requests were throttled, activities used up their retry budget on them and
 * releases rolled back for no fault of their canary (bench `--elb-limits`). A {@link DescribeBudget} keeps the
 * worker's own calls under a rate it is told (below AWS's, leaving room for the other tools) and hands its tokens
 * out to activities part-way through their calls first, then oldest activity first, so work already started
 * finishes before new work takes the account's budget. A call that could not get a token before its activity's
 * deadline is refused at once with {@link PacedOut}, which carries the wait, instead of holding a place in the
 * queue until its activity times out.
 */
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { Context } from '@temporalio/activity';
import { emitMetric } from '../common/release-metrics';

/** How fast and how bursty one account and region's Describe calls may be. */
export interface PaceOptions {
  /** Describe calls per second, refilled continuously. */
  perSecond: number;
  /** Calls that may go at once after a quiet spell. */
  burst: number;
  now?: () => number;
  /** What is paced and where its rate is set, for a refusal's message; ELB's Describe calls by default. */
  calls?: { what: string; setting: string };
}

/** The caller's place in the queue and the last moment a token is still of use to it. */
export interface PaceRequest {
  /** Lower goes first: the activity's first schedule time, so a retried activity keeps its place. */
  priority: number;
  /**
   * The caller has had a token before (an activity attempt part-way through its calls): it goes before every caller
   * that has not, so work already begun is finished rather than refused half done and started again.
   */
  underway?: boolean;
  /** Epoch ms by which the call must have been sent; later, the token is refused with {@link PacedOut}. */
  deadline: number;
}

/** A call refused by the pacer: it would not have been sent before its deadline. Retryable, after `waitMs`. */
export class PacedOut extends Error {
  override readonly name = 'PacedOut';
  constructor(
    readonly waitMs: number,
    readonly key: string,
    perSecond: number,
    calls: { what: string; setting: string } = { what: 'ELB Describe calls', setting: 'CANARY_ELB_DESCRIBE_RATE' },
  ) {
    super(
      `${calls.what} for ${key} are paced at ${perSecond}/s (${calls.setting}) and this call would wait ` +
        `${(waitMs / 1000).toFixed(1)} s, past its activity's deadline`,
    );
  }
}

interface Waiter extends PaceRequest {
  seq: number;
  resolve(): void;
  reject(err: Error): void;
}

/** One account and region's token bucket with a queue ordered by {@link PaceRequest.priority}. */
export class DescribeBudget {
  private tokens: number;
  private last: number;
  private seq = 0;
  private readonly waiters: Waiter[] = [];
  private timer?: NodeJS.Timeout;
  private readonly now: () => number;
  /** Calls that waited for a token, and those refused; for logs and tests. */
  readonly stats = { immediate: 0, waited: 0, refused: 0 };

  constructor(
    readonly key: string,
    private readonly options: PaceOptions,
    /** The account (id, or `worker`) and region, for the release metrics (canary_pacer_*). */
    readonly labels: { account: string; region: string } = { account: 'worker', region: 'unknown' },
  ) {
    if (!(options.perSecond > 0) || !(options.burst >= 1)) throw new Error(`pacing ${key}: perSecond must be > 0 and burst >= 1`);
    this.now = options.now ?? Date.now;
    this.tokens = options.burst;
    this.last = this.now();
  }

  /** Resolves when the call may be sent; rejects with {@link PacedOut} when that would be past its deadline. */
  take(req: PaceRequest): Promise<void> {
    this.refill();
    if (this.waiters.length === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      this.stats.immediate++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { ...req, seq: this.seq++, resolve, reject };
      let i = this.waiters.length;
      while (i > 0 && before(w, this.waiters[i - 1]!)) i--;
      this.waiters.splice(i, 0, w);
      this.settle();
    });
  }

  /** Calls waiting for a token. */
  get queued(): number {
    return this.waiters.length;
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.options.burst, this.tokens + ((t - this.last) / 1000) * this.options.perSecond);
    this.last = t;
  }

  /** Grants what tokens allow, refuses whoever can no longer be served in time, and waits for the next token. */
  private settle(): void {
    this.refill();
    while (this.waiters.length > 0 && this.tokens >= 1) {
      this.tokens -= 1;
      this.stats.waited++;
      this.waiters.shift()!.resolve();
    }
    const t = this.now();
    const perMs = this.options.perSecond / 1000;
    // Position n gets its token after (n + 1 - tokens) more are refilled; the queue is walked in order, so a
    // refusal moves everyone behind it forward.
    let ahead = 0;
    for (let i = 0; i < this.waiters.length;) {
      const w = this.waiters[i]!;
      const waitMs = Math.max(0, (ahead + 1 - this.tokens) / perMs);
      if (t + waitMs > w.deadline) {
        this.waiters.splice(i, 1);
        this.stats.refused++;
        w.reject(new PacedOut(Math.ceil(waitMs), this.key, this.options.perSecond, this.options.calls));
        continue;
      }
      ahead++;
      i++;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.waiters.length > 0) {
      const nextMs = Math.max(1, Math.ceil((1 - this.tokens) / perMs));
      // Not unref'd: a process whose only work is a paced call must not exit while the call waits for its token.
      this.timer = setTimeout(() => this.settle(), nextMs);
    }
  }
}

function before(a: Waiter, b: Waiter): boolean {
  if (!!a.underway !== !!b.underway) return !!a.underway;
  return a.priority < b.priority || (a.priority === b.priority && a.seq < b.seq);
}

/** Time a call needs after its token (sending it, AWS answering), kept free before the activity's deadline. */
const CALL_MARGIN_MS = 2_000;
/** Outside an activity (a CLI, a test), how long a call may wait for a token. */
const OUTSIDE_ACTIVITY_WAIT_MS = 30_000;

/**
 * The running activity's place and deadline: it started no earlier than its attempt was scheduled, so the
 * start-to-close limit counts from there (an early estimate refuses a little sooner, never too late); a heartbeat
 * timeout bounds a wait too, since a call waiting for a token does not heartbeat.
 */
export function callerRequest(now: number = Date.now()): PaceRequest & { activity?: Context } {
  let activity: Context;
  try {
    activity = Context.current();
  } catch {
    return { priority: now, deadline: now + OUTSIDE_ACTIVITY_WAIT_MS };
  }
  const info = activity.info;
  const limits = [info.currentAttemptScheduledTimestampMs + info.startToCloseTimeoutMs];
  if (info.scheduleToCloseTimeoutMs > 0) limits.push(info.scheduledTimestampMs + info.scheduleToCloseTimeoutMs);
  if (info.heartbeatTimeoutMs) limits.push(now + info.heartbeatTimeoutMs / 2);
  return { priority: info.scheduledTimestampMs, deadline: Math.min(...limits) - CALL_MARGIN_MS, underway: begun.has(activity), activity };
}

/** Activity attempts (their contexts) that have had a token. */
const begun = new WeakSet<Context>();

/** The account a role ARN belongs to (`arn:aws:iam::123456789012:role/x`), if it names one. */
export function roleAccount(roleArn: string | undefined): string | undefined {
  return roleArn ? /^arn:aws[\w-]*:iam::(\d{12}):/.exec(roleArn)?.[1] : undefined;
}

/** The budgets of one worker process, one per account and region. */
export class DescribeBudgets {
  private readonly budgets = new Map<string, DescribeBudget>();
  constructor(private readonly options: PaceOptions) {}

  /** The budget of `account` (its id, or `worker` for the worker's own credentials) in `region`. */
  for(account: string, region: string): DescribeBudget {
    const key = `account ${account} in ${region}`;
    let b = this.budgets.get(key);
    if (!b) {
      b = new DescribeBudget(key, this.options, { account, region });
      this.budgets.set(key, b);
    }
    return b;
  }
}

/**
 * Paces `client`'s Describe calls through `budget`. The step runs inside the SDK's retry loop, so every attempt,
 * a retried one too, waits for its token.
 */
export function paceDescribes(client: ElasticLoadBalancingV2Client, budget: DescribeBudget): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName?.startsWith('Describe')) {
        const req = callerRequest();
        const queuedAt = Date.now();
        const before = budget.stats.immediate;
        const token = budget.take(req);
        // take() counts a call that needs no wait before it returns.
        const waited = budget.stats.immediate === before;
        try {
          await token;
        } catch (err) {
          if (req.activity && err instanceof PacedOut) emitMetric(req.activity.metricMeter, 'pacerRefusals', 1, budget.labels);
          throw err;
        }
        if (req.activity && waited) emitMetric(req.activity.metricMeter, 'pacerWaitSeconds', (Date.now() - queuedAt) / 1000, budget.labels);
        if (req.activity) begun.add(req.activity);
      }
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'canaryDescribePacing' },
  );
}
