/** A release's whole history as text, for tests that look for a secret that must not be in it. */
import type { Client } from '@temporalio/client';

/**
 * The whole history as text: its JSON (payloads base64) followed by every payload decoded, so that a secret inside
 * an activity input or result, the start input or a failure shows up either way.
 */
export async function historyText(client: Client, workflowId: string): Promise<string> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const decoded: string[] = [];
  const walk = (value: unknown): void => {
    if (value instanceof Uint8Array) decoded.push(Buffer.from(value).toString('utf8'));
    else if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk(history);
  return [JSON.stringify(history), ...decoded].join('\n');
}
