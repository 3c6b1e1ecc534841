import { sessionsNote } from '../../common/status-view';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SpecValidationError } from '../../common/spec';
import type { ReleaseResult, ReleaseStatus, TimelineEntry } from '../../common/status';
import { listQuery } from '../../client/commands/list';
import { errorExit, ExitCode } from '../../client/exit-codes';
import { resolveConnection, uiUrlFor, workflowUrl } from '../../client/connection';
import {
  describeStep,
  formatAnalysis,
  formatMetric,
  formatFallbackStatus,
  formatGate,
  formatHistory,
  formatList,
  formatResult,
  formatSpecErrors,
  formatStatus,
  formatStep,
  formatTimelineEntry,
  formatWeights,
  historyJson,
  progressBarPayload,
  progressLine,
} from '../../client/format';
import { MessageRejectedError, ReleaseAlreadyRunningError } from '../../client/release-client';
import type { AnalysisRun } from '../../analysis/analysis';

const NOW = new Date('2030-05-01T12:00:00.000Z');
const at = (secondsFromNow: number): string => new Date(NOW.getTime() + secondsFromNow * 1000).toISOString();

/** A status snapshot as the workflow's query answers it, mid-release by default. */
function buildStatus(over: Partial<ReleaseStatus> = {}): ReleaseStatus {
  return {
    releaseId: 'release-checkout/run-1',
    service: 'checkout',
    version: 'v2.3.1',
    initiator: 'ci-bot',
    phase: 'Progressing',
    step: 2,
    steps: [
      { kind: 'setWeight', weight: 10 },
      { kind: 'pause', durationMs: 300_000 },
      { kind: 'analysis', template: 'errors' },
      { kind: 'approval', approvers: ['alice', 'bob'], timeoutMs: 86_400_000, onTimeout: 'rollback', allowSelfApproval: false },
      { kind: 'setWeight', weight: 100 },
    ],
    requestedWeights: { stable: 90, canary: 10 },
    verifiedWeights: { stable: 90, canary: 10 },
    targetGroups: [
      { role: 'stable', name: 'checkout-v1', arn: 'arn:tg/checkout-v1' },
      { role: 'canary', name: 'checkout-v2-3-1-abc123', arn: 'arn:tg/checkout-v2' },
    ],
    paused: false,
    timeline: [
      { at: at(-120), by: 'ci-bot', action: 'start', detail: 'checkout v2.3.1, 5 steps', accepted: true },
      { at: at(-100), by: 'canary', action: 'setWeight', detail: 'canary 10%, stable 90% (verified)', accepted: true },
    ],
    rollbackPlan: [
      { kind: 'restoreActions', description: 'restore the pre-release listener actions (forward) and verify them' },
      { kind: 'deleteTargetGroup', description: 'delete target group checkout-v2-3-1-abc123 once no forward action references it' },
    ],
    startedAt: at(-120),
    updatedAt: at(-10),
    ...over,
  };
}

function buildResult(over: Partial<ReleaseResult> = {}): ReleaseResult {
  return {
    outcome: 'promoted',
    reason: 'v2.3.1 serves 100% of traffic',
    service: 'checkout',
    version: 'v2.3.1',
    durationMs: 754_000,
    stepsCompleted: 5,
    steps: 5,
    finalForward: [{ name: 'checkout-v2-3-1-abc123', weight: 100 }],
    ...over,
  };
}

const failingRun: AnalysisRun = {
  templateName: 'errors',
  verdict: 'fail',
  reason: '5xx-rate = 0.2, needs <= 0.05',
  counters: { measurements: 3, failed: 2, inconclusive: 0, errors: 0, consecutiveErrors: 0 },
  last: {
    at: at(-5),
    verdict: 'fail',
    metrics: [
      { metric: '5xx-rate', canary: 0.2, reference: null, verdict: 'fail', critical: true, threshold: '<= 0.05' },
      { metric: 'latency', canary: 0.123456, reference: 0.1, referenceVariant: 'stable', verdict: 'pass', critical: false, threshold: '<= 1.5 x stable (0.1)' },
      { metric: 'saturation', canary: null, reference: null, verdict: 'nodata', critical: false, threshold: '<= 0.8' },
    ],
  },
};

