/**
 * Reads profile YAML files and explains every problem in terms a clinician can act on:
 *
 *   prompts/intake.yaml:14 protocol[2].capture.type: must be one of yesno, number, date, text,
 *   choice — got 'bool'
 *
 * YAML syntax errors, unknown (misspelt) fields, wrong types and the cross-field checks all come
 * out in that one shape, pointing at the line to fix.
 */
import { readFileSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { basename, extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  LineCounter,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  parseDocument,
  type Document,
  type Node as YamlNode,
} from 'yaml';
import { z } from 'zod';
import { ValidationError } from '../infra/errors.ts';
import { conceptProblem, normalizeUtterance } from './safety-language.ts';
import {
  ProfileObject,
  SafetyConcept,
  clinicianErrorMap,
  formatPath,
  safeParseProfile,
  type Profile,
} from './schema.ts';
import { deepFreeze } from '../infra/freeze.ts';

export interface ProfileIssue {
  /** The file as the caller named it (relative paths stay relative). */
  file: string;
  /** 1-based. */
  line: number;
  column: number;
  /** Dotted path such as `protocol[2].capture.type`; empty for the file as a whole. */
  field: string;
  message: string;
}

export type LoadResult =
  | { ok: true; file: string; profile: Profile }
  | { ok: false; file: string; issues: ProfileIssue[] };

/** A profile file that does not validate. `issues` are ready to print, one per line. */
export class ProfileLoadError extends ValidationError {
  readonly problems: readonly ProfileIssue[];
  constructor(file: string, problems: readonly ProfileIssue[]) {
    const lines = problems.map(formatIssue);
    super('profile_invalid', `${file} is not a valid profile:\n  ${lines.join('\n  ')}`, lines);
    this.problems = problems;
  }
}

export interface ParseOptions {
  /** Shown in messages. */
  file: string;
  /**
   * Require `id` to match the file name (`intake.yaml` → `intake`), so `render intake` finds the
   * right file and two files can't claim one id.
   * @defaultValue true
   */
  idMatchesFileName?: boolean;
  /**
   * The concept library that `concepts:` ids refer to.
   * @defaultValue the bundled prompts/concepts/safety-concepts.yaml
   */
  concepts?: ConceptLibrary;
}

/** A parsed concept library: the shared, versioned definitions profiles refer to by id. */
export interface ConceptLibrary {
  /** As shown in messages. */
  readonly file: string;
  readonly version: number;
  readonly concepts: ReadonlyMap<string, SafetyConcept>;
  /**
   * Corrections for every concept (heard → meant): recogniser slips, dialect and a carer's third
   * person ("me chest", "his chest" for "my chest"). Copied into each concept that uses the meant
   * words; a concept's own `heardAs` wins.
   */
  readonly heardAs: Readonly<Record<string, string>>;
  /** Other ways of saying words, meant → forms, copied into each concept the same way. */
  readonly sayAlso: Readonly<Record<string, readonly string[]>>;
}

export type ConceptLibraryResult =
  { ok: true; library: ConceptLibrary } | { ok: false; file: string; issues: ProfileIssue[] };

export const ConceptLibrarySchema = z.strictObject({
  version: z.number().int().positive(),
  heardAs: z.record(z.string().min(1).max(80), z.string().min(1).max(80)).optional(),
  sayAlso: z
    .record(z.string().min(1).max(80), z.array(z.string().min(1).max(80)).min(1).max(20))
    .optional(),
  concepts: z.array(SafetyConcept).min(1, { error: 'needs at least one concept' }),
});

/** The library the profiles in this folder use. */
export const DEFAULT_CONCEPT_LIBRARY = fileURLToPath(
  new URL('./concepts/safety-concepts.yaml', import.meta.url),
);

/** Parses and validates a concept library's YAML text. Never throws for bad input. */
export function parseConceptLibrary(source: string, file: string): ConceptLibraryResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false });
  const at = (offset: number) => lineCounter.linePos(offset);
  if (doc.errors.length) {
    const issues = doc.errors.map((err): ProfileIssue => {
      const { line, col } = at(err.pos[0]);
      return { file, line, column: col, field: '', message: `YAML syntax: ${err.message}` };
    });
    return { ok: false, file, issues };
  }
  const data: unknown = doc.toJS();
  const parsed = ConceptLibrarySchema.safeParse(data, { error: clinicianErrorMap });
  const issues: ProfileIssue[] = parsed.success
    ? []
    : parsed.error.issues.map((i) => ({
        file,
        ...lineOf(locate(doc, i.path), at),
        field: formatPath(i.path),
        message: i.message,
      }));
  if (parsed.success) {
    const seen = new Set<string>();
    parsed.data.concepts.forEach((c, i) => {
      const where = lineOf(locate(doc, ['concepts', i, 'id']), at);
      if (seen.has(c.id)) {
        issues.push({
          file,
          ...where,
          field: `concepts[${i}].id`,
          message: `concept id '${c.id}' is used twice`,
        });
      }
      seen.add(c.id);
      const problem = conceptProblem(c);
      if (problem) issues.push({ file, ...where, field: `concepts[${i}]`, message: problem });
    });
  }
  if (!parsed.success || issues.length) return { ok: false, file, issues };
  const concepts = new Map(parsed.data.concepts.map((c) => [c.id, deepFreeze(c)]));
  const heardAs = Object.freeze({ ...parsed.data.heardAs });
  const sayAlso = Object.freeze({ ...parsed.data.sayAlso });
  return { ok: true, library: { file, version: parsed.data.version, concepts, heardAs, sayAlso } };
}

