// Where daemons listen for `tun-driver status`: a Unix socket per daemon
// under /run/tun-driver. Socket paths are shared by every network
// namespace (they live in the file system), so the name carries the
// daemon's netns inode: a status client finds the daemons of its own
// namespace only, and two labs' flannel0 daemons never collide.
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { netnsPath } from '../netns/netns.js';

/** Where control sockets live: TUN_DRIVER_CONTROL_DIR when set (read when asked, not at import), else /run/tun-driver. */
export function controlDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TUN_DRIVER_CONTROL_DIR ?? '/run/tun-driver';
}

function netnsInode(): number {
  return statSync('/proc/self/ns/net').ino;
}

/** The inode of a named network namespace (/run/netns/NAME), as its daemons' socket names carry it. */
export function namedNetnsInode(name: string): number {
  return statSync(netnsPath(name)).ino;
}

export function controlSocketPath(device: string): string {
  const dir = controlDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return join(dir, `ctl-${netnsInode()}-${device}.sock`);
}

/** Control sockets of daemons in this process's network namespace (or the one with inode `inode`), by device. */
export function listControlSockets(inode = netnsInode()): Array<{ device: string; path: string }> {
  const prefix = `ctl-${inode}-`;
  const dir = controlDir();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(prefix) && n.endsWith('.sock'))
    .map((n) => ({ device: n.slice(prefix.length, -'.sock'.length), path: join(dir, n) }));
}

/** Control sockets of the daemons in the named network namespace (a lab node's), or none when it is gone. */
export function listControlSocketsIn(netns: string): Array<{ device: string; path: string }> {
  try {
    return listControlSockets(namedNetnsInode(netns));
  } catch {
    return []; // the namespace is gone (a lab going down)
  }
}
