/**
 * The clinician profile: what the assistant says, the care protocol it follows, its voice, and the
 * safety rules checked on every patient turn. One YAML file per profile in `prompts/`; published
 * versions are immutable (see store.ts).
 *
 * Every object is strict: a misspelt field is an error, never silently ignored. Error messages
 * are written for clinicians; loader.ts adds the file and line.
 */
import { z } from 'zod';
import { ProfileRef } from '../sessions/schema.ts';
import { compilePattern, conceptProblem, normalizeUtterance } from './safety-language.ts';
import { templateProblems } from './template.ts';

const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1, { error: 'must not be empty' })
    .max(max, { error: `is too long (at most ${max} characters)` });

const STEP_ID = /^[a-z][a-z0-9_-]{0,39}$/;
const stepId = (what: string) =>
  z.string().regex(STEP_ID, {
    error: `${what} must start with a letter and use only lower-case letters, digits, - and _ (at most 40)`,
  });

// Captured answers become fields on the session document: no dots, no `$`, nothing surprising.
const FIELD = /^[a-z][A-Za-z0-9_]{0,39}$/;

export const CAPTURE_TYPES = ['yesno', 'number', 'date', 'text', 'choice'] as const;
export type CaptureType = (typeof CAPTURE_TYPES)[number];

const captureField = z.string().regex(FIELD, {
  error: 'must start with a lower-case letter and use only letters, digits and _ (e.g. painScore)',
});

const YesNoCapture = z.strictObject({ field: captureField, type: z.literal('yesno') });
const NumberCapture = z.strictObject({
  field: captureField,
  type: z.literal('number'),
  min: z.number().optional(),
  max: z.number().optional(),
  /** Spoken and stored with the answer, e.g. "mmHg", "kg", "out of 10". */
  unit: text(30).optional(),
});
const DateCapture = z.strictObject({ field: captureField, type: z.literal('date') });
const TextCapture = z.strictObject({ field: captureField, type: z.literal('text') });
const ChoiceCapture = z.strictObject({
  field: captureField,
  type: z.literal('choice'),
  choices: z.array(text(60)).min(2, { error: 'needs at least 2 choices' }).max(12),
});

export const Capture = z.discriminatedUnion(
  'type',
  [YesNoCapture, NumberCapture, DateCapture, TextCapture, ChoiceCapture],
  {
    error: (iss) =>
      iss.code === 'invalid_union' ? `must be one of ${CAPTURE_TYPES.join(', ')}` : undefined,
  },
);
export type Capture = z.infer<typeof Capture>;

export const ProtocolStep = z.strictObject({
  id: stepId('a step id'),
  /** The question as the assistant asks it. May use template variables. */
  ask: text(400),
  /** What the question is for, in the clinician's words; guides the LLM and the reviewer. */
  intent: text(400),
  capture: Capture,
  /** Read the answer back and have the patient confirm it before moving on. */
  confirm: z.boolean().optional(),
  /**
   * A call that ends without this answer is `incomplete`. Set false for a step that only applies
   * sometimes (details after a yes). @defaultValue true
   */
  required: z.boolean().optional(),
  /** Said when the answer was not understood. May use template variables. */
  reprompt: text(400).optional(),
  /**
   * An education step: when the call reaches it, the approved clip of this education script
   * plays first (the patient may talk over it, which stops it), then `ask` is put, e.g. "Did
   * that make sense?". No approved clip at call time: the step is asked without it.
   */
  play: z
    .strictObject({
      script: z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}$/, {
        error: 'must be an education script id, a lower-case slug such as knee-wound-care',
      }),
    })
    .optional(),
});
export type ProtocolStep = z.infer<typeof ProtocolStep>;

export const SEVERITIES = ['urgent', 'emergency'] as const;
export type Severity = (typeof SEVERITIES)[number];

const CLASS_NAME = /^[a-z][a-zA-Z0-9_-]{0,29}$/;

/**
 * A symptom concept (see prompts/concepts/safety-concepts.yaml). In a profile file a rule may
 * name a library concept by id; the loader copies the definition in, so what is validated,
 * hashed and published is always the full definition.
 */
