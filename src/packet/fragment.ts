// IPv4 fragmentation (RFC 791) and reassembly. Both are off the hot path:
// they run only for packets bigger than a link's MTU.
import { IPv4View, IPV4 } from './ipv4.js';
import { put16 } from './bytes.js';

/**
 * Splits the IPv4 packet in `ip` into fragments that fit `mtu` and hands
 * each to `emit` (buffer, offset, length; valid only during the call).
 * Every fragment carries a copy of the whole header (options included, a
 * simplification of RFC 791's copy flag). Returns false, emitting nothing,
 * when the packet has DF set or the MTU cannot hold a header and 8 bytes.
 */
export function fragmentIPv4(ip: IPv4View, mtu: number, scratch: Uint8Array, emit: (buf: Uint8Array, off: number, len: number) => void): boolean {
  const hl = ip.headerLength;
  const total = ip.totalLength;
  if (total <= mtu) {
    emit(ip.buf, ip.off, total);
    return true;
  }
  const chunk = Math.floor((mtu - hl) / 8) * 8;
  if (ip.dontFragment || chunk < 8 || scratch.length < hl + chunk) return false;
  const baseOffset = ip.fragmentOffset;
  const lastIsFinal = !ip.moreFragments;
  const view = new IPv4View();
  for (let at = 0; at < total - hl; at += chunk) {
    const size = Math.min(chunk, total - hl - at);
    scratch.set(ip.buf.subarray(ip.off, ip.off + hl), 0);
    scratch.set(ip.buf.subarray(ip.off + hl + at, ip.off + hl + at + size), hl);
    const more = at + size < total - hl || !lastIsFinal;
    put16(scratch, IPV4.TOTAL_LENGTH, hl + size);
    put16(scratch, IPV4.FLAGS_FRAGMENT, (more ? IPV4.FLAG_MF : 0) | ((baseOffset + at) / 8));
    view.attach(scratch, 0, hl + size).fillChecksum();
    emit(scratch, 0, hl + size);
  }
  return true;
}

export type ReassemblyDrop = 'reassembly-overlap' | 'reassembly-too-big' | 'reassembly-table-full' | 'reassembly-bad-length';

interface Pending {
  header: Uint8Array | undefined;
  chunks: Array<{ offset: number; data: Uint8Array }>;
  /** Payload length, known once the last fragment (MF=0) arrived. */
  total: number | undefined;
  firstSeen: number;
}

/** One fragment as either family hands it over: where its data goes and what it carries. */
export interface FragmentPiece {
  /** Identifies the datagram (addresses, identification, protocol). */
  key: string;
  /** Byte offset of `data` in the reassembled payload. */
  offset: number;
  data: Uint8Array;
  more: boolean;
  /** The first fragment's headers, to go in front of the whole payload (offset 0 only). */
  header?: Uint8Array;
  /** The largest payload the reassembled datagram may have. */
  maxPayload: number;
}

/**
 * Collects fragments of either family into (header, whole payload);
 * bounded in entries and time. The rules are the family-independent ones:
 * overlaps drop the datagram (RFC 5722), a second or inconsistent end
 * drops it, and it must fit the family's maximum.
 */
export class FragmentCollector {
  private readonly pending = new Map<string, Pending>();

  constructor(readonly maxPending = 64, readonly timeoutMs = 30_000) {}

  get size(): number {
    return this.pending.size;
  }

  /** A whole datagram's header and payload once complete, a drop reason, or undefined while waiting. */
  collect(f: FragmentPiece, now: number): { header: Uint8Array; payload: Uint8Array } | ReassemblyDrop | undefined {
    let p = this.pending.get(f.key);
    if (!p) {
      if (this.pending.size >= this.maxPending) {
        this.expire(now);
        if (this.pending.size >= this.maxPending) return 'reassembly-table-full';
      }
      p = { header: undefined, chunks: [], total: undefined, firstSeen: now };
      this.pending.set(f.key, p);
    }
    const { offset, data, key } = f;
    if (offset + data.length > f.maxPayload) {
      this.pending.delete(key);
      return 'reassembly-too-big';
    }
    for (const c of p.chunks) {
      if (offset < c.offset + c.data.length && c.offset < offset + data.length) {
        this.pending.delete(key);
        return 'reassembly-overlap';
      }
    }
    // The end is where the last fragment ends: a second, different end, or
    // any fragment past it, cannot belong to one datagram.
    const end = offset + data.length;
    if (!f.more) {
      if ((p.total !== undefined && p.total !== end) || p.chunks.some((c) => c.offset + c.data.length > end)) {
        this.pending.delete(key);
        return 'reassembly-bad-length';
      }
      p.total = end;
    } else if (p.total !== undefined && end > p.total) {
      this.pending.delete(key);
      return 'reassembly-bad-length';
    }
    p.chunks.push({ offset, data });
    if (offset === 0 && f.header) p.header = f.header;
    if (p.header === undefined || p.total === undefined) return undefined;
    let have = 0;
    for (const c of p.chunks) have += c.data.length;
    if (have !== p.total) return undefined;
    this.pending.delete(key);
    const payload = new Uint8Array(p.total);
    for (const c of p.chunks) payload.set(c.data, c.offset);
    return { header: p.header, payload };
  }

  /** Drops datagrams older than timeoutMs; returns how many. */
  expire(now: number): number {
    let n = 0;
    for (const [key, p] of this.pending) {
      if (now - p.firstSeen > this.timeoutMs) {
        this.pending.delete(key);
        n++;
      }
    }
    return n;
  }
}

const MAX_PACKET = 65535;

/** Collects IPv4 fragments into whole packets; bounded in entries and time. */
export class Reassembler extends FragmentCollector {
  /**
   * Adds a checked fragment. Returns the whole packet once complete, a
   * drop reason when the datagram must be discarded, or undefined while
   * waiting for more.
   */
  add(ip: IPv4View, now: number): Uint8Array | ReassemblyDrop | undefined {
    const offset = ip.fragmentOffset;
    const whole = this.collect(
      {
        key: `${ip.src}:${ip.dst}:${ip.id}:${ip.protocol}`,
        offset,
        data: ip.buf.slice(ip.payloadOffset, ip.off + ip.totalLength),
        more: ip.moreFragments,
        header: offset === 0 ? ip.buf.slice(ip.off, ip.off + ip.headerLength) : undefined,
        maxPayload: MAX_PACKET - ip.headerLength,
      },
      now,
    );
    if (whole === undefined || typeof whole === 'string') return whole;
    const hl = whole.header.length;
    const out = new Uint8Array(hl + whole.payload.length);
    out.set(whole.header, 0);
    out.set(whole.payload, hl);
    put16(out, IPV4.TOTAL_LENGTH, out.length);
    put16(out, IPV4.FLAGS_FRAGMENT, 0);
    new IPv4View(out).fillChecksum();
    return out;
  }
}
