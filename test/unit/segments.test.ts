/**
 * Segments without servers: the spec's segment / endSegment steps (every error names its field), the translation of
 * a match into ALB rule conditions and ALB's rule limits, and the local stack's rule router (dev/alb-rules.ts) that
 * the simulator uses to send segment traffic where the real rules say.
 */
import type { Rule } from '@aws-sdk/client-elastic-load-balancing-v2';
import { describeStep, formatStatus, progressLine } from '../../client/format';
import {
  activeSegments,
  cidrContains,
  combineConditions,
  conditionsKey,
  conditionValueCount,
  conditionWildcardCount,
  maxConcurrentSegments,
  parseCidr,
  parseIp,
  segmentConditions,
  type RuleCondition,
  type SegmentMatch,
} from '../../common/segments';
import { fieldErrors, ReleaseSpec, type ParsedStep } from '../../common/spec';
import type { ReleaseStatus } from '../../common/status';
import { conditionMatches, globMatch, matchRule, requestMatching, routeClasses, type SimRequest } from '../../dev/alb-rules';

const LISTENER = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/checkout-alb/50dc6c495c0c9188/f2f7dc8efc522ab2';

function spec(steps: unknown[]): Record<string, unknown> {
  return {
    service: 'checkout',
    version: 'v2.3.1',
    region: 'us-east-1',
    traffic: { listenerArn: LISTENER },
    environment: { canaryTargets: [{ id: '10.0.1.17', port: 8080 }] },
    steps: [...steps, { setWeight: 100 }],
  };
}

/** The errors of a spec whose steps are `steps` (+ setWeight 100), as `field: message`. */
function errorsOf(steps: unknown[]): string[] {
  const r = ReleaseSpec.safeParse(spec(steps));
  return r.success ? [] : fieldErrors(r.error).map((e) => `${e.field}: ${e.message}`);
}

const seg = (match: unknown, name = 'staff'): unknown => ({ segment: { name, match } });

