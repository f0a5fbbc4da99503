// A view over an IPv6 packet (RFC 8200): the fixed header and the
// extension headers a relay or an overlay must walk to reach the upper
// layer (hop-by-hop, routing, fragment, destination options). Anything
// else before the upper layer (ESP, AH, mobility, HIP, shim6, experiments)
// is refused by name rather than guessed at. Re-pointable like IPv4View:
// check() once, then the accessors are safe and allocate nothing.
import { foldChecksum, sumWords } from './checksum.js';
import { get16, get32, put16, put32 } from './bytes.js';
import { PacketView } from './view.js';

/** Field offsets of the fixed header (RFC 8200, section 3). */
export const IPV6 = {
  PAYLOAD_LENGTH: 4,
  NEXT_HEADER: 6,
  HOP_LIMIT: 7,
  SRC: 8,
  DST: 24,
  HEADER: 40,
  FRAGMENT_HEADER: 8,
  /** Every link must carry this much (RFC 8200, section 5). */
  MIN_MTU: 1280,
} as const;

/** Next-header numbers: the extension headers walked, and the upper layers the project knows. */
export const NEXT_HEADER = {
  HOP_BY_HOP: 0,
  TCP: 6,
  UDP: 17,
  ROUTING: 43,
  FRAGMENT: 44,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  NO_NEXT: 59,
  DEST_OPTIONS: 60,
} as const;

/** Why a buffer is not a usable IPv6 packet (a drop reason). */
export type IPv6Problem = 'truncated' | 'not-ipv6' | 'bad-payload-length' | 'bad-extension-header' | 'unsupported-extension-header';

/** Extension headers this view refuses, by name (IANA "IPv6 Extension Header Types"). */
const REFUSED_EXTENSIONS: Record<number, string> = { 50: 'esp', 51: 'ah', 135: 'mobility', 139: 'hip', 140: 'shim6', 253: 'experimental', 254: 'experimental' };

/** The name of an extension header this view refuses, or undefined when `next` is walked or is an upper layer. */
export function refusedExtensionName(next: number): string | undefined {
  return REFUSED_EXTENSIONS[next];
}

/**
 * A view over an IPv6 packet. After {@link IPv6View.check}: `protocol` is
 * the upper layer (58 for ICMPv6), `payloadOffset` where it starts, and the
 * fragment fields describe a Fragment header when there is one.
 */
export class IPv6View extends PacketView {
  /** The upper-layer protocol after the extension headers (valid after check()). */
  protocol = 0;
  /** Offset in buf of the upper-layer header (valid after check()). */
  payloadOffset = 0;
  /** Offset in buf of the Fragment header, or -1 when there is none. */
  fragmentHeaderOffset = -1;
  /** Offset in buf of the next-header byte that names the Fragment header (for rewriting on reassembly). */
  private fragmentLinkOffset = -1;

  /**
   * The one validity check: version 6, a payload length within what was
   * read (jumbograms refused), and extension headers that fit and are of a
   * kind walked here. Hop-by-hop only first; at most one Fragment header.
   */
  check(): IPv6Problem | undefined {
    if (this.available < IPV6.HEADER) return 'truncated';
    if (this.version !== 6) return 'not-ipv6';
    const end = this.off + IPV6.HEADER + this.payloadLength;
    if (this.payloadLength === 0 && this.nextHeader === NEXT_HEADER.HOP_BY_HOP) return 'bad-payload-length'; // a jumbogram
    if (IPV6.HEADER + this.payloadLength > this.available) return 'bad-payload-length';
    const b = this.buf;
    let next = this.nextHeader;
    let link = this.off + IPV6.NEXT_HEADER;
    let at = this.off + IPV6.HEADER;
    this.fragmentHeaderOffset = -1;
    this.fragmentLinkOffset = -1;
    for (let first = true; ; first = false) {
      if (next === NEXT_HEADER.HOP_BY_HOP && !first) return 'bad-extension-header';
      if (next === NEXT_HEADER.HOP_BY_HOP || next === NEXT_HEADER.ROUTING || next === NEXT_HEADER.DEST_OPTIONS) {
        if (at + 8 > end) return 'bad-extension-header';
        const length = (b[at + 1] + 1) * 8;
        if (at + length > end) return 'bad-extension-header';
        link = at;
        next = b[at];
        at += length;
        continue;
      }
      if (next === NEXT_HEADER.FRAGMENT) {
        if (this.fragmentHeaderOffset >= 0 || at + IPV6.FRAGMENT_HEADER > end) return 'bad-extension-header';
        this.fragmentHeaderOffset = at;
        this.fragmentLinkOffset = link;
        link = at;
        next = b[at];
        at += IPV6.FRAGMENT_HEADER;
        // Only the first fragment carries the headers after this one.
        if (this.fragmentOffset !== 0) break;
        continue;
      }
      if (REFUSED_EXTENSIONS[next] !== undefined) return 'unsupported-extension-header';
      break;
    }
    this.protocol = next;
    this.payloadOffset = at;
    return undefined;
  }

