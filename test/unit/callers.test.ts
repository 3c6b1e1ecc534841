/** Client identities read from a release's history and paired with its timeline (client/callers.ts), and how the CLI shows them. */
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { cliIdentity, recordedMessages, withCallers } from '../../client/callers';
import { formatHistory, formatSender, formatStatus, formatTimelineEntry } from '../../client/format';
import { renderReport } from '../../client/report';
import { longReleaseData } from '../../bench/measure-report';
import type { ReleaseStatus, TimelineEntry } from '../../common/status';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const T0 = Date.parse('2030-05-01T12:00:00.000Z');
// The history's Long seconds as a plain number: what the reader's Number() makes of either.
const time = (s: number) =>
  ({ seconds: Math.floor((T0 + s * 1000) / 1000), nanos: ((T0 + s * 1000) % 1000) * 1e6 }) as unknown as NonNullable<HistoryEvent['eventTime']>;
const iso = (s: number) => new Date(T0 + s * 1000).toISOString();
const payloads = (v: unknown) => ({ payloads: [defaultPayloadConverter.toPayload(v)] });

const started = (s: number, identity: string, initiator: string, continued?: string): HistoryEvent => ({
  eventTime: time(s),
  workflowExecutionStartedEventAttributes: { identity, input: payloads({ spec: { initiator } }), continuedExecutionRunId: continued ?? '' },
});
const signaled = (s: number, name: string, by: string, identity: string): HistoryEvent => ({
  eventTime: time(s),
  workflowExecutionSignaledEventAttributes: { signalName: name, input: payloads({ by }), identity },
});
const accepted = (s: number, name: string, by: string, identity: string): HistoryEvent => ({
  eventTime: time(s),
  workflowExecutionUpdateAcceptedEventAttributes: { acceptedRequest: { meta: { updateId: `u${s}`, identity }, input: { name, args: payloads({ by }) } } },
});

