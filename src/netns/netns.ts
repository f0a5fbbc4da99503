// Named network namespaces, made the way iproute2's `ip netns` makes them
// (a bind mount of the namespace under /run/netns/NAME), so `ip netns
// list/exec` see ours and we see theirs.
//
// Contract: setns() moves only the calling thread, which here is the JS
// main thread. withNetns() enters, runs a *synchronous* function and comes
// back before returning, so sockets, TUN fds and child processes created
// inside `fn` belong to the namespace while the rest of the process stays
// where it was. Never await inside `fn`, and never use async fs APIs there
// (they run on libuv's thread pool, which stays in the original namespace).
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { C, isSystemError, native } from '../native/addon.js';
import { isPermissionErrno, PERMISSION_HINT, TunDriverError } from '../errors.js';

export const NETNS_RUN_DIR = '/run/netns';
const SELF_NETNS = '/proc/thread-self/ns/net';

export function netnsPath(name: string): string {
  return join(NETNS_RUN_DIR, name);
}

function nsError(what: string, name: string, err: unknown): TunDriverError {
  const code = isSystemError(err) ? err.code : undefined;
  if (isPermissionErrno(code)) return new TunDriverError('TUN_ERR_PERMISSION', `${what} ${name}: ${PERMISSION_HINT}`, { cause: err, errnoName: code });
  if (code === 'ENOENT') return new TunDriverError('TUN_ERR_NETNS', `network namespace "${name}" does not exist`, { cause: err, errnoName: code });
  return new TunDriverError('TUN_ERR_NETNS', `${what} ${name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err, errnoName: code });
}

/** Opens a namespace handle (for setns or IFLA_NET_NS_FD). The caller closes it. */
export function netnsOpen(name: string): number {
  try {
    return native.openPath(netnsPath(name), C.O_RDONLY);
  } catch (err) {
    throw nsError('cannot open network namespace', name, err);
  }
}

/** Runs `fn` synchronously with the main thread inside namespace `name`. */
export function withNetns<T>(name: string, fn: () => T): T {
  const target = netnsOpen(name);
  let home = -1;
  try {
    home = native.openPath(SELF_NETNS, C.O_RDONLY);
    native.setns(target, C.CLONE_NEWNET);
  } catch (err) {
    if (home >= 0) native.close(home);
    native.close(target);
    throw nsError('cannot enter network namespace', name, err);
  }
  try {
    return fn();
  } finally {
    // Failing to come home would leave the whole process in the lab: fatal.
    native.setns(home, C.CLONE_NEWNET);
    native.close(home);
    native.close(target);
  }
}

function ensureSharedRunDir(): void {
  mkdirSync(NETNS_RUN_DIR, { recursive: true, mode: 0o755 });
  // Like iproute2: make /run/netns a shared mount point so namespace mounts
  // propagate into mount namespaces made later (ip netns exec makes one).
  try {
    native.mount('none', NETNS_RUN_DIR, 'none', C.MS_SHARED | C.MS_REC);
  } catch (err) {
    if (!isSystemError(err) || err.code !== 'EINVAL') throw err;
    native.mount(NETNS_RUN_DIR, NETNS_RUN_DIR, 'none', C.MS_BIND | C.MS_REC);
    native.mount('none', NETNS_RUN_DIR, 'none', C.MS_SHARED | C.MS_REC);
  }
}

/** `ip netns add NAME`: creates a new, empty network namespace. */
export function netnsCreate(name: string): void {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new TunDriverError('TUN_ERR_USAGE', `invalid namespace name "${name}"`);
  const path = netnsPath(name);
  try {
    ensureSharedRunDir();
    native.close(native.openPath(path, C.O_RDONLY | C.O_CREAT | C.O_EXCL, 0));
  } catch (err) {
    if (isSystemError(err) && err.code === 'EEXIST') throw new TunDriverError('TUN_ERR_EXISTS', `network namespace "${name}" already exists`, { errnoName: 'EEXIST' });
    throw nsError('cannot create network namespace', name, err);
  }
  let home = -1;
  try {
    home = native.openPath(SELF_NETNS, C.O_RDONLY);
    native.unshare(C.CLONE_NEWNET);
    try {
      native.mount(SELF_NETNS, path, 'none', C.MS_BIND);
    } finally {
      native.setns(home, C.CLONE_NEWNET);
    }
  } catch (err) {
    rmSync(path, { force: true });
    throw nsError('cannot create network namespace', name, err);
  } finally {
    if (home >= 0) native.close(home);
  }
}

/**
 * `ip netns del NAME`: drops the name. The namespace itself (and every
 * interface in it) goes away when no process or fd holds it any more.
 */
export function netnsDelete(name: string): void {
  const path = netnsPath(name);
  try {
    native.umount2(path, C.MNT_DETACH);
  } catch (err) {
    if (!isSystemError(err) || (err.code !== 'EINVAL' && err.code !== 'ENOENT')) throw nsError('cannot delete network namespace', name, err);
  }
  rmSync(path, { force: true });
}

/** `ip netns list`: the names under /run/netns. */
export function netnsList(): string[] {
  try {
    return readdirSync(NETNS_RUN_DIR).sort();
  } catch {
    return [];
  }
}

export function netnsExists(name: string): boolean {
  return netnsList().includes(name);
}
