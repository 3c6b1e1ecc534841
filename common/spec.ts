/**
 * The release spec: what a platform team writes in release.yaml. Parsed once at the edge (CLI, client);
 * the workflow receives the parsed form (durations in ms, steps tagged with their kind). Workflow-safe.
 */
import { z } from 'zod';
import { Duration } from './duration';
import { JudgeConfig, mannWhitneyMinSamples } from './judge-config';
import { MinRequests } from './metric';
import { AnalysisMetric, metricShape, RequestsDefinition } from './sources/index';
import { EndSegmentStep, SegmentStep, segmentStepProblems, type SegmentMatch } from './segments';
import { HookUse, ReleaseHooks } from './hooks';
import { DEFAULT_SIGNATURE_MAX_AGE_MS, parsePublicKey, publicKeyProblem } from './signing';
import { ActorName } from './names';
import { apiVersionProblem, SPEC_API_VERSION } from './versions';

/** Webhook payload formats (activities/notify.ts builds each). */
export const NOTIFY_FORMATS = ['slack', 'teams', 'json'] as const;
export type NotifyFormat = (typeof NOTIFY_FORMATS)[number];

const LISTENER_ARN = /^arn:aws[a-z-]*:elasticloadbalancing:([a-z0-9-]+):(\d{12}):listener\/app\/([^/]{1,32})\/([0-9a-f]+)\/([0-9a-f]+)$/;
const REGION = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;
const RULE_ARN = /^arn:aws[a-z-]*:elasticloadbalancing:([a-z0-9-]+):(\d{12}):listener-rule\/app\/([^/]{1,32})\/([0-9a-f]+)\/([0-9a-f]+)\/([0-9a-f]+)$/;
const TARGET_GROUP_ARN = /^arn:aws[a-z-]*:elasticloadbalancing:([a-z0-9-]+):(\d{12}):targetgroup\/([A-Za-z0-9-]{1,32})\/([0-9a-f]+)$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/[\w+=,.@/-]{1,512}$/;
const INSTANCE_ID = /^i-([0-9a-f]{8}|[0-9a-f]{17})$/;
const IPV4 = /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const IPV6 = /^(?=.*:)[0-9a-fA-F:.]{2,45}$/;
const AVAILABILITY_ZONE = /^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$/;

export { Duration };

/** Traffic share of a variant, in percent; ALB weights are integers, and we use 0..100 of ALB's 0..999. */
export const Weight = z.number().int('must be a whole number of percent').min(0, 'must be between 0 and 100').max(100, 'must be between 0 and 100');

/** The kind of target an id names: an IP address or an EC2 instance id (a target group holds one kind). */
export function targetKind(id: string): 'ip' | 'instance' | undefined {
  if (INSTANCE_ID.test(id)) return 'instance';
  if (IPV4.test(id) || IPV6.test(id)) return 'ip';
  return undefined;
}

/**
 * A target: an IP address (`ip` target groups) or an EC2 instance id (`instance` groups), with an optional port
 * (the group's port when absent). `availabilityZone: all` registers an IP outside the group's VPC (peered VPC,
 * on premises); an AZ name pins an IP to that zone. Instances take their zone from EC2.
 */
export const Target = z
  .strictObject({
    id: z.string().min(1).max(256),
    port: z.number().int().min(1).max(65535).optional(),
    availabilityZone: z.string().max(32).optional(),
  })
  .superRefine((t, ctx) => {
    const kind = targetKind(t.id);
    if (!kind) {
      ctx.addIssue({ code: 'custom', path: ['id'], message: `"${t.id.slice(0, 64)}" is neither an IP address nor an EC2 instance id (i-0123456789abcdef0)` });
    }
    if (t.availabilityZone !== undefined) {
      if (kind === 'instance') {
        ctx.addIssue({ code: 'custom', path: ['availabilityZone'], message: 'an instance target takes its zone from EC2: remove availabilityZone' });
      } else if (t.availabilityZone !== 'all' && !AVAILABILITY_ZONE.test(t.availabilityZone)) {
        ctx.addIssue({ code: 'custom', path: ['availabilityZone'], message: 'all (an IP outside the VPC) or a zone name such as us-east-1a' });
      }
    }
  });
export type Target = z.infer<typeof Target>;

/** A person's or bot's name (common/names.ts: one rule for every name a release records). */
const Name = ActorName;

