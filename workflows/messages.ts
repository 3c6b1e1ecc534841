/**
 * The release's messages, shared by the workflow, the client, the CLI and tests. Each takes one JSON object
 * (common/messages.ts), so the Temporal UI can send it. Signals are fire-and-forget (an invalid one is recorded
 * in the timeline as ignored); updates are validated first and rejected with a reason, leaving no trace in history.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AbortInput, ApproveInput, MessageAck, PauseInput, PromoteInput, ResumeInput } from '../common/messages';
import type { ReleaseStatus } from '../common/status';

export const approveSignal = defineSignal<[ApproveInput]>('approve');
export const abortSignal = defineSignal<[AbortInput]>('abort');
export const pauseSignal = defineSignal<[PauseInput]>('pause');
export const resumeSignal = defineSignal<[ResumeInput]>('resume');
export const promoteSignal = defineSignal<[PromoteInput]>('promote');

export const approveUpdate = defineUpdate<MessageAck, [ApproveInput]>('approve');
export const abortUpdate = defineUpdate<MessageAck, [AbortInput]>('abort');
export const pauseUpdate = defineUpdate<MessageAck, [PauseInput]>('pause');
export const resumeUpdate = defineUpdate<MessageAck, [ResumeInput]>('resume');
export const promoteUpdate = defineUpdate<MessageAck, [PromoteInput]>('promote');

export const statusQuery = defineQuery<ReleaseStatus>('status');

/** Workflow type name and id convention: one live release per service. */
export const RELEASE_WORKFLOW = 'release';
export function releaseWorkflowId(service: string): string {
  return `release-${service}`;
}
