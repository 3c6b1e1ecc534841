/** CloudWatch queries of the metrics an ALB publishes per target group, as analysis templates write them. */
import type { z } from 'zod';
import type { MetricDataQuery } from '../common/sources/cloudwatch';

type Query = z.input<typeof MetricDataQuery>;

/**
 * One MetricStat query of an `AWS/ApplicationELB` metric of the variant's target group (placeholders filled per
 * variant); `fill` for counts ALB leaves out when they are zero (`fill: 0`).
 */
export function albMetricQuery(id: string, metricName: string, stat: string, periodSeconds: number, fill?: number | 'repeat' | 'linear'): Query {
  return {
    ...(fill === undefined ? {} : { fill }),
    Id: id,
    MetricStat: {
      Metric: {
        Namespace: 'AWS/ApplicationELB',
        MetricName: metricName,
        Dimensions: [
          { Name: 'TargetGroup', Value: '${targetGroup}' },
          { Name: 'LoadBalancer', Value: '${loadBalancer}' },
        ],
      },
      Period: periodSeconds,
      Stat: stat,
    },
  };
}
