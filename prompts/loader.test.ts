import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../infra/errors.ts';
import {
  ProfileLoadError,
  defaultConceptLibrary,
  formatIssue,
  listProfileFiles,
  loadProfileFile,
  parseConceptLibrary,
  parseProfileSource,
  readProfile,
} from './loader.ts';
import { safeParseProfile } from './schema.ts';
import { MINIMAL_PROFILE_YAML } from './testing.ts';

/** The problems with a variant of the minimal profile, as `demo.yaml:LINE field: message`. */
function problems(yaml: string, file = 'demo.yaml'): string[] {
  const result = parseProfileSource(yaml, { file });
  return result.ok ? [] : result.issues.map(formatIssue);
}

function edit(from: string, to: string): string {
  expect(MINIMAL_PROFILE_YAML).toContain(from);
  return MINIMAL_PROFILE_YAML.replace(from, to);
}

describe('parseProfileSource: valid profiles', () => {
  it('parses the minimal profile, with defaults filled in and the result frozen', () => {
    const result = parseProfileSource(MINIMAL_PROFILE_YAML, { file: 'demo.yaml' });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.profile.id).toBe('demo');
    expect(result.profile.stt.keyTerms).toEqual([]);
    expect(result.profile.protocol[1]?.capture).toEqual({
      field: 'painScore',
      type: 'number',
      min: 0,
      max: 10,
    });
    expect(Object.isFrozen(result.profile.protocol[0])).toBe(true);
  });
});

