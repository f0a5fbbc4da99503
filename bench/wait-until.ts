// Small helpers the etcd benchmarks share.

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every `stepMs` until it holds (true) or `timeoutMs` passed (false). */
export async function waitUntil(check: () => boolean, timeoutMs: number, stepMs = 1): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await sleep(stepMs);
  }
  return true;
}

/** The p-th percentile of xs (nearest rank). */
export function percentile(xs: number[], p: number): number {
  return [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
}
