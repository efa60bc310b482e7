/**
 * Text that reaches speech or a prompt (a patient's display name is templated into the greeting
 * and the instructions) must be plain, visible text. Control characters can cut a prompt short
 * or smuggle a line into it (NUL, CR/LF, ESC), bidi overrides and isolates reorder what a
 * reviewer sees against what the model and the voice get (the "Trojan Source" trick), and
 * zero-width marks hide text or split words a safety rule would match. All are refused at
 * intake, by the one schema the API and the dispatcher share.
 *
 * The check names the kind of character, never the text: the value is patient data.
 */

/** What {@link unsafeTextKind} found. */
export type UnsafeTextKind = 'control' | 'bidi' | 'invisible';

// C0 and C1 controls and DEL. Tabs and newlines included: no field we accept is multi-line.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
// Bidi embeddings, overrides and isolates, and the implicit marks (LRM, RLM, ALM).
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
// Zero-width and otherwise invisible format characters: ZWSP, ZWNJ, ZWJ, word joiner, the
// invisible operators, BOM, soft hyphen, Mongolian vowel separator, interlinear annotations and
// the line/paragraph separators (line breaks in disguise).
const INVISIBLE = /[\u00ad\u180e\u200b-\u200d\u2028\u2029\u2060-\u2064\ufeff\ufff9-\ufffb]/u;

/** The first kind of unsafe character in `text`, or undefined when it is plain visible text. */
export function unsafeTextKind(text: string): UnsafeTextKind | undefined {
  if (CONTROL.test(text)) return 'control';
  if (BIDI.test(text)) return 'bidi';
  if (INVISIBLE.test(text)) return 'invisible';
  return undefined;
}

const DESCRIPTIONS: Record<UnsafeTextKind, string> = {
  control: 'must not contain control characters',
  bidi: 'must not contain bidirectional override or isolate characters',
  invisible: 'must not contain zero-width or invisible characters',
};

/** The message a schema issue carries for unsafe text (no value quoted). */
export function describeUnsafeText(kind: UnsafeTextKind): string {
  return DESCRIPTIONS[kind];
}

/** Marks the schema issues that {@link unsafeTextKind} raised, so intake can give them a code. */
export const UNSAFE_TEXT_ISSUE = 'unsafe_text';
