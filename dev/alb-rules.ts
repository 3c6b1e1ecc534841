/**
 * How an Application Load Balancer picks a rule for a request, for the local stack: rules in priority order
 * (lowest first, the default rule last), every condition of a rule must hold (AND), any value of a condition may
 * match (OR), with ALB's wildcard and case rules. The simulator routes its simulated requests through the rules it
 * reads back from moto with this, so what reaches the canary during a segment step is what the release's real rule
 * selects, not what a weight says.
 *
 * ALB semantics reproduced (Elastic Load Balancing User Guide, "Condition types for listener rules"): host names and
 * header values compare case-insensitively, path patterns case-sensitively; `*` matches any run of characters, `?`
 * exactly one; query-string values may escape a literal `*` / `?` with `\`; a pair without a key matches any key;
 * source-ip matches the connecting address only (not X-Forwarded-For); a missing header never matches.
 */
import { DescribeRulesCommand, type ElasticLoadBalancingV2Client, type Rule } from '@aws-sdk/client-elastic-load-balancing-v2';
import { cidrContains, parseCidr, parseIp, type RuleCondition } from '../common/segments';
import { forwardTargets } from '../activities/traffic';

/** A simulated request: only what rule conditions can look at. */
export interface SimRequest {
  /** The connecting address (what source-ip conditions see). */
  sourceIp?: string;
  host?: string;
  path?: string;
  method?: string;
  /** Header name → value; names compare case-insensitively. */
  headers?: Record<string, string>;
  /** Rendered into one `Cookie` header (`a=1; b=2`), as a browser sends them. */
  cookies?: Record<string, string>;
  /** Query parameters in order, already decoded. */
  query?: [string, string][];
}

/** What a request looks like when nothing else is said: a client on the internet asking for `/`. */
export const defaultRequest: Readonly<Required<Pick<SimRequest, 'sourceIp' | 'host' | 'path' | 'method'>>> = Object.freeze({
  sourceIp: '198.51.100.7',
  host: 'service.example.com',
  path: '/',
  method: 'GET',
});

/** `*` and `?` as ALB reads them; with `escapable`, `\*` and `\?` are literal. */
export function globMatch(pattern: string, text: string, opts: { caseInsensitive: boolean; escapable?: boolean }): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (opts.escapable && c === '\\' && i + 1 < pattern.length) {
      re += escapeRegExp(pattern[++i] as string);
    } else if (c === '*') {
      re += '[\\s\\S]*';
    } else if (c === '?') {
      re += '[\\s\\S]';
    } else {
      re += escapeRegExp(c);
    }
  }
  return new RegExp(`${re}$`, opts.caseInsensitive ? 'i' : '').test(text);
}