  /** The name of the refused extension header that made check() say 'unsupported-extension-header'. */
  refusedExtension(): string | undefined {
    let next = this.nextHeader;
    let at = this.off + IPV6.HEADER;
    while (next === NEXT_HEADER.HOP_BY_HOP || next === NEXT_HEADER.ROUTING || next === NEXT_HEADER.DEST_OPTIONS || next === NEXT_HEADER.FRAGMENT) {
      if (at + 8 > this.off + this.available) return undefined;
      const length = next === NEXT_HEADER.FRAGMENT ? 8 : (this.buf[at + 1] + 1) * 8;
      next = this.buf[at];
      at += length;
    }
    return REFUSED_EXTENSIONS[next];
  }

  get version(): number { return this.buf[this.off] >>> 4; }
  get trafficClass(): number { return (get16(this.buf, this.off) >>> 4) & 0xff; }
  get flowLabel(): number { return get32(this.buf, this.off) & 0xfffff; }
  get payloadLength(): number { return get16(this.buf, this.off + IPV6.PAYLOAD_LENGTH); }
  /** The whole packet: fixed header plus payload length. */
  get totalLength(): number { return IPV6.HEADER + this.payloadLength; }
  get nextHeader(): number { return this.buf[this.off + IPV6.NEXT_HEADER]; }
  get hopLimit(): number { return this.buf[this.off + IPV6.HOP_LIMIT]; }
  get srcOffset(): number { return this.off + IPV6.SRC; }
  get dstOffset(): number { return this.off + IPV6.DST; }
  /** Length of the upper-layer message (from payloadOffset to the end of the packet). */
  get upperLength(): number { return this.off + this.totalLength - this.payloadOffset; }
  /** Bytes from the start of the packet to the upper layer (fixed plus extension headers). */
  get headerLength(): number { return this.payloadOffset - this.off; }

  get isFragment(): boolean { return this.fragmentHeaderOffset >= 0 && (this.fragmentOffset !== 0 || this.moreFragments); }
  /** Fragment offset in bytes (0 without a Fragment header). */
  get fragmentOffset(): number { return this.fragmentHeaderOffset < 0 ? 0 : get16(this.buf, this.fragmentHeaderOffset + 2) & 0xfff8; }
  get moreFragments(): boolean { return this.fragmentHeaderOffset >= 0 && (this.buf[this.fragmentHeaderOffset + 3] & 1) === 1; }
  get fragmentId(): number { return this.fragmentHeaderOffset < 0 ? 0 : get32(this.buf, this.fragmentHeaderOffset + 4); }
  /** Offset of the next-header byte pointing at the Fragment header (-1 without one). */
  get fragmentLink(): number { return this.fragmentLinkOffset; }

  /** The source address: a view of its 16 bytes in the packet (slice() to keep it). */
  src(): Uint8Array { return this.buf.subarray(this.srcOffset, this.srcOffset + 16); }
  /** The destination address: a view of its 16 bytes in the packet (slice() to keep it). */
  dst(): Uint8Array { return this.buf.subarray(this.dstOffset, this.dstOffset + 16); }

  /** Sets the hop limit in place (IPv6 has no header checksum to update). */
  setHopLimit(hops: number): void { this.buf[this.off + IPV6.HOP_LIMIT] = hops; }
  /** Sets the payload length field (the caller keeps it true to the bytes). */
  setPayloadLength(length: number): void { put16(this.buf, this.off + IPV6.PAYLOAD_LENGTH, length); }

  /**
   * The upper-layer checksum's pseudo-header sum (RFC 8200, section 8.1):
   * source, destination, upper-layer length and next header, unfolded.
   */
  pseudoHeaderSum(protocol: number, upperLength: number): number {
    let sum = sumWords(this.buf, this.srcOffset, this.srcOffset + 32);
    sum += (upperLength >>> 16) + (upperLength & 0xffff);
    return sum + protocol;
  }

  /** The checksum an upper-layer message at payloadOffset should carry (its checksum field counted as zero by the caller). */
  upperChecksumOk(protocol: number): boolean {
    const len = this.upperLength;
    return foldChecksum(sumWords(this.buf, this.payloadOffset, this.payloadOffset + len, this.pseudoHeaderSum(protocol, len))) === 0;
  }
}

/** The fields of a fixed IPv6 header to write. */
export interface IPv6HeaderFields {
  src: Uint8Array;
  dst: Uint8Array;
  nextHeader: number;
  payloadLength: number;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
}

/** Writes a 40-byte fixed header at b[o]. */
export function writeIPv6Header(b: Uint8Array, o: number, f: IPv6HeaderFields): void {
  put32(b, o, (6 << 28) | ((f.trafficClass ?? 0) << 20) | (f.flowLabel ?? 0));
  put16(b, o + IPV6.PAYLOAD_LENGTH, f.payloadLength);
  b[o + IPV6.NEXT_HEADER] = f.nextHeader;
  b[o + IPV6.HOP_LIMIT] = f.hopLimit ?? 64;
  b.set(f.src.subarray(0, 16), o + IPV6.SRC);
  b.set(f.dst.subarray(0, 16), o + IPV6.DST);
}
