import { FreshRead, FreshReads } from '../../activities/fresh-read';

/** A read whose every run is held until the test settles it, recording which run each caller got. */
function heldReads(): { read: () => Promise<number>; runs: { resolve(): void; reject(err: Error): void }[] } {
  const runs: { resolve(): void; reject(err: Error): void }[] = [];
  return {
    runs,
    read: () =>
      new Promise<number>((resolve, reject) => {
        const n = runs.length + 1;
        runs.push({ resolve: () => resolve(n), reject });
      }),
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('FreshRead', () => {
  it('gives a caller who asks while a read runs the next read, never the running one', async () => {
    const { read, runs } = heldReads();
    const shared = new FreshRead(read);
    const first = shared.get();
    expect(runs).toHaveLength(1);
    // Asked after run 1 began: run 1 may have read before this caller's change.
    const second = shared.get();
    const third = shared.get();
    await tick();
    expect(runs).toHaveLength(1);
    runs[0]?.resolve();
    await expect(first).resolves.toBe(1);
    await tick();
    // One new run serves both callers that waited.
    expect(runs).toHaveLength(2);
    runs[1]?.resolve();
    await expect(second).resolves.toBe(2);
    await expect(third).resolves.toBe(2);
    expect(shared.idle).toBe(true);
  });

  it('starts a third read for a caller who asks while the queued one already runs', async () => {
    const { read, runs } = heldReads();
    const shared = new FreshRead(read);
    void shared.get();
    const second = shared.get();
    runs[0]?.resolve();
    await tick();
    await tick();
    expect(runs).toHaveLength(2);
    const third = shared.get();
    runs[1]?.resolve();
    await expect(second).resolves.toBe(2);
    await tick();
    expect(runs).toHaveLength(3);
    runs[2]?.resolve();
    await expect(third).resolves.toBe(3);
  });

  it('fails every caller of a failed read, and the next caller reads again', async () => {
    const { read, runs } = heldReads();
    const shared = new FreshRead(read);
    const first = shared.get();
    const second = shared.get();
    runs[0]?.reject(new Error('Rate exceeded'));
    await expect(first).rejects.toThrow('Rate exceeded');
    await tick();
    runs[1]?.reject(new Error('Rate exceeded again'));
    await expect(second).rejects.toThrow('Rate exceeded again');
    const third = shared.get();
    expect(runs).toHaveLength(3);
    runs[2]?.resolve();
    await expect(third).resolves.toBe(3);
  });
});

describe('FreshReads', () => {
  it('shares reads per key only and forgets a key once nothing runs for it', async () => {
    const a = heldReads();
    const b = heldReads();
    const reads = new FreshReads<number>();
    const pa = reads.get('lb-a', a.read);
    const pb = reads.get('lb-b', b.read);
    expect(a.runs).toHaveLength(1);
    expect(b.runs).toHaveLength(1);
    expect(reads.size).toBe(2);
    a.runs[0]?.resolve();
    b.runs[0]?.resolve();
    await expect(pa).resolves.toBe(1);
    await expect(pb).resolves.toBe(1);
    expect(reads.size).toBe(0);
  });
});