describe('step and weight wording', () => {
  it('describes each kind of step the way the spec reads', () => {
    expect(describeStep({ kind: 'setWeight', weight: 25 })).toBe('setWeight 25%');
    expect(describeStep({ kind: 'pause', durationMs: 300_000 })).toBe('pause 5m');
    expect(describeStep({ kind: 'pause', durationMs: null })).toBe('pause until resumed');
    expect(describeStep({ kind: 'analysis', template: 'errors' })).toBe('analysis errors');
    expect(describeStep({ kind: 'approval', approvers: ['alice'], timeoutMs: 86_400_000, onTimeout: 'continue', allowSelfApproval: false })).toBe(
      'approval by alice (timeout 1d, then continue)',
    );
    expect(describeStep({ kind: 'approval', approvers: [], timeoutMs: 3_600_000, onTimeout: 'rollback', allowSelfApproval: true })).toBe(
      'approval by anyone but the initiator (self-approval allowed) (timeout 1h, then rollback)',
    );
  });

  it('shows steps 1-based with the 0-based index that gates and --step use, and says when all ran', () => {
    expect(formatStep(buildStatus())).toBe('step 3/5 (#2): analysis errors');
    expect(formatStep(buildStatus({ step: 5 }))).toBe('all 5 steps done');
    expect(formatStep(buildStatus({ phase: 'RolledBack', step: 1 }))).toBe('stopped at step 2/5 (#1): pause 5m');
  });

  it('lists weights canary first and leaves out roles that are not attached', () => {
    expect(formatWeights({ stable: 80, canary: 10, baseline: 10 })).toBe('canary 10% / baseline 10% / stable 80%');
    expect(formatWeights({ canary: 33.333 })).toBe('canary 33.3%');
    expect(formatWeights({})).toBe('not read yet');
  });
});

