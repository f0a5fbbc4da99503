// The relays' housekeeping: idle flows and stale fragments expire on a
// timer that never keeps the process alive.

/** Something that drops what is older than its own limit, given the time. */
export interface Expiring {
  expire(now: number): number;
}

const SWEEP_MS = 5_000;

/** Calls expire(now()) on each target every 5 s (unref'd); returns the timer for clearInterval. */
export function sweepEvery5s(now: () => number, targets: readonly Expiring[]): NodeJS.Timeout {
  const timer = setInterval(() => {
    const t = now();
    for (const target of targets) target.expire(t);
  }, SWEEP_MS);
  timer.unref();
  return timer;
}
