/**
 * The follow loop's time limit on its own, with a stand-in for the SDK's workflow handle (query, result and the
 * client's deadline scope are the only calls it makes) and fake timers, so days pass in milliseconds.
 * test/integration/cli.test.ts shows --timeout ending a real `start --wait` and `watch`.
 */
import type { ReleaseResult, ReleaseStatus } from '../../common/status';
import { followRelease, type FollowEnding } from '../../client/follow';
import type { ReleaseHandle } from '../../client/release-client';

const DAY = 86_400_000;
const status = { phase: 'Paused', step: 1, steps: [] } as unknown as ReleaseStatus;

function handle(result: Promise<ReleaseResult>): ReleaseHandle {
  const client = { withDeadline: (_deadline: number, fn: () => Promise<unknown>) => fn() };
  return { workflowId: 'release-checkout', client, query: () => Promise.resolve(status), result: () => result } as unknown as ReleaseHandle;
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

describe('followRelease', () => {
  it('stops at its limit with the last status, even a limit past the 24.8 days a Node timer can hold', async () => {
    let ending: FollowEnding | undefined;
    const phases: string[] = [];
    void followRelease(handle(new Promise(() => undefined)), { timeoutMs: 30 * DAY, pollMs: DAY, onStatus: (s) => phases.push(s.phase) }).then(
      (e) => (ending = e),
    );
    await jest.advanceTimersByTimeAsync(29 * DAY);
    expect(ending).toBeUndefined();
    await jest.advanceTimersByTimeAsync(1 * DAY + 1_000);
    expect(ending).toMatchObject({ kind: 'still-running', status: { phase: 'Paused' } });
    expect(phases.length).toBeGreaterThanOrEqual(29);
  });

  it('ends with the result when the release ends before the limit', async () => {
    let finish: (r: ReleaseResult) => void = () => undefined;
    const result = new Promise<ReleaseResult>((resolve) => (finish = resolve));
    let ending: FollowEnding | undefined;
    void followRelease(handle(result), { timeoutMs: 60_000, onStatus: () => undefined }).then((e) => (ending = e));
    await jest.advanceTimersByTimeAsync(5_000);
    finish({ outcome: 'promoted' } as ReleaseResult);
    await jest.advanceTimersByTimeAsync(2_000);
    expect(ending).toEqual({ kind: 'ended', result: { outcome: 'promoted' } });
  });
});
