// The poll loop's two decisions, apart from its waiting (poll-loop.ts says
// why each exists): whether the wake rate makes an adaptive loop busy, and
// whether a wake is worth an answer spin. Pure: the time comes in as an
// argument, so the unit tests drive them with a clock of their own.

/** The wake rate is measured over windows of this length. */
export const RATE_WINDOW_MS = 100;
/** Above this many wakes a second, an adaptive loop waits in libuv (busy). */
export const BUSY_WAKES_PER_S = 3000;
/** Below this many, it goes back to its own slices. */
export const CALM_WAKES_PER_S = 1000;
/** A spin follows a wake on an fd whose spins caught a packet at least this often (recent average). */
export const SPIN_ODDS = 0.5;
/** Weight of one spin's outcome in an fd's odds. */
export const SPIN_LEARN = 0.125;
/** An fd whose odds are low still spins once in this many ms (after a wake), to see whether they changed. */
export const EXPLORE_MS = 250;
/** Spinning takes at most this share of a rate window. */
export const SPIN_BUDGET = 0.1;

/**
 * Wakes counted in windows of RATE_WINDOW_MS: at the end of each, an
 * adaptive loop turns busy above BUSY_WAKES_PER_S and back below
 * CALM_WAKES_PER_S. Also keeps the window's spin time for the spin budget.
 */
export class WakeRate {
  busy = false;
  /** Wakes per second over the last full window. */
  wakesPerSecond = 0;
  /** Milliseconds spent spinning in the current window. */
  spinMs = 0;
  private windowStart = 0;
  private windowWakes = 0;

  constructor(readonly adaptive: boolean) {}

  /** Counts `n` wakes at `now`; returns 'busy' or 'calm' when the window that ends changes the state. */
  woke(n: number, now: number): 'busy' | 'calm' | undefined {
    this.windowWakes += n;
    const elapsed = now - this.windowStart;
    if (elapsed < RATE_WINDOW_MS) return undefined;
    const rate = (this.windowWakes * 1000) / elapsed;
    this.windowStart = now;
    this.windowWakes = 0;
    this.spinMs = 0;
    this.wakesPerSecond = Math.round(rate);
    if (!this.adaptive) return undefined;
    if (!this.busy && rate > BUSY_WAKES_PER_S) {
      this.busy = true;
      return 'busy';
    }
    if (this.busy && rate < CALM_WAKES_PER_S) {
      this.busy = false;
      return 'calm';
    }
    return undefined;
  }

  /** Whether this window still has room for a spin. */
  get spinAllowed(): boolean {
    return this.spinMs < SPIN_BUDGET * RATE_WINDOW_MS;
  }
}

/** One fd's record of its answer spins. */
export interface SpinOdds {
  /** Recent share of spins after this fd's wakes that caught a packet (0..1). */
  spinOdds: number;
  /** When a wake on this fd last asked for a spin, for the exploring spin. */
  lastSpinAt: number;
}

export const freshOdds = (): SpinOdds => ({ spinOdds: 1, lastSpinAt: 0 });

/** Whether a wake on this fd at `now` should be followed by a spin: good odds, or time to explore; never over the budget. */
export function wantsSpin(odds: SpinOdds, now: number, rate: WakeRate): boolean {
  if (!rate.spinAllowed) return false;
  if (odds.spinOdds >= SPIN_ODDS || now - odds.lastSpinAt >= EXPLORE_MS) {
    odds.lastSpinAt = now;
    return true;
  }
  return false;
}

/** Learns one spin's outcome. */
export function learnSpin(odds: SpinOdds, caught: boolean): void {
  odds.spinOdds += SPIN_LEARN * ((caught ? 1 : 0) - odds.spinOdds);
}
