/**
 * `canary validate`: a spec checked as `start` checks it, without a Temporal server, for CI linting. Runs the CLI's
 * `main` in-process with TEMPORAL_ADDRESS on a port nothing listens on (a connection attempt would exit 5);
 * test/integration/cli.test.ts runs it as the child process CI runs.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { ExitCode } from '../../client/exit-codes';
import { runCanaryInProcess } from '../support/cli-run';

const LISTENER = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/checkout/50dc6c495c0c9188/f2f7dc8efc522ab2';

function spec(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'canary/v1',
    service: 'checkout',
    version: 'v2.3.1',
    region: 'us-east-1',
    initiator: 'ci-bot',
    traffic: { listenerArn: LISTENER },
    environment: { canaryTargets: [{ id: '10.0.1.17', port: 8080 }] },
    steps: [{ setWeight: 10 }, { pause: { duration: '5m' } }, { approval: { approvers: ['alice'], timeout: '24h' } }, { setWeight: 100 }],
    ...overrides,
  };
}

let dir: string;
const saved = { ...process.env };
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'canary-validate-'));
  // Nothing listens on port 1: validating must not need (or try) a server.
  process.env.TEMPORAL_ADDRESS = '127.0.0.1:1';
  process.env.TEMPORAL_CONFIG_FILE = path.join(dir, 'no-such-temporal.toml');
  process.env.CANARY_USER = 'ci-bot';
});
afterAll(() => {
  process.env = saved;
  fs.rmSync(dir, { recursive: true, force: true });
});

function write(name: string, content: unknown): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, typeof content === 'string' ? content : YAML.stringify(content));
  return file;
}

/** Runs `canary ...args` in-process; what it printed and the exit code it chose. */
const canary = (...args: string[]): ReturnType<typeof runCanaryInProcess> => runCanaryInProcess(args);

