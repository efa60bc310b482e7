/**
 * Training and cross-validating the safety context model (agent/safety/context-model.ts). Pure:
 * scripts/train-safety-context.ts reads the files, calls these and writes the weights.
 *
 * Only tuning files may come here: every eval/safety/*.tsv except heldout*.tsv
 * ({@link isTuningFile}). The blind sets are measured with the finished model, never trained or
 * tuned on, and their lines are never printed.
 */
import { basename } from 'node:path';
import {
  FEATURE_VERSION,
  assessTrace,
  candidateFeatures,
  type ContextModel,
  type ContextModelFile,
  type ContextPolicy,
  type Outcome,
} from '../../agent/safety/context-model.ts';
import {
  train,
  trainDefaults,
  type Example,
  type TrainOptions,
} from '../../agent/safety/logistic.ts';
import {
  traceSafety,
  type CompiledSafetyRules,
  type SafetyRuleSpec,
  type SafetyTrace,
} from '../../agent/safety/matcher.ts';
import { INNOCENT, type EvalLine } from './format.ts';

export const isTuningFile = (path: string): boolean =>
  path.endsWith('.tsv') && !basename(path).startsWith('heldout');

/** One evaluation line read by the matcher, with its candidates' features. */
export interface TracedLine {
  readonly file: string;
  readonly label: string;
  readonly trace: SafetyTrace;
  readonly features: readonly (readonly string[])[];
}

export function traceLines(
  compiled: CompiledSafetyRules,
  file: string,
  lines: readonly EvalLine[],
): TracedLine[] {
  if (!isTuningFile(file) && !file.startsWith('<')) {
    // The check is here, not only in the script, so no caller can train on a blind set.
    throw new Error(`${file}: heldout sets are for measuring only, never for training`);
  }
  return lines.map((l) => traceLine(compiled, file, l));
}

/** One line's candidates and their features. Unguarded: for measuring, blind sets included. */
export function traceLine(compiled: CompiledSafetyRules, file: string, line: EvalLine): TracedLine {
  const trace = traceSafety(compiled, line.text);
  return {
    file,
    label: line.label,
    trace,
    features: trace.candidates.map((c) => candidateFeatures(trace.tokens, c)),
  };
}

/**
 * One example per candidate. The target is whether the line is a red flag; on a red-flag line a
 * candidate of another rule counts as innocent when the line's own rule has a candidate too ("no
 * fever but my chest is crushing": the fever is denied). A line's candidates share its weight,
 * so a line with many candidates counts no more than one with a single one.
 */
export function examplesOf(lines: readonly TracedLine[]): Example[] {
  return lines.flatMap((l) => {
    const cands = l.trace.candidates;
    const own = cands.some((c) => c.ruleId === l.label);
    return cands.map((c, i): Example => {
      const red = l.label !== INNOCENT && (!own || c.ruleId === l.label);
      return { features: l.features[i] ?? [], y: red ? 1 : 0, weight: 1 / cands.length };
    });
  });
}

export interface FitOptions extends TrainOptions {
  /** A feature must occur in at least this many training lines to get a weight. */
  minLines: number;
  /**
   * Leave out the context layer's own decision (`ctx:` and the cues joined with it), so the
   * model judges from the words alone. With it, the model learns to copy the decision: the
   * context layer was tuned on these very files and is right on 99 % of them, so out of fold
   * no policy moved a single line (scripts/train-safety-context.ts prints both). @defaultValue true
   */
  wordsOnly: boolean;
}

export const fitDefaults: Readonly<FitOptions> = Object.freeze({
  ...trainDefaults,
  l2: 1e-3,
  minLines: 3,
  wordsOnly: true,
});

const isReasonFeature = (f: string): boolean => f.startsWith('ctx:') || f.includes('&');

/** Trains on `lines`, keeping only features seen in `minLines` lines (the model's vocabulary). */
export function fit(
  lines: readonly TracedLine[],
  options: Partial<FitOptions> = {},
  policy: ContextPolicy = {},
): ContextModel {
  const o = { ...fitDefaults, ...options };
  const seen = new Map<string, number>();
  for (const l of lines)
    for (const f of new Set(l.features.flat())) seen.set(f, (seen.get(f) ?? 0) + 1);
  const keep = (f: string) =>
    (seen.get(f) ?? 0) >= o.minLines && !(o.wordsOnly && isReasonFeature(f));
  const examples = examplesOf(lines).map((e) => ({ ...e, features: e.features.filter(keep) }));
  const m = train(examples, {
    epochs: o.epochs,
    learningRate: o.learningRate,
    l2: o.l2,
    seed: o.seed,
  });
  return { bias: m.bias, weights: m.weights, policy };
}

