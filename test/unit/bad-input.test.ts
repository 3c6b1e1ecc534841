/**
 * The bad-input catalogue: every way a release spec or a message payload can be wrong that we know of, each
 * rejected with an error that names the exact field and says why. Pure: the zod schemas only, no servers.
 *
 * Each row mutates a valid base spec (or payload) and expects parse to fail with an error at `field` whose
 * message contains `message`. Rows marked `bug` document a defect in common/: they fail until it is fixed.
 */
import type { z } from 'zod';
import { AbortInput, ApproveInput, PauseInput, PromoteInput, ResumeInput, payloadProblem } from '../../common/messages';
import { fieldErrors, parseReleaseSpec, ReleaseSpec, SpecValidationError, type FieldError } from '../../common/spec';
import { baseSpec, del, HUGE_SPEC_ROWS, LISTENER, METRIC, MB, push, QUERY, RULE, set, stat, ACCOUNT, type Row } from '../support/spec-catalogue';

const specRows: Row[] = [
  // wrong types
  { name: 'service is a number', mutate: set('service', 42), field: 'service', message: 'expected string' },
  { name: 'steps is a string', mutate: set('steps', 'setWeight 5'), field: 'steps', message: 'expected array' },
  {
    name: 'canaryTargets is an object',
    mutate: set('environment.canaryTargets', { id: '10.0.1.17' }),
    field: 'environment.canaryTargets',
    message: 'expected array',
  },
  {
    name: 'healthyTimeout is a number of seconds',
    mutate: set('environment.healthyTimeout', 300),
    field: 'environment.healthyTimeout',
    message: 'expected string',
  },
  { name: 'a step is null', mutate: set('steps.0', null), field: 'steps[0]', message: 'a step is an object with one key' },
  { name: 'setWeight is a string', mutate: set('steps.0.setWeight', '5'), field: 'steps[0].setWeight', message: 'expected number' },
  // weights
  { name: 'setWeight above 100', mutate: set('steps.4.setWeight', 120), field: 'steps[4].setWeight', message: 'must be between 0 and 100' },
  { name: 'setWeight below 0', mutate: set('steps.0.setWeight', -5), field: 'steps[0].setWeight', message: 'must be between 0 and 100' },
  {
    name: 'setWeight not a whole number',
    mutate: set('steps.0.setWeight', 1.5),
    field: 'steps[0].setWeight',
    message: 'must be a whole number of percent',
  },
  { name: 'setWeight NaN', mutate: set('steps.0.setWeight', NaN), field: 'steps[0].setWeight', message: 'expected number' },
  // steps
  { name: 'no steps', mutate: set('steps', []), field: 'steps', message: 'a release needs at least one step' },
  { name: 'a step with two keys', mutate: set('steps.0', { setWeight: 5, pause: {} }), field: 'steps[0]', message: 'a step has exactly one key' },
  { name: 'a step with an unknown key', mutate: set('steps.0', { wait: '5m' }), field: 'steps[0]', message: '(got wait)' },
  { name: 'an empty step', mutate: set('steps.0', {}), field: 'steps[0]', message: '(got none)' },
  { name: 'unknown field inside a pause', mutate: set('steps.1.pause.until', 'tomorrow'), field: 'steps[1].pause.until', message: 'unknown field' },
  { name: 'last setWeight is not 100', mutate: set('steps.5.setWeight', 80), field: 'steps', message: 'the last setWeight is 80' },
  { name: 'no setWeight step at all', mutate: set('steps', [{ pause: {} }]), field: 'steps', message: 'no setWeight step' },
  // analysis templates
  {
    name: 'analysis step names an unknown template',
    mutate: set('steps.2.analysis.template', 'latency'),
    field: 'steps[2].analysis.template',
    message: 'unknown analysis template "latency"',
  },
  {
    name: 'backgroundAnalysis names an unknown template',
    mutate: set('backgroundAnalysis.template', 'latency'),
    field: 'backgroundAnalysis.template',
    message: 'unknown analysis template "latency"',
  },
  {
    name: 'template name with a space',
    mutate: set('analysis.my errors', { metrics: [] }),
    field: 'analysis.my errors',
    message: 'a template name is 1-64 characters: letters, digits, _ or -',
  },
  {
    name: 'template without metrics',
    mutate: set(`analysis.errors.metrics`, []),
    field: 'analysis.errors.metrics',
    message: 'a template needs at least one metric, or alarms',
  },
  { name: 'alarms without names or prefix', mutate: set('analysis.errors.alarms', {}), field: 'analysis.errors.alarms', message: 'give alarm names, a prefix' },
  { name: 'alarm listed twice', mutate: set('analysis.errors.alarms', { names: ['a', 'a'] }), field: 'analysis.errors.alarms.names', message: 'listed twice' },
  { name: 'delay is not a duration', mutate: set('analysis.errors.delay', '2 minutes'), field: 'analysis.errors.delay', message: 'is not a duration' },
  {
    name: 'inconclusive onTimeout unknown',
    mutate: set('analysis.errors.inconclusive', { timeout: '1h', onTimeout: 'wait' }),
    field: 'analysis.errors.inconclusive.onTimeout',
    message: 'expected one of',
  },
  {
    name: 'inconclusive timeout of an analysis step is not a duration',
    mutate: set('steps.2.analysis.inconclusive', { timeout: 'forever' }),
    field: 'steps[2].analysis.inconclusive.timeout',
    message: 'is not a duration',
  },
  { name: 'noData is not an option', mutate: set('analysis.errors.noData', 'ignore'), field: 'analysis.errors.noData', message: 'expected one of' },
  // ARNs, region
  {
    name: 'listener ARN of a load balancer',
    mutate: set('traffic.listenerArn', LISTENER.replace(':listener/', ':loadbalancer/').replace(/\/[0-9a-f]+$/, '')),
    field: 'traffic.listenerArn',
    message: 'an Application Load Balancer listener ARN',
  },
  {
    name: 'listener ARN of a network load balancer',
    mutate: set('traffic.listenerArn', LISTENER.replace('/app/', '/net/')),
    field: 'traffic.listenerArn',
    message: 'an Application Load Balancer listener ARN',
  },
  {
    name: 'listener ARN with a short account id',
    mutate: set('traffic.listenerArn', LISTENER.replace(ACCOUNT, '1234')),
    field: 'traffic.listenerArn',
    message: 'listener ARN',
  },
  { name: 'rule ARN that is a listener ARN', mutate: set('traffic.ruleArn', LISTENER), field: 'traffic.ruleArn', message: 'a listener rule ARN' },
  {
    name: 'rule of another load balancer',
    mutate: set('traffic.ruleArn', RULE.replace('checkout-alb', 'payments-alb')),
    field: 'traffic.ruleArn',
    message: 'the rule does not belong to traffic.listenerArn',
  },
  {
    name: 'rule of another listener',
    mutate: set('traffic.ruleArn', RULE.replace('f2f7dc8efc522ab2', 'aaaadc8efc522ab2')),
    field: 'traffic.ruleArn',
    message: 'the rule does not belong to traffic.listenerArn',
  },
  {
    name: 'rule with the same ids in another region',
    mutate: set('traffic.ruleArn', RULE.replace('us-east-1', 'eu-west-1')),
    field: 'traffic.ruleArn',
    message: 'the rule does not belong to traffic.listenerArn',
  },
  {
    name: 'region differs from the listener ARN',
    mutate: set('region', 'eu-west-1'),
    field: 'traffic.listenerArn',
    message: "the listener is in us-east-1, the spec's region is eu-west-1",
  },
  { name: 'region in upper case', mutate: set('region', 'US-EAST-1'), field: 'region', message: 'an AWS region such as us-east-1' },
  // durations
  {
    name: "pause duration '5 minutes'",
    mutate: set('steps.1.pause.duration', '5 minutes'),
    field: 'steps[1].pause.duration',
    message: 'is not a duration',
  },
  {
    name: "pause duration '-1s'",
    mutate: set('steps.1.pause.duration', '-1s'),
    field: 'steps[1].pause.duration',
    message: 'is not a duration',
  },
  {
    name: "approval timeout '1.5h'",
    mutate: set('steps.3.approval.timeout', '1.5h'),
    field: 'steps[3].approval.timeout',
    message: 'is not a duration',
  },
  {
    name: "pause duration '99999999d' (274,000 years)",
    mutate: set('steps.1.pause.duration', '99999999d'),
    field: 'steps[1].pause.duration',
    message: 'is longer than the 365d a release may wait',
  },
  {
    name: "analysis window '5 minutes'",
    mutate: set('analysis.errors.window', '5 minutes'),
    field: 'analysis.errors.window',
    message: '"5 minutes" is not a duration',
  },
  { name: "rollback.retryInterval '-1s'", mutate: set('rollback.retryInterval', '-1s'), field: 'rollback.retryInterval', message: '"-1s" is not a duration' },
  {
    name: "backgroundAnalysis.interval '1.5h'",
    mutate: set('backgroundAnalysis.interval', '1.5h'),
    field: 'backgroundAnalysis.interval',
    message: '"1.5h" is not a duration',
  },
  {
    name: "promotion.keepPreviousFor '10 min'",
    mutate: set('promotion.keepPreviousFor', '10 min'),
    field: 'promotion.keepPreviousFor',
    message: 'use a whole number and one unit',
  },
  // targets
  { name: 'no canary targets', mutate: set('environment.canaryTargets', []), field: 'environment.canaryTargets', message: 'give at least one canary target' },
  {
    name: 'a canary target listed twice',
    mutate: push('environment.canaryTargets', { id: '10.0.1.17', port: 8080 }),
    field: 'environment.canaryTargets[1]',
    message: 'target 10.0.1.17:8080 is listed twice',
  },
  {
    name: 'a baseline target that is also a canary target',
    mutate: set('environment.baselineTargets', [{ id: '10.0.1.17', port: 8080 }]),
    field: 'environment.baselineTargets[0]',
    message: 'a baseline target cannot also be a canary target',
  },
  { name: 'port 0', mutate: set('environment.canaryTargets.0.port', 0), field: 'environment.canaryTargets[0].port', message: '>=1' },
  { name: 'port 70000', mutate: set('environment.canaryTargets.0.port', 70000), field: 'environment.canaryTargets[0].port', message: '<=65535' },
  { name: 'port 80.5', mutate: set('environment.canaryTargets.0.port', 80.5), field: 'environment.canaryTargets[0].port', message: 'expected int' },
  {
    name: "port '8080' as a string",
    mutate: set('environment.canaryTargets.0.port', '8080'),
    field: 'environment.canaryTargets[0].port',
    message: 'expected number',
  },
  { name: 'empty target id', mutate: set('environment.canaryTargets.0.id', ''), field: 'environment.canaryTargets[0].id', message: '>=1 characters' },
  // unknown fields
  { name: 'unknown top-level field', mutate: set('weights', [5, 100]), field: 'weights', message: 'unknown field' },
  { name: 'unknown field in traffic', mutate: set('traffic.weight', 5), field: 'traffic.weight', message: 'unknown field' },
  {
    name: 'unknown field in a target',
    mutate: set('environment.canaryTargets.0.az', 'us-east-1a'),
    field: 'environment.canaryTargets[0].az',
    message: 'unknown field',
  },
  { name: 'unknown field in an approval', mutate: set('steps.3.approval.quorum', 2), field: 'steps[3].approval.quorum', message: 'unknown field' },
  { name: 'unknown field in a metric', mutate: set(`${METRIC}.threshold`, 0.01), field: 'analysis.errors.metrics[0].threshold', message: 'unknown field' },
  { name: 'unknown field in promotion', mutate: set('promotion.keepPrevious', '10m'), field: 'promotion.keepPrevious', message: 'unknown field' },
  // metric queries
  {
    name: 'query with both MetricStat and Expression',
    mutate: set(`${QUERY}.2.MetricStat`, stat('x', 'y').MetricStat),
    field: 'analysis.errors.metrics[0].query[2]',
    message: 'needs exactly one of MetricStat or Expression',
  },
  {
    name: 'query with neither MetricStat nor Expression',
    mutate: del(`${QUERY}.2.Expression`),
    field: 'analysis.errors.metrics[0].query[2]',
    message: 'needs exactly one of MetricStat or Expression',
  },
  {
    name: 'query Id starting with a digit',
    mutate: set(`${QUERY}.0.Id`, '5xx'),
    field: 'analysis.errors.metrics[0].query[0].Id',
    message: 'a query Id starts with a lowercase letter',
  },
  {
    name: 'query Id in upper case',
    mutate: set(`${QUERY}.1.Id`, 'Requests'),
    field: 'analysis.errors.metrics[0].query[1].Id',
    message: 'a query Id starts with a lowercase letter',
  },
  { name: 'duplicate query Id', mutate: set(`${QUERY}.1.Id`, 'errors'), field: 'analysis.errors.metrics[0].query[1].Id', message: 'duplicate query Id errors' },
  {
    name: 'Period 7',
    mutate: set(`${QUERY}.0.MetricStat.Period`, 7),
    field: 'analysis.errors.metrics[0].query[0].MetricStat.Period',
    message: 'Period is 1, 5, 10 or 30 seconds, or a multiple of 60',
  },
  {
    name: 'Stat P99 (statistics are case-sensitive)',
    mutate: set(`${QUERY}.0.MetricStat.Stat`, 'P99'),
    field: 'analysis.errors.metrics[0].query[0].MetricStat.Stat',
    message: '"P99" is not a CloudWatch statistic',
  },
  {
    name: 'Stat p101',
    mutate: set(`${QUERY}.0.MetricStat.Stat`, 'p101'),
    field: 'analysis.errors.metrics[0].query[0].MetricStat.Stat',
    message: 'p101: pNN takes a number from 0 to 100',
  },
  {
    name: 'Stat PR with percentages',
    mutate: set(`${QUERY}.0.MetricStat.Stat`, 'PR(10%:90%)'),
    field: 'analysis.errors.metrics[0].query[0].MetricStat.Stat',
    message: 'PR bounds are metric values, not percentages',
  },
  {
    name: 'Stat TM with reversed bounds',
    mutate: set(`${QUERY}.0.MetricStat.Stat`, 'TM(90%:10%)'),
    field: 'analysis.errors.metrics[0].query[0].MetricStat.Stat',
    message: 'the lower bound must be below the upper bound',
  },
  {
    name: 'Period that does not divide the longest',
    mutate: (doc) => {
      set(`${QUERY}.0.MetricStat.Period`, 180)(doc);
      set(`${QUERY}.1.MetricStat.Period`, 120)(doc);
    },
    field: 'analysis.errors.metrics[0].query[1].MetricStat.Period',
    message: "Period 120 does not divide the template's longest Period 180",
  },
  {
    name: 'fill on an expression',
    mutate: set(`${QUERY}.2.fill`, 0),
    field: 'analysis.errors.metrics[0].query[2].fill',
    message: 'in an expression write FILL(id, 0)',
  },
  {
    name: 'fill in a metric CloudWatch evaluates',
    mutate: (doc) => {
      set(`${QUERY}.0.fill`, 0)(doc);
      set(`${QUERY}.2.Expression`, 'IF(requests > 0, errors / requests, 0)')(doc);
    },
    field: 'analysis.errors.metrics[0].query[0].fill',
    message: 'write FILL(errors, 0) in the expression',
  },
  {
    name: 'fill is not a number, repeat or linear',
    mutate: set(`${QUERY}.0.fill`, 'zero'),
    field: 'analysis.errors.metrics[0].query[0].fill',
    message: 'fill is a number, repeat or linear',
  },
  {
    name: 'expression referencing an unknown id',
    mutate: set(`${QUERY}.2.Expression`, 'errors / reqs'),
    field: 'analysis.errors.metrics[0].query[2].Expression',
    message: '"reqs" is not the Id of another query',
  },
  {
    name: 'expression referencing itself',
    mutate: set(`${QUERY}.2.Expression`, 'rate * 2'),
    field: 'analysis.errors.metrics[0].query[2].Expression',
    message: '"rate" is not the Id of another query',
  },
  {
    name: 'expression syntax error',
    mutate: set(`${QUERY}.2.Expression`, 'errors / (requests'),
    field: 'analysis.errors.metrics[0].query[2].Expression',
    message: 'missing ")"',
  },
  {
    name: 'expression with an unknown function',
    mutate: set(`${QUERY}.2.Expression`, 'SUMM(METRICS())'),
    field: 'analysis.errors.metrics[0].query[2].Expression',
    message: 'unknown metric math function or keyword "SUMM"',
  },
  {
    name: 'CloudWatch expression referencing an unknown id',
    mutate: set(`${QUERY}.2.Expression`, 'FILL(errs, 0) / requests'),
    field: 'analysis.errors.metrics[0].query[2].Expression',
    message: '"errs" is not the Id of another query',
  },
  {
    name: 'dimension with an unknown field',
    mutate: set(`${QUERY}.0.MetricStat.Metric.Dimensions.0.Region`, 'x'),
    field: 'analysis.errors.metrics[0].query[0].MetricStat.Metric.Dimensions[0].Region',
    message: 'unknown field',
  },
  // pass conditions
  {
    name: 'relativeTo baseline without baselineTargets',
    mutate: set(`${METRIC}.pass`, { relativeTo: 'baseline', maxRatio: 1.5 }),
    field: 'analysis.errors.metrics[0].pass.relativeTo',
    message: 'relativeTo: baseline needs environment.baselineTargets',
  },
  {
    name: 'maxRatio without relativeTo',
    mutate: set(`${METRIC}.pass`, { maxRatio: 1.5 }),
    field: 'analysis.errors.metrics[0].pass.relativeTo',
    message: 'maxRatio/minRatio need relativeTo',
  },
  {
    name: 'min above max',
    mutate: set(`${METRIC}.pass`, { min: 0.5, max: 0.01 }),
    field: 'analysis.errors.metrics[0].pass.min',
    message: 'min 0.5 is above max 0.01',
  },
  { name: 'pass without a bound', mutate: set(`${METRIC}.pass`, {}), field: 'analysis.errors.metrics[0].pass', message: 'give at least one of max, min' },
  {
    name: 'metric without pass bounds in a template without a judge',
    mutate: del(`${METRIC}.pass`),
    field: 'analysis.errors.metrics[0].pass',
    message: 'a metric needs pass bounds',
  },
  // notifications
  {
    name: 'webhook given as a URL',
    mutate: set('notifications', { webhook: 'https://hooks.example.com/T000/B000' }),
    field: 'notifications.webhook',
    message: 'a webhook name',
  },
  {
    name: 'unknown notification event',
    mutate: set('notifications', { webhook: 'oncall', events: ['deployed'] }),
    field: 'notifications.events[0]',
    message: 'expected one of',
  },
  { name: 'failureLimit -1', mutate: set('analysis.errors.failureLimit', -1), field: 'analysis.errors.failureLimit', message: '>=0' },
  // names
  { name: 'service name in upper case', mutate: set('service', 'Checkout'), field: 'service', message: 'lowercase letters' },
  { name: 'service name of 21 characters', mutate: set('service', 'checkout-service-eu-1'), field: 'service', message: '1-20 characters' },
  { name: 'service name ending with -', mutate: set('service', 'checkout-'), field: 'service', message: 'does not end with -' },
  { name: 'version with spaces', mutate: set('version', 'v2.3.1 beta'), field: 'version', message: 'letters, digits, . _ + -' },
  { name: 'initiator with a space', mutate: set('initiator', 'ci bot'), field: 'initiator', message: 'it contains U+0020' },
  // approvals
  {
    name: 'approval with duplicate approvers',
    mutate: set('steps.3.approval.approvers', ['alice', 'bob', 'alice']),
    field: 'steps[3].approval.approvers',
    message: 'approvers are listed twice',
  },
  {
    name: 'approver with a space',
    mutate: set('steps.3.approval.approvers.0', 'alice smith'),
    field: 'steps[3].approval.approvers[0]',
    message: 'it contains U+0020',
  },
  {
    name: 'approval without a timeout',
    mutate: del('steps.3.approval.timeout'),
    field: 'steps[3].approval.timeout',
    message: 'expected string',
  },
  {
    name: "approval onTimeout 'ignore'",
    mutate: set('steps.3.approval.onTimeout', 'ignore'),
    field: 'steps[3].approval.onTimeout',
    message: 'expected one of',
  },
  // huge inputs
  ...HUGE_SPEC_ROWS,
];

