// TUN devices on Linux: /dev/net/tun + TUNSETIFF for the fd, rtnetlink for
// addresses, MTU and link state. A device we create is removed again when
// we close it, unless it was made persistent (`tun add`) on purpose.
import { C, isSystemError, native } from '../native/addon.js';
import { isPermissionErrno, PERMISSION_HINT, TunDriverError } from '../errors.js';
import { RxBatch, Spans } from '../io/batch.js';
import { payloadSum } from '../packet/payload-sum.js';
import { DropCounts } from '../util/drop-counts.js';
import { GroCoalescer } from './gro-coalesce.js';
import { GsoSplitter, SplitDrop } from './gso-split.js';
import { negotiateOffloads, OffloadMode, OffloadState, OFFLOADS_OFF } from './offload.js';
import { VNET_HDR_LEN } from './virtio-net-hdr.js';
import { FdReader } from '../io/fd-reader.js';
import { PollLoop } from '../io/poll-loop.js';
import { addrAdd } from '../netlink/addr.js';
import { Link, linkByName, linkDelete, linkGet, linkSetMtu, linkSetUp, LinkStats } from '../netlink/link.js';
import { NetlinkSocket } from '../netlink/socket.js';
import { withNetns } from '../netns/netns.js';
import { Prefix } from '../packet/addr.js';
import { parseAnyCidr, Prefix6 } from '../packet/addr6.js';
import { PacketDevice, WriteResult } from './device.js';

/** The kernel's IFNAMSIZ: interface names are at most IFNAMSIZ - 1 (15) bytes. */
export const IFNAMSIZ = 16;
/** The smallest MTU an IPv4 interface may have (RFC 791). */
export const MIN_MTU = 68;
/** The largest MTU a TUN device accepts. */
export const MAX_MTU = 65535;

/** What {@link LinuxTun.create} makes: name, addresses, MTU, persistence, namespace and offloads. */
export interface TunCreateOptions {
  name: string;
  /** Addresses with prefix length ("10.244.1.3/24" or parsed). */
  addresses?: Array<string | Prefix | Prefix6>;
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
  /**
   * TUN offloads (virtio header, TSO/USO, checksum offload): 'auto' takes
   * what the kernel offers, 'on' fails without TSO4, 'off' (the default)
   * reads and writes one plain packet per syscall. Either way the reader
   * sees plain IP packets: the device splits and merges at its edge.
   */
  offload?: OffloadMode;
}

/** A super-packet read from the TUN: 64 KiB of IP packet and its virtio header. */
const RAW_SLOT = 65536 + VNET_HDR_LEN;
const RAW_SLOTS = 8;

/** What the offload edge did (status, metrics). */
export interface OffloadCounters {
  superPacketsRead: number;
  segmentsSplit: number;
  checksumsCompleted: number;
  runsWritten: number;
  segmentsMerged: number;
  /** Packets dropped at the edge, by reason (a malformed virtio header, ...). */
  drops: Record<string, number>;
}

/**
 * Validates a name the way the kernel will (dev_valid_name), with a helpful message.
 * @throws TunDriverError `TUN_ERR_USAGE` naming what is wrong with `name`.
 */
export function checkInterfaceName(name: string): void {
  if (name.length === 0 || Buffer.byteLength(name) >= IFNAMSIZ) {
    throw new TunDriverError('TUN_ERR_USAGE', `interface name "${name}" must be 1 to ${IFNAMSIZ - 1} characters`);
  }
  if (name === '.' || name === '..' || /[\s/:%]/.test(name)) {
    throw new TunDriverError('TUN_ERR_USAGE', `interface name "${name}" may not be "." or "..", or contain spaces, "/", ":" or "%"`);
  }
}

/**
 * Checks an MTU before any system call.
 * @throws TunDriverError `TUN_ERR_USAGE` when `mtu` is outside {@link MIN_MTU}..{@link MAX_MTU}.
 */
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

