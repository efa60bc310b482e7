import { describe, expect, it } from 'vitest';
import type { ContextModel } from '../../agent/safety/context-model.ts';
import type { SafetyRuleSpec } from '../../agent/safety/matcher.ts';
import { parseEvalLines } from './format.ts';
import {
  EvalLabelError,
  combine,
  createTextEvaluator,
  formatReport,
  unionOfRules,
} from './text.ts';

const RULES: SafetyRuleSpec[] = [
  { id: 'chest-pain', phrases: ['chest pain'] },
  { id: 'fainting', phrases: ['passed out', 'fainted'] },
];
const evaluator = createTextEvaluator(RULES);
const run = (tsv: string) => evaluator.evaluate('lines.tsv', parseEvalLines(tsv, 'lines.tsv'));

describe('the text-level safety evaluation', () => {
  const report = run(
    [
      'chest-pain\tI have chest pain',
      'chest-pain\tmy chest is funny', // missed
      'fainting\tI passed out',
      'fainting\tI have chest pain and I fainted', // caught, by chest-pain first
      'none\tI feel fine',
      'none\tno chest pain', // negated: not a false alarm
      'none\tthe chest pain clinic called', // a false alarm
      'none\tall good',
    ].join('\n'),
  );

  it('counts a red flag caught by ANY rule as a hit, and innocent lines with any hit as alarms', () => {
    expect(report.summary).toEqual({
      recall: 0.75,
      falseAlarmRate: 0.25,
      lines: 8,
      escalateRecall: 0.75,
      escalateFalseAlarmRate: 0.25,
      confirmRate: 0,
    });
    expect(report.redFlags).toBe(4);
    expect(report.innocent).toBe(4);
  });

  it('reports per rule: caught by any rule, by its own rule, of how many', () => {
    expect(report.perRule).toEqual([
      { ruleId: 'chest-pain', total: 2, caught: 1, ownRule: 1 },
      { ruleId: 'fainting', total: 2, caught: 2, ownRule: 2 },
    ]);
  });

  it('lists every miss and every false alarm with its line and what fired', () => {
    expect(report.misses.map((m) => m.line.line)).toEqual([2]);
    expect(report.falseAlarms.map((f) => [f.line.line, f.fired?.ruleId])).toEqual([
      [7, 'chest-pain'],
    ]);
    const text = formatReport(report).join('\n');
    expect(text).toContain('lines.tsv:2  chest-pain\tmy chest is funny');
    expect(text).toContain(
      "lines.tsv:7  the chest pain clinic called  → chest-pain (phrase 'chest pain')",
    );
  });

  it('refuses a label that is not a rule being evaluated, naming file and line', () => {
    expect(() => run('chest-pain\tok\nstroke\tmy face droops')).toThrow(EvalLabelError);
    expect(() => run('chest-pain\tok\nstroke\tmy face droops')).toThrow(/^lines\.tsv:2: 'stroke'/);
  });

  it('rounds to three decimals and gives 0 rather than NaN for an empty side', () => {
    const onlyRed = run('chest-pain\tchest pain\nchest-pain\tchest pain\nchest-pain\tno idea');
    expect(onlyRed.summary).toMatchObject({ recall: 0.667, falseAlarmRate: 0, lines: 3 });
  });

  it('counts a confirm as caught and as a false alarm, with the escalate-only figures beside', () => {
    // A model that doubts only "… clinic …" after the match: that line is asked about first.
    const contextModel: ContextModel = {
      bias: 3,
      weights: new Map([['a:clinic', -6]]),
      policy: { demoteBelow: 0.5 },
    };
    const withModel = createTextEvaluator(RULES, { contextModel }).evaluate(
      'lines.tsv',
      parseEvalLines('chest-pain\tI have chest pain\nnone\tthe chest pain clinic called', 'x'),
    );
    expect(withModel.summary).toEqual({
      recall: 1,
      falseAlarmRate: 1,
      lines: 2,
      escalateRecall: 1,
      escalateFalseAlarmRate: 0,
      confirmRate: 1,
    });
    expect(withModel.falseAlarms[0]?.fired?.trigger.model).toMatchObject({ policy: 'demote' });
  });

  it('combines files by counting lines, not by averaging their rates', () => {
    const a = run('chest-pain\tchest pain\nnone\tfine');
    const b = run(
      'chest-pain\tnothing\nchest-pain\tnothing\nchest-pain\tchest pain\nnone\tchest pain',
    );
    expect(combine([a, b])).toMatchObject({ recall: 0.5, falseAlarmRate: 0.5, lines: 6 });
  });

  it('takes the union of profiles, first definition of each id winning', () => {
    const union = unionOfRules([
      [{ id: 'a', phrases: ['x'] }, { id: 'b' }],
      [{ id: 'a', phrases: ['y'] }, { id: 'c' }],
    ]);
    expect(union.map((r) => [r.id, r.phrases?.[0]])).toEqual([
      ['a', 'x'],
      ['b', undefined],
      ['c', undefined],
    ]);
  });
});
