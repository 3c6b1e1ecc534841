/**
 * Segments: named groups of users (office networks, a beta cookie, a country, a header) that reach the canary
 * before any random percentage does. A segment is an ALB listener rule the release creates; this module holds
 * what is pure about it: the spec schema of the `segment` / `endSegment` steps, the translation of a match into
 * ALB rule conditions, ALB's rule limits (value and wildcard counts, one condition of each kind), and which
 * segments are active at each step. Workflow-safe: no I/O, no Node built-ins.
 *
 * ALB facts used here (Elastic Load Balancing User Guide, "Listener rules", "Condition types for listener rules",
 * "Quotas for your Application Load Balancers"; API Reference `RuleCondition`, `SourceIpConditionConfig`,
 * `HttpHeaderConditionConfig`, `QueryStringConditionConfig`):
 * - a rule has at most one each of host-header, http-request-method, path-pattern and source-ip conditions, and any
 *   number of http-header and query-string conditions; conditions are ANDed, the values of one condition ORed;
 * - up to 3 match evaluations (values) per condition (source-ip: up to 5 CIDRs), 5 per rule (quota
 *   `condition-values-per-alb-rule`), 5 wildcards per rule (`condition-wildcards-per-alb-rule`);
 * - values are at most 128 characters of visible ASCII, compared case-insensitively; `*` matches any run of
 *   characters and `?` exactly one (query strings escape a literal `*` / `?` with `\`); header names are RFC 7230
 *   tokens of at most 40 characters, without wildcards, and never `Host` (that is the host-header condition);
 * - 100 rules per load balancer (quota `rules-per-application-load-balancer`, default rules excluded), priorities
 *   1..50000, evaluated lowest first, the default rule last.
 */
import { z } from 'zod';

/** ALB's documented limits for listener rules; `rulesPerLoadBalancer` is the default quota (adjustable per account). */
export const AlbRuleLimits = {
  valuesPerCondition: 3,
  sourceIpValuesPerCondition: 5,
  valuesPerRule: 5,
  wildcardsPerRule: 5,
  valueLength: 128,
  headerNameLength: 40,
  rulesPerLoadBalancer: 100,
  maxPriority: 50_000,
} as const;

/** The header CloudFront adds with the viewer's country (only when CloudFront is in front of the ALB and forwards it). */
export const COUNTRY_HEADER = 'CloudFront-Viewer-Country';

/** ISO 3166-1 alpha-2 codes officially assigned (ISO 3166 Maintenance Agency), the values CloudFront sends. */
const ISO_COUNTRIES = new Set(
  (
    'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ ' +
    'CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR ' +
    'GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO ' +
    'JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR ' +
    'MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO ' +
    'RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV ' +
    'TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW'
  ).split(' '),
);

// ---- addresses ----

/** The bytes of an IPv4 (4) or IPv6 (16) address, or undefined. Dotted quads take no leading zeros (ambiguous). */
export function parseIp(text: string): number[] | undefined {
  if (text.includes(':')) return parseIpv6(text);
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const parts = m.slice(1).map((p) => (p.length > 1 && p.startsWith('0') ? NaN : Number(p)));
  return parts.every((n) => n >= 0 && n <= 255) ? parts : undefined;
}

function parseIpv6(text: string): number[] | undefined {
  if (!/^[0-9a-fA-F:]+$/.test(text) || text.split('::').length > 2) return undefined;
  const [head = '', tail] = text.split('::');
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  if (!h || !t) return undefined;
  const missing = 8 - h.length - t.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return undefined;
  const all = [...h, ...new Array<number>(tail === undefined ? 0 : missing).fill(0), ...t];
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

export interface Cidr {
  bytes: number[];
  prefix: number;
}

/** A CIDR block (`10.20.0.0/16`, `2001:db8::/32`) or the reason it is not one, host bits included. */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf('/');
  if (slash < 0) return `"${text}" is not a CIDR block: add the prefix length, e.g. ${text}/32`;
  const bytes = parseIp(text.slice(0, slash));
  if (!bytes) return `"${text}" is not a CIDR block: ${text.slice(0, slash)} is not an IPv4 or IPv6 address`;
  const max = bytes.length * 8;
  const prefixText = text.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return `"${text}" is not a CIDR block: the prefix length is 0..${max}`;
  if (prefix === 0) return `"${text}" matches every address: a segment must select a group`;
  const network = bytes.map((b, i) => b & maskByte(prefix, i));
  if (network.some((b, i) => b !== bytes[i])) {
    return `"${text}" has host bits set: did you mean ${formatIp(network)}/${prefix}?`;
  }
  return { bytes, prefix };
}

