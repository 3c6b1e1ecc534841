/**
 * The release spec: what a platform team writes in release.yaml. Parsed once at the edge (CLI, client);
 * the workflow receives the parsed form (durations in ms, steps tagged with their kind). Workflow-safe.
 */
import { z } from 'zod';
import { parseDuration } from './duration';
import { expressionEvaluator, parseCloudWatchExpression, parseExpression, referencedIds } from './expression';
import { statisticError } from './statistic';
import { JudgeConfig, JudgeMetricOptions } from './judge-config';

const LISTENER_ARN = /^arn:aws[a-z-]*:elasticloadbalancing:([a-z0-9-]+):(\d{12}):listener\/app\/([^/]{1,32})\/([0-9a-f]+)\/([0-9a-f]+)$/;
const REGION = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;
const RULE_ARN = /^arn:aws[a-z-]*:elasticloadbalancing:([a-z0-9-]+):(\d{12}):listener-rule\/app\/([^/]{1,32})\/([0-9a-f]+)\/([0-9a-f]+)\/([0-9a-f]+)$/;

const MAX_DURATION_MS = 365 * 86_400_000;

/** `30s`, `5m`, `2h` → milliseconds; at most 365d (a release is not meant to outlive a year, and timers need finite dates). */
export const Duration = z
  .string()
  .max(20)
  .transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration: use a whole number and one unit, e.g. 30s, 5m, 2h, 1d` });
      return z.NEVER;
    }
    if (ms > MAX_DURATION_MS) {
      ctx.addIssue({ code: 'custom', message: `duration "${text}" is longer than the 365d a release may wait` });
      return z.NEVER;
    }
    return ms;
  });

/** Traffic share of a variant, in percent; ALB weights are integers, and we use 0..100 of ALB's 0..999. */
export const Weight = z.number().int('must be a whole number of percent').min(0, 'must be between 0 and 100').max(100, 'must be between 0 and 100');

export const Target = z.strictObject({
  id: z.string().min(1).max(256),
  port: z.number().int().min(1).max(65535).optional(),
});
export type Target = z.infer<typeof Target>;

const Name = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]*$/, 'use letters, digits, . _ @ -');

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
    /** Who may approve; empty means anyone but the initiator (unless allowSelfApproval). */
    approvers: z.array(Name).max(50).default([]),
    timeout: Duration,
    onTimeout: z.enum(['rollback', 'continue']).default('rollback'),
    allowSelfApproval: z.boolean().default(false),
  }),
});

const STEP_SCHEMAS = { setWeight: SetWeightStep, pause: PauseStep, analysis: AnalysisStep, approval: ApprovalStep } as const;

/**
 * One step; exactly one of setWeight / pause / analysis / approval, parsed to a tagged form. The schema is chosen
 * by the step's key (not tried one by one), so an error names the field and the reason, e.g. `steps[0].setWeight`.
 */
export const Step = z.unknown().transform((v, ctx): ParsedStep => {
  const keys = typeof v === 'object' && v !== null && !Array.isArray(v) ? Object.keys(v) : undefined;
  const kind = keys?.length === 1 ? (keys[0] as keyof typeof STEP_SCHEMAS) : undefined;
  if (!keys || !kind || !(kind in STEP_SCHEMAS)) {
    ctx.addIssue({
      code: 'custom',
      message: keys
        ? `a step has exactly one key, one of setWeight, pause, analysis, approval (got ${keys.length ? keys.slice(0, 5).join(', ') : 'none'})`
        : 'a step is an object with one key: setWeight, pause, analysis or approval',
    });
    return z.NEVER;
  }
  const parsed = STEP_SCHEMAS[kind].safeParse(v);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) ctx.addIssue({ code: 'custom', path: [...issue.path, key], message: 'unknown field' });
      } else {
        ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
      }
    }
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
    };

const QueryId = z.string().regex(/^[a-z][a-zA-Z0-9_]{0,254}$/, 'a query Id starts with a lowercase letter, then letters, digits or _');
const PERIODS = 'Period is 1, 5, 10 or 30 seconds, or a multiple of 60';
/** CloudWatch's MetricDataQuery shape; `${targetGroup}` and `${loadBalancer}` are filled per variant. */
export const MetricDataQuery = z
  .strictObject({
    Id: QueryId,
    Label: z.string().max(255).optional(),
    ReturnData: z.boolean().optional(),
    MetricStat: z
      .strictObject({
        Metric: z.strictObject({
          Namespace: z.string().min(1).max(255),
          MetricName: z.string().min(1).max(255),
          Dimensions: z
            .array(z.strictObject({ Name: z.string().min(1).max(255), Value: z.string().min(1).max(1024) }))
            .max(30)
            .default([]),
        }),
        Period: z
          .number()
          .int()
          .refine((p) => [1, 5, 10, 30].includes(p) || (p >= 60 && p % 60 === 0), PERIODS),
        /** Any CloudWatch statistic: Sum, Average, Minimum, Maximum, SampleCount, p99, p99.9, tm90, IQM, TM(10%:90%), PR(:0.5), ... */
        Stat: z
          .string()
          .min(1)
          .max(64)
          .superRefine((stat, ctx) => {
            const error = statisticError(stat);
            if (error) ctx.addIssue({ code: 'custom', message: error });
          }),
        Unit: z.string().max(64).optional(),
      })
      .optional(),
    /**
     * Metric math over other queries' ids: plain arithmetic (ids, numbers, + - * / and parentheses) is evaluated by
     * canary over the window's values; anything with a function (FILL, IF, SUM, RATE, METRICS(), ...) by CloudWatch.
     */
    Expression: z.string().min(1).max(500).optional(),
    /**
     * canary's own field, not CloudWatch's: how the buckets of the window this MetricStat has no datapoint for are
     * filled before the metric is computed, with CloudWatch's FILL semantics: a number (`0`: a missing count is
     * zero), `repeat` (the most recent earlier value) or `linear` (interpolated between the values either side).
     */
    fill: z
      .union([z.number().finite(), z.enum(['repeat', 'linear', 'REPEAT', 'LINEAR']).transform((f) => f.toLowerCase() as 'repeat' | 'linear')], {
        message: 'fill is a number, repeat or linear',
      })
      .optional(),
  })
  .superRefine((q, ctx) => {
    if (!!q.MetricStat === !!q.Expression) {
      ctx.addIssue({ code: 'custom', message: `query ${q.Id} needs exactly one of MetricStat or Expression` });
    }
    if (q.Expression) {
      try {
        if (expressionEvaluator(q.Expression) === 'cloudwatch') parseCloudWatchExpression(q.Expression);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['Expression'], message: (err as Error).message });
      }
      if (q.fill !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['fill'], message: 'fill applies to a MetricStat query; in an expression write FILL(id, 0)' });
      }
    }
  });
export type MetricDataQuery = z.infer<typeof MetricDataQuery>;

/** All given bounds must hold. Relative bounds compare the canary with the baseline (or stable) value. */
export const PassCondition = z
  .strictObject({
    max: z.number().finite().optional(),
    min: z.number().finite().optional(),
    relativeTo: z.enum(['baseline', 'stable']).optional(),
    maxRatio: z.number().positive().finite().optional(),
    minRatio: z.number().nonnegative().finite().optional(),
  })
  .superRefine((p, ctx) => {
    if (p.max === undefined && p.min === undefined && p.maxRatio === undefined && p.minRatio === undefined) {
      ctx.addIssue({ code: 'custom', message: 'give at least one of max, min, maxRatio, minRatio' });
    }
    if ((p.maxRatio !== undefined || p.minRatio !== undefined) && !p.relativeTo) {
      ctx.addIssue({ code: 'custom', path: ['relativeTo'], message: 'maxRatio/minRatio need relativeTo: baseline or stable' });
    }
    if (p.min !== undefined && p.max !== undefined && p.min > p.max) {
      ctx.addIssue({ code: 'custom', path: ['min'], message: `min ${p.min} is above max ${p.max}` });
    }
  });
export type PassCondition = z.infer<typeof PassCondition>;

export const AnalysisMetric = z
  .strictObject({
    name: z.string().min(1).max(64),
    query: z.array(MetricDataQuery).min(1).max(10),
    /** Bounds on the metric's value over the window; optional when the template has a statistical judge. */
    pass: PassCondition.optional(),
    /** How the statistical judge (template `judge`) compares this metric's datapoints with the reference's. */
    judge: JudgeMetricOptions.optional(),
    /** A failing critical metric fails the analysis at once, whatever failureLimit says. */
    critical: z.boolean().default(false),
  })
  .superRefine((m, ctx) => {
    const ids = new Set<string>();
    m.query.forEach((q, i) => {
      if (ids.has(q.Id)) ctx.addIssue({ code: 'custom', path: ['query', i, 'Id'], message: `duplicate query Id ${q.Id}` });
      ids.add(q.Id);
    });
    const evaluator = metricEvaluator(m);
    m.query.forEach((q, i) => {
      if (evaluator === 'cloudwatch' && q.fill !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['query', i, 'fill'],
          message: `this metric's expression is evaluated by CloudWatch, which does not see canary's fill: write FILL(${q.Id}, ${q.fill === 'repeat' || q.fill === 'linear' ? q.fill.toUpperCase() : q.fill}) in the expression`,
        });
      }
      if (!q.Expression) return;
      try {
        const refs = expressionEvaluator(q.Expression) === 'local' ? referencedIds(parseExpression(q.Expression)) : parseCloudWatchExpression(q.Expression).ids;
        for (const ref of refs) {
          if (!ids.has(ref) || ref === q.Id) {
            ctx.addIssue({ code: 'custom', path: ['query', i, 'Expression'], message: `"${ref}" is not the Id of another query of this metric` });
          }
        }
      } catch {
        // reported by MetricDataQuery
      }
    });
  });
export type AnalysisMetric = z.infer<typeof AnalysisMetric>;

/**
 * Who computes a metric's value: `local` when every expression is plain arithmetic (canary evaluates it over the
 * window's per-query values, after `fill`), `cloudwatch` when one uses a metric math function (GetMetricData
 * evaluates it per bucket).
 */
export function metricEvaluator(metric: { query: readonly { Expression?: string }[] }): 'local' | 'cloudwatch' {
  return metric.query.some((q) => q.Expression !== undefined && expressionEvaluator(q.Expression) === 'cloudwatch') ? 'cloudwatch' : 'local';
}

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
     * A statistical judge (Mann-Whitney U over the window's datapoints, canary against the baseline, or against
     * stable when there is none), scored Kayenta-style; thresholds in `pass` still apply on top.
     */
    judge: JudgeConfig.optional(),
  })
  .superRefine((t, ctx) => {
    if (t.metrics.length === 0 && !t.alarms) ctx.addIssue({ code: 'custom', path: ['metrics'], message: 'a template needs at least one metric, or alarms' });
    // The window is aligned to the longest period; a shorter one must fit it a whole number of times.
    const periods = t.metrics.flatMap((m, i) => m.query.flatMap((q, j) => (q.MetricStat ? [{ p: q.MetricStat.Period, i, j }] : [])));
    const longest = Math.max(0, ...periods.map((x) => x.p));
    for (const x of periods) {
      if (longest % x.p !== 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['metrics', x.i, 'query', x.j, 'MetricStat', 'Period'],
          message: `Period ${x.p} does not divide the template's longest Period ${longest}: buckets would not line up`,
        });
      }
    }
    t.metrics.forEach((m, i) => {
      if (!m.pass && !t.judge) ctx.addIssue({ code: 'custom', path: ['metrics', i, 'pass'], message: 'a metric needs pass bounds (or the template a judge)' });
      if (m.judge && !t.judge)
        ctx.addIssue({ code: 'custom', path: ['metrics', i, 'judge'], message: 'metric judge options need a template judge: { kind: mann-whitney }' });
    });
  });
