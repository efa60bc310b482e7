/**
 * `voicecare prompts <validate|render|preview|publish|list|diff>`: the clinician's tools for
 * profiles. Output is for people; errors say what to fix and where.
 *
 * Exit codes: 0 ok, 1 a profile or an operation failed, 2 the command line was wrong.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { config, type Config } from '../infra/config.ts';
import { sessionsCli } from '../dispatcher/cli.ts';
import { ConfigError } from '../infra/errors.ts';
import { connectMongo, type MongoHandle } from '../infra/mongo.ts';
import { diffProfiles, formatDiff } from './diff.ts';
import {
  ProfileLoadError,
  formatIssue,
  listProfileFiles,
  loadProfileFile,
  readProfile,
} from './loader.ts';
import { MongoProfileStore } from './mongo-store.ts';
import { PreviewError, synthesizePreview } from './preview.ts';
import type { Capture, Profile } from './schema.ts';
import { PublishConflictError, type PublishedProfile } from './store.ts';
import { TemplateError, renderProfile, type TemplateValues } from './template.ts';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  cwd: string;
  /** Configuration, loaded only by the commands that need it. */
  config(): Config;
}

const processIo: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  cwd: process.cwd(),
  config,
};

/** The repository's profile folder: this file's own folder. */
export const DEFAULT_PROFILE_DIR = fileURLToPath(new URL('.', import.meta.url));

export const USAGE = `Usage: voicecare prompts <command> [options]

Clinician profiles: check them, hear them, and publish them as immutable versions.

Commands:
  validate [files...]              Check profiles (default: every profile in the folder).
  render <id|file> [--name NAME]   Print the instructions, first message and questions with
                                   the patient's name filled in.
  preview <id|file> --out FILE.wav [--name NAME] [--offline]
                                   Speak the first message into a WAV file in the profile's
                                   voice. Without an API key for a cloud voice, or with
                                   --offline, the local voice (espeak-ng) is used instead.
  publish <id|file> --author NAME --note TEXT
                                   Publish the profile as an immutable version in MongoDB.
  list [id]                        Published versions, oldest first.
  diff <id> <v1> <v2>              Field-by-field changes between two published versions.
                                   Either version may also be a YAML file.

Options:
  --dir DIR     Folder of profiles (default: the repository's prompts/ folder).
  -h, --help    Show this help.

A profile is named by its id (intake) or by a file path (prompts/intake.yaml).
MongoDB and voice API keys come from the environment (MONGODB_URL, MONGODB_DB,
OPENAI_API_KEY, ELEVENLABS_API_KEY, ...).

Exit codes: 0 ok, 1 a profile or an operation failed, 2 the command line was wrong.
`;

const TOP_USAGE = `Usage: voicecare <area> <command> [options]

Areas:
  prompts    Clinician profiles: validate, render, preview, publish, list, diff.
  sessions   Operators' tools: replay a failed or dead-lettered session.

Run "voicecare <area> --help" for details.
`;

class UsageError extends Error {}
/** A failure already explained to the user; just exit 1. */
class Failed extends Error {}

const OPTIONS = {
  dir: { type: 'string' },
  name: { type: 'string' },
  out: { type: 'string' },
  offline: { type: 'boolean' },
  author: { type: 'string' },
  note: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = {
  dir?: string | undefined;
  name?: string | undefined;
  out?: string | undefined;
  offline?: boolean | undefined;
  author?: string | undefined;
  note?: string | undefined;
  help?: boolean | undefined;
};

const ALLOWED: Record<string, readonly (keyof Flags)[]> = {
  validate: ['dir'],
  render: ['dir', 'name'],
  preview: ['dir', 'name', 'out', 'offline'],
  publish: ['dir', 'author', 'note'],
  list: [],
  diff: ['dir'],
};

export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const [area, ...rest] = argv;
  if (area === undefined) {
    io.err(TOP_USAGE);
    return 2;
  }
  if (area === '-h' || area === '--help' || area === 'help') {
    io.out(TOP_USAGE);
    return 0;
  }
  if (area === 'sessions') {
    return sessionsCli(rest, { out: io.out, err: io.err, config: io.config });
  }
  if (area !== 'prompts') {
    io.err(`voicecare: unknown area '${area}'\n\n${TOP_USAGE}`);
    return 2;
  }
  try {
    return await prompts(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`voicecare prompts: ${err.message}\nRun "voicecare prompts --help" for usage.\n`);
      return 2;
    }
    if (err instanceof Failed) return 1;
    if (err instanceof ConfigError) {
      io.err(`voicecare prompts: ${err.message}\n`);
      return 1;
    }
    const why = err instanceof Error ? err.message : String(err);
    io.err(`voicecare prompts: ${why}\n`);
    return 1;
  }
}

