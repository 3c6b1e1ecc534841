/**
 * The Dockerfile executor that lets test/integration/image.test.ts build the worker image without a container
 * engine: it must read instructions and .dockerignore as Docker does, and refuse what it does not implement.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildDockerfile, dockerignoreMatcher, parseDockerfile } from '../support/dockerfile';

const repoRoot = path.resolve(__dirname, '..', '..');
const nodeMajor = process.versions.node.split('.')[0];
const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { name: string };

describe('parseDockerfile', () => {
  it('reads the worker Dockerfile as a build stage and a runtime stage that copies from it, both on a supported LTS', () => {
    const stages = parseDockerfile(fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8'));
    expect(stages.map((s) => [s.name, s.base])).toEqual([
      ['build', 'node:24-slim'],
      ['runtime', 'node:24-slim'],
    ]);
    const runtime = stages[1]?.instructions ?? [];
    expect(runtime.filter((i) => i.keyword === 'COPY').every((i) => i.args.startsWith('--from=build '))).toBe(true);
    expect(runtime.some((i) => i.keyword === 'RUN')).toBe(false);
    expect(stages[0]?.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args)).toEqual([
      expect.stringMatching(/^npm ci\b/),
      // The image runs what the npm package ships: the packed tarball, unpacked.
      `npm pack --silent && tar -xzf ${manifest.name}-*.tgz && npm prune --omit=dev --no-audit --no-fund`,
      expect.stringMatching(/^node -e "const c = require\('@temporalio\/core-bridge\/common'\).*getPrebuiltPath\(\);"$/),
    ]);
  });

  it('joins continuation lines, drops comments and keeps line numbers', () => {
    const [stage] = parseDockerfile('# comment\nFROM node:20 AS a\nRUN echo one \\\n  # inside\n  && echo two\nENV A=1 B="x y"\n');
    expect(stage?.instructions).toEqual([
      { line: 3, keyword: 'RUN', args: 'echo one   && echo two' },
      { line: 6, keyword: 'ENV', args: 'A=1 B="x y"' },
    ]);
  });
});

describe('dockerignoreMatcher', () => {
  const ignored = dockerignoreMatcher('# comment\nnode_modules\n*.log\n/dist\ndocs/**/*.png\n!docs/keep/a.png\n');
  it.each([
    ['node_modules', true],
    ['node_modules/x/index.js', true],
    ['a.log', true],
    ['sub/a.log', false],
    ['dist/x.js', true],
    ['docs/img/a.png', true],
    ['docs/a.png', true],
    ['docs/keep/a.png', false],
    ['common/spec.ts', false],
  ])('%s excluded: %s', (rel, expected) => {
    expect(ignored(rel)).toBe(expected);
  });
});

describe('buildDockerfile', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'canary-dockerfile-'));
    fs.mkdirSync(path.join(dir, 'ctx', 'src', 'deep'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'ctx', 'src', 'a.txt'), 'a');
    fs.writeFileSync(path.join(dir, 'ctx', 'src', 'deep', 'b.txt'), 'b');
    fs.writeFileSync(path.join(dir, 'ctx', 'src', 'skip.log'), 'x');
    fs.writeFileSync(path.join(dir, 'ctx', '.dockerignore'), '*.log\nsrc/*.log\n');
    fs.mkdirSync(path.join(dir, 'scratch'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const build = (dockerfile: string) => {
    fs.writeFileSync(path.join(dir, 'ctx', 'Dockerfile'), dockerfile);
    return buildDockerfile({ context: path.join(dir, 'ctx'), scratch: path.join(dir, 'scratch'), hostEnv: { PATH: process.env.PATH ?? '' } });
  };

  it('copies from the context without ignored files, runs RUN in WORKDIR with ENV, and copies between stages', async () => {
    const image = await build(
      [
        `FROM node:${nodeMajor}-slim AS one`,
        'WORKDIR /work',
        'ENV GREETING="hello there"',
        'COPY src ./src',
        'RUN echo "$GREETING" > made.txt && ls src > listing.txt',
        `FROM node:${nodeMajor}-slim`,
        'WORKDIR /app',
        'ENV NODE_ENV=production',
        'COPY --from=one /work/made.txt /work/listing.txt ./',
        'USER node',
        'CMD ["node", "main.js"]',
      ].join('\n'),
    );
    expect(image.imageWorkdir).toBe('/app');
    expect(fs.readdirSync(image.workdir).sort()).toEqual(['listing.txt', 'made.txt']);
    expect(fs.readFileSync(path.join(image.workdir, 'made.txt'), 'utf8')).toBe('hello there\n');
    expect(fs.readFileSync(path.join(image.workdir, 'listing.txt'), 'utf8')).toBe('a.txt\ndeep\n');
    expect(image).toMatchObject({ env: { NODE_ENV: 'production' }, user: 'node', cmd: ['node', 'main.js'] });
  });

  it('stands in for another Node major with the Node the PATH it is given runs (nodeVersion)', async () => {
    fs.writeFileSync(path.join(dir, 'ctx', 'Dockerfile'), 'FROM node:99-slim\nWORKDIR /app\nRUN echo ok > ok.txt\n');
    const opts = { context: path.join(dir, 'ctx'), scratch: path.join(dir, 'scratch'), hostEnv: { PATH: process.env.PATH ?? '' } };
    await expect(buildDockerfile(opts)).rejects.toThrow(/the host runs Node .*cannot stand in for Node 99/);
    const image = await buildDockerfile({ ...opts, nodeVersion: '99.1.0' });
    expect(fs.readFileSync(path.join(image.workdir, 'ok.txt'), 'utf8')).toBe('ok\n');
  });

  it('fails on a failing RUN, naming the line', async () => {
    await expect(build(`FROM node:${nodeMajor}\nRUN echo broken >&2 && exit 3\n`)).rejects.toThrow(
      /Dockerfile line 2 \(RUN echo broken >&2 && exit 3\) failed: exit 3\nbroken/,
    );
  });

  it('refuses what it does not implement instead of skipping it', async () => {
    await expect(build(`FROM node:${nodeMajor}\nADD https://example.com/x /x\n`)).rejects.toThrow(/line 2 .*ADD is not supported/);
    await expect(build('FROM python:3.12\n')).rejects.toThrow(/only node:<major> base images/);
    await expect(build(`FROM node:${Number(nodeMajor) + 2}\n`)).rejects.toThrow(/cannot stand in for Node/);
    await expect(build(`FROM node:${nodeMajor}\nCOPY src/skip.log ./\n`)).rejects.toThrow(/excluded by \.dockerignore/);
    await expect(build(`FROM node:${nodeMajor}\nCMD node main.js\n`)).rejects.toThrow(/exec form/);
  });
});
