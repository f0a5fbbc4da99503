// Order statistics for the benchmarks' reports.

/** The q-quantile of `xs` (nearest rank, q in [0, 1]); xs is not changed. */
export const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/** The middle value (the upper one of an even count). */
export const median = (xs: readonly number[]): number => quantile(xs, 0.5);
