/**
 * The map stays true to the territory: every file of this repository a comment, test or doc names exists, and the
 * README's folder table names every file of the folder each row describes. The files are git's: tracked ones still
 * on disk and new ones not yet added (but not ignored), so a file added in the same change counts.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
  .split('\0')
  .filter((f) => f !== '' && fs.existsSync(path.join(root, f)))
  .sort();
const fileSet = new Set(files);
const dirSet = new Set(
  files.flatMap((f) =>
    f
      .split('/')
      .slice(0, -1)
      .map((_, i, parts) => parts.slice(0, i + 1).join('/')),
  ),
);
const basenames = new Set(files.map((f) => path.posix.basename(f)));

/** A mention is a path of one of our top-level folders with a file extension, or one relative to the mentioning file. */
const TOP = 'workflows|activities|common|client|worker|dev|docs|test|analysis|bench|scripts|deploy|bin';
const EXT = 'ts|js|mjs|cjs|json|md|sh|ya?ml|png|py|txt';
const MENTION = new RegExp(
  `(?<![\\w./@$-])((?:\\.{1,2}/)*)((?:${TOP})/[\\w.-]+(?:/[\\w.-]+)*\\.(?:${EXT})|[\\w.-]+(?:/[\\w.-]+)*\\.(?:${EXT}))(?![\\w/-])`,
  'g',
);
/** A document named by its file name alone (README.md, APPROVALS.md): some file of the repository has that name. */
const DOC_NAME = /(?<![\w-])[A-Z][A-Z0-9_-]*\.md\b/g;

/**
 * Mentions that are not files of this repository, each with why. Other projects' files (`packages/...`,
 * `rollout/...`) are not mentions at all: they start with none of our folders.
 */
const notOurs: { file: RegExp; mention: RegExp; why: string }[] = [
  { file: /^test\/unit\/dockerfile\.test\.ts$/, mention: /^docs\/(keep\/|img\/)?a\.png$/, why: 'made-up paths the .dockerignore rules are tried on' },
  { file: /^test\/unit\/repo-map\.test\.ts$/, mention: /./, why: 'the stale mentions this test must catch, as its own examples' },
];

/** Paths git ignores (written at run time: bench/results/latest.json, .canary/...), named as outputs, not as files. */
function ignoredByGit(paths: string[]): Set<string> {
  if (paths.length === 0) return new Set();
  try {
    const out = execFileSync('git', ['check-ignore', '--no-index', '--stdin'], { cwd: root, input: paths.join('\n'), encoding: 'utf8' });
    return new Set(out.split('\n').filter(Boolean));
  } catch (err) {
    // exit status 1: none of them is ignored
    if ((err as { status?: number }).status === 1) return new Set();
    throw err;
  }
}

interface Mention {
  /** Where, as `file:line`. */
  at: string;
  /** As written. */
  text: string;
  /** The path it names, from the repository root ('' for a bare document name). */
  target: string;
}

/** The path mentions of one file's text. */
function mentionsIn(file: string, text: string): Mention[] {
  const out: Mention[] = [];
  text.split('\n').forEach((line, i) => {
    const at = `${file}:${i + 1}`;
    /** Where the path mentions of the line end: a document name there is part of one, checked with it. */
    const pathEnds = new Set<number>();
    for (const m of line.matchAll(MENTION)) {
      const [whole, up = '', p = ''] = m;
      const rooted = new RegExp(`^(${TOP})/`).test(p);
      if (!up && !rooted) continue;
      const target = up ? path.posix.normalize(path.posix.join(path.posix.dirname(file), up + p)) : p;
      out.push({ at, text: whole, target });
      pathEnds.add(m.index + whole.length);
    }
    for (const m of line.matchAll(DOC_NAME)) {
      if (!pathEnds.has(m.index + m[0].length)) out.push({ at, text: m[0], target: '' });
    }
  });
  return out;
}

/** Every path mention in the text files of the repository (recorded fixtures and the lock file are data, not prose). */
function mentions(): Mention[] {
  return files
    .filter((file) => file !== 'package-lock.json' && !(file.startsWith('test/fixtures/') && !/\.(py|ts|md)$/.test(file)))
    .map((file) => ({ file, text: fs.readFileSync(path.join(root, file), 'utf8') }))
    .filter(({ text }) => !text.includes('\0'))
    .flatMap(({ file, text }) => mentionsIn(file, text));
}

/** The mentions of files that are not there, as `file:line: mention`. */
function missing(found: Mention[]): string[] {
  const ours = found.filter((m) => !notOurs.some((n) => n.file.test(m.at.replace(/:\d+$/, '')) && n.mention.test(m.text)));
  const ignored = ignoredByGit(ours.map((m) => m.target).filter((t) => t !== '' && !fileSet.has(t)));
  return ours.filter((m) => (m.target === '' ? !basenames.has(m.text) : !fileSet.has(m.target) && !ignored.has(m.target))).map((m) => `${m.at}: ${m.text}`);
}

