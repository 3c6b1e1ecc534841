/**
 * What the Temporal namespace holds for canary: whether it exists, which of the release search attributes
 * (common/search-attributes.ts) are registered, and how to register them: the OperatorService on a self-hosted
 * cluster, `tcld` on Temporal Cloud (whose API keys cannot add them). `canary start` and `canary doctor` use it.
 */
import { isGrpcServiceError, ServiceError, type Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { releaseSearchAttributes } from '../common/search-attributes';

const GRPC_INVALID_ARGUMENT = 3;
const GRPC_NOT_FOUND = 5;

/** The names and types of the search attributes a release keeps, as `tcld` and the OperatorService take them. */
export const RELEASE_ATTRIBUTES = releaseSearchAttributes.map((k) => ({
  name: k.name,
  tcldType: k.type === 'INT' ? 'Int' : 'Keyword',
  indexed: k.type === 'INT' ? temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT : temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
}));

/** A Temporal Cloud endpoint: the namespace endpoint of mTLS or the regional one of API keys. */
export function isTemporalCloud(address: string): boolean {
  const host = address.replace(/:\d+$/, '');
  return /\.tmprl\.cloud$/.test(host) || /\.api\.temporal\.io$/.test(host);
}

/** The `tcld` command that registers the release search attributes on a Temporal Cloud namespace. */
export function tcldCommand(namespace: string): string {
  return `tcld namespace search-attributes add --namespace ${namespace} ${RELEASE_ATTRIBUTES.map((a) => `--search-attribute "${a.name}=${a.tcldType}"`).join(' ')}`;
}

/** Whether a start (or a visibility query) failed because the namespace does not know one of our search attributes. */
export function isUnregisteredSearchAttribute(err: unknown): boolean {
  const grpc = err instanceof ServiceError ? err.cause : err;
  if (!isGrpcServiceError(grpc) || grpc.code !== GRPC_INVALID_ARGUMENT) return false;
  const text = `${grpc.details ?? ''} ${grpc.message}`;
  // "has no mapping defined for search attribute X" (SQL visibility), "search attribute X is not defined" (others).
  return RELEASE_ATTRIBUTES.some((a) => text.includes(a.name)) && /search attribute/i.test(text);
}

/** The one-line warning of a start on a namespace without the search attributes. */
export function unregisteredWarning(namespace: string): string {
  return (
    `warning: namespace ${namespace} has no ${RELEASE_ATTRIBUTES.map((a) => a.name).join(', ')} search attributes: ` +
    'started without them (canary list and status show less); canary doctor --fix registers them'
  );
}

/** Whether the namespace exists: true, false (NOT_FOUND), or the error that kept us from knowing. */
export async function namespaceExists(connection: Connection, namespace: string): Promise<boolean> {
  try {
    await connection.workflowService.describeNamespace({ namespace });
    return true;
  } catch (err) {
    if (isGrpcServiceError(err) && err.code === GRPC_NOT_FOUND) return false;
    throw err;
  }
}

/** Which release search attributes the namespace lacks (or has with another type, named `X (type T, needs U)`). */
export async function missingSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const listed = await connection.operatorService.listSearchAttributes({ namespace });
  const custom = listed.customAttributes ?? {};
  return RELEASE_ATTRIBUTES.flatMap((a) => {
    const type = custom[a.name];
    if (type === undefined) return [a.name];
    if (type !== a.indexed) {
      const names = temporal.api.enums.v1.IndexedValueType;
      return [`${a.name} (type ${names[type]}, needs ${names[a.indexed]})`];
    }
    return [];
  });
}

/** Registers the missing release search attributes through the OperatorService (self-hosted clusters). */
export async function registerSearchAttributes(connection: Connection, namespace: string, names: readonly string[]): Promise<void> {
  const searchAttributes: Record<string, temporal.api.enums.v1.IndexedValueType> = {};
  for (const a of RELEASE_ATTRIBUTES) if (names.includes(a.name)) searchAttributes[a.name] = a.indexed;
  await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
}
