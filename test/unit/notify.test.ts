import { notifyLinksFromEnv, webhookPayload, type Notification } from '../../activities/notify';
import { ReleaseSpec } from '../../common/spec';

const base: Notification = {
  webhook: 'ops',
  event: 'rolled-back',
  service: 'checkout',
  version: 'v2.3.1',
  releaseId: 'release-checkout',
  phase: 'RolledBack',
  message: 'analysis errors failed at step 2: 5xx-rate = 0.15, needs <= 0.02',
};
const links = notifyLinksFromEnv({
  CANARY_UI_URL: 'https://temporal.example.com/',
  TEMPORAL_NAMESPACE: 'prod',
  CANARY_REPORT_URL: 'https://reports.example.com/{releaseId}.html',
});
const ui = 'https://temporal.example.com/namespaces/prod/workflows/release-checkout';
const report = 'https://reports.example.com/release-checkout.html';

describe('webhook payloads', () => {
  it('slack: a header, the phase and release as fields, the reason, and buttons to the Temporal UI and the report', () => {
    expect(webhookPayload({ ...base, format: 'slack' }, links)).toEqual({
      text: `[canary] checkout v2.3.1: rolled-back: ${base.message}`,
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'checkout v2.3.1: rolled back' } },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: '*Phase*\nRolledBack' },
            { type: 'mrkdwn', text: '*Release*\nrelease-checkout' },
          ],
        },
        { type: 'section', text: { type: 'mrkdwn', text: `*Reason*\n${base.message}` } },
        {
          type: 'actions',
          elements: [
            { type: 'button', text: { type: 'plain_text', text: 'Temporal UI' }, url: ui },
            { type: 'button', text: { type: 'plain_text', text: 'Release report' }, url: report },
          ],
        },
      ],
    });
  });

  it('teams: one Adaptive Card attachment with the phase, the reason and open-URL actions', () => {
    const p = webhookPayload({ ...base, format: 'teams' }, links) as { type: string; attachments: { contentType: string; content: Record<string, unknown> }[] };
    expect(p.type).toBe('message');
    expect(p.attachments).toHaveLength(1);
    expect(p.attachments[0]?.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(p.attachments[0]?.content).toMatchObject({
      type: 'AdaptiveCard',
      version: '1.4',
      body: [
        { type: 'TextBlock', text: 'checkout v2.3.1: rolled back' },
        {
          type: 'FactSet',
          facts: [
            { title: 'Phase', value: 'RolledBack' },
            { title: 'Release', value: 'release-checkout' },
          ],
        },
        { type: 'TextBlock', text: base.message },
      ],
      actions: [
        { type: 'Action.OpenUrl', title: 'Temporal UI', url: ui },
        { type: 'Action.OpenUrl', title: 'Release report', url: report },
      ],
    });
  });

  it('json (the default): canary fields, the reason, a text line and the links', () => {
    expect(webhookPayload(base, links)).toEqual({
      ...base,
      format: 'json',
      reason: base.message,
      text: `[canary] checkout v2.3.1: rolled-back: ${base.message}`,
      links: { temporalUi: ui, report },
    });
  });

  it('leaves out links the worker does not know', () => {
    expect((webhookPayload(base, {}) as { links: unknown }).links).toEqual({ temporalUi: undefined, report: undefined });
    const slack = webhookPayload({ ...base, format: 'slack' }, {}) as { blocks: { type: string }[] };
    expect(slack.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section']);
    const teams = webhookPayload({ ...base, format: 'teams' }, {}) as { attachments: { content: { actions: unknown[] } }[] };
    expect(teams.attachments[0]?.content.actions).toEqual([]);
  });
});

describe('notifications.format in the spec', () => {
  const spec = (format?: unknown) => ({
    service: 'checkout',
    version: 'v2',
    region: 'us-east-1',
    traffic: { listenerArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/a/1/2' },
    environment: { canaryTargets: [{ id: '10.0.0.1', port: 80 }] },
    steps: [{ setWeight: 100 }],
    notifications: { webhook: 'ops', ...(format === undefined ? {} : { format }) },
  });
  it('defaults to json and takes slack and teams', () => {
    expect(ReleaseSpec.parse(spec()).notifications?.format).toBe('json');
    expect(ReleaseSpec.parse(spec('slack')).notifications?.format).toBe('slack');
    expect(ReleaseSpec.parse(spec('teams')).notifications?.format).toBe('teams');
  });
  it('refuses another format, naming the field', () => {
    const r = ReleaseSpec.safeParse(spec('discord'));
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path.join('.')).toBe('notifications.format');
  });
});
