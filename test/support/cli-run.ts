/**
 * Running the `canary` CLI from a test: what a run printed and the exit code it chose, the CLI's `main` run
 * in-process (test/unit/cli-validate.test.ts, test/integration/doctor.test.ts), and the checks the tests make of a
 * run, shared with test/integration/cli.test.ts, which runs it as a child process.
 */
import { main } from '../../client/cli';

/** What a run printed and its exit code (`null`: a child process killed by a signal). */
export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `canary ...args` in-process (the CLI's `main`), with what it writes to stdout and stderr captured. */
export async function runCanaryInProcess(args: string[]): Promise<Ran & { code: number }> {
  let stdout = '';
  let stderr = '';
  const outSpy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const errSpy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  try {
    const code = await main(['node', 'canary', ...args]);
    return { code, stdout, stderr };
  } finally {
    outSpy.mockRestore();
    errSpy.mockRestore();
  }
}

/** Fails with the run's output when its exit code is not the expected one. */
export function expectExit(ran: Ran, code: number): void {
  if (ran.code !== code) throw new Error(`expected exit ${code}, got ${ran.code}\nstdout: ${ran.stdout}\nstderr: ${ran.stderr}`);
}
