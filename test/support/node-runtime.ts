/**
 * A Node.js other than the one running the tests, from the npm registry's `node` package (which installs the
 * official binary for this platform): the Dockerfile's `node:<major>` base and the package's `engines` are a
 * supported LTS while this machine's own Node may be older. Installed once into .canary/node-<major>/ (git-ignored)
 * and reused.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { run } from './package';

const repoRoot = path.resolve(__dirname, '..', '..');

/** A Node installation: its binary, the directory to put first on PATH (npm then runs under it too), its version. */
export interface NodeRuntime {
  node: string;
  binDir: string;
  version: string;
}

/**
 * `node@<major>` from the registry (the npm cache first), unless this process already runs that major. The PATH a
 * child should get is `${binDir}:${process.env.PATH}`.
 */
export async function nodeRuntime(major: number): Promise<NodeRuntime> {
  if (Number(process.versions.node.split('.')[0]) === major) {
    return { node: process.execPath, binDir: path.dirname(process.execPath), version: process.versions.node };
  }
  const dir = path.join(repoRoot, '.canary', `node-${major}`);
  const binDir = path.join(dir, 'node_modules', '.bin');
  const node = path.join(binDir, 'node');
  if (!fs.existsSync(node)) {
    // Install beside the final place and rename, so two test files installing at once never see half a tree.
    const tmp = `${dir}.${process.pid}.tmp`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    fs.writeFileSync(path.join(tmp, 'package.json'), '{ "private": true }\n');
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', `node@${major}`], tmp, process.env, 600_000);
    try {
      fs.renameSync(tmp, dir);
    } catch {
      fs.rmSync(tmp, { recursive: true, force: true }); // another process won the race
    }
  }
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '');
  if (Number(version.split('.')[0]) !== major) throw new Error(`${node} is Node ${version}, not ${major}`);
  return { node, binDir, version };
}