let bundled: ConceptLibraryResult | undefined;

/** The bundled library, read once. */
export function defaultConceptLibrary(): ConceptLibraryResult {
  if (!bundled) {
    const file = relative(process.cwd(), DEFAULT_CONCEPT_LIBRARY) || DEFAULT_CONCEPT_LIBRARY;
    bundled = parseConceptLibrary(readFileSync(DEFAULT_CONCEPT_LIBRARY, 'utf8'), file);
  }
  return bundled;
}

/**
 * Replaces each concept id under `safety[].concepts` with a copy of its library definition, so
 * the profile carries (and its published hash covers) the concepts it was approved with.
 * Returns the problems, with the positions of the entries it could not resolve.
 */
function expandConceptRefs(
  data: unknown,
  getLibrary: () => ConceptLibraryResult,
  issueAt: (path: (string | number)[], message: string) => ProfileIssue,
): { issues: ProfileIssue[]; unresolved: Set<string> } {
  const issues: ProfileIssue[] = [];
  const unresolved = new Set<string>();
  const rules = (data as { safety?: unknown } | null)?.safety;
  if (!Array.isArray(rules)) return { issues, unresolved };
  rules.forEach((rule: unknown, i) => {
    const concepts = (rule as { concepts?: unknown } | null)?.concepts;
    if (!Array.isArray(concepts)) return;
    concepts.forEach((entry: unknown, j) => {
      if (typeof entry !== 'string') return;
      const path = ['safety', i, 'concepts', j];
      const result = getLibrary();
      if (!result.ok) {
        unresolved.add(formatPath(path));
        if (!issues.some((x) => x.file === result.file)) issues.push(...result.issues);
        return;
      }
      const found = result.library.concepts.get(entry.trim());
      if (!found) {
        unresolved.add(formatPath(path));
        const known = [...result.library.concepts.keys()];
        const best = known
          .map((k) => ({ k, d: editDistance(entry, k) }))
          .sort((a, b) => a.d - b.d)[0];
        const hint =
          best && best.d <= Math.max(2, Math.floor(best.k.length / 3))
            ? ` — did you mean '${best.k}'?`
            : '';
        issues.push(
          issueAt(
            path,
            `unknown concept '${entry}'${hint} (concepts are defined in ${result.library.file})`,
          ),
        );
        return;
      }
      const copy = structuredClone(found);
      const heardAs = libraryHeardAs(copy, result.library.heardAs);
      const sayAlso = librarySayAlso(copy, result.library.sayAlso);
      concepts[j] = {
        ...copy,
        ...(heardAs ? { heardAs } : {}),
        ...(sayAlso ? { sayAlso } : {}),
        from: `${basename(result.library.file)} v${result.library.version}`,
      };
    });
  });
  return { issues, unresolved };
}

/**
 * The library's corrections that can apply to this concept (their meant words occur in one of
 * its terms), under the concept's own, which win. Undefined when there are none at all.
 */
