/** Fault injection for any boundary object in unit tests: see {@link Faults}. */

type Method<T> = {
  [K in keyof T]: T[K] extends (...args: never[]) => unknown ? K : never;
}[keyof T];

/**
 * Wraps any boundary object so tests can make its next calls fail, and see every call made.
 * `faults.failNext('claim', new TransientError(...))` fails the next claim only.
 */
export class Faults<T extends object> {
  readonly calls: { method: string; args: unknown[] }[] = [];
  readonly #queued = new Map<string, unknown[]>();
  readonly proxy: T;

  constructor(target: T) {
    this.proxy = new Proxy(target, {
      get: (obj, prop, receiver) => {
        const value: unknown = Reflect.get(obj, prop, receiver);
        if (typeof value !== 'function' || typeof prop !== 'string') return value;
        return async (...args: unknown[]) => {
          this.calls.push({ method: prop, args });
          const queue = this.#queued.get(prop);
          if (queue && queue.length > 0) throw queue.shift();
          return (value as (...a: unknown[]) => unknown).apply(obj, args);
        };
      },
    });
  }

  failNext(method: Method<T>, err: unknown, times = 1): this {
    const queue = this.#queued.get(method as string) ?? [];
    for (let i = 0; i < times; i++) queue.push(err);
    this.#queued.set(method as string, queue);
    return this;
  }

  count(method: Method<T>): number {
    return this.calls.filter((c) => c.method === method).length;
  }
}
