/**
 * Release specs for the benchmarks: short, real releases against a seeded ALB, judged on ALB-shaped metrics.
 */
import type { ReleaseSpecInput } from '../common/spec';
import { albMetricQuery } from '../dev/alb-metrics';
import type { SeededAlb } from '../dev/seed';

export interface ErrorRateOptions {
  /** Highest 5xx / requests that passes. */
  max: number;
  periodSeconds: number;
  window: string;
  count?: number;
  interval?: string;
  failureLimit?: number;
  /** How old the newest judged bucket must be (the template's `delay`); the spec's default (2m) when absent. */
  delay?: string;
}

/** An `errors` template: the canary's 5xx / requests over the window (a missing 5xx bucket is 0), absolute bound. */
export function errorRateTemplate(o: ErrorRateOptions) {
  return {
    metrics: [
      {
        name: '5xx-rate',
        query: [
          albMetricQuery('errors', 'HTTPCode_Target_5XX_Count', 'Sum', o.periodSeconds, 0),
          albMetricQuery('requests', 'RequestCount', 'Sum', o.periodSeconds),
          { Id: 'rate', Expression: 'errors / requests' },
        ],
        pass: { max: o.max },
      },
    ],
    count: o.count ?? 1,
    interval: o.interval ?? '1s',
    window: o.window,
    failureLimit: o.failureLimit ?? 0,
    ...(o.delay === undefined ? {} : { delay: o.delay }),
  };
}

/** A spec for a seeded service; override any top-level field. */
export function benchSpec(seeded: SeededAlb, service: string, version: string, fields: Partial<ReleaseSpecInput>): ReleaseSpecInput {
  return {
    service,
    version,
    region: 'us-east-1',
    initiator: 'bench',
    traffic: seeded.ruleArn ? { listenerArn: seeded.listenerArn, ruleArn: seeded.ruleArn } : { listenerArn: seeded.listenerArn },
    environment: { canaryTargets: [{ id: '10.0.0.21', port: 8080 }], healthyTimeout: '60s' },
    steps: [{ setWeight: 100 }],
    promotion: { keepPreviousFor: '0ms' },
    rollback: { retryInterval: '1s' },
    ...fields,
  };
}

/**
 * `n` steps (n even): n/2 pairs of setWeight and a timed pause, weights rising evenly to 100.
 * The configured bake is n/2 × pauseMs.
 */
export function timedSteps(n: number, pauseMs: number): NonNullable<ReleaseSpecInput['steps']> {
  if (n < 2 || n % 2 !== 0) throw new RangeError(`timedSteps: n must be an even number ≥ 2, got ${n}`);
  const pairs = n / 2;
  const steps: NonNullable<ReleaseSpecInput['steps']> = [];
  for (let i = 1; i <= pairs; i++) {
    steps.push({ setWeight: Math.round((100 * i) / pairs) }, { pause: { duration: `${pauseMs}ms` } });
  }
  return steps;
}
