/**
 * Patient variables in profile text: `{{patient.displayName}}`, or with a spoken fallback,
 * `{{patient.displayName or "there"}}`.
 *
 * Only declared variables may appear (checked when a profile is validated), and rendering never
 * produces a blank: a variable with no value and no fallback is an error naming the variable and
 * the field. Rendering is a single pass, so a value that itself contains `{{...}}` is spoken as
 * written, never expanded.
 */
import { ValidationError } from '../infra/errors.ts';
import type { PatientRef } from '../sessions/schema.ts';
import type { Profile } from './schema.ts';

/** Every variable a profile may use, with what a clinician needs to know about it. */
export const TEMPLATE_VARIABLES = Object.freeze({
  'patient.displayName':
    'the name the patient likes to be called, from the session request (not always given)',
} as const);

export type TemplateVariable = keyof typeof TEMPLATE_VARIABLES;
/** Values for one session. A missing or blank value counts as not given. */
export type TemplateValues = Partial<Record<TemplateVariable, string>>;

export interface Placeholder {
  variable: string;
  /** Spoken instead when the variable has no value. */
  fallback?: string;
  /** Offsets of `{{` and just past `}}` in the template. */
  start: number;
  end: number;
}

export type TemplatePart = string | Placeholder;

export class TemplateSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateSyntaxError';
  }
}

export interface MissingVariable {
  variable: string;
  /** The profile field, e.g. `firstMessage` or `protocol[2].ask`. */
  field: string;
}

/** Rendering needed a variable that has no value and no fallback. Never retryable. */
export class TemplateError extends ValidationError {
  readonly missing: readonly MissingVariable[];
  constructor(missing: readonly MissingVariable[]) {
    const lines = missing.map(
      (m) =>
        `${m.field} uses {{${m.variable}}}, but no value was given for ${m.variable} ` +
        `(give one, or write {{${m.variable} or "..."}} with a fallback)`,
    );
    super(
      'template_variable_missing',
      lines.length === 1
        ? (lines[0] ?? '')
        : `missing template values:\n  - ${lines.join('\n  - ')}`,
      lines,
    );
    this.missing = missing;
  }
}

const CANDIDATE = /\{\{([\s\S]*?)\}\}/g;
const INNER =
  /^\s*([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*)\s*(?:\s+or\s+(?:"([^"]*)"|'([^']*)')\s*)?$/;

/** Splits a template into literal text and placeholders. Throws TemplateSyntaxError. */
export function parseTemplate(text: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const m of text.matchAll(CANDIDATE)) {
    const start = m.index;
    const inner = m[1] ?? '';
    const parsed = INNER.exec(inner);
    if (!parsed?.[1]) {
      throw new TemplateSyntaxError(
        `"{{${inner}}}" is not a valid placeholder: write {{patient.displayName}}, ` +
          `or {{patient.displayName or "there"}} with a fallback`,
      );
    }
    const fallback = parsed[2] ?? parsed[3];
    if (fallback !== undefined && fallback.trim() === '') {
      throw new TemplateSyntaxError(
        `"{{${inner.trim()}}}" has an empty fallback, which would be spoken as a blank`,
      );
    }
    checkStray(text.slice(last, start));
    if (start > last) parts.push(text.slice(last, start));
    const end = start + m[0].length;
    parts.push({
      variable: parsed[1],
      ...(fallback === undefined ? {} : { fallback }),
      start,
      end,
    });
    last = end;
  }
  checkStray(text.slice(last));
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}

function checkStray(literal: string): void {
  if (literal.includes('{{')) throw new TemplateSyntaxError(`"{{" has no matching "}}"`);
  if (literal.includes('}}')) throw new TemplateSyntaxError(`"}}" has no matching "{{"`);
}

export function isTemplateVariable(name: string): name is TemplateVariable {
  return Object.hasOwn(TEMPLATE_VARIABLES, name);
}

/**
 * Problems with one template, as clinician-readable sentences; empty when it is fine.
 * Used by the profile schema.
 */
export function templateProblems(text: string): string[] {
  let parts: TemplatePart[];
  try {
    parts = parseTemplate(text);
  } catch (err) {
    return [err instanceof Error ? err.message : String(err)];
  }
  const known = Object.keys(TEMPLATE_VARIABLES).join(', ');
  return parts
    .filter((p): p is Placeholder => typeof p !== 'string' && !isTemplateVariable(p.variable))
    .map((p) => `{{${p.variable}}} is not a known variable (known: ${known})`);
}

/** The placeholders a template uses. Throws TemplateSyntaxError. */
export function placeholders(text: string): Placeholder[] {
  return parseTemplate(text).filter((p): p is Placeholder => typeof p !== 'string');
}

function valueOf(values: TemplateValues, variable: string): string | undefined {
  if (!isTemplateVariable(variable)) return undefined;
  const v = values[variable];
  return v !== undefined && v.trim() !== '' ? v.trim() : undefined;
}

/**
 * Renders one template. `field` names it in errors. Throws TemplateError when a variable has no
 * value and no fallback, and TemplateSyntaxError for a malformed template.
 */
export function renderTemplate(text: string, values: TemplateValues, field: string): string {
  const missing: MissingVariable[] = [];
  const out = renderParts(text, values, field, missing);
  if (missing.length) throw new TemplateError(missing);
  return out;
}

/** Like renderTemplate, but collects missing variables instead of throwing (for whole profiles). */
export function renderParts(
  text: string,
  values: TemplateValues,
  field: string,
  missing: MissingVariable[],
): string {
  return parseTemplate(text)
    .map((part) => {
      if (typeof part === 'string') return part;
      const value = valueOf(values, part.variable) ?? part.fallback;
      if (value === undefined) {
        missing.push({ variable: part.variable, field });
        return '';
      }
      return value;
    })
    .join('');
}

/** The template values a session request provides. */
export function templateValuesFor(patient: Pick<PatientRef, 'displayName'>): TemplateValues {
  return patient.displayName === undefined ? {} : { 'patient.displayName': patient.displayName };
}

/**
 * The profile with every template field rendered for one patient: instructions, firstMessage,
 * closingMessage, and each step's ask and reprompt. Throws one TemplateError listing every
 * missing value. Safety responses are never templated.
 */
export function renderProfile(profile: Profile, values: TemplateValues): Profile {
  const missing: MissingVariable[] = [];
  const r = (text: string, field: string) => renderParts(text, values, field, missing);
  const rendered: Profile = {
    ...profile,
    instructions: r(profile.instructions, 'instructions'),
    firstMessage: r(profile.firstMessage, 'firstMessage'),
    ...(profile.closingMessage === undefined
      ? {}
      : { closingMessage: r(profile.closingMessage, 'closingMessage') }),
    protocol: profile.protocol.map((step, i) => ({
      ...step,
      ask: r(step.ask, `protocol[${i}].ask`),
      ...(step.reprompt === undefined
        ? {}
        : { reprompt: r(step.reprompt, `protocol[${i}].reprompt`) }),
    })),
  };
  if (missing.length) throw new TemplateError(missing);
  return rendered;
}
