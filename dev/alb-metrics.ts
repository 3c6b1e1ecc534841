/** CloudWatch queries of the metrics an ALB publishes per target group, as analysis templates write them. */
// The one definition lives with the CloudWatch source's schema, which builds the default request count from it.
export { albMetricQuery } from '../common/sources/cloudwatch';