async function prompts(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed: { values: Flags; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const { values: flags, positionals } = parsed;
  const [command, ...args] = positionals;
  if (flags.help || command === 'help') {
    io.out(USAGE);
    return 0;
  }
  if (command === undefined) {
    io.err(USAGE);
    return 2;
  }
  const allowed = ALLOWED[command];
  if (!allowed) throw new UsageError(`unknown command '${command}'`);
  for (const key of Object.keys(flags) as (keyof Flags)[]) {
    if (key !== 'help' && !allowed.includes(key)) {
      throw new UsageError(`${command} does not take --${key}`);
    }
  }
  const dir = resolve(io.cwd, flags.dir ?? DEFAULT_PROFILE_DIR);
  const ctx: Ctx = { io, dir, flags };
  switch (command) {
    case 'validate':
      return validate(ctx, args);
    case 'render':
      return render(ctx, oneArg(command, args, '<id|file>'));
    case 'preview':
      return preview(ctx, oneArg(command, args, '<id|file>'));
    case 'publish':
      return publish(ctx, oneArg(command, args, '<id|file>'));
    case 'list':
      if (args.length > 1) throw new UsageError('list takes at most one profile id');
      return list(ctx, args[0]);
    case 'diff': {
      const [id, v1, v2, ...extra] = args;
      if (!id || !v1 || !v2 || extra.length) {
        throw new UsageError('diff needs <id> <v1> <v2>, e.g. "diff intake 1 2"');
      }
      return diff(ctx, id, v1, v2);
    }
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

interface Ctx {
  io: CliIo;
  dir: string;
  flags: Flags;
}

function oneArg(command: string, args: readonly string[], what: string): string {
  if (args.length !== 1 || !args[0]) throw new UsageError(`${command} needs exactly one ${what}`);
  return args[0];
}

/** How to show a path: relative to where the user is, when that is shorter. */
function display(io: CliIo, path: string): string {
  const rel = relative(io.cwd, path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

const looksLikeFile = (arg: string) =>
  arg.endsWith('.yaml') || arg.endsWith('.yml') || arg.includes('/') || arg.includes('\\');

async function profilePath(ctx: Ctx, arg: string): Promise<string> {
  if (looksLikeFile(arg)) return resolve(ctx.io.cwd, arg);
  const path = join(ctx.dir, `${arg}.yaml`);
  if (existsSync(path)) return path;
  const known = existsSync(ctx.dir)
    ? (await listProfileFiles(ctx.dir)).map((f) =>
        f.replace(/^.*[\\/]/, '').replace(/\.ya?ml$/, ''),
      )
    : [];
  ctx.io.err(
    `no profile '${arg}' in ${display(ctx.io, ctx.dir)}${known.length ? ` (there are: ${known.join(', ')})` : ''}\n`,
  );
  throw new Failed();
}

/** Loads and validates, printing every problem; throws Failed when invalid. */
async function loadOrFail(ctx: Ctx, arg: string): Promise<Profile> {
  const path = await profilePath(ctx, arg);
  const result = await loadProfileFile(path, { displayPath: display(ctx.io, path) });
  if (result.ok) return result.profile;
  for (const issue of result.issues) ctx.io.err(`${formatIssue(issue)}\n`);
  ctx.io.err(
    `${result.file} is not a valid profile (${plural(result.issues.length, 'problem')})\n`,
  );
  throw new Failed();
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

async function validate(ctx: Ctx, files: readonly string[]): Promise<number> {
  const paths = files.length
    ? files.map((f) => resolve(ctx.io.cwd, f))
    : existsSync(ctx.dir)
      ? await listProfileFiles(ctx.dir)
      : [];
  if (!paths.length) {
    ctx.io.err(`no profiles found in ${display(ctx.io, ctx.dir)}\n`);
    return 1;
  }
  let bad = 0;
  for (const path of paths) {
    const result = await loadProfileFile(path, { displayPath: display(ctx.io, path) });
    if (result.ok) {
      const p = result.profile;
      ctx.io.out(
        `ok    ${result.file}  (${p.id} v${p.version}: ${plural(p.protocol.length, 'step')}, ${plural(p.safety.length, 'safety rule')})\n`,
      );
    } else {
      bad++;
      ctx.io.out(`FAIL  ${result.file}\n`);
      for (const issue of result.issues) ctx.io.err(`${formatIssue(issue)}\n`);
    }
  }
  const summary = bad
    ? `${bad} of ${plural(paths.length, 'profile')} failed`
    : `all ${plural(paths.length, 'profile')} valid`;
  if (bad) ctx.io.err(`${summary}\n`);
  else ctx.io.out(`${summary}\n`);
  return bad ? 1 : 0;
}

function valuesFrom(flags: Flags): TemplateValues {
  return flags.name === undefined ? {} : { 'patient.displayName': flags.name };
}

function renderOrFail(ctx: Ctx, profile: Profile): Profile {
  try {
    return renderProfile(profile, valuesFrom(ctx.flags));
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    for (const line of err.issues) ctx.io.err(`${line}\n`);
    if (err.missing.some((m) => m.variable === 'patient.displayName')) {
      ctx.io.err('pass --name "..." to give patient.displayName\n');
    }
    throw new Failed();
  }
}

function describeCapture(c: Capture): string {
  switch (c.type) {
    case 'yesno':
      return 'yes/no';
    case 'number': {
      const range =
        c.min !== undefined || c.max !== undefined ? ` ${c.min ?? '…'}–${c.max ?? '…'}` : '';
      return `number${range}${c.unit ? ` ${c.unit}` : ''}`;
    }
    case 'choice':
      return `choice: ${c.choices.join(' | ')}`;
    default:
      return c.type;
  }
}

function section(title: string, body: string): string {
  return `${title}\n${'-'.repeat(title.length)}\n${body.trimEnd()}\n\n`;
}

async function render(ctx: Ctx, arg: string): Promise<number> {
  const profile = await loadOrFail(ctx, arg);
  const r = renderOrFail(ctx, profile);
  const who =
    ctx.flags.name === undefined
      ? 'no patient name given, so fallbacks are used'
      : `patient.displayName = ${JSON.stringify(ctx.flags.name)}`;
  const steps = r.protocol
    .map(
      (s, i) =>
        `${i + 1}. [${s.capture.field}: ${describeCapture(s.capture)}]${s.confirm ? ' (confirmed)' : ''}\n   ${s.ask}` +
        (s.reprompt ? `\n   If unclear: ${s.reprompt}` : ''),
    )
    .join('\n');
  ctx.io.out(
    `${r.id} v${r.version} (${r.language}), ${who}\n\n` +
      section('Instructions', r.instructions) +
      section('First message', r.firstMessage) +
      section('Questions', steps) +
      (r.closingMessage ? section('Closing message', r.closingMessage) : ''),
  );
  return 0;
}

async function preview(ctx: Ctx, arg: string): Promise<number> {
  const out = ctx.flags.out;
  if (!out) throw new UsageError('preview needs --out FILE.wav');
  const profile = await loadOrFail(ctx, arg);
  const rendered = renderOrFail(ctx, profile);
  const needsCloud = profile.voice.provider !== 'local' && !ctx.flags.offline;
  const outPath = resolve(ctx.io.cwd, out);
  try {
    const result = await synthesizePreview({
      text: rendered.firstMessage,
      voice: profile.voice,
      language: profile.language,
      outPath,
      offline: ctx.flags.offline ?? false,
      providers: needsCloud ? ctx.io.config().providers : undefined,
    });
    if (result.fallbackReason) ctx.io.err(`note: ${result.fallbackReason}\n`);
    ctx.io.out(
      `wrote ${display(ctx.io, outPath)}: ${(result.durationMs / 1000).toFixed(1)} s, ${result.detail}\n`,
    );
    return 0;
  } catch (err) {
    if (err instanceof PreviewError) {
      ctx.io.err(`preview failed: ${err.message}\n`);
      throw new Failed();
    }
    throw err;
  }
}

/** Runs `fn` with a connected store, and always disconnects. */
async function withStore<T>(ctx: Ctx, fn: (store: MongoProfileStore) => Promise<T>): Promise<T> {
  const cfg = ctx.io.config();
  let mongo: MongoHandle;
  try {
    mongo = await connectMongo(cfg.mongo);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    ctx.io.err(`cannot reach MongoDB at ${safeUrl(cfg.mongo.url)}: ${why}\n`);
    throw new Failed();
  }
  try {
    return await fn(new MongoProfileStore({ db: mongo.db }));
  } finally {
    await mongo.close();
  }
}

/** The URL without credentials, for messages. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(the configured MongoDB URL)';
  }
}

async function publish(ctx: Ctx, arg: string): Promise<number> {
  const { author, note } = ctx.flags;
  if (!author?.trim()) throw new UsageError('publish needs --author NAME (who approved it)');
  if (!note?.trim()) throw new UsageError('publish needs --note TEXT (what changed and why)');
  const profile = await loadOrFail(ctx, arg);
  return withStore(ctx, async (store) => {
    try {
      const { created, published } = await store.publish(profile, { author, note });
      ctx.io.out(
        created
          ? `published ${published.id} v${published.version} (${published.hash.slice(0, 19)}) by ${published.author}\n`
          : `${published.id} v${published.version} is already published with identical content (${published.hash.slice(0, 19)}); nothing to do\n`,
      );
      return 0;
    } catch (err) {
      if (err instanceof PublishConflictError) {
        ctx.io.err(`${err.message}\n`);
        throw new Failed();
      }
      throw err;
    }
  });
}

function table(rows: readonly string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '),
    )
    .join('\n');
}

async function list(ctx: Ctx, id: string | undefined): Promise<number> {
  return withStore(ctx, async (store) => {
    const versions = await store.list(id);
    if (!versions.length) {
      ctx.io.out(id ? `no published versions of '${id}'\n` : 'no published profiles\n');
      return 0;
    }
    const rows = [
      ['PROFILE', 'VERSION', 'PUBLISHED (UTC)', 'AUTHOR', 'HASH', 'NOTE'],
      ...versions.map((v) => [
        v.id,
        `v${v.version}`,
        v.publishedAt.toISOString().slice(0, 16).replace('T', ' '),
        v.author,
        v.hash.replace(/^sha256:/, '').slice(0, 12),
        v.note.length > 60 ? `${v.note.slice(0, 57)}...` : v.note,
      ]),
    ];
    ctx.io.out(`${table(rows)}\n`);
    return 0;
  });
}

interface Side {
  label: string;
  profile: Profile;
}

async function diff(ctx: Ctx, id: string, v1: string, v2: string): Promise<number> {
  const isVersion = (v: string) => /^v?\d+$/.test(v);
  const loadSide = async (store: MongoProfileStore | undefined, v: string): Promise<Side> => {
    if (!isVersion(v)) {
      const path = resolve(ctx.io.cwd, v);
      try {
        return {
          label: display(ctx.io, path),
          profile: await readProfile(path, { displayPath: display(ctx.io, path) }),
        };
      } catch (err) {
        if (err instanceof ProfileLoadError) {
          for (const line of err.issues) ctx.io.err(`${line}\n`);
          throw new Failed();
        }
        throw err;
      }
    }
    const n = Number(v.replace(/^v/, ''));
    const found: PublishedProfile | null | undefined = await store?.get(id, n);
    if (!found) {
      ctx.io.err(`'${id}' has no published version ${n}\n`);
      throw new Failed();
    }
    return {
      label: `v${n} (${found.publishedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC by ${found.author}: ${found.note})`,
      profile: found.profile,
    };
  };
  const load = async (store?: MongoProfileStore) =>
    [await loadSide(store, v1), await loadSide(store, v2)] as const;
  const [a, b] =
    isVersion(v1) || isVersion(v2) ? await withStore(ctx, (store) => load(store)) : await load();
  for (const side of [a, b]) {
    if (side.profile.id !== id) {
      ctx.io.err(`${side.label} is profile '${side.profile.id}', not '${id}'\n`);
      return 1;
    }
  }
  ctx.io.out(`${id}\n  from ${a.label}\n  to   ${b.label}\n\n`);
  const changes = diffProfiles(a.profile, b.profile);
  ctx.io.out(`${formatDiff(changes).join('\n')}\n`);
  if (changes.length) ctx.io.out(`\n${plural(changes.length, 'change')}\n`);
  return 0;
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`voicecare: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