interface PayloadRow {
  name: string;
  schema: z.ZodType;
  payload: unknown;
  field: string;
  message: string;
}

const payloadRows: PayloadRow[] = [
  { name: 'approve without by', schema: ApproveInput, payload: { comment: 'lgtm' }, field: 'by', message: 'say who you are: {"by": "alice"}' },
  { name: 'approve with by empty', schema: ApproveInput, payload: { by: '' }, field: 'by', message: 'say who you are' },
  { name: 'approve with by blank', schema: ApproveInput, payload: { by: '   ' }, field: 'by', message: 'say who you are' },
  { name: 'approve step -1', schema: ApproveInput, payload: { by: 'alice', step: -1 }, field: 'step', message: '>=0' },
  { name: 'approve step 1.5', schema: ApproveInput, payload: { by: 'alice', step: 1.5 }, field: 'step', message: 'expected int' },
  { name: 'approve with an unknown field', schema: ApproveInput, payload: { by: 'alice', nope: 1 }, field: 'nope', message: 'unknown field' },
  {
    name: 'approve with a 3000-character comment',
    schema: ApproveInput,
    payload: { by: 'alice', comment: 'c'.repeat(3_000) },
    field: 'comment',
    message: '<=2000 characters',
  },
  { name: 'abort without reason', schema: AbortInput, payload: { by: 'alice' }, field: 'reason', message: 'give a reason' },
  { name: 'abort with an empty reason', schema: AbortInput, payload: { by: 'alice', reason: '' }, field: 'reason', message: 'give a reason' },
  { name: "promote full: 'yes'", schema: PromoteInput, payload: { by: 'alice', full: 'yes' }, field: 'full', message: 'expected boolean' },
  { name: 'pause with by a number', schema: PauseInput, payload: { by: 42 }, field: 'by', message: 'by is a name (a string)' },
  { name: 'resume with a 1 MB by', schema: ResumeInput, payload: { by: 'b'.repeat(MB) }, field: 'by', message: 'a name is 1-63 ASCII' },
  { name: 'approve with a bare string', schema: ApproveInput, payload: 'alice', field: '(spec)', message: 'expected object' },
];

