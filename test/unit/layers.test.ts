/**
 * The layers point one way: common/ and analysis/ are pure; workflows/ sees activities only as types;
 * nothing but the worker (and tests, dev tools) imports workflow code. Also keeps the workflow files runbook-sized.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(rel));
    else if (e.name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

interface Import {
  file: string;
  target: string;
  typeOnly: boolean;
}

/** Every relative import of a file, resolved to a path from the repository root. */
function importsOf(file: string): Import[] {
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  const out: Import[] = [];
  for (const m of text.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+'(\.[^']+)'/gms)) {
    const target = path.normalize(path.join(path.dirname(file), m[3] as string));
    out.push({ file, target, typeOnly: !!m[2] });
  }
  return out;
}

const inLayer = (p: string, layer: string): boolean => p === layer || p.startsWith(`${layer}/`);

describe('layers', () => {
  it('finds the imports it checks (the scanner sees relative imports, type-only ones marked)', () => {
    const runbook = importsOf('workflows/release/runbook.ts');
    expect(runbook.map((i) => i.target)).toContain('workflows/release/state');
    expect(importsOf('workflows/release/activities.ts')).toContainEqual({
      file: 'workflows/release/activities.ts',
      target: 'activities/contract',
      typeOnly: true,
    });
  });

  it('nothing in common/, analysis/, activities/, client/, dev/ or bench/ imports from workflows/ (the dry run plans with workflows/plan.ts)', () => {
    const offenders = ['common', 'analysis', 'activities', 'client', 'dev', 'bench']
      .flatMap(sources)
      .flatMap(importsOf)
      .filter((i) => inLayer(i.target, 'workflows'))
      // `canary start --dry-run` plans with the workflow's own pure helpers, so it prints what the release would do.
      .filter((i) => !(i.file === 'client/dry-run.ts' && i.target === 'workflows/plan'));
    expect(offenders).toEqual([]);
  });

  it('workflows/ imports from activities/ only as types', () => {
    const offenders = sources('workflows')
      .flatMap(importsOf)
      .filter((i) => inLayer(i.target, 'activities') && !i.typeOnly);
    expect(offenders).toEqual([]);
  });

  it('common/ and analysis/ import nothing from the layers above them', () => {
    const above = ['workflows', 'activities', 'worker', 'client', 'dev'];
    const offenders = ['common', 'analysis']
      .flatMap(sources)
      .flatMap(importsOf)
      .filter((i) => !i.typeOnly && above.some((l) => inLayer(i.target, l)));
    expect(offenders).toEqual([]);
  });

  it('keeps the runbook about 100 lines and every workflow and analysis file under about 350', () => {
    const lines = (f: string): number => fs.readFileSync(path.join(root, f), 'utf8').split('\n').length;
    const release = fs.readFileSync(path.join(root, 'workflows/release/runbook.ts'), 'utf8');
    const body = release.slice(release.indexOf('export async function release('));
    const releaseLines = body.slice(0, body.indexOf('\n}\n')).split('\n').length;
    expect(releaseLines).toBeLessThanOrEqual(120);
    const long = [...sources('workflows'), ...sources('analysis')].filter((f) => lines(f) > 360).map((f) => `${f}: ${lines(f)} lines`);
    expect(long).toEqual([]);
  });
});
