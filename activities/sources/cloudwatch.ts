/**
 * The `cloudwatch` metric source, and the one place canary calls CloudWatch: GetMetricData (paged, batched, paced)
 * for the analysis activity and `canary report`, and DescribeAlarms for a template's alarm gate (alarms stay
 * CloudWatch's, whatever source the metrics come from). A variant's data is selected by its target group: the
 * `${targetGroup}` and `${loadBalancer}` placeholders of a query's dimensions are filled with the variant's.
 */
import {
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  type CloudWatchClient,
  type DescribeAlarmsCommandOutput,
  type MetricDataQuery as CwQuery,
} from '@aws-sdk/client-cloudwatch';
import type { TimedSeries, Variant, VariantTarget } from '../../analysis/analysis';
import type { AlarmGate } from '../../common/spec';
import { metricEvaluator, resultQuery, type CloudWatchMetric, type MetricDataQuery } from '../../common/sources/cloudwatch';
import { callerRequest, DescribeBudget, type PaceOptions } from '../api-pacer';
import { aws } from '../errors';
import type { FetchedMetric, MetricFetch, MetricSource, SourceWindow } from './source';

/** A query with the variant's dimension values in place of `${targetGroup}` and `${loadBalancer}`. */
export function fillPlaceholders(query: MetricDataQuery, target: VariantTarget): MetricDataQuery {
  if (!query.MetricStat) return query;
  const fill = (v: string): string => v.replace(/\$\{targetGroup\}/g, target.targetGroup).replace(/\$\{loadBalancer\}/g, target.loadBalancer);
  return {
    ...query,
    MetricStat: {
      ...query.MetricStat,
      Metric: { ...query.MetricStat.Metric, Dimensions: query.MetricStat.Metric.Dimensions.map((d) => ({ Name: d.Name, Value: fill(d.Value) })) },
    },
  };
}

/** The paced CloudWatch calls. */
export type PacedCall = 'GetMetricData' | 'DescribeAlarms';

/**
 * How fast this process calls CloudWatch per account and region: half of GetMetricData's default quota of 50 per
 * second and under DescribeAlarms' 9 (CloudWatch service quotas), leaving the rest to the account's other tools.
 */
export const CLOUDWATCH_RATES: Record<PacedCall, { perSecond: number; burst: number }> = {
  GetMetricData: { perSecond: 25, burst: 50 },
  DescribeAlarms: { perSecond: 4, burst: 9 },
};

/** One account and region's token buckets for the paced calls. */
export type CloudWatchPace = Record<PacedCall, DescribeBudget>;

/** The buckets of one process, one set per account (an id, or `worker` for its own credentials) and region. */
export class CloudWatchBudgets {
  private readonly paces = new Map<string, CloudWatchPace>();
  constructor(private readonly rates: Record<PacedCall, Omit<PaceOptions, 'calls'>> = CLOUDWATCH_RATES) {}

  for(account: string, region: string): CloudWatchPace {
    const key = `account ${account} in ${region}`;
    let pace = this.paces.get(key);
    if (!pace) {
      const budget = (call: PacedCall): DescribeBudget =>
        new DescribeBudget(key, {
          ...this.rates[call],
          calls: { what: `CloudWatch ${call} calls`, setting: 'activities/sources/cloudwatch.ts CLOUDWATCH_RATES' },
        });
      pace = { GetMetricData: budget('GetMetricData'), DescribeAlarms: budget('DescribeAlarms') };
      this.paces.set(key, pace);
    }
    return pace;
  }
}

/** Clients whose calls are paced already (a client keeps the buckets it was first paced with: one client, one scope). */
const paced = new WeakSet<CloudWatchClient>();

/**
 * Paces a client's GetMetricData and DescribeAlarms calls through `pace`, as ELB's Describe calls are
 * (activities/api-pacer.ts): inside the SDK's retry loop, so every attempt waits for its token, the oldest activity's first.
 */
