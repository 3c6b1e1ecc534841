/**
 * The harness's ALB seed and listener fill against moto's thread-unsafe ELBv2 backend: a create that moto answers
 * with a 500 (two creates at once: `OrderedDict mutated during iteration`) is tried again instead of failing the test
 * that seeds. The 500 is injected by the fault proxy, once, on CreateTargetGroup.
 */
import { motoClients } from '../../activities/aws-clients';
import { startFaultProxy } from '../../dev/fault-proxy';
import { seedAlb } from '../../dev/seed';
import { testStack, uniqueName } from '../support/env';
import { fillToGroupLimit } from '../support/listener';

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

it('fills a listener to the group limit through one 500 from moto on CreateTargetGroup', async () => {
  const aws = motoClients(testStack.motoEndpoint);
  const seeded = await seedAlb(aws, { name: uniqueName('fill500').slice(0, 20).replace(/-+$/, '') });
  const proxy = await startFaultProxy({ target: testStack.motoEndpoint, rates: { serverError: 1, maxFaults: 1 }, match: (a) => a === 'CreateTargetGroup' });
  const faulty = motoClients(proxy.endpoint);
  try {
    const groups = await fillToGroupLimit(faulty.elbv2, seeded, uniqueName('f5'), 'f5');
    expect(new Set(groups).size).toBe(99);
    const s = proxy.stats();
    expect(s.faults.serverError).toBe(1);
    expect(s.byAction.CreateTargetGroup?.requests).toBe(100);
  } finally {
    faulty.destroy();
    aws.destroy();
    await proxy.stop();
  }
});
