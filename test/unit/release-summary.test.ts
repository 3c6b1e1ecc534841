/**
 * The one release summary the library builds from what the server alone knows (search attributes and execution
 * status), used by `canary list` and by `canary status` when no worker answers the query; and the exit codes the
 * CLI gives each way a followed release can end.
 */
import { TypedSearchAttributes } from '@temporalio/common';
import { CanaryWeight, ReleasePhase, ReleaseService, ReleaseVersion } from '../../common/search-attributes';
import type { ReleaseResult } from '../../common/status';
import { ExitCode, exitCodeForEnding } from '../../client/exit-codes';
import { formatFallbackStatus, formatList } from '../../client/format';
import { releaseSummary, type ReleaseSummary } from '../../client/release-client';

function execution(opts: { status: string; attributes?: ConstructorParameters<typeof TypedSearchAttributes>[0]; closed?: boolean }) {
  return {
    workflowId: 'release-checkout',
    runId: 'run-2',
    status: { name: opts.status },
    startTime: new Date('2030-05-01T11:00:00.000Z'),
    closeTime: opts.closed ? new Date('2030-05-01T11:20:00.000Z') : undefined,
    typedSearchAttributes: new TypedSearchAttributes(opts.attributes ?? []),
  };
}

const result: ReleaseResult = {
  outcome: 'promoted',
  reason: 'v2 serves 100% of traffic',
  by: 'canary',
  service: 'checkout',
  version: 'v2',
  durationMs: 60_000,
  stepsCompleted: 3,
  steps: 3,
  finalForward: [],
};

describe('releaseSummary', () => {
  it('reads service, version, phase and canary weight from the search attributes the workflow keeps', () => {
    const summary = releaseSummary(
      execution({
        status: 'RUNNING',
        attributes: [
          { key: ReleaseService, value: 'checkout' },
          { key: ReleaseVersion, value: 'v2' },
          { key: ReleasePhase, value: 'AwaitingApproval' },
          { key: CanaryWeight, value: 25 },
        ],
      }),
    );
    expect(summary).toEqual<ReleaseSummary>({
      workflowId: 'release-checkout',
      runId: 'run-2',
      execution: 'RUNNING',
      service: 'checkout',
      version: 'v2',
      phase: 'AwaitingApproval',
      canaryWeight: 25,
      startTime: '2030-05-01T11:00:00.000Z',
      closeTime: undefined,
    });
  });

  it('leaves out what a run never set (a release that failed validation has no weight yet) and keeps the close time', () => {
    const summary = releaseSummary(execution({ status: 'FAILED', closed: true, attributes: [{ key: ReleaseService, value: 'checkout' }] }));
    expect(summary).toMatchObject({ execution: 'FAILED', service: 'checkout', closeTime: '2030-05-01T11:20:00.000Z' });
    expect(summary.phase).toBeUndefined();
    expect(summary.canaryWeight).toBeUndefined();
  });

  it('is what both `list` and the status fallback print', () => {
    const summary = releaseSummary(
      execution({
        status: 'COMPLETED',
        closed: true,
        attributes: [
          { key: ReleaseVersion, value: 'v2' },
          { key: ReleasePhase, value: 'Succeeded' },
          { key: CanaryWeight, value: 100 },
        ],
      }),
    );
    expect(formatList([summary]).split('\n')[1]).toBe('release-checkout  v2       Succeeded  100%    2030-05-01 11:00:00Z  COMPLETED');
    const fallback = formatFallbackStatus({ ...summary, result, queryError: 'no answer' }, {});
    expect(fallback).toContain('workflow       COMPLETED at 2030-05-01 11:20:00Z');
    expect(fallback).toContain('phase          Succeeded (search attribute)');
  });
});

describe('exit codes of a followed release', () => {
  it('0 promoted, 1 rolled back, 3 aborted, 6 still running when --timeout ends the wait', () => {
    expect(exitCodeForEnding({ kind: 'ended', result })).toBe(0);
    expect(exitCodeForEnding({ kind: 'ended', result: { ...result, outcome: 'rolled-back' } })).toBe(ExitCode.rolledBack);
    expect(exitCodeForEnding({ kind: 'ended', result: { ...result, outcome: 'aborted' } })).toBe(ExitCode.aborted);
    expect(exitCodeForEnding({ kind: 'still-running', afterMs: 1_000 })).toBe(6);
    expect(ExitCode.stillRunning).toBe(6);
  });

  it('2 for a release the workflow refused as invalid, 3 cancelled, 5 terminated or failed otherwise', () => {
    expect(exitCodeForEnding({ kind: 'failed', failure: { kind: 'invalid', message: 'x' } })).toBe(ExitCode.invalid);
    expect(exitCodeForEnding({ kind: 'failed', failure: { kind: 'cancelled', message: 'x' } })).toBe(ExitCode.aborted);
    expect(exitCodeForEnding({ kind: 'failed', failure: { kind: 'terminated', message: 'x' } })).toBe(ExitCode.error);
    expect(exitCodeForEnding({ kind: 'failed', failure: { kind: 'failed', message: 'x' } })).toBe(ExitCode.error);
  });

  it('uses every code once', () => {
    const codes = Object.values(ExitCode);
    expect(new Set(codes).size).toBe(codes.length);
  });
});