function escapeRegExp(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/** The request's value of a header, cookies folded into `Cookie`; undefined when it has none. */
export function headerValue(req: SimRequest, name: string): string | undefined {
  const lower = name.toLowerCase();
  if (lower === 'host') return req.host ?? defaultRequest.host;
  const direct = Object.entries(req.headers ?? {}).find(([k]) => k.toLowerCase() === lower)?.[1];
  if (lower === 'cookie' && req.cookies && Object.keys(req.cookies).length > 0) {
    const rendered = Object.entries(req.cookies)
      .map(([k, v]) => `${k}=${v}`)
      .join('; ');
    return direct ? `${direct}; ${rendered}` : rendered;
  }
  return direct;
}

const anyOf = (values: string[] | undefined, test: (v: string) => boolean): boolean => (values ?? []).some(test);
const anyRegex = (values: string[] | undefined, text: string | undefined): boolean =>
  text !== undefined && (values ?? []).some((v) => new RegExp(v).test(text));

/** Whether one rule condition holds for the request. Unknown fields never match (a rule we cannot read routes nothing). */
export function conditionMatches(c: RuleCondition, req: SimRequest): boolean {
  switch (c.Field) {
    case 'host-header': {
      const host = (req.host ?? defaultRequest.host).replace(/:\d+$/, '');
      const values = c.HostHeaderConfig?.Values ?? c.Values;
      return anyOf(values, (v) => globMatch(v, host, { caseInsensitive: true })) || anyRegex(c.HostHeaderConfig?.RegexValues, host);
    }
    case 'path-pattern': {
      const path = req.path ?? defaultRequest.path;
      const values = c.PathPatternConfig?.Values ?? c.Values;
      return anyOf(values, (v) => globMatch(v, path, { caseInsensitive: false })) || anyRegex(c.PathPatternConfig?.RegexValues, path);
    }
    case 'http-header': {
      const value = headerValue(req, c.HttpHeaderConfig?.HttpHeaderName ?? '');
      if (value === undefined) return false;
      return anyOf(c.HttpHeaderConfig?.Values, (v) => globMatch(v, value, { caseInsensitive: true })) || anyRegex(c.HttpHeaderConfig?.RegexValues, value);
    }
    case 'http-request-method':
      return anyOf(c.HttpRequestMethodConfig?.Values, (v) => v === (req.method ?? defaultRequest.method));
    case 'query-string':
      return (c.QueryStringConfig?.Values ?? []).some((kv) =>
        (req.query ?? []).some(
          ([k, v]) =>
            (kv.Key === undefined || globMatch(kv.Key, k, { caseInsensitive: true, escapable: true })) &&
            globMatch(kv.Value ?? '', v, { caseInsensitive: true, escapable: true }),
        ),
      );
    case 'source-ip': {
      const address = parseIp(req.sourceIp ?? defaultRequest.sourceIp);
      if (!address) return false;
      return anyOf(c.SourceIpConfig?.Values, (v) => {
        const cidr = parseCidr(v);
        return typeof cidr !== 'string' && cidrContains(cidr, address);
      });
    }
    default:
      return false;
  }
}

/** The rule ALB applies to the request: the lowest-priority rule whose conditions all hold, else the default rule. */
export function matchRule(rules: Rule[], req: SimRequest): Rule | undefined {
  const ordered = rules.filter((r) => !r.IsDefault && r.Priority !== 'default').sort((a, b) => Number(a.Priority) - Number(b.Priority));
  for (const r of ordered) {
    if ((r.Conditions ?? []).every((c) => conditionMatches(c as RuleCondition, req))) return r;
  }
  return rules.find((r) => r.IsDefault || r.Priority === 'default');
}

/**
 * A request the given conditions select (for the simulator's ordinary traffic when the service is routed by a rule):
 * wildcards filled with `x`, the first value of each condition, the network address of a CIDR.
 */
export function requestMatching(conditions: RuleCondition[]): SimRequest {
  const fill = (v: string): string => v.replace(/\\([*?])/g, '$1').replace(/[*?]/g, 'x');
  const req: SimRequest = {};
  for (const c of conditions) {
    const first = (values: string[] | undefined): string | undefined => values?.[0];
    switch (c.Field) {
      case 'host-header': {
        const v = first(c.HostHeaderConfig?.Values ?? c.Values);
        if (v) req.host = fill(v);
        break;
      }
      case 'path-pattern': {
        const v = first(c.PathPatternConfig?.Values ?? c.Values);
        if (v) req.path = fill(v);
        break;
      }
      case 'http-header': {
        const v = first(c.HttpHeaderConfig?.Values);
        if (v && c.HttpHeaderConfig?.HttpHeaderName) req.headers = { ...req.headers, [c.HttpHeaderConfig.HttpHeaderName]: fill(v) };
        break;
      }
      case 'http-request-method': {
        const v = first(c.HttpRequestMethodConfig?.Values);
        if (v) req.method = v;
        break;
      }
      case 'query-string': {
        const kv = c.QueryStringConfig?.Values?.[0];
        if (kv) req.query = [...(req.query ?? []), [fill(kv.Key ?? 'q'), fill(kv.Value ?? '')]];
        break;
      }
      case 'source-ip': {
        const v = first(c.SourceIpConfig?.Values);
        if (v) req.sourceIp = v.slice(0, v.indexOf('/'));
        break;
      }
    }
  }
  return req;
}

/** `extra` on top of `base`: headers, cookies and query parameters merged, the rest replaced. */
export function mergeRequests(base: SimRequest, extra: SimRequest): SimRequest {
  return {
    ...base,
    ...extra,
    headers: { ...base.headers, ...extra.headers },
    cookies: { ...base.cookies, ...extra.cookies },
    query: [...(base.query ?? []), ...(extra.query ?? [])],
  };
}

/** One class of simulated traffic: a share of all requests, all looking like `request`. */
export interface TrafficClass {
  name: string;
  /** 0..1 of all requests. */
  share: number;
  request: SimRequest;
}

/** Where a share of the traffic ended up. */
export interface RoutedShare {
  targetGroupArn: string;
  /** Share of all requests this group receives, 0..1. */
  share: number;
  /** Its weight in the first forward action that lists it (a plain TargetGroupArn counts as 1). */
  weight: number;
  /** Share of all requests per traffic class. */
  classShares: Record<string, number>;
}

/**
 * Splits traffic classes over target groups the way the listener's rules do: each class goes to the rule it
 * matches, then by that rule's forward weights. Classes that reach no forward action (fixed-response, redirect,
 * no rule) reach no group. Zero-weight groups of a matched forward are listed with share 0.
 */
export function routeClasses(rules: Rule[], classes: TrafficClass[]): RoutedShare[] {
  const out = new Map<string, RoutedShare>();
  for (const cls of classes) {
    const rule = matchRule(rules, cls.request);
    const forward = rule?.Actions?.find((a) => a.Type === 'forward');
    if (!forward) continue;
    const targets = forwardTargets(forward);
    const total = targets.reduce((s, t) => s + Math.max(0, t.weight), 0);
    for (const t of targets) {
      const entry = out.get(t.targetGroupArn) ?? { targetGroupArn: t.targetGroupArn, share: 0, weight: t.weight, classShares: {} };
      const part = total > 0 && t.weight > 0 ? (cls.share * t.weight) / total : 0;
      if (part > 0) {
        entry.share += part;
        entry.classShares[cls.name] = (entry.classShares[cls.name] ?? 0) + part;
      }
      out.set(t.targetGroupArn, entry);
    }
  }
  return [...out.values()];
}

/** The traffic class of requests that belong to no group of a population. */
export const everyoneClass = 'everyone';

/** Simulated traffic as classes: `groups` carry a segment's attributes over `base`; the rest is `everyone`. */
export interface Population {
  /** The ordinary request; by default one the service's rule matches (or `/` for a listener default). */
  base?: SimRequest;
  groups: TrafficClass[];
}

/** Throws on a population that cannot be simulated: shares outside 0..1 or adding up to more than 1, names twice. */
export function checkPopulation(population: Population): void {
  const names = new Set<string>([everyoneClass]);
  for (const g of population.groups) {
    if (names.has(g.name)) throw new Error(`simulator: population group "${g.name}" is named twice (or is named ${everyoneClass})`);
    names.add(g.name);
    if (!(g.share >= 0 && g.share <= 1)) throw new RangeError(`simulator: population group ${g.name}: share must be within 0..1, got ${g.share}`);
  }
  const total = population.groups.reduce((sum, g) => sum + g.share, 0);
  if (total > 1 + 1e-9) throw new RangeError(`simulator: population group shares add up to ${total}, more than 1`);
}

/** Reads the listener's rules from the AWS API (all pages) and routes the population through them. */
export async function routePopulation(
  elbv2: ElasticLoadBalancingV2Client,
  opts: { listenerArn: string; ruleArn?: string; population: Population },
): Promise<RoutedShare[]> {
  const rules: Rule[] = [];
  let marker: string | undefined;
  do {
    const out = await elbv2.send(new DescribeRulesCommand({ ListenerArn: opts.listenerArn, Marker: marker }));
    rules.push(...(out.Rules ?? []));
    marker = out.NextMarker;
  } while (marker);
  const serviceRule = opts.ruleArn ? rules.find((r) => r.RuleArn === opts.ruleArn) : undefined;
  const base = opts.population.base ?? requestMatching((serviceRule?.Conditions ?? []) as RuleCondition[]);
  const groups = opts.population.groups.map((g) => ({ ...g, request: mergeRequests(base, g.request) }));
  const rest = Math.max(0, 1 - groups.reduce((s, g) => s + g.share, 0));
  return routeClasses(rules, [...groups, { name: everyoneClass, share: rest, request: base }]);
}