export const SafetyConcept = z.strictObject(
  {
    id: stepId('a concept id'),
    /** Where the definition was copied from, e.g. `safety-concepts v1`; set by the loader. */
    from: text(120).optional(),
    /** What the concept means, in the clinician's words. */
    description: text(300).optional(),
    /** Term classes that must all be heard close together, in any order. */
    all: z
      .record(
        z.string().regex(CLASS_NAME, {
          error: 'a term class name must start with a letter and use only letters, digits, - and _',
        }),
        z.array(text(80)).min(1, { error: 'needs at least one term' }).max(200),
      )
      .optional(),
    /** Most words allowed between the first and last class term. */
    window: z.number().int().min(1).max(20).optional(),
    phrases: z.array(text(120)).max(300).optional(),
    /** Speech-recognition confusions: heard → meant. */
    heardAs: z.record(text(80), text(80)).optional(),
    /**
     * Other ways of saying words in the terms, meant → forms ("my: [me, his, her]"): dialect, a
     * carer's third person, the same negation said another way. Copied in from the library.
     */
    sayAlso: z.record(text(80), z.array(text(80)).min(1).max(20)).optional(),
    /** Phrases whose words never count for this concept. */
    except: z.array(text(120)).max(300).optional(),
    /** Phrases that, in the same sentence, mean the concept's words are meant in another sense. */
    exceptWith: z.array(text(120)).max(50).optional(),
    /** Measured values said as numbers ("my sugar is fifty two") that are this concept. */
    readings: z
      .array(
        z.strictObject({
          near: z.array(text(80)).min(1, { error: 'needs at least one term' }).max(100),
          ranges: z
            .array(
              z.strictObject({
                /** Lowest value that fires. @defaultValue 0 */
                from: z.number().finite().optional(),
                /** Values from here up no longer fire. */
                below: z.number().finite().optional(),
              }),
            )
            .min(1, { error: 'needs at least one range' })
            .max(10),
          window: z.number().int().min(1).max(12).optional(),
          /** Unit words that may follow the number ("percent"). */
          units: z.array(text(40)).max(10).optional(),
          /**
           * A number said with a decimal part ("thirty eight point two", "a hundred and one point
           * five") fires on its own, with no `near` term, when nothing else in its sentence is
           * measured.
           */
          decimalAlone: z.boolean().optional(),
          /**
           * A number that is the whole answer ("a hundred and two", "a hundred and three this
           * morning"), with only filler and time words around it, fires with no `near` term.
           */
          numberAlone: z.boolean().optional(),
          /** The number must stand bare ("forty nine and I'm sweating", not "forty nine stitches"). */
          bareNumber: z.boolean().optional(),
        }),
      )
      .max(5)
      .optional(),
  },
  {
    error: (iss) =>
      typeof iss.input === 'string'
        ? `'${iss.input}' names a library concept, but its definition was not copied in; load the profile from its file (the loader copies library concepts in) or write the concept out in full`
        : undefined,
  },
);
export type SafetyConcept = z.infer<typeof SafetyConcept>;

export const SafetyRule = z.strictObject({
  id: stepId('a rule id'),
  /** Whole words, any case or punctuation, any inflection. */
  phrases: z.array(text(120)).optional(),
  /** Symptom concepts: library ids in the file, full definitions once loaded. */
  concepts: z.array(SafetyConcept).max(30).optional(),
  /** Regular expressions over the patient's words in lower case, punctuation removed. */
  patterns: z.array(z.string().min(1, { error: 'must not be empty' })).optional(),
  /** Spoken exactly as written when the rule fires: no template variables. */
  response: text(500),
  escalation: z.strictObject({ severity: z.enum(SEVERITIES) }),
  /** End the call after the response. */
  endSession: z.boolean().optional(),
  /**
   * The one short question asked when the embedded recogniser is unsure it heard this red flag
   * ("I want to be sure I heard you. Are you having chest pain right now?"). Plain words, answered
   * yes or no. @defaultValue one made from the rule id (agent/safety/confirm.ts)
   */
  confirm: text(200).optional(),
});
export type SafetyRule = z.infer<typeof SafetyRule>;

export const VOICE_PROVIDERS = ['elevenlabs', 'openai', 'local'] as const;
export type VoiceProvider = (typeof VOICE_PROVIDERS)[number];

