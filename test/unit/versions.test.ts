/**
 * The versioned contract of common/versions.ts: what a worker's identity advertises, and when a start is refused.
 */
import { parseReleaseSpec } from '../../common/spec';
import { olderBuild, parseWorkerIdentity, SPEC_API_VERSION, workerIdentity, workerVerdict } from '../../common/versions';

const advertised = (build: string, ...apiVersions: string[]) => {
  const identity = workerIdentity({ build, apiVersions }, '4242@worker-1');
  return { identity, advert: parseWorkerIdentity(identity) };
};

describe('spec and worker versions', () => {
  it('reads back what a worker identity advertises, and nothing from an identity that does not advertise', () => {
    const identity = workerIdentity({ build: '0.1.0', apiVersions: ['canary/v1', 'canary/v2'] }, '4242@worker-1');
    expect(identity).toBe('canary-worker/0.1.0 spec=canary/v1,canary/v2 4242@worker-1');
    expect(parseWorkerIdentity(identity)).toEqual({ build: '0.1.0', apiVersions: ['canary/v1', 'canary/v2'] });
    expect(parseWorkerIdentity('4242@worker-1')).toBeUndefined();
    expect(parseWorkerIdentity('temporal-cli:alice@desk')).toBeUndefined();
  });

  it('refuses only when every poller advertises and none runs the version; no poller or a silent one leaves it open', () => {
    expect(workerVerdict('canary/v2', [advertised('0.1.0', 'canary/v1')])).toEqual({
      verdict: 'refused',
      message: 'canary-worker 0.1.0 (canary/v1)',
    });
    expect(workerVerdict('canary/v1', [advertised('0.1.0', 'canary/v1'), advertised('0.2.0', 'canary/v2')]).verdict).toBe('ok');
    expect(workerVerdict('canary/v2', [])).toEqual({ verdict: 'unknown', message: 'no worker polls the task queue' });
    expect(workerVerdict('canary/v2', [advertised('0.1.0', 'canary/v1'), { identity: '77@old-worker' }])).toEqual({
      verdict: 'unknown',
      message: 'canary-worker 0.1.0 (canary/v1); 77@old-worker (does not advertise)',
    });
  });

  it('orders builds as x.y.z numbers and never calls an unknown build older', () => {
    expect(olderBuild('0.1.0', '0.2.0')).toBe(true);
    expect(olderBuild('0.10.0', '0.9.3')).toBe(false);
    expect(olderBuild('1.0.0', '1.0.0')).toBe(false);
    expect(olderBuild('unknown', '0.2.0')).toBe(false);
  });

  it('parses a spec without apiVersion as the current one and refuses one it does not know', () => {
    const spec = {
      service: 'checkout',
      version: 'v2',
      region: 'us-east-1',
      traffic: { listenerArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/checkout/50dc6c495c0c9188/f2f7dc8efc522ab2' },
      environment: { canaryTargets: [{ id: '10.0.1.17', port: 8080 }] },
      steps: [{ setWeight: 100 }],
    };
    expect(parseReleaseSpec(spec).apiVersion).toBe(SPEC_API_VERSION);
    expect(() => parseReleaseSpec({ ...spec, apiVersion: 'canary/v9' })).toThrow('apiVersion: unknown apiVersion "canary/v9": this canary reads canary/v1');
  });
});