function libraryHeardAs(
  c: SafetyConcept,
  library: Readonly<Record<string, string>>,
): Record<string, string> | undefined {
  const used = Object.entries(library).filter(([, meant]) => usesWords(c, meant));
  if (!used.length && !c.heardAs) return undefined;
  return { ...Object.fromEntries(used), ...c.heardAs };
}

/** The library's other forms for words this concept's terms use, under the concept's own. */
function librarySayAlso(
  c: SafetyConcept,
  library: Readonly<Record<string, readonly string[]>>,
): Record<string, string[]> | undefined {
  const used = Object.entries(library).filter(([meant]) => usesWords(c, meant));
  if (!used.length && !c.sayAlso) return undefined;
  return { ...Object.fromEntries(used.map(([m, f]) => [m, [...f]])), ...c.sayAlso };
}

/** Whether the words occur, whole, in one of the concept's terms. */
function usesWords(c: SafetyConcept, words: string): boolean {
  const terms = [
    ...Object.values(c.all ?? {}).flat(),
    ...(c.phrases ?? []),
    ...(c.except ?? []),
    ...(c.readings ?? []).flatMap((r) => r.near),
  ].map((t) => ` ${normalizeUtterance(t)} `);
  const m = ` ${normalizeUtterance(words)} `;
  return terms.some((t) => t.includes(m));
}

/** `file:line field: message`, the format editors and CI logs make clickable. */
export function formatIssue(issue: ProfileIssue): string {
  return `${issue.file}:${issue.line} ${issue.field ? `${issue.field}: ` : ''}${issue.message}`;
}

/** Parses and validates one profile's YAML text. Never throws for bad input. */
export function parseProfileSource(source: string, opts: ParseOptions): LoadResult {
  const { file } = opts;
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false });
  const at = (offset: number) => lineCounter.linePos(offset);

  if (doc.errors.length) {
    const issues: ProfileIssue[] = [];
    const seenLines = new Set<number>();
    for (const err of doc.errors) {
      const { line, col } = at(err.pos[0]);
      // One cascade of errors usually starts at a single line; report that line once.
      if (seenLines.has(line)) continue;
      seenLines.add(line);
      const sourceLine = source.split(/\r?\n/)[line - 1] ?? '';
      issues.push({
        file,
        line,
        column: col,
        field: '',
        message: `YAML syntax: ${yamlHint(err.code, err.message, sourceLine)}`,
      });
    }
    return { ok: false, file, issues };
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return { ok: false, file, issues: [{ file, line: 1, column: 1, field: '', message: why }] };
  }
  if (data === null || data === undefined) {
    const message = 'the file is empty; a profile starts with id, version, language, ...';
    return { ok: false, file, issues: [{ file, line: 1, column: 1, field: '', message }] };
  }

  const expanded = expandConceptRefs(
    data,
    () => (opts.concepts ? { ok: true, library: opts.concepts } : defaultConceptLibrary()),
    (path, message) => ({
      file,
      ...lineOf(locate(doc, path), at),
      field: formatPath(path),
      message,
    }),
  );
  const parsed = safeParseProfile(data);
  const issues = [
    ...expanded.issues,
    ...(parsed.success
      ? []
      : parsed.error.issues
          // An entry we already reported as an unknown concept is not also "not copied in".
          .filter((i) => !expanded.unresolved.has(formatPath(i.path)))
          .flatMap((i) => explain(i, doc, data))),
  ];
  if (parsed.success && (opts.idMatchesFileName ?? true)) {
    const expected = basename(file, extname(file));
    if (parsed.data.id !== expected) {
      const where = locate(doc, ['id']);
      issues.push({
        file,
        ...lineOf(where, at),
        field: 'id',
        message: `is '${parsed.data.id}' but the file is named '${basename(file)}'; rename the file to '${parsed.data.id}${extname(file)}' or change the id`,
      });
    }
  }
  if (issues.length || !parsed.success) {
    issues.sort((a, b) => a.line - b.line || a.column - b.column);
    return { ok: false, file, issues };
  }
  return { ok: true, file, profile: deepFreeze(parsed.data) };

  function explain(issue: z.core.$ZodIssue, d: Document, input: unknown): ProfileIssue[] {
    if (issue.code === 'unrecognized_keys') {
      const container = locate(d, issue.path);
      const known = knownKeysAt(issue.path, input);
      return issue.keys.map((key) => {
        const keyNode = isMap(container.node)
          ? container.node.items.find((p) => isPair(p) && scalarKey(p.key) === key)?.key
          : undefined;
        const pos = isNodeWithRange(keyNode)
          ? lineOf({ node: keyNode, key: keyNode, complete: true }, at)
          : lineOf(container, at);
        return {
          file,
          ...pos,
          field: formatPath([...issue.path, key]),
          message: unknownFieldMessage(key, known),
        };
      });
    }
    const where = locate(d, issue.path);
    let message = issue.message;
    if (!where.complete) {
      if (!message.startsWith('is missing')) message = `is missing (${message})`;
    } else if (isScalar(where.node) && where.node.value === null) {
      if (!message.startsWith('is empty')) message = `is empty (${message})`;
    } else if (showsValue(issue)) {
      message += ` — got ${describe(where.node, source)}`;
      if (bracesHint(where.node, source)) {
        message += `; text that starts with {{ must be wrapped in quotes: "{{...}} ..."`;
      }
    }
    const field = formatPath(issue.path);
    if (!field) message = `the file ${message}`;
    return [{ file, ...lineOf(where, at), field, message }];
  }
}