describe('segment steps in the spec', () => {
  it('parses staff → beta → country → end, with countries in upper case', () => {
    const r = ReleaseSpec.parse(
      spec([
        seg({ sourceIp: ['10.20.0.0/16', '2001:db8::/32'] }),
        seg({ cookie: { name: 'beta', value: '1' } }, 'beta'),
        seg({ country: ['nz', 'AU'] }, 'anz'),
        seg({ header: { name: 'X-Canary', values: ['always', 'yes*'] } }, 'opt-in'),
        seg({ queryString: [{ key: 'canary', value: '1' }, { value: 'preview' }] }, 'links'),
        seg({ hostHeader: ['beta.example.com'] }, 'beta-host'),
        { endSegment: 'staff' },
        { setWeight: 10 },
      ]),
    );
    expect(r.steps.slice(0, 3)).toEqual([
      { kind: 'segment', name: 'staff', match: { sourceIp: ['10.20.0.0/16', '2001:db8::/32'] } },
      { kind: 'segment', name: 'beta', match: { cookie: { name: 'beta', value: '1' } } },
      { kind: 'segment', name: 'anz', match: { country: ['NZ', 'AU'] } },
    ]);
    expect(r.steps[6]).toEqual({ kind: 'endSegment', name: 'staff' });
  });

  it.each([
    ['a CIDR without prefix', seg({ sourceIp: ['10.20.0.1'] }), 'steps[0].segment.match.sourceIp[0]: "10.20.0.1" is not a CIDR block: add the prefix length'],
    ['an address out of range', seg({ sourceIp: ['10.300.0.0/16'] }), 'steps[0].segment.match.sourceIp[0]: "10.300.0.0/16" is not a CIDR block'],
    [
      'host bits set (v4)',
      seg({ sourceIp: ['10.0.0.0/8', '10.20.1.5/16'] }),
      'steps[0].segment.match.sourceIp[1]: "10.20.1.5/16" has host bits set: did you mean 10.20.0.0/16?',
    ],
    ['host bits set (v6)', seg({ sourceIp: ['fd00::1/64'] }), 'did you mean fd00::/64?'],
    ['a v6 prefix too long', seg({ sourceIp: ['2001:db8::/129'] }), 'the prefix length is 0..128'],
    ['a broken v6 address', seg({ sourceIp: ['2001:db8:::1/64'] }), 'is not an IPv4 or IPv6 address'],
    ['everyone by CIDR', seg({ sourceIp: ['0.0.0.0/0'] }), 'matches every address'],
    [
      'six CIDRs',
      seg({ sourceIp: ['10.1.0.0/16', '10.2.0.0/16', '10.3.0.0/16', '10.4.0.0/16', '10.5.0.0/16', '10.6.0.0/16'] }),
      'steps[0].segment.match.sourceIp: at most 5',
    ],
    [
      'a header name with a space',
      seg({ header: { name: 'X Beta', values: ['1'] } }),
      'steps[0].segment.match.header.name: a header name is an RFC 7230 token',
    ],
    ['a wildcard header name', seg({ header: { name: 'X-*', values: ['1'] } }), 'steps[0].segment.match.header.name'],
    ['a 41-character header name', seg({ header: { name: `X-${'a'.repeat(39)}`, values: ['1'] } }), 'at most 40 characters'],
    ['the Host header', seg({ header: { name: 'host', values: ['a.example.com'] } }), 'use match.hostHeader'],
    ['four header values', seg({ header: { name: 'X-Beta', values: ['1', '2', '3', '4'] } }), 'steps[0].segment.match.header.values: at most 3 values'],
    [
      'a header value that matches everyone',
      seg({ header: { name: 'X-Beta', values: ['*'] } }),
      'steps[0].segment.match.header.values[0]: "*" matches every request',
    ],
    ['a control character', seg({ header: { name: 'X-Beta', values: ['a\tb'] } }), 'visible ASCII'],
    ['a 129-character value', seg({ header: { name: 'X-Beta', values: ['a'.repeat(129)] } }), 'at most 128 characters'],
    [
      'six wildcards in one rule',
      seg({ header: { name: 'X-Beta', values: ['*a*', '*b*', '?c*'] } }),
      'steps[0].segment.match.header: 6 wildcards (* and ?); ALB allows 5 per rule',
    ],
    ['a cookie value with ;', seg({ cookie: { name: 'beta', value: '1;x' } }), 'steps[0].segment.match.cookie.value: a cookie value is RFC 6265 cookie-octets'],
    ['a wildcard in a cookie', seg({ cookie: { name: 'beta', value: '1*' } }), 'steps[0].segment.match.cookie.value'],
    ['an unknown country', seg({ country: ['NZ', 'XX'] }), 'steps[0].segment.match.country[1]: "XX" is not an ISO 3166-1 alpha-2 country code'],
    ['a three-letter country', seg({ country: ['NZL'] }), 'steps[0].segment.match.country[0]'],
    ['four countries', seg({ country: ['NZ', 'AU', 'US', 'GB'] }), 'steps[0].segment.match.country: at most 3 countries'],
    [
      'a dangling escape in a query value',
      seg({ queryString: [{ value: 'a\\' }] }),
      'steps[0].segment.match.queryString[0].value: a trailing \\ escapes nothing',
    ],
    ['a query pair without value', seg({ queryString: [{ key: 'canary' }] }), 'steps[0].segment.match.queryString[0].value'],
    ['a host with an underscore', seg({ hostHeader: ['beta_1.example.com'] }), 'steps[0].segment.match.hostHeader[0]: a host name is letters'],
    ['two kinds of match', seg({ sourceIp: ['10.0.0.0/8'], country: ['NZ'] }), 'steps[0].segment.match: a match has exactly one key'],
    ['an unknown kind of match', seg({ region: ['eu'] }), 'one of sourceIp, header, cookie, country, queryString, hostHeader'],
    ['an unknown field in a match', seg({ cookie: { name: 'beta', value: '1', path: '/' } }), 'steps[0].segment.match.cookie.path: unknown field'],
    ['an upper-case segment name', seg({ country: ['NZ'] }, 'Staff'), 'steps[0].segment.name: a segment name is 1-32 characters'],
  ])('refuses %s, naming the field', (_name, step, expected) => {
    expect(errorsOf([step]).join('\n')).toContain(expected);
  });

  it('checks segments across steps: started once, ended only while active', () => {
    const errors = errorsOf([
      seg({ country: ['NZ'] }, 'anz'),
      { endSegment: 'staff' },
      { endSegment: 'anz' },
      { endSegment: 'anz' },
      seg({ country: ['AU'] }, 'anz'),
    ]);
    expect(errors).toEqual([
      'steps[1].endSegment: no segment "staff" starts before this step',
      'steps[3].endSegment: segment "anz" has already ended',
      'steps[4].segment.name: segment "anz" is started twice; give each segment its own name',
    ]);
  });

  it('names the step key list when a step is unknown', () => {
    expect(errorsOf([{ segments: {} }]).join('\n')).toContain('one of setWeight, pause, analysis, approval, segment, endSegment');
  });

  it('knows which segments are active after each step and how many rules a release needs at most', () => {
    const steps = [
      { kind: 'segment', name: 'staff' },
      { kind: 'segment', name: 'beta' },
      { kind: 'setWeight' },
      { kind: 'endSegment', name: 'staff' },
      { kind: 'segment', name: 'anz' },
    ];
    expect(activeSegments(steps)).toEqual([['staff'], ['staff', 'beta'], ['staff', 'beta'], ['beta'], ['beta', 'anz']]);
    expect(maxConcurrentSegments(steps)).toBe(2);
    expect(maxConcurrentSegments([{ kind: 'setWeight' }])).toBe(0);
  });
});