/** Opens the TUN fd with the offloads `mode` asks for; 'auto' falls back to a plain fd. */
function openTun(name: string, mode: OffloadMode): { fd: number; offload: OffloadState } {
  const plain = C.IFF_TUN | C.IFF_NO_PI;
  const open = (flags: number): number => {
    try {
      return native.tunOpen(name, flags).fd;
    } catch (err) {
      throw tunOpenError(name, err);
    }
  };
  if (mode === 'off') return { fd: open(plain), offload: OFFLOADS_OFF };
  const fd = open(plain | C.IFF_VNET_HDR);
  try {
    return { fd, offload: negotiateOffloads(fd) };
  } catch (err) {
    native.close(fd);
    const code = isSystemError(err) ? err.code : 'EIO';
    if (mode === 'on') throw new TunDriverError('TUN_ERR_TUN', `${name}: the kernel refused TUN offloads (TUNSETOFFLOAD: ${code}); use --offload auto or off`, { cause: err, errnoName: code });
    return { fd: open(plain), offload: { ...OFFLOADS_OFF, note: `TUNSETOFFLOAD refused (${code})` } };
  }
}

/**
 * A Linux TUN device (IFF_TUN | IFF_NO_PI, optionally IFF_VNET_HDR) driven in batches.
 *
 * Make one with {@link LinuxTun.create} or {@link LinuxTun.attach}; read with
 * {@link LinuxTun.startReading}, write with {@link LinuxTun.writeBatch}, and
 * {@link LinuxTun.close} it. With offloads on, the device splits the kernel's
 * super-packets on read and merges segments on write, so callers always see
 * plain IPv4 packets. Needs root or CAP_NET_ADMIN.
 */
export class LinuxTun implements PacketDevice {
  private readonly reader: FdReader;
  private closed = false;
  // The offload edge, when the fd carries virtio headers.
  private readonly raw?: RxBatch;
  private readonly splitter?: GsoSplitter;
  private readonly coalescer?: GroCoalescer;
  private readonly edgeDrops = new DropCounts<SplitDrop | 'batch-full'>();

  private constructor(
    readonly name: string,
    readonly index: number,
    readonly fd: number,
    /** True when this object made the device (and so may remove it). */
    readonly created: boolean,
    private persistent: boolean,
    private readonly netns: string | undefined,
    /** What the kernel agreed to (see offload.ts). */
    readonly offload: OffloadState = OFFLOADS_OFF,
  ) {
    if (offload.vnetHdr) {
      this.raw = new RxBatch(RAW_SLOTS, RAW_SLOT);
      this.splitter = new GsoSplitter(payloadSum);
      this.coalescer = new GroCoalescer({ tcp: (offload.flags & C.TUN_F_TSO4) !== 0, udp: (offload.flags & C.TUN_F_USO4) !== 0 });
      this.reader = new FdReader(fd, (b, deliver) => this.readSplit(b, deliver));
    } else {
      this.reader = new FdReader(fd, (b) => b.setSlotEntries(native.readBatch(fd, b.buf, b.slotSize, b.headroom, b.slots, b.sizes)));
    }
  }

