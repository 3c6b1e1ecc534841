/**
 * The ALB realism layer: what a real Application Load Balancer decides and moto does not, answered in front of moto
 * by the local stack's proxy (dev/fault-proxy.ts). moto registers a target `healthy` at once and forever and forgets a
 * deregistered one at once; a real ALB health-checks only target groups that a listener or rule forward action
 * references (weight 0 counts), keeps new targets `initial` until enough checks passed, fails them when the version
 * is broken, and drains deregistered targets for the group's deregistration delay. A release that passes against
 * moto alone can therefore fail on its first real ALB.
 *
 * It also keeps what moto drops or does not check: rule `Transforms` (./alb-transforms.ts), and the quota of 100 unique
 * target groups per load balancer (a write that would exceed it is refused as AWS refuses it, before moto sees it).
 *
 * The layer owns only DescribeTargetHealth. It builds the answer from moto's state, read on every call with its own
 * SDK clients straight to moto (target group, registered targets, tags, and the forward actions of every listener and
 * rule of the load balancers in the group's VPC; never DescribeTargetGroups' LoadBalancerArns, which moto does not
 * keep right), plus the times it saw things happen: when a group became referenced by a forward action, when a target
 * was registered, when one was deregistered. It learns those times from the mutating calls it forwards (ModifyListener,
 * CreateRule, RegisterTargets, ...) and, for changes that bypassed it, from the first DescribeTargetHealth that sees
 * them. AWS time is compressed by `timeScale` (simulated seconds per real second) so that a 20 s initial health check
 * takes 2 s at scale 10.
 */