function maskByte(prefix: number, index: number): number {
  const bits = Math.max(0, Math.min(8, prefix - index * 8));
  return (0xff << (8 - bits)) & 0xff;
}

function formatIp(bytes: number[]): string {
  if (bytes.length === 4) return bytes.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** True when the address lies in the block (an IPv4 address is never in an IPv6 block, as on ALB). */
export function cidrContains(cidr: Cidr, address: number[]): boolean {
  if (address.length !== cidr.bytes.length) return false;
  return cidr.bytes.every((b, i) => (b & maskByte(cidr.prefix, i)) === ((address[i] ?? 0) & maskByte(cidr.prefix, i)));
}

// ---- wildcards ----

/** Unescaped `*` and `?` in a value; query-string values may escape them with `\`. */
export function wildcardCount(value: string, escapable = false): number {
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (escapable && c === '\\') i++;
    else if (c === '*' || c === '?') n++;
  }
  return n;
}

/** Why a condition value is unusable: too long, not visible ASCII, a dangling escape, or nothing but wildcards. */
function valueProblem(value: string, escapable: boolean): string | undefined {
  if (value.length === 0) return 'a value cannot be empty';
  if (value.length > AlbRuleLimits.valueLength) return `a value is at most ${AlbRuleLimits.valueLength} characters`;
  if (!/^[\x20-\x7e]+$/.test(value)) return 'ALB compares visible ASCII characters only (no control characters, no non-ASCII)';
  if (escapable && /(^|[^\\])(\\\\)*\\$/.test(value)) return 'a trailing \\ escapes nothing: escape a literal * or ? as \\* or \\?';
  const literal = escapable ? value.replace(/\\[\s\S]/g, 'x') : value;
  if (/^[*?]+$/.test(literal) && literal.includes('*')) return `"${value}" matches every request: a segment must select a group`;
  return undefined;
}

// ---- the spec: segment and endSegment steps ----

/** The name under which a release's test route (hooks.testRoute, common/hooks.ts) is a segment rule of its own. */
export const TEST_ROUTE_SEGMENT = 'test-route';

/** A segment's name: used in rule tags, the status and `endSegment`. */
export const SegmentName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,31}$/, 'a segment name is 1-32 characters: lowercase letters, digits and -, starting with a letter')
  .refine((n) => n !== TEST_ROUTE_SEGMENT, `"${TEST_ROUTE_SEGMENT}" is the release's own test route (hooks.testRoute)`);