/** One approver key: `ssh-ed25519 AAAA... comment` or a raw Ed25519 key (hex / base64); see common/signing.ts. */
const ApproverKey = z
  .string()
  .max(1_000)
  .superRefine((text, ctx) => {
    const problem = publicKeyProblem(text);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/**
 * `approverKeys: { bob: 'ssh-ed25519 AAAA...' }` (or a list, for a person with several machines). With any key, the
 * release is in signed mode: every approve, promote and resume must carry a valid signature by a key listed here
 * (docs/APPROVALS.md). A key belongs to a person, not to a gate, so it is declared once and covers every step and
 * verb. The same schema reads the worker's own keys (CANARY_APPROVER_KEYS).
 */
export const ApproverKeys = z
  .record(Name, z.union([ApproverKey, z.array(ApproverKey).min(1).max(10)]))
  .transform((keys) => Object.fromEntries(Object.entries(keys).map(([name, k]) => [name, typeof k === 'string' ? [k] : k])))
  .superRefine((keys, ctx) => {
    // One key, one person: a key listed under two names would let either sign as the other.
    const owner = new Map<string, string>();
    for (const [name, list] of Object.entries(keys)) {
      list.forEach((text, i) => {
        let fingerprint: string;
        try {
          fingerprint = parsePublicKey(text).fingerprint;
        } catch {
          return; // reported by ApproverKey
        }
        const first = owner.get(fingerprint);
        if (first !== undefined && first !== name) {
          ctx.addIssue({
            code: 'custom',
            path: list.length > 1 ? [name, i] : [name],
            message: `the same key as approverKeys.${first}: a key identifies one person`,
          });
        }
        owner.set(fingerprint, first ?? name);
      });
    }
  });
/** An hour: long enough for a person to look, short enough that `canary start --wait` in CI ends. */
export const DEFAULT_INCONCLUSIVE_TIMEOUT_MS = 3_600_000;

/**
 * What an inconclusive analysis (no data, a marginal judge score) waits for: a person may resume, promote or abort
 * it until `timeout`; then `onTimeout` decides. Nothing waits forever by default.
 */
export const InconclusivePolicy = z.strictObject({
  timeout: Duration.default(DEFAULT_INCONCLUSIVE_TIMEOUT_MS),
  onTimeout: z.enum(['rollback', 'continue']).default('rollback'),
});
export type InconclusivePolicy = z.infer<typeof InconclusivePolicy>;

const SetWeightStep = z.strictObject({ setWeight: Weight });
const PauseStep = z.strictObject({ pause: z.strictObject({ duration: Duration.optional() }) });
const AnalysisStep = z.strictObject({
  analysis: z.strictObject({
    template: z.string().min(1).max(64),
    /** Overrides the template's `inconclusive` for this step. */
    inconclusive: InconclusivePolicy.optional(),
  }),
});
const ApprovalStep = z.strictObject({
  approval: z.strictObject({
    /** Who may approve; empty means anyone but the initiator (unless allowSelfApproval). Signed mode needs a list. */
    approvers: z.array(Name).max(50).default([]),
    timeout: Duration,
    onTimeout: z.enum(['rollback', 'continue']).default('rollback'),
    allowSelfApproval: z.boolean().default(false),
  }),
});

/** Calls a hook of the team's (common/hooks.ts) at this point of the steps; its answer decides whether the release goes on. */
const WebhookStep = z.strictObject({ webhook: HookUse });

const STEP_SCHEMAS = {
  setWeight: SetWeightStep,
  pause: PauseStep,
  analysis: AnalysisStep,
  approval: ApprovalStep,
  segment: SegmentStep,
  endSegment: EndSegmentStep,
  webhook: WebhookStep,
} as const;
const STEP_KINDS = Object.keys(STEP_SCHEMAS).join(', ');

/** Passes a nested schema's issues on to `ctx` at their own paths, an unknown key named as its own field. */
function reportIssues(error: z.ZodError, ctx: z.RefinementCtx): void {
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) ctx.addIssue({ code: 'custom', path: [...issue.path, key], message: 'unknown field' });
    } else {
      ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    }
  }
}

/**
 * One step; exactly one of setWeight / pause / analysis / approval / segment / endSegment / webhook, parsed to a tagged form.
 * The schema is chosen by the step's key (not tried one by one), so an error names the field and the reason, e.g.
 * `steps[0].setWeight`.
 */
export const Step = z.unknown().transform((v, ctx): ParsedStep => {
  const keys = typeof v === 'object' && v !== null && !Array.isArray(v) ? Object.keys(v) : undefined;
  const kind = keys?.length === 1 ? (keys[0] as keyof typeof STEP_SCHEMAS) : undefined;
  if (!keys || !kind || !(kind in STEP_SCHEMAS)) {
    ctx.addIssue({
      code: 'custom',
      message: keys
        ? `a step has exactly one key, one of ${STEP_KINDS} (got ${keys.length ? keys.slice(0, 5).join(', ') : 'none'})`
        : `a step is an object with one key: ${STEP_KINDS}`,
    });
    return z.NEVER;
  }
  const parsed = STEP_SCHEMAS[kind].safeParse(v);
  if (!parsed.success) {
    reportIssues(parsed.error, ctx);
    return z.NEVER;
  }
  const s = parsed.data;
  if ('setWeight' in s) return { kind: 'setWeight', weight: s.setWeight };
  if ('pause' in s) return { kind: 'pause', durationMs: s.pause.duration ?? null };
  if ('analysis' in s) {
    const { template, inconclusive } = s.analysis;
    return inconclusive
      ? { kind: 'analysis', template, inconclusive: { timeoutMs: inconclusive.timeout, onTimeout: inconclusive.onTimeout } }
      : { kind: 'analysis', template };
  }
  if ('segment' in s) return { kind: 'segment', name: s.segment.name, match: s.segment.match };
  if ('endSegment' in s) return { kind: 'endSegment', name: s.endSegment };
  if ('webhook' in s) return { kind: 'webhook', hook: s.webhook.hook, timeoutMs: s.webhook.timeout, onTimeout: s.webhook.onTimeout };
  const { approvers, timeout, onTimeout, allowSelfApproval } = s.approval;
  return { kind: 'approval', approvers, timeoutMs: timeout, onTimeout, allowSelfApproval };
});

