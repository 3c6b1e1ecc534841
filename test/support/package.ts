/**
 * The npm package as a user gets it: `npm pack` on a copy of the working tree (so the checkout gets no dist/ and no
 * tarball), then `npm install <tarball>` into an empty directory. test/integration/package.test.ts runs what it
 * installed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';

const repoRoot = path.resolve(__dirname, '..', '..');

/** What `packProject` produced. */
export interface PackedProject {
  /** The tarball's path. */
  tarball: string;
  /** Every path in the tarball, relative to its `package/` root. */
  files: string[];
  /** The package's name and version, from the packed package.json. */
  name: string;
  version: string;
}

/**
 * Copies the working tree's files (tracked and untracked, none that git ignores: no node_modules, dist/ or .canary/)
 * to `<scratch>/src`, links the checkout's node_modules there (the build needs tsc and the SDK's bundler), and runs
 * `npm pack` in the copy, which runs `prepack` (build and workflow bundle) first. The tarball lands in `scratch`.
 */
export async function packProject(scratch: string, env: NodeJS.ProcessEnv = process.env): Promise<PackedProject> {
  const src = path.join(scratch, 'src');
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: repoRoot,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  for (const rel of listed.split('\0').filter(Boolean)) {
    const from = path.join(repoRoot, rel);
    if (!fs.existsSync(from)) continue; // deleted in the working tree, not yet committed
    fs.mkdirSync(path.dirname(path.join(src, rel)), { recursive: true });
    fs.copyFileSync(from, path.join(src, rel));
    fs.chmodSync(path.join(src, rel), fs.statSync(from).mode);
  }
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(src, 'node_modules'), 'dir');
  const out = await run('npm', ['pack', '--json', '--pack-destination', scratch, '--no-audit', '--no-fund'], src, env, 600_000);
  // prepack's own output comes first on stdout; npm's JSON report is the last thing printed.
  const json = out.slice(out.lastIndexOf('\n[') + 1);
  const [report] = JSON.parse(json) as { filename: string; name: string; version: string; files: { path: string }[] }[];
  if (!report) throw new Error(`npm pack printed no report:\n${out.slice(-3000)}`);
  return { tarball: path.join(scratch, report.filename), files: report.files.map((f) => f.path).sort(), name: report.name, version: report.version };
}

/**
 * `npm install <tarball>` into `dir` (created empty, with a package.json that holds nothing else), preferring the
 * npm cache that setup filled to the registry. Returns the directory's `node_modules/.bin`.
 */
export async function installTarball(tarball: string, dir: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ name: 'canary-user', private: true }, null, 2)}\n`);
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], dir, env, 900_000);
  return path.join(dir, 'node_modules', '.bin');
}

/** Runs a command to the end; resolves with its stdout, rejects with its exit and the tail of its output. */
export function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-6000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}\n--- stdout\n${stdout.slice(-3000)}\n--- stderr\n${stderr}`));
    });
  });
}