const conditionValue = (escapable = false) =>
  z.string().superRefine((v, ctx) => {
    const problem = valueProblem(v, escapable);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const tooMany = (max: number, what: string): string =>
  `at most ${max} ${what}: ALB allows ${max} values per condition (5 per rule); use a second segment for more`;

const SourceIpMatch = z.strictObject({
  sourceIp: z
    .array(
      z.string().superRefine((v, ctx) => {
        const cidr = parseCidr(v);
        if (typeof cidr === 'string') ctx.addIssue({ code: 'custom', message: cidr });
      }),
    )
    .min(1, 'give at least one CIDR block')
    .max(AlbRuleLimits.sourceIpValuesPerCondition, tooMany(AlbRuleLimits.sourceIpValuesPerCondition, 'CIDR blocks')),
});

const HEADER_NAME = /^[!#$%&'+\-.^_`|~0-9A-Za-z]+$/;
const HeaderName = z
  .string()
  .min(1)
  .max(AlbRuleLimits.headerNameLength, `a header name is at most ${AlbRuleLimits.headerNameLength} characters`)
  .regex(HEADER_NAME, "a header name is an RFC 7230 token (letters, digits, ! # $ % & ' + - . ^ _ ` | ~) without wildcards")
  .refine((n) => n.toLowerCase() !== 'host', 'ALB does not match Host with a header condition: use match.hostHeader');

const HeaderMatch = z.strictObject({
  header: z.strictObject({
    name: HeaderName,
    values: z
      .array(conditionValue())
      .min(1, 'give at least one value')
      .max(AlbRuleLimits.valuesPerCondition, tooMany(AlbRuleLimits.valuesPerCondition, 'values')),
  }),
});

/** RFC 6265 cookie-name (a token) and cookie-octets; `*` / `?` are refused because ALB would read them as wildcards. */
const CookieMatch = z.strictObject({
  cookie: z.strictObject({
    name: z
      .string()
      .min(1)
      .max(60)
      .regex(/^[!#$%&'+\-.^_`|~0-9A-Za-z]+$/, "a cookie name is an RFC 6265 token (letters, digits, ! # $ % & ' + - . ^ _ ` | ~), without * or ?"),
    value: z
      .string()
      .min(1, 'a cookie value cannot be empty')
      .max(60)
      .regex(/^[\x21\x23-\x29\x2b\x2d-\x3a\x3c-\x3e\x40-\x5b\x5d-\x7e]+$/, 'a cookie value is RFC 6265 cookie-octets (no space, " , ; \\), without * or ?'),
  }),
});

const CountryMatch = z.strictObject({
  country: z
    .array(
      z
        .string()
        .max(8)
        .superRefine((c, ctx) => {
          if (!ISO_COUNTRIES.has(c.toUpperCase()))
            ctx.addIssue({ code: 'custom', message: `"${c}" is not an ISO 3166-1 alpha-2 country code (e.g. NZ, AU, US)` });
        })
        // CloudFront sends upper case; ALB compares case-insensitively, the status reads better in one case.
        .transform((c) => c.toUpperCase()),
    )
    .min(1, 'give at least one country code')
    .max(AlbRuleLimits.valuesPerCondition, tooMany(AlbRuleLimits.valuesPerCondition, 'countries')),
});

const QueryStringMatch = z.strictObject({
  queryString: z
    .array(z.strictObject({ key: conditionValue(true).optional(), value: conditionValue(true) }))
    .min(1, 'give at least one { key?, value }')
    .max(AlbRuleLimits.valuesPerCondition, tooMany(AlbRuleLimits.valuesPerCondition, 'key/value pairs')),
});

const HostHeaderMatch = z.strictObject({
  hostHeader: z
    .array(
      z
        .string()
        .max(AlbRuleLimits.valueLength)
        .regex(/^[A-Za-z0-9.*?-]+$/, 'a host name is letters, digits, - and ., with * and ? as wildcards')
        .superRefine((v, ctx) => {
          const problem = valueProblem(v, false);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }),
    )
    .min(1, 'give at least one host name')
    .max(AlbRuleLimits.valuesPerCondition, tooMany(AlbRuleLimits.valuesPerCondition, 'host names')),
});

const MATCH_SCHEMAS = {
  sourceIp: SourceIpMatch,
  header: HeaderMatch,
  cookie: CookieMatch,
  country: CountryMatch,
  queryString: QueryStringMatch,
  hostHeader: HostHeaderMatch,
} as const;

/** Who a segment selects; exactly one kind. */
export type SegmentMatch =
  | z.output<typeof SourceIpMatch>
  | z.output<typeof HeaderMatch>
  | z.output<typeof CookieMatch>
  | z.output<typeof CountryMatch>
  | z.output<typeof QueryStringMatch>
  | z.output<typeof HostHeaderMatch>;

/** Copies a nested schema's issues into ctx, keeping their paths (so errors read `...match.sourceIp[1]`). */
function reissue(issues: z.core.$ZodIssue[], ctx: z.RefinementCtx): void {
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) ctx.addIssue({ code: 'custom', path: [...issue.path, key], message: 'unknown field' });
    } else {
      ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    }
  }
}

/**
 * A segment's match: exactly one of sourceIp, header, cookie, country, queryString, hostHeader, chosen by its key
 * (not tried one by one) so an error names the field; then the rule-wide limits (values, wildcards) are checked.
 */
export const SegmentMatch = z.unknown().transform((v, ctx): SegmentMatch => {
  const keys = typeof v === 'object' && v !== null && !Array.isArray(v) ? Object.keys(v) : undefined;
  const kind = keys?.length === 1 ? (keys[0] as keyof typeof MATCH_SCHEMAS) : undefined;
  if (!kind || !(kind in MATCH_SCHEMAS)) {
    ctx.addIssue({
      code: 'custom',
      message: `a match has exactly one key, one of ${Object.keys(MATCH_SCHEMAS).join(', ')}${keys?.length ? ` (got ${keys.slice(0, 5).join(', ')})` : ''}`,
    });
    return z.NEVER;
  }
  const parsed = MATCH_SCHEMAS[kind].safeParse(v);
  if (!parsed.success) {
    reissue(parsed.error.issues, ctx);
    return z.NEVER;
  }
  const match = parsed.data as SegmentMatch;
  const conditions = segmentConditions(match);
  const values = conditions.reduce((n, c) => n + conditionValueCount(c), 0);
  const wildcards = conditions.reduce((n, c) => n + conditionWildcardCount(c), 0);
  if (values > AlbRuleLimits.valuesPerRule) {
    ctx.addIssue({ code: 'custom', path: [kind], message: `${values} condition values; ALB allows ${AlbRuleLimits.valuesPerRule} per rule` });
  }
  if (wildcards > AlbRuleLimits.wildcardsPerRule) {
    ctx.addIssue({ code: 'custom', path: [kind], message: `${wildcards} wildcards (* and ?); ALB allows ${AlbRuleLimits.wildcardsPerRule} per rule` });
  }
  return match;
});

export const SegmentStep = z.strictObject({
  segment: z.strictObject({ name: SegmentName, match: SegmentMatch }),
});
export const EndSegmentStep = z.strictObject({ endSegment: SegmentName });

// ---- ALB rule conditions ----

/** An ALB rule condition as JSON (the SDK's RuleCondition shape, without the SDK: this module is workflow-safe). */
export interface RuleCondition {
  Field?: string;
  Values?: string[];
  HostHeaderConfig?: { Values?: string[]; RegexValues?: string[] };
  PathPatternConfig?: { Values?: string[]; RegexValues?: string[] };
  HttpHeaderConfig?: { HttpHeaderName?: string; Values?: string[]; RegexValues?: string[] };
  HttpRequestMethodConfig?: { Values?: string[] };
  QueryStringConfig?: { Values?: { Key?: string; Value?: string }[] };
  SourceIpConfig?: { Values?: string[] };
}

/** The conditions of a segment's rule (before the service rule's own conditions are added). */
export function segmentConditions(match: SegmentMatch): RuleCondition[] {
  if ('sourceIp' in match) return [{ Field: 'source-ip', SourceIpConfig: { Values: [...match.sourceIp] } }];
  if ('header' in match) return [{ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: match.header.name, Values: [...match.header.values] } }];
  // ALB has no cookie condition: match the Cookie header with wildcards around `name=value`.
  if ('cookie' in match)
    return [{ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'Cookie', Values: [`*${match.cookie.name}=${match.cookie.value}*`] } }];
  if ('country' in match) return [{ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: COUNTRY_HEADER, Values: [...match.country] } }];
  if ('queryString' in match) {
    return [
      {
        Field: 'query-string',
        QueryStringConfig: { Values: match.queryString.map((q) => (q.key === undefined ? { Value: q.value } : { Key: q.key, Value: q.value })) },
      },
    ];
  }
  return [{ Field: 'host-header', HostHeaderConfig: { Values: [...match.hostHeader] } }];
}

