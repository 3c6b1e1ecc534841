/**
 * Demo scenarios: a release spec for a seeded ALB, the versions' fault profiles, and what the scenario is
 * expected to end in. Used by the demo (dev/demo.ts) and its tests.
 */
import type { ReleaseSpecInput } from '../common/spec';
import type { Outcome } from '../common/status';
import { albMetricQuery } from './alb-metrics';
import { connectionErrorMetric, errorRateMetric } from './aws-state';
import { albBucketSeconds, metricsRealism } from './metrics-realism';
import type { SeededAlb } from './seed';
import type { FaultProfile } from './simulator';
import type { Population } from './alb-rules';

export const SCENARIOS = [
  'healthy',
  'bad-canary',
  'approval',
  'subtle-regression',
  'unhealthy',
  'staff-first',
  'crash',
  'business-metric',
  'smoke-test',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** The scenarios that judge a metric from Prometheus: the demo starts the business metrics stack for them. */
export const PROMETHEUS_SCENARIOS: readonly ScenarioName[] = ['business-metric'];

export interface Scenario {
  name: ScenarioName;
  summary: string;
  spec: ReleaseSpecInput;
  /** Fault profile per version tag; the stable version (and the baseline, which runs it) use `stable`. */
  stable: FaultProfile;
  canary: FaultProfile;
  expected: Outcome;
  /** Simulated users with a segment's attributes (the rest are `everyone`); absent: all requests alike. */
  population?: Population;
  /**
   * The scenario judges a business metric from Prometheus (`server: main`): it needs the business metrics stack
   * (dev/business-metrics.ts: the simulator's exporter and a Prometheus scraping it) and a worker that holds its URL.
   */
  prometheus?: boolean;
  /**
   * The scenario's before-traffic hook `smoke` is answered by the demo's smoke test (dev/smoke-test.ts), which calls
   * the canary through the release's test route: the demo starts it and the worker holds its URL and secret.
   */
  smokeTest?: boolean;
}

/** Time scale: 1 for the demo (about a minute), smaller in tests. */
export interface ScenarioOptions {
  service: string;
  seeded: SeededAlb;
  version?: string;
  scale?: number;
  /** Seconds of simulated AWS time per real second (the metrics' bucket and lag); CANARY_TIME_SCALE when absent. */
  timeScale?: number;
  /** business-metric: the new version converts as well as the old one (`npm run demo -- --scenario business-metric --healthy`). */
  healthy?: boolean; /** smoke-test: the new version is broken, and its smoke test fails it before any user reaches it (`--scenario smoke-test --broken`). */
  broken?: boolean;
}

/**
 * Checkout conversion from Prometheus, per target group (`${targetGroupName}`): the orders and the checkout visits of
 * each bucket (dev/business-metrics.ts exports them), the canary's rate at least `minRatio` of the stable's.
 */
export function conversionMetric(periodSeconds: number, minRatio: number) {
  const count = (metric: string): string => `sum(increase(${metric}{target_group="\${targetGroupName}"}[\${period}]))`;
  return {
    name: 'checkout-conversion',
    source: 'prometheus' as const,
    server: 'main',
    period: periodSeconds,
    query: [
      // No order in a bucket is zero orders; no visit is no data (noData decides), as ALB's RequestCount.
      { id: 'orders', promql: count('checkout_orders_total'), combine: 'sum' as const, fill: 0 },
      { id: 'visits', promql: count('checkout_visits_total'), combine: 'sum' as const },
      { id: 'conversion', expression: 'orders / visits' },
    ],
    pass: { relativeTo: 'stable' as const, minRatio },
  };
}

/**
 * Period and delay of templates for the local stack's ALB-shaped metrics at a time scale: one bucket of the
 * compressed minute, and a delay that covers the delivery lag plus one simulator tick.
 */
export function localMetricTiming(timeScale?: number): { periodSeconds: number; delay: string } {
  const r = metricsRealism({ timeScale });
  return { periodSeconds: albBucketSeconds(r.timeScale), delay: `${Math.ceil(r.lagMs / 1000 + 1)}s` };
}

function seconds(s: number, scale: number): string {
  return `${Math.max(1, Math.round(s * scale))}s`;
}

export function buildScenario(name: ScenarioName, opts: ScenarioOptions): Scenario {
  const scale = opts.scale ?? 1;
  const version = opts.version ?? 'v2';
  const stable: FaultProfile = { errorRate: 0.002, latencyMs: 40, latencyJitter: 0.1 };
  const { periodSeconds, delay } = localMetricTiming(opts.timeScale);
  const errors = {
    metrics: [
      errorRateMetric(0.02, periodSeconds),
      {
        name: 'latency-seconds',
        query: [albMetricQuery('rt', 'TargetResponseTime', 'Average', periodSeconds)],
        pass: { max: 0.5 },
      },
      // A version that crashes answers no 5xx: the ALB's 502/504 show up only here (and per load balancer).
      connectionErrorMetric(0.02, periodSeconds),
    ],
    count: 2,
    interval: seconds(3, scale),
    window: '10s',
    delay,
  };
  const base: ReleaseSpecInput = {
    apiVersion: 'canary/v1',
    service: opts.service,
    version,
    region: 'us-east-1',
    initiator: 'ci-demo',
    traffic: opts.seeded.ruleArn ? { listenerArn: opts.seeded.listenerArn, ruleArn: opts.seeded.ruleArn } : { listenerArn: opts.seeded.listenerArn },
    environment: {
      canaryTargets: [
        { id: '10.0.0.31', port: 8080 },
        { id: '10.0.1.32', port: 8080 },
      ],
      healthyTimeout: '30s',
    },
    steps: [
      { setWeight: 10 },
      { pause: { duration: seconds(8, scale) } },
      { analysis: { template: 'errors' } },
      { setWeight: 30 },
      { pause: { duration: seconds(6, scale) } },
      { analysis: { template: 'errors' } },
      { setWeight: 60 },
      { pause: { duration: seconds(5, scale) } },
      { setWeight: 100 },
    ],
    backgroundAnalysis: { template: 'errors', interval: seconds(4, scale), reportEvery: seconds(8, scale) },
    analysis: { errors },
    promotion: { keepPreviousFor: seconds(5, scale) },
    rollback: { retryInterval: '2s' },
  };
  // The sequential judge (issue 17) on top of the bounds: latency may be up to 10% higher, 5xx not at all. A metric
  // decides nothing before 10 paired buckets (SEQUENTIAL_MIN_BUCKETS), and an analysis with a measurement that
  // decided nothing is inconclusive, so the first judged measurement must see 10 buckets with canary traffic: a
  // longer first pause (18 s at the tests' scale 0.5, 15 one-second buckets after the 3 s delay) and a 20 s window.
  const judged: ReleaseSpecInput = {
    ...base,
    steps: [{ setWeight: 10 }, { pause: { duration: seconds(36, scale) } }, ...(base.steps as unknown[]).slice(2)] as ReleaseSpecInput['steps'],
    analysis: {
      errors: {
        ...errors,
        window: '20s',
        judge: { kind: 'sequential', confidence: 0.99 },
        // The two metrics the judge watches (its alpha is split over the template's metrics).
        metrics: [
          { ...(errors.metrics[0] as (typeof errors.metrics)[number]), judge: { direction: 'increase' } },
          { ...(errors.metrics[1] as (typeof errors.metrics)[number]), judge: { direction: 'increase', effectSize: { allowedIncrease: 1.1 } }, critical: true },
        ],
      },
    },
  };
  switch (name) {
    case 'healthy':
      return {
        name,
        summary: 'a good version: promoted step by step to 100%, the sequential judge watching every bucket without a false alarm',
        spec: judged,
        stable,
        canary: { ...stable },
        expected: 'promoted',
      };
    case 'bad-canary':
      return {
        name,
        summary: 'the new version answers 15% of requests with 5xx: the analysis trips and the release rolls back by itself',
        spec: base,
        stable,
        canary: { errorRate: 0.15, latencyMs: 45, latencyJitter: 0.1 },
        expected: 'rolled-back',
      };
    case 'crash':
      return {
        name,
        summary:
          'the new version drops 30% of its connections (crashes, resets, timeouts): no 5xx from its targets at all, the ALB answers 502/504 itself; the connection errors trip the analysis and the release rolls back',
        spec: base,
        stable,
        canary: { errorRate: 0, latencyMs: 40, latencyJitter: 0.1, connectionErrorRate: 0.3 },
        expected: 'rolled-back',
      };
    case 'approval': {
      const steps = [...(base.steps as unknown[])];
      steps.splice(6, 0, { approval: { approvers: ['alice', 'bob'], timeout: '30m', onTimeout: 'rollback' } });
      return {
        name,
        summary: 'a healthy version that stops at an approval gate before 60% until alice or bob approves',
        spec: { ...base, steps: steps as ReleaseSpecInput['steps'] },
        stable,
        canary: { ...stable },
        expected: 'promoted',
      };
    }
    case 'unhealthy':
      return {
        name,
        summary:
          'the new version never passes its health checks: the release rolls back before the canary gets any traffic (its weight stays 0), naming the failing targets and why',
        spec: { ...base, environment: { ...base.environment, healthyTimeout: seconds(20, scale) } },
        stable,
        canary: { ...stable, health: 'unhealthy' },
        expected: 'rolled-back',
      };
    case 'subtle-regression':
      return {
        name,
        summary:
          'the new version is 30% slower, still far under the 0.5 s latency bound: the sequential judge, pairing canary and a fresh baseline bucket by bucket, catches it',
        spec: {
          ...judged,
          environment: {
            ...judged.environment,
            baselineTargets: [
              { id: '10.0.0.41', port: 8080 },
              { id: '10.0.1.42', port: 8080 },
            ],
          },
        },
        stable,
        canary: { errorRate: 0.002, latencyMs: 52, latencyJitter: 0.1 },
        expected: 'rolled-back',
      };
    case 'staff-first': {
      // Employees on the office network (10% of requests) see the new version first, through a listener rule of
      // their own, and are judged alone before any random percentage of users gets it.
      const steps = [
        { segment: { name: 'staff', match: { sourceIp: ['10.20.0.0/16'] } } },
        { pause: { duration: seconds(8, scale) } },
        { analysis: { template: 'errors' } },
        ...(base.steps as unknown[]).slice(0, 3),
        { endSegment: 'staff' },
        ...(base.steps as unknown[]).slice(3),
      ];
      return {
        name,
        summary: 'staff (source IP 10.20.0.0/16, 10% of requests) reach the new version first through a listener rule, then 10%, 30%, 60%, 100% of everyone',
        spec: { ...base, steps: steps as ReleaseSpecInput['steps'] },
        stable,
        canary: { ...stable },
        expected: 'promoted',
        population: { groups: [{ name: 'staff', share: 0.1, request: { sourceIp: '10.20.3.4' } }] },
      };
    }
    case 'smoke-test': {
      const broken = opts.broken === true;
      return {
        name,
        summary: broken
          ? 'the new version answers half its requests with 5xx: the smoke test, through a test route no user takes, fails it at weight 0 and the release rolls back before any user reaches it'
          : 'a smoke test reaches the new version through a test route (a header rule) while its weight is 0, passes, and the release goes on to 100%',
        spec: { ...base, hooks: { beforeTraffic: ['smoke'], testRoute: true } },
        stable,
        canary: broken ? { errorRate: 0.5, latencyMs: 45, latencyJitter: 0.1 } : { ...stable },
        expected: broken ? 'rolled-back' : 'promoted',
        smokeTest: true,
      };
    }
    case 'business-metric': {
      // One template mixes sources: the ALB's view from CloudWatch, checkout conversion from Prometheus.
      const healthy = opts.healthy === true;
      return {
        name,
        summary: healthy
          ? 'a good version: every HTTP metric and checkout conversion (from Prometheus) stay as they were, and it is promoted'
          : 'the new version answers every request fine but breaks checkout: its conversion, from Prometheus, drops from 30% to 5% and the release rolls back',
        spec: { ...base, analysis: { errors: { ...errors, metrics: [...errors.metrics, conversionMetric(periodSeconds, 0.5)] } } },
        stable: { ...stable, conversion: 0.3 },
        canary: { ...stable, conversion: healthy ? 0.3 : 0.05 },
        expected: healthy ? 'promoted' : 'rolled-back',
        prometheus: PROMETHEUS_SCENARIOS.includes(name),
      };
    }
  }
}
