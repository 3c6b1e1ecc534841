/** Where an update sent to a workflow stands on the server, for tests that must act once it has arrived there. */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

/**
 * Resolves once the server has admitted the update `updateId` of `workflowId` (it is registered and waits for a
 * workflow task to deliver it; it is not in history yet). An update the server does not know yet answers NotFound,
 * and is asked about again; `timeoutMs` bounds the whole wait.
 */
export async function updateAdmitted(client: Client, workflowId: string, updateId: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let wait = 10; ; wait = Math.min(wait * 2, 500)) {
    const known = await client.workflowService
      .pollWorkflowExecutionUpdate({
        namespace: client.options.namespace,
        updateRef: { workflowExecution: { workflowId }, updateId },
        identity: 'test',
        waitPolicy: { lifecycleStage: temporal.api.enums.v1.UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED },
      })
      .then(
        () => true,
        (err: { code?: number }) => {
          // 5: NOT_FOUND (not registered yet); anything else is a real problem.
          if (err.code !== 5) throw err;
          return false;
        },
      );
    if (known) return;
    if (Date.now() > deadline) throw new Error(`update ${updateId} of ${workflowId} not admitted by the server in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, wait));
  }
}
