/**
 * Issue 17: the sequential judge's evidence follows a release from one analysis step to the next of the same template,
 * across continue-as-new too, so every check of the release counts against one false-failure bound. The fake's runAnalysis answers scripted runs; the evidence in them is built by the real
 * sequential code (analysis/sequential.ts), and the test reads what the workflow passed to the next call.
 */
import type { AnalysisCounters, AnalysisRequest } from '../../analysis/analysis';
import { absorbCounts, countsGrid, emptyCounts, type JudgeEvidence } from '../../analysis/sequential';
import { statusQuery } from '../../common/messages';
import { analysisRun } from '../support/fake-alb';
import { errorsTemplate, timeSkippingRelease } from '../support/time-skipping';

const releases = timeSkippingRelease();

const sequentialTemplate = { ...errorsTemplate, judge: {} };

/** The '5xx-rate' evidence after `n` one-minute buckets of 100 canary and 900 stable requests with no errors. */
function evidenceAfter(n: number): JudgeEvidence {
  const grid = countsGrid([1]);
  const buckets = Array.from({ length: n }, (_, t) => ({ t: t * 60_000, canaryErrors: 0, canaryRequests: 100, referenceErrors: 0, referenceRequests: 900 }));
  return { '5xx-rate': absorbCounts(emptyCounts(grid), grid, buckets) };
}

/** A passing run of template `errors` whose counters hold `evidence` (as the real activity returns them). */
function passWith(evidence: JudgeEvidence): ReturnType<typeof analysisRun> {
  const run = analysisRun('errors', 'pass');
  return { ...run, counters: { ...run.counters, measurements: 2, evidence } };
}

const previousOf = (input: unknown): AnalysisCounters | undefined => (input as AnalysisRequest).previous;

describe('step analyses carry the sequential evidence', () => {
  it('the second and third analysis steps go on with the evidence of the one before, with a fresh failure count', async () => {
    const first = evidenceAfter(5);
    const second = evidenceAfter(9);
    const { handle, fake } = await releases.start(
      {
        analysis: { errors: sequentialTemplate },
        steps: [
          { setWeight: 10 },
          { analysis: { template: 'errors' } },
          { setWeight: 50 },
          { analysis: { template: 'errors' } },
          { analysis: { template: 'errors' } },
          { setWeight: 100 },
        ],
      },
      (f) => f.verdicts.push(passWith(first), passWith(second), 'pass'),
    );
    expect(await handle.result()).toMatchObject({ outcome: 'promoted' });
    const calls = fake.callsOf('runAnalysis').map((c) => previousOf(c.input));
    expect(calls).toEqual([
      { measurements: 0, failed: 0, inconclusive: 0, errors: 0, consecutiveErrors: 0 },
      { measurements: 0, failed: 0, inconclusive: 0, errors: 0, consecutiveErrors: 0, evidence: first },
      { measurements: 0, failed: 0, inconclusive: 0, errors: 0, consecutiveErrors: 0, evidence: second },
    ]);
    // The last step's run reports the evidence it went on with (it scripted none of its own).
    expect((await handle.query(statusQuery)).analysis?.counters.evidence).toEqual(second);
  });

  it('keeps the evidence when the release continues as new between two analysis steps', async () => {
    const first = evidenceAfter(7);
    const { handle, fake } = await releases.start(
      {
        analysis: { errors: sequentialTemplate },
        steps: [
          { setWeight: 10 },
          { analysis: { template: 'errors' } },
          { pause: { duration: '1h' } },
          { analysis: { template: 'errors' } },
          { setWeight: 100 },
        ],
      },
      (f) => f.verdicts.push(passWith(first)),
      {},
      // Full by the time the pause opens: the pause is re-opened by the next run.
      { historyEventLimit: 40 },
    );
    // A handle without a run id follows the release to its last run.
    const live = releases.env.client.workflow.getHandle(handle.workflowId);
    expect(await live.result()).toMatchObject({ outcome: 'promoted' });
    expect((await live.query(statusQuery)).timeline.filter((t) => t.action === 'continued as new')).not.toHaveLength(0);
    const calls = fake.callsOf('runAnalysis').map((c) => previousOf(c.input));
    expect(calls).toHaveLength(2);
    expect(calls[1]).toEqual({ measurements: 0, failed: 0, inconclusive: 0, errors: 0, consecutiveErrors: 0, evidence: first });
  });
});
