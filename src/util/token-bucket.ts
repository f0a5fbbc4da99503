// A token bucket: at most `rate` events a second, in bursts of up to `rate`.
// Used to rate-limit the ICMP errors a daemon gives (as a host's kernel does).

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly rate: number, private readonly now: () => number = Date.now) {
    this.tokens = rate;
    this.last = now();
  }

  /** Takes one token if there is one. */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.rate, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}
