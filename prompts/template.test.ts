import { describe, expect, it } from 'vitest';
import { ValidationError } from '../infra/errors.ts';
import { minimalProfile } from './testing.ts';
import {
  TEMPLATE_VARIABLES,
  TemplateError,
  TemplateSyntaxError,
  parseTemplate,
  placeholders,
  renderProfile,
  renderTemplate,
  templateProblems,
  templateValuesFor,
} from './template.ts';

describe('renderTemplate', () => {
  it('fills in a declared variable', () => {
    expect(
      renderTemplate('Hi {{patient.displayName}}!', { 'patient.displayName': 'Ann' }, 'f'),
    ).toBe('Hi Ann!');
  });

  it('allows spaces inside the braces', () => {
    expect(
      renderTemplate('Hi {{ patient.displayName }}.', { 'patient.displayName': 'Ann' }, 'f'),
    ).toBe('Hi Ann.');
  });

  it('uses the fallback only when the value is missing', () => {
    const t = `Hi {{patient.displayName or "there"}}, and {{patient.displayName or 'you'}}.`;
    expect(renderTemplate(t, {}, 'f')).toBe('Hi there, and you.');
    expect(renderTemplate(t, { 'patient.displayName': 'Ann' }, 'f')).toBe('Hi Ann, and Ann.');
  });

  it('throws a TemplateError naming the variable and the field, never rendering a blank', () => {
    let caught: unknown;
    try {
      renderTemplate('Hi {{patient.displayName}}, how are you?', {}, 'firstMessage');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TemplateError);
    expect(caught).toBeInstanceOf(ValidationError);
    const err = caught as TemplateError;
    expect(err.message).toBe(
      'firstMessage uses {{patient.displayName}}, but no value was given for patient.displayName ' +
        '(give one, or write {{patient.displayName or "..."}} with a fallback)',
    );
    expect(err.missing).toEqual([{ variable: 'patient.displayName', field: 'firstMessage' }]);
    expect(err.code).toBe('template_variable_missing');
    expect(err.retryable).toBe(false);
  });

  it('treats a blank value as missing', () => {
    expect(() =>
      renderTemplate('Hi {{patient.displayName}}', { 'patient.displayName': '   ' }, 'f'),
    ).toThrow(TemplateError);
  });

  it('never expands braces that arrive inside a value', () => {
    expect(
      renderTemplate('Hi {{patient.displayName}}', { 'patient.displayName': '{{evil}}' }, 'f'),
    ).toBe('Hi {{evil}}');
  });

  it('leaves text without placeholders untouched', () => {
    expect(renderTemplate('Plain text: { not a placeholder }', {}, 'f')).toBe(
      'Plain text: { not a placeholder }',
    );
  });
});

describe('parseTemplate and templateProblems', () => {
  it('splits text and placeholders with their positions', () => {
    expect(parseTemplate('Hi {{patient.displayName or "there"}}!')).toEqual([
      'Hi ',
      { variable: 'patient.displayName', fallback: 'there', start: 3, end: 37 },
      '!',
    ]);
    expect(placeholders('{{a.b}} and {{c}}').map((p) => p.variable)).toEqual(['a.b', 'c']);
  });

  it.each([
    ['Hi {{patient.displayName', '"{{" has no matching "}}"'],
    ['Hi patient.displayName}}', '"}}" has no matching "{{"'],
    ['Hi {{patient name}}', '"{{patient name}}" is not a valid placeholder'],
    ['Hi {{}}', '"{{}}" is not a valid placeholder'],
    ['Hi {{patient.displayName or ""}}', 'has an empty fallback'],
  ])('reports %j as malformed', (template, message) => {
    expect(() => parseTemplate(template)).toThrow(TemplateSyntaxError);
    expect(templateProblems(template)[0]).toContain(message);
  });

  it('reports unknown variables and lists the known ones', () => {
    expect(templateProblems('Hi {{patient.fullName}}')).toEqual([
      '{{patient.fullName}} is not a known variable (known: patient.displayName)',
    ]);
    expect(templateProblems('Hi {{patient.displayName}}')).toEqual([]);
  });

  it('declares every variable with a description', () => {
    for (const [name, description] of Object.entries(TEMPLATE_VARIABLES)) {
      expect(name).toMatch(/^[a-z]+\.[A-Za-z]+$/);
      expect(description.length).toBeGreaterThan(10);
    }
  });
});

describe('renderProfile', () => {
  it('renders every templated field for one patient', () => {
    const profile = minimalProfile({ closingMessage: 'Bye {{patient.displayName}}.' });
    const r = renderProfile(profile, templateValuesFor({ displayName: 'Ann' }));
    expect(r.instructions).toBe('You are a test assistant talking to Ann.');
    expect(r.firstMessage).toBe('Hi Ann, this is a test call.');
    expect(r.closingMessage).toBe('Bye Ann.');
    expect(profile.firstMessage).toContain('{{'); // the input is left alone
  });

  it('lists every missing value and its field in one error', () => {
    const profile = minimalProfile({
      protocol: [
        {
          id: 'a',
          ask: 'Is {{patient.displayName}} there?',
          intent: 'x',
          capture: { field: 'a', type: 'yesno' },
        },
      ],
    });
    let caught: TemplateError | undefined;
    try {
      renderProfile(profile, templateValuesFor({}));
    } catch (err) {
      caught = err as TemplateError;
    }
    expect(caught?.missing).toEqual([
      { variable: 'patient.displayName', field: 'instructions' },
      { variable: 'patient.displayName', field: 'protocol[0].ask' },
    ]);
    expect(caught?.message).toContain('protocol[0].ask uses {{patient.displayName}}');
  });
});