describe('canary validate', () => {
  it('exits 0 with one OK line naming the release, its steps and the initiator', async () => {
    const file = write('ok.yaml', spec());
    const ran = await canary('validate', '--spec', file);
    expect(ran).toEqual({
      code: 0,
      stdout: `ok: ${file}: checkout v2.3.1, 4 steps (setWeight 10%, pause 5m, approval by alice, setWeight 100%), initiator ci-bot\n`,
      stderr: '',
    });
  });

  it('exits 2 and names every wrong field, like start', async () => {
    const file = write('bad.yaml', { ...spec({ steps: [{ setWeight: 120 }, { analysis: { template: 'latency' } }] }), canaryDrift: true });
    const ran = await canary('validate', '--spec', file);
    expect(ran.code).toBe(ExitCode.invalid);
    expect(ran.stdout).toBe('');
    const lines = ran.stderr.trim().split('\n');
    expect(lines[0]).toBe(`invalid release spec ${file}:`);
    expect(lines).toContain('steps[0].setWeight: must be between 0 and 100');
    expect(lines).toContain('steps[1].analysis.template: unknown analysis template "latency" (defined: none)');
    expect(lines).toContain('canaryDrift: unknown field');
  });

  it('applies --version and --targets as start does, so a spec that leaves them to CI validates', async () => {
    const { version: _version, ...noVersion } = spec();
    const file = write('ci.yaml', noVersion);
    const missing = await canary('validate', '--spec', file);
    expect(missing.code).toBe(ExitCode.invalid);
    expect(missing.stderr).toMatch(/^version: /m);

    const ran = await canary('validate', '--spec', file, '--version', 'abc123', '--targets', '10.0.1.20:8080,10.0.1.21:8080', '--json');
    expect(ran.code).toBe(ExitCode.ok);
    expect(JSON.parse(ran.stdout)).toMatchObject({
      valid: true,
      file,
      service: 'checkout',
      version: 'abc123',
      initiator: 'ci-bot',
      steps: ['setWeight 10%', 'pause 5m', 'approval by alice', 'setWeight 100%'],
      canaryTargets: ['10.0.1.20:8080', '10.0.1.21:8080'],
    });
  });

  it("takes a CI bot as the initiator, from --by (GitHub's actor) or from $CANARY_USER", async () => {
    const { initiator: _initiator, ...noInitiator } = spec();
    const file = write('bot.yaml', noInitiator);
    const byFlag = await canary('validate', '--spec', file, '--by', 'dependabot[bot]', '--json');
    expect(byFlag.code).toBe(ExitCode.ok);
    expect(JSON.parse(byFlag.stdout)).toMatchObject({ valid: true, initiator: 'dependabot[bot]' });
    process.env.CANARY_USER = 'github-actions[bot]';
    try {
      const byLogin = await canary('validate', '--spec', file, '--json');
      expect(JSON.parse(byLogin.stdout)).toMatchObject({ valid: true, initiator: 'github-actions[bot]' });
    } finally {
      process.env.CANARY_USER = 'ci-bot';
    }
  });

  it('prints the field errors as JSON with --json and still exits 2', async () => {
    const file = write('bad-json.yaml', spec({ region: 'mars-1' }));
    const ran = await canary('validate', '--spec', file, '--json');
    expect(ran.code).toBe(ExitCode.invalid);
    expect(JSON.parse(ran.stdout)).toEqual({ valid: false, file, errors: [{ field: 'region', message: 'an AWS region such as us-east-1' }] });
  });

  it('reads a spec without apiVersion as canary/v1 and warns; refuses an apiVersion it does not know, naming the ones it reads', async () => {
    const { apiVersion: _apiVersion, ...unversioned } = spec();
    const file = write('unversioned.yaml', unversioned);
    const ran = await canary('validate', '--spec', file);
    expect(ran.code).toBe(ExitCode.ok);
    expect(ran.stderr).toBe(`warning: ${file} has no apiVersion: read as canary/v1; add apiVersion: canary/v1 (docs/COMPATIBILITY.md)\n`);

    const newer = write('newer.yaml', spec({ apiVersion: 'canary/v2' }));
    const refused = await canary('validate', '--spec', newer);
    expect(refused.code).toBe(ExitCode.invalid);
    expect(refused.stderr.split('\n')).toContain('apiVersion: unknown apiVersion "canary/v2": this canary reads canary/v1 (a newer spec needs a newer canary)');
  });

  it('exits 2 for a file that is missing or not YAML, and for a missing --spec', async () => {
    const missing = await canary('validate', '--spec', path.join(dir, 'nope.yaml'));
    expect(missing.code).toBe(ExitCode.invalid);
    expect(missing.stderr).toMatch(/^cannot read the spec .*nope\.yaml/);
    const notYaml = await canary('validate', '--spec', write('broken.yaml', 'steps: [setWeight: 10\n'));
    expect(notYaml.code).toBe(ExitCode.invalid);
    expect(notYaml.stderr).toMatch(/broken\.yaml is not valid YAML or JSON/);
    expect((await canary('validate')).code).toBe(ExitCode.invalid);
  });

  it("checks each source's queries offline: PromQL's placeholders and brackets, a web metric's JSON path", async () => {
    const promql = 'sum(increase(orders_total{version="${version}"}[${period}])';
    const file = write('sources.yaml', {
      ...spec({ steps: [{ setWeight: 10 }, { analysis: { template: 'checkout' } }, { setWeight: 100 }] }),
      analysis: {
        checkout: {
          metrics: [
            { name: 'conversion', source: 'prometheus', server: 'main', query: [{ id: 'orders', promql }], pass: { min: 1 } },
            { name: 'synthetics', source: 'web', endpoint: 'synthetics', value: '$.data[*]', pass: { min: 0.99 } },
          ],
        },
      },
    });
    const ran = await canary('validate', '--spec', file);
    expect(ran.code).toBe(ExitCode.invalid);
    expect(ran.stderr).toContain(
      'analysis.checkout.metrics[0].query[0].promql: unknown placeholder ${version}: one of ${targetGroup}, ${targetGroupName}, ${loadBalancer}, ${variant}, ${period}, ${periodSeconds}',
    );
    expect(ran.stderr).toMatch(/analysis\.checkout\.metrics\[1\]\.value: an index \[N\] or a quoted name is expected at position 7 of "\$\.data\[\*\]"/);
    const fixed = write('sources-ok.yaml', {
      ...spec({ steps: [{ setWeight: 10 }, { analysis: { template: 'checkout' } }, { setWeight: 100 }] }),
      analysis: {
        checkout: {
          metrics: [
            {
              name: 'conversion',
              source: 'prometheus',
              server: 'main',
              query: [{ id: 'orders', promql: promql.replace('${version}', '${targetGroupName}') + ')' }],
              pass: { min: 1 },
            },
          ],
        },
      },
    });
    expect(await canary('validate', '--spec', fixed)).toMatchObject({ code: ExitCode.ok, stderr: '' });
  });
});