export type ParsedStep =
  | { kind: 'setWeight'; weight: number }
  /** durationMs null: wait until resume, approve or promote. */
  | { kind: 'pause'; durationMs: number | null }
  /** inconclusive: the step's own policy; the template's applies when absent. */
  | { kind: 'analysis'; template: string; inconclusive?: { timeoutMs: number; onTimeout: 'rollback' | 'continue' } }
  | {
      kind: 'approval';
      approvers: string[];
      timeoutMs: number;
      onTimeout: 'rollback' | 'continue';
      allowSelfApproval: boolean;
    }
  /** Routes the requests that match to the canary through a listener rule of their own, until `endSegment` or promotion. */
  | { kind: 'segment'; name: string; match: SegmentMatch }
  | { kind: 'endSegment'; name: string }
  /** Calls the named hook (the worker holds its URL and secret); `timeoutMs` bounds how long the release keeps asking. */
  | { kind: 'webhook'; hook: string; timeoutMs: number; onTimeout: 'rollback' | 'continue' };

/*
 * Analysis metrics: the fields every metric has (common/metric.ts) and each source's schema (common/sources/: the
 * default `cloudwatch`'s MetricDataQuery list). Re-exported here, where the spec's readers have always found them.
 */
export { MetricDataQuery, metricEvaluator } from './sources/cloudwatch';
export { PassCondition } from './metric';
export { AnalysisMetric, RequestsDefinition };

/** CloudWatch alarms whose state gates a measurement: ALARM fails it, INSUFFICIENT_DATA counts as no data. */
export const AlarmGate = z
  .strictObject({
    names: z.array(z.string().min(1).max(255)).max(100).default([]),
    /** Every alarm whose name starts with this. */
    prefix: z.string().min(1).max(255).optional(),
  })
  .superRefine((a, ctx) => {
    if (a.names.length === 0 && a.prefix === undefined) ctx.addIssue({ code: 'custom', message: 'give alarm names, a prefix, or both' });
    if (new Set(a.names).size !== a.names.length) ctx.addIssue({ code: 'custom', path: ['names'], message: 'an alarm is listed twice' });
  });
export type AlarmGate = z.infer<typeof AlarmGate>;

export const AnalysisTemplate = z
  .strictObject({
    metrics: z.array(AnalysisMetric).max(20).default([]),
    /** CloudWatch alarms checked at every measurement (DescribeAlarms): any in ALARM fails it. */
    alarms: AlarmGate.optional(),
    /** Measurements per analysis step, `interval` apart. */
    count: z.number().int().min(1).max(1000).default(1),
    interval: Duration.default(30_000),
    /** How far back each measurement looks (rounded up to whole periods). */
    window: Duration.default(60_000),
    /**
     * How old the newest judged bucket must be: ALB publishes a minute's datapoints one to two minutes late, so the
     * window ends at the last complete bucket that ended at least `delay` ago. A partial bucket is never judged.
     */
    delay: Duration.default(120_000),
    /** What an inconclusive analysis step waits for, and what happens when nobody acts in time. */
    inconclusive: InconclusivePolicy.default({ timeout: DEFAULT_INCONCLUSIVE_TIMEOUT_MS, onTimeout: 'rollback' }),
    /** Failed measurements tolerated; one more fails the analysis. */
    failureLimit: z.number().int().min(0).max(1000).default(0),
    /** Consecutive measurements that could not be taken (API errors) before the analysis fails. */
    consecutiveErrorLimit: z.number().int().min(0).max(1000).default(3),
    /** What a metric without data means; no traffic is not a pass by default. */
    noData: z.enum(['inconclusive', 'fail', 'pass']).default('inconclusive'),
    /**
     * A statistical judge of the canary against the baseline (or stable when there is none); thresholds in `pass`
     * still apply on top. `{}` is the sequential judge (anytime-valid, evidence accumulated over the release);
     * `{ kind: mann-whitney }` the Kayenta-style test of each measurement's window, scored by group.
     */
    judge: JudgeConfig.optional(),
    /**
     * Requests each variant a metric compares must have served in a measurement's window (metrics may set their
     * own): a thinner window is not judged, `noData` decides (a p99 of a few requests is the slowest of those few).
     */
    minRequests: MinRequests.optional(),
    /** How requests are counted for `minRequests`; absent: each variant's target group's ALB RequestCount. */
    requests: RequestsDefinition.optional(),
  })
  .superRefine((t, ctx) => {
    if (t.metrics.length === 0 && !t.alarms) ctx.addIssue({ code: 'custom', path: ['metrics'], message: 'a template needs at least one metric, or alarms' });
    // The window is aligned to the longest period; a shorter one must fit it a whole number of times.
    const periods = t.metrics.flatMap((m, i) => metricShape(m).series.map((s) => ({ p: s.periodSeconds, at: ['metrics', i, ...(s.path ?? [])] })));
    const longest = Math.max(0, ...periods.map((x) => x.p));
    const requests = t.requests ? metricShape({ ...t.requests, name: 'requests', critical: false }).series : [];
    for (const x of [...periods, ...requests.map((s) => ({ p: s.periodSeconds, at: ['requests', ...(s.path ?? [])] }))]) {
      if (longest % x.p !== 0) {
        ctx.addIssue({
          code: 'custom',
          path: x.at,
          message: `Period ${x.p} does not divide the template's longest Period ${longest}: buckets would not line up`,
        });
      }
    }
    if (t.requests && t.minRequests === undefined && !t.metrics.some((m) => m.minRequests !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['requests'], message: 'requests are counted for minRequests: set minRequests (here or on a metric)' });
    }
    t.metrics.forEach((m, i) => {
      if (!m.pass && !t.judge) ctx.addIssue({ code: 'custom', path: ['metrics', i, 'pass'], message: 'a metric needs pass bounds (or the template a judge)' });
      if (m.judge && !t.judge)
        ctx.addIssue({ code: 'custom', path: ['metrics', i, 'judge'], message: 'metric judge options need a template judge, e.g. judge: {}' });
      const min = m.judge?.minSamples;
      if (t.judge?.kind === 'mann-whitney' && min !== undefined) {
        const needed = mannWhitneyMinSamples(1 - t.judge.confidence);
        if (min < needed) {
          ctx.addIssue({
            code: 'custom',
            path: ['metrics', i, 'judge', 'minSamples'],
            message: `minSamples ${min} can never fail at confidence ${t.judge.confidence} (${min} against ${min} points cannot reach p < ${Number((1 - t.judge.confidence).toPrecision(4))}); use at least ${needed} or leave it unset`,
          });
        }
      }
    });
  });
