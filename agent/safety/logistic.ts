/**
 * A small L2-regularised logistic regression over sparse string features, for the safety
 * context model (context-model.ts). Written here rather than taken from a package because it is
 * about a hundred lines and must be exactly reproducible: training is plain SGD over a shuffle
 * drawn from a seeded generator, so the same examples and options give the same weights, bit
 * for bit, on every machine.
 */

/** One training example: the features present (each counts once) and the target. */
export interface Example {
  readonly features: readonly string[];
  readonly y: 0 | 1;
  /** How much this example counts. @defaultValue 1 */
  readonly weight?: number;
}

export interface TrainOptions {
  /** Passes over the data. @defaultValue 30 */
  epochs: number;
  /** The first step size; it decays as 1 / (1 + epoch). @defaultValue 0.5 */
  learningRate: number;
  /** L2 strength per unit of example weight. @defaultValue 1e-3 */
  l2: number;
  /** Seeds the shuffle. @defaultValue 1 */
  seed: number;
}

export const trainDefaults: Readonly<TrainOptions> = Object.freeze({
  epochs: 30,
  learningRate: 0.5,
  l2: 1e-3,
  seed: 1,
});

export interface LogisticModel {
  readonly bias: number;
  readonly weights: ReadonlyMap<string, number>;
}

/** mulberry32: a tiny seeded generator; Math.random cannot be seeded. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sigmoid = (z: number): number =>
  z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));

/** The logit of an example: bias plus the weights of its (distinct) features. */
export function logit(model: LogisticModel, features: Iterable<string>): number {
  let z = model.bias;
  for (const f of new Set(features)) z += model.weights.get(f) ?? 0;
  return z;
}

export function train(
  examples: readonly Example[],
  options: Partial<TrainOptions> = {},
): LogisticModel {
  const o = { ...trainDefaults, ...options };
  if (!(o.epochs >= 1) || !(o.learningRate > 0) || !(o.l2 >= 0)) {
    throw new RangeError('train: epochs >= 1, learningRate > 0 and l2 >= 0 are required');
  }
  // Features as dense indices, in first-seen order, so iteration order never depends on hashing.
  const index = new Map<string, number>();
  const rows = examples.map((e) => {
    const ids = [...new Set(e.features)].map((f) => {
      let id = index.get(f);
      if (id === undefined) index.set(f, (id = index.size));
      return id;
    });
    return { ids, y: e.y, weight: e.weight ?? 1 };
  });
  // The weights are `scale * v`: L2 shrinks every weight at each step, and a shared scale does
  // that in O(1) instead of touching every feature.
  const v = new Float64Array(index.size);
  let scale = 1;
  let bias = 0;
  const random = seeded(o.seed);
  const order = rows.map((_, i) => i);
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    const rate = o.learningRate / (1 + epoch);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j] ?? 0, order[i] ?? 0];
    }
    for (const r of order) {
      const row = rows[r];
      if (!row) continue;
      let z = 0;
      for (const id of row.ids) z += v[id] ?? 0;
      const g = (sigmoid(bias + scale * z) - row.y) * row.weight * rate;
      bias -= g;
      for (const id of row.ids) v[id] = (v[id] ?? 0) - g / scale;
      scale *= 1 - rate * o.l2 * row.weight;
      // Fold the scale back in before it underflows.
      if (scale < 1e-6) {
        for (let id = 0; id < v.length; id++) v[id] = (v[id] ?? 0) * scale;
        scale = 1;
      }
    }
  }
  const weights = new Map<string, number>();
  for (const [f, id] of index) {
    const value = (v[id] ?? 0) * scale;
    if (value !== 0) weights.set(f, value);
  }
  return { bias, weights };
}
