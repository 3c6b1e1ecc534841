/**
 * Workflow histories as JSON files (the form `temporal workflow show -o json` prints): the SDK's converters, and the
 * release's workflow id read back from a history.
 *
 * The SDK's converters need one protobufjs 8 shared by @temporalio/common, /proto and /worker; package.json pins
 * protobufjs at the root so that npm does not keep a copy per package (which made them throw "type must be a Type").
 */
import { defaultPayloadConverter } from '@temporalio/common';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import type * as proto from '@temporalio/proto';

export type History = proto.temporal.api.history.v1.IHistory;
export { historyFromJSON, historyToJSON };

/** `release-<service>`: a release's workflow id, from the spec in its start event (histories do not carry the id). */
export function releaseWorkflowIdOf(history: History): string {
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) throw new Error('the history does not start with a WorkflowExecutionStarted event with an input');
  const input = defaultPayloadConverter.fromPayload<{ spec?: { service?: string } }>(payload);
  if (!input.spec?.service) throw new Error('the start input has no spec.service: not a release history');
  return `release-${input.spec.service}`;
}
