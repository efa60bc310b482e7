import { describe, expect, it } from 'vitest';
import {
  ContextModelError,
  assessTrace,
  candidateFeatures,
  loadContextModel,
  parseContextModel,
  type ContextModel,
  type ContextPolicy,
} from './context-model.ts';
import { compileSafetyRules, traceSafety } from './matcher.ts';

const compiled = compileSafetyRules([
  { id: 'chest-pain', phrases: ['chest pain'] },
  { id: 'breathing', phrases: ["can't breathe"] },
]);

/** A model that reads only a few cue words, so each outcome below has a clear cause. */
const model = (policy: ContextPolicy): ContextModel => ({
  bias: 0,
  weights: new Map([
    ['nb:crush', 4],
    ['a:yesterday', -4],
    ['o:jok', -8],
    ['b:gallbladder', -2],
  ]),
  policy,
});
const assess = (text: string, policy: ContextPolicy) =>
  assessTrace(compiled, traceSafety(compiled, text), model(policy));

describe('candidateFeatures', () => {
  it('names the rule, the context decision, stems around the span and cues of time and person', () => {
    const trace = traceSafety(compiled, 'my chest pain was worse yesterday');
    const c = trace.candidates[0];
    expect(c).toBeDefined();
    const f = c ? candidateFeatures(trace.tokens, c) : [];
    expect(f).toEqual(
      expect.arrayContaining([
        'rule:chest-pain',
        'ctx:fired',
        'nb:my',
        's:chest',
        'a:yesterday',
        'aa:was_worse',
        'cue:past',
        'cue:first-person',
      ]),
    );
  });
});

describe('assessTrace', () => {
  it('escalates a fired match the model agrees with, naming its strongest features', () => {
    const a = assess('a crushing chest pain', { dropBelow: 0.1, demoteBelow: 0.3 });
    expect(a.outcome).toBe('escalate');
    expect(a.model).toMatchObject({ policy: 'keep', topFeatures: [{ feature: 'nb:crush' }] });
  });

  it('asks about a fired match scored below demoteBelow (A) and drops one below dropBelow (B)', () => {
    expect(assess('chest pain yesterday', { demoteBelow: 0.3 }).outcome).toBe('confirm');
    expect(assess('chest pain yesterday', { demoteBelow: 0.3 }).model?.policy).toBe('demote');
    const dropped = assess('chest pain. only a joke', { dropBelow: 0.01, demoteBelow: 0.3 });
    expect(dropped).toMatchObject({ outcome: 'pass', match: null, model: { policy: 'drop' } });
  });

  it('asks about a suppressed match the model believes (C), with the rule it belongs to', () => {
    const a = assess('no crushing chest pain', { rescueAbove: 0.9 });
    expect(a.outcome).toBe('confirm');
    expect(a.match?.rule.id).toBe('chest-pain');
    expect(a.model?.policy).toBe('rescue');
    expect(assess('no crushing chest pain', {}).outcome).toBe('pass');
  });

  it('leaves the deterministic decision alone with every policy off', () => {
    expect(assess('chest pain yesterday', {}).outcome).toBe('escalate');
    expect(assess('no chest pain', {}).outcome).toBe('pass');
  });

  it('never touches an utterance without a candidate match', () => {
    const a = assess('a crushing weight of paperwork', { rescueAbove: 0, demoteBelow: 1 });
    expect(a).toEqual({ outcome: 'pass', match: null });
  });

  it('never puts the patient’s words in its contribution, only model features', () => {
    const a = assess('a crushing chest pain said by bartholomew', { demoteBelow: 0.3 });
    const names = (a.model?.topFeatures ?? []).map((t) => t.feature);
    expect(names.every((n) => model({}).weights.has(n))).toBe(true);
  });
});

describe('the shipped model', () => {
  const shipped = loadContextModel();

  it('loads, with a policy of thresholds in [0, 1]', () => {
    expect(shipped.weights.size).toBeGreaterThan(100);
    for (const t of Object.values(shipped.policy)) expect(t).toBeGreaterThanOrEqual(0);
  });

  it('speaks the feature language candidateFeatures writes', () => {
    const prefixes = /^(?:rule|kind|ctx|b|bb|a|aa|s|nb|na|o|cue|pos):/;
    for (const f of shipped.weights.keys()) expect(f).toMatch(prefixes);
  });

  it('scores a whole utterance well under a millisecond', () => {
    const text = 'my chest pain turned out to be my gallbladder, it went after the op';
    const start = performance.now();
    for (let i = 0; i < 200; i++) assessTrace(compiled, traceSafety(compiled, text), shipped);
    // Generous bound: this is a guard against an accidental quadratic, not a benchmark.
    expect((performance.now() - start) / 200).toBeLessThan(5);
  });
});

describe('parseContextModel', () => {
  it('names what is wrong with a bad file', () => {
    expect(() => parseContextModel({ featureVersion: 99 }, 'x.json')).toThrow(ContextModelError);
  });
});
