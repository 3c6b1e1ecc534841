/**
 * The harness's ALB seed against moto's thread-unsafe ELBv2 backend: a create that moto answers with a 500 (two
 * creates at once: `OrderedDict mutated during iteration`) is tried again instead of failing the test that seeds.
 * The 500 is injected by the fault proxy, once, on CreateTargetGroup.
 */
import { motoClients } from '../../activities/aws-clients';
import { startFaultProxy } from '../../dev/fault-proxy';
import { seedAlb } from '../../dev/seed';
import { testStack, uniqueName } from '../support/env';

it('seeds through one 500 from moto on CreateTargetGroup', async () => {
  const proxy = await startFaultProxy({ target: testStack.motoEndpoint, rates: { serverError: 1, maxFaults: 1 }, match: (a) => a === 'CreateTargetGroup' });
  const aws = motoClients(proxy.endpoint);
  try {
    const seeded = await seedAlb(aws, { name: uniqueName('seed500').slice(0, 20).replace(/-+$/, '') });
    expect(seeded.stableTargetGroupArn).toMatch(/^arn:aws:elasticloadbalancing:.*:targetgroup\//);
    const s = proxy.stats();
    expect(s.faults.serverError).toBe(1);
    expect(s.byAction.CreateTargetGroup?.requests).toBe(2);
  } finally {
    aws.destroy();
    await proxy.stop();
  }
});
