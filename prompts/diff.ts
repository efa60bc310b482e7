/**
 * A field-level diff of two profiles, for reviewing a change before or after publishing.
 * Steps and safety rules are matched by id, so inserting a step shows as one added step rather
 * than every later step "changing".
 */
import type { Profile } from './schema.ts';

export type FieldChange =
  | { kind: 'added'; path: string; after: unknown }
  | { kind: 'removed'; path: string; before: unknown }
  | { kind: 'changed'; path: string; before: unknown; after: unknown }
  | { kind: 'reordered'; path: string; before: string[]; after: string[] };

type Path = string;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const hasIds = (items: readonly unknown[]): items is { id: string }[] =>
  items.every((i) => isObject(i) && typeof i.id === 'string');

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function join(path: Path, key: string): Path {
  return path ? `${path}.${key}` : key;
}

function walk(a: unknown, b: unknown, path: Path, out: FieldChange[]): void {
  if (same(a, b)) return;
  if (a === undefined) {
    out.push({ kind: 'added', path, after: b });
  } else if (b === undefined) {
    out.push({ kind: 'removed', path, before: a });
  } else if (Array.isArray(a) && Array.isArray(b) && hasIds(a) && hasIds(b)) {
    const before = new Map(a.map((x) => [x.id, x]));
    const after = new Map(b.map((x) => [x.id, x]));
    const common = (list: { id: string }[], other: Map<string, unknown>) =>
      list.map((x) => x.id).filter((id) => other.has(id));
    const orderBefore = common(a, after);
    const orderAfter = common(b, before);
    if (!same(orderBefore, orderAfter)) {
      out.push({ kind: 'reordered', path, before: orderBefore, after: orderAfter });
    }
    for (const x of a) walk(x, after.get(x.id), `${path}[id=${x.id}]`, out);
    for (const x of b) if (!before.has(x.id)) walk(undefined, x, `${path}[id=${x.id}]`, out);
  } else if (isObject(a) && isObject(b)) {
    const keys = [...Object.keys(a), ...Object.keys(b).filter((k) => !(k in a))];
    for (const k of keys) walk(a[k], b[k], join(path, k), out);
  } else {
    out.push({ kind: 'changed', path, before: a, after: b });
  }
}

/** Every field that differs, in profile order. `version` is left out: it always differs. */
export function diffProfiles(a: Profile, b: Profile): FieldChange[] {
  const out: FieldChange[] = [];
  const { version: _va, ...restA } = a;
  const { version: _vb, ...restB } = b;
  walk(restA, restB, '', out);
  return out;
}

function short(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 100 ? `${s.slice(0, 97)}...` : s;
}

const isLong = (v: unknown) => typeof v === 'string' && (v.length > 60 || v.includes('\n'));

function textLines(sign: '-' | '+', v: string): string[] {
  return v
    .trimEnd()
    .split('\n')
    .map((l) => `      ${sign} ${l}`);
}

/** Human-readable lines for a diff; an empty diff says so. */
export function formatDiff(changes: readonly FieldChange[]): string[] {
  if (!changes.length) return ['  no differences'];
  const lines: string[] = [];
  for (const c of changes) {
    switch (c.kind) {
      case 'added':
        lines.push(`  + ${c.path}: ${short(c.after)}`);
        break;
      case 'removed':
        lines.push(`  - ${c.path}: ${short(c.before)}`);
        break;
      case 'reordered':
        lines.push(`  ~ ${c.path} order: ${c.before.join(', ')} → ${c.after.join(', ')}`);
        break;
      case 'changed': {
        const { before, after } = c;
        if (Array.isArray(before) && Array.isArray(after)) {
          const added = after.filter((x) => !before.some((y) => same(x, y)));
          const removed = before.filter((x) => !after.some((y) => same(x, y)));
          const parts = [
            ...(added.length ? [`added ${added.map(short).join(', ')}`] : []),
            ...(removed.length ? [`removed ${removed.map(short).join(', ')}`] : []),
          ];
          lines.push(`  ~ ${c.path}: ${parts.length ? parts.join('; ') : 'order changed'}`);
        } else if (isLong(before) || isLong(after)) {
          lines.push(`  ~ ${c.path}:`);
          lines.push(...textLines('-', String(before)), ...textLines('+', String(after)));
        } else {
          lines.push(`  ~ ${c.path}: ${short(before)} → ${short(after)}`);
        }
        break;
      }
    }
  }
  return lines;
}