/** The strings a condition compares, config first (AWS also echoes host/path values in the legacy `Values`). */
function conditionStrings(c: RuleCondition): { plain: string[]; regex: string[]; escapable: boolean } {
  switch (c.Field) {
    case 'host-header':
      return { plain: c.HostHeaderConfig?.Values ?? c.Values ?? [], regex: c.HostHeaderConfig?.RegexValues ?? [], escapable: false };
    case 'path-pattern':
      return { plain: c.PathPatternConfig?.Values ?? c.Values ?? [], regex: c.PathPatternConfig?.RegexValues ?? [], escapable: false };
    case 'http-header':
      return { plain: c.HttpHeaderConfig?.Values ?? [], regex: c.HttpHeaderConfig?.RegexValues ?? [], escapable: false };
    case 'http-request-method':
      return { plain: c.HttpRequestMethodConfig?.Values ?? [], regex: [], escapable: false };
    case 'source-ip':
      return { plain: c.SourceIpConfig?.Values ?? [], regex: [], escapable: false };
    case 'query-string':
      return {
        plain: (c.QueryStringConfig?.Values ?? []).flatMap((kv) => [kv.Key ?? '', kv.Value ?? ''].filter((s) => s !== '')),
        regex: [],
        escapable: true,
      };
    default:
      return { plain: c.Values ?? [], regex: [], escapable: false };
  }
}

