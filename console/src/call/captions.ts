/**
 * Live captions for both sides, read from the room. The agent framework (@livekit/agents 1.9)
 * publishes every transcription as a text stream on the topic `lk.transcription`, sent in the
 * name of whoever spoke: the agent's own words as one stream per segment whose chunks are
 * deltas (paced to its audio), and the patient's words as one stream per interim or final
 * version of a segment, each the whole text so far. The segment id ties the versions together.
 * components-react 3.0 has no transcription hook, so this is the small one we need.
 */
import type { Room, TextStreamReader } from 'livekit-client';

export const TOPIC_TRANSCRIPTION = 'lk.transcription';
const ATTRIBUTE_SEGMENT_ID = 'lk.segment_id';
const ATTRIBUTE_FINAL = 'lk.transcription_final';

export type Speaker = 'assistant' | 'you';

export interface Caption {
  id: string;
  speaker: Speaker;
  text: string;
  /** False while the words may still change. */
  final: boolean;
}

type Listener = () => void;

/** Captions of one call, in the order their segments began. */
export class CaptionStore {
  #captions: readonly Caption[] = [];
  readonly #listeners = new Set<Listener>();

  /** Starts listening; call before connecting so the first words are not missed. */
  attach(room: Room): () => void {
    room.registerTextStreamHandler(TOPIC_TRANSCRIPTION, (reader, from) => {
      const speaker: Speaker =
        from.identity === room.localParticipant.identity ? 'you' : 'assistant';
      void this.#read(reader, speaker);
    });
    return () => room.unregisterTextStreamHandler(TOPIC_TRANSCRIPTION);
  }

  readonly subscribe = (listener: Listener): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  readonly snapshot = (): readonly Caption[] => this.#captions;

  async #read(reader: TextStreamReader, speaker: Speaker): Promise<void> {
    const attributes = reader.info.attributes ?? {};
    const id = attributes[ATTRIBUTE_SEGMENT_ID] ?? reader.info.id;
    const final = attributes[ATTRIBUTE_FINAL] === 'true';
    let text = '';
    try {
      for await (const chunk of reader) {
        text += chunk;
        this.#upsert({ id, speaker, text, final: false });
      }
    } catch {
      // The stream broke off (the call ended mid-sentence): keep what arrived.
    }
    // The agent's delta stream cannot carry the final flag; its end is the end of the segment.
    if (text) this.#upsert({ id, speaker, text, final: final || speaker === 'assistant' });
  }

  #upsert(caption: Caption): void {
    const at = this.#captions.findIndex((c) => c.id === caption.id);
    const text = caption.text.trim();
    if (!text && at < 0) return;
    const next = { ...caption, text };
    this.#captions =
      at < 0
        ? [...this.#captions, next]
        : this.#captions.map((c, i) => (i === at ? (c.final && !next.final ? c : next) : c));
    for (const l of this.#listeners) l();
  }
}
