/**
 * The safety evaluation file format, shared by the text-level and the speech-level runs:
 * one utterance per line, `<rule id or none><TAB><utterance>`. Blank lines and lines starting
 * with `#` are comments. A malformed line is an error naming the file and line, never skipped.
 */
import { readFile } from 'node:fs/promises';

/** The label of an utterance that should raise no escalation. */
export const INNOCENT = 'none';

export interface EvalLine {
  /** A rule id, or {@link INNOCENT}. */
  label: string;
  text: string;
  /** 1-based line number in its file, for reports. */
  line: number;
}

export class EvalFormatError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    why: string,
  ) {
    super(`${file}:${line}: ${why}`);
    this.name = 'EvalFormatError';
  }
}

const LABEL = /^(?:none|[a-z][a-z0-9_-]{0,39})$/;

/** Parses the text of an evaluation file. Throws {@link EvalFormatError} on the first bad line. */
export function parseEvalLines(text: string, file = '<input>'): EvalLine[] {
  const out: EvalLine[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (!raw.trim() || raw.trimStart().startsWith('#')) return;
    const tab = raw.indexOf('\t');
    if (tab < 0)
      throw new EvalFormatError(file, line, 'expected <rule id or none><TAB><utterance>');
    const label = raw.slice(0, tab).trim();
    const utterance = raw.slice(tab + 1).trim();
    if (!LABEL.test(label)) {
      throw new EvalFormatError(file, line, 'the label must be a rule id or "none"');
    }
    if (!utterance) throw new EvalFormatError(file, line, 'the utterance is empty');
    out.push({ label, text: utterance, line });
  });
  return out;
}

export async function readEvalFile(path: string): Promise<EvalLine[]> {
  return parseEvalLines(await readFile(path, 'utf8'), path);
}
