/** Webhook notifications of a release: sent when the spec asks for the event; a failure is recorded, never thrown. */
import type { NotifyEvent } from '../../activities/notify';
import { causeMessage, notifier } from './activities';
import type { ReleaseState } from './state';

export async function alert(state: ReleaseState, event: NotifyEvent, message: string): Promise<void> {
  const n = state.spec.notifications;
  if (!n || !n.events.includes(event)) return;
  try {
    await notifier.notify({
      webhook: n.webhook,
      format: n.format,
      event,
      service: state.spec.service,
      version: state.spec.version,
      releaseId: state.releaseId,
      phase: state.data.phase,
      message,
    });
  } catch (err) {
    state.record('canary', 'notification failed', `${event} via ${n.webhook}: ${causeMessage(err)}`, false);
  }
}
