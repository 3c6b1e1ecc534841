import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Search attributes a release keeps up to date; the local stack registers them on the dev server. */
export const ReleaseService = defineSearchAttributeKey('ReleaseService', SearchAttributeType.KEYWORD);
export const ReleaseVersion = defineSearchAttributeKey('ReleaseVersion', SearchAttributeType.KEYWORD);
export const ReleasePhase = defineSearchAttributeKey('ReleasePhase', SearchAttributeType.KEYWORD);
export const CanaryWeight = defineSearchAttributeKey('CanaryWeight', SearchAttributeType.INT);

export const releaseSearchAttributes = [ReleaseService, ReleaseVersion, ReleasePhase, CanaryWeight];
