/**
 * The metrics half of the realism layer (the ALB half is ./alb-realism.ts): CloudWatch data the way an ALB delivers
 * it, built from the simulator's ticks.
 *
 * - One datapoint per bucket of a 60 s period, timestamped at the bucket's start. Under time compression a bucket
 *   lasts 60 / timeScale real seconds, rounded down to a period CloudWatch accepts (1, 5, 10, 30, 60 s), so a
 *   template with that Period sees exactly one datapoint per bucket, as it would see per minute on AWS.
 * - Counts summed per bucket; no datapoint for a zero count (a healthy group has no HTTPCode_Target_5XX_Count);
 *   nothing at all for a group that served no request (no RequestCount while idle).
 * - Connections a target never answered: TargetConnectionErrorCount per target group, and the ALB's own 502/504 as
 *   HTTPCode_ELB_5XX_Count per load balancer only (no TargetGroup dimension), summed over its groups.
 * - TargetResponseTime as the bucket's statistics (SampleCount, Sum, Minimum, Maximum).
 * - A bucket is delivered only after it has closed and its delivery lag (90 simulated seconds by default: ALB's
 *   minute shows up one to two minutes late) has passed; a query for the newest minutes finds nothing.
 */
import type { MetricDatum } from '@aws-sdk/client-cloudwatch';
import { timeScaleFromEnv } from './stack';

export interface MetricsRealismOptions {
  /** Seconds of simulated AWS time per real second (CANARY_TIME_SCALE, else the stack's default). */
  timeScale?: number;
  /** Simulated seconds between a bucket's end and the moment it can be queried; 90 when absent. */
  deliveryLagSeconds?: number;
}

export interface MetricsRealism {
  timeScale: number;
  /** Real milliseconds of one bucket. */
  bucketMs: number;
  /** Real milliseconds from a bucket's end to its delivery. */
  lagMs: number;
}

const CLOUDWATCH_PERIODS = [60, 30, 10, 5, 1] as const;

/**
 * The Period (seconds) of one ALB bucket at a time scale: 60 simulated seconds in real time, rounded down to a
 * period CloudWatch accepts. Templates for the local stack use it as their MetricStat Period.
 */
export function albBucketSeconds(timeScale: number): number {
  if (!(timeScale > 0 && Number.isFinite(timeScale))) throw new RangeError(`timeScale must be > 0, got ${timeScale}`);
  const real = 60 / timeScale;
  return CLOUDWATCH_PERIODS.find((p) => p <= real) ?? 1;
}

export function metricsRealism(o: MetricsRealismOptions): MetricsRealism {
  const timeScale = o.timeScale ?? timeScaleFromEnv();
  const lag = o.deliveryLagSeconds ?? 90;
  if (!(lag >= 0 && Number.isFinite(lag))) throw new RangeError(`deliveryLagSeconds must be ≥ 0, got ${lag}`);
  return { timeScale, bucketMs: albBucketSeconds(timeScale) * 1000, lagMs: Math.round((lag / timeScale) * 1000) };
}

interface OpenBucket {
  start: number;
  dims: { targetGroup: string; loadBalancer: string };
  requests: number;
  errors: number;
  connectionErrors: number;
  latencyCount: number;
  latencySum: number;
  latencyMin: number;
  latencyMax: number;
}

/** Per-bucket accumulation and delayed delivery of the simulator's draws. */
export class BucketedMetrics {
  private readonly open = new Map<string, OpenBucket>();
  /** Per bucket and load balancer: the ALB's own 5xx (HTTPCode_ELB_5XX_Count), which has no TargetGroup dimension. */
  private readonly openElb = new Map<string, { start: number; loadBalancer: string; elb5xx: number }>();
  private pending: { dueAt: number; datum: MetricDatum }[] = [];

  constructor(private readonly realism: MetricsRealism) {}