export type AnalysisTemplate = z.infer<typeof AnalysisTemplate>;

const ServiceName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,19}$/, 'a service name is 1-20 characters: lowercase letters, digits and -, starting with a letter')
  .refine((s) => !s.endsWith('-'), 'a service name does not end with -');

export const ReleaseSpec = z
  .strictObject({
    service: ServiceName,
    version: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/, 'a version is 1-64 characters: letters, digits, . _ + -'),
    region: z.string().regex(REGION, 'an AWS region such as us-east-1'),
    /** Who started it (CI job, user); approvals by the same name are refused unless the gate allows self-approval. */
    initiator: Name.default('unknown'),
    traffic: z.strictObject({
      listenerArn: z
        .string()
        .max(512)
        .regex(LISTENER_ARN, 'an Application Load Balancer listener ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener/app/NAME/ID/ID)'),
      ruleArn: z
        .string()
        .max(512)
        .regex(RULE_ARN, 'a listener rule ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener-rule/app/NAME/ID/ID/ID)')
        .optional(),
    }),
    environment: z.strictObject({
      canaryTargets: z.array(Target).min(1, 'give at least one canary target').max(500),
      baselineTargets: z.array(Target).min(1).max(500).optional(),
      healthyTimeout: Duration.default(300_000),
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
    /** Webhook alerts; the URL is the worker's CANARY_WEBHOOK_<NAME>, never in the spec (no secrets in history). */
    notifications: z
      .strictObject({
        webhook: z.string().regex(/^[A-Za-z0-9_]{1,64}$/, 'a webhook name: letters, digits, _ (the worker reads CANARY_WEBHOOK_<NAME>)'),
        events: z
          .array(z.enum(['approval-needed', 'promoted', 'rolled-back', 'aborted', 'rollback-failed']))
          .min(1)
          .default(['approval-needed', 'promoted', 'rolled-back', 'aborted', 'rollback-failed']),
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
    const listener = LISTENER_ARN.exec(spec.traffic.listenerArn);
    if (listener && REGION.test(spec.region) && listener[1] !== spec.region) {
      ctx.addIssue({ code: 'custom', path: ['traffic', 'listenerArn'], message: `the listener is in ${listener[1]}, the spec's region is ${spec.region}` });
    }
    const rule = spec.traffic.ruleArn ? RULE_ARN.exec(spec.traffic.ruleArn) : null;
    if (
      listener &&
      rule &&
      (rule[1] !== listener[1] || rule[2] !== listener[2] || rule[3] !== listener[3] || rule[4] !== listener[4] || rule[5] !== listener[5])
    ) {
      ctx.addIssue({ code: 'custom', path: ['traffic', 'ruleArn'], message: 'the rule does not belong to traffic.listenerArn' });
    }
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
    const dupes = (targets: Target[] | undefined, field: string): void => {
      const seen = new Set<string>();
      targets?.forEach((t, i) => {
        const key = `${t.id}:${t.port ?? ''}`;
        if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['environment', field, i], message: `target ${key} is listed twice` });
        seen.add(key);
      });
    };
    dupes(spec.environment.canaryTargets, 'canaryTargets');
    dupes(spec.environment.baselineTargets, 'baselineTargets');
    const canary = new Set(spec.environment.canaryTargets.map((t) => `${t.id}:${t.port ?? ''}`));
    spec.environment.baselineTargets?.forEach((t, i) => {
      if (canary.has(`${t.id}:${t.port ?? ''}`)) {
        ctx.addIssue({ code: 'custom', path: ['environment', 'baselineTargets', i], message: 'a baseline target cannot also be a canary target' });
      }
    });
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
function checkStepReferences(spec: { steps: unknown[]; analysis?: Record<string, unknown> }, ctx: z.RefinementCtx): void {
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
