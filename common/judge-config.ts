/**
 * Configuration of the statistical canary judge: `sequential` (the default: anytime-valid tests whose evidence
 * accumulates over a release, analysis/sequential*.ts) or `mann-whitney` (Kayenta-style fixed-window tests scored by
 * group, analysis/judge.ts). Parsed at the edge; the judges trust the parsed types. Workflow-safe.
 */
import { z } from 'zod';

const GroupName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]*$/, 'use letters, digits, . _ @ -');

/** Per-metric options of the judge. */
export const JudgeMetricOptions = z.strictObject({
  /** Which change is bad: a latency or error rate going up ('increase'), throughput going down ('decrease'), or any. */
  direction: z.enum(['increase', 'decrease', 'either']).default('increase'),
  /** What a missing (NaN) data point means: no observation ('remove'), or zero, as for a counter that did not fire ('replace'). */
  nanStrategy: z.enum(['remove', 'replace']).default('remove'),
  /**
   * 'iqr' drops points outside [Q1 - 1.5 IQR, Q3 + 1.5 IQR] of each sample before the Mann-Whitney test, unless the
   * sample is sparse (IQR 0: mostly zero error counts), where it would drop every error. Not used by `sequential`.
   */
  outliers: z.enum(['none', 'iqr']).default('none'),
  /**
   * Tolerance on the effect ratio canary / reference (docs/JUDGE.md): a statistically significant change fails only
   * when the ratio is also beyond it, so a real but negligible shift (say 2% slower) does not roll a release back. 1
   * (the default) tolerates nothing: every significant change in the bad direction fails. The ratio: Mann-Whitney,
   * 1 + Hodges-Lehmann shift / reference median (one spike cannot cancel a shift), or the ratio of means where that
   * shift is 0 or the reference median is 0 (tied, discrete data such as small error counts); sequential, the rate
   * ratio for counts and 1 + mean paired difference / reference mean for per-bucket values.
   */
  effectSize: z
    .strictObject({
      allowedIncrease: z
        .number()
        .min(1, 'allowedIncrease is the largest tolerated effect ratio canary / reference (docs/JUDGE.md) and must be >= 1 (1.1 allows a 10% increase)')
        .default(1),
      allowedDecrease: z
        .number()
        .gt(0, 'allowedDecrease is the smallest tolerated effect ratio canary / reference (docs/JUDGE.md) and must be in (0, 1] (0.9 allows a 10% decrease)')
        .max(1, 'allowedDecrease is the smallest tolerated effect ratio canary / reference (docs/JUDGE.md) and must be in (0, 1] (0.9 allows a 10% decrease)')
        .default(1),
    })
    .prefault({}),
  /** A failing critical metric fails the canary whatever the score. */
  critical: z.boolean().default(false),
  /** Score group; groups are weighted in `JudgeConfig.groups`. */
  group: GroupName.default('default'),
  /**
   * Fewer points than this on either side after cleaning means no verdict ('nodata'), not a pass (sequential:
   * paired buckets accumulated over the release). Unset: the smallest sample with which the Mann-Whitney test can
   * fail at the configured confidence (4 at 0.95), 10 paired buckets for `sequential`; a smaller value is rejected for
   * `mann-whitney`, where it would let samples too small to ever fail count as passes.
   */
  minSamples: z.number().int('minSamples must be a whole number').min(1, 'minSamples must be at least 1').optional(),
});
export type JudgeMetricOptions = z.infer<typeof JudgeMetricOptions>;
export type JudgeMetricOptionsInput = z.input<typeof JudgeMetricOptions>;

const Confidence = z
  .number()
  .gt(0.5, 'confidence must be in (0.5, 0.9999], e.g. 0.95')
  .max(0.9999, 'confidence must be in (0.5, 0.9999], e.g. 0.95')
  .default(0.95);

/**
 * The sequential judge: per metric an anytime-valid test (an e-process) over the buckets of the whole release, so
 * checking at every bucket does not inflate false positives; a metric fails as soon as its evidence crosses its
 * boundary (`1 / alpha`; a paired metric spends half of its alpha on a calibrated first look at 10 buckets and then
 * crosses at `2 / alpha`), with alpha = (1 - confidence) split evenly over the judged metrics (the canary's
 * false-failure probability over the release stays at most 1 - confidence; for paired metrics as measured for lag-1
 * correlation up to 0.95, analysis/paired.ts). A paired metric whose regression holds only if its buckets are not very
 * autocorrelated is inconclusive: a person decides (docs/JUDGE.md).
 */
export const SequentialJudgeConfig = z.strictObject({
  kind: z.literal('sequential').default('sequential'),
  /** 1 - confidence bounds the probability that a healthy canary ever fails, over all metrics and checks. */
  confidence: Confidence,
});
export type SequentialJudgeConfig = z.infer<typeof SequentialJudgeConfig>;

/** The Mann-Whitney judge as a whole: the test's confidence, group weights and the score thresholds. */
export const MannWhitneyJudgeConfig = z
  .strictObject({
    kind: z.literal('mann-whitney'),
    /** 1 - confidence is the p-value below which a difference counts as significant. */
    confidence: Confidence,
    /** Weight of each group in the overall score; a group not listed weighs 1. */
    groups: z.record(GroupName, z.number().positive('a group weight must be positive')).default({}),
    /** Score (0..100) at or above which the canary is marginal rather than failed. */
    marginal: z.number().min(0, 'marginal must be between 0 and 100').max(100, 'marginal must be between 0 and 100').default(50),
    /** Score (0..100) at or above which the canary passes. */
    pass: z.number().min(0, 'pass must be between 0 and 100').max(100, 'pass must be between 0 and 100').default(75),
  })
  .superRefine((c, ctx) => {
    if (c.marginal > c.pass) {
      ctx.addIssue({
        code: 'custom',
        path: ['marginal'],
        message: `marginal (${c.marginal}) must not exceed pass (${c.pass}): scores between them are marginal`,
      });
    }
  });
export type MannWhitneyJudgeConfig = z.infer<typeof MannWhitneyJudgeConfig>;

/** A template's judge: `{}` (or `kind: sequential`) is the sequential judge; `kind: mann-whitney` the Kayenta-style one. */
export const JudgeConfig = z.discriminatedUnion('kind', [SequentialJudgeConfig, MannWhitneyJudgeConfig]);
export type JudgeConfig = z.infer<typeof JudgeConfig>;
export type JudgeConfigInput = z.input<typeof JudgeConfig>;

/**
 * The smallest sample size n (on each side) with which the two-sided Mann-Whitney test can reach p < alpha at all: complete
 * separation of n against n points gives the exact p = 2 / C(2n, n). Smaller samples can never fail, so a judge that
 * accepted them would count "could not tell" as a pass.
 */
export function mannWhitneyMinSamples(alpha: number): number {
  let binom = 1; // C(2n, n), built up from C(0, 0)
  for (let n = 1; n < 64; n++) {
    binom = (binom * (2 * n) * (2 * n - 1)) / (n * n);
    if (2 / binom < alpha) return n;
  }
  return 64;
}
