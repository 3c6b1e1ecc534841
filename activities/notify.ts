/**
 * Webhook notifications (approval needed, promoted, rolled back, rollback failed). The spec names a webhook;
 * its URL lives only in the worker's environment (CANARY_WEBHOOK_<NAME>), so tokens in it never enter history.
 */
import { ApplicationFailure } from '@temporalio/common';

export const NOTIFY_EVENTS = ['approval-needed', 'promoted', 'rolled-back', 'aborted', 'rollback-failed', 'drift'] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

export interface Notification {
  webhook: string;
  event: NotifyEvent;
  service: string;
  version: string;
  releaseId: string;
  phase: string;
  message: string;
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

export function createNotifyActivities(webhooks: Record<string, string>, post: typeof fetch = fetch) {
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
        body: JSON.stringify({ ...n, text: `[canary] ${n.service} ${n.version}: ${n.event}: ${n.message}` }),
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