/** Match evaluations of a condition as ALB counts them: one per value, one per query-string key/value pair. */
export function conditionValueCount(c: RuleCondition): number {
  if (c.Field === 'query-string') return c.QueryStringConfig?.Values?.length ?? 0;
  const s = conditionStrings(c);
  return s.plain.length + s.regex.length;
}

/** Wildcards (`*`, `?`) in a condition's values; source-ip and method conditions have none. */
export function conditionWildcardCount(c: RuleCondition): number {
  if (c.Field === 'source-ip' || c.Field === 'http-request-method') return 0;
  const s = conditionStrings(c);
  return s.plain.reduce((n, v) => n + wildcardCount(v, s.escapable), 0);
}

/** Condition fields a rule may hold at most once. */
const ONCE_PER_RULE = new Set(['host-header', 'http-request-method', 'path-pattern', 'source-ip']);

/**
 * The segment rule's conditions: the service rule's own conditions (so the segment only ever catches the service's
 * requests) plus the segment's, or the reason ALB would refuse the combination.
 */
export function combineConditions(service: RuleCondition[], segment: RuleCondition[]): { conditions: RuleCondition[] } | { problem: string } {
  const conditions = [...service.map(stripLegacyValues), ...segment];
  const seen = new Set<string>();
  for (const c of conditions) {
    const field = c.Field ?? '';
    if (ONCE_PER_RULE.has(field) && seen.has(field)) {
      return { problem: `the service's rule already has a ${field} condition and ALB allows one per rule; choose another kind of match for this segment` };
    }
    seen.add(field);
  }
  const values = conditions.reduce((n, c) => n + conditionValueCount(c), 0);
  if (values > AlbRuleLimits.valuesPerRule) {
    return { problem: `the service rule's conditions and the segment's need ${values} condition values; ALB allows ${AlbRuleLimits.valuesPerRule} per rule` };
  }
  const wildcards = conditions.reduce((n, c) => n + conditionWildcardCount(c), 0);
  if (wildcards > AlbRuleLimits.wildcardsPerRule) {
    return { problem: `the service rule's conditions and the segment's use ${wildcards} wildcards; ALB allows ${AlbRuleLimits.wildcardsPerRule} per rule` };
  }
  return { conditions };
}

/** AWS returns host-header / path-pattern values twice (legacy `Values` and the config); write only the config back. */
function stripLegacyValues(c: RuleCondition): RuleCondition {
  if ((c.Field === 'host-header' && c.HostHeaderConfig) || (c.Field === 'path-pattern' && c.PathPatternConfig)) {
    const { Values: _legacy, ...rest } = c;
    return rest;
  }
  return c;
}

/**
 * A canonical text of a rule's conditions, for comparing what the release wrote with what AWS describes: order of
 * conditions and of values ignored, case ignored where ALB ignores it, legacy `Values` folded into the config.
 */
