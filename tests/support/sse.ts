/** Reads Server-Sent Events from a fetch response, for tests. */
export interface SseEvent {
  event: string;
  id: string | undefined;
  data: unknown;
}

export class SseReader {
  readonly events: SseEvent[] = [];
  private buffer = '';
  private waiters: (() => void)[] = [];
  private done = false;

  constructor(response: Response) {
    if (!response.body) throw new Error('no body');
    void this.pump(response.body.getReader());
  }

  private async pump(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.buffer += decoder.decode(value, { stream: true });
        let at: number;
        while ((at = this.buffer.indexOf('\n\n')) >= 0) {
          const block = this.buffer.slice(0, at);
          this.buffer = this.buffer.slice(at + 2);
          const lines = block.split('\n').filter((l) => !l.startsWith(':'));
          if (!lines.length) continue;
          const field = (name: string) =>
            lines.find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
          const data = field('data');
          this.events.push({
            event: field('event') ?? 'message',
            id: field('id'),
            data: data === undefined ? undefined : JSON.parse(data),
          });
        }
        this.wake();
      }
    } catch {
      // aborted by the test
    }
    this.done = true;
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  get ended(): boolean {
    return this.done;
  }

  /** Resolves with the first event matching `pred`, or rejects after `timeoutMs`. */
  async waitFor(pred: (e: SseEvent) => boolean, timeoutMs = 15_000): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(pred);
      if (found) return found;
      if (this.done) throw new Error('the stream ended first');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching event within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}
