// A non-blocking datagram socket (UDP or raw IP) driven in batches:
// recvmmsg on readiness, sendmmsg for spans. The relay's raw ICMP socket
// and the overlay's UDP socket are both this, set up differently.
//
// The socket layer's offloads (UDP sockets only, each optional):
// - send (UDP GSO): a run of equal-size datagrams to one address (the last
//   may be shorter) leaves in one sendmsg with a UDP_SEGMENT control
//   message; the kernel splits it as late as it can (on a veth path, not
//   at all: the receiver's GRO socket takes it whole).
// - receive (UDP GRO): the kernel may join datagrams of one size from one
//   sender into one buffer and says the size in a control message; the
//   reader splits that buffer into one batch entry per datagram, in place.
// Either way the wire carries the same datagrams, one packet each.
import { C, isSystemError, native } from '../native/addon.js';
import { RxBatch, Span6List, Spans } from './batch.js';
import { ReadableFd } from './readable-fd.js';

/** At most the kernel's UDP_MAX_SEGMENTS datagrams in one GSO send... */
export const GSO_MAX_SEGMENTS = 64;
/** ...and at most one UDP datagram's worth of payload (65,535 - 8 - 20). */
export const GSO_MAX_BYTES = 65507;
/** A UDP GRO buffer holds at most this many datagrams (the kernel's UDP_GRO_CNT_MAX)... */
export const GRO_MAX_SEGMENTS = 64;
/** ...and at most this many bytes: a receive slot for a GRO socket must take it whole. */
export const GRO_SLOT_BYTES = 65536;
/** Runs shorter than this go out with sendmmsg (as cheap at that size). */
const GSO_MIN_RUN = 2;

/**
 * How an AF_INET6 socket's peers appear above it: as stand-in IPv4
 * addresses (overlay/underlay6.ts), so that batches keep one [addr, port]
 * pair of numbers per datagram whatever the family.
 */
export interface StandInAddresses {
  /** The 16 bytes a stand-in stands for, or undefined. */
  address(standIn: number): Uint8Array | undefined;
  /** The stand-in of the 16 bytes at buf[off] (a value no peer has for an unknown sender). */
  lookup(buf: Uint8Array, off: number): number;
}

/** Options of a {@link DatagramSocket}. */
export interface DatagramSocketOptions {
  /** Try UDP GSO on send (UDP sockets only). */
  gso?: boolean;
  /** Called once when the kernel refuses GSO and the socket falls back to sendmmsg. */
  onGsoOff?: (errnoName: string) => void;
  /** The socket is AF_INET6: its peers' addresses are mapped to and from these stand-ins. */
  ipv6?: StandInAddresses;
}

/** recvBatch6's per-datagram record: source (16), destination (16), hop limit (1), port (2). */
const META6_BYTES = 35;

/**
 * Sends spans [first, first+count) with `sendFrom(at, n)` (a sendmmsg
 * wrapper that returns how many of spans at.. left) until each has left or
 * been refused: a throw refuses the span it started with (its errno), a
 * send of none refuses the rest with EAGAIN (a full socket buffer).
 * Returns how many left. Shared by every socket that sends batches.
 */
export function sendEachOrRefuse(first: number, count: number, sendFrom: (at: number, n: number) => number, onRefused: (index: number, errnoName: string) => void): number {
  let sent = 0;
  let at = first;
  const end = first + count;
  while (at < end) {
    let n: number;
    try {
      n = sendFrom(at, end - at);
    } catch (err) {
      onRefused(at, isSystemError(err) ? err.code : 'EIO');
      at++;
      continue;
    }
    if (n === 0) {
      for (; at < end; at++) onRefused(at, 'EAGAIN');
      break;
    }
    sent += n;
    at += n;
  }
  return sent;
}

/**
 * A non-blocking datagram socket driven in batches: recvmmsg (with UDP GRO split into one entry per datagram) and sendmmsg (with UDP GSO for runs).
 * Send refusals are reported per datagram, never thrown.
 */
