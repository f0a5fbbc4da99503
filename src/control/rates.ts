// Per-second rates from monotonically growing counters, sampled by the
// daemon once a second (for `status`).

export class RateMeter {
  private last = new Map<string, { at: number; values: number[] }>();
  readonly rates = new Map<string, number[]>();

  /** Records the current values of `key`; rates become (now - last) per second. */
  sample(key: string, values: number[], now = Date.now()): void {
    const prev = this.last.get(key);
    if (prev && now > prev.at) this.rates.set(key, values.map((v, i) => ((v - prev.values[i]) * 1000) / (now - prev.at)));
    this.last.set(key, { at: now, values });
  }
}
