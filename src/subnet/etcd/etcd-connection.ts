// Opening the etcd client: endpoint flags checked up front, bounded
// timeouts on every unary call, quick watch reconnects, and errors that
// say which endpoints were tried.
import { ExponentialBackoff, IBackoff } from 'cockatiel';
import { Etcd3, EtcdAuthenticationFailedError, EtcdPermissionDeniedError } from 'etcd3';
import { TunDriverError } from '../../errors.js';
import type { EtcdSecurity } from './etcd-security.js';

/** How long one unary call (get, put, txn, grant) may take before it fails. */
const CALL_DEADLINE_MS = 3000;

/**
 * Parses `--etcd-endpoints http://198.51.100.1:2379,http://198.51.100.2:2379`
 * (or https:// for TLS, all alike). Throws a usage error naming the bad entry.
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
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search !== '' || url.username !== '') {
      throw new TunDriverError('TUN_ERR_USAGE', `--etcd-endpoints: "${e}" must be http://HOST:PORT or https://HOST:PORT`);
    }
    return `${url.protocol}//${url.hostname}:${url.port || '2379'}`;
  }).map((e, _i, all) => {
    if (all.some((o) => o.startsWith('https:') !== e.startsWith('https:'))) throw new TunDriverError('TUN_ERR_USAGE', '--etcd-endpoints: use https:// for every endpoint or for none');
    return e;
  });
}

/**
 * An etcd client for `endpoints`; with https:// ones, TLS with `security`'s CA and client certificate, and password authentication when it has a user.
 * Over TLS to an IP address, grpc gives Node's TLS the address as the server name, and Node warns once (DEP0123); the
 * certificate is still checked against the address. The `tun-driver` command filters that one warning (cli/warnings.ts);
 * a library user's process is left as it is.
 */
export function openEtcd(endpoints: string[], security?: EtcdSecurity): Etcd3 {
  const tls = endpoints[0]?.startsWith('https://');
  return new Etcd3({
    hosts: endpoints,
    // grpc takes a null root certificate as "the system's CAs".
    ...(tls ? { credentials: { rootCertificate: security?.ca as Buffer, privateKey: security?.key, certChain: security?.cert } } : {}),
    ...(security?.username !== undefined ? { auth: { username: security.username, password: security.password ?? '' } } : {}),
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
      const refusal = refusalOf(err);
      if (refusal) throw new TunDriverError('TUN_ERR_ETCD', `etcd at ${endpoints.join(', ')}: ${refusal}`, { cause: err });
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

/**
 * What a refusal that no retry will change says, or undefined for an
 * error worth retrying (etcd down or starting): a certificate that does
 * not verify either way, a wrong user or password, a role without access.
 */
export function refusalOf(err: unknown): string | undefined {
  const message = describeEtcdError(err);
  if (err instanceof EtcdAuthenticationFailedError || /authentication failed|invalid user ID or password/i.test(message)) return `authentication failed (${message}): check --etcd-username and --etcd-password`;
  if (err instanceof EtcdPermissionDeniedError || /permission denied/i.test(message)) return "permission denied: this node's etcd user (--etcd-username, or the CN of --etcd-certfile) has no role that may read and write the network prefix (etcdctl role grant-permission ROLE --prefix=true readwrite PREFIX/)";
  if (/certificate required|bad certificate|unknown ca|alert/i.test(message)) return `TLS: etcd refused this node's client certificate (${message}): give --etcd-certfile and --etcd-keyfile signed by the CA etcd trusts`;
  if (/certificate|self.signed|altnames|SSL|TLS/i.test(message)) return `TLS: etcd's certificate does not verify (${message}): give --etcd-cafile with the CA that signed it`;
  return undefined;
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
