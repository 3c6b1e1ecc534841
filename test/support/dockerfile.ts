/**
 * Executes a Dockerfile's own steps without a container engine, so a test can build the worker image's recipe on a
 * machine that has none and run what it produced.
 *
 * Each stage gets a directory under `scratch` that stands for its root filesystem; WORKDIR, COPY (from the build
 * context, honouring .dockerignore, or `--from` an earlier stage) and ENV act on it as Docker would, and RUN runs the
 * instruction's shell command there with the stage's environment. What the base image would provide is the host's:
 * `FROM node:<major>...` is accepted only when the Node that RUN finds first on the PATH it is given is Node <major>
 * (this process's Node by default, or one from the npm registry's `node` package: test/support/node-runtime.ts), and
 * RUN finds node and npm on that PATH (the npm cache is the host's too, so `npm ci` need not download what setup
 * already fetched). USER, EXPOSE and
 * CMD are recorded for the caller, which starts the final stage's CMD itself. Any instruction or flag this executor
 * does not implement is an error, so a Dockerfile change can never be skipped silently.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';

/** One instruction, with its continuation lines joined. */
export interface Instruction {
  /** 1-based line where the instruction starts, for error messages. */
  line: number;
  keyword: string;
  args: string;
}

/** A `FROM` and the instructions up to the next one. */
export interface Stage {
  index: number;
  /** The `AS name`, if any. */
  name?: string;
  base: string;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages of instructions (comments dropped, `\` continuations joined). */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let logical = lines[i] ?? '';
    if (/^\s*(#|$)/.test(logical)) continue;
    while (/\\\s*$/.test(logical) && i + 1 < lines.length) {
      logical = logical.replace(/\\\s*$/, '');
      i++;
      // Comment lines inside a continued instruction are dropped, as Docker does.
      while (/^\s*#/.test(lines[i] ?? '') && i + 1 < lines.length) i++;
      logical += lines[i] ?? '';
    }
    const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(logical);
    if (!m) throw new Error(`Dockerfile line ${start + 1}: cannot parse ${JSON.stringify(logical)}`);
    const instruction: Instruction = { line: start + 1, keyword: (m[1] ?? '').toUpperCase(), args: (m[2] ?? '').trim() };
    if (instruction.keyword === 'FROM') {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (!from) throw new Error(`Dockerfile line ${instruction.line}: FROM ${instruction.args}: expected "image [AS name]"`);
      stages.push({ index: stages.length, name: from[2], base: from[1] ?? '', instructions: [] });
      continue;
    }
    const stage = stages[stages.length - 1];
    if (!stage) {
      if (instruction.keyword === 'ARG') continue; // an ARG before FROM only parameterises FROM lines
      throw new Error(`Dockerfile line ${instruction.line}: ${instruction.keyword} before the first FROM`);
    }
    stage.instructions.push(instruction);
  }
  if (stages.length === 0) throw new Error('Dockerfile has no FROM');
  return stages;
}

/** Parses .dockerignore into a predicate over context-relative paths (`a/b.txt`), Docker's rules: the last matching pattern wins, `!` re-includes. */
export function dockerignoreMatcher(text: string): (relPath: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = path.posix.normalize((negate ? l.slice(1) : l).trim().replace(/^\/+/, ''));
      return { negate, re: globToRegExp(pattern) };
    });
  return (relPath) => {
    // A pattern that matches a directory excludes everything below it.
    const parts = relPath.split('/');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const rule of rules) if (candidates.some((c) => rule.re.test(c))) excluded = !rule.negate;
    return excluded;
  };
}

function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` matches any number of directories, including none.
      re += pattern[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += pattern[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** What the final stage left: its root, working directory, environment and command. */
export interface BuiltImage {
  /** The final stage's root directory (its files are the image's files). */
  root: string;
  /** The final WORKDIR, as a host path under `root`. */
  workdir: string;
  /** The final WORKDIR as the image sees it (`/app`). */
  imageWorkdir: string;
  /** ENV of the final stage. */
  env: Record<string, string>;
  /** CMD in exec form. */
  cmd: string[];
  user?: string;
  exposed: string[];
  /** Seconds each RUN took, with its command, for the report. */
  runs: { stage: string; command: string; seconds: number }[];
}

export interface BuildOptions {
  /** The build context (the repository root). */
  context: string;
  /** Dockerfile path; default `<context>/Dockerfile`. */
  dockerfile?: string;
  /** An empty directory to build in. */
  scratch: string;
  /** Variables RUN steps get besides the stage's ENV (PATH, HOME, ...). */
  hostEnv: Record<string, string>;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Limit for one RUN. */
  runTimeoutMs?: number;
  /**
   * The version of the Node that `hostEnv.PATH` puts first, which stands in for the `node:<major>` base images;
   * default this process's.
   */
  nodeVersion?: string;
}

/** Runs every stage of the Dockerfile in `scratch` and describes the final stage. */
export async function buildDockerfile(opts: BuildOptions): Promise<BuiltImage> {
  const dockerfile = opts.dockerfile ?? path.join(opts.context, 'Dockerfile');
  const stages = parseDockerfile(fs.readFileSync(dockerfile, 'utf8'));
  const ignoreFile = path.join(opts.context, '.dockerignore');
  const ignored = dockerignoreMatcher(fs.existsSync(ignoreFile) ? fs.readFileSync(ignoreFile, 'utf8') : '');
  const roots = new Map<string, string>();
  const runs: BuiltImage['runs'] = [];
  let last: BuiltImage | undefined;

  for (const stage of stages) {
    const label = stage.name ?? String(stage.index);
    const root = path.join(opts.scratch, `stage-${stage.index}-${label}`);
    const previous = roots.get(stage.base);
    if (previous) {
      await sh(`cp -a ${q(previous)} ${q(root)}`, opts.scratch, opts.hostEnv, 600_000);
    } else {
      checkBaseImage(stage.base, opts.nodeVersion ?? process.versions.node);
      fs.mkdirSync(root, { recursive: true });
    }
    const state = {
      workdir: '/',
      env: {} as Record<string, string>,
      args: {} as Record<string, string>,
      cmd: [] as string[],
      user: undefined as string | undefined,
      exposed: [] as string[],
    };
    const at = (i: Instruction) => `Dockerfile line ${i.line} (${i.keyword} ${i.args})`;
    const hostPath = (imagePath: string) => path.join(root, path.posix.resolve(state.workdir, imagePath));

    for (const ins of stage.instructions) {
      switch (ins.keyword) {
        case 'WORKDIR':
          state.workdir = path.posix.resolve(state.workdir, ins.args);
          fs.mkdirSync(path.join(root, state.workdir), { recursive: true });
          break;
        case 'ENV':
          Object.assign(state.env, parseKeyValues(ins.args, at(ins)));
          break;
        case 'ARG': {
          const [name, value] = ins.args.split('=', 2);
          state.args[name ?? ''] = value ?? '';
          break;
        }
        case 'COPY': {
          const { flags, words } = splitFlags(ins.args, at(ins));
          for (const flag of Object.keys(flags))
            if (flag !== 'from' && flag !== 'chown' && flag !== 'chmod') throw new Error(`${at(ins)}: flag --${flag} is not supported here`);
          if (words.length < 2) throw new Error(`${at(ins)}: expected sources and a destination`);
          const dest = words[words.length - 1] as string;
          const sources = words.slice(0, -1);
          const destDir = dest.endsWith('/') || sources.length > 1;
          for (const src of sources) {
            if (/[*?[]/.test(src)) throw new Error(`${at(ins)}: wildcards are not supported here`);
            let from: string;
            let filter: ((rel: string) => boolean) | undefined;
            if (flags.from !== undefined) {
              const stageRoot = roots.get(flags.from);
              if (!stageRoot) throw new Error(`${at(ins)}: no earlier stage named ${flags.from}`);
              from = path.join(stageRoot, path.posix.resolve('/', src));
            } else {
              const rel = path.posix.normalize(src).replace(/^\/+/, '');
              if (rel.startsWith('..')) throw new Error(`${at(ins)}: ${src} is outside the build context`);
              from = path.join(opts.context, rel);
              filter = (relToContext) => !ignored(relToContext);
              if (rel !== '.' && ignored(rel)) throw new Error(`${at(ins)}: ${src} is excluded by .dockerignore`);
            }
            if (!fs.existsSync(from)) throw new Error(`${at(ins)}: ${src} does not exist`);
            const isDir = fs.statSync(from).isDirectory();
            // A directory's contents are copied into the destination; a file goes to dest, or into it when it is a directory.
            const target = isDir ? hostPath(dest) : destDir ? path.join(hostPath(dest), path.basename(from)) : hostPath(dest);
            if (flags.from === undefined) copyTree(from, target, path.relative(opts.context, from), filter);
            else if (isDir) {
              // Between stages nothing is filtered: the native cp is much faster on a node_modules tree.
              fs.mkdirSync(target, { recursive: true });
              await sh(`cp -a ${q(from)}/. ${q(target)}/`, opts.scratch, opts.hostEnv, 600_000);
            } else copyTree(from, target, undefined);
          }
          break;
        }
        case 'RUN': {
          const command = execForm(ins.args) ?? ins.args;
          const env = { ...opts.hostEnv, ...state.args, ...state.env };
          const cwd = path.join(root, state.workdir);
          opts.log?.(`[image] ${label}: RUN ${ins.args}`);
          const t0 = Date.now();
          await (Array.isArray(command) ? run(command, cwd, env, opts.runTimeoutMs ?? 900_000) : sh(command, cwd, env, opts.runTimeoutMs ?? 900_000)).catch(
            (err: unknown) => {
              throw new Error(`${at(ins)} failed: ${(err as Error).message}`, { cause: err });
            },
          );
          runs.push({ stage: label, command: ins.args, seconds: (Date.now() - t0) / 1000 });
          break;
        }
        case 'CMD': {
          const cmd = execForm(ins.args);
          if (!cmd) throw new Error(`${at(ins)}: use the exec form (a JSON array), so the process gets signals itself`);
          state.cmd = cmd;
          break;
        }
        case 'USER':
          state.user = ins.args;
          break;
        case 'EXPOSE':
          state.exposed.push(...ins.args.split(/\s+/));
          break;
        case 'LABEL':
        case 'STOPSIGNAL':
          break;
        default:
          throw new Error(`${at(ins)}: ${ins.keyword} is not supported by this executor; extend test/support/dockerfile.ts`);
      }
    }
    roots.set(String(stage.index), root);
    if (stage.name) roots.set(stage.name, root);
    last = {
      root,
      workdir: path.join(root, state.workdir),
      imageWorkdir: state.workdir,
      env: state.env,
      cmd: state.cmd,
      user: state.user,
      exposed: state.exposed,
      runs,
    };
  }
  if (!last) throw new Error('Dockerfile has no stage');
  return last;
}

// Only Node images are stood in for by the host, and only by the same major version.
function checkBaseImage(base: string, nodeVersion: string): void {
  const m = /^(?:docker\.io\/)?(?:library\/)?node:(\d+)(?:[.-][\w.-]*)?(?:@sha256:[0-9a-f]+)?$/.exec(base);
  if (!m) throw new Error(`FROM ${base}: only node:<major> base images can be stood in for by the host here`);
  const hostMajor = nodeVersion.split('.')[0];
  if (m[1] !== hostMajor) throw new Error(`FROM ${base}: the host runs Node ${nodeVersion}, so it cannot stand in for Node ${m[1]}`);
}

function parseKeyValues(args: string, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!args.includes('=')) {
    const [k, ...rest] = args.split(/\s+/);
    if (!k) throw new Error(`${where}: expected NAME=value`);
    out[k] = rest.join(' ');
    return out;
  }
  for (const m of args.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    const raw = m[2] ?? '';
    out[m[1] as string] = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
  }
  return out;
}

function splitFlags(args: string, where: string): { flags: Record<string, string>; words: string[] } {
  const words = args.split(/\s+/).filter(Boolean);
  const flags: Record<string, string> = {};
  while (words[0]?.startsWith('--')) {
    const m = /^--([\w-]+)=(.*)$/.exec(words.shift() as string);
    if (!m) throw new Error(`${where}: expected --flag=value`);
    flags[m[1] as string] = m[2] as string;
  }
  if (words[0]?.startsWith('[')) throw new Error(`${where}: the JSON form of COPY is not supported here`);
  return { flags, words };
}

function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  const parsed = JSON.parse(args) as unknown;
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) throw new Error(`expected a JSON array of strings: ${args}`);
  return parsed as string[];
}

/** Copies a file or a directory tree; for context copies, `filter` sees context-relative paths. */
function copyTree(from: string, to: string, relBase: string | undefined, filter?: (rel: string) => boolean): void {
  const stat = fs.lstatSync(from);
  if (stat.isDirectory()) {
    fs.mkdirSync(to, { recursive: true });
    for (const name of fs.readdirSync(from)) {
      const rel = relBase === undefined ? undefined : relBase ? `${relBase}/${name}` : name;
      if (rel !== undefined && filter && !filter(rel)) continue;
      copyTree(path.join(from, name), path.join(to, name), rel, filter);
    }
    return;
  }
  fs.mkdirSync(path.dirname(to), { recursive: true });
  if (stat.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(from), to);
  else fs.copyFileSync(from, to);
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function sh(command: string, cwd: string, env: Record<string, string>, timeoutMs: number): Promise<void> {
  return run(['/bin/sh', '-c', command], cwd, env, timeoutMs);
}

function run(argv: string[], cwd: string, env: Record<string, string>, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (d: Buffer) => (output = (output + d.toString('utf8')).slice(-6000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`exit ${code ?? signal}${signal === 'SIGKILL' ? ` (killed after ${timeoutMs} ms)` : ''}\n${output}`));
    });
  });
}

/** Bytes of the files under `dir` as `du -sb` counts them (apparent sizes). */
export async function duBytes(dir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('du', ['-sb', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(Number(out.split('\t')[0])) : reject(new Error(`du exited ${code}`))));
  });
}

/**
 * Removes a scratch build in a detached `rm -rf` that outlives the caller: deleting a few hundred MB of
 * node_modules takes long on a busy disk, and nothing waits for it.
 */
export function removeInBackground(dir: string): void {
  spawn('rm', ['-rf', dir], { stdio: 'ignore', detached: true }).unref();
}