  /**
   * Creates, configures and brings up a TUN device (`ip tuntap add NAME mode
   * tun` + `ip addr add` + `ip link set mtu/up`). On any failure nothing is
   * left behind.
   * @throws TunDriverError `TUN_ERR_USAGE` (bad name or MTU), `TUN_ERR_EXISTS` (a device of that name that may not be replaced),
   * `TUN_ERR_PERMISSION` (not root), `TUN_ERR_TUN` (opening /dev/net/tun, or `offload: 'on'` refused), `TUN_ERR_NETLINK` (address or link set-up refused),
   * `TUN_ERR_NETNS` (`netns` missing).
   */
  static create(options: TunCreateOptions): LinuxTun {
    checkInterfaceName(options.name);
    if (options.mtu !== undefined) checkMtu(options.mtu);
    const addresses = (options.addresses ?? []).map((a) => (typeof a === 'string' ? parseAnyCidr(a).prefix : a));
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
      const opened = inNetns(options.netns, () => openTun(options.name, options.offload ?? 'off'));
      fd = opened.fd;
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
      return new LinuxTun(options.name, link.index, fd, true, options.persist ?? false, options.netns, opened.offload);
    } catch (err) {
      if (fd >= 0) native.close(fd);
      throw err;
    } finally {
      nl.close();
    }
  }

  /**
   * Attaches to an existing TUN device (made by `tun add` or `ip tuntap add`).
   * @throws TunDriverError `TUN_ERR_NO_DEVICE` (no such device), `TUN_ERR_USAGE` (not a TUN), `TUN_ERR_PERMISSION`, `TUN_ERR_TUN`.
   */
  static attach(name: string, options: { netns?: string; offload?: OffloadMode } = {}): LinuxTun {
    checkInterfaceName(name);
    const nl = NetlinkSocket.open({ netns: options.netns });
    try {
      // TUNSETIFF would silently create a missing device, so look first.
      const link = linkByName(nl, name);
      if (link.kind !== 'tun') throw new TunDriverError('TUN_ERR_USAGE', `device ${name} is a ${link.kind ?? 'non-TUN'} device, not a TUN: name a TUN device (tun-driver tun show lists them)`);
      const { fd, offload } = inNetns(options.netns, () => openTun(name, options.offload ?? 'off'));
      return new LinuxTun(name, link.index, fd, false, true, options.netns, offload);
    } finally {
      nl.close();
    }
  }

  startReading(batch: RxBatch, onBatch: (batch: RxBatch) => void, onError: (err: Error) => void = (err) => { throw err; }, loop?: PollLoop): void {
    this.reader.start(batch, onBatch, onError, loop);
  }

  /** Stops delivering batches; the device stays open. Idempotent. */
  stopReading(): void {
    this.reader.stop();
  }

  readNow(batch: RxBatch): number {
    if (!this.splitter) return batch.setSlotEntries(native.readBatch(this.fd, batch.buf, batch.slotSize, batch.headroom, batch.slots, batch.sizes));
    return this.readSplit(batch, (full) => this.edgeDrops.add('batch-full', full.count));
  }

  /**
   * One batch read of virtio-headed packets, each split into plain ones
   * in `batch` (full batches go to `deliver` on the way); returns the
   * entries left in `batch`. Malformed headers are counted and dropped.
   */
  private readSplit(batch: RxBatch, deliver: (b: RxBatch) => void): number {
    const raw = this.raw!;
    const splitter = this.splitter!;
    batch.clear();
    const n = native.readBatch(this.fd, raw.buf, raw.slotSize, 0, raw.slots, raw.sizes);
    for (let s = 0; s < n; s++) {
      const drop = splitter.split(raw.buf, raw.slotOffset(s), raw.sizes[s], batch, deliver);
      if (drop) this.edgeDrops.add(drop);
    }
    return batch.count;
  }

  /** What the offload edge has done so far (zeros when offloads are off). */
  offloadCounters(): OffloadCounters {
    return {
      superPacketsRead: this.splitter?.superPackets ?? 0,
      segmentsSplit: this.splitter?.segments ?? 0,
      checksumsCompleted: this.splitter?.checksumsCompleted ?? 0,
      runsWritten: this.coalescer?.runs ?? 0,
      segmentsMerged: this.coalescer?.mergedSegments ?? 0,
      drops: this.edgeDrops.toJSON(),
    };
  }

  /**
   * Writes every queued span. A packet the kernel refuses (malformed, too
   * big) is skipped and counted in `failed`; the rest still go out. With
   * offloads, runs of one flow are merged into super-packets first.
   */
  writeBatch(batch: Spans): WriteResult {
    if (!this.coalescer) return this.writeItems(batch);
    const c = this.coalescer;
    let written = 0;
    let failed = 0;
    let from = 0;
    while (from < batch.count) {
      c.clear();
      const next = c.stage(batch, from);
      if (next === from) {
        failed++; // larger than the staging memory: cannot be a packet
        from++;
        continue;
      }
      from = next;
      const r = this.writeItems(c.staged, c.packets);
      written += r.written;
      failed += r.failed;
    }
    return { written, failed };
  }

  /**
   * Writes items[0..count) one write() each; item i carries packets[i]
   * packets (1 each without `packets`: a merged run carries several). An
   * item the kernel refuses is skipped; at EAGAIN the rest is dropped.
   */
  private writeItems(items: Spans, packets?: Uint32Array): WriteResult {
    const weight = (i: number): number => (packets ? packets[i] : 1);
    let written = 0;
    let failed = 0;
    let k = 0;
    while (k < items.count) {
      let n: number;
      try {
        n = native.writeBatch(this.fd, items.buf, items.offsets, items.lengths, items.count - k, k);
      } catch {
        failed += weight(k++);
        continue;
      }
      if (n === 0) break; // EAGAIN: the device queue is full
      for (const end = k + n; k < end; k++) written += weight(k);
    }
    for (; k < items.count; k++) failed += weight(k);
    return { written, failed };
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