export function conditionsKey(conditions: RuleCondition[]): string {
  return conditions
    .map((c) => {
      const s = conditionStrings(c);
      const ci = c.Field !== 'source-ip' && c.Field !== 'http-request-method';
      const norm = (v: string): string => (ci ? v.toLowerCase() : v);
      const plain =
        c.Field === 'query-string' ? (c.QueryStringConfig?.Values ?? []).map((kv) => `${norm(kv.Key ?? '')}=${norm(kv.Value ?? '')}`) : s.plain.map(norm);
      const name = c.Field === 'http-header' ? `:${(c.HttpHeaderConfig?.HttpHeaderName ?? '').toLowerCase()}` : '';
      return `${c.Field ?? ''}${name}[${[...plain].sort().join('|')}]~[${[...s.regex].sort().join('|')}]`;
    })
    .sort()
    .join('&');
}

// ---- words and plans ----

/** A match in words: `source IP 10.20.0.0/16`, `cookie beta=1`, `country NZ, AU (CloudFront-Viewer-Country)`. */
export function describeMatch(match: SegmentMatch): string {
  if ('sourceIp' in match) return `source IP ${match.sourceIp.join(', ')}`;
  if ('header' in match) return `header ${match.header.name}: ${match.header.values.join(' | ')}`;
  if ('cookie' in match) return `cookie ${match.cookie.name}=${match.cookie.value}`;
  if ('country' in match) return `country ${match.country.join(', ')} (${COUNTRY_HEADER})`;
  if ('queryString' in match) return `query ${match.queryString.map((q) => (q.key === undefined ? q.value : `${q.key}=${q.value}`)).join(' | ')}`;
  return `host ${match.hostHeader.join(', ')}`;
}

/** The steps as far as segments care. */
export type SegmentStepLike = { kind: string; name?: string };

/**
 * Segments active after each step (index i: after step i ran), in the order they started. Segments still active
 * after the last step are removed at promotion.
 */
export function activeSegments(steps: readonly SegmentStepLike[]): string[][] {
  const active: string[] = [];
  return steps.map((s) => {
    if (s.kind === 'segment' && s.name && !active.includes(s.name)) active.push(s.name);
    if (s.kind === 'endSegment' && s.name) {
      const at = active.indexOf(s.name);
      if (at >= 0) active.splice(at, 1);
    }
    return [...active];
  });
}

/** The most segment rules a release holds at once: the room it needs on the load balancer. */
export function maxConcurrentSegments(steps: readonly SegmentStepLike[]): number {
  return activeSegments(steps).reduce((m, a) => Math.max(m, a.length), 0);
}

/** Segments at most active at once (each is a listener rule; the load balancer's rule quota is shared). */
export const MAX_CONCURRENT_SEGMENTS = 10;

/** Spec checks across steps: a segment starts once, `endSegment` ends one that is active, not too many at once. */
export function segmentStepProblems(steps: readonly (SegmentStepLike | undefined)[]): { index: number; path: (string | number)[]; message: string }[] {
  const problems: { index: number; path: (string | number)[]; message: string }[] = [];
  const started = new Set<string>();
  const active = new Set<string>();
  steps.forEach((s, i) => {
    if (!s?.name) return;
    if (s.kind === 'segment') {
      if (started.has(s.name))
        problems.push({ index: i, path: ['segment', 'name'], message: `segment "${s.name}" is started twice; give each segment its own name` });
      started.add(s.name);
      active.add(s.name);
      if (active.size > MAX_CONCURRENT_SEGMENTS) {
        problems.push({
          index: i,
          path: ['segment'],
          message: `${active.size} segments active at once; at most ${MAX_CONCURRENT_SEGMENTS} (each is a listener rule)`,
        });
      }
    } else if (s.kind === 'endSegment') {
      if (!active.has(s.name)) {
        problems.push({
          index: i,
          path: ['endSegment'],
          message: started.has(s.name) ? `segment "${s.name}" has already ended` : `no segment "${s.name}" starts before this step`,
        });
      }
      active.delete(s.name);
    }
  });
  return problems;
}