export const Voice = z.strictObject({
  provider: z.enum(VOICE_PROVIDERS),
  /** The provider's voice: an ElevenLabs voice id, an OpenAI voice name, or an espeak-ng voice. */
  voiceId: text(100),
  /** 1 is normal speed. 0.7–1.2 is the range every provider supports. */
  speed: z.number().min(0.7).max(1.2),
  /** ElevenLabs only: lower is more expressive, higher more even. */
  stability: z.number().min(0).max(1).optional(),
});
export type Voice = z.infer<typeof Voice>;

export const Stt = z.strictObject({
  model: text(60),
  /** Words the recogniser should expect: medication names, clinic names. */
  keyTerms: z.array(text(60)).max(100).default([]),
});

export const Limits = z.strictObject({
  /** The call ends after this long, whatever is happening. */
  maxDurationMs: z
    .number()
    .int()
    .min(60_000, { error: 'must be at least 60000 (one minute)' })
    .max(7_200_000, { error: 'must be at most 7200000 (two hours)' }),
  /** The assistant checks in, then ends the call, after this much patient silence. */
  silenceTimeoutMs: z
    .number()
    .int()
    .min(3_000, { error: 'must be at least 3000 (three seconds)' })
    .max(600_000, { error: 'must be at most 600000 (ten minutes)' }),
});

const LANGUAGE = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;

/** The profile's fields without the cross-field checks; loader.ts walks it for suggestions. */
export const ProfileObject = z.strictObject({
  id: ProfileRef.shape.id,
  version: z.number().int().positive(),
  language: z.string().regex(LANGUAGE, { error: 'must be a language tag such as en-US' }),
  /** The assistant's instructions (the LLM system prompt). May use template variables. */
  instructions: text(20_000),
  /** The first thing the assistant says. May use template variables. */
  firstMessage: text(500),
  protocol: z.array(ProtocolStep).min(1, { error: 'needs at least one step' }).max(30),
  safety: z.array(SafetyRule).min(1, { error: 'needs at least one safety rule' }).max(50),
  voice: Voice,
  stt: Stt,
  limits: Limits,
  /** Things a patient says to end the call ("goodbye", "that's all"). */
  endPhrases: z.array(text(60)).default([]),
  /** Said when the protocol is complete or the patient ends the call. May use variables. */
  closingMessage: text(500).optional(),
});

type ProfileInput = z.infer<typeof ProfileObject>;

function duplicates<T>(items: readonly T[], key: (t: T) => string): Map<string, number[]> {
  const seen = new Map<string, number[]>();
  items.forEach((item, i) => seen.set(key(item), [...(seen.get(key(item)) ?? []), i]));
  return new Map([...seen].filter(([, idx]) => idx.length > 1));
}

