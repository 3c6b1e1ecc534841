/**
 * The valid release spec the bad-input catalogue (test/unit/bad-input.test.ts) mutates row by row, the mutations it
 * writes its rows with, and its huge inputs, which the bench's validation part (bench/measure-validation.ts) times.
 */
export const ACCOUNT = '123456789012';
export const LISTENER = `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT}:listener/app/checkout-alb/50dc6c495c0c9188/f2f7dc8efc522ab2`;
export const RULE = `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT}:listener-rule/app/checkout-alb/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee`;

export const stat = (id: string, metricName: string): Record<string, unknown> => ({
  Id: id,
  MetricStat: {
    Metric: { Namespace: 'AWS/ApplicationELB', MetricName: metricName, Dimensions: [{ Name: 'TargetGroup', Value: '${targetGroup}' }] },
    Period: 60,
    Stat: 'Sum',
  },
});

/** A valid spec that uses every feature a row may break: rule, steps of each kind, a template, background analysis. */
export function baseSpec(): Record<string, unknown> {
  return {
    service: 'checkout',
    version: 'v2.3.1',
    region: 'us-east-1',
    initiator: 'ci-bot',
    traffic: { listenerArn: LISTENER, ruleArn: RULE },
    environment: { canaryTargets: [{ id: '10.0.1.17', port: 8080 }], healthyTimeout: '5m' },
    steps: [
      { setWeight: 5 },
      { pause: { duration: '5m' } },
      { analysis: { template: 'errors' } },
      { approval: { approvers: ['alice', 'bob'], timeout: '24h', onTimeout: 'rollback' } },
      { setWeight: 50 },
      { setWeight: 100 },
    ],
    backgroundAnalysis: { template: 'errors', interval: '1m' },
    analysis: {
      errors: {
        metrics: [
          {
            name: '5xx-rate',
            query: [stat('errors', 'HTTPCode_Target_5XX_Count'), stat('requests', 'RequestCount'), { Id: 'rate', Expression: 'errors / requests' }],
            pass: { max: 0.01 },
          },
        ],
        failureLimit: 1,
      },
    },
    promotion: { keepPreviousFor: '10m' },
    rollback: { retryInterval: '1m' },
  };
}

// ---- mutations: small, readable verbs over a dotted path (`steps.0.setWeight`) ----
export type Obj = Record<string, unknown>;
export type Mutation = (doc: Obj) => void;

export function parent(doc: Obj, path: string): [Obj, string] {
  const keys = path.split('.');
  const last = keys.pop() as string;
  let at: unknown = doc;
  for (const k of keys) at = (at as Obj)[k];
  return [at as Obj, last];
}
export const set =
  (path: string, value: unknown): Mutation =>
  (doc) => {
    const [p, k] = parent(doc, path);
    p[k] = value;
  };
export const del =
  (path: string): Mutation =>
  (doc) => {
    const [p, k] = parent(doc, path);
    delete p[k];
  };
export const push =
  (path: string, value: unknown): Mutation =>
  (doc) => {
    const [p, k] = parent(doc, path);
    (p[k] as unknown[]).push(value);
  };

export const MB = 1 << 20;
export const METRIC = 'analysis.errors.metrics.0';
export const QUERY = `${METRIC}.query`;

export interface Row {
  name: string;
  mutate: Mutation;
  /** The field an error must name, as fieldErrors prints it (`steps[0].setWeight`); a RegExp for generated names. */
  field: string | RegExp;
  /** A fragment of that error's message. */
  message: string;
  /** Huge inputs: the report must stay small (it must not echo the input); how fast it comes is bench part 9's. */
  huge?: boolean;
  /** A known defect in common/spec.ts this row exposes (the row fails until it is fixed). */
  bug?: string;
}

/** Inputs of a megabyte or of thousands of items: each rejected naming its size, not echoing it. */
export const HUGE_SPEC_ROWS: Row[] = [
  {
    name: '10k steps',
    mutate: set('steps', [...Array.from({ length: 9_999 }, () => ({ setWeight: 5 })), { setWeight: 100 }]),
    field: 'steps',
    message: '<=100 items',
    huge: true,
  },
  {
    name: '100k canary targets',
    mutate: set(
      'environment.canaryTargets',
      Array.from({ length: 100_000 }, (_, i) => ({ id: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 8080 })),
    ),
    field: 'environment.canaryTargets',
    message: '<=500 items',
    huge: true,
  },
  { name: '1 MB version', mutate: set('version', 'v'.repeat(MB)), field: 'version', message: '1-64 characters', huge: true },
  { name: '1 MB service name', mutate: set('service', 's'.repeat(MB)), field: 'service', message: '1-20 characters', huge: true },
  { name: '1 MB initiator', mutate: set('initiator', 'i'.repeat(MB)), field: 'initiator', message: 'a name is 1-63 ASCII', huge: true },
  {
    name: '1 MB target id',
    mutate: set('environment.canaryTargets.0.id', 't'.repeat(MB)),
    field: 'environment.canaryTargets[0].id',
    message: '<=256 characters',
    huge: true,
  },
  {
    name: '1 MB listener ARN',
    mutate: set('traffic.listenerArn', LISTENER + 'f'.repeat(MB)),
    field: 'traffic.listenerArn',
    message: '<=512 characters',
    huge: true,
  },
  {
    name: '1 MB duration',
    mutate: set('environment.healthyTimeout', '1'.repeat(MB) + 's'),
    field: 'environment.healthyTimeout',
    message: '<=20 characters',
    huge: true,
  },
  {
    name: '1 MB expression',
    mutate: set(`${QUERY}.2.Expression`, 'errors + '.repeat(MB / 9) + 'requests'),
    field: 'analysis.errors.metrics[0].query[2].Expression',
    message: '<=500 characters',
    huge: true,
  },
  {
    name: '1 MB template name in a step',
    mutate: set('steps.2.analysis.template', 'e'.repeat(MB)),
    field: 'steps[2].analysis.template',
    message: '<=64 characters',
    huge: true,
  },
  {
    name: '1 MB template name as an analysis key',
    mutate: set(`analysis.${'e'.repeat(MB)}`, { metrics: [] }),
    field: /^analysis\./,
    message: 'characters',
    huge: true,
  },
];