export type AnalysisTemplate = z.infer<typeof AnalysisTemplate>;

const TrafficRefSchema = z.strictObject({
  listenerArn: z
    .string()
    .max(512)
    .regex(LISTENER_ARN, 'an Application Load Balancer listener ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener/app/NAME/ID/ID)'),
  ruleArn: z.string().max(512).regex(RULE_ARN, 'a listener rule ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener-rule/app/NAME/ID/ID/ID)').optional(),
  /**
   * Sticky users: for the release, the forward action keeps each user on the target group (version) they got for
   * this long (ALB's target group stickiness, 1s to 7d); the weights then count new sessions, not requests. The
   * forward action's own stickiness is restored afterwards, on promotion and on rollback.
   */
  stickiness: Duration.refine(
    (ms) => ms >= 1_000 && ms <= 604_800_000 && ms % 1_000 === 0,
    'whole seconds from 1s to 7d (ALB target group stickiness)',
  ).optional(),
});
/** One forward action a release shifts: a listener's default action, or one rule of it. */
export type TrafficRef = z.infer<typeof TrafficRefSchema>;

/** Forward actions shifted together (HTTP and HTTPS listeners of one load balancer, several rules). */
const MAX_FORWARDS = 10;

/**
 * `traffic`: one `{listenerArn, ruleArn?}` or a list of them, parsed to the list. Errors keep the written shape's
 * path (`traffic.listenerArn` for the single form, `traffic[1].ruleArn` for the list).
 */
const Traffic = z.unknown().transform((v, ctx): TrafficRef[] => {
  const list = Array.isArray(v);
  const parsed = list ? z.array(TrafficRefSchema).min(1, 'list at least one listener').max(MAX_FORWARDS).safeParse(v) : TrafficRefSchema.safeParse(v);
  if (!parsed.success) {
    reportIssues(parsed.error, ctx);
    return z.NEVER;
  }
  const refs = Array.isArray(parsed.data) ? parsed.data : [parsed.data];
  const at = (i: number, field: keyof TrafficRef): (string | number)[] => (list ? [i, field] : [field]);
  const first = LISTENER_ARN.exec(refs[0]?.listenerArn ?? '');
  const seen = new Set<string>();
  refs.forEach((ref, i) => {
    const listener = LISTENER_ARN.exec(ref.listenerArn);
    const rule = ref.ruleArn ? RULE_ARN.exec(ref.ruleArn) : null;
    if (listener && rule && [1, 2, 3, 4, 5].some((g) => rule[g] !== listener[g])) {
      ctx.addIssue({ code: 'custom', path: at(i, 'ruleArn'), message: `the rule does not belong to ${list ? `traffic[${i}]` : 'traffic'}.listenerArn` });
    }
    // A target group serves one load balancer, so every forward action of a release is on the same one.
    if (i > 0 && first && listener && [1, 2, 3, 4].some((g) => listener[g] !== first[g])) {
      ctx.addIssue({
        code: 'custom',
        path: at(i, 'listenerArn'),
        message: `on load balancer app/${listener[3]}/${listener[4]}, traffic[0] on app/${first[3]}/${first[4]}: list listeners of one load balancer (a target group serves one)`,
      });
    }
    const key = ref.ruleArn ?? `${ref.listenerArn} (default action)`;
    if (seen.has(key)) ctx.addIssue({ code: 'custom', path: at(i, ref.ruleArn ? 'ruleArn' : 'listenerArn'), message: 'listed twice' });
    seen.add(key);
  });
  if (!list) singleTraffic.add(refs);
  return refs;
});

