/**
 * The console's draft text (console/src/staff/profile-yaml.ts) against the real profile loader:
 * a published profile turned into a draft validates, and says the same as the published version
 * but for the version number; a change made through the form keeps the author's comments and
 * the block style of the text it changes.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readForm, setField, setPhrases, toDraftYaml } from '../console/src/staff/profile-yaml.ts';
import { parseProfileSource } from '../prompts/loader.ts';

const FILES = ['intake', 'medication-adherence', 'post-discharge'];
const source = (name: string) =>
  readFileSync(new URL(`../prompts/${name}.yaml`, import.meta.url), 'utf8');

function parse(yaml: string) {
  const r = parseProfileSource(yaml, { file: 'draft.yaml', idMatchesFileName: false });
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.line}: ${i.message}`).join('\n'));
  return r.profile;
}

describe('drafts from published profiles', () => {
  it.each(FILES)(
    '%s: the draft validates and differs from the published one only in version',
    (name) => {
      const published = parse(source(name));
      const draft = toDraftYaml(
        published as unknown as Record<string, unknown>,
        published.version + 1,
      );
      // Library concepts go back to their ids, so the text stays the size a person wrote.
      expect(draft.length).toBeLessThan(48 * 1024);
      const again = parse(draft);
      expect({ ...again, version: published.version }).toEqual(published);
      expect(again.version).toBe(published.version + 1);
    },
  );
});

describe('the form', () => {
  it('changes one field and keeps the comments and the folded style around it', () => {
    const text = source('intake');
    const changed = setField(text, ['firstMessage'], 'Hello, this is your clinic.');
    expect(changed).toContain('# Pre-visit intake');
    expect(changed).toContain('# Checked on every patient turn');
    expect(changed).toMatch(/firstMessage: >-\n\s+Hello, this is your clinic\./);
    expect(parse(changed).firstMessage).toBe('Hello, this is your clinic.');
    const form = readForm(changed);
    expect(form.ok && form.fields.firstMessage).toBe('Hello, this is your clinic.');
  });

  it('replaces a safety rule’s phrases and sets the voice speed', () => {
    let text = setPhrases(source('intake'), 0, ['chest pain', ' crushing chest ', '']);
    text = setField(text, ['voice', 'speed'], 1.1);
    const p = parse(text);
    expect(p.safety[0]?.phrases).toEqual(['chest pain', 'crushing chest']);
    expect(p.voice.speed).toBe(1.1);
  });

  it('pauses, saying where, while the YAML cannot be read', () => {
    const r = readForm('id: intake\nfirstMessage: [unclosed\n');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/line \d/);
  });
});
