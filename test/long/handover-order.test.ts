/**
 * The first entry of a run a release continued into is its handover ('continued as new'), even when a message came
 * with the run's start: the server delivers a signal sent while a run is continuing as new in the new run's first
 * workflow task, and installing the handlers runs it at once. (Found by the canary-history test in
 * workflow-long-release.test.ts, which failed when one of its messages landed on a handover.) Its own file: its own
 * time-skipping server, so the runs it starts and terminates do not share a server with the long tests.
 */
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import { approveSignal, RELEASE_WORKFLOW, type ApproveInput, type ReleaseInput, type ReleaseWorkflow } from '../../common/messages';
import { signalHandled, timeSkippingRelease, waitForStatus } from '../support/time-skipping';

const releases = timeSkippingRelease();

it("records the handover first in a new run, before a message that arrived with the run's start", async () => {
  const { handle } = await releases.start({ steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 100 }] }, undefined, {}, { historyEventLimit: 60 });
  const { env } = releases;
  await waitForStatus(handle, (s) => s.gate?.kind === 'pause', 'indefinite pause');
  const live = env.client.workflow.getHandle(handle.workflowId);
  // Paced (a run does not continue as new while messages keep arriving), each waited for on describe: a status query
  // sent while the run continues as new may never be answered on the time-skipping server (signalHandled).
  for (let k = 0; (await live.describe()).runId === handle.firstExecutionRunId; k++) {
    await signalHandled(live, approveSignal, { by: `mallory-${k}`, step: 99 });
  }
  // The second run's input (what the first run handed over), started again with a message in its first task: the
  // server delivers a signal that arrives while a run is continuing as new in the new run's first task this way.
  const started = (await live.fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes;
  const [resumed] = await decodeArrayFromPayloads(env.client.options.loadedDataConverter, started?.input?.payloads);
  expect((resumed as ReleaseInput).resume).toBeDefined();
  const again = await env.client.workflow.signalWithStart<ReleaseWorkflow, [ApproveInput]>(RELEASE_WORKFLOW, {
    taskQueue: releases.taskQueue,
    workflowId: `${handle.workflowId}-again`,
    args: [resumed as ReleaseInput],
    signal: approveSignal,
    signalArgs: [{ by: 'early', step: 99 }],
  });
  try {
    const status = await waitForStatus(again, (st) => st.timeline.some((e) => e.by === 'early'), 'the early message recorded');
    expect(status.timeline.slice(-2).map((e) => [e.by, e.action])).toEqual([
      ['canary', 'continued as new'],
      ['early', 'approve'],
    ]);
  } finally {
    await again.terminate('test done');
    await live.terminate('test done');
  }
});