describe('gates', () => {
  it('names the approvers, the deadline with a countdown, what happens on timeout and the command to approve', () => {
    const line = formatGate(
      { kind: 'approval', seq: 1, step: 3, approvers: ['alice', 'bob'], openedAt: at(-60), deadline: at(270), onTimeout: 'rollback' },
      NOW,
      'release-checkout',
    );
    expect(line).toBe('approval at step #3 by alice, bob, closes 2030-05-01 12:04:30Z (in 4m30s), then rollback — canary approve release-checkout --step 3');
  });

  it('tells an indefinite pause from a timed one and from an inconclusive analysis', () => {
    expect(formatGate({ kind: 'pause', seq: 1, step: 1, openedAt: at(-1) }, NOW, 'release-x')).toBe(
      'pause at step #1 until resumed — canary resume|promote release-x',
    );
    expect(formatGate({ kind: 'pause', seq: 1, step: 1, openedAt: at(-1), deadline: at(30) }, NOW, 'release-x')).toMatch(
      /^timed pause at step #1, closes .* \(in 30s\)/,
    );
    expect(formatGate({ kind: 'inconclusive', seq: 1, step: 2, openedAt: at(-1) }, NOW)).toMatch(/^inconclusive analysis at step #2: a person decides/);
    expect(formatGate({ kind: 'manual-pause', seq: 1, step: 4, openedAt: at(-1) }, NOW)).toMatch(/^paused by hand before step #4/);
  });
});

describe('analysis', () => {
  it('shows each metric of the last measurement: value, threshold, verdict, critical', () => {
    expect(formatAnalysis(failingRun)).toEqual([
      'errors: fail — 5xx-rate = 0.2, needs <= 0.05 (3 measured, 2 failed, 0 inconclusive, 0 errors)',
      '  last measurement 2030-05-01 11:59:55Z: fail',
      '    5xx-rate: canary 0.2, needs <= 0.05 → fail (critical)',
      '    latency: canary 0.1235, needs <= 1.5 x stable (0.1) → pass',
      '    saturation: canary no data, needs <= 0.8 → nodata',
    ]);
  });
  it("adds the statistical judge's verdict, p-value and ratio, and the canary score, when the template has a judge", () => {
    const judged: AnalysisRun = {
      ...failingRun,
      last: {
        at: at(-5),
        verdict: 'fail',
        score: { score: 50, verdict: 'fail', reason: 'score 50 < marginal 75', criticalFailures: ['latency'] },
        metrics: [
          {
            metric: 'latency',
            canary: 0.13,
            reference: null,
            verdict: 'pass',
            critical: true,
            threshold: '<= 0.5',
            stat: {
              against: 'baseline',
              verdict: 'high',
              failed: true,
              pValue: 0.0031234,
              ratioOfMeans: 1.3049,
              cles: 0.81,
              canaryMean: 0.13,
              baselineMean: 0.1,
              canaryCount: 30,
              baselineCount: 30,
              reason: 'canary higher',
            },
          },
        ],
      },
    };
    expect(formatAnalysis(judged).slice(1)).toEqual([
      '  last measurement 2030-05-01 11:59:55Z: fail',
      '  score 50 (fail): score 50 < marginal 75; critical failures: latency',
      '    latency: canary 0.13, needs <= 0.5 → pass (critical); judge vs baseline: high (p 0.0031, ratio 1.30) FAIL',
    ]);
  });

  it("shows the sequential judge's effect, its interval and the evidence against the boundary", () => {
    const stat = {
      against: 'baseline' as const,
      verdict: 'high' as const,
      failed: true,
      pValue: 0.019,
      ratioOfMeans: 1.31,
      ratio: 1.31,
      cles: null,
      canaryMean: 0.131,
      baselineMean: 0.1,
      canaryCount: 24,
      baselineCount: 24,
      reason: 'boundary crossed',
      evidence: { test: 'paired' as const, eValue: 52.08, boundary: 40, effect: 1.3123, interval: [1.118, 1.52] as [number, number], buckets: 24 },
    };
    const m = { metric: 'latency', canary: 0.13, reference: null, verdict: 'pass' as const, critical: false, threshold: '<= 0.5', stat };
    expect(formatMetric(m)).toBe(
      'latency: canary 0.13, needs <= 0.5 → pass; judge vs baseline: high (ratio 1.31 [1.12, 1.52], e-value 52.1 >= 40, 24 buckets) FAIL',
    );
    const early = {
      ...stat,
      verdict: 'pass' as const,
      failed: false,
      evidence: { ...stat.evidence, test: 'counts' as const, eValue: 1.4, interval: [0.5, null] as [number, null] },
    };
    expect(formatMetric({ ...m, stat: early })).toBe(
      'latency: canary 0.13, needs <= 0.5 → pass; judge vs baseline: pass (error-rate ratio 1.31 [0.5, ∞], e-value 1.4 < 40, 24 buckets)',
    );
  });
});

describe('results', () => {
  it('gives one line per outcome with who stopped it and why', () => {
    expect(formatResult(buildResult())).toBe('promoted: checkout v2.3.1 serves 100% of traffic (5/5 steps in 12m34s)');
    expect(formatResult(buildResult({ by: 'alice' }))).toBe('promoted: checkout v2.3.1 serves 100% of traffic (promoted by alice) (5/5 steps in 12m34s)');
    expect(formatResult(buildResult({ outcome: 'aborted', by: 'bob', reason: 'customer complaints', stepsCompleted: 2 }))).toBe(
      'aborted by bob: customer complaints; traffic is back on the previous version (2/5 steps in 12m34s)',
    );
    expect(
      formatResult(buildResult({ outcome: 'rolled-back', by: 'canary', reason: 'analysis errors failed at step 2: 5xx-rate = 0.2', stepsCompleted: 2 })),
    ).toMatch(/^rolled back: analysis errors failed at step 2: 5xx-rate = 0\.2; traffic is back/);
  });
});

describe('status snapshot', () => {
  it('shows phase, step, requested vs verified weights, target groups, analysis, gate and link', () => {
    const text = formatStatus(
      buildStatus({
        phase: 'AwaitingApproval',
        step: 3,
        requestedWeights: { stable: 75, canary: 25 },
        verifiedWeights: { stable: 75, canary: 25 },
        analysis: { ...failingRun, verdict: 'pass', reason: 'all metrics pass' },
        backgroundAnalysis: {
          templateName: 'errors',
          verdict: 'pass',
          reason: 'ok so far',
          counters: { measurements: 12, failed: 0, inconclusive: 1, errors: 0, consecutiveErrors: 0 },
        },
        gate: { kind: 'approval', seq: 1, step: 3, approvers: ['alice', 'bob'], openedAt: at(-60), deadline: at(3600), onTimeout: 'rollback' },
      }),
      { now: NOW, uiUrl: 'http://localhost:8233/namespaces/default/workflows/release-checkout/run-1', execution: 'RUNNING' },
    );
    const lines = text.split('\n');
    expect(lines[0]).toBe('release        release-checkout  checkout v2.3.1  (run run-1)');
    expect(text).toContain('phase          AwaitingApproval\n');
    expect(text).toContain('step           step 4/5 (#3): approval by alice, bob (timeout 1d, then rollback)');
    expect(text).toContain('weights        canary 25% / stable 75% verified; requested canary 25% / stable 75%');
    expect(text).toContain('target groups  stable checkout-v1, canary checkout-v2-3-1-abc123');
    expect(text).toContain('analysis       errors: pass — all metrics pass');
    expect(text).toContain('                   5xx-rate: canary 0.2, needs <= 0.05 → fail (critical)');
    expect(text).toContain('background     errors: pass — ok so far (12 measured, 0 failed, 1 inconclusive, 0 errors)');
    expect(text).toContain(
      'waiting for    approval at step #3 by alice, bob, closes 2030-05-01 13:00:00Z (in 1h), then rollback — canary approve release-checkout --step 3',
    );
    expect(text).toContain('started        2030-05-01 11:58:00Z by ci-bot (2m ago)');
    expect(text).toContain('ui             http://localhost:8233/namespaces/default/workflows/release-checkout/run-1');
    // The rollback plan is noise while the release goes forward.
    expect(text).not.toContain('rollback plan');
  });

  it('says, under the weights, that they count new sessions while the release holds traffic.stickiness', () => {
    const note = sessionsNote(3600);
    const text = formatStatus(buildStatus({ verifiedWeights: { stable: 90, canary: 10 }, stickiness: { durationSeconds: 3600, note } }), { now: NOW });
    expect(text).toMatch(
      /\nweights +canary 10% \/ stable 90% verified[^\n]*\n +weights count new sessions, not requests: a user stays on the version they got for 1h \(traffic\.stickiness\)\n/,
    );
    expect(formatStatus(buildStatus({}), { now: NOW })).not.toContain('new sessions');
  });

  it('shows the rollback plan in order while rolling back, and the error when a rollback failed', () => {
    const text = formatStatus(buildStatus({ phase: 'RollbackFailed', rollbackError: 'Throttling: rate exceeded' }), { now: NOW });
    expect(text).toMatch(
      /\nrollback plan +1\. restore the pre-release listener actions \(forward\) and verify them\n +2\. delete target group checkout-v2-3-1-abc123/,
    );
    expect(text).toMatch(/\nrollback error +Throttling: rate exceeded\n/);
    expect(text).toMatch(/step +stopped at step 3\/5 \(#2\)/);
  });

  it('shows the result of a finished release and the workflow state when it is not running', () => {
    const text = formatStatus(buildStatus({ phase: 'Succeeded', step: 5, result: buildResult(), verifiedWeights: { canary: 100 } }), {
      now: NOW,
      execution: 'COMPLETED',
    });
    expect(text).toContain('Succeeded  [workflow COMPLETED]');
    expect(text).toContain('all 5 steps done');
    expect(text).toMatch(/result +promoted: checkout v2\.3\.1 serves 100% of traffic/);
  });

  it('falls back to what the server knows when the query cannot be answered', () => {
    const text = formatFallbackStatus(
      {
        workflowId: 'release-checkout',
        runId: 'run-1',
        execution: 'COMPLETED',
        service: 'checkout',
        version: 'v2.3.1',
        phase: 'RolledBack',
        canaryWeight: 0,
        startTime: at(-600),
        closeTime: at(-60),
        result: buildResult({ outcome: 'aborted', by: 'bob', reason: 'pager' }),
        queryError: 'the status query got no answer in 15s',
      },
      {},
    );
    expect(text).toContain('workflow       COMPLETED at 2030-05-01 11:59:00Z');
    expect(text).toContain('phase          RolledBack (search attribute)');
    expect(text).toContain('canary weight  0%');
    expect(text).toContain('result         aborted by bob: pager');
    expect(text).toMatch(/note +live status unavailable \(the status query got no answer in 15s\); is a worker running/);
  });
});

describe('progress', () => {
  it('prints a line that changes only when the release does (no countdown in it)', () => {
    const gated = buildStatus({
      phase: 'AwaitingApproval',
      step: 3,
      gate: { kind: 'approval', seq: 1, step: 3, approvers: ['alice'], openedAt: at(-1), deadline: at(600), onTimeout: 'rollback' },
    });
    const a = progressLine(gated, NOW);
    const b = progressLine(gated, new Date(NOW.getTime() + 5_000));
    expect(a).toBe(b);
    expect(a).toBe(
      'AwaitingApproval | step 4/5 (#3): approval by alice, bob (timeout 1d, then rollback) | canary 10% / stable 90% | waiting: approval at step #3 by alice, closes 2030-05-01 12:10:00Z, then rollback — canary approve release-checkout --step 3',
    );
  });

  it('feeds the bar the verified canary weight, the step and what it waits for or the outcome', () => {
    expect(progressBarPayload(buildStatus({ verifiedWeights: { stable: 74.6, canary: 25.4 } }), NOW)).toEqual({
      weight: 25,
      phase: 'Progressing',
      step: '3/5',
      note: 'analysis errors',
    });
    expect(
      progressBarPayload(buildStatus({ phase: 'RolledBack', result: buildResult({ outcome: 'rolled-back' }), verifiedWeights: { stable: 100 } }), NOW),
    ).toEqual({
      weight: 0,
      phase: 'RolledBack',
      step: '3/5',
      note: 'rolled-back',
    });
  });
});

describe('history', () => {
  const timeline: TimelineEntry[] = [
    { at: at(-60), by: 'ci-bot', action: 'start', detail: 'checkout v2.3.1, 5 steps', accepted: true },
    { at: at(-30), by: 'mallory', action: 'approve', detail: 'ignored: mallory is not an approver of step 3 (approvers: alice, bob)', accepted: false },
    { at: at(-20), by: 'alice', action: 'approve', detail: 'step 3: dashboards look fine', accepted: true },
    { at: at(-10), by: 'bob', action: 'abort', detail: 'customer complaints', accepted: true },
  ];

  it('prints who did what, when and why, marking ignored signals', () => {
    expect(formatHistory(timeline).split('\n')).toEqual([
      'TIME                  BY       ACTION             DETAIL',
      '2030-05-01 11:59:00Z  ci-bot   start              checkout v2.3.1, 5 steps',
      '2030-05-01 11:59:30Z  mallory  approve [IGNORED]  mallory is not an approver of step 3 (approvers: alice, bob)',
      '2030-05-01 11:59:40Z  alice    approve            step 3: dashboards look fine',
      '2030-05-01 11:59:50Z  bob      abort              customer complaints',
    ]);
    expect(formatHistory([])).toBe('no events yet');
    expect(formatTimelineEntry(timeline[1] as TimelineEntry)).toBe(
      '11:59:30Z mallory approve [IGNORED]: mallory is not an approver of step 3 (approvers: alice, bob)',
    );
  });

  it('keeps every recorded field in JSON and spells out ignored', () => {
    expect(historyJson(timeline)[1]).toEqual({ ...timeline[1], ignored: true });
    expect(historyJson(timeline)[2]?.ignored).toBe(false);
  });
});

describe('list', () => {
  it('prints one aligned row per release', () => {
    const text = formatList([
      {
        workflowId: 'release-checkout',
        runId: 'r2',
        service: 'checkout',
        version: 'v2.3.1',
        phase: 'AwaitingApproval',
        canaryWeight: 25,
        startTime: at(-60),
        execution: 'RUNNING',
      },
      {
        workflowId: 'release-checkout',
        runId: 'r1',
        service: 'checkout',
        version: 'v2.3.0',
        phase: 'Succeeded',
        canaryWeight: 100,
        startTime: at(-86_400),
        closeTime: at(-80_000),
        execution: 'COMPLETED',
      },
      { workflowId: 'release-old', runId: 'r0', startTime: at(-90_000), execution: 'TERMINATED' },
    ]);
    expect(text.split('\n')).toEqual([
      'RELEASE           VERSION  PHASE             CANARY  STARTED               STATUS',
      'release-checkout  v2.3.1   AwaitingApproval  25%     2030-05-01 11:59:00Z  RUNNING',
      'release-checkout  v2.3.0   Succeeded         100%    2030-04-30 12:00:00Z  COMPLETED',
      'release-old       -        -                 -       2030-04-30 11:00:00Z  TERMINATED',
    ]);
    expect(formatList([])).toBe('no releases found');
  });

  it('builds the visibility query from the search attributes', () => {
    expect(listQuery({})).toBe(`WorkflowType = 'release'`);
    expect(listQuery({ service: 'checkout', running: true })).toBe(`WorkflowType = 'release' AND ReleaseService = "checkout" AND ExecutionStatus = "Running"`);
    expect(() => listQuery({ service: 'x" OR 1=1' })).toThrow(/--service/);
  });
});

describe('errors and exit codes', () => {
  it('prints every invalid field as field: message and exits 2', () => {
    const e = new SpecValidationError([
      { field: 'steps[0].setWeight', message: 'must be between 0 and 100' },
      { field: 'extra', message: 'unknown field' },
    ]);
    expect(formatSpecErrors(e.errors)).toEqual(['steps[0].setWeight: must be between 0 and 100', 'extra: unknown field']);
    expect(errorExit(e)).toEqual({
      code: ExitCode.invalid,
      lines: ['invalid release spec, nothing was started:', 'steps[0].setWeight: must be between 0 and 100', 'extra: unknown field'],
    });
  });

  it('maps a conflict to 2, a rejected action to 4 with its reason, anything else to 5', () => {
    expect(errorExit(new ReleaseAlreadyRunningError('release-checkout', { version: 'v2' })).code).toBe(2);
    expect(errorExit(new MessageRejectedError('approve', 'ci-bot started this release and cannot approve it'))).toEqual({
      code: 4,
      lines: ['rejected: ci-bot started this release and cannot approve it'],
    });
    expect(errorExit(new Error('14 UNAVAILABLE: connection refused'))).toEqual({ code: 5, lines: ['error: 14 UNAVAILABLE: connection refused'] });
  });
});

describe('connection settings', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'canary-cli-'));
    fs.writeFileSync(
      path.join(dir, 'temporal.toml'),
      [
        '[profile.default]',
        'address = "temporal.internal:7233"',
        'namespace = "releases"',
        '',
        '[profile.prod]',
        'address = "prod.abcde.tmprl.cloud:7233"',
        'namespace = "prod.abcde"',
        'api_key = "k"',
      ].join('\n'),
    );
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ TEMPORAL_CONFIG_FILE: path.join(dir, 'temporal.toml'), ...extra });

  it('reads the profile, lets environment variables override it and flags override both', () => {
    expect(resolveConnection({}, env())).toMatchObject({
      address: 'temporal.internal:7233',
      namespace: 'releases',
      taskQueue: 'canary-releases',
      uiUrl: undefined,
    });
    expect(resolveConnection({}, env({ TEMPORAL_ADDRESS: '127.0.0.1:7233', CANARY_TASK_QUEUE: 'tq' }))).toMatchObject({
      address: '127.0.0.1:7233',
      namespace: 'releases',
      taskQueue: 'tq',
      uiUrl: 'http://127.0.0.1:8233',
    });
    expect(resolveConnection({ address: 'localhost:7234', namespace: 'ns', taskQueue: 'q2' }, env({ TEMPORAL_ADDRESS: 'x:1' }))).toMatchObject({
      address: 'localhost:7234',
      namespace: 'ns',
      taskQueue: 'q2',
      uiUrl: 'http://localhost:8233',
    });
    const prod = resolveConnection({ profile: 'prod' }, env());
    expect(prod).toMatchObject({ address: 'prod.abcde.tmprl.cloud:7233', namespace: 'prod.abcde', uiUrl: 'https://cloud.temporal.io' });
    expect(prod.connectionOptions).toMatchObject({ apiKey: 'k', tls: true });
  });

  it('fails with a message naming the profile when it does not exist, and rejects URLs as addresses', () => {
    expect(() => resolveConnection({}, env({ TEMPORAL_PROFILE: 'staging' }))).toThrow(/TEMPORAL_PROFILE=staging.*Profile 'staging' not found/);
    expect(() => resolveConnection({ address: 'http://temporal:7233' }, env())).toThrow(/host:port without a scheme/);
  });

  it('links a workflow run in the UI; CANARY_UI_URL / --ui-url win over the derived URL', () => {
    expect(uiUrlFor('temporal.internal:7233', 'https://temporal.example.com/')).toBe('https://temporal.example.com');
    expect(uiUrlFor('localhost:7233')).toBe('http://localhost:8233');
    expect(resolveConnection({}, env({ TEMPORAL_ADDRESS: '127.0.0.1:7233', CANARY_UI_URL: 'http://127.0.0.1:9000' })).uiUrl).toBe('http://127.0.0.1:9000');
    expect(resolveConnection({ uiUrl: 'http://ui' }, env({ CANARY_UI_URL: 'http://127.0.0.1:9000' })).uiUrl).toBe('http://ui');
    expect(workflowUrl('http://localhost:8233', 'default', 'release-checkout', 'abc')).toBe(
      'http://localhost:8233/namespaces/default/workflows/release-checkout/abc',
    );
    expect(workflowUrl(undefined, 'default', 'release-checkout')).toBeUndefined();
  });

  it('links Temporal Cloud releases to cloud.temporal.io from both endpoint forms: mTLS (namespace) and API key (regional)', () => {
    // mTLS (and API keys on a High Availability namespace): <namespace>.<account>.tmprl.cloud
    expect(uiUrlFor('prod.a1b2c.tmprl.cloud:7233')).toBe('https://cloud.temporal.io');
    // API keys: the regional endpoint <region>.<cloud provider>.api.temporal.io
    expect(uiUrlFor('us-east-1.aws.api.temporal.io:7233')).toBe('https://cloud.temporal.io');
    expect(uiUrlFor('europe-west3.gcp.api.temporal.io:7233')).toBe('https://cloud.temporal.io');
    expect(
      workflowUrl(
        resolveConnection({}, env({ TEMPORAL_ADDRESS: 'eu-west-1.aws.api.temporal.io:7233', TEMPORAL_NAMESPACE: 'prod.a1b2c' })).uiUrl,
        'prod.a1b2c',
        'release-checkout',
      ),
    ).toBe('https://cloud.temporal.io/namespaces/prod.a1b2c/workflows/release-checkout');
    // Lookalikes are not Temporal Cloud.
    expect(uiUrlFor('api.temporal.io.example.com:7233')).toBeUndefined();
    expect(uiUrlFor('tmprl.cloud.example.com:7233')).toBeUndefined();
  });
});