function showsValue(issue: z.core.$ZodIssue): boolean {
  switch (issue.code) {
    case 'invalid_type':
    case 'invalid_value':
    case 'invalid_union':
    case 'invalid_format':
      return true;
    case 'too_small':
    case 'too_big':
      return issue.origin === 'number';
    default:
      return false;
  }
}

interface Located {
  node: unknown;
  /** The key of the last map entry walked, which is where a reader looks for a field. */
  key: unknown;
  /** False when the path ends in a field that isn't in the file (a missing field). */
  complete: boolean;
}

function scalarKey(key: unknown): string | undefined {
  return isScalar(key) ? String(key.value) : undefined;
}

function isNodeWithRange(n: unknown): n is { range: [number, number, number] } {
  return typeof n === 'object' && n !== null && Array.isArray((n as { range?: unknown }).range);
}

function locate(doc: Document, path: readonly PropertyKey[]): Located {
  let node: unknown = doc.contents;
  let key: unknown;
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => scalarKey(p.key) === String(seg));
      if (!pair) return { node, key, complete: false };
      key = pair.key;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
      key = undefined;
      node = node.items[seg];
    } else {
      return { node, key, complete: false };
    }
  }
  return { node, key, complete: true };
}

function lineOf(where: Located, at: (offset: number) => { line: number; col: number }) {
  const anchor = isNodeWithRange(where.key)
    ? where.key
    : isNodeWithRange(where.node)
      ? where.node
      : undefined;
  if (!anchor) return { line: 1, column: 1 };
  const { line, col } = at(anchor.range[0]);
  return { line, column: col };
}

function describe(node: unknown, source: string): string {
  if (isScalar(node)) {
    const v = node.value;
    if (typeof v === 'string') {
      const short = v.length > 40 ? `${v.slice(0, 37)}...` : v;
      return `'${short.replace(/\n/g, ' ')}'`;
    }
    if (v === null) return 'nothing';
    return String(v);
  }
  if (isSeq(node)) return 'a list';
  if (isMap(node)) {
    return bracesHint(node, source) ? `'${sourceText(node, source)}'` : 'a section';
  }
  return 'something else';
}