describe('segment matches as ALB rule conditions', () => {
  it('matches a cookie through the Cookie header with wildcards, and a country through CloudFront-Viewer-Country', () => {
    expect(segmentConditions({ cookie: { name: 'beta', value: '1' } })).toEqual([
      { Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'Cookie', Values: ['*beta=1*'] } },
    ]);
    expect(segmentConditions({ country: ['NZ', 'AU'] })).toEqual([
      { Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'CloudFront-Viewer-Country', Values: ['NZ', 'AU'] } },
    ]);
    expect(segmentConditions({ queryString: [{ key: 'canary', value: '1' }, { value: 'x' }] })).toEqual([
      { Field: 'query-string', QueryStringConfig: { Values: [{ Key: 'canary', Value: '1' }, { Value: 'x' }] } },
    ]);
  });

  it('counts values and wildcards as ALB does: one per value or key/value pair, escaped wildcards are literal', () => {
    const q: RuleCondition = { Field: 'query-string', QueryStringConfig: { Values: [{ Key: 'a*', Value: 'b\\*' }, { Value: '?' }] } };
    expect(conditionValueCount(q)).toBe(2);
    expect(conditionWildcardCount(q)).toBe(2);
    const ip: RuleCondition = { Field: 'source-ip', SourceIpConfig: { Values: ['10.0.0.0/8', '10.1.0.0/16'] } };
    expect(conditionValueCount(ip)).toBe(2);
    expect(conditionWildcardCount(ip)).toBe(0);
  });

  const path: RuleCondition = { Field: 'path-pattern', Values: ['/checkout/*'], PathPatternConfig: { Values: ['/checkout/*'] } };

  it("adds the service rule's conditions, so a segment only ever catches the service's requests", () => {
    const combined = combineConditions([path], segmentConditions({ sourceIp: ['10.20.0.0/16'] }));
    expect(combined).toEqual({
      conditions: [
        { Field: 'path-pattern', PathPatternConfig: { Values: ['/checkout/*'] } },
        { Field: 'source-ip', SourceIpConfig: { Values: ['10.20.0.0/16'] } },
      ],
    });
  });

  it('refuses what ALB would refuse: a second source-ip, more than 5 values, more than 5 wildcards', () => {
    const office: RuleCondition = { Field: 'source-ip', SourceIpConfig: { Values: ['192.0.2.0/24'] } };
    expect(combineConditions([office], segmentConditions({ sourceIp: ['10.20.0.0/16'] }))).toEqual({
      problem: expect.stringContaining('already has a source-ip condition'),
    });
    const threePaths: RuleCondition = { Field: 'path-pattern', PathPatternConfig: { Values: ['/a/*', '/b/*', '/c/*'] } };
    expect(combineConditions([threePaths], segmentConditions({ country: ['NZ', 'AU', 'US'] }))).toEqual({
      problem: expect.stringContaining('6 condition values; ALB allows 5 per rule'),
    });
    // Exactly at the limits (5 values, 5 wildcards) is fine.
    expect(combineConditions([threePaths], segmentConditions({ header: { name: 'X-Beta', values: ['*1*'] } }))).toHaveProperty('conditions');
    expect(combineConditions([threePaths], segmentConditions({ header: { name: 'X-Beta', values: ['*1*', '?'] } }))).toEqual({
      problem: expect.stringContaining('6 wildcards'),
    });
  });

  it('compares conditions as ALB means them: order, case of header names and values, legacy Values ignored', () => {
    const written = combineConditions([path], segmentConditions({ header: { name: 'X-Beta', values: ['yes', 'on'] } }));
    if (!('conditions' in written)) throw new Error(written.problem);
    const described: RuleCondition[] = [
      { Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'x-beta', Values: ['ON', 'yes'] } },
      { Field: 'path-pattern', Values: ['/checkout/*'], PathPatternConfig: { Values: ['/checkout/*'] } },
    ];
    expect(conditionsKey(described)).toBe(conditionsKey(written.conditions));
    const changed: RuleCondition[] = [described[0] as RuleCondition, { Field: 'path-pattern', PathPatternConfig: { Values: ['/other/*'] } }];
    expect(conditionsKey(changed)).not.toBe(conditionsKey(written.conditions));
  });

  it('parses and matches IPv4 and IPv6 blocks', () => {
    const v6 = parseCidr('2001:db8::/32');
    const v4 = parseCidr('10.20.0.0/16');
    if (typeof v6 === 'string' || typeof v4 === 'string') throw new Error('valid blocks refused');
    expect(cidrContains(v6, parseIp('2001:db8:ffff::1') as number[])).toBe(true);
    expect(cidrContains(v6, parseIp('2001:db9::1') as number[])).toBe(false);
    expect(cidrContains(v4, parseIp('10.20.255.1') as number[])).toBe(true);
    expect(cidrContains(v4, parseIp('10.21.0.1') as number[])).toBe(false);
    expect(cidrContains(v4, parseIp('::ffff:a14:1') as number[])).toBe(false);
    expect(parseIp('010.1.1.1')).toBeUndefined();
    expect(parseIp('1:2:3:4:5:6:7:8:9')).toBeUndefined();
    expect(parseIp('::')).toEqual(new Array(16).fill(0));
  });
});

