/**
 * Concurrent callers that need the same read share it, without ever getting an answer older than their question.
 *
 * Teardown checks read every listener and rule of a load balancer (one DescribeListeners and one DescribeRules per
 * listener): up to 51 Describe calls on a full ALB. When many releases behind the same load balancers finish at
 * once, each doing that on its own costs releases × listeners calls, against an account's ELB Describe budget that
 * AWS refills at about 10 per second and shares with every other tool (elb-api-throttling). 100 releases on two
 * 50-listener ALBs need over 10,000 calls, and each check that runs past its activity's timeout is started again
 * from nothing. Shared, the same check costs a few scans per load balancer, however many releases wait on it.
 *
 * A scan already running may have read a listener before the caller's own change reached it, so a caller never
 * joins it: it joins the next scan, which starts when the running one ends. Any answer a caller gets was therefore
 * read entirely after it asked, exactly as if it had made the calls itself.
 */
export class FreshRead<T> {
  private running?: Promise<T>;
  private queued?: Promise<T>;

  constructor(private readonly read: () => Promise<T>) {}

  /** A result read entirely after this call; rejects with the read's error (every caller of that read gets it). */
  get(): Promise<T> {
    if (!this.running) return this.start();
    const running = this.running;
    this.queued ??= running
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        this.queued = undefined;
        return this.start();
      });
    return this.queued;
  }

  /** Nothing running or waiting to run (the entry can be dropped). */
  get idle(): boolean {
    return !this.running && !this.queued;
  }

  private start(): Promise<T> {
    const p = this.read().finally(() => {
      if (this.running === p) this.running = undefined;
    });
    this.running = p;
    return p;
  }
}

/** {@link FreshRead}s by key (e.g. one per load balancer), dropped when idle so the map holds only reads in use. */
export class FreshReads<T> {
  private readonly reads = new Map<string, FreshRead<T>>();

  /** The shared, fresh result of `read` for `key`; `read` runs only when no scan for `key` can serve this caller. */
  get(key: string, read: () => Promise<T>): Promise<T> {
    let r = this.reads.get(key);
    if (!r) {
      r = new FreshRead(read);
      this.reads.set(key, r);
    }
    const entry = r;
    return entry.get().finally(() => {
      if (entry.idle && this.reads.get(key) === entry) this.reads.delete(key);
    });
  }

  /** Keys with a read running or queued. */
  get size(): number {
    return this.reads.size;
  }
}
