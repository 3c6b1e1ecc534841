/**
 * Background analysis: runs from the first weight above 0 until promotion or rollback, one activity call per
 * report batch (`reportEvery / interval` measurements), so a long bake adds a few history events per batch.
 */
import { CancellationScope, isCancellation, metricMeter } from '@temporalio/workflow';
import { emitMetric } from '../../common/release-metrics';
import { zeroCounters, type AnalysisCounters, type AnalysisRun } from '../../analysis/analysis';
import { analysisCall, causeMessage } from './activities';
import { firstWindowWait } from './first-window';
import { StopRelease, type ReleaseState } from './state';

export class BackgroundAnalysis {
  private scope: CancellationScope | undefined;
  private done: Promise<void> | undefined;
  constructor(private readonly state: ReleaseState) {}

  /** What the batches so far have seen (in the release's data: carried to the next run at a continue-as-new). */
  get counters(): AnalysisCounters | undefined {
    return this.state.data.backgroundCounters;
  }

  get running(): boolean {
    return this.scope !== undefined;
  }

  /** Starts once; later calls do nothing. A failing batch asks the release to stop (it rolls back). */
  start(): void {
    const { state } = this;
    const bg = state.spec.backgroundAnalysis;
    if (!bg || this.scope) return;
    const template = state.spec.analysis[bg.template];
    if (!template) return;
    const batch = Math.max(1, Math.floor(bg.reportEvery / bg.interval));
    this.scope = new CancellationScope();
    this.done = this.scope
      .run(async () => {
        for (;;) {
          // The first batch (none has reported, in this run or before it) measures first on the first whole window
          // of buckets after the canary got traffic, once ALB has delivered it, instead of one interval after start.
          // (A template of alarms only has no window to wait for.)
          const first = !this.counters && template.metrics.length > 0;
          const notBefore = first ? state.data.trafficSince : undefined;
          const waitMs = firstWindowWait(state, `background analysis ${bg.template}`, template, notBefore);
          const run: AnalysisRun = await analysisCall(batch, bg.interval, waitMs).runAnalysis({
            templateName: bg.template,
            template,
            variants: state.variants(),
            count: batch,
            intervalMs: bg.interval,
            previous: this.counters ?? zeroCounters,
            delayFirst: true,
            ...(notBefore ? { notBefore } : {}),
            aws: state.scope(),
          });
          state.data.backgroundAnalysis = run;
          state.data.backgroundCounters = run.counters;
          emitMetric(metricMeter, 'analysisVerdicts', 1, { verdict: run.verdict, template: bg.template });
          state.touch();
          if (run.verdict === 'fail') {
            state.record('canary', `background analysis ${bg.template}: fail`, run.reason);
            state.requestStop(new StopRelease('rolled-back', `background analysis ${bg.template} failed: ${run.reason}`, 'canary'));
            return;
          }
        }
      })
      .catch((err) => {
        if (!isCancellation(err)) {
          state.requestStop(new StopRelease('rolled-back', `background analysis could not run: ${causeMessage(err)}`, 'canary'));
        }
      });
  }

  async stop(): Promise<void> {
    this.scope?.cancel();
    await this.done;
  }
}