describe('client identities from the history', () => {
  const events: HistoryEvent[] = [
    started(0, 'canary:ci@runner-7', 'mallory'),
    { eventTime: time(1), workflowTaskStartedEventAttributes: {} },
    signaled(30, 'approve', 'alice', 'temporal-cli:eve@laptop'),
    signaled(31, 'notAVerb', 'alice', 'x'),
    accepted(60.2, 'approve', ' alice ', 'temporal-cli:alice@desk'),
    accepted(61, 'pause', 'carol', ''),
  ];
  const timeline: TimelineEntry[] = [
    { at: iso(0.1), by: 'mallory', action: 'start', detail: 'checkout v2, 3 steps', accepted: true },
    { at: iso(5), by: 'canary', action: 'setWeight', detail: 'canary 10%', accepted: true },
    { at: iso(30.5), by: 'alice', action: 'approve', detail: "ignored: the signature does not verify with alice's key", accepted: false },
    { at: iso(60), by: 'alice', action: 'approve', detail: 'step 1', accepted: true, signed: { key: 'SHA256:abc' } },
    { at: iso(60.9), by: 'carol', action: 'pause', accepted: true },
    { at: iso(70), by: 'bob', action: 'promote (full)', accepted: true },
  ];

  it('reads the start of a first run, verb signals and accepted verb updates with their identity and sender', () => {
    expect(recordedMessages(events)).toEqual([
      { at: T0, kind: 'start', name: 'start', by: 'mallory', identity: 'canary:ci@runner-7' },
      { at: T0 + 30_000, kind: 'signal', name: 'approve', by: 'alice', identity: 'temporal-cli:eve@laptop' },
      { at: T0 + 60_200, kind: 'update', name: 'approve', by: 'alice', identity: 'temporal-cli:alice@desk' },
      { at: T0 + 61_000, kind: 'update', name: 'pause', by: 'carol', identity: '' },
    ]);
    // A run continued as new was started by the worker, not by a person.
    expect(recordedMessages([started(0, 'worker@host', 'mallory', 'run-1')])).toEqual([]);
  });

  it("pairs each entry a message caused with the closest message of the same verb and sender, once; the workflow's own entries get none", () => {
    const out = withCallers(timeline, recordedMessages(events));
    expect(out.map((e) => [e.action, e.by, e.callerIdentity])).toEqual([
      ['start', 'mallory', 'canary:ci@runner-7'],
      ['setWeight', 'canary', undefined],
      ['approve', 'alice', 'temporal-cli:eve@laptop'], // the forged signal: ignored, but who sent it is on record
      ['approve', 'alice', 'temporal-cli:alice@desk'], // the update accepted just after its workflow task's time
      ['pause', 'carol', ''], // a client that gave no identity
      ['promote (full)', 'bob', undefined], // no message recorded (e.g. an older run not read)
    ]);
    // Two identical messages are not both given to one entry.
    const twice = withCallers([timeline[3]!, timeline[3]!], recordedMessages(events));
    expect(twice.map((e) => e.callerIdentity)).toEqual(['temporal-cli:alice@desk', 'temporal-cli:eve@laptop']);
  });

  it('shows the verified key and the client-asserted identity in canary history and canary status', () => {
    const out = withCallers(timeline, recordedMessages(events));
    expect(formatHistory(out).split('\n').slice(0, 5)).toEqual([
      'TIME                  BY       ACTION             DETAIL                                          SIGNED BY KEY  CLIENT IDENTITY',
      '2030-05-01 12:00:00Z  mallory  start              checkout v2, 3 steps                                           canary:ci@runner-7',
      '2030-05-01 12:00:05Z  canary   setWeight          canary 10%',
      "2030-05-01 12:00:30Z  alice    approve [IGNORED]  the signature does not verify with alice's key                 temporal-cli:eve@laptop",
      '2030-05-01 12:01:00Z  alice    approve            step 1                                          SHA256:abc     temporal-cli:alice@desk',
    ]);
    expect(formatSender(out[3]!)).toBe('signature verified (SHA256:abc); client identity temporal-cli:alice@desk (client-asserted)');
    expect(formatSender(out[4]!)).toBe('unsigned; client identity (none given) (client-asserted)');
    expect(formatSender(timeline[3]!)).toBe('signature verified (SHA256:abc)');
    expect(formatTimelineEntry(timeline[3]!)).toBe('12:01:00Z alice approve [SIGNED]: step 1');
    const status = { timeline, initiator: 'mallory', startedAt: iso(0), updatedAt: iso(70) } as Partial<ReleaseStatus>;
    const text = formatStatus(
      {
        releaseId: 'release-checkout/r1',
        service: 'checkout',
        version: 'v2',
        phase: 'Progressing',
        step: 2,
        steps: [],
        paused: false,
        verifiedWeights: {},
        requestedWeights: {},
        targetGroups: [],
        rollbackPlan: [],
        ...status,
      } as ReleaseStatus,
      { now: new Date(T0 + 80_000), timeline: out },
    );
    expect(text.split('\n').filter((l) => /^approvals|^ +\d\d:\d\d:/.test(l))).toEqual([
      'approvals      12:01:00Z alice approve: step 1 — signature verified (SHA256:abc); client identity temporal-cli:alice@desk (client-asserted)',
      '               12:01:10Z bob promote (full) — unsigned',
    ]);
  });

  it('lists who steered the release in the report: the verified key and the client identity of each message', () => {
    const data = longReleaseData(0.25);
    const html = renderReport({ ...data, status: { ...data.status, timeline }, messages: recordedMessages(events) });
    const section = /<h2>Who steered the release<\/h2>[\s\S]*?<\/table>/.exec(html)?.[0] ?? '';
    const rows = [...section.matchAll(/<tr>(.*?)<\/tr>/g)].slice(1).map((m) => [...m[1]!.matchAll(/<td>(.*?)<\/td>/g)].map((c) => c[1]));
    expect(rows.map((r) => [r[1], r[2], r[4], r[5]])).toEqual([
      ['mallory', 'start', 'unsigned', 'canary:ci@runner-7'],
      ['alice', '<span class="alert">✗ </span>approve', 'unsigned', 'temporal-cli:eve@laptop'],
      ['alice', 'approve', 'verified SHA256:abc', 'temporal-cli:alice@desk'],
      ['carol', 'pause', 'unsigned', '(none given)'],
    ]);
  });

  it("names canary's own requests canary:USER@HOST", () => {
    expect(cliIdentity()).toMatch(/^canary:[^@\s]+@\S+$/);
  });
});