/**
 * The README's folder table: each row's folder and the paths its description names, backquoted (`state.ts`,
 * `release/runbook.ts`, `commands/`, `measure-*.ts`) or as a link target from the README (`docs/CLI.md`).
 */
function folderTable(): { folder: string; named: string[] }[] {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8').split('\n');
  const start = readme.findIndex((l) => /^\|\s*folder\s*\|/.test(l));
  expect(start).toBeGreaterThan(-1);
  const rows: { folder: string; named: string[] }[] = [];
  for (const line of readme.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const [, folder, job = ''] = /^\|\s*`([^`]+)\/`\s*\|(.*)\|\s*$/.exec(line) ?? [];
    if (!folder) throw new Error(`README folder table row without a \`folder/\`: ${line}`);
    const quoted = [...job.matchAll(/`([^`\s]+)`/g)].map((m) => m[1] as string);
    const linked = [...job.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map((m) => m[1] as string);
    const named = [...quoted, ...linked].filter((t) => !/^\w+:/.test(t) && /(\.\w+|\/)$/.test(t));
    rows.push({ folder, named });
  }
  return rows;
}

/**
 * Does a row of `folder` name `file` (from the root)? A name (`*` any characters but `/`; a trailing `/` a folder and
 * all in it) is read from the row's folder first, where a bare file name may be of any of its subfolders
 * (`gates.ts` after `release/steps.ts`), then from the root (`docs/CLI.md`, `docker-compose.yml`).
 */
function namesFile(name: string, folder: string, file: string): boolean {
  const matches = (p: string, byBasename: boolean): boolean => {
    if (name.endsWith('/')) return p.startsWith(name);
    const pattern = new RegExp(`^${name.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
    return pattern.test(p) || (byBasename && !name.includes('/') && pattern.test(path.posix.basename(p)));
  };
  return (file.startsWith(`${folder}/`) && matches(file.slice(folder.length + 1), true)) || matches(file, false);
}

describe('the repository map', () => {
  it('tells stale mentions from good ones (rooted, relative, documents by name, outputs, other projects)', () => {
    const text = [
      'the helpers in workflows/analysis.ts (DESIGN.md), as in /work/shared/AWS-EMULATOR.md or ../shared/AWS-EMULATOR.md',
      'see docs/CLI.md and APPROVALS.md, written by ./render.ts into bench/results/latest.json',
      "like the SDK's packages/workflow/src/flags.ts and argo-rollouts' rollout/canary.go",
    ].join('\n');
    expect(missing(mentionsIn('client/format.ts', text))).toEqual([
      'client/format.ts:1: workflows/analysis.ts',
      'client/format.ts:1: ../shared/AWS-EMULATOR.md',
      'client/format.ts:1: DESIGN.md',
      'client/format.ts:1: AWS-EMULATOR.md',
    ]);
  });

  it('every file of this repository that a comment, test or doc names exists', () => {
    expect(missing(mentions())).toEqual([]);
  });

  it("the README's folder table has a row for every top-level folder, naming each of its files or subfolders", () => {
    const rows = folderTable();
    const topFolders = [...dirSet].filter((d) => !d.includes('/') && !d.startsWith('.'));
    expect(rows.map((r) => r.folder).sort()).toEqual(topFolders.sort());
    const unnamed = rows.flatMap(({ folder, named }) =>
      files.filter((f) => f.startsWith(`${folder}/`) && !path.posix.basename(f).startsWith('.')).filter((f) => !named.some((n) => namesFile(n, folder, f))),
    );
    expect(unnamed).toEqual([]);
  });

  it("the README's folder table names only files and folders that exist", () => {
    const stale = folderTable().flatMap(({ folder, named }) => named.filter((n) => !files.some((f) => namesFile(n, folder, f))).map((n) => `${folder}/: ${n}`));
    expect(stale).toEqual([]);
  });

  it('every doc comment sits right above what it documents, never stacked on another (a file header aside)', () => {
    const stacked = files
      .filter((f) => /\.(ts|js|mjs)$/.test(f))
      .flatMap((f) => {
        const text = fs.readFileSync(path.join(root, f), 'utf8');
        const header = (before: string): boolean => before.replace(/^#!.*\n/, '').trim() === '';
        return [...text.matchAll(/\/\*\*(?:(?!\*\/)[\s\S])*\*\/[ \t]*\n[ \t]*\/\*\*/g)]
          .filter((m) => !header(text.slice(0, m.index)))
          .map((m) => `${f}:${text.slice(0, m.index).split('\n').length}`);
      });
    expect(stacked).toEqual([]);
  });
});
