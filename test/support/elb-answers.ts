/** ELB answers a test's proxy gives itself (FaultProxyOptions.respond), so moto's latency does not blur timings. */
import type { FaultProxyOptions } from '../../dev/fault-proxy';

/** A DescribeLoadBalancers answer with no load balancers, in ELB's XML. */
export const NO_LOAD_BALANCERS =
  '<DescribeLoadBalancersResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">' +
  '<DescribeLoadBalancersResult><LoadBalancers/></DescribeLoadBalancersResult>' +
  '<ResponseMetadata><RequestId>0</RequestId></ResponseMetadata></DescribeLoadBalancersResponse>';

/** Answers DescribeLoadBalancers with {@link NO_LOAD_BALANCERS}; everything else goes on to moto. */
export const answerDescribeLoadBalancers: NonNullable<FaultProxyOptions['respond']> = (action) =>
  action === 'DescribeLoadBalancers' ? { status: 200, headers: { 'content-type': 'text/xml' }, body: NO_LOAD_BALANCERS } : undefined;
