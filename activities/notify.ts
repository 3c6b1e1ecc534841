/**
 * Webhook notifications (approval needed, promoted, rolled back, rollback failed). The spec names a webhook;
 * its URL lives only in the worker's environment (CANARY_WEBHOOK_<NAME>), so tokens in it never enter history.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { NotifyFormat } from '../common/spec';

export const NOTIFY_EVENTS = ['approval-needed', 'promoted', 'rolled-back', 'aborted', 'rollback-failed', 'drift'] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

export interface Notification {
  webhook: string;
  event: NotifyEvent;
  service: string;
  version: string;
  releaseId: string;
  phase: string;
  /** Why: what happened, in words (the rollback's reason, who the gate waits for, ...). */
  message: string;
  /** The spec's `notifications.format`; canary's own JSON when absent. */
  format?: NotifyFormat;
}

/** Where a notification's links point; from the worker's environment ({@link notifyLinksFromEnv}). */
export interface NotifyLinks {
  /** Base URL of the Temporal UI (CANARY_UI_URL), without a trailing slash. */
  uiUrl?: string;
  namespace?: string;
  /** The report's URL with `{releaseId}` in it (CANARY_REPORT_URL), e.g. `https://reports.example.com/{releaseId}.html`. */
  reportUrl?: string;
}

/** CANARY_UI_URL, TEMPORAL_NAMESPACE and CANARY_REPORT_URL. */
export function notifyLinksFromEnv(env: NodeJS.ProcessEnv = process.env): NotifyLinks {
  return {
    uiUrl: env.CANARY_UI_URL?.trim().replace(/\/+$/, '') || undefined,
    namespace: env.TEMPORAL_NAMESPACE?.trim() || undefined,
    reportUrl: env.CANARY_REPORT_URL?.trim() || undefined,
  };
}

/** The release's page in the Temporal UI and its report, where known. */
export function notificationLinks(n: Pick<Notification, 'releaseId'>, links: NotifyLinks): { temporalUi?: string; report?: string } {
  const ns = encodeURIComponent(links.namespace ?? 'default');
  return {
    temporalUi: links.uiUrl ? `${links.uiUrl}/namespaces/${ns}/workflows/${encodeURIComponent(n.releaseId)}` : undefined,
    report: links.reportUrl ? links.reportUrl.replace(/\{releaseId\}/g, encodeURIComponent(n.releaseId)) : undefined,
  };
}

const TITLES: Record<NotifyEvent, string> = {
  'approval-needed': 'waits for approval',
  promoted: 'promoted',
  'rolled-back': 'rolled back',
  aborted: 'aborted',
  'rollback-failed': 'ROLLBACK FAILED',
  drift: 'stopped at a drift',
};

/**
 * The body posted for a notification, in its format: `slack` (a message with Block Kit blocks and a `text`
 * fallback), `teams` (a message carrying an Adaptive Card, as Teams workflows' incoming webhooks take it) or
 * `json` (canary's fields, a `text` line and `links`). Each carries the phase, the reason and the links.
 */
export function webhookPayload(n: Notification, links: NotifyLinks = {}): Record<string, unknown> {
  const l = notificationLinks(n, links);
  const title = `${n.service} ${n.version}: ${TITLES[n.event]}`;
  const text = `[canary] ${n.service} ${n.version}: ${n.event}: ${n.message}`;
  const linkList = [...(l.temporalUi ? [{ title: 'Temporal UI', url: l.temporalUi }] : []), ...(l.report ? [{ title: 'Release report', url: l.report }] : [])];
  switch (n.format ?? 'json') {
    case 'slack':
      return {
        text,
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: title } },
          {
            type: 'section',
            fields: [
              { type: 'mrkdwn', text: `*Phase*\n${n.phase}` },
              { type: 'mrkdwn', text: `*Release*\n${n.releaseId}` },
            ],
          },
          { type: 'section', text: { type: 'mrkdwn', text: `*Reason*\n${n.message}` } },
          ...(linkList.length
            ? [{ type: 'actions', elements: linkList.map((k) => ({ type: 'button', text: { type: 'plain_text', text: k.title }, url: k.url })) }]
            : []),
        ],
      };
    case 'teams':
      return {
        type: 'message',
        attachments: [
          {
            contentType: 'application/vnd.microsoft.card.adaptive',
            contentUrl: null,
            content: {
              $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
              type: 'AdaptiveCard',
              version: '1.4',
              body: [
                { type: 'TextBlock', text: title, weight: 'Bolder', size: 'Medium', wrap: true },
                {
                  type: 'FactSet',
                  facts: [
                    { title: 'Phase', value: n.phase },
                    { title: 'Release', value: n.releaseId },
                  ],
                },
                { type: 'TextBlock', text: n.message, wrap: true },
              ],
              actions: linkList.map((k) => ({ type: 'Action.OpenUrl', title: k.title, url: k.url })),
            },
          },
        ],
      };
    case 'json':
      return { ...n, format: 'json', reason: n.message, text, links: l };
  }
}

/** `CANARY_WEBHOOK_OPS=https://...` → `{ ops: 'https://...' }`. */
export function webhooksFromEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    const m = /^CANARY_WEBHOOK_([A-Z0-9_]+)$/.exec(key);
    if (m?.[1] && value) out[m[1].toLowerCase()] = value;
  }
  return out;
}

export function createNotifyActivities(webhooks: Record<string, string>, post: typeof fetch = fetch, links: NotifyLinks = {}) {
  return {
    async notify(n: Notification): Promise<{ status: number }> {
      const url = webhooks[n.webhook.toLowerCase()];
      if (!url) {
        throw ApplicationFailure.create({
          type: 'WebhookNotConfigured',
          nonRetryable: true,
          message: `webhook "${n.webhook}" has no URL on this worker: set CANARY_WEBHOOK_${n.webhook.toUpperCase()}`,
        });
      }
      const res = await post(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(webhookPayload(n, links)),
        signal: AbortSignal.timeout(10_000),
      });
      if (!res.ok) {
        // 4xx other than throttling will not get better by retrying.
        throw ApplicationFailure.create({
          type: 'WebhookFailed',
          nonRetryable: res.status >= 400 && res.status < 500 && res.status !== 429,
          message: `webhook ${n.webhook} answered HTTP ${res.status}`,
        });
      }
      return { status: res.status };
    },
  };
}
