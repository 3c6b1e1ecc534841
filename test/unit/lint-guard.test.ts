/**
 * The sandbox lint bites: a copy of a real file under workflows/release/, with forbidden imports planted in it, must
 * fail lint where they were planted, and only there (the file's own type-only import of activities/ stays allowed).
 * The old rule matched `../activities` only, so nothing under workflows/release/ was checked.
 *
 * The copy is linted as text under a new name in workflows/release/ and never written: on disk, the other tests that
 * read workflows/ in the same run (layers, the README's folder table) would see it, and a failed run could leave it.
 * ESLint runs in its own Node process because it loads eslint.config.mjs with import(), which jest's module sandbox
 * refuses; with the repository's config, but only the rules under test and no type information (none of them needs
 * it, and building the project's TypeScript program would take most of a minute on 2 cores).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const original = 'workflows/release/alert.ts';

const lintScript = `
const { ESLint } = require('eslint');
let input = '';
process.stdin.on('data', (d) => (input += d)).on('end', async () => {
  const { filePath, text } = JSON.parse(input);
  const eslint = new ESLint({
    cwd: process.cwd(),
    overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
    ruleFilter: ({ ruleId }) => ruleId === 'no-restricted-imports' || ruleId === 'no-restricted-syntax',
  });
  const [result] = await eslint.lintText(text, { filePath, warnIgnored: true });
  process.stdout.write(JSON.stringify(result.messages.map((m) => \`\${m.line} \${m.ruleId}: \${m.message}\`)));
});
`;

/** The lint messages of `text` as if it were the file `filePath`, one `line ruleId: message` each. */
function lintAs(filePath: string, text: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', lintScript], { cwd: root });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(`eslint exited ${code}: ${err}`))));
    child.stdin.end(JSON.stringify({ filePath, text }));
  });
}

const planted = [
  "import { createActivities } from '../../activities';",
  "import { pickTargetGroups } from '../../activities/traffic';",
  "import * as fs from 'fs';",
  "import { setTimeout as sleep } from 'node:timers/promises';",
  "import { patched } from '@temporalio/workflow';",
  "export const planted = [createActivities, pickTargetGroups, fs, sleep, patched, import('vm')];",
];

it('fails lint on value imports of activities/, Node built-ins and the patch API planted in a copy of a workflows/release/ file', async () => {
  const source = fs.readFileSync(path.join(root, original), 'utf8');
  expect(source).toMatch(/^import type .* from '\.\.\/\.\.\/activities\//m);
  const copy = path.join(root, 'workflows', 'release', `lint-guard-plant-${process.pid}.ts`);
  expect(fs.existsSync(copy)).toBe(false);

  expect(await lintAs(copy, source)).toEqual([]);
  expect(await lintAs(copy, `${planted.join('\n')}\n${source}`)).toEqual([
    expect.stringMatching(/^1 no-restricted-imports: '\.\.\/\.\.\/activities' .*only as types/),
    expect.stringMatching(/^2 no-restricted-imports: '\.\.\/\.\.\/activities\/traffic' .*only as types/),
    expect.stringMatching(/^3 no-restricted-imports: 'fs' .*no Node built-ins/),
    expect.stringMatching(/^4 no-restricted-imports: 'node:timers\/promises' .*no Node built-ins/),
    expect.stringMatching(/^5 no-restricted-imports: 'patched' import from '@temporalio\/workflow' .*version flag/),
    expect.stringMatching(/^6 no-restricted-syntax: .*no import\(\)/),
  ]);
}, 60_000);