/** The model as the JSON file ships it: weights rounded, features sorted, so diffs stay small. */
export function modelFile(
  model: ContextModel,
  trainedOn: readonly string[],
  options: FitOptions,
): ContextModelFile {
  const round = (x: number) => Math.round(x * 1e4) / 1e4;
  const weights: Record<string, number> = {};
  for (const f of [...model.weights.keys()].sort()) {
    const w = round(model.weights.get(f) ?? 0);
    if (w !== 0) weights[f] = w;
  }
  return {
    featureVersion: FEATURE_VERSION,
    trainedOn: [...trainedOn].sort(),
    options: { ...options },
    policy: model.policy,
    bias: round(model.bias),
    weights,
  };
}

/** A line's out-of-fold scores: its best fired and best suppressed candidate. */
export interface ScoredLine {
  readonly file: string;
  readonly red: boolean;
  /** The deterministic matcher fired. */
  readonly fired: boolean;
  readonly pFired: number | undefined;
  readonly pSuppressed: number | undefined;
}

export function scoreLines(model: ContextModel, lines: readonly TracedLine[]): ScoredLine[] {
  return lines.map((l) => {
    let pFired: number | undefined;
    let pSuppressed: number | undefined;
    l.trace.candidates.forEach((c, i) => {
      let z = model.bias;
      for (const f of new Set(l.features[i])) z += model.weights.get(f) ?? 0;
      const p = 1 / (1 + Math.exp(-z));
      if (c.decision === 'fired') pFired = Math.max(pFired ?? 0, p);
      else pSuppressed = Math.max(pSuppressed ?? 0, p);
    });
    return {
      file: l.file,
      red: l.label !== INNOCENT,
      fired: l.trace.match !== null,
      pFired,
      pSuppressed,
    };
  });
}

/** Leave-one-file-out: each file scored by a model trained on all the others. */
export function crossValidate(
  lines: readonly TracedLine[],
  options: Partial<FitOptions> = {},
): ScoredLine[] {
  const files = [...new Set(lines.map((l) => l.file))].sort();
  return files.flatMap((file) =>
    scoreLines(
      fit(
        lines.filter((l) => l.file !== file),
        options,
      ),
      lines.filter((l) => l.file === file),
    ),
  );
}

/** The outcome a policy gives a scored line (the same rules as context-model.ts assessTrace). */
export function outcomeOf(s: ScoredLine, policy: ContextPolicy): Outcome {
  if (s.fired) {
    const p = s.pFired ?? 1;
    if (policy.dropBelow !== undefined && p < policy.dropBelow) return 'pass';
    if (policy.demoteBelow !== undefined && p < policy.demoteBelow) return 'confirm';
    return 'escalate';
  }
  if (
    s.pSuppressed !== undefined &&
    policy.rescueAbove !== undefined &&
    s.pSuppressed > policy.rescueAbove
  )
    return 'confirm';
  return 'pass';
}

export interface PolicyFigures {
  redFlags: number;
  innocent: number;
  /** Red flags escalated or confirmed. */
  recall: number;
  /** Innocent lines escalated or confirmed. */
  falseAlarmRate: number;
  /** Red flags escalated at once. */
  escalateRecall: number;
  /** Innocent lines escalated at once. */
  escalateFalseAlarmRate: number;
  /** Innocent lines asked the confirming question. */
  confirmRate: number;
  /** Red flags asked the confirming question instead of escalated. */
  redConfirmRate: number;
  /** The counts behind the rates. */
  counts: Record<'redHit' | 'redEsc' | 'redConf' | 'innHit' | 'innEsc' | 'innConf', number>;
}

const ratio = (n: number, d: number) => (d === 0 ? 0 : Math.round((n / d) * 10000) / 10000);

export function figures(scored: readonly ScoredLine[], policy: ContextPolicy): PolicyFigures {
  let red = 0;
  let innocent = 0;
  const count = { redHit: 0, redEsc: 0, redConf: 0, innHit: 0, innEsc: 0, innConf: 0 };
  for (const s of scored) {
    const o = outcomeOf(s, policy);
    if (s.red) {
      red++;
      if (o !== 'pass') count.redHit++;
      if (o === 'escalate') count.redEsc++;
      if (o === 'confirm') count.redConf++;
    } else {
      innocent++;
      if (o !== 'pass') count.innHit++;
      if (o === 'escalate') count.innEsc++;
      if (o === 'confirm') count.innConf++;
    }
  }
  return {
    redFlags: red,
    innocent,
    recall: ratio(count.redHit, red),
    falseAlarmRate: ratio(count.innHit, innocent),
    escalateRecall: ratio(count.redEsc, red),
    escalateFalseAlarmRate: ratio(count.innEsc, innocent),
    confirmRate: ratio(count.innConf, innocent),
    redConfirmRate: ratio(count.redConf, red),
    counts: count,
  };
}

/** Checks assessTrace and outcomeOf agree on a traced line (the trainer runs this on every line). */
export function sameOutcome(
  compiled: CompiledSafetyRules<SafetyRuleSpec>,
  line: TracedLine,
  scored: ScoredLine,
  model: ContextModel,
): boolean {
  return assessTrace(compiled, line.trace, model).outcome === outcomeOf(scored, model.policy);
}