export function paceCloudWatch(client: CloudWatchClient, pace: CloudWatchPace): void {
  if (paced.has(client)) return;
  paced.add(client);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const budget = pace[context.commandName?.replace(/Command$/, '') as PacedCall] as DescribeBudget | undefined;
      if (budget) await budget.take(callerRequest());
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'canaryCloudWatchPacing' },
  );
}

/** An alarm's state as DescribeAlarms answered it. */
export interface AlarmState {
  name: string;
  state: string;
  reason?: string;
}

/** The CloudWatch source: metrics, and the alarms only CloudWatch has. */
export interface CloudWatchSource extends MetricSource<'cloudwatch'> {
  /** The states of the gate's alarms: listed names (each must exist) and every alarm under the prefix (at least one). */
  alarms(gate: AlarmGate): Promise<AlarmState[]>;
}

/** The order a request lists the variants' queries in (recorded answers match on it: test/fixtures/cloudwatch/). */
const VARIANTS: readonly Variant[] = ['canary', 'baseline', 'stable'];

/** GetMetricData takes at most 500 queries a call. */
const MAX_QUERIES = 500;

/** Where one GetMetricData result goes: a metric (by its index in the call), a variant, the metric's series id. */
type Destination = { item: number; variant: Variant; id: string };

/** A query's period in a window that asks for buckets at least `min` seconds long: a multiple of `min`. */
function periodIn(period: number, min: number | undefined): number {
  return min ? Math.ceil(period / min) * min : period;
}