function sourceText(node: YamlNode, source: string): string {
  const [start, end] = (node as { range?: [number, number, number] }).range ?? [0, 0, 0];
  const s = source.slice(start, end).replace(/\s+/g, ' ');
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** `firstMessage: {{patient.displayName}}, hi` parses as a YAML mapping, not text. */
function bracesHint(node: unknown, source: string): boolean {
  return isMap(node) && node.flow === true && sourceText(node, source).startsWith('{{');
}

function yamlHint(code: string, message: string, sourceLine: string): string {
  const base = message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '');
  if (/:\s*\{\{/.test(sourceLine)) {
    return `text that starts with {{ must be wrapped in quotes: "{{...}} ..." (${base})`;
  }
  switch (code) {
    case 'TAB_AS_INDENT':
      return 'indent with spaces, not tabs';
    case 'DUPLICATE_KEY': {
      const key = /^\s*(?:-\s+)?([^:#\s][^:#]*?)\s*:/.exec(sourceLine)?.[1];
      return `${key ? `'${key}'` : 'this field'} appears twice in the same section; keep only one`;
    }
    case 'BLOCK_AS_IMPLICIT_KEY':
    case 'MULTILINE_IMPLICIT_KEY':
      return `${base}: if this text contains ": ", wrap it in quotes; otherwise check the indentation`;
    case 'BAD_INDENT':
    case 'BAD_DEDENT':
      return `${base}: check the indentation of this line against the lines above`;
    case 'MISSING_CHAR':
      return `${base}: a quote or bracket opened above is never closed`;
    default:
      return base;
  }
}

/** The field names allowed at `path`, found by walking the schema alongside the data. */
function knownKeysAt(path: readonly PropertyKey[], data: unknown): string[] {
  let schema: z.ZodType = ProfileObject;
  let value: unknown = data;
  for (let i = 0; i <= path.length; i++) {
    for (;;) {
      if (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault) {
        schema = schema.unwrap() as z.ZodType;
      } else if (schema instanceof z.ZodDiscriminatedUnion) {
        const disc = schema.def.discriminator;
        const tag = (value as Record<string, unknown> | undefined)?.[disc];
        const option = (schema.options as z.ZodType[]).find(
          (o) =>
            o instanceof z.ZodObject &&
            (o.shape as Record<string, z.ZodType>)[disc] instanceof z.ZodLiteral &&
            ((o.shape as Record<string, z.ZodLiteral>)[disc]?.values.has(tag as never) ?? false),
        );
        if (!option) return [];
        schema = option;
      } else break;
    }
    if (i === path.length) break;
    const seg = path[i];
    if (schema instanceof z.ZodObject && typeof seg === 'string') {
      const next = (schema.shape as Record<string, z.ZodType | undefined>)[seg];
      if (!next) return [];
      schema = next;
      value = (value as Record<string, unknown> | undefined)?.[seg];
    } else if (schema instanceof z.ZodArray && typeof seg === 'number') {
      schema = schema.element as z.ZodType;
      value = Array.isArray(value) ? value[seg] : undefined;
    } else return [];
  }
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] ?? 0;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((row[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, prev + cost);
      prev = tmp;
    }
  }
  return row[b.length] ?? 0;
}

function unknownFieldMessage(key: string, known: readonly string[]): string {
  const best = known
    .map((k) => ({ k, d: editDistance(key.toLowerCase(), k.toLowerCase()) }))
    .sort((a, b) => a.d - b.d)[0];
  if (best && best.d <= Math.max(1, Math.floor(best.k.length / 3)) && best.d < key.length) {
    return `unknown field '${key}' — did you mean '${best.k}'?`;
  }
  return known.length
    ? `unknown field '${key}' (allowed here: ${known.join(', ')})`
    : `unknown field '${key}'`;
}

/** Reads and validates one file. `displayPath` is how messages name it. */
export async function loadProfileFile(
  path: string,
  opts: { displayPath?: string; idMatchesFileName?: boolean } = {},
): Promise<LoadResult> {
  const file = opts.displayPath ?? path;
  let source: string;
  try {
    source = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    const message = code === 'ENOENT' ? 'file not found' : `cannot read the file (${String(code)})`;
    return { ok: false, file, issues: [{ file, line: 1, column: 1, field: '', message }] };
  }
  return parseProfileSource(source, {
    file,
    ...(opts.idMatchesFileName === undefined ? {} : { idMatchesFileName: opts.idMatchesFileName }),
  });
}

/** Like loadProfileFile, but returns the profile or throws ProfileLoadError. */
export async function readProfile(
  path: string,
  opts: { displayPath?: string } = {},
): Promise<Profile> {
  const result = await loadProfileFile(path, opts);
  if (!result.ok) throw new ProfileLoadError(result.file, result.issues);
  return result.profile;
}

/** The profile files in a folder (`*.yaml`, `*.yml`), sorted by name. */
export async function listProfileFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  return names
    .filter((n) => n.endsWith('.yaml') || n.endsWith('.yml'))
    .sort()
    .map((n) => join(dir, n));
}
