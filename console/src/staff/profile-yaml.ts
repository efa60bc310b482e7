/**
 * Profile YAML for the editor and the form, through the `yaml` package's Document API so that
 * comments and the author's layout survive a change made in the form.
 */
import { Document, isScalar, isSeq, parseDocument } from 'yaml';

const STRINGIFY = { lineWidth: 100 } as const;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * A published profile as a draft's starting text, with the next version number. Concepts the
 * loader copied from the library (they carry `from`) go back to their ids: the loader copies
 * them in again on validate and publish, and the text stays the size a person wrote.
 */
export function toDraftYaml(profile: Record<string, unknown>, version: number): string {
  const copy = structuredClone(profile) as Record<string, Json>;
  copy['version'] = version;
  const safety = copy['safety'];
  if (Array.isArray(safety)) {
    for (const rule of safety) {
      if (!rule || typeof rule !== 'object' || Array.isArray(rule)) continue;
      const concepts = rule['concepts'];
      if (!Array.isArray(concepts)) continue;
      rule['concepts'] = concepts.map((c) =>
        c && typeof c === 'object' && !Array.isArray(c) && typeof c['from'] === 'string'
          ? String(c['id'])
          : c,
      );
    }
  }
  return new Document(copy).toString(STRINGIFY);
}

export interface FormFields {
  instructions: string;
  firstMessage: string;
  voice: { provider: string; voiceId: string; speed: number | undefined };
  safety: { id: string; phrases: string[] }[];
}

export type FormRead = { ok: true; fields: FormFields } | { ok: false; reason: string };

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined ? '' : String(v));

/** The form's fields as the YAML has them, or why the form cannot follow it right now. */
export function readForm(text: string): FormRead {
  const doc = parseDocument(text);
  if (doc.errors.length) {
    const first = doc.errors[0];
    const line = first?.linePos?.[0]?.line;
    return {
      ok: false,
      reason: `the YAML cannot be read${line ? ` (line ${line})` : ''}; fix it to use the form`,
    };
  }
  const data: unknown = doc.toJS();
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    return { ok: false, reason: 'the YAML is not a profile (a mapping of fields)' };
  }
  const p = data as Record<string, unknown>;
  const voice = (p['voice'] ?? {}) as Record<string, unknown>;
  const safety = Array.isArray(p['safety']) ? (p['safety'] as Record<string, unknown>[]) : [];
  return {
    ok: true,
    fields: {
      instructions: str(p['instructions']),
      firstMessage: str(p['firstMessage']),
      voice: {
        provider: str(voice['provider']),
        voiceId: str(voice['voiceId']),
        speed: typeof voice['speed'] === 'number' ? voice['speed'] : undefined,
      },
      safety: safety.map((r, i) => ({
        id: str(r?.['id']) || `rule ${i + 1}`,
        phrases: Array.isArray(r?.['phrases']) ? (r['phrases'] as unknown[]).map(str) : [],
      })),
    },
  };
}

/**
 * Sets one value. A scalar that is already there keeps its node, so its style (a folded `>-`
 * block, quotes) and its comments stay; a missing one is added.
 */
export function setField(text: string, path: (string | number)[], value: unknown): string {
  const doc = parseDocument(text);
  if (doc.errors.length) return text;
  const node = doc.getIn(path, true);
  if (isScalar(node) && (typeof value === 'string' || typeof value === 'number')) {
    node.value = value;
  } else {
    doc.setIn(path, value);
  }
  return doc.toString(STRINGIFY);
}

/** Replaces a safety rule's phrases; an empty list removes the key (the rule may use concepts). */
export function setPhrases(text: string, ruleIndex: number, phrases: string[]): string {
  const doc = parseDocument(text);
  if (doc.errors.length) return text;
  const path = ['safety', ruleIndex, 'phrases'];
  const clean = phrases.map((p) => p.trim()).filter(Boolean);
  if (!clean.length) {
    if (doc.hasIn(path)) doc.deleteIn(path);
  } else {
    const existing = doc.getIn(path, true);
    const seq = doc.createNode(clean);
    if (isSeq(existing)) existing.items = seq.items;
    else doc.setIn(path, seq);
  }
  return doc.toString(STRINGIFY);
}
