// TUN devices on Linux: /dev/net/tun + TUNSETIFF for the fd, rtnetlink for
// addresses, MTU and link state. A device we create is removed again when
// we close it, unless it was made persistent (`tun add`) on purpose.
import { C, isSystemError, native } from '../native/addon.js';
import { isPermissionErrno, PERMISSION_HINT, TunDriverError } from '../errors.js';
import { PacketBatch, Spans } from '../io/batch.js';
import { FdReader } from '../io/fd-reader.js';
import { addrAdd } from '../netlink/addr.js';
import { Link, linkByName, linkDelete, linkGet, linkSetMtu, linkSetUp, LinkStats } from '../netlink/link.js';
import { NetlinkSocket } from '../netlink/socket.js';
import { withNetns } from '../netns/netns.js';
import { parseCidr, Prefix } from '../packet/addr.js';
import { PacketDevice, WriteResult } from './device.js';

export const IFNAMSIZ = 16;
export const MIN_MTU = 68;
export const MAX_MTU = 65535;

export interface TunCreateOptions {
  name: string;
  /** Addresses with prefix length ("10.244.1.3/24" or parsed). */
  addresses?: Array<string | Prefix>;
  mtu?: number;
  /** Keep the device after this process closes it (like `ip tuntap add`). */
  persist?: boolean;
  /**
   * Delete an existing TUN of the same name first (never another kind).
   * 'if-stale': only one that no process holds open (a daemon's leftover
   * after SIGKILL); one in use is an error.
   */
  replace?: boolean | 'if-stale';
  /** Create it inside this named network namespace. */
  netns?: string;
}

/** Validates a name the way the kernel will (dev_valid_name), with a helpful message. */
export function checkInterfaceName(name: string): void {
  if (name.length === 0 || Buffer.byteLength(name) >= IFNAMSIZ) {
    throw new TunDriverError('TUN_ERR_USAGE', `interface name "${name}" must be 1 to ${IFNAMSIZ - 1} characters`);
  }
  if (name === '.' || name === '..' || /[\s/:%]/.test(name)) {
    throw new TunDriverError('TUN_ERR_USAGE', `interface name "${name}" may not be "." or "..", or contain spaces, "/", ":" or "%"`);
  }
}

export function checkMtu(mtu: number): void {
  if (!Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU) {
    throw new TunDriverError('TUN_ERR_USAGE', `MTU ${mtu} is out of range: use ${MIN_MTU} to ${MAX_MTU}`);
  }
}

function tunOpenError(name: string, err: unknown): TunDriverError {
  const code = isSystemError(err) ? err.code : undefined;
  if (isPermissionErrno(code)) return new TunDriverError('TUN_ERR_PERMISSION', `cannot open TUN device ${name}: ${PERMISSION_HINT}`, { cause: err, errnoName: code });
  if (code === 'EBUSY') return new TunDriverError('TUN_ERR_TUN', `TUN device ${name} is already attached by another process (stop it, or use a different name)`, { cause: err, errnoName: code });
  if (code === 'EINVAL') return new TunDriverError('TUN_ERR_TUN', `cannot attach to ${name}: it exists but is not a TUN device in tun/no-pi mode`, { cause: err, errnoName: code });
  if (code === 'ENOENT') return new TunDriverError('TUN_ERR_TUN', '/dev/net/tun is missing: load the tun module (modprobe tun)', { cause: err, errnoName: code });
  return new TunDriverError('TUN_ERR_TUN', `cannot open TUN device ${name}: ${(err as Error).message}`, { cause: err, errnoName: code });
}

function inNetns<T>(netns: string | undefined, fn: () => T): T {
  return netns ? withNetns(netns, fn) : fn();
}

export class LinuxTun implements PacketDevice {
  private readonly reader: FdReader;
  private closed = false;

  private constructor(
    readonly name: string,
    readonly index: number,
    readonly fd: number,
    /** True when this object made the device (and so may remove it). */
    readonly created: boolean,
    private persistent: boolean,
    private readonly netns: string | undefined,
  ) {
    this.reader = new FdReader(fd, (b) => native.readBatch(fd, b.buf, b.slotSize, b.headroom, b.capacity, b.sizes));
  }

