// The handshake rate limiter under load (wireguard-go device/../ratelimiter):
// a token bucket per source address (not per address and port: a host owns
// every port of its address, so buckets per port would let one host multiply
// its allowance by the ports it opens). A bucket that has been idle long
// enough to be full again is the same as none, so it is dropped to make room;
// a table full of fresh buckets refuses new sources rather than forgetting the
// ones it holds (forgetting would hand every bucket its burst back).

/** Handshake messages per second a source may send under load, and the burst it may send at once. */
export const RATE_PER_SECOND = 20;
export const RATE_BURST = 5;
/** Sources tracked at most. */
export const MAX_SOURCES = 65_536;

/** How long a bucket takes to fill from empty: after that, it is as good as new. */
const REFILL_MS = (RATE_BURST * 1000) / RATE_PER_SECOND;

export class HandshakeRateLimiter {
  private readonly buckets = new Map<number, { tokens: number; at: number }>();
  private lastSweep = -Infinity;

  constructor(private readonly maxSources = MAX_SOURCES) {}

  /** Whether a handshake message from `source` (an address as a number: IPv4, or an IPv6 endpoint's stand-in) may be handled at `now` (ms). */
  allow(source: number, now: number): boolean {
    let b = this.buckets.get(source);
    if (!b) {
      if (this.buckets.size >= this.maxSources && !this.sweep(now)) return false;
      b = { tokens: RATE_BURST, at: now };
      this.buckets.set(source, b);
    }
    b.tokens = Math.min(RATE_BURST, b.tokens + ((now - b.at) * RATE_PER_SECOND) / 1000);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Drops the buckets full again; whether that made room. At most one sweep per refill time. */
  private sweep(now: number): boolean {
    if (now - this.lastSweep < REFILL_MS) return false;
    this.lastSweep = now;
    for (const [source, b] of this.buckets) if (now - b.at >= REFILL_MS) this.buckets.delete(source);
    return this.buckets.size < this.maxSources;
  }

  /** Forgets the buckets idle past their refill (the device calls this from its timers). */
  expire(now: number): void {
    for (const [source, b] of this.buckets) if (now - b.at >= REFILL_MS) this.buckets.delete(source);
  }

  get size(): number {
    return this.buckets.size;
  }
}
