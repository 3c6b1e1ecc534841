/** The workflow bundle used by integration tests: the product's workflows plus a smoke-test workflow. */
import { proxyActivities } from '@temporalio/workflow';

export * from '../../workflows';

const { echo } = proxyActivities<{ echo(text: string): Promise<string> }>({ startToCloseTimeout: '10s' });

/** Proves that a worker runs workflow and activity code against the dev server. */
export async function smokeWorkflow(text: string): Promise<string> {
  return `workflow saw ${await echo(text)}`;
}

/** Fails its first workflow task, and every retry of it (an Error that is no ApplicationFailure), as a nondeterministic replay does. */
export async function failingTaskWorkflow(): Promise<string> {
  throw new Error('this workflow task fails on purpose');
}
