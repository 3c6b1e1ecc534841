/**
 * Workflow histories as JSON files (the form `temporal workflow show -o json` prints), read and written the way
 * @temporalio/common's historyToJSON / historyFromJSON do, and the release's workflow id read back from one.
 *
 * Why not those two functions: in this install npm keeps separate copies of protobufjs 8 under @temporalio/common,
 * @temporalio/proto and @temporalio/worker (the root has grpc's protobufjs 7), and the SDK functions hand
 * @temporalio/proto's types to @temporalio/common's protojson, which throws "type must be a Type". Here protojson is
 * loaded from the copy @temporalio/proto itself resolves, so it works with any layout npm picks.
 */
import * as path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';

export type History = proto.temporal.api.history.v1.IHistory;

interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options: { ignoreUnknownFields: boolean }): unknown;
}

const protoDir = path.dirname(require.resolve('@temporalio/proto/package.json'));
// eslint-disable-next-line @typescript-eslint/no-require-imports
const protojson = require(require.resolve('protobufjs/ext/protojson', { paths: [protoDir] })) as ProtoJson;
const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType('temporal.api.history.v1.History');

/** A history (e.g. from `handle.fetchHistory()`) as proto3 JSON text. */
export function historyToJSON(history: History): string {
  return JSON.stringify(protojson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history)), null, 2);
}

// The CLI and the UI write enums in PascalCase (`WorkflowExecutionStarted`); proto3 JSON wants EVENT_TYPE_... names.
function constantCase(value: unknown, prefix: string): unknown {
  if (typeof value !== 'string' || value.startsWith(prefix)) return value;
  return `${prefix}_${value.replace(/[^\b][A-Z]/g, (m) => `${m[0]}_${m[1]}`).toUpperCase()}`;
}

/** Parses proto3 JSON history (an object, as JSON.parse returns it) into a History that Worker.runReplayHistories takes. */
export function historyFromJSON(json: unknown): History {
  const events = (json as { events?: unknown }).events;
  if (!Array.isArray(events)) throw new TypeError('not a history: expected an object with an array of events');
  const fixed = {
    events: events.map((e: Record<string, unknown>) => {
      const attrs = Object.keys(e).find((k) => k.endsWith('EventAttributes'));
      const a = attrs ? (e[attrs] as Record<string, unknown>) : undefined;
      const tq = a?.taskQueue as Record<string, unknown> | undefined;
      return {
        ...e,
        eventType: constantCase(e.eventType, 'EVENT_TYPE'),
        ...(attrs && a && { [attrs]: { ...a, ...(tq && { taskQueue: { ...tq, kind: constantCase(tq.kind, 'TASK_QUEUE_KIND') } }) } }),
      };
    }),
  };
  return protojson.fromJson(historyType, fixed, { ignoreUnknownFields: true }) as History;
}

/** `release-<service>`: a release's workflow id, from the spec in its start event (histories do not carry the id). */
export function releaseWorkflowIdOf(history: History): string {
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) throw new Error('the history does not start with a WorkflowExecutionStarted event with an input');
  const input = defaultPayloadConverter.fromPayload<{ spec?: { service?: string } }>(payload);
  if (!input.spec?.service) throw new Error('the start input has no spec.service: not a release history');
  return `release-${input.spec.service}`;
}
