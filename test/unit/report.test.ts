import { longReleaseData } from '../../bench/measure-report';
import { gateRows, renderReport, reportCommand, weightSeries } from '../../client/report';
import type { ReleaseStatus, TimelineEntry } from '../../common/status';

const at = (s: number) => new Date(Date.UTC(2026, 10, 30, 9, 0, s)).toISOString();
const ms = (s: number) => Date.parse(at(s));
const entry = (s: number, action: string, detail?: string, by = 'canary', accepted = true): TimelineEntry => ({ at: at(s), by, action, detail, accepted });

describe('report data', () => {
  it('traffic timeline: each verified weight change, the rollback restore, then the current weights at the end', () => {
    const timeline = [
      entry(0, 'start', 'checkout v2, 9 steps', 'ci'),
      entry(1, 'attach at weight 0', 'canary 0%, stable 100% (verified)'),
      entry(2, 'setWeight', 'canary 10%, stable 90% (verified)'),
      entry(3, 'pause', undefined, 'bob', false),
      entry(5, 'rollback', 'analysis failed'),
      entry(6, 'restored pre-release traffic', 'verified by describe'),
    ];
    const w = weightSeries(timeline, { requested: { canary: 10, stable: 90 }, verified: { canary: 0, stable: 100 } }, ms(9));
    expect(w.t).toEqual([ms(1), ms(2), ms(6), ms(9)]);
    expect(w.verified).toEqual({ canary: [0, 10, 0, 0], stable: [100, 90, 100, 100] });
    expect(w.requested.canary).toEqual([0, 10, 0, 0]);
  });

  it('says under the traffic chart that weights counted sessions when the release held traffic.stickiness', () => {
    const data = longReleaseData(0.05);
    const detail = 'listener arn:l: stickiness 3600s for the release (was: no stickiness); weights count new sessions, not requests';
    const html = renderReport({ ...data, status: { ...data.status, timeline: [...data.status.timeline, entry(1, 'stickiness', detail)] } });
    expect(/<h2>Traffic<\/h2>[\s\S]*?<h2>Analysis<\/h2>/.exec(html)?.[0]).toContain(`Sticky users: ${detail}`);
    expect(renderReport(data)).not.toContain('Sticky users');
  });

  it('traffic timeline with a baseline keeps its own line', () => {
    const w = weightSeries([entry(1, 'setWeight', 'canary 10%, baseline 10%, stable 80% (verified)')], { requested: {}, verified: {} }, ms(2));
    expect(w.verified).toEqual({ canary: [10, 10], baseline: [10, 10], stable: [80, 80] });
  });

  it('gates: a stretch of AwaitingApproval closed by an approval names who approved and the comment', () => {
    const status = {
      timeline: [entry(10, 'setWeight', 'canary 30%, stable 70% (verified)'), entry(20, 'approve', 'step 6: looks fine', 'alice')],
    } as unknown as ReleaseStatus;
    const rows = gateRows({
      status,
      phases: [
        { at: ms(0), phase: 'Progressing' },
        { at: ms(11), phase: 'AwaitingApproval' },
        { at: ms(20), phase: 'Progressing' },
      ],
    });
    expect(rows).toEqual([{ kind: 'approval', openedAt: ms(11), closedAt: ms(20), by: 'alice', how: 'approve', comment: 'step 6: looks fine' }]);
  });

  it('canary report takes a release and --out', () => {
    const cmd = reportCommand().exitOverride();
    expect(cmd.name()).toBe('report');
    expect(cmd.options.map((o) => [o.long, o.defaultValue])).toEqual([['--out', 'report.html']]);
    expect(() => cmd.parse([], { from: 'user' })).toThrow(/missing required argument 'release'/);
  });
});
