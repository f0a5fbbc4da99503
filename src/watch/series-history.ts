// The last N samples (600 at 1 s: ten minutes) of named numbers, kept
// aligned on one time axis so a chart can take them as they are (uPlot's
// columns: times, then one array per series, null where a series had no
// value). Shared by `lab watch` (server side, so a page opened late still
// sees ten minutes) and the tests.

/** Times in seconds since the epoch, and each series' values at those times. */
export interface SeriesWindow {
  t: number[];
  series: Record<string, Array<number | null>>;
}

export class SeriesHistory {
  private times: number[] = [];
  private readonly columns = new Map<string, Array<number | null>>();
  /** Index of the oldest kept sample in the arrays (dropped ones are compacted away in bulk). */
  private start = 0;

  constructor(readonly capacity = 600) {}

  /** Adds one sample; a series first seen now is null before, one missing now is null at this time. */
  record(atMs: number, values: Record<string, number>): void {
    const index = this.times.length;
    this.times.push(atMs / 1000);
    for (const [key, column] of this.columns) column.push(Object.hasOwn(values, key) ? values[key] : null);
    for (const [key, value] of Object.entries(values)) {
      if (this.columns.has(key)) continue;
      const column = new Array<number | null>(index).fill(null);
      column.push(value);
      this.columns.set(key, column);
    }
    if (this.times.length - this.start > this.capacity) this.start++;
    if (this.start >= this.capacity) this.compact();
  }

  /** Samples strictly after `sinceSeconds` (all kept samples for 0). */
  since(sinceSeconds = 0): SeriesWindow {
    let from = this.start;
    while (from < this.times.length && this.times[from] <= sinceSeconds) from++;
    const series: Record<string, Array<number | null>> = {};
    for (const [key, column] of this.columns) series[key] = column.slice(from);
    return { t: this.times.slice(from), series };
  }

  get size(): number {
    return this.times.length - this.start;
  }

  /** Drops the samples before `start`, and the series left with no value at all. */
  private compact(): void {
    this.times = this.times.slice(this.start);
    for (const [key, column] of this.columns) {
      const kept = column.slice(this.start);
      if (kept.every((v) => v === null)) this.columns.delete(key);
      else this.columns.set(key, kept);
    }
    this.start = 0;
  }
}
