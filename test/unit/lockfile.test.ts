/**
 * package-lock.json installs with `npm ci` everywhere: on a fresh clone, in CI and in the Docker image, on every
 * platform. npm refuses `npm ci` when the lock file lacks a package that package.json implies, including the
 * optional, platform-specific packages of other platforms (@swc/core-darwin-arm64 on a Linux machine); a lock file
 * written by an npm that pruned those for its own platform breaks `npm ci` for everyone else. (The image test,
 * test/integration/image.test.ts, runs a real `npm ci` on a clean copy; this file is the fast check.)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';

const repoRoot = path.resolve(__dirname, '..', '..');

interface LockedPackage {
  version?: string;
  optional?: boolean;
  os?: string[];
  cpu?: string[];
  libc?: string[];
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}
interface Lockfile {
  lockfileVersion: number;
  packages: Record<string, LockedPackage>;
}
interface PackageJson {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(path.join(repoRoot, file), 'utf8')) as T;
const lock = readJson<Lockfile>('package-lock.json');
const pkg = readJson<PackageJson>('package.json');

/** Where Node would find `name` for the package at `from` (a lock key such as `node_modules/a/node_modules/b`). */
function resolveLocked(packages: Lockfile['packages'], from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const key = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
    if (packages[key]) return key;
    if (!dir) return undefined;
    const up = dir.lastIndexOf('/node_modules/');
    dir = up === -1 ? '' : dir.slice(0, up);
  }
}

/** Optional dependencies declared by a locked package that the lock file does not record. */
function missingOptionalPackages(l: Lockfile): string[] {
  const missing: string[] = [];
  for (const [key, p] of Object.entries(l.packages)) {
    for (const name of Object.keys(p.optionalDependencies ?? {})) {
      if (!resolveLocked(l.packages, key, name)) missing.push(`${name} (optional dependency of ${key || 'the root'})`);
    }
  }
  return missing;
}

describe('package-lock.json', () => {
  it('records every optional package of every platform that a locked package declares', () => {
    expect(lock.lockfileVersion).toBe(3);
    expect(missingOptionalPackages(lock)).toEqual([]);
    // The check sees platform packages at all: the lock has some for other systems than this one.
    const foreign = Object.values(lock.packages).filter((p) => p.os && !p.os.includes(process.platform));
    expect(foreign.length).toBeGreaterThan(0);
  });

  it('would report a platform package that is missing', () => {
    const swc = Object.keys(lock.packages).find((k) => /node_modules\/@swc\/core-darwin-arm64$/.test(k));
    expect(swc).toBeDefined();
    const pruned: Lockfile = { ...lock, packages: { ...lock.packages } };
    delete pruned.packages[swc as string];
    expect(missingOptionalPackages(pruned)).toEqual([expect.stringMatching(/^@swc\/core-darwin-arm64 \(optional dependency of node_modules\/@swc\/core\)$/)]);
  });

  it('locks exactly the versions package.json pins', () => {
    const root = lock.packages[''] as LockedPackage & { devDependencies?: Record<string, string> };
    expect(root.dependencies).toEqual(pkg.dependencies);
    expect(root.devDependencies).toEqual(pkg.devDependencies);
    for (const [name, version] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
      expect({ name, locked: lock.packages[`node_modules/${name}`]?.version }).toEqual({ name, locked: version });
    }
  });

  it('is accepted by `npm ci` on a clean copy of package.json and package-lock.json', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'canary-npm-ci-'));
    try {
      for (const f of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(repoRoot, f), path.join(dir, f));
      // --dry-run: npm checks the lock file against package.json and plans the install, without writing node_modules.
      const r = spawnSync('npm', ['ci', '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund'], {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.homedir() },
        timeout: 120_000,
      });
      expect({ status: r.status, stderr: r.stderr.slice(-2000) }).toEqual({ status: 0, stderr: expect.any(String) });
      expect(r.stdout).toMatch(/added \d+ packages/);
      expect(fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8')).toBe(fs.readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
