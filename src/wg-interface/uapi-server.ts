// Serves the userspace API on /var/run/wireguard/<ifname>.sock, where wg and
// wg-quick look for a user-space WireGuard: mode 0600 (root only). A path
// that exists and answers belongs to a running daemon and is never
// unlinked; one that does not answer is a dead daemon's and is replaced.
import { chmodSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, Server, Socket } from 'node:net';
import { join } from 'node:path';
import { TunDriverError } from '../errors.js';
import { formatUapiErrno, parseUapiSet, UAPI_ERRNO, UapiError } from '../wireguard/uapi.js';

/** wg and wg-quick look here (the same for every network namespace: it is the file system). */
export function uapiDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.WG_SOCKET_DIR ?? '/var/run/wireguard';
}

export const uapiSocketPath = (ifname: string, env: NodeJS.ProcessEnv = process.env): string => join(uapiDir(env), `${ifname}.sock`);

/** What the server asks of the interface it configures. */
export interface UapiTarget {
  /** The answer to a get, errno line and blank line included. */
  get(): string;
  /** @throws UapiError */
  set(s: ReturnType<typeof parseUapiSet>): void;
}

/** Whether something answers on the socket at `path` (within 500 ms). */
export function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    const done = (v: boolean): void => {
      c.destroy();
      resolve(v);
    };
    c.once('connect', () => done(true));
    c.once('error', () => done(false));
    setTimeout(() => done(false), 500).unref();
  });
}

/**
 * Refuses an interface name whose socket a running daemon answers on (the
 * path is then never unlinked).
 * @throws TunDriverError `TUN_ERR_EXISTS`
 */
export async function refuseIfServed(ifname: string): Promise<void> {
  const path = uapiSocketPath(ifname);
  if (existsSync(path) && (await answers(path))) throw new TunDriverError('TUN_ERR_EXISTS', `${path} answers: another daemon serves ${ifname} (stop it, or pick another interface name)`);
}

/** Runs one connection's operations in order: "get=1\n\n" and "set=1\n...\n\n", each answered with its errno. */
function serve(conn: Socket, target: UapiTarget): void {
  let buf = '';
  conn.setEncoding('utf8');
  conn.on('error', () => conn.destroy());
  conn.on('data', (chunk: string) => {
    buf += chunk;
    for (;;) {
      if (buf.startsWith('get=1\n')) {
        if (buf.length < 7) return;
        if (buf[6] !== '\n') return void conn.end(formatUapiErrno(UAPI_ERRNO.EINVAL));
        conn.write(target.get());
        buf = buf.slice(7);
        continue;
      }
      if (buf.startsWith('set=1\n')) {
        const end = buf.indexOf('\n\n', 5);
        if (end < 0) return;
        const lines = buf.slice(6, end).split('\n').filter((l) => l.length > 0);
        buf = buf.slice(end + 2);
        let errno = 0;
        try {
          target.set(parseUapiSet(lines));
        } catch (err) {
          errno = err instanceof UapiError ? err.errno : UAPI_ERRNO.EIO;
        }
        conn.write(formatUapiErrno(errno));
        continue;
      }
      // Anything else that is a whole line is no operation this protocol has.
      if (buf.includes('\n') || buf.length > 6) conn.destroy();
      return;
    }
  });
}

/**
 * Listens on the interface's socket.
 * @throws TunDriverError `TUN_ERR_EXISTS` when another daemon answers there.
 */
export async function serveUapi(ifname: string, target: UapiTarget): Promise<{ path: string; close(): void }> {
  const dir = uapiDir();
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const path = uapiSocketPath(ifname);
  await refuseIfServed(ifname);
  if (existsSync(path)) unlinkSync(path); // a dead daemon's
  const server: Server = createServer((c) => serve(c, target));
  const umask = process.umask(0o077);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
  } finally {
    process.umask(umask);
  }
  chmodSync(path, 0o600);
  return {
    path,
    close: () => {
      server.close();
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    },
  };
}