/** Fails with the whole report when no error names `field` with `message`, saying which bug this is if known. */
function expectFieldError(errors: FieldError[], row: { field: string | RegExp; message: string; bug?: string }): void {
  const hit = errors.some((e) => (typeof row.field === 'string' ? e.field === row.field : row.field.test(e.field)) && e.message.includes(row.message));
  if (!hit) {
    const shown = errors.map((e) => ({
      field: e.field.length > 120 ? `${e.field.slice(0, 120)}… (${e.field.length} chars)` : e.field,
      message: e.message.slice(0, 200),
    }));
    throw new Error(
      `${row.bug ? `KNOWN BUG: ${row.bug}\n` : ''}expected an error at ${String(row.field)} containing ${JSON.stringify(row.message)}; got:\n${JSON.stringify(shown, null, 2)}`,
    );
  }
}

const timings: { name: string; ms: number }[] = [];

afterAll(() => {
  const total = timings.reduce((a, t) => a + t.ms, 0);
  const slowest = [...timings].sort((a, b) => b.ms - a.ms).slice(0, 3);
  process.stdout.write(
    `[figure] bad-input catalogue: ${specRows.length} specs + ${payloadRows.length} payloads rejected in ${total.toFixed(1)} ms of validation ` +
      `(slowest: ${slowest.map((t) => `${t.name} ${t.ms.toFixed(1)} ms`).join(', ')})\n`,
  );
});