  /**
   * Creates, configures and brings up a TUN device (`ip tuntap add NAME mode
   * tun` + `ip addr add` + `ip link set mtu/up`). On any failure nothing is
   * left behind.
   */
  static create(options: TunCreateOptions): LinuxTun {
    checkInterfaceName(options.name);
    if (options.mtu !== undefined) checkMtu(options.mtu);
    const addresses = (options.addresses ?? []).map((a) => (typeof a === 'string' ? parseCidr(a) : a));
    const nl = NetlinkSocket.open({ netns: options.netns });
    let fd = -1;
    try {
      const existing = linkGet(nl, options.name);
      if (existing) {
        if (!options.replace) throw new TunDriverError('TUN_ERR_EXISTS', `device ${options.name} already exists (use --replace to delete a stale TUN of that name first)`);
        if (existing.kind !== 'tun') throw new TunDriverError('TUN_ERR_EXISTS', `device ${options.name} exists and is a ${existing.kind ?? 'non-TUN'} device: refusing to replace it`);
        if (options.replace === 'if-stale' && existing.lowerUp) throw new TunDriverError('TUN_ERR_EXISTS', `${options.name} is in use by another process (another daemon?): stop it, or pick another device name`);
        linkDelete(nl, existing.index);
      }
      fd = inNetns(options.netns, () => {
        try {
          return native.tunOpen(options.name, C.IFF_TUN | C.IFF_NO_PI).fd;
        } catch (err) {
          throw tunOpenError(options.name, err);
        }
      });
      if (options.persist) native.tunSetPersist(fd, true);
      const link = linkByName(nl, options.name);
      try {
        if (options.mtu !== undefined) linkSetMtu(nl, link.index, options.mtu);
        for (const a of addresses) addrAdd(nl, link.index, a);
        linkSetUp(nl, link.index, true);
      } catch (err) {
        // A non-persistent device vanishes with its fd; a persistent one must go explicitly.
        if (options.persist) linkDelete(nl, link.index);
        throw err;
      }
      return new LinuxTun(options.name, link.index, fd, true, options.persist ?? false, options.netns);
    } catch (err) {
      if (fd >= 0) native.close(fd);
      throw err;
    } finally {
      nl.close();
    }
  }

  /** Attaches to an existing TUN device (made by `tun add` or `ip tuntap add`). */
  static attach(name: string, options: { netns?: string } = {}): LinuxTun {
    checkInterfaceName(name);
    const nl = NetlinkSocket.open({ netns: options.netns });
    try {
      // TUNSETIFF would silently create a missing device, so look first.
      const link = linkByName(nl, name);
      if (link.kind !== 'tun') throw new TunDriverError('TUN_ERR_TUN', `device ${name} is a ${link.kind ?? 'non-TUN'} device, not a TUN`);
      const fd = inNetns(options.netns, () => {
        try {
          return native.tunOpen(name, C.IFF_TUN | C.IFF_NO_PI).fd;
        } catch (err) {
          throw tunOpenError(name, err);
        }
      });
      return new LinuxTun(name, link.index, fd, false, true, options.netns);
    } finally {
      nl.close();
    }
  }

  startReading(batch: PacketBatch, onBatch: (batch: PacketBatch) => void, onError: (err: Error) => void = (err) => { throw err; }): void {
    this.reader.start(batch, onBatch, onError);
  }

  stopReading(): void {
    this.reader.stop();
  }

  readNow(batch: PacketBatch): number {
    batch.count = native.readBatch(this.fd, batch.buf, batch.slotSize, batch.headroom, batch.capacity, batch.sizes);
    return batch.count;
  }

  /**
   * Writes every queued span. A packet the kernel refuses (malformed, too
   * big) is skipped and counted in `failed`; the rest still go out.
   */
  writeBatch(batch: Spans): WriteResult {
    let done = 0;
    let failed = 0;
    const { buf, offsets, lengths } = batch;
    while (done + failed < batch.count) {
      const start = done + failed;
      try {
        const n = native.writeBatch(this.fd, buf, offsets, lengths, batch.count - start, start);
        if (n === 0) break; // EAGAIN: the device queue is full, the rest is dropped
        done += n;
      } catch {
        failed++;
      }
    }
    return { written: done, failed: batch.count - done };
  }

  /** Interface statistics (`ip -s link show dev NAME`). */
  stats(): LinkStats | undefined {
    return this.describe().stats;
  }

  /** Current link state from the kernel. */
  describe(): Link {
    const nl = NetlinkSocket.open({ netns: this.netns });
    try {
      return linkByName(nl, this.name);
    } finally {
      nl.close();
    }
  }

  /**
   * Stops reading and closes the fd. A non-persistent device disappears
   * with it; `remove: true` also deletes a persistent one we created.
   */
  close(options: { remove?: boolean } = {}): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.stop();
    native.close(this.fd);
    if (options.remove && this.created && this.persistent) {
      const nl = NetlinkSocket.open({ netns: this.netns });
      try {
        const link = linkGet(nl, this.name);
        if (link && link.kind === 'tun') linkDelete(nl, link.index);
      } finally {
        nl.close();
      }
    }
  }

  toString(): string {
    return `${this.name}#${this.index}`;
  }
}