function crossFieldChecks(p: ProfileInput, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: 'custom', path, message });

  for (const [id, idx] of duplicates(p.protocol, (s) => s.id)) {
    for (const i of idx.slice(1)) issue(['protocol', i, 'id'], `step id '${id}' is used twice`);
  }
  for (const [field, idx] of duplicates(p.protocol, (s) => s.capture.field)) {
    for (const i of idx.slice(1)) {
      issue(
        ['protocol', i, 'capture', 'field'],
        `'${field}' is already captured by step '${p.protocol[idx[0] ?? 0]?.id}'; each answer needs its own field`,
      );
    }
  }
  for (const [id, idx] of duplicates(p.safety, (r) => r.id)) {
    for (const i of idx.slice(1)) issue(['safety', i, 'id'], `rule id '${id}' is used twice`);
  }

  if (p.protocol[0]?.play && !p.firstMessage.trim().endsWith('?')) {
    issue(
      ['protocol', 0, 'play'],
      'the first step can play a clip only when firstMessage is a question (it would play over the greeting); put another step first',
    );
  }
  p.protocol.forEach((step, i) => {
    const c = step.capture;
    if (c.type === 'number' && c.min !== undefined && c.max !== undefined && c.min > c.max) {
      issue(['protocol', i, 'capture', 'min'], `min (${c.min}) is greater than max (${c.max})`);
    }
    if (c.type === 'choice') {
      for (const [choice, idx] of duplicates(c.choices, (s) => normalizeUtterance(s))) {
        for (const j of idx.slice(1)) {
          issue(['protocol', i, 'capture', 'choices', j], `choice '${choice}' is listed twice`);
        }
      }
    }
  });

  const templated: [(string | number)[], string | undefined][] = [
    [['instructions'], p.instructions],
    [['firstMessage'], p.firstMessage],
    [['closingMessage'], p.closingMessage],
    ...p.protocol.flatMap((s, i): [(string | number)[], string | undefined][] => [
      [['protocol', i, 'ask'], s.ask],
      [['protocol', i, 'reprompt'], s.reprompt],
    ]),
  ];
  for (const [path, value] of templated) {
    if (value === undefined) continue;
    for (const problem of templateProblems(value)) issue(path, problem);
  }

  p.safety.forEach((rule, i) => {
    if (!rule.phrases?.length && !rule.patterns?.length && !rule.concepts?.length) {
      issue(['safety', i], 'needs at least one entry under phrases, concepts or patterns');
    }
    for (const [id, idx] of duplicates(rule.concepts ?? [], (c) => c.id)) {
      for (const j of idx.slice(1)) {
        issue(['safety', i, 'concepts', j], `concept '${id}' is listed twice in this rule`);
      }
    }
    rule.concepts?.forEach((concept, j) => {
      const problem = conceptProblem(concept);
      if (problem) issue(['safety', i, 'concepts', j], problem);
    });
    if (rule.response.includes('{{') || rule.response.includes('}}')) {
      issue(
        ['safety', i, 'response'],
        'is spoken exactly as written in an emergency, so it cannot use {{variables}}',
      );
    }
    rule.phrases?.forEach((phrase, j) => {
      if (!normalizeUtterance(phrase)) {
        issue(['safety', i, 'phrases', j], 'has no words left once punctuation is removed');
      }
    });
    rule.patterns?.forEach((pattern, j) => {
      try {
        compilePattern(pattern);
      } catch (err) {
        const why =
          err instanceof SyntaxError
            ? `is not a valid regular expression (${err.message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '')})`
            : err instanceof Error
              ? err.message
              : String(err);
        issue(['safety', i, 'patterns', j], why);
      }
    });
  });

  if (p.limits.silenceTimeoutMs >= p.limits.maxDurationMs) {
    issue(['limits', 'silenceTimeoutMs'], 'must be shorter than maxDurationMs');
  }
}

export const ProfileSchema = ProfileObject.superRefine(crossFieldChecks);
export type Profile = z.infer<typeof ProfileSchema>;

/**
 * zod messages rewritten for clinicians. Field-specific messages in the schema win over these.
 * loader.ts appends the offending value ("— got 'bool'") from the source file.
 */
export const clinicianErrorMap: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'invalid_type': {
      if (iss.input === undefined) return 'is missing';
      if (iss.input === null) return 'is empty';
      const expected: Record<string, string> = {
        string: 'must be text',
        number: 'must be a number',
        int: 'must be a whole number',
        boolean: 'must be true or false',
        array: 'must be a list (one entry per line, each starting with "- ")',
        object: 'must be a section with its own indented fields',
      };
      return expected[iss.expected] ?? `must be ${iss.expected}`;
    }
    case 'invalid_value':
      return `must be one of ${iss.values.map(String).join(', ')}`;
    case 'too_small':
      if (iss.origin === 'array') return `needs at least ${String(iss.minimum)} entries`;
      if (iss.origin === 'string') return `must be at least ${String(iss.minimum)} characters`;
      return iss.inclusive === false
        ? `must be greater than ${String(iss.minimum)}`
        : `must be at least ${String(iss.minimum)}`;
    case 'too_big':
      if (iss.origin === 'array') return `has too many entries (at most ${String(iss.maximum)})`;
      if (iss.origin === 'string') return `is too long (at most ${String(iss.maximum)} characters)`;
      return iss.inclusive === false
        ? `must be less than ${String(iss.maximum)}`
        : `must be at most ${String(iss.maximum)}`;
    case 'unrecognized_keys':
      return `unknown field${iss.keys.length > 1 ? 's' : ''} ${iss.keys.map((k) => `'${k}'`).join(', ')}`;
    default:
      return undefined;
  }
};

/** `protocol[2].capture.type` for zod's `['protocol', 2, 'capture', 'type']`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((seg, i) => (typeof seg === 'number' ? `[${seg}]` : `${i === 0 ? '' : '.'}${String(seg)}`))
    .join('');
}

/** Validates already-parsed data (e.g. from Mongo). Use loader.ts for files. */
export function safeParseProfile(data: unknown) {
  return ProfileSchema.safeParse(data, { error: clinicianErrorMap });
}