describe('parseProfileSource: errors point at file, line and field in plain words', () => {
  it('names the allowed capture types and the value it got', () => {
    expect(problems(edit('      type: text', '      type: bool'))).toEqual([
      "demo.yaml:12 protocol[0].capture.type: must be one of yesno, number, date, text, choice — got 'bool'",
    ]);
  });

  it('suggests the field a typo was meant to be, and reports the field as missing', () => {
    expect(
      problems(edit('    intent: General wellbeing.', '    intnet: General wellbeing.')),
    ).toEqual([
      'demo.yaml:7 protocol[0].intent: is missing',
      "demo.yaml:9 protocol[0].intnet: unknown field 'intnet' — did you mean 'intent'?",
    ]);
  });

  it('catches a misspelt top-level field instead of silently ignoring it', () => {
    expect(problems(`${MINIMAL_PROFILE_YAML}closingMesage: Bye.\n`)).toEqual([
      "demo.yaml:40 closingMesage: unknown field 'closingMesage' — did you mean 'closingMessage'?",
    ]);
  });

  it('lists what is allowed when an unknown field is not close to any', () => {
    expect(problems(edit('  speed: 1\n', '  speed: 1\n  gender: female\n'))).toEqual([
      "demo.yaml:33 voice.gender: unknown field 'gender' (allowed here: provider, voiceId, speed, stability)",
    ]);
  });

  it('knows the fields of each capture type', () => {
    expect(problems(edit('      type: text', '      type: text\n      choices: [a, b]'))).toEqual([
      "demo.yaml:13 protocol[0].capture.choices: unknown field 'choices' (allowed here: field, type)",
    ]);
  });

  it('explains a section written as plain text, and a file that is not a profile at all', () => {
    expect(
      problems(
        edit('    capture:\n      field: feeling\n      type: text\n', '    capture: text\n'),
      ),
    ).toEqual([
      "demo.yaml:10 protocol[0].capture: must be a section with its own indented fields — got 'text'",
    ]);
    expect(problems('- a\n- b\n')).toEqual([
      'demo.yaml:1 the file must be a section with its own indented fields — got a list',
    ]);
  });

  it('does not suggest a far-fetched field for a short unknown one', () => {
    expect(problems(`${MINIMAL_PROFILE_YAML}x: 1\n`)[0]).toMatch(
      /^demo\.yaml:40 x: unknown field 'x' \(allowed here: id, version, language, /,
    );
  });

  it('reports a missing required field at its section', () => {
    expect(problems(edit('  silenceTimeoutMs: 15000\n', ''))).toEqual([
      'demo.yaml:35 limits.silenceTimeoutMs: is missing',
    ]);
  });

  it('reports an empty value', () => {
    expect(
      problems(edit(/^firstMessage: .*$/m.exec(MINIMAL_PROFILE_YAML)?.[0] ?? '', 'firstMessage:')),
    ).toEqual(['demo.yaml:5 firstMessage: is empty']);
  });

  it.each([
    ['version: 1\n', 'version: one\n', "demo.yaml:2 version: must be a number — got 'one'"],
    ['version: 1\n', 'version: 1.5\n', 'demo.yaml:2 version: must be a whole number — got 1.5'],
    ['version: 1\n', 'version: 0\n', 'demo.yaml:2 version: must be greater than 0 — got 0'],
    ['  speed: 1\n', '  speed: 3\n', 'demo.yaml:32 voice.speed: must be at most 1.2 — got 3'],
    [
      '  provider: local',
      '  provider: google',
      "demo.yaml:30 voice.provider: must be one of elevenlabs, openai, local — got 'google'",
    ],
    [
      '      severity: emergency',
      '      severity: high',
      "demo.yaml:27 safety[0].escalation.severity: must be one of urgent, emergency — got 'high'",
    ],
    [
      '  maxDurationMs: 300000',
      '  maxDurationMs: 5 minutes',
      "demo.yaml:36 limits.maxDurationMs: must be a number — got '5 minutes'",
    ],
    [
      '    phrases:\n      - chest pain',
      '    phrases: chest pain',
      `demo.yaml:23 safety[0].phrases: must be a list (one entry per line, each starting with "- ") — got 'chest pain'`,
    ],
    [
      'language: en-US',
      'language: English',
      "demo.yaml:3 language: must be a language tag such as en-US — got 'English'",
    ],
  ])('explains a wrong value (%j → %j)', (from, to, expected) => {
    expect(problems(edit(from, to))).toEqual([expected]);
  });

  it('explains the cross-field checks with their lines', () => {
    const yaml = edit('  - id: pain\n', '  - id: feeling\n')
      .replace('      field: painScore', '      field: feeling')
      .replace('      min: 0', '      min: 20')
      .replace("{{patient.displayName or 'there'}}", '{{patient.firstName}}')
      .replace('      - chest pain\n', '      - chest pain\n    patterns:\n      - (chest\n');
    expect(problems(yaml)).toEqual([
      'demo.yaml:5 firstMessage: {{patient.firstName}} is not a known variable (known: patient.displayName)',
      "demo.yaml:13 protocol[1].id: step id 'feeling' is used twice",
      "demo.yaml:17 protocol[1].capture.field: 'feeling' is already captured by step 'feeling'; each answer needs its own field",
      'demo.yaml:19 protocol[1].capture.min: min (20) is greater than max (10)',
      'demo.yaml:26 safety[0].patterns[0]: is not a valid regular expression (Unterminated group)',
    ]);
  });

  it('refuses template variables in a safety response, which must always be speakable', () => {
    expect(
      problems(
        edit(
          '    response: If you have chest pain, hang up and call nine one one.',
          '    response: "{{patient.displayName}}, if you have chest pain, call nine one one."',
        ),
      ),
    ).toEqual([
      'demo.yaml:25 safety[0].response: is spoken exactly as written in an emergency, so it cannot use {{variables}}',
    ]);
  });

  it('requires the id to match the file name', () => {
    expect(problems(MINIMAL_PROFILE_YAML, 'prompts/demo-copy.yaml')).toEqual([
      "prompts/demo-copy.yaml:1 id: is 'demo' but the file is named 'demo-copy.yaml'; rename the file to 'demo.yaml' or change the id",
    ]);
  });

  it('reports every problem at once, in line order', () => {
    const yaml = edit('version: 1\n', 'version: one\n').replace('  speed: 1\n', '  speed: 9\n');
    expect(problems(yaml).map((p) => p.split(' ')[0])).toEqual(['demo.yaml:2', 'demo.yaml:32']);
  });
});

describe('parseProfileSource: YAML syntax errors', () => {
  it.each([
    [
      'text containing ": "',
      ['instructions: You are a test', 'instructions: Note: you are a test'],
      'demo.yaml:4 YAML syntax: Nested mappings are not allowed in compact mappings: if this text contains ": ", wrap it in quotes; otherwise check the indentation',
    ],
    [
      'a tab used for indenting',
      ['  model: nova-3', '\tmodel: nova-3'],
      'demo.yaml:34 YAML syntax: indent with spaces, not tabs',
    ],
    [
      'a field given twice',
      ['version: 1\n', 'version: 1\nversion: 2\n'],
      "demo.yaml:3 YAML syntax: 'version' appears twice in the same section; keep only one",
    ],
    [
      'unquoted text starting with {{',
      [
        /^firstMessage: .*$/m.exec(MINIMAL_PROFILE_YAML)?.[0] ?? '',
        'firstMessage: {{patient.displayName}}, hello',
      ],
      'demo.yaml:5 YAML syntax: text that starts with {{ must be wrapped in quotes',
    ],
    [
      'an unclosed quote',
      [`this is a test call."`, `this is a test call.`],
      'YAML syntax: Missing closing "quote: a quote or bracket opened above is never closed',
    ],
  ])('explains %s', (_what, [from, to], expected) => {
    const out = problems(edit(from ?? '', to ?? ''));
    expect(out.length).toBeGreaterThan(0);
    expect(out[0]).toContain(expected);
  });

  it('explains an empty file', () => {
    expect(problems('# nothing yet\n')).toEqual([
      'demo.yaml:1 the file is empty; a profile starts with id, version, language, ...',
    ]);
  });
});

describe('files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'voicecare-loader-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a file and names it as the caller did', async () => {
    const path = join(dir, 'demo.yaml');
    await writeFile(path, edit('      type: text', '      type: bool'));
    const result = await loadProfileFile(path, { displayPath: 'somewhere/demo.yaml' });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues[0]?.file).toBe('somewhere/demo.yaml');
  });

  it('readProfile throws a ProfileLoadError carrying every line', async () => {
    const path = join(dir, 'demo.yaml');
    await writeFile(path, edit('      type: text', '      type: bool'));
    const err = await readProfile(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProfileLoadError);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ProfileLoadError).issues).toEqual([
      `${path}:12 protocol[0].capture.type: must be one of yesno, number, date, text, choice — got 'bool'`,
    ]);
  });

  it('says when a file does not exist', async () => {
    const result = await loadProfileFile(join(dir, 'nope.yaml'));
    expect(result.ok ? [] : result.issues.map((i) => i.message)).toEqual(['file not found']);
  });
});