describe('the base spec and payloads of the catalogue', () => {
  it('are valid, so each row tests exactly its own mutation', () => {
    expect(() => parseReleaseSpec(baseSpec())).not.toThrow();
    expect(ApproveInput.safeParse({ by: 'alice', step: 3, comment: 'lgtm' }).success).toBe(true);
    expect(AbortInput.safeParse({ by: 'alice', reason: 'errors' }).success).toBe(true);
    expect(PromoteInput.safeParse({ by: 'alice', full: true }).success).toBe(true);
  });
});

describe('invalid release specs are rejected naming the field and the reason', () => {
  it('has at least 40 specs in the catalogue', () => {
    expect(specRows.length + payloadRows.length).toBeGreaterThanOrEqual(40);
    expect(new Set(specRows.map((r) => r.name)).size).toBe(specRows.length);
  });

  it.each(specRows.map((r) => [r.bug ? `${r.name} [known bug]` : r.name, r] as const))('%s', (_label, row) => {
    const spec = baseSpec();
    row.mutate(spec);
    const t0 = performance.now();
    const result = ReleaseSpec.safeParse(spec);
    timings.push({ name: row.name, ms: performance.now() - t0 });
    expect(result.success).toBe(false);
    const errors = fieldErrors((result as { error: z.ZodError }).error);
    expectFieldError(errors, row);

    // The public entry point throws the same report.
    let thrown: unknown;
    try {
      parseReleaseSpec(spec);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(SpecValidationError);
    expect((thrown as SpecValidationError).errors).toEqual(errors);

    if (row.huge) {
      // How fast a huge input is rejected is measured (bench part 9, `npm run bench -- --only validation`), not asserted.
      const reportBytes = (thrown as Error).message.length;
      if (reportBytes > 4_096) {
        throw new Error(
          `${row.bug ? `KNOWN BUG: ${row.bug}\n` : ''}the error report of a huge input is ${reportBytes} characters: it echoes the input instead of naming its size`,
        );
      }
    }
  });
});

describe('invalid message payloads are rejected naming the field and the reason', () => {
  it.each(payloadRows.map((r) => [r.name, r] as const))('%s', (_label, row) => {
    const t0 = performance.now();
    const result = row.schema.safeParse(row.payload);
    timings.push({ name: row.name, ms: performance.now() - t0 });
    expect(result.success).toBe(false);
    const error = (result as { error: z.ZodError }).error;
    expectFieldError(fieldErrors(error), row);
    // What an update validator answers (workflows/release/messages.ts): `field: reason` of the first problem.
    const problem = payloadProblem(error);
    expect(problem.length).toBeLessThan(400);
    if (row.field !== '(spec)') expect(problem).toMatch(new RegExp(`^${row.field}: `));
  });
});
