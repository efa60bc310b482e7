/**
 * What the conversation expects the patient to say next. The dialogue engine publishes it; a
 * local recogniser may narrow what it listens for to it (a yes/no grammar, numbers, a list of
 * choices), which is what makes small offline recognisers accurate.
 */
import type { Capture } from '../../prompts/schema.ts';

export type Expectation =
  | { kind: 'capture'; stepId: string; capture: Capture }
  /** The engine read an answer back and waits for yes or no. */
  | { kind: 'confirm'; stepId: string }
  /** Anything: free speech. */
  | { kind: 'open' };

export interface ExpectationSource {
  /** What the patient is expected to say now. Cheap; called on every recognition. */
  current(): Expectation;
}

/** A mutable holder shared by one session's engine (writer) and recogniser (reader). */
export class ExpectationBoard implements ExpectationSource {
  private value: Expectation = { kind: 'open' };

  current(): Expectation {
    return this.value;
  }

  set(next: Expectation): void {
    this.value = next;
  }
}
