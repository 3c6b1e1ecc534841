/**
 * CANARY_LOG_FORMAT=json: one JSON object per line, naming the release where the metadata does. (A worker process
 * writing them during a release: test/integration/worker-credentials.test.ts.)
 */
import { defaultPayloadConverter } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { RELEASE_LOG_HEADER } from '../../common/constants';
import { jsonLine, releaseLogContext, workerLine } from '../../worker/log';

describe('JSON log lines', () => {
  it('map workflow metadata to releaseId, run, step and phase, and keep the rest', () => {
    const line = jsonLine({
      level: 'ERROR',
      message: 'rollback failed; retrying',
      timestampNanos: 1_765_000_000_123_000_000n,
      meta: {
        sdkComponent: 'workflow',
        releaseId: 'release-checkout/r1',
        runId: 'r2',
        workflowId: 'release-checkout',
        step: 3,
        phase: 'RollingBack',
        round: 2,
      },
    });
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      time: '2025-12-06T05:46:40.123Z',
      level: 'ERROR',
      message: 'rollback failed; retrying',
      component: 'workflow',
      releaseId: 'release-checkout/r1',
      run: 'r2',
      step: 3,
      phase: 'RollingBack',
      workflowId: 'release-checkout',
      round: 2,
    });
  });

  it("name an activity's release by its workflow id and run when nothing better is known", () => {
    const parsed = JSON.parse(
      jsonLine({ level: 'WARN', message: 'Activity failed', meta: { sdkComponent: 'activity', workflowId: 'release-x', workflowRunId: 'r9' } }),
    ) as Record<string, unknown>;
    expect(parsed).toMatchObject({ component: 'activity', releaseId: 'release-x', run: 'r9' });
  });

  it('flatten errors, bigints and cycles into one line of valid JSON', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const parsed = JSON.parse(jsonLine({ level: 'INFO', message: 'x', meta: { error: new Error('boom\nsecond line'), n: 12n, cyclic } })) as Record<
      string,
      unknown
    >;
    expect(parsed.error).toMatchObject({ name: 'Error', message: 'boom\nsecond line' });
    expect(parsed.n).toBe('12');
    expect(parsed.cyclic).toEqual({ a: 1, self: '[circular]' });
  });

  it("are the worker's own lines in JSON mode, and plain text otherwise", () => {
    expect(workerLine('text', 'INFO', 'canary worker stopped')).toBe('canary worker stopped');
    expect(JSON.parse(workerLine('json', 'INFO', 'canary worker stopped'))).toMatchObject({
      level: 'INFO',
      message: 'canary worker stopped',
      component: 'worker',
    });
  });

  it("put the release, step and phase of the activity's header on its log lines", async () => {
    const env = new MockActivityEnvironment();
    // As the worker does: the factory per activity task, its inbound execute with the task's headers.
    const interceptors = releaseLogContext(env.context);
    await interceptors.inbound?.execute?.(
      {
        args: [],
        headers: { [RELEASE_LOG_HEADER]: defaultPayloadConverter.toPayload({ releaseId: 'release-a/r1', step: 2, phase: 'Progressing', secret: 'x' }) },
      },
      async () => undefined,
    );
    const attrs = interceptors.outbound?.getLogAttributes?.({ activityId: '1' }, (input) => input);
    expect(attrs).toEqual({ activityId: '1', releaseId: 'release-a/r1', step: 2, phase: 'Progressing' });
  });
});
