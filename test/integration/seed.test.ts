/**
 * The harness's ALB seed against moto's thread-unsafe ELBv2 backend: a create that moto answers with a 500 (two
 * creates at once: `OrderedDict mutated during iteration`) is tried again instead of failing the test that seeds (the
 * 500 is injected by the fault proxy, once, on CreateTargetGroup); and the local stack's moto server, which takes
 * ELBv2 calls one at a time, answers no such 500.
 */
import { CreateTargetGroupCommand, DeleteTargetGroupCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
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

it("answers concurrent target-group creates and deletes without moto's 500 (dev/moto-server.py takes ELBv2 calls one at a time)", async () => {
  // Straight to moto, eight callers at once: moto's own threaded server answered 5 to 6 of these 320 calls with a 500.
  const aws = motoClients(testStack.motoEndpoint);
  const seeded = await seedAlb(aws, { name: uniqueName('race').slice(0, 20).replace(/-+$/, '') });
  // A target group's name starts with a letter or digit: the last 12 characters of uniqueName('r') began with its dash
  // whenever the random part came out a character short.
  const prefix = `r${uniqueName('').replace(/-/g, '')}`.slice(0, 12);
  const failures: string[] = [];
  try {
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; i < 40; i++) {
          try {
            const out = await aws.elbv2.send(
              new CreateTargetGroupCommand({ Name: `${prefix}-${w}-${i}`, Protocol: 'HTTP', Port: 80, VpcId: seeded.vpcId, TargetType: 'ip' }),
            );
            if (i % 2) await aws.elbv2.send(new DeleteTargetGroupCommand({ TargetGroupArn: out.TargetGroups?.[0]?.TargetGroupArn }));
          } catch (err) {
            failures.push((err as Error).message.slice(0, 120));
          }
        }
      }),
    );
    expect(failures).toEqual([]);
  } finally {
    aws.destroy();
  }
});
