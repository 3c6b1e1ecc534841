import { spawn } from 'node:child_process';
import * as path from 'node:path';

// The README's `npm run demo`, one scenario: it starts a Temporal dev server, moto and a worker of its own, so it runs
// apart from demo.test.ts's eleven releases on the shared stack. Idle it takes about 50 s.
jest.setTimeout(300_000);
describe('npm run demo', () => {
  it('runs as the README command does, on its own embedded stack, and exits 0', async () => {
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join('dev', 'demo.ts'), '--scenario', 'bad-canary'], {
      cwd: path.resolve(__dirname, '../..'),
      env: { ...process.env, CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect({ code, tail: output.split('\n').slice(-12).join('\n') }).toMatchObject({ code: 0 });
    expect(output).toMatch(/\[stack\] Temporal 127\.0\.0\.1:\d+, UI http:\/\/127\.0\.0\.1:\d+, moto http:\/\/127\.0\.0\.1:\d+/);
    expect(output).toMatch(/Temporal UI: http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/release-checkout\//);
    // Rolled back by the analysis (the 15% 5xx), not by anything before the canary got traffic.
    expect(output).toMatch(/verdict {7}rolled back: .*5xx-rate/);
    expect(output).toMatch(/listener now {2}forward checkout-v1=1 \(DescribeListeners\)/);
    expect(output).toMatch(/scenario OK/);
  });
});
