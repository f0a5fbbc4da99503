// Counts of dropped packets by reason, shared by the relay's and the
// overlay's counters. Reasons are a string union each daemon defines.

/** Counts of dropped packets by reason (a string union each engine defines). */
export class DropCounts<Reason extends string> {
  private readonly counts = new Map<Reason, number>();

  /** Adds `n` (default 1) drops for `reason`. */
  add(reason: Reason, n = 1): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + n);
  }

  /** The drops counted for `reason`, or undefined if none. */
  get(reason: Reason): number | undefined {
    return this.counts.get(reason);
  }

  get total(): number {
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }

  /** { reason: count } in reason order, for JSON. */
  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort());
  }

  /** "dropped 3 (ipv6 2, malformed 1)". */
  format(): string {
    const parts = [...this.counts].sort().map(([k, v]) => `${k} ${v}`).join(', ');
    return `dropped ${this.total}${parts ? ` (${parts})` : ''}`;
  }
}
