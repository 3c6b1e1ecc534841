/**
 * One Temporal connection loader for the worker and the CLI (client/temporal-config.ts): both resolve the same
 * environment and profile to the same server, and both name the setting to fix in their own words.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveConnection } from '../../client/connection';
import { loadTemporalConfig, TemporalConfigError } from '../../client/temporal-config';
import { loadWorkerConfig } from '../../worker/config';

let dir: string;
let file: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'canary-temporal-config-'));
  file = path.join(dir, 'temporal.toml');
  fs.writeFileSync(
    file,
    '[profile.default]\naddress = "temporal.internal:7233"\n\n[profile.prod]\naddress = "prod.abcde.tmprl.cloud:7233"\nnamespace = "prod.abcde"\napi_key = "k"\n',
  );
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('the shared Temporal connection loader', () => {
  it('gives the worker and the CLI the same server, namespace and credentials from one environment', () => {
    for (const env of [
      { TEMPORAL_CONFIG_FILE: file },
      { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' },
      { TEMPORAL_CONFIG_FILE: file, TEMPORAL_ADDRESS: '127.0.0.1:7233', TEMPORAL_NAMESPACE: 'releases' },
      { TEMPORAL_CONFIG_FILE: path.join(dir, 'none.toml') },
    ]) {
      const worker = loadWorkerConfig(env).temporal;
      const cli = resolveConnection({}, env);
      expect({ address: cli.address, namespace: cli.namespace, apiKey: cli.connectionOptions.apiKey }).toEqual({
        address: worker.address,
        namespace: worker.namespace,
        apiKey: worker.connection.apiKey,
      });
    }
    expect(loadTemporalConfig({ TEMPORAL_CONFIG_FILE: path.join(dir, 'none.toml') })).toMatchObject({ address: 'localhost:7233', namespace: 'default' });
  });

  it('lets overrides (the CLI flags) win and blames the flag when it is the one that is wrong', () => {
    expect(loadTemporalConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_ADDRESS: 'x:1' }, { address: 'y:2', profile: 'prod' })).toMatchObject({
      address: 'y:2',
      namespace: 'prod.abcde',
    });
    const noProfile = captured(() => loadTemporalConfig({ TEMPORAL_CONFIG_FILE: file }, { profile: 'staging' }));
    expect(noProfile.setting).toEqual({ name: '--profile', value: 'staging' });
    expect(noProfile.problem).toMatch(/Profile 'staging' not found/);
    expect(() => resolveConnection({ profile: 'staging' }, { TEMPORAL_CONFIG_FILE: file })).toThrow(
      /^cannot use the Temporal connection settings: --profile=staging: Profile 'staging' not found/,
    );
    expect(captured(() => loadTemporalConfig({ TEMPORAL_CONFIG_FILE: file }, { address: 'https://t:7233' })).setting).toEqual({
      name: '--address',
      value: 'https://t:7233',
    });
  });
});

function captured(fn: () => unknown): TemporalConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TemporalConfigError) return e;
    throw e;
  }
  throw new Error('expected a TemporalConfigError');
}
