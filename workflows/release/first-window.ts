/** Where an analysis starts measuring: shared by the analysis steps and background analysis. */
import { firstWindowAfter } from '../../analysis/series';
import { formatDuration } from '../../common/duration';
import type { AnalysisTemplate } from '../../common/spec';
import type { ReleaseState } from './state';

/**
 * How long an analysis waits for the first whole window of buckets after `notBefore` (when the canary got its
 * current traffic), so it judges only what that traffic produced; 0 without `notBefore`. A wait goes on the timeline
 * as `<label>: first window`.
 */
export function firstWindowWait(state: ReleaseState, label: string, template: AnalysisTemplate, notBefore: string | undefined): number {
  const waitMs = notBefore ? Math.max(0, firstWindowAfter(Date.parse(notBefore), template) - Date.now()) : 0;
  if (waitMs > 0) state.record('canary', `${label}: first window`, `waits ${formatDuration(waitMs)} for buckets after the traffic change`);
  return waitMs;
}