describe('every profile in prompts/', () => {
  const promptsDir = fileURLToPath(new URL('.', import.meta.url));

  it('includes the three clinical profiles', async () => {
    const names = (await readdir(promptsDir)).filter((f) => f.endsWith('.yaml')).sort();
    expect(names).toEqual(
      expect.arrayContaining(['intake.yaml', 'medication-adherence.yaml', 'post-discharge.yaml']),
    );
  });

  it('validates', async () => {
    const files = await listProfileFiles(promptsDir);
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const file of files) {
      const result = await loadProfileFile(file);
      expect(result.ok ? [] : result.issues.map(formatIssue), file).toEqual([]);
    }
  });

  it('keeps spoken text short enough to be heard, not read', async () => {
    for (const file of await listProfileFiles(promptsDir)) {
      const profile = await readProfile(file);
      expect(profile.firstMessage.split(/\s+/).length, file).toBeLessThanOrEqual(45);
      for (const step of profile.protocol) {
        expect(step.ask.split(/\s+/).length, `${file} ${step.id}`).toBeLessThanOrEqual(30);
      }
      expect(profile.protocol.length, file).toBeGreaterThanOrEqual(4);
      expect(profile.protocol.length, file).toBeLessThanOrEqual(6);
      const severities = new Set(profile.safety.map((r) => r.escalation.severity));
      expect(severities.has('emergency'), file).toBe(true);
      for (const rule of profile.safety.filter((r) => r.escalation.severity === 'emergency')) {
        expect(rule.response, `${file} ${rule.id}`).toMatch(/nine one one/);
      }
    }
  });
});