describe('the local ALB rule router (dev/alb-rules.ts)', () => {
  const tg = (name: string): string => `arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/${name}/0123456789abcdef`;
  const forward = (weights: [string, number][]) => [
    { Type: 'forward' as const, ForwardConfig: { TargetGroups: weights.map(([n, w]) => ({ TargetGroupArn: tg(n), Weight: w })) } },
  ];
  const rule = (priority: string, conditions: RuleCondition[], weights: [string, number][], arn = `rule-${priority}`): Rule => ({
    RuleArn: arn,
    Priority: priority,
    Conditions: conditions,
    Actions: forward(weights),
    IsDefault: priority === 'default',
  });
  const servicePath: RuleCondition = { Field: 'path-pattern', PathPatternConfig: { Values: ['/checkout/*'] } };
  const staffConditions = (combineConditions([servicePath], segmentConditions({ sourceIp: ['10.20.0.0/16'] })) as { conditions: RuleCondition[] }).conditions;
  const betaConditions = (combineConditions([servicePath], segmentConditions({ cookie: { name: 'beta', value: '1' } })) as { conditions: RuleCondition[] })
    .conditions;
  const rules: Rule[] = [
    {
      RuleArn: 'default',
      Priority: 'default',
      Conditions: [],
      IsDefault: true,
      Actions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404' } }],
    },
    rule(
      '10',
      [servicePath],
      [
        ['v1', 90],
        ['v2', 10],
      ],
    ),
    rule('9', staffConditions, [['v2', 100]]),
    rule('8', betaConditions, [['v2', 100]]),
    rule('5', [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/checkout/admin/*'] } }], [['admin', 1]]),
  ];
  const checkout: SimRequest = { path: '/checkout/cart' };

  it('applies the lowest-priority rule whose conditions all hold, the default rule last', () => {
    expect(matchRule(rules, checkout)?.RuleArn).toBe('rule-10');
    expect(matchRule(rules, { ...checkout, sourceIp: '10.20.7.1' })?.RuleArn).toBe('rule-9');
    expect(matchRule(rules, { ...checkout, cookies: { session: 'x', beta: '1' } })?.RuleArn).toBe('rule-8');
    // Both segments: the lower number wins.
    expect(matchRule(rules, { ...checkout, sourceIp: '10.20.7.1', cookies: { beta: '1' } })?.RuleArn).toBe('rule-8');
    // A more specific rule placed ahead of the service's keeps its requests, staff or not.
    expect(matchRule(rules, { path: '/checkout/admin/x', sourceIp: '10.20.7.1' })?.RuleArn).toBe('rule-5');
    // Staff outside the service's paths are not the service's traffic.
    expect(matchRule(rules, { path: '/other', sourceIp: '10.20.7.1' })?.RuleArn).toBe('default');
  });

  it('matches like ALB: header values case-insensitively, paths case-sensitively, wildcards, escapes, missing headers', () => {
    const header = (values: string[], name = 'X-Beta'): RuleCondition => ({ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: name, Values: values } });
    expect(conditionMatches(header(['YES']), { headers: { 'x-beta': 'yes' } })).toBe(true);
    expect(conditionMatches(header(['y?s']), { headers: { 'X-Beta': 'yes' } })).toBe(true);
    expect(conditionMatches(header(['y?s']), { headers: { 'X-Beta': 'yees' } })).toBe(false);
    expect(conditionMatches(header(['*']), {})).toBe(false);
    expect(conditionMatches(header(['NZ'], 'CloudFront-Viewer-Country'), { headers: { 'CloudFront-Viewer-Country': 'NZ' } })).toBe(true);
    expect(conditionMatches(servicePath, { path: '/Checkout/cart' })).toBe(false);
    const query: RuleCondition = { Field: 'query-string', QueryStringConfig: { Values: [{ Key: 'q', Value: 'a\\*' }] } };
    expect(conditionMatches(query, { query: [['q', 'a*']] })).toBe(true);
    expect(conditionMatches(query, { query: [['q', 'ab']] })).toBe(false);
    const anyKey: RuleCondition = { Field: 'query-string', QueryStringConfig: { Values: [{ Value: 'preview' }] } };
    expect(conditionMatches(anyKey, { query: [['mode', 'PREVIEW']] })).toBe(true);
    const v6: RuleCondition = { Field: 'source-ip', SourceIpConfig: { Values: ['2001:db8::/32'] } };
    expect(conditionMatches(v6, { sourceIp: '2001:db8::7' })).toBe(true);
    expect(conditionMatches(v6, { sourceIp: '10.0.0.1' })).toBe(false);
    expect(globMatch('*beta=1*', 'a=2; beta=1; c=3', { caseInsensitive: true })).toBe(true);
    expect(globMatch('a.b', 'axb', { caseInsensitive: true })).toBe(false);
  });

  it('splits traffic classes by the rule each one matches, then by that rule’s weights', () => {
    const shares = routeClasses(rules, [
      { name: 'staff', share: 0.2, request: { ...checkout, sourceIp: '10.20.0.9' } },
      { name: 'everyone', share: 0.8, request: checkout },
    ]);
    const byGroup = Object.fromEntries(shares.map((s) => [s.targetGroupArn, s]));
    expect(byGroup[tg('v2')]?.share).toBeCloseTo(0.2 + 0.08, 10);
    expect(byGroup[tg('v2')]?.classShares.staff).toBeCloseTo(0.2, 10);
    expect(byGroup[tg('v1')]?.share).toBeCloseTo(0.72, 10);
    expect(byGroup[tg('v1')]?.classShares).toEqual({ everyone: expect.closeTo(0.72, 10) });
  });

  it("builds the ordinary request from the service rule's conditions", () => {
    expect(requestMatching([servicePath, { Field: 'host-header', Values: ['*.example.com'] }])).toEqual({ path: '/checkout/x', host: 'x.example.com' });
  });
});

describe('segments in the CLI', () => {
  const staff: SegmentMatch = { sourceIp: ['10.20.0.0/16'] };
  it('describes the steps', () => {
    expect(describeStep({ kind: 'segment', name: 'staff', match: staff })).toBe('segment staff: source IP 10.20.0.0/16 → canary');
    expect(describeStep({ kind: 'segment', name: 'beta', match: { cookie: { name: 'beta', value: '1' } } })).toBe('segment beta: cookie beta=1 → canary');
    expect(describeStep({ kind: 'endSegment', name: 'staff' } as ParsedStep)).toBe('end segment staff');
  });

  it('shows which groups reach the canary in status and progress lines', () => {
    const status: ReleaseStatus = {
      releaseId: 'release-checkout/run-1',
      service: 'checkout',
      version: 'v2',
      initiator: 'ci-bot',
      phase: 'Progressing',
      step: 1,
      steps: [
        { kind: 'segment', name: 'staff', match: staff },
        { kind: 'analysis', template: 'errors' },
        { kind: 'setWeight', weight: 100 },
      ],
      requestedWeights: { stable: 100, canary: 0 },
      verifiedWeights: { stable: 100, canary: 0 },
      targetGroups: [],
      segments: [{ name: 'staff', match: staff, ruleArn: 'arn:rule/9', priority: 9, since: '2030-05-01T11:59:00.000Z', step: 0 }],
      paused: false,
      timeline: [],
      rollbackPlan: [],
      startedAt: '2030-05-01T11:58:00.000Z',
      updatedAt: '2030-05-01T11:59:00.000Z',
    };
    const now = new Date('2030-05-01T12:00:00.000Z');
    expect(formatStatus(status, { now })).toMatch(/^segments +staff \(source IP 10\.20\.0\.0\/16\) since 11:59:00Z, rule priority 9 → canary$/m);
    expect(progressLine(status, now)).toContain('segments staff → canary');
    expect(formatStatus({ ...status, segments: [] }, { now })).not.toMatch(/^segments/m);
  });
});
