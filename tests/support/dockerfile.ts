/**
 * Reads a Dockerfile and its .dockerignore, and assembles what each stage would hold in plain
 * folders, with no Docker daemon: COPY from the build context or another stage, and the few RUN
 * commands the Dockerfile uses. tests/image-contents.test.ts runs the services from the result,
 * so the test and the image cannot drift apart.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Instruction {
  op: string;
  /** The rest of the line, continuations joined. */
  args: string;
}

export interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

/** Joins `\` continuations, drops comments, substitutes ARG defaults in FROM lines. */
export function parseDockerfile(text: string): Stage[] {
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (!pending && (line.trim() === '' || line.trim().startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    lines.push((pending + line.trim()).trim());
    pending = '';
  }
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of lines) {
    const [op = '', ...rest] = line.split(/\s+/);
    const body = rest.join(' ');
    const upper = op.toUpperCase();
    if (upper === 'ARG' && stages.length === 0) {
      const [k = '', v = ''] = body.split('=');
      args.set(k, v);
    } else if (upper === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(body);
      if (!m) throw new Error(`cannot read FROM ${body}`);
      const from = m[1]!.replace(/\$\{(\w+)\}/g, (_, k: string) => args.get(k) ?? '');
      stages.push({ name: m[2] ?? `stage${stages.length}`, from, instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`${op} before FROM`);
      stage.instructions.push({ op: upper, args: body });
    }
  }
  return stages;
}

/** `.dockerignore` semantics: patterns in order, the last match wins, `!` re-includes. */
export function dockerignoreFilter(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const include = l.startsWith('!');
      const pattern = (include ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
      const re = pattern
        .split('/')
        .map((part) =>
          part === '**'
            ? '.*'
            : part
                .replace(/[.+^${}()|[\]\\]/g, '\\$&')
                .replace(/\*/g, '[^/]*')
                .replace(/\?/g, '[^/]'),
        )
        .join('/')
        .replace(/\.\*\//g, '(?:.*/)?');
      return { include, re: new RegExp(`^${re}(?:/.*)?$`) };
    });
  return (path) => {
    let included = true;
    for (const r of rules) if (r.re.test(path)) included = r.include;
    return included;
  };
}

/** JSON-array (exec) form only: shell forms would hide what PID 1 is. */
export function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) {
    throw new Error(`not an exec-form array: ${args}`);
  }
  return parsed as string[];
}

export interface AssembledTarget {
  /** The folder standing for WORKDIR (/app) of the target. */
  dir: string;
  env: Record<string, string>;
  user: string | undefined;
  entrypoint: string[];
  cmd: string[];
  healthcheck: string | undefined;
  /** Debian packages the stages install with apt-get. */
  debs: string[];
}

export interface AssembleOptions {
  root: string;
  stages: Stage[];
  /** Files of the build context (relative paths), already filtered by .dockerignore. */
  context: string[];
  /** Where the stage folders go. */
  workDir: string;
  /**
   * A full `npm ci` (dev dependencies included) is replaced by a link to this folder: it is the
   * same lock file installed with dev dependencies, and the build stage's output is what counts.
   */
  devNodeModules: string;
  log?: (line: string) => void;
}

/** Builds the named stage and the stages it depends on, memoised per stage. */
export class StageAssembler {
  readonly #o: AssembleOptions;
  readonly #done = new Map<string, Promise<AssembledTarget>>();

  constructor(opts: AssembleOptions) {
    this.#o = opts;
  }

  stage(name: string): Promise<AssembledTarget> {
    let p = this.#done.get(name);
    if (!p) {
      p = this.#build(name);
      this.#done.set(name, p);
    }
    return p;
  }

