// Opening the etcd client: endpoint flags checked up front, bounded
// timeouts on every unary call, quick watch reconnects, and errors that
// say which endpoints were tried.
import { ExponentialBackoff, IBackoff } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import { TunDriverError } from '../errors.js';

/** How long one unary call (get, put, txn, grant) may take before it fails. */
const CALL_DEADLINE_MS = 3000;

/**
 * Parses `--etcd-endpoints http://198.51.100.1:2379,http://198.51.100.2:2379`.
 * Throws a usage error naming the bad entry.
 */
export function parseEndpoints(text: string): string[] {
  const endpoints = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (endpoints.length === 0) throw new TunDriverError('TUN_ERR_USAGE', '--etcd-endpoints: give at least one URL, e.g. http://198.51.100.1:2379');
  return endpoints.map((e) => {
    let url: URL;
    try {
      url = new URL(e);
    } catch {
      throw new TunDriverError('TUN_ERR_USAGE', `--etcd-endpoints: "${e}" is not a URL like http://198.51.100.1:2379`);
    }
    if (url.protocol === 'https:') throw new TunDriverError('TUN_ERR_USAGE', `--etcd-endpoints: "${e}": TLS to etcd is not supported yet; use http:// inside a trusted network`);
    if (url.protocol !== 'http:' || url.pathname !== '/' || url.search !== '' || url.username !== '') {
      throw new TunDriverError('TUN_ERR_USAGE', `--etcd-endpoints: "${e}" must be http://HOST:PORT`);
    }
    return `http://${url.hostname}:${url.port || '2379'}`;
  });
}

export function openEtcd(endpoints: string[]): Etcd3 {
  return new Etcd3({
    hosts: endpoints,
    dialTimeout: CALL_DEADLINE_MS,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS }),
    // The default backoff grows to 30 s; after etcd comes back a node
    // should be watching again within a couple of seconds.
    // (etcd3 types this as a backoff, but only ever calls its next().)
    faultHandling: { watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 2000 }) as unknown as IBackoff<unknown> },
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `call` until it succeeds or `timeoutMs` has passed (etcd may still be
 * starting), then fails with TUN_ERR_ETCD: the endpoints are wrong or etcd
 * is down, either way the operator's to fix.
 */
export async function retryUntil<T>(endpoints: string[], timeoutMs: number, call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const fail = (why: string, cause?: unknown): TunDriverError =>
    new TunDriverError('TUN_ERR_ETCD', `cannot reach etcd at ${endpoints.join(', ')} within ${formatSeconds(timeoutMs)} (${why}): check --etcd-endpoints and that etcd runs`, { cause });
  for (;;) {
    // No single call may outlast the caller's timeout (a call's own
    // deadline is CALL_DEADLINE_MS, longer than a short --etcd-timeout).
    const attempt = call();
    let timer: NodeJS.Timeout | undefined;
    const outOfTime = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()))));
    try {
      const result = await Promise.race([attempt, outOfTime]);
      if (result === 'timeout') {
        attempt.catch(() => undefined); // it settles after we gave up
        throw fail('no answer');
      }
      return result;
    } catch (err) {
      if (err instanceof TunDriverError) throw err;
      if (Date.now() >= deadline) throw fail(describeEtcdError(err), err);
      await sleep(Math.min(200, Math.max(0, deadline - Date.now())));
    } finally {
      clearTimeout(timer);
    }
  }
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** One line for an etcd3/grpc error (their messages can span several lines). */
export function describeEtcdError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0].slice(0, 200);
}

/** Waits for `work` at most `ms` (for best-effort clean-up calls on the way out). */
export function settleWithin(work: Promise<unknown>, ms = CALL_DEADLINE_MS): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    work.then(
      () => (clearTimeout(timer), resolve()),
      () => (clearTimeout(timer), resolve()),
    );
  });
}