describe('safety concepts: library ids are copied into the profile, errors name file:line', () => {
  const LIBRARY = [
    'version: 4',
    'concepts:',
    '  - id: chest-discomfort',
    '    all:',
    '      site: [chest, breastbone]',
    '      sensation: [pain, pressure, squeezing]',
    '    phrases: [heart attack]',
    '',
  ].join('\n');
  const library = (() => {
    const r = parseConceptLibrary(LIBRARY, 'concepts.yaml');
    if (!r.ok) throw new Error(r.issues.map(formatIssue).join('\n'));
    return r.library;
  })();
  const withConcepts = (lines: string) =>
    edit('    phrases:\n      - chest pain\n', `    concepts:\n${lines}`);

  it('replaces a concept id with the full definition, stamped with where it came from', () => {
    const result = parseProfileSource(withConcepts('      - chest-discomfort\n'), {
      file: 'demo.yaml',
      concepts: library,
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.profile.safety[0]?.concepts).toEqual([
      {
        id: 'chest-discomfort',
        from: 'concepts.yaml v4',
        all: { site: ['chest', 'breastbone'], sensation: ['pain', 'pressure', 'squeezing'] },
        phrases: ['heart attack'],
      },
    ]);
  });

  it('keeps a published profile independent of later library edits', () => {
    const first = parseProfileSource(withConcepts('      - chest-discomfort\n'), {
      file: 'demo.yaml',
      concepts: library,
    });
    const edited = parseConceptLibrary(LIBRARY.replace('breastbone', 'ribs'), 'concepts.yaml');
    expect(first.ok && edited.ok).toBe(true);
    if (!first.ok || !edited.ok) return;
    // The loaded profile holds its own copy: the library changing does not reach it.
    expect(first.profile.safety[0]?.concepts?.[0]?.all?.site).toEqual(['chest', 'breastbone']);
  });

  it('names an unknown concept id, its line, and the closest known one', () => {
    const result = parseProfileSource(withConcepts('      - chest-discomfrot\n'), {
      file: 'demo.yaml',
      concepts: library,
    });
    expect(result.ok ? [] : result.issues.map(formatIssue)).toEqual([
      "demo.yaml:24 safety[0].concepts[0]: unknown concept 'chest-discomfrot' — did you mean 'chest-discomfort'? (concepts are defined in concepts.yaml)",
    ]);
  });

  it('accepts a concept written out in full inside the rule, and checks it', () => {
    const inline = [
      '      - id: calf-pain',
      '        all:',
      '          calf: [calf]',
      '          pain: [pain, sore]',
      '',
    ].join('\n');
    expect(problems(withConcepts(inline))).toEqual([]);
    const oneClass = ['      - id: calf-pain', '        all:', '          calf: [calf]', ''].join(
      '\n',
    );
    expect(problems(withConcepts(oneClass))).toEqual([
      "demo.yaml:24 safety[0].concepts[0]: has only one term class ('calf'); a single class would fire on any one of its words, so list those under phrases instead",
    ]);
    expect(
      problems(withConcepts('      - id: x\n        windw: 3\n        phrases: [a]\n')),
    ).toEqual([
      "demo.yaml:25 safety[0].concepts[0].windw: unknown field 'windw' — did you mean 'window'?",
    ]);
  });

  it('refuses an unexpanded concept id in already-parsed data (e.g. sent to the store)', () => {
    const result = parseProfileSource(withConcepts('      - chest-discomfort\n'), {
      file: 'demo.yaml',
      concepts: library,
    });
    if (!result.ok) throw new Error('expected the profile to load');
    const raw = structuredClone(result.profile) as unknown as {
      safety: { concepts: unknown[] }[];
    };
    raw.safety[0]!.concepts = ['chest-discomfort'];
    const parsed = safeParseProfile(raw);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toMatch(/was not copied in/);
  });

  it('reports problems in the library itself with its file and line', () => {
    const bad = parseConceptLibrary(
      LIBRARY.replace('    phrases: [heart attack]\n', '    window: 50\n'),
      'concepts.yaml',
    );
    expect(bad.ok ? [] : bad.issues.map(formatIssue)).toEqual([
      'concepts.yaml:7 concepts[0].window: must be at most 20',
    ]);
  });

  it('loads the bundled library, and every profile uses only concepts it defines', async () => {
    const bundled = defaultConceptLibrary();
    expect(bundled.ok ? [] : bundled.issues.map(formatIssue)).toEqual([]);
    for (const file of await listProfileFiles(fileURLToPath(new URL('.', import.meta.url)))) {
      const profile = await readProfile(file);
      for (const rule of profile.safety) {
        expect(rule.concepts?.length ?? 0, `${file} ${rule.id}`).toBeGreaterThan(0);
        for (const c of rule.concepts ?? []) expect(c.from, `${file} ${rule.id}`).toMatch(/v\d+$/);
      }
    }
  });
});

describe('library-wide heardAs and sayAlso: copied into the concepts whose terms use them', () => {
  const LIBRARY = [
    'version: 4',
    'sayAlso:',
    '  my: [me, his, her]',
    '  cannot: [could not]',
    'heardAs:',
    '  cocoa da mall: co codamol',
    'concepts:',
    '  - id: chest-discomfort',
    '    all:',
    '      site: [my chest, breastbone]',
    '      sensation: [pain, tight]',
    '  - id: speech-trouble',
    '    phrases: [cannot get my words out]',
    '    sayAlso:',
    '      my: [ma]',
    '  - id: double-dose',
    '    phrases: [took the co codamol twice]',
    '',
  ].join('\n');
  const library = (() => {
    const r = parseConceptLibrary(LIBRARY, 'concepts.yaml');
    if (!r.ok) throw new Error(r.issues.map(formatIssue).join('\n'));
    return r.library;
  })();
  const load = (ids: string[]) => {
    const result = parseProfileSource(
      edit(
        '    phrases:\n      - chest pain\n',
        `    concepts:\n${ids.map((i) => `      - ${i}\n`).join('')}`,
      ),
      { file: 'demo.yaml', concepts: library },
    );
    if (!result.ok) throw new Error(result.issues.map(formatIssue).join('\n'));
    return result.profile.safety[0]?.concepts ?? [];
  };

  it('copies only the entries whose meant words occur in the concept, the concept own winning', () => {
    const [chest, speech, dose] = load(['chest-discomfort', 'speech-trouble', 'double-dose']);
    expect(chest?.sayAlso).toEqual({ my: ['me', 'his', 'her'] });
    expect(chest?.heardAs).toBeUndefined();
    expect(speech?.sayAlso).toEqual({ my: ['ma'], cannot: ['could not'] });
    expect(dose?.heardAs).toEqual({ 'cocoa da mall': 'co codamol' });
    expect(dose?.sayAlso).toBeUndefined();
  });

  it('rejects a sayAlso form list that is empty, naming the field', () => {
    const r = parseConceptLibrary(LIBRARY.replace('[could not]', '[]'), 'concepts.yaml');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues.map((i) => i.field)).toContain('sayAlso.cannot');
  });
});