import {
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
  DescribeTagsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  type Action,
  type TargetDescription,
  type TargetGroup,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { RuleTransforms } from './alb-transforms';

/** What a version's health checks do; `healthy` when no rule names the version. */
export type HealthVerdict = 'healthy' | 'unhealthy';

/** Whose health checks fail: a version, optionally only for one service (the `canary:service` / `service` tag). */
export interface HealthRule {
  version: string;
  service?: string;
  health: HealthVerdict;
}

/** A target's health as the ELBv2 API reports it. */
export interface RealisticHealth {
  State: 'initial' | 'healthy' | 'unhealthy' | 'unused' | 'draining' | 'unavailable';
  Reason?: string;
  Description?: string;
}

/** The AWS error the layer answers with (moto's error for the same call, passed on). */
export interface RealismError {
  status: number;
  code: string;
  message: string;
}

/** Who is calling: moto keeps state per account (found from the access key) and region. */
export interface Caller {
  region: string;
  accessKeyId: string;
  sessionToken?: string;
}

export interface AlbRealismOptions {
  /** moto's endpoint, `http://127.0.0.1:PORT` (not the proxy's: the layer's own reads must not loop back). */
  motoEndpoint: string;
  /** Seconds of simulated AWS time per real second: 10 makes a 30 s health-check interval 3 s. */
  timeScale: number;
  /** The clock, in real milliseconds (tests may pass their own). */
  now?: () => number;
}

export interface AlbRealism {
  readonly timeScale: number;
  /** The actions whose answer the layer writes itself. */
  answers(action: string): boolean;
  /** The actions the layer must see succeed (after moto applied them) to keep its clock right. */
  observes(action: string): boolean;
  /** The actions the layer may refuse before moto sees them (a quota moto does not enforce). */
  checks(action: string): boolean;
  /** AWS's refusal of the call (100 target groups per load balancer), or undefined to forward it to moto. */
  refusal(action: string, params: URLSearchParams, caller: Caller): Promise<RealismError | undefined>;
  /** The actions whose successful answer the layer completes (rule transforms moto drops). */
  rewrites(action: string): boolean;
  /** A successful answer as AWS would give it (call with moto's 2xx body, before the caller sees it). */
  rewrite(action: string, params: URLSearchParams, body: string): string;
  /** The DescribeTargetHealth answer (awsQuery XML), or moto's error for the call. */
  describeTargetHealth(params: URLSearchParams, caller: Caller, requestId: string): Promise<{ xml: string } | { error: RealismError }>;
  /** Records what a successful mutating call changed (call after moto answered 2xx, before the caller sees it). */
  observe(action: string, params: URLSearchParams, caller: Caller): Promise<void>;
  setHealth(rule: HealthRule): void;
  /** Forgets everything (moto was reset). */
  reset(): void;
  stop(): void;
}

const XMLNS = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';

/** Reasons and descriptions as the ELBv2 API words them. */
export const healthReasons = {
  notInUse: { State: 'unused', Reason: 'Target.NotInUse', Description: 'Target group is not configured to receive traffic from the load balancer' },
  notRegistered: { State: 'unused', Reason: 'Target.NotRegistered', Description: 'Target is not registered to the target group' },
  initial: { State: 'initial', Reason: 'Elb.InitialHealthChecking', Description: 'Initial health checks in progress' },
  healthy: { State: 'healthy' },
  failed: { State: 'unhealthy', Reason: 'Target.FailedHealthChecks', Description: 'Health checks failed' },
  draining: { State: 'draining', Reason: 'Target.DeregistrationInProgress', Description: 'Target deregistration is in progress' },
  disabled: { State: 'unavailable', Reason: 'Target.HealthCheckDisabled', Description: 'Health checks disabled' },
} as const satisfies Record<string, RealisticHealth>;

/**
 * ALB's quota of unique target groups per load balancer, across all its listeners and rules (a group used by several
 * actions counts once; not adjustable). moto does not enforce it; AWS refuses the write that would exceed it.
 */
export const TARGET_GROUPS_PER_LOAD_BALANCER = 100;

/** The writes that can add target groups to a load balancer's forward actions. */
const QUOTA_CHECKED = new Set(['ModifyListener', 'CreateRule', 'ModifyRule']);

const OBSERVED = new Set([
  'CreateListener',
  'ModifyListener',
  'DeleteListener',
  'CreateRule',
  'ModifyRule',
  'DeleteRule',
  'DeleteLoadBalancer',
  'RegisterTargets',
  'DeregisterTargets',
  'DeleteTargetGroup',
]);

interface Draining {
  target: TargetDescription;
  until: number;
}

function targetKey(id: string | undefined, port: number | undefined): string {
  return `${id ?? ''}:${port ?? ''}`;
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function el(name: string, value: string | number | undefined): string {
  return value === undefined ? '' : `<${name}>${xmlEscape(String(value))}</${name}>`;
}

/** `Targets.member.1.Id`, `Targets.member.1.Port`, ... of an awsQuery form body. */
export function targetsOfParams(params: URLSearchParams): TargetDescription[] {
  const out: TargetDescription[] = [];
  for (let i = 1; params.has(`Targets.member.${i}.Id`); i++) {
    const port = params.get(`Targets.member.${i}.Port`);
    const az = params.get(`Targets.member.${i}.AvailabilityZone`);
    out.push({ Id: params.get(`Targets.member.${i}.Id`) ?? '', Port: port ? Number(port) : undefined, AvailabilityZone: az ?? undefined });
  }
  return out;
}

/**
 * The target groups the forward actions of an awsQuery action list (`DefaultActions`, `Actions`) name; undefined when
 * the request has no such list (a ModifyRule that leaves the actions as they are).
 */
export function forwardGroupsOfParams(params: URLSearchParams, list: string): string[] | undefined {
  const keys = [...params.keys()].filter((k) => k.startsWith(`${list}.member.`));
  if (keys.length === 0) return undefined;
  const pattern = new RegExp(`^${list}\\.member\\.\\d+\\.(?:TargetGroupArn|ForwardConfig\\.TargetGroups\\.member\\.\\d+\\.TargetGroupArn)$`);
  return [...new Set(keys.filter((k) => pattern.test(k)).map((k) => params.get(k) ?? ''))].filter(Boolean);
}

/** `arn:...:listener/app/N/ID/L` or `arn:...:listener-rule/app/N/ID/L/R` → `arn:...:loadbalancer/app/N/ID`. */
export function loadBalancerOf(arn: string): string | undefined {
  const m = /^(arn:[^:]+:elasticloadbalancing:[^:]*:[^:]*:)(?:listener|listener-rule)\/((?:app|net|gwy)\/[^/]+\/[^/]+)\//.exec(arn);
  return m ? `${m[1]}loadbalancer/${m[2]}` : undefined;
}

function errorOf(err: unknown): RealismError {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  return { status: e.$metadata?.httpStatusCode ?? 500, code: e.name ?? 'InternalFailure', message: e.message ?? String(err) };
}

/** The DescribeTargetHealth response body, as ELBv2 writes it. */
export function describeTargetHealthXml(
  rows: { target: TargetDescription; healthCheckPort: string | undefined; health: RealisticHealth }[],
  requestId: string,
): string {
  const members = rows
    .map(
      ({ target, healthCheckPort, health }) =>
        `<member><Target>${el('Id', target.Id)}${el('Port', target.Port)}${el('AvailabilityZone', target.AvailabilityZone)}</Target>` +
        `${el('HealthCheckPort', healthCheckPort)}` +
        `<TargetHealth>${el('State', health.State)}${el('Reason', health.Reason)}${el('Description', health.Description)}</TargetHealth>` +
        `<AdministrativeOverride><State>no_override</State><Reason>AdministrativeOverride.NoOverride</Reason>` +
        `<Description>No override is currently active on target</Description></AdministrativeOverride></member>`,
    )
    .join('');
  return (
    `<DescribeTargetHealthResponse xmlns="${XMLNS}"><DescribeTargetHealthResult><TargetHealthDescriptions>${members}</TargetHealthDescriptions>` +
    `</DescribeTargetHealthResult><ResponseMetadata><RequestId>${xmlEscape(requestId)}</RequestId></ResponseMetadata></DescribeTargetHealthResponse>`
  );
}

/** Creates the layer; it holds no sockets until the first call. */
export function createAlbRealism(opts: AlbRealismOptions): AlbRealism {
  if (!(opts.timeScale > 0 && Number.isFinite(opts.timeScale)))
    throw new RangeError(`timeScale must be > 0 (simulated seconds per real second), got ${opts.timeScale}`);
  const now = opts.now ?? Date.now;
  const realMs = (simSeconds: number): number => (simSeconds * 1000) / opts.timeScale;
  const clients = new Map<string, ElasticLoadBalancingV2Client>();
  const rules: HealthRule[] = [];
  /** Target group → when a forward action started referencing it (absent: not referenced when last looked). */
  const attachedSince = new Map<string, number>();
  /** Load balancer → the target groups its listeners' and rules' forward actions referenced when last looked. */
  const referencedBy = new Map<string, Set<string>>();
  /** Target group → target → when it was registered (or first seen registered). */
  const registeredAt = new Map<string, Map<string, number>>();
  const draining = new Map<string, Map<string, Draining>>();
  const transforms = new RuleTransforms();

  function client(c: Caller): ElasticLoadBalancingV2Client {
    const key = `${c.region}\n${c.accessKeyId}\n${c.sessionToken ?? ''}`;
    let elbv2 = clients.get(key);
    if (!elbv2) {
      // moto does not check signatures; it finds the account from the access key, so the caller's key reads the caller's state.
      elbv2 = new ElasticLoadBalancingV2Client({
        region: c.region,
        endpoint: opts.motoEndpoint,
        maxAttempts: 1,
        credentials: { accessKeyId: c.accessKeyId, secretAccessKey: 'realism-layer', sessionToken: c.sessionToken },
      });
      clients.set(key, elbv2);
    }
    return elbv2;
  }

  /**
   * The target groups each forward action of one load balancer references, read from moto: per listener (its default
   * actions, keyed by the listener ARN) and per rule (keyed by the rule ARN). A deleted load balancer has none.
   */
  async function referencesOf(elbv2: ElasticLoadBalancingV2Client, lbArn: string): Promise<Map<string, Set<string>>> {
    const refs = new Map<string, Set<string>>();
    const groupsOf = (actions: Action[]): Set<string> => {
      const groups = new Set<string>();
      for (const a of actions) {
        if (a.Type !== 'forward') continue;
        if (a.TargetGroupArn) groups.add(a.TargetGroupArn);
        for (const t of a.ForwardConfig?.TargetGroups ?? []) if (t.TargetGroupArn) groups.add(t.TargetGroupArn);
      }
      return groups;
    };
    try {
      let marker: string | undefined;
      const listeners = [];
      do {
        const page = await elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: lbArn, Marker: marker }));
        listeners.push(...(page.Listeners ?? []));
        marker = page.NextMarker;
      } while (marker);
      for (const l of listeners) refs.set(l.ListenerArn ?? '', groupsOf(l.DefaultActions ?? []));
      await Promise.all(
        listeners.map(async (l) => {
          let ruleMarker: string | undefined;
          do {
            const page = await elbv2.send(new DescribeRulesCommand({ ListenerArn: l.ListenerArn, Marker: ruleMarker }));
            for (const r of page.Rules ?? []) if (!r.IsDefault) refs.set(r.RuleArn ?? '', groupsOf(r.Actions ?? []));
            ruleMarker = page.NextMarker;
          } while (ruleMarker);
        }),
      );
    } catch (err) {
      if (!/NotFound/.test(errorOf(err).code)) throw err;
    }
    return refs;
  }

  /** Reads the forward actions of one load balancer from moto and updates which groups are attached since when. */
  async function scanLoadBalancer(elbv2: ElasticLoadBalancingV2Client, lbArn: string): Promise<void> {
    const groups = new Set<string>();
    for (const s of (await referencesOf(elbv2, lbArn)).values()) for (const tg of s) groups.add(tg);
    const before = referencedBy.get(lbArn) ?? new Set<string>();
    referencedBy.set(lbArn, groups);
    const at = now();
    for (const tg of new Set([...before, ...groups])) {
      const attached = [...referencedBy.values()].some((s) => s.has(tg));
      if (attached && !attachedSince.has(tg)) attachedSince.set(tg, at);
      if (!attached) attachedSince.delete(tg);
    }
  }

  async function loadBalancersInVpc(elbv2: ElasticLoadBalancingV2Client, vpcId: string | undefined): Promise<string[]> {
    const out: string[] = [];
    let marker: string | undefined;
    do {
      const page = await elbv2.send(new DescribeLoadBalancersCommand({ Marker: marker }));
      for (const lb of page.LoadBalancers ?? []) if (lb.LoadBalancerArn && lb.VpcId === vpcId) out.push(lb.LoadBalancerArn);
      marker = page.NextMarker;
    } while (marker);
    return out;
  }

  function verdictFor(tags: Record<string, string>, tgName: string): HealthVerdict {
    const version = tags['canary:version'] || tags.version || tgName;
    const service = tags['canary:service'] || tags.service;
    // The latest matching rule wins; a service-scoped one beats a version-wide one.
    const matching = rules.filter((r) => r.version === version && (r.service === undefined || r.service === service));
    const scoped = matching.filter((r) => r.service !== undefined);
    return (scoped.at(-1) ?? matching.at(-1))?.health ?? 'healthy';
  }

  function stateOf(tg: TargetGroup, verdict: HealthVerdict, since: number | undefined, registered: number): RealisticHealth {
    if (since === undefined) return healthReasons.notInUse;
    if (tg.HealthCheckEnabled === false) return healthReasons.disabled;
    const interval = tg.HealthCheckIntervalSeconds ?? 30;
    // From initial, a target turns healthy after HealthyThresholdCount passed checks, unhealthy after UnhealthyThresholdCount failed ones.
    const checks = verdict === 'healthy' ? (tg.HealthyThresholdCount ?? 5) : (tg.UnhealthyThresholdCount ?? 2);
    const elapsed = now() - Math.max(since, registered);
    if (elapsed < realMs(interval * checks)) return healthReasons.initial;
    return verdict === 'healthy' ? healthReasons.healthy : healthReasons.failed;
  }

  async function describeTargetHealth(params: URLSearchParams, caller: Caller, requestId: string): Promise<{ xml: string } | { error: RealismError }> {
    const elbv2 = client(caller);
    const tgArn = params.get('TargetGroupArn') ?? '';
    const asked = targetsOfParams(params);
    let tg: TargetGroup | undefined;
    let registered: TargetDescription[];
    let tags: Record<string, string>;
    try {
      // moto's own answer first: a missing group or a malformed request fails here exactly as moto fails it.
      const health = await elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: tgArn }));
      registered = (health.TargetHealthDescriptions ?? []).flatMap((d) => (d.Target?.Id ? [d.Target] : []));
      const [groups, tagOut] = await Promise.all([
        elbv2.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [tgArn] })),
        elbv2.send(new DescribeTagsCommand({ ResourceArns: [tgArn] })),
      ]);
      tg = groups.TargetGroups?.[0];
      tags = Object.fromEntries((tagOut.TagDescriptions?.[0]?.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
      await Promise.all((await loadBalancersInVpc(elbv2, tg?.VpcId)).map((lb) => scanLoadBalancer(elbv2, lb)));
    } catch (err) {
      return { error: errorOf(err) };
    }
    if (!tg) return { error: { status: 400, code: 'TargetGroupNotFound', message: `One or more target groups not found` } };
    const group = tg;
    const at = now();
    const seen = registeredAt.get(tgArn) ?? new Map<string, number>();
    registeredAt.set(tgArn, seen);
    const keys = new Set(registered.map((t) => targetKey(t.Id, t.Port)));
    for (const k of keys) if (!seen.has(k)) seen.set(k, at);
    for (const k of [...seen.keys()]) if (!keys.has(k)) seen.delete(k);
    const drains = draining.get(tgArn) ?? new Map<string, Draining>();
    for (const [k, d] of drains) if (d.until <= at || keys.has(k)) drains.delete(k);

    const verdict = verdictFor(tags, tg.TargetGroupName ?? '');
    const since = attachedSince.get(tgArn);
    const portOf = (t: TargetDescription): string | undefined =>
      group.HealthCheckPort && group.HealthCheckPort !== 'traffic-port' ? group.HealthCheckPort : String(t.Port ?? group.Port ?? '');
    const rowOf = (t: TargetDescription): { target: TargetDescription; healthCheckPort: string | undefined; health: RealisticHealth } => {
      const k = targetKey(t.Id, t.Port);
      const registeredTarget = registered.find((r) => targetKey(r.Id, r.Port) === k);
      if (registeredTarget)
        return { target: registeredTarget, healthCheckPort: portOf(registeredTarget), health: stateOf(group, verdict, since, seen.get(k) ?? at) };
      const d = drains.get(k);
      if (d) return { target: d.target, healthCheckPort: portOf(d.target), health: healthReasons.draining };
      return { target: t, healthCheckPort: portOf(t), health: healthReasons.notRegistered };
    };
    const rows =
      asked.length > 0
        ? asked.map((t) => {
            // A target asked for without a port matches the registered one with any port.
            const match = t.Port === undefined ? (registered.find((r) => r.Id === t.Id) ?? [...drains.values()].find((d) => d.target.Id === t.Id)?.target) : t;
            return rowOf(match ?? t);
          })
        : [...registered, ...[...drains.values()].map((d) => d.target)].map(rowOf);
    return { xml: describeTargetHealthXml(rows, requestId) };
  }

  async function observe(action: string, params: URLSearchParams, caller: Caller): Promise<void> {
    const elbv2 = client(caller);
    const at = now();
    switch (action) {
      case 'CreateListener': {
        const lb = params.get('LoadBalancerArn');
        if (lb) await scanLoadBalancer(elbv2, lb);
        return;
      }
      case 'ModifyListener':
      case 'DeleteListener':
      case 'CreateRule': {
        const lb = loadBalancerOf(params.get('ListenerArn') ?? '');
        if (lb) await scanLoadBalancer(elbv2, lb);
        return;
      }
      case 'ModifyRule':
      case 'DeleteRule': {
        const lb = loadBalancerOf(params.get('RuleArn') ?? '');
        if (lb) await scanLoadBalancer(elbv2, lb);
        return;
      }
      case 'DeleteLoadBalancer': {
        const lb = params.get('LoadBalancerArn');
        if (lb) await scanLoadBalancer(elbv2, lb);
        referencedBy.delete(lb ?? '');
        return;
      }
      case 'RegisterTargets': {
        const tg = params.get('TargetGroupArn') ?? '';
        const seen = registeredAt.get(tg) ?? new Map<string, number>();
        registeredAt.set(tg, seen);
        for (const t of targetsOfParams(params)) {
          const k = targetKey(t.Id, t.Port);
          // Registering a registered target changes nothing; registering a draining one starts over.
          if (!seen.has(k) || draining.get(tg)?.has(k)) seen.set(k, at);
          draining.get(tg)?.delete(k);
        }
        return;
      }
      case 'DeregisterTargets': {
        const tg = params.get('TargetGroupArn') ?? '';
        const seen = registeredAt.get(tg);
        const targets = targetsOfParams(params);
        // Only a target the load balancer was using drains; one of an unused group is simply gone.
        if (attachedSince.has(tg)) {
          const attrs = await elbv2.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: tg }));
          const delay = Number(attrs.Attributes?.find((a) => a.Key === 'deregistration_delay.timeout_seconds')?.Value ?? 300);
          const drains = draining.get(tg) ?? new Map<string, Draining>();
          draining.set(tg, drains);
          for (const t of targets) drains.set(targetKey(t.Id, t.Port), { target: t, until: at + realMs(Number.isFinite(delay) ? delay : 300) });
        }
        for (const t of targets) seen?.delete(targetKey(t.Id, t.Port));
        return;
      }
      case 'DeleteTargetGroup': {
        const tg = params.get('TargetGroupArn') ?? '';
        registeredAt.delete(tg);
        draining.delete(tg);
        attachedSince.delete(tg);
        return;
      }
    }
  }

  /** TooManyUniqueTargetGroupsPerLoadBalancer when the write would make its load balancer reference more than 100 groups. */
  async function refusal(action: string, params: URLSearchParams, caller: Caller): Promise<RealismError | undefined> {
    const arn = (action === 'ModifyRule' ? params.get('RuleArn') : params.get('ListenerArn')) ?? '';
    const lb = loadBalancerOf(arn);
    const wanted = forwardGroupsOfParams(params, action === 'ModifyListener' ? 'DefaultActions' : 'Actions');
    if (!QUOTA_CHECKED.has(action) || !lb || !wanted) return undefined;
    const refs = await referencesOf(client(caller), lb);
    // The write replaces what its listener's default actions (or its rule) referenced; a new rule adds to the rest.
    refs.set(action === 'CreateRule' ? '(the new rule)' : arn, new Set(wanted));
    const unique = new Set([...refs.values()].flatMap((g) => [...g]));
    if (unique.size <= TARGET_GROUPS_PER_LOAD_BALANCER) return undefined;
    return {
      status: 400,
      code: 'TooManyUniqueTargetGroupsPerLoadBalancer',
      message: `You've reached the limit on the number of unique target groups per load balancer across all listeners (${TARGET_GROUPS_PER_LOAD_BALANCER}); this change would make it ${unique.size}`,
    };
  }

  return {
    timeScale: opts.timeScale,
    answers: (action) => action === 'DescribeTargetHealth',
    observes: (action) => OBSERVED.has(action),
    checks: (action) => QUOTA_CHECKED.has(action),
    refusal,
    rewrites: (action) => transforms.rewrites(action),
    rewrite: (action, params, body) => transforms.rewrite(action, params, body),
    describeTargetHealth,
    observe,
    setHealth(rule) {
      if (rule.health !== 'healthy' && rule.health !== 'unhealthy')
        throw new Error(`health of ${rule.version}: must be healthy or unhealthy, got ${String(rule.health)}`);
      rules.push({ ...rule });
    },
    reset() {
      transforms.reset();
      attachedSince.clear();
      referencedBy.clear();
      registeredAt.clear();
      draining.clear();
      rules.length = 0;
    },
    stop() {
      for (const c of clients.values()) c.destroy();
      clients.clear();
    },
  };
}

/**
 * Tells the realism layer behind `endpoint` (the proxy's, from another process too) what a version's health checks
 * find. Returns false when no realism layer answers there (CANARY_REALISM=off: the endpoint is moto itself).
 */
export async function tellRealismLayer(endpoint: string, rule: HealthRule): Promise<boolean> {
  const res = await fetch(`${endpoint.replace(/\/+$/, '')}/canary-realism/health`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(rule),
  });
  if (res.status === 400) throw new Error(`realism layer refused ${JSON.stringify(rule)}: ${await res.text()}`);
  return res.ok;
}
