/** Summary statistics shared by the transcript stats, the dispatcher tests and the benchmarks. */

/**
 * Nearest-rank percentile: the smallest sample at or above `p`% of the samples. `values` need not
 * be sorted. NaN for no samples: callers that report zero instead say so themselves.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1]!;
}
