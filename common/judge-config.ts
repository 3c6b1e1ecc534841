/**
 * Configuration of the statistical canary judge (Kayenta-style): how each metric is compared between the
 * canary and a fresh baseline, and how per-metric verdicts add up to a score. Parsed at the edge; the judge in
 * `workflows/judge.ts` trusts the parsed types. Workflow-safe.
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
  /** 'iqr' drops points outside [Q1 - 1.5 IQR, Q3 + 1.5 IQR] of each sample before the test. */
  outliers: z.enum(['none', 'iqr']).default('none'),
  /**
   * Tolerance on the ratio of means (canary / baseline): a statistically significant change fails only when the
   * ratio is also beyond it, so a real but negligible shift (say 2% slower) does not roll a release back.
   */
  effectSize: z
    .strictObject({
      allowedIncrease: z.number().min(1, 'allowedIncrease is a ratio of means and must be >= 1 (1.1 allows a 10% increase)').default(1),
      allowedDecrease: z
        .number()
        .gt(0, 'allowedDecrease is a ratio of means and must be in (0, 1] (0.9 allows a 10% decrease)')
        .max(1, 'allowedDecrease is a ratio of means and must be in (0, 1] (0.9 allows a 10% decrease)')
        .default(1),
    })
    .prefault({}),
  /** A failing critical metric fails the canary whatever the score. */
  critical: z.boolean().default(false),
  /** Score group; groups are weighted in `JudgeConfig.groups`. */
  group: GroupName.default('default'),
  /** Fewer points than this on either side after cleaning means no verdict ('nodata'), not a pass. */
  minSamples: z.number().int('minSamples must be a whole number').min(1, 'minSamples must be at least 1').default(3),
});
export type JudgeMetricOptions = z.infer<typeof JudgeMetricOptions>;
export type JudgeMetricOptionsInput = z.input<typeof JudgeMetricOptions>;

/** The judge as a whole: the test's confidence, group weights and the score thresholds. */
export const JudgeConfig = z
  .strictObject({
    kind: z.literal('mann-whitney'),
    /** 1 - confidence is the p-value below which a difference counts as significant. */
    confidence: z
      .number()
      .gt(0.5, 'confidence must be in (0.5, 0.9999], e.g. 0.95')
      .max(0.9999, 'confidence must be in (0.5, 0.9999], e.g. 0.95')
      .default(0.95),
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
export type JudgeConfig = z.infer<typeof JudgeConfig>;
export type JudgeConfigInput = z.input<typeof JudgeConfig>;
