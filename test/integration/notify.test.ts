import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client, Connection } from '@temporalio/client';
import { actions, startRelease } from '../../client/release-client';
import { statusQuery } from '../../common/messages';
import { testAws, testClient } from '../support/env';
import { seedService, startTestWorker, testSpec, waitForStatus } from '../support/release-fixture';

const aws = testAws();
let client: Client;
let connection: Connection;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
let server: http.Server;
const received: { url: string; body: Record<string, unknown> }[] = [];
const TOKEN = 'tok-3f9a1c7e';

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push({ url: req.url ?? '', body: JSON.parse(body) as Record<string, unknown> });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  ({ client, connection } = await testClient());
  worker = await startTestWorker(aws, { ops: `http://127.0.0.1:${port}/hooks/ops?token=${TOKEN}` });
});
afterAll(async () => {
  await worker?.stop();
  await connection?.close();
  await new Promise((r) => server.close(r));
  aws.destroy();
});

describe('webhook notifications', () => {
  it('tells the webhook that an approval is needed and that the release was aborted, keeping the URL out of history', async () => {
    const { service, seeded } = await seedService(aws, 'ntf');
    const spec = testSpec(seeded, service, {
      steps: [{ setWeight: 10 }, { approval: { approvers: ['alice'], timeout: '10m' } }, { setWeight: 100 }],
      notifications: { webhook: 'ops' },
    });
    const handle = await startRelease(client, spec, { taskQueue: worker.taskQueue });
    await waitForStatus(handle, () => received.some((r) => r.body.service === service && r.body.event === 'approval-needed'));
    await actions.abort(client, handle.workflowId, { by: 'bob', reason: 'pager went off' });
    expect((await handle.result()).outcome).toBe('aborted');

    const mine = received.filter((r) => r.body.service === service);
    expect(mine.map((r) => r.body.event)).toEqual(['approval-needed', 'aborted']);
    expect(mine[0]?.url).toBe(`/hooks/ops?token=${TOKEN}`);
    expect(mine[0]?.body.message).toMatch(/^step 1 waits for alice until /);
    expect(mine[1]?.body.text).toMatch(new RegExp(`^\\[canary\\] ${service} v2: aborted: pager went off \\(by bob\\); traffic is back`));
    // Payloads are base64 in history: decode them all to search the text a person could read in the UI.
    const raw = JSON.stringify((await handle.fetchHistory()).events);
    const history = raw + [...raw.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)].map((m) => Buffer.from(m[1] ?? '', 'base64').toString('utf8')).join('\n');
    expect(history).toContain('"event":"approval-needed"');
    expect(history).not.toContain(TOKEN);
  });

  it('records a notification that cannot be sent and still completes the release', async () => {
    const { service, seeded } = await seedService(aws, 'ntf2');
    const spec = testSpec(seeded, service, { notifications: { webhook: 'pager', events: ['promoted'] } });
    const handle = await startRelease(client, spec, { taskQueue: worker.taskQueue });
    expect((await handle.result()).outcome).toBe('promoted');
    const status = await handle.query(statusQuery);
    expect(status.timeline.find((t) => t.action === 'notification failed')).toMatchObject({
      accepted: false,
      detail: expect.stringMatching(/promoted via pager: .*set CANARY_WEBHOOK_PAGER/),
    });
  });
});
