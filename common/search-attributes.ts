import { defineSearchAttributeKey, SearchAttributeType, TypedSearchAttributes } from '@temporalio/common';

/** Search attributes a release keeps up to date; the local stack registers them on the dev server. */
export const ReleaseService = defineSearchAttributeKey('ReleaseService', SearchAttributeType.KEYWORD);
export const ReleaseVersion = defineSearchAttributeKey('ReleaseVersion', SearchAttributeType.KEYWORD);
export const ReleasePhase = defineSearchAttributeKey('ReleasePhase', SearchAttributeType.KEYWORD);
export const CanaryWeight = defineSearchAttributeKey('CanaryWeight', SearchAttributeType.INT);

export const releaseSearchAttributes = [ReleaseService, ReleaseVersion, ReleasePhase, CanaryWeight];

/**
 * What a release starts with (`canary start` sets them when the namespace has them registered): the workflow keeps
 * up to date only the attributes its start carried, so a namespace without them never sees an upsert it would refuse.
 */
export function initialSearchAttributes(spec: { service: string; version: string }): TypedSearchAttributes {
  return new TypedSearchAttributes([
    { key: ReleaseService, value: spec.service },
    { key: ReleaseVersion, value: spec.version },
    { key: ReleasePhase, value: 'Validating' },
    { key: CanaryWeight, value: 0 },
  ]);
}