  async #build(name: string): Promise<AssembledTarget> {
    const stage = this.#o.stages.find((s) => s.name === name);
    if (!stage) throw new Error(`no stage ${name}`);
    const parent = this.#o.stages.find((s) => s.name === stage.from);
    const base = parent ? await this.stage(parent.name) : undefined;
    // A stage built FROM another continues in the same filesystem: share the folder.
    const dir = base?.dir ?? join(this.#o.workDir, name);
    mkdirSync(dir, { recursive: true });
    const t: AssembledTarget = {
      dir,
      env: { ...base?.env },
      user: base?.user,
      entrypoint: base?.entrypoint ?? [],
      cmd: base?.cmd ?? [],
      healthcheck: base?.healthcheck,
      debs: [...(base?.debs ?? [])],
    };
    for (const ins of stage.instructions) {
      switch (ins.op) {
        case 'WORKDIR':
          if (ins.args !== '/app') throw new Error(`WORKDIR ${ins.args}: the test assumes /app`);
          break;
        case 'COPY':
          await this.#copy(ins.args, dir);
          break;
        case 'RUN':
          await this.#run(ins.args, t);
          break;
        case 'ENV':
          for (const m of ins.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) {
            t.env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
          }
          break;
        case 'USER':
          t.user = ins.args;
          break;
        case 'ENTRYPOINT':
          t.entrypoint = execForm(ins.args);
          break;
        case 'CMD':
          t.cmd = execForm(ins.args);
          break;
        case 'HEALTHCHECK':
          t.healthcheck = ins.args;
          break;
        case 'EXPOSE':
        case 'STOPSIGNAL':
        case 'ARG':
          break;
        default:
          throw new Error(`the test does not know ${ins.op}`);
      }
    }
    return t;
  }

  async #copy(args: string, dir: string): Promise<void> {
    const words = args.split(/\s+/);
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
    const paths = words.filter((w) => !w.startsWith('--'));
    const dest = paths.pop()!;
    const to = (p: string) => join(dir, dest.replace(/^\.\/?/, ''), p);
    for (const src of paths) {
      if (from) {
        const source = await this.stage(from);
        const rel = src.replace(/^\/app\/?/, '');
        const target = dest.endsWith('/') ? to(rel.split('/').pop()!) : to('');
        cpSync(join(source.dir, rel), target, { recursive: true, verbatimSymlinks: true });
        continue;
      }
      const clean = src === '.' || src === './' ? '' : src.replace(/^\.\//, '');
      const isFile = clean !== '' && statSync(join(this.#o.root, clean)).isFile();
      const picked = this.#o.context.filter(
        (f) => clean === '' || f === clean || f.startsWith(`${clean}/`),
      );
      if (picked.length === 0) throw new Error(`COPY ${src}: not in the build context`);
      for (const f of picked) {
        // A file goes into a `dir/` destination or becomes it; a folder's tree goes under it.
        const target = isFile
          ? dest.endsWith('/')
            ? to(f.split('/').pop()!)
            : to('')
          : to(clean === '' ? f : f.slice(clean.length + 1));
        mkdirSync(dirname(target), { recursive: true });
        cpSync(join(this.#o.root, f), target);
      }
    }
  }

  async #run(command: string, t: AssembledTarget): Promise<void> {
    for (const part of command.split('&&').map((s) => s.trim())) {
      const log = this.#o.log ?? (() => undefined);
      if (/^npm ci\b/.test(part)) {
        if (part.includes('--omit=dev')) {
          log(`npm ci --omit=dev in ${t.dir}`);
          // The npm cache makes this quick; nothing is fetched that the cache already has.
          await run('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'], {
            cwd: t.dir,
            timeout: 300_000,
            maxBuffer: 64 * 1024 * 1024,
          });
        } else if (!existsSync(join(t.dir, 'node_modules'))) {
          symlinkSync(this.#o.devNodeModules, join(t.dir, 'node_modules'), 'dir');
        }
      } else if (/^npm run build$/.test(part)) {
        log(`npm run build in ${t.dir}`);
        await run('npm', ['run', 'build'], { cwd: t.dir, timeout: 300_000 });
      } else if (/^apt-get install\b/.test(part)) {
        t.debs.push(...part.split(/\s+/).filter((w, i) => i > 1 && !w.startsWith('-')));
      } else if (/^apt-get update$|^rm -rf \/var\/lib\/apt\/lists\/\*$/.test(part)) {
        // Package-index housekeeping: nothing to reproduce.
      } else {
        throw new Error(`the test does not know RUN ${part}`);
      }
    }
  }
}

/** Reads `Dockerfile` and `.dockerignore` at `root`, and lists the build context. */
export async function readImageSpec(root: string): Promise<{ stages: Stage[]; context: string[] }> {
  const stages = parseDockerfile(readFileSync(join(root, 'Dockerfile'), 'utf8'));
  const keep = dockerignoreFilter(readFileSync(join(root, '.dockerignore'), 'utf8'));
  const { stdout } = await run('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    maxBuffer: 16 * 1024 * 1024,
  });
  const context = stdout
    .split('\n')
    .filter(Boolean)
    .filter((f) => existsSync(join(root, f)) && keep(f));
  return { stages, context };
}
