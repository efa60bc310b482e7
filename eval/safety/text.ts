/**
 * The text-level safety evaluation: every utterance of an evaluation file straight into the
 * matcher, against a set of rules, with nothing in between. Pure: the CLI (scripts/eval-safety.ts)
 * reads the files and prints.
 *
 * A red-flag line counts as caught when ANY rule fires (the patient gets a safety response and
 * the care team is told, whichever rule it was); per-rule figures say whether its own rule fired.
 */
import { assessSafety, type ContextModel, type Outcome } from '../../agent/safety/context-model.ts';
import {
  compileSafetyRules,
  matchSafety,
  type CompiledSafetyRules,
  type SafetyRuleSpec,
  type SafetyTrigger,
} from '../../agent/safety/matcher.ts';
import { INNOCENT, type EvalLine } from './format.ts';

export interface FiredRule {
  ruleId: string;
  trigger: SafetyTrigger;
}

export interface LineResult {
  line: EvalLine;
  /** The rule the agent would act on or ask about (the first in priority order), or null. */
  fired: FiredRule | null;
  /**
   * What the agent does: act at once, ask one confirming question (the care team is told
   * either way), or nothing. Without the context model: escalate whenever a rule fires.
   */
  outcome: Outcome;
  /** Whether the line's own rule fires on it when checked on its own. */
  ownRuleFired: boolean;
}

export interface RuleFigures {
  ruleId: string;
  /** Red-flag lines with this label. */
  total: number;
  /** Of those, lines on which some rule fired. */
  caught: number;
  /** Of those, lines on which this rule itself fired. */
  ownRule: number;
}

export interface TextEvalReport {
  file: string;
  lines: number;
  redFlags: number;
  innocent: number;
  perRule: RuleFigures[];
  misses: LineResult[];
  falseAlarms: LineResult[];
  /** Rule-level confusions: caught, but by another rule. */
  otherRule: LineResult[];
  /** Lines escalated at once (not asked about first). */
  escalated: { red: number; innocent: number };
  /** Innocent lines asked the confirming question. */
  confirmedInnocent: number;
  summary: EvalSummary;
}

/** The one-line JSON the CLI prints last. */
export interface EvalSummary {
  /** Red flags escalated or asked about: a confirm counts as caught. */
  recall: number;
  /** Innocent lines escalated or asked about: a confirm counts as a false alarm. */
  falseAlarmRate: number;
  lines: number;
  /** Red flags escalated at once. */
  escalateRecall: number;
  /** Innocent lines escalated at once. */
  escalateFalseAlarmRate: number;
  /** Innocent lines asked the confirming question. */
  confirmRate: number;
}

/** A label that names no rule being evaluated. */
export class EvalLabelError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly label: string,
    known: readonly string[],
  ) {
    super(
      `${file}:${line}: '${label}' is not a rule id in the evaluated profiles (known: ${known.join(', ')}, or ${INNOCENT})`,
    );
    this.name = 'EvalLabelError';
  }
}

/** Rounded to 3 decimals, the precision the summary line shows. */
const ratio = (num: number, den: number): number =>
  den === 0 ? 0 : Math.round((num / den) * 1000) / 1000;

/** The union of several profiles' rules, first definition of each id wins, order kept. */
export function unionOfRules<R extends SafetyRuleSpec>(ruleLists: readonly (readonly R[])[]): R[] {
  const seen = new Set<string>();
  const out: R[] = [];
  for (const list of ruleLists) {
    for (const rule of list) {
      if (seen.has(rule.id)) continue;
      seen.add(rule.id);
      out.push(rule);
    }
  }
  return out;
}

/** Throws {@link EvalLabelError} for the first line whose label is neither a rule id nor none. */
export function checkLabels(file: string, lines: readonly EvalLine[], ruleIds: readonly string[]) {
  const known = new Set(ruleIds);
  for (const l of lines) {
    if (l.label !== INNOCENT && !known.has(l.label)) {
      throw new EvalLabelError(file, l.line, l.label, ruleIds);
    }
  }
}

export interface Evaluator {
  readonly ruleIds: readonly string[];
  evaluate(file: string, lines: readonly EvalLine[]): TextEvalReport;
}

export interface TextEvaluatorOptions {
  /** The learned second stage (agent/safety/context-model.ts). @defaultValue none */
  contextModel?: ContextModel | undefined;
}

/** Compiles the rules once; evaluate() may then run on any number of files. */
export function createTextEvaluator(
  rules: readonly SafetyRuleSpec[],
  options: TextEvaluatorOptions = {},
): Evaluator {
  const all: CompiledSafetyRules = compileSafetyRules(rules);
  const single = new Map(rules.map((r) => [r.id, compileSafetyRules([r])]));
  const ruleIds = rules.map((r) => r.id);
  return {
    ruleIds,
    evaluate(file, lines) {
      checkLabels(file, lines, ruleIds);
      const results = lines.map((line): LineResult => {
        const { outcome, match: m } = assessSafety(all, line.text, options.contextModel);
        const own = single.get(line.label);
        return {
          line,
          fired: m ? { ruleId: m.rule.id, trigger: m.trigger } : null,
          outcome,
          ownRuleFired: own ? matchSafety(own, line.text) !== null : false,
        };
      });
      return summarise(file, ruleIds, results);
    },
  };
}

