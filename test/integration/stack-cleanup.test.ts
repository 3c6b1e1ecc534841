import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { portOpen } from '../../dev/stack';

const repo = path.resolve(__dirname, '../..');

describe('the local stack', () => {
  it('leaves no server running when the process that started it is killed with SIGKILL', async () => {
    const script = `require('./dev/stack').startLocalStack({ label: 'orphan' }).then((s) => console.log('READY ' + JSON.stringify({ temporal: Number(s.temporal.address.split(':')[1]), moto: s.moto.port })))`;
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const ports = await new Promise<{ temporal: number; moto: number }>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /READY (\{.*\})/.exec(out);
        if (m?.[1]) resolve(JSON.parse(m[1]) as { temporal: number; moto: number });
      });
      child.once('exit', (code) => reject(new Error(`stack process exited early (${code}): ${out}`)));
    });
    expect(await portOpen(ports.temporal)).toBe(true);
    expect(await portOpen(ports.moto)).toBe(true);

    child.kill('SIGKILL');
    const deadline = Date.now() + 20_000;
    let open = { temporal: true, moto: true };
    while (Date.now() < deadline && (open.temporal || open.moto)) {
      await new Promise((r) => setTimeout(r, 250));
      open = { temporal: await portOpen(ports.temporal), moto: await portOpen(ports.moto) };
    }
    expect(open).toEqual({ temporal: false, moto: false });
  });
});
