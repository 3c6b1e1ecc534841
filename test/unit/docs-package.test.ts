/**
 * What the docs tell people to run must be this package: a bare `npx canary` outside a checkout runs the unrelated
 * public npm package named `canary`, so no doc or example may show one; every install or `npx --package` names the
 * package this repository publishes (package.json `name`), and every Node version they name is one `engines` allows.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packageVersion } from '../../client/package-info';

const repoRoot = path.resolve(__dirname, '..', '..');
const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { name: string; engines: { node: string } };

/** README.md, every Markdown file under docs/, docker-compose.yml and the Dockerfile (its comments). */
function documents(): { file: string; text: string }[] {
  const files = ['README.md', 'docker-compose.yml', 'Dockerfile'];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(path.join(repoRoot, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (/\.(md|ya?ml)$/.test(entry.name)) files.push(rel);
    }
  };
  walk('docs');
  return files.filter((f) => fs.existsSync(path.join(repoRoot, f))).map((file) => ({ file, text: fs.readFileSync(path.join(repoRoot, file), 'utf8') }));
}

/** Each line of the documents matching `re`, as `file:line: text`. */
function linesMatching(re: RegExp): string[] {
  const hits: string[] = [];
  for (const { file, text } of documents())
    text.split('\n').forEach((line, i) => {
      if (re.test(line)) hits.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  return hits;
}

describe('the docs and examples', () => {
  it('never show a bare `npx canary` (it would run the public package named canary)', () => {
    // npx with only flags (-y, --yes, --no-install, ...) before `canary`: npx resolves `canary` from the registry.
    expect(linesMatching(/\bnpx(\s+-[-\w]+)*\s+canary\b/)).toEqual([]);
  });

  it(`install and run the package by its name (${manifest.name})`, () => {
    const wrong: string[] = [];
    for (const hit of linesMatching(/\bnpx\s+(--package|-p)[\s=]|\bnpm\s+(install|i|add)\s+(--global\s+|-g\s+)?[@\w]/)) {
      // A local path or tarball (./x.tgz) or a dev dependency install is fine; a registry install must be ours.
      const pkgs = [...hit.matchAll(/(?:--package[\s=]|-p\s|(?:install|add|\bi)\s+(?:--global\s+|-g\s+)?)(\S+)/g)].map((m) => m[1] ?? '');
      for (const pkg of pkgs)
        if (!/^[./]/.test(pkg) && !pkg.startsWith('-') && pkg.replace(/(?<=.)@[^@/]*$/, '') !== manifest.name) wrong.push(`${hit} (installs ${pkg})`);
    }
    expect(wrong).toEqual([]);
    expect(linesMatching(new RegExp(`\\b${manifest.name.replace(/[/@.-]/g, '\\$&')}\\b`)).length).toBeGreaterThan(0);
  });

  it(`name only Node versions that engines allows (${manifest.engines.node}) and no end-of-life Node`, () => {
    const min = Number(/>=\s*(\d+)/.exec(manifest.engines.node)?.[1]);
    expect(min).toBeGreaterThanOrEqual(22);
    const old = [...linesMatching(/node-version:\s*['"]?(\d+)/), ...linesMatching(/\bnode:(\d+)/), ...linesMatching(/\bNode(?:\.js)? (\d+)\b/)].filter(
      (hit) => {
        const versions = [...hit.matchAll(/(?:node-version:\s*['"]?|\bnode:|\bNode(?:\.js)? )(\d+)/g)].map((m) => Number(m[1]));
        return versions.some((v) => v < min);
      },
    );
    expect(old).toEqual([]);
  });
});

describe('packageVersion (canary --cli-version)', () => {
  it('reads package.json from a checkout (client/) and from the compiled package (dist/client/)', () => {
    expect(packageVersion()).toBe((JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'canary-version-'));
    try {
      fs.mkdirSync(path.join(dir, 'dist', 'client'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'package.json'), '{ "name": "alb-canary", "version": "0.7.1" }');
      expect(packageVersion(path.join(dir, 'dist', 'client'))).toBe('0.7.1');
      expect(packageVersion(path.join(dir, 'dist', 'client', 'deeper', 'still'))).toBe('unknown');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