export class DatagramSocket extends ReadableFd {
  private gso: boolean;
  private gro = false;
  /** Per-slot results of a GRO read, before the split into entries. */
  private raw?: { sizes: Uint32Array; addrs: Uint32Array; segs: Uint32Array };
  /** IPv6: what recvBatch6 reports per datagram, and the staging of sendmmsg to 16-byte addresses. */
  private meta6 = new Uint8Array(0);
  private send6?: { spans: Span6List; ports: Uint32Array; index: Uint32Array };

  /** Takes ownership of `fd` (already created non-blocking and configured). */
  constructor(fd: number, private readonly options: DatagramSocketOptions = {}) {
    super(fd);
    this.gso = options.gso ?? false;
  }

  protected readBatch(b: RxBatch): number {
    return this.gro ? this.readGro(b) : this.readPlain(b);
  }

  /** Whether runs are sent with UDP GSO (false after a refusal). */
  get gsoEnabled(): boolean {
    return this.gso;
  }

  get groEnabled(): boolean {
    return this.gro;
  }

  /**
   * Turns on UDP_GRO. Receive batches must then have slots that take
   * 65,535 bytes and entries for 64 datagrams a slot; returns false where
   * the kernel refuses (the socket then reads one datagram per slot).
   */
  enableGro(): boolean {
    try {
      native.setsockoptInt(this.fd, C.SOL_UDP, C.UDP_GRO, 1);
      this.gro = true;
    } catch {
      this.gro = false;
    }
    return this.gro;
  }

  /** One recvmmsg into b's slots: sizes, [addr, port] (stand-ins for IPv6) and, with segs, GRO segment sizes per slot. */
  private recv(b: RxBatch, sizes: Uint32Array, addrs: Uint32Array, segs: Uint32Array | null): number {
    const v6 = this.options.ipv6;
    if (!v6) return native.recvBatch(this.fd, b.buf, b.slotSize, b.headroom, b.slots, sizes, addrs, 0, segs);
    if (this.meta6.length < b.slots * META6_BYTES) this.meta6 = new Uint8Array(b.slots * META6_BYTES);
    const meta = this.meta6;
    const n = native.recvBatch6(this.fd, b.buf, b.slotSize, b.headroom, b.slots, sizes, meta, segs);
    for (let i = 0; i < n; i++) {
      const m = i * META6_BYTES;
      addrs[2 * i] = v6.lookup(meta, m);
      addrs[2 * i + 1] = (meta[m + 33] << 8) | meta[m + 34];
    }
    return n;
  }

  private readPlain(b: RxBatch): number {
    return b.setSlotEntries(this.recv(b, b.sizes, b.addrs, null));
  }

  /** One recvmmsg into the slots, then one entry per datagram of each slot. */
  private readGro(b: RxBatch): number {
    if (b.slotRoom < GRO_SLOT_BYTES - 1 || b.capacity < b.slots * GRO_MAX_SEGMENTS) throw new RangeError('a UDP GRO read needs 64 KiB slots and 64 entries per slot');
    if (!this.raw || this.raw.sizes.length !== b.slots) {
      this.raw = { sizes: new Uint32Array(b.slots), addrs: new Uint32Array(2 * b.slots), segs: new Uint32Array(b.slots) };
    }
    const { sizes, addrs, segs } = this.raw;
    const n = this.recv(b, sizes, addrs, segs);
    let e = 0;
    for (let s = 0; s < n; s++) {
      const start = b.slotOffset(s);
      const size = sizes[s];
      const seg = segs[s] > 0 && segs[s] < size ? segs[s] : Math.max(size, 1);
      for (let at = 0; at === 0 || at < size; at += seg) {
        b.offsets[e] = start + at;
        b.sizes[e] = Math.min(seg, size - at);
        b.addrs[2 * e] = addrs[2 * s];
        b.addrs[2 * e + 1] = addrs[2 * s + 1];
        e++;
      }
    }
    return e;
  }