  /** Adds one tick's draw of a target group to the bucket its time falls in. */
  add(atMs: number, dims: { targetGroup: string; loadBalancer: string }, requests: number, errors: number, latenciesSec: number[], connectionErrors = 0): void {
    if (requests <= 0) return;
    const start = Math.floor(atMs / this.realism.bucketMs) * this.realism.bucketMs;
    const key = `${start} ${dims.targetGroup} ${dims.loadBalancer}`;
    let b = this.open.get(key);
    if (!b) {
      b = { start, dims, requests: 0, errors: 0, connectionErrors: 0, latencyCount: 0, latencySum: 0, latencyMin: Infinity, latencyMax: -Infinity };
      this.open.set(key, b);
    }
    b.requests += requests;
    b.errors += errors;
    b.connectionErrors += connectionErrors;
    if (connectionErrors > 0) {
      const lbKey = `${start} ${dims.loadBalancer}`;
      const lb = this.openElb.get(lbKey) ?? { start, loadBalancer: dims.loadBalancer, elb5xx: 0 };
      lb.elb5xx += connectionErrors;
      this.openElb.set(lbKey, lb);
    }
    for (const l of latenciesSec) {
      b.latencyCount++;
      b.latencySum += l;
      b.latencyMin = Math.min(b.latencyMin, l);
      b.latencyMax = Math.max(b.latencyMax, l);
    }
  }

  /** The datums whose delivery time has come (closed buckets past their lag); they stay queued until delivered(). */
  due(nowMs: number): MetricDatum[] {
    for (const [key, b] of this.open) {
      const end = b.start + this.realism.bucketMs;
      if (end > nowMs) continue;
      this.open.delete(key);
      const dueAt = end + this.realism.lagMs;
      for (const datum of this.datums(b)) this.pending.push({ dueAt, datum });
    }
    for (const [key, lb] of this.openElb) {
      const end = lb.start + this.realism.bucketMs;
      if (end > nowMs) continue;
      this.openElb.delete(key);
      this.pending.push({
        dueAt: end + this.realism.lagMs,
        datum: {
          MetricName: 'HTTPCode_ELB_5XX_Count',
          Dimensions: [{ Name: 'LoadBalancer', Value: lb.loadBalancer }],
          Timestamp: new Date(lb.start),
          StorageResolution: this.realism.bucketMs < 60_000 ? 1 : 60,
          Unit: 'Count',
          Value: lb.elb5xx,
        },
      });
    }
    return this.pending.filter((p) => p.dueAt <= nowMs).map((p) => p.datum);
  }

  /** Drops datums PutMetricData accepted. */
  delivered(datums: MetricDatum[]): void {
    const done = new Set(datums);
    this.pending = this.pending.filter((p) => !done.has(p.datum));
  }

  /** Buckets not delivered yet (open or waiting for their lag). */
  backlog(): number {
    return this.open.size + this.openElb.size + new Set(this.pending.map((p) => p.datum.Timestamp?.getTime())).size;
  }

  private datums(b: OpenBucket): MetricDatum[] {
    const common = {
      Dimensions: [
        { Name: 'TargetGroup', Value: b.dims.targetGroup },
        { Name: 'LoadBalancer', Value: b.dims.loadBalancer },
      ],
      Timestamp: new Date(b.start),
      StorageResolution: this.realism.bucketMs < 60_000 ? 1 : 60,
    };
    const out: MetricDatum[] = [{ ...common, MetricName: 'RequestCount', Unit: 'Count', Value: b.requests }];
    // ALB publishes an HTTPCode_* count only when it is not zero.
    if (b.errors > 0) out.push({ ...common, MetricName: 'HTTPCode_Target_5XX_Count', Unit: 'Count', Value: b.errors });
    if (b.connectionErrors > 0) out.push({ ...common, MetricName: 'TargetConnectionErrorCount', Unit: 'Count', Value: b.connectionErrors });
    if (b.latencyCount > 0) {
      const r = (x: number): number => Math.round(x * 1e6) / 1e6;
      out.push({
        ...common,
        MetricName: 'TargetResponseTime',
        Unit: 'Seconds',
        StatisticValues: { SampleCount: b.latencyCount, Sum: r(b.latencySum), Minimum: r(b.latencyMin), Maximum: r(b.latencyMax) },
      });
    }
    return out;
  }
}