/** The CloudWatch source over one client (of the release's account and region), paced through `pace` when given. */
export function cloudWatchSource(cloudwatch: CloudWatchClient, pace?: CloudWatchPace): CloudWatchSource {
  if (pace) paceCloudWatch(cloudwatch, pace);

  /** One GetMetricData request, paged; each result's datapoints inside the window go to their destination. */
  async function getMetricData(queries: CwQuery[], index: Map<string, Destination>, window: SourceWindow, out: FetchedMetric[]): Promise<void> {
    let nextToken: string | undefined;
    do {
      const res = await aws('GetMetricData', () =>
        cloudwatch.send(
          new GetMetricDataCommand({
            MetricDataQueries: queries,
            StartTime: new Date(window.startMs),
            EndTime: new Date(window.endMs),
            ScanBy: 'TimestampAscending',
            NextToken: nextToken,
          }),
        ),
      );
      for (const r of res.MetricDataResults ?? []) {
        const where = r.Id ? index.get(r.Id) : undefined;
        if (!where) continue;
        const byId = ((out[where.item] as FetchedMetric)[where.variant] ??= {});
        const s: TimedSeries = (byId[where.id] ??= { t: [], v: [] });
        (r.Timestamps ?? []).forEach((t, i) => {
          const v = r.Values?.[i];
          const ms = new Date(t).getTime();
          // A datapoint outside the asked window (a misaligned bucket) would be judged twice or too early.
          if (v !== undefined && ms >= window.startMs && ms < window.endMs) {
            s.t.push(ms);
            s.v.push(v);
          }
        });
      }
      nextToken = res.NextToken;
    } while (nextToken);
    // CloudWatch may answer a page newest first; a series is oldest first.
    for (const dest of index.values()) {
      const s = out[dest.item]?.[dest.variant]?.[dest.id];
      if (s && s.t.some((t, i) => i > 0 && t < (s.t[i - 1] as number))) {
        const order = s.t.map((_, i) => i).sort((a, b) => (s.t[a] as number) - (s.t[b] as number));
        s.t = order.map((i) => s.t[i] as number);
        s.v = order.map((i) => s.v[i] as number);
      }
    }
  }

  return {
    name: 'cloudwatch',

    /**
     * Plain-arithmetic metrics: their MetricStat queries, batched (ids renamed per variant and metric), combined by
     * analysis/ afterwards. Metrics with a metric math function: one request per variant with the metric's own
     * queries and ids, so CloudWatch evaluates the expression (and METRICS() sees only this metric's queries); only
     * the result series comes back.
     */
    async fetch(items: MetricFetch<CloudWatchMetric>[], window: SourceWindow): Promise<FetchedMetric[]> {
      const out: FetchedMetric[] = items.map(() => ({}));
      const batched: CwQuery[] = [];
      const batchIndex = new Map<string, Destination>();
      const separate: { queries: CwQuery[]; index: Map<string, Destination> }[] = [];
      const stat = (q: MetricDataQuery, target: VariantTarget): CwQuery['MetricStat'] => {
        const filled = fillPlaceholders(q, target).MetricStat as NonNullable<MetricDataQuery['MetricStat']>;
        return { ...filled, Period: periodIn(filled.Period, window.minPeriodSeconds) } as CwQuery['MetricStat'];
      };
      items.forEach(({ metric, variants }, item) => {
        const byCloudWatch = metricEvaluator(metric) === 'cloudwatch';
        const result = resultQuery(metric);
        for (const variant of VARIANTS) {
          const target = variants[variant];
          if (!target) continue;
          out[item] = { ...out[item], [variant]: {} };
          if (byCloudWatch) {
            const queries = metric.query.map((q) => {
              const query: CwQuery = { Id: q.Id, ReturnData: q.Id === result.Id };
              if (q.Label) query.Label = q.Label;
              if (q.MetricStat) query.MetricStat = stat(q, target);
              if (q.Expression) query.Expression = q.Expression;
              return query;
            });
            separate.push({ queries, index: new Map([[result.Id, { item, variant, id: result.Id }]]) });
            continue;
          }
          for (const q of metric.query) {
            if (!q.MetricStat) continue;
            const id = `${variant[0]}${item}_${q.Id}`;
            batchIndex.set(id, { item, variant, id: q.Id });
            batched.push({ Id: id, ReturnData: true, MetricStat: stat(q, target) });
          }
        }
      });
      for (let i = 0; i < batched.length; i += MAX_QUERIES) await getMetricData(batched.slice(i, i + MAX_QUERIES), batchIndex, window, out);
      for (const one of separate) await getMetricData(one.queries, one.index, window, out);
      return out;
    },

    async alarms(gate: AlarmGate): Promise<AlarmState[]> {
      const found = new Map<string, AlarmState>();
      const collect = (res: DescribeAlarmsCommandOutput): void => {
        for (const a of [...(res.MetricAlarms ?? []), ...(res.CompositeAlarms ?? [])]) {
          if (a.AlarmName) found.set(a.AlarmName, { name: a.AlarmName, state: a.StateValue ?? 'INSUFFICIENT_DATA', reason: a.StateReason });
        }
      };
      const pages = async (input: { AlarmNames?: string[]; AlarmNamePrefix?: string }): Promise<void> => {
        let NextToken: string | undefined;
        do {
          const res = await aws('DescribeAlarms', () =>
            cloudwatch.send(new DescribeAlarmsCommand({ ...input, AlarmTypes: ['MetricAlarm', 'CompositeAlarm'], NextToken })),
          );
          collect(res);
          NextToken = res.NextToken;
        } while (NextToken);
      };
      if (gate.names.length) await pages({ AlarmNames: gate.names });
      const missing = gate.names.filter((n) => !found.has(n));
      if (missing.length) throw new Error(`alarm(s) ${missing.join(', ')} do not exist (DescribeAlarms)`);
      if (gate.prefix !== undefined) {
        const before = found.size;
        await pages({ AlarmNamePrefix: gate.prefix });
        if (found.size === before && ![...found.keys()].some((n) => n.startsWith(gate.prefix as string))) {
          throw new Error(`no alarm's name starts with "${gate.prefix}" (DescribeAlarms)`);
        }
      }
      return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
    },
  };
}
