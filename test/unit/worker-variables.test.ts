/**
 * Every worker variable is documented once, in the table of docs/running-for-real.md#variables, and that table, the
 * list in worker/config.ts (WORKER_ENV_VARS) and the code that reads the environment for the worker name the same
 * variables. And the variables this table gained with the worker's logs, notifications and credentials do what it says.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isWorkerEnvVar, loadWorkerConfig, WORKER_ENV_VARS } from '../../worker/config';

const repoRoot = path.resolve(__dirname, '..', '..');
const read = (file: string): string => fs.readFileSync(path.join(repoRoot, file), 'utf8');

/** The first column of the table under `## Variables`, one entry per row as written (`CANARY_WEBHOOK_<NAME>`). */
function documentedVariables(): string[] {
  const doc = read('docs/running-for-real.md');
  const section = doc.slice(doc.indexOf('\n## Variables\n'), doc.indexOf('\n## ', doc.indexOf('\n## Variables\n') + 5));
  return section
    .split('\n')
    .filter((l) => /^\|\s*`/.test(l))
    .map((l) => /^\|\s*`([^`]+)`/.exec(l)?.[1] ?? '');
}

/** The code that reads the worker's environment: its settings, its AWS configuration and credentials, notifications, Temporal. */
const READERS = [
  'worker/config.ts',
  'worker/main.ts',
  'worker/log.ts',
  'activities/aws-clients.ts',
  'activities/notify.ts',
  'activities/hooks.ts',
  'activities/sources/settings.ts',
  'client/temporal-config.ts',
];

/** The variable names the readers' source names (constants such as WORKER_ENV_VARS left out). */
function namedByReaders(): Set<string> {
  const names = new Set<string>();
  for (const file of READERS) {
    for (const m of read(file).matchAll(/\b(?:CANARY|AWS|TEMPORAL)_[A-Z0-9_]*[A-Z0-9]\b/g)) if (!m[0].endsWith('_VARS')) names.add(m[0]);
  }
  return names;
}

const noFile = { TEMPORAL_CONFIG_FILE: path.join(os.tmpdir(), 'canary-no-such-temporal.toml'), HOME: path.join(os.tmpdir(), 'canary-no-such-home') };

describe('the worker variables', () => {
  it('are documented once each, in one table, and that table is WORKER_ENV_VARS', () => {
    const documented = documentedVariables();
    expect(documented.length).toBeGreaterThan(30);
    expect(documented.filter((v, i) => documented.indexOf(v) !== i)).toEqual([]);
    expect([...documented].sort()).toEqual([...WORKER_ENV_VARS].sort());
    // The README points there instead of keeping a list of its own.
    expect(read('README.md')).toContain('(docs/running-for-real.md#variables)');
    expect(read('README.md')).not.toMatch(/^The worker reads `TEMPORAL_ADDRESS`/m);
  });

  it('include every variable the reading code names, and the reading code names every one of them', () => {
    const named = namedByReaders();
    expect([...named].filter((n) => !isWorkerEnvVar(n)).sort()).toEqual([]);
    expect(WORKER_ENV_VARS.filter((v) => !v.includes('<NAME>') && !named.has(v))).toEqual([]);
  });

  it('read CANARY_OWNERSHIP_TAGS (comma-separated key or key=value) and CANARY_TIME_SCALE (1 unless the local stack says)', () => {
    expect(loadWorkerConfig({ ...noFile })).toMatchObject({ ownershipTags: [], timeScale: 1 });
    expect(loadWorkerConfig({ ...noFile, CANARY_OWNERSHIP_TAGS: ' ManagedBy=terraform, owner ,', CANARY_TIME_SCALE: '60' })).toMatchObject({
      ownershipTags: ['ManagedBy=terraform', 'owner'],
      timeScale: 60,
    });
    expect(() => loadWorkerConfig({ ...noFile, CANARY_OWNERSHIP_TAGS: '=terraform' })).toThrow(
      /CANARY_OWNERSHIP_TAGS="=terraform": "=terraform" is not a tag key/,
    );
    expect(() => loadWorkerConfig({ ...noFile, CANARY_TIME_SCALE: '0' })).toThrow(/CANARY_TIME_SCALE="0": expected a number above 0/);
  });

  it('read CANARY_LOG_FORMAT (text or json, any case) and name it when it is neither', () => {
    expect(loadWorkerConfig({ ...noFile }).logFormat).toBe('text');
    expect(loadWorkerConfig({ ...noFile, CANARY_LOG_FORMAT: 'JSON' }).logFormat).toBe('json');
    expect(() => loadWorkerConfig({ ...noFile, CANARY_LOG_FORMAT: 'logfmt' })).toThrow(/CANARY_LOG_FORMAT="logfmt": expected one of text, json/);
  });

  it('read the notification settings: CANARY_WEBHOOK_<NAME>, CANARY_UI_URL, CANARY_REPORT_URL', () => {
    const config = loadWorkerConfig({
      ...noFile,
      CANARY_WEBHOOK_OPS: 'https://hooks.example.com/ops',
      CANARY_UI_URL: 'https://temporal.example.com/',
      CANARY_REPORT_URL: 'https://reports.example.com/{releaseId}.html',
      TEMPORAL_NAMESPACE: 'prod',
    });
    expect(config.webhooks).toEqual({ ops: 'https://hooks.example.com/ops' });
    expect(config.notifyLinks).toEqual({ uiUrl: 'https://temporal.example.com', namespace: 'prod', reportUrl: 'https://reports.example.com/{releaseId}.html' });
    expect(isWorkerEnvVar('CANARY_WEBHOOK_OPS')).toBe(true);
    expect(isWorkerEnvVar('CANARY_WEBHOOK_')).toBe(false);
  });

  it('name where the AWS credentials come from, and warn about session keys in the environment', () => {
    const container = loadWorkerConfig({ ...noFile, AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://127.0.0.1:9/creds' });
    expect(container.credentials).toEqual({
      source: 'the container credentials endpoint http://127.0.0.1:9/creds (AWS_CONTAINER_CREDENTIALS_FULL_URI: EKS Pod Identity or an ECS task role)',
      warning: undefined,
    });
    const session = loadWorkerConfig({ ...noFile, AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b', AWS_SESSION_TOKEN: 't' });
    expect(session.credentials.warning).toMatch(/^AWS credentials are session keys in AWS_ACCESS_KEY_ID/);
    // Keys are the SDK chain's to read: they never become static credentials in the worker's AWS configuration.
    expect(session.aws).not.toHaveProperty('accessKeyId');
  });
});