  /**
   * Sends spans[first, first+count) to addrs[2i]:addrs[2i+1]. Calls
   * onRefused(i, errnoName) for every packet that did not leave (a full
   * send buffer refuses the rest with EAGAIN). Returns how many left.
   */
  send(spans: Spans, first: number, count: number, onRefused: (index: number, errnoName: string) => void): number {
    if (!this.gso) return this.sendEach(spans, first, count, onRefused);
    const { lengths, addrs } = spans;
    const end = first + count;
    let sent = 0;
    let singles = first; // spans [singles, i) still to send with sendmmsg
    let i = first;
    while (i < end) {
      const size = lengths[i];
      const addr = addrs[2 * i];
      const port = addrs[2 * i + 1];
      let j = i + 1;
      let bytes = size;
      while (j < end && j - i < GSO_MAX_SEGMENTS && bytes + lengths[j] <= GSO_MAX_BYTES && addrs[2 * j] === addr && addrs[2 * j + 1] === port && lengths[j] <= size) {
        bytes += lengths[j];
        if (lengths[j++] !== size) break; // a shorter datagram ends the run
      }
      if (j - i >= GSO_MIN_RUN && this.gso) {
        sent += this.sendEach(spans, singles, i - singles, onRefused);
        sent += this.sendRun(spans, i, j - i, size, addr, port, onRefused);
        singles = j;
      }
      i = j;
    }
    return sent + this.sendEach(spans, singles, end - singles, onRefused);
  }

  private sendRun(spans: Spans, first: number, count: number, segment: number, addr: number, port: number, onRefused: (index: number, errnoName: string) => void): number {
    let n: number;
    try {
      const to = this.options.ipv6 ? this.options.ipv6.address(addr) : addr;
      if (to === undefined) {
        for (let k = first; k < first + count; k++) onRefused(k, 'EADDRNOTAVAIL');
        return 0;
      }
      n = native.sendSegments(this.fd, spans.buf, spans.offsets, spans.lengths, first, count, to, port, segment);
    } catch (err) {
      const code = isSystemError(err) ? err.code : 'EIO';
      // EMSGSIZE: this run's segments do not fit the route's MTU; send
      // them one by one (the kernel may fragment) and keep GSO for others.
      if (code === 'EMSGSIZE') return this.sendEach(spans, first, count, onRefused);
      if (code !== 'EINVAL' && code !== 'EIO' && code !== 'EOPNOTSUPP') {
        for (let k = first; k < first + count; k++) onRefused(k, code);
        return 0;
      }
      // This kernel or socket cannot segment at all: say so once, then send each.
      this.gso = false;
      this.options.onGsoOff?.(code);
      return this.sendEach(spans, first, count, onRefused);
    }
    if (n === 0) for (let k = first; k < first + count; k++) onRefused(k, 'EAGAIN');
    return n;
  }

  private sendEach(spans: Spans, first: number, count: number, onRefused: (index: number, errnoName: string) => void): number {
    if (this.options.ipv6) return this.sendEach6(spans, first, count, onRefused);
    return sendEachOrRefuse(first, count, (at, n) => native.sendBatch(this.fd, spans.buf, spans.offsets, spans.lengths, spans.addrs, n, at), onRefused);
  }

  /** sendmmsg of spans [first, first+count) to the IPv6 addresses their stand-ins stand for, staged in chunks. */
  private sendEach6(spans: Spans, first: number, count: number, onRefused: (index: number, errnoName: string) => void): number {
    const v6 = this.options.ipv6!;
    const st = (this.send6 ??= { spans: new Span6List(1024), ports: new Uint32Array(1024), index: new Uint32Array(1024) });
    let sent = 0;
    for (let at = first; at < first + count; ) {
      const list = st.spans;
      list.reset(spans.buf);
      while (at < first + count && !list.full) {
        const addr = v6.address(spans.addrs[2 * at]);
        if (!addr) {
          onRefused(at++, 'EADDRNOTAVAIL');
          continue;
        }
        st.ports[list.count] = spans.addrs[2 * at + 1];
        st.index[list.count] = at;
        list.add(spans.offsets[at], spans.lengths[at], addr, 0, 0);
        at++;
      }
      const staged = list.count;
      sent += sendEachOrRefuse(0, staged, (k, n) => native.sendBatch6(this.fd, list.buf, list.offsets, list.lengths, list.dsts, list.hops, n, k, st.ports), (k, errno) => onRefused(st.index[k], errno));
    }
    return sent;
  }
}
