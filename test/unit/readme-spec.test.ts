import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { parseReleaseSpec } from '../../common/spec';
import type { CloudWatchMetric } from '../../common/sources/cloudwatch';

describe('the README', () => {
  it('documents a release spec that parses as it says', () => {
    const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Release spec'));
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(yaml).toBeDefined();
    const spec = parseReleaseSpec(parse(yaml as string));
    expect(spec.steps.map((s) => s.kind)).toEqual([
      'segment',
      'analysis',
      'segment',
      'setWeight',
      'pause',
      'analysis',
      'approval',
      'endSegment',
      'setWeight',
      'setWeight',
    ]);
    expect(spec.analysis.errors?.judge).toMatchObject({ kind: 'mann-whitney', confidence: 0.95 });
    expect(spec.environment.baselineTargets).toEqual([{ id: '10.0.1.30', port: 8080 }]);
    expect(spec.notifications).toMatchObject({ webhook: 'ops' });
    const errors = spec.analysis.errors as { metrics: CloudWatchMetric[] } | undefined;
    expect(errors?.metrics[0]?.query[0]).toMatchObject({ Id: 'errors', fill: 0 });
    expect(errors?.metrics.find((m) => m.name === 'latency-p99')?.query[0]?.MetricStat?.Stat).toBe('p99');
    // A crashing canary answers no 5xx: the template counts its failed connections, per target group, as well.
    const connections = errors?.metrics.find((m) => m.name === 'connection-errors');
    expect(connections?.query[0]).toMatchObject({ Id: 'failed', fill: 0, MetricStat: { Metric: { MetricName: 'TargetConnectionErrorCount' }, Stat: 'Sum' } });
    expect(connections?.query[0]?.MetricStat?.Metric.Dimensions?.map((d) => d.Name)).toEqual(['TargetGroup', 'LoadBalancer']);
    expect(connections?.pass).toMatchObject({ max: 0.01 });
    // Sticky users: an hour, in milliseconds.
    expect(spec.traffic[0]?.stickiness).toBe(3_600_000);
    expect(errors).toMatchObject({ delay: 120_000, inconclusive: { timeout: 3_600_000, onTimeout: 'rollback' } });
  });
});
