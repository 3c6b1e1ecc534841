import * as fs from 'node:fs';
import * as path from 'node:path';
import { actionsOf, checkActions, loadIamPolicy, workerCaller } from '../../dev/iam-check';

/**
 * Stops the stack; before that, checks every AWS action the worker sent during the whole run (counted by the stack's
 * proxy) against docs/iam-policy.json, and writes them to aws-actions.json in the run's log directory.
 */
export default async function globalTeardown(): Promise<void> {
  const stack = globalThis.__canaryStack;
  let problem: string | undefined;
  if (stack) {
    const stats = stack.proxy.stats();
    const sent = actionsOf(stats, workerCaller);
    const check = checkActions(loadIamPolicy(), sent);
    fs.writeFileSync(path.join(stack.logDir, 'aws-actions.json'), `${JSON.stringify({ byCaller: stats.byCaller, iam: check }, null, 2)}\n`);
    process.stdout.write(
      `\n[iam] ${sent.length} distinct AWS actions sent by the worker in this run; ${check.denied.length} not allowed by docs/iam-policy.json\n`,
    );
    if (check.denied.length > 0) {
      problem = `docs/iam-policy.json does not allow what the worker sent: ${check.denied.map((d) => `${d.action} (${d.neededFor})`).join(', ')}; add them to the policy`;
    }
  }
  await stack?.stop();
  globalThis.__canaryStack = undefined;
  if (problem) throw new Error(problem);
}
