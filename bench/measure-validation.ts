/**
 * 9. Validation of huge input: how long `parseReleaseSpec` takes to reject each huge input of the bad-input catalogue
 * (test/support/spec-catalogue.ts: 1 MB strings, 10k steps, 100k targets), against accepting the catalogue's valid
 * base spec, interleaved rep by rep in one process. The catalogue's test checks each rejection names the field and
 * stays small; this part says what it costs. No stack: pure CPU in this process.
 */
import { parseReleaseSpec, SpecValidationError } from '../common/spec';
import { baseSpec, HUGE_SPEC_ROWS } from '../test/support/spec-catalogue';
import { ratio, summarize, type Summary } from './stats';

export interface ValidationResult {
  reps: number;
  /** ms to accept the valid base spec. */
  valid: Summary;
  /** Per huge input: ms to reject it, and that over the valid spec's median. */
  huge: { name: string; ms: Summary; ratio: number | null }[];
}

function timeMs(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

export function measureValidation(opts: { reps: number }): ValidationResult {
  // Built once, outside the timing: the inputs themselves take longer to build than to reject.
  const inputs = HUGE_SPEC_ROWS.map((row) => {
    const spec = baseSpec();
    row.mutate(spec);
    return { name: row.name, spec };
  });
  const valid = baseSpec();
  const reject = (spec: unknown): void => {
    try {
      parseReleaseSpec(spec);
    } catch (err) {
      if (err instanceof SpecValidationError) return;
      throw err;
    }
    throw new Error('a huge input was accepted');
  };
  const validMs: number[] = [];
  const hugeMs = inputs.map(() => [] as number[]);
  for (let rep = 0; rep < opts.reps + 1; rep++) {
    const v = timeMs(() => parseReleaseSpec(valid));
    const h = inputs.map((input) => timeMs(() => reject(input.spec)));
    // The first rep warms the JIT up and is not counted.
    if (rep === 0) continue;
    validMs.push(v);
    h.forEach((ms, i) => hugeMs[i]?.push(ms));
  }
  const validSummary = summarize(validMs);
  return {
    reps: opts.reps,
    valid: validSummary,
    huge: inputs.map((input, i) => {
      const ms = summarize(hugeMs[i] ?? []);
      return { name: input.name, ms, ratio: ratio(ms.median, validSummary.median) };
    }),
  };
}