/** The figures for one file's results. Exported for its arithmetic to be tested on its own. */
export function summarise(
  file: string,
  ruleIds: readonly string[],
  results: readonly LineResult[],
): TextEvalReport {
  const red = results.filter((r) => r.line.label !== INNOCENT);
  const innocent = results.filter((r) => r.line.label === INNOCENT);
  const perRule = ruleIds
    .map((ruleId): RuleFigures => {
      const mine = red.filter((r) => r.line.label === ruleId);
      return {
        ruleId,
        total: mine.length,
        caught: mine.filter((r) => r.outcome !== 'pass').length,
        ownRule: mine.filter((r) => r.ownRuleFired).length,
      };
    })
    .filter((f) => f.total > 0);
  const misses = red.filter((r) => r.outcome === 'pass');
  const falseAlarms = innocent.filter((r) => r.outcome !== 'pass');
  const escalated = (list: readonly LineResult[]) =>
    list.filter((r) => r.outcome === 'escalate').length;
  const confirmed = innocent.filter((r) => r.outcome === 'confirm').length;
  return {
    file,
    lines: results.length,
    redFlags: red.length,
    innocent: innocent.length,
    perRule,
    misses,
    falseAlarms,
    otherRule: red.filter((r) => r.outcome !== 'pass' && !r.ownRuleFired),
    escalated: { red: escalated(red), innocent: escalated(innocent) },
    confirmedInnocent: confirmed,
    summary: {
      recall: ratio(red.length - misses.length, red.length),
      falseAlarmRate: ratio(falseAlarms.length, innocent.length),
      lines: results.length,
      escalateRecall: ratio(escalated(red), red.length),
      escalateFalseAlarmRate: ratio(escalated(innocent), innocent.length),
      confirmRate: ratio(confirmed, innocent.length),
    },
  };
}

/** Several files' reports as one (for the last summary line when more than one file ran). */
export function combine(reports: readonly TextEvalReport[]): EvalSummary {
  const red = reports.reduce((n, r) => n + r.redFlags, 0);
  const missed = reports.reduce((n, r) => n + r.misses.length, 0);
  const innocent = reports.reduce((n, r) => n + r.innocent, 0);
  const alarms = reports.reduce((n, r) => n + r.falseAlarms.length, 0);
  return {
    recall: ratio(red - missed, red),
    falseAlarmRate: ratio(alarms, innocent),
    lines: reports.reduce((n, r) => n + r.lines, 0),
    escalateRecall: ratio(
      reports.reduce((n, r) => n + r.escalated.red, 0),
      red,
    ),
    escalateFalseAlarmRate: ratio(
      reports.reduce((n, r) => n + r.escalated.innocent, 0),
      innocent,
    ),
    confirmRate: ratio(
      reports.reduce((n, r) => n + r.confirmedInnocent, 0),
      innocent,
    ),
  };
}

const describeTrigger = (f: FiredRule): string => {
  const t = f.trigger;
  if (t.kind !== 'concept' || !t.explain) return `${f.ruleId} (${t.kind} '${t.value}')`;
  const e = t.explain;
  const what = e.phrase
    ? `phrase '${e.phrase}'`
    : Object.entries(e.terms ?? {})
        .map(([k, v]) => `${k}='${v}'`)
        .join(' + ');
  return `${f.ruleId} (concept ${t.value}: ${what}${e.heardAs ? `; heard as ${e.heardAs.join(', ')}` : ''})`;
};

/** The human part of the report, one string per printed line. */
export function formatReport(report: TextEvalReport): string[] {
  const out: string[] = [];
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  out.push(
    `== ${report.file}: ${report.lines} lines (${report.redFlags} red flags, ${report.innocent} innocent)`,
  );
  out.push('recall per rule (caught by any rule / by its own rule / lines):');
  for (const f of report.perRule) {
    out.push(
      `  ${f.ruleId.padEnd(22)} ${String(f.caught).padStart(4)} ${String(f.ownRule).padStart(4)} /${String(f.total).padStart(4)}`,
    );
  }
  out.push(
    `overall recall      ${pct(report.summary.recall)} (${report.redFlags - report.misses.length}/${report.redFlags})`,
  );
  out.push(
    `false-alarm rate    ${pct(report.summary.falseAlarmRate)} (${report.falseAlarms.length}/${report.innocent})`,
  );
  out.push(
    `escalated at once   ${pct(report.summary.escalateRecall)} of red flags, ${pct(report.summary.escalateFalseAlarmRate)} of innocent lines; asked first: ${pct(report.summary.confirmRate)} of innocent lines`,
  );
  out.push(`misses (${report.misses.length}):`);
  for (const m of report.misses)
    out.push(`  ${report.file}:${m.line.line}  ${m.line.label}\t${m.line.text}`);
  out.push(`false alarms (${report.falseAlarms.length}):`);
  for (const f of report.falseAlarms) {
    out.push(
      `  ${report.file}:${f.line.line}  ${f.line.text}  → ${f.outcome === 'confirm' ? '(asked first) ' : ''}${f.fired ? describeTrigger(f.fired) : ''}`,
    );
  }
  if (report.otherRule.length) {
    out.push(`caught by another rule (${report.otherRule.length}):`);
    for (const o of report.otherRule) {
      out.push(
        `  ${report.file}:${o.line.line}  ${o.line.label}\t${o.line.text}  → ${o.fired ? describeTrigger(o.fired) : ''}`,
      );
    }
  }
  return out;
}