/** Lists parsed from the single `traffic: {listenerArn}` form, so later checks name `traffic.listenerArn`, not `traffic[0]`. */
const singleTraffic = new WeakSet<TrafficRef[]>();

/** `targetgroup/NAME/ID` ARN of an existing group (pair mode). */
const TargetGroupArn = z.string().max(512).regex(TARGET_GROUP_ARN, 'a target group ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID)');

/** Copied tags that name the version, rewritten on the canary group (the copied `version: v1` would claim the old one). */
export const DEFAULT_VERSION_TAGS = ['version', 'Version', 'app.kubernetes.io/version'];

const ServiceName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,19}$/, 'a service name is 1-20 characters: lowercase letters, digits and -, starting with a letter')
  .refine((s) => !s.endsWith('-'), 'a service name does not end with -');

export const ReleaseSpec = z
  .strictObject({
    /** The spec's format (common/versions.ts); absent reads as canary/v1, and the CLI warns (docs/COMPATIBILITY.md). */
    apiVersion: z
      .string()
      .max(64)
      .superRefine((v, ctx) => {
        const problem = apiVersionProblem(v);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .default(SPEC_API_VERSION),
    service: ServiceName,
    version: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/, 'a version is 1-64 characters: letters, digits, . _ + -'),
    region: z.string().regex(REGION, 'an AWS region such as us-east-1'),
    /** Who started it (CI job, user); approvals by the same name are refused unless the gate allows self-approval. */
    initiator: Name.default('unknown'),
    /** Approvers' Ed25519 public keys (common/signing.ts); any key puts the release in signed mode. */
    approverKeys: ApproverKeys.optional(),
    /**
     * How long a signature stays valid after the time it names (default 10m, see DEFAULT_SIGNATURE_MAX_AGE_MS);
     * a release also refuses a nonce it has seen, for as long as that signature would be valid.
     */
    signatureMaxAge: Duration.refine((ms) => ms >= 30_000 && ms <= 86_400_000, 'between 30s and 1d').optional(),
    /** Where the forward action lives; a list shifts several together (they must all forward to one stable group). */
    traffic: Traffic,
    /** Release into another account: the worker assumes this role per release (STS AssumeRole). */
    aws: z
      .strictObject({
        roleArn: z.string().max(2048).regex(ROLE_ARN, 'an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)'),
        /** The role's trust policy condition sts:ExternalId, when it has one. Not a secret (AWS says so). */
        externalId: z
          .string()
          .min(2)
          .max(1224)
          .regex(/^[\w+=,.@:/-]+$/, 'letters, digits and + = , . @ : / - _')
          .optional(),
      })
      .optional(),
    environment: z.strictObject({
      /**
       * clone: canary (and baseline) target groups are copies of the stable one, created and deleted by the release.
       * pair: two existing groups (`pair`, owned by Terraform/CloudFormation/ECS) take turns; nothing is created or deleted.
       */
      mode: z.enum(['clone', 'pair']).default('clone'),
      pair: z.strictObject({ blue: TargetGroupArn, green: TargetGroupArn }).optional(),
      /** Required in clone mode; in pair mode, absent means: the targets the deployer registered in the idle group. */
      canaryTargets: z.array(Target).max(500).default([]),
      baselineTargets: z.array(Target).min(1).max(500).optional(),
      healthyTimeout: Duration.default(300_000),
      /** After a verified weight change, how long before anything is torn down (ALB nodes apply weights asynchronously). */
      settle: Duration.default(5_000),
      /** At most this long waiting for a group's deregistration delay before it is deleted or its targets deregistered. */
      drainCap: Duration.default(300_000),
      /**
       * How long the release waits at a drift gate (someone else changed the forward action) for resume (adopt their
       * change and go on) or abort, before it rolls back by itself.
       */
      driftTimeout: Duration.default(86_400_000),
      /**
       * Clone mode: finalizing deletes the previous stable group unless infrastructure code owns it (tagged
       * `aws:cloudformation:stack-name`, or with a tag of the worker's CANARY_OWNERSHIP_TAGS); such a group is detached
       * and kept, and the release says so. `true` deletes it anyway.
       */
      deleteOwnedStable: z.boolean().default(false),
      /** Copied tags that describe the version; the canary group gets the new version in them ([] keeps tags as copied). */
      versionTags: z
        .array(z.string().min(1).max(128))
        .max(20)
        .default([...DEFAULT_VERSION_TAGS]),
    }),
    steps: z.array(Step).min(1, 'a release needs at least one step').max(100),
    backgroundAnalysis: z
      .strictObject({
        template: z.string().min(1).max(64),
        interval: Duration.default(60_000),
        /** How often the running analysis reports into the workflow history (history stays small on long bakes). */
        reportEvery: Duration.default(600_000),
      })
      .optional(),
    analysis: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a template name is 1-64 characters: letters, digits, _ or -'), AnalysisTemplate).default({}),
    promotion: z
      .strictObject({
        /** How long the previous stable target group is kept (for a fast rollback) before it is removed. */
        keepPreviousFor: Duration.default(600_000),
        /** Let the steps end below 100%: promotion then shifts the rest at once. */
        implicitFullWeight: z.boolean().default(false),
      })
      .default({ keepPreviousFor: 600_000, implicitFullWeight: false }),
    /**
     * The team's own checks at the points of a release (docs/HOOKS.md): hook names the worker maps to URLs and
     * secrets (CANARY_HOOK_<NAME>), and a test route that only tests reach before any user does.
     */
    hooks: ReleaseHooks.optional(),
    /** Webhook alerts; the URL is the worker's CANARY_WEBHOOK_<NAME>, never in the spec (no secrets in history). */
    notifications: z
      .strictObject({
        webhook: z.string().regex(/^[A-Za-z0-9_]{1,64}$/, 'a webhook name: letters, digits, _ (the worker reads CANARY_WEBHOOK_<NAME>)'),
        events: z
          .array(z.enum(['approval-needed', 'promoted', 'rolled-back', 'aborted', 'rollback-failed', 'drift']))
          .min(1)
          .default(['approval-needed', 'promoted', 'rolled-back', 'aborted', 'rollback-failed', 'drift']),
        /** The payload's shape: a Slack message (blocks), a Microsoft Teams Adaptive Card, or canary's own JSON. */
        format: z.enum(NOTIFY_FORMATS).default('json'),
      })
      .optional(),
    rollback: z
      .strictObject({
        /** After the first rollback attempts fail, how often the workflow tries again (phase RollbackFailed). */
        retryInterval: Duration.default(60_000),
      })
      .default({ retryInterval: 60_000 }),
  })
  .superRefine((spec, ctx) => {
    checkTraffic(spec, ctx);
    checkEnvironment(spec, ctx);
    const templates = new Set(Object.keys(spec.analysis));
    if (!spec.environment.baselineTargets) {
      for (const [name, t] of Object.entries(spec.analysis)) {
        t.metrics.forEach((m, i) => {
          if (m.pass?.relativeTo === 'baseline') {
            ctx.addIssue({
              code: 'custom',
              path: ['analysis', name, 'metrics', i, 'pass', 'relativeTo'],
              message: 'relativeTo: baseline needs environment.baselineTargets',
            });
          }
        });
      }
    }
    if (spec.backgroundAnalysis && !templates.has(spec.backgroundAnalysis.template)) {
      ctx.addIssue({ code: 'custom', path: ['backgroundAnalysis', 'template'], message: `unknown analysis template "${spec.backgroundAnalysis.template}"` });
    }
    // Steps that failed to parse have been reported already; judging the last weight without them would mislead.
    const allParsed = spec.steps.every((s) => typeof s === 'object' && s !== null && 'kind' in s);
    const weights = spec.steps.flatMap((s) => (s.kind === 'setWeight' ? [s.weight] : []));
    const last = weights[weights.length - 1];
    if (allParsed && !spec.promotion.implicitFullWeight && last !== 100) {
      ctx.addIssue({
        code: 'custom',
        path: ['steps'],
        message:
          last === undefined
            ? 'no setWeight step: end the steps with setWeight: 100, or set promotion.implicitFullWeight: true'
            : `the last setWeight is ${last}: end with setWeight: 100, or set promotion.implicitFullWeight: true`,
      });
    }
  })
  .superRefine((spec, ctx) => checkStepReferences(spec, ctx), {
    // Runs even when other fields failed, as long as the steps and templates can be read.
    when: (payload) => {
      const v = payload.value as { steps?: unknown; analysis?: unknown } | null;
      return (
        typeof v === 'object' && v !== null && Array.isArray(v.steps) && (v.analysis === undefined || (typeof v.analysis === 'object' && v.analysis !== null))
      );
    },
  });

interface CheckedSpec {
  region: string;
  traffic: TrafficRef[];
  aws?: { roleArn: string };
  environment: {
    mode: 'clone' | 'pair';
    pair?: { blue: string; green: string };
    canaryTargets: Target[];
    baselineTargets?: Target[];
  };
}

function checkTraffic(spec: CheckedSpec, ctx: z.RefinementCtx): void {
  const single = singleTraffic.has(spec.traffic);
  const role = spec.aws ? ROLE_ARN.exec(spec.aws.roleArn) : null;
  spec.traffic.forEach((ref, i) => {
    const path = single ? ['traffic', 'listenerArn'] : ['traffic', i, 'listenerArn'];
    const listener = LISTENER_ARN.exec(ref.listenerArn);
    if (!listener) return;
    if (REGION.test(spec.region) && listener[1] !== spec.region) {
      ctx.addIssue({ code: 'custom', path, message: `the listener is in ${listener[1]}, the spec's region is ${spec.region}` });
    }
    if (i === 0 && role && role[1] !== listener[2]) {
      ctx.addIssue({
        code: 'custom',
        path: ['aws', 'roleArn'],
        message: `the role is in account ${role[1]}, the listener in ${listener[2]}: assume a role of the account that owns the load balancer`,
      });
    }
  });
}

function checkEnvironment(spec: CheckedSpec, ctx: z.RefinementCtx): void {
  const env = spec.environment;
  const issue = (path: (string | number)[], message: string): void => ctx.addIssue({ code: 'custom', path: ['environment', ...path], message });
  if (env.mode === 'clone') {
    if (env.canaryTargets.length === 0) issue(['canaryTargets'], 'give at least one canary target');
    if (env.pair) issue(['pair'], 'pair names the groups of mode: pair; remove it or set mode: pair');
  } else {
    if (!env.pair) issue(['pair'], 'mode: pair needs pair: { blue: TARGET_GROUP_ARN, green: TARGET_GROUP_ARN }');
    if (env.baselineTargets) issue(['baselineTargets'], 'a baseline needs its own target group: pair mode creates none (use mode: clone)');
    if (env.pair && env.pair.blue === env.pair.green) issue(['pair', 'green'], 'blue and green are the same target group');
    const listener = LISTENER_ARN.exec(spec.traffic[0]?.listenerArn ?? '');
    for (const color of ['blue', 'green'] as const) {
      const tg = env.pair ? TARGET_GROUP_ARN.exec(env.pair[color]) : null;
      if (tg && listener && (tg[1] !== listener[1] || tg[2] !== listener[2])) {
        issue(['pair', color], `the group is in ${tg[1]} / account ${tg[2]}, the listener in ${listener[1]} / account ${listener[2]}`);
      }
    }
  }
  const dupes = (targets: Target[] | undefined, field: string): void => {
    const seen = new Set<string>();
    const kinds = new Set<string>();
    targets?.forEach((t, i) => {
      const key = `${t.id}:${t.port ?? ''}`;
      if (seen.has(key)) issue([field, i], `target ${key} is listed twice`);
      seen.add(key);
      const kind = targetKind(t.id);
      if (kind && kinds.size > 0 && !kinds.has(kind)) {
        issue(
          [field, i, 'id'],
          `an ${kind === 'ip' ? 'IP address' : 'instance id'} among ${kind === 'ip' ? 'instance ids' : 'IP addresses'}: a target group holds one kind`,
        );
      }
      if (kind) kinds.add(kind);
    });
  };
  dupes(env.canaryTargets, 'canaryTargets');
  dupes(env.baselineTargets, 'baselineTargets');
  const canaryKind = env.canaryTargets[0] ? targetKind(env.canaryTargets[0].id) : undefined;
  const baselineKind = env.baselineTargets?.[0] ? targetKind(env.baselineTargets[0].id) : undefined;
  if (canaryKind && baselineKind && canaryKind !== baselineKind) {
    issue(['baselineTargets', 0, 'id'], 'baseline and canary targets are of different kinds (IP address / instance id): both groups copy the stable one');
  }
  const canary = new Set(env.canaryTargets.map((t) => `${t.id}:${t.port ?? ''}`));
  env.baselineTargets?.forEach((t, i) => {
    if (canary.has(`${t.id}:${t.port ?? ''}`)) issue(['baselineTargets', i], 'a baseline target cannot also be a canary target');
  });
}

/**
 * The inconclusive-gate policy of an analysis step: the step's own, else its template's; a template parsed before
 * the field existed (an old running release) gets the defaults.
 */
export function inconclusivePolicyOf(
  step: { inconclusive?: { timeoutMs: number; onTimeout: 'rollback' | 'continue' } },
  template: { inconclusive?: InconclusivePolicy } | undefined,
): { timeoutMs: number; onTimeout: 'rollback' | 'continue' } {
  if (step.inconclusive) return step.inconclusive;
  const t = template?.inconclusive;
  return { timeoutMs: t?.timeout ?? DEFAULT_INCONCLUSIVE_TIMEOUT_MS, onTimeout: t?.onTimeout ?? 'rollback' };
}

/** Checks within the steps that must be reported even when another step is invalid, so one run names every mistake. */
function checkStepReferences(
  spec: { steps: unknown[]; analysis?: Record<string, unknown>; approverKeys?: Record<string, unknown> },
  ctx: z.RefinementCtx,
): void {
  const templates = new Set(Object.keys(spec.analysis ?? {}));
  spec.steps.forEach((step, i) => {
    if (typeof step !== 'object' || step === null || !('kind' in step)) return;
    const s = step as ParsedStep;
    if (s.kind === 'analysis' && !templates.has(s.template)) {
      ctx.addIssue({
        code: 'custom',
        path: ['steps', i, 'analysis', 'template'],
        message: `unknown analysis template "${s.template}" (defined: ${[...templates].join(', ') || 'none'})`,
      });
    }
    if (s.kind === 'approval' && new Set(s.approvers).size !== s.approvers.length) {
      ctx.addIssue({ code: 'custom', path: ['steps', i, 'approval', 'approvers'], message: 'approvers are listed twice' });
    }
  });
  const parsed = spec.steps.map((step) => (typeof step === 'object' && step !== null && 'kind' in step ? (step as ParsedStep) : undefined));
  if (spec.approverKeys && typeof spec.approverKeys === 'object') {
    for (const p of signedModeProblems(parsed, Object.keys(spec.approverKeys))) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
  }
  for (const p of segmentStepProblems(parsed.map((s) => (s && (s.kind === 'segment' || s.kind === 'endSegment') ? s : undefined)))) {
    ctx.addIssue({ code: 'custom', path: ['steps', p.index, ...p.path], message: p.message });
  }
}

/** Approver name → Ed25519 public keys (one string each), as a spec or the worker gives them. */
export type ApproverKeyMap = Record<string, string[]>;

/** `name`'s keys in `keys`; undefined when `name` has none (never an Object.prototype member such as `constructor`). */
export function approverKeysFor(keys: ApproverKeyMap | undefined, name: string): string[] | undefined {
  return keys && Object.prototype.hasOwnProperty.call(keys, name) ? keys[name] : undefined;
}

/**
 * What signed mode requires of the steps, given the names that have keys: every approval step lists its approvers
 * (an empty list would let anyone with a key approve, and nobody without one), and each approver has a key (one
 * without could never approve: the gate could only time out). Run by the spec schema with the spec's keys and by
 * the workflow at start with the keys it will verify against (the worker's, when it holds them).
 */
export function signedModeProblems(steps: readonly (ParsedStep | undefined)[], keyNames: readonly string[]): { path: (string | number)[]; message: string }[] {
  if (keyNames.length === 0) return [];
  const out: { path: (string | number)[]; message: string }[] = [];
  steps.forEach((s, i) => {
    if (s?.kind !== 'approval') return;
    const path = ['steps', i, 'approval', 'approvers'];
    if (s.approvers.length === 0) {
      out.push({ path, message: `signed mode (approverKeys is set) needs the approvers listed; names with keys: ${keyNames.join(', ')}` });
      return;
    }
    const keyless = s.approvers.filter((a) => !keyNames.includes(a));
    if (keyless.length)
      out.push({ path, message: `${keyless.join(', ')} ha${keyless.length > 1 ? 've' : 's'} no key in approverKeys: in signed mode every approver signs` });
  });
  return out;
}

/**
 * The keys a release verifies against: the worker's own (CANARY_APPROVER_KEYS) when it holds any, else the spec's.
 * When the worker holds keys, a spec may repeat them but not add a name or a key: the problem says which, and the
 * release is refused before it changes anything (whoever starts a release must not choose who signs for it).
 */
export function releaseApproverKeys(specKeys: ApproverKeyMap | undefined, workerKeys: ApproverKeyMap | undefined): { keys?: ApproverKeyMap; problem?: string } {
  if (!workerKeys || Object.keys(workerKeys).length === 0) return specKeys ? { keys: specKeys } : {};
  for (const [name, keys] of Object.entries(specKeys ?? {})) {
    const held = approverKeysFor(workerKeys, name);
    if (!held)
      return { problem: `approverKeys.${name}: the worker holds the approver keys (CANARY_APPROVER_KEYS) and has none for ${name}; a spec cannot add names` };
    const fingerprints = new Set(held.map((k) => parsePublicKey(k).fingerprint));
    const other = keys.find((k) => !fingerprints.has(parsePublicKey(k).fingerprint));
    if (other !== undefined)
      return { problem: `approverKeys.${name}: the worker holds ${name}'s keys (CANARY_APPROVER_KEYS); a spec cannot add or replace them` };
  }
  return { keys: workerKeys };
}

/** How long a signature of this release stays valid (spec `signatureMaxAge`, default 10m). */
export function signatureMaxAgeMs(spec: Pick<ParsedReleaseSpec, 'signatureMaxAge'>): number {
  return spec.signatureMaxAge ?? DEFAULT_SIGNATURE_MAX_AGE_MS;
}

/**
 * The AWS scope every activity of a release runs in (the activities' `aws` input): the spec's region and, when
 * given, the role to assume. Never credentials.
 */
export function awsScope(spec: { region: string; aws?: { roleArn: string; externalId?: string } }): {
  region: string;
  roleArn?: string;
  externalId?: string;
} {
  return spec.aws ? { region: spec.region, roleArn: spec.aws.roleArn, externalId: spec.aws.externalId } : { region: spec.region };
}

/** The spec as written (YAML/JSON). */
export type ReleaseSpecInput = z.input<typeof ReleaseSpec>;
/** The spec as the workflow receives it. */
export type ParsedReleaseSpec = z.output<typeof ReleaseSpec>;

/** `steps[2].setWeight` style path of an issue. */
export function issuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    // A field name from the input may be huge; an error message must not be.
    const name = String(p).length > 64 ? `${String(p).slice(0, 61)}...` : String(p);
    out += typeof p === 'number' ? `[${p}]` : out ? `.${name}` : name;
  }
  return out || '(spec)';
}

export interface FieldError {
  field: string;
  message: string;
}

/** Every issue of a failed parse, as field + message, in input order. */
export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.flatMap((i) => {
    if (i.code === 'unrecognized_keys') return i.keys.map((key) => ({ field: issuePath([...i.path, key]), message: 'unknown field' }));
    // zod says only "Invalid key in record"; the key's own issue says why.
    if (i.code === 'invalid_key') return [{ field: issuePath(i.path), message: i.issues[0]?.message ?? i.message }];
    return [{ field: issuePath(i.path), message: i.message }];
  });
}

export class SpecValidationError extends Error {
  constructor(readonly errors: FieldError[]) {
    super(`invalid release spec:\n${errors.map((e) => `  ${e.field}: ${e.message}`).join('\n')}`);
    this.name = 'SpecValidationError';
  }
}

/** Parses a spec or throws SpecValidationError listing every wrong field. */
export function parseReleaseSpec(input: unknown): ParsedReleaseSpec {
  const result = ReleaseSpec.safeParse(input);
  if (!result.success) throw new SpecValidationError(fieldErrors(result.error));
  return result.data;
}
