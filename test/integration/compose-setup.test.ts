/**
 * The one-shot `temporal-setup` job of docker-compose.yml, run for real: its script (read from the compose file) with
 * the pinned `temporal` CLI against the test dev server, on a namespace of its own. It must create the namespace and
 * register the release search attributes, succeed again when everything exists, and fail when an attribute exists
 * with another type.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { parse } from 'yaml';
import { releaseSearchAttributes } from '../../common/search-attributes';
import { testStack, uniqueName } from '../support/env';

const repoRoot = path.resolve(__dirname, '..', '..');
const venvBin = path.join(repoRoot, '.venv', 'bin');

/** The service's shell script as the container's sh gets it (compose turns `$$` into `$`). */
function setupScript(): string {
  const compose = parse(fs.readFileSync(path.join(repoRoot, 'docker-compose.yml'), 'utf8')) as { services: Record<string, { command?: string | string[] }> };
  const command = compose.services['temporal-setup']?.command;
  if (!command) throw new Error('docker-compose.yml has no temporal-setup command');
  return [command].flat().join('\n').replace(/\$\$/g, '$');
}

function runScript(script: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (output += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return runScript(['temporal', ...args].map((a) => `'${a}'`).join(' '), env);
}

describe("docker-compose.yml's temporal-setup job", () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'canary-setup-home-'));
  afterAll(() => fs.rmSync(home, { recursive: true, force: true }));
  const envFor = (namespace: string): Record<string, string> => ({
    PATH: `${venvBin}:/usr/bin:/bin`,
    HOME: home,
    TEMPORAL_ADDRESS: testStack.temporalAddress,
    TEMPORAL_NAMESPACE: namespace,
  });

  it('creates the namespace and the search attributes, and a second run changes nothing', async () => {
    const namespace = uniqueName('compose-ns');
    const env = envFor(namespace);
    const first = await runScript(setupScript(), env);
    expect({ code: first.code, output: first.output }).toEqual({ code: 0, output: expect.stringContaining(`namespace ${namespace}: created`) });
    for (const key of releaseSearchAttributes) expect(first.output).toContain(`search attribute ${key.name}: ok`);

    const listed = await cli(['operator', 'search-attribute', 'list', '--namespace', namespace, '--output', 'json'], env);
    expect(listed.code).toBe(0);
    for (const key of releaseSearchAttributes) expect(listed.output).toContain(key.name);

    const second = await runScript(setupScript(), env);
    expect({ code: second.code, output: second.output }).toEqual({ code: 0, output: expect.stringContaining(`namespace ${namespace}: exists`) });
    // Whether the server answers "already exists" or accepts the same registration again is the server's choice.
    for (const key of releaseSearchAttributes) expect(second.output).toMatch(new RegExp(`search attribute ${key.name}: (ok|already registered)`));
  }, 180_000);

  it('fails when an attribute already exists with another type', async () => {
    const namespace = uniqueName('compose-ns');
    const env = envFor(namespace);
    expect((await cli(['operator', 'namespace', 'create', '--namespace', namespace], env)).code).toBe(0);
    const wrong = await cli(['operator', 'search-attribute', 'create', '--namespace', namespace, '--name', 'ReleasePhase', '--type', 'Int'], env);
    expect(wrong.code).toBe(0);
    const run = await runScript(setupScript(), env);
    expect(run.code).toBe(1);
    expect(run.output).toMatch(/different type/);
  }, 180_000);
});
