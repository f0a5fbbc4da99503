// A view over an IPv4 header in a byte array (RFC 791). One instance can be
// re-pointed at packet after packet (attach), so the hot path allocates
// nothing: check() once, then use the cheap accessors and setters.
import { checksum, updateChecksum16, updateChecksum32 } from './checksum.js';
import { get16, get32, put16, put32 } from './bytes.js';
import { PacketView } from './view.js';

/** Field offsets from the start of the header (RFC 791, section 3.1). */
export const IPV4 = {
  VERSION_IHL: 0,
  TOS: 1,
  TOTAL_LENGTH: 2,
  ID: 4,
  FLAGS_FRAGMENT: 6,
  TTL: 8,
  PROTOCOL: 9,
  CHECKSUM: 10,
  SRC: 12,
  DST: 16,
  MIN_HEADER: 20,
  MAX_HEADER: 60,
  FLAG_DF: 0x4000,
  FLAG_MF: 0x2000,
  FRAGMENT_MASK: 0x1fff,
} as const;

/** IP protocol numbers the project uses. */
export const IPPROTO = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58 } as const;

/** Why a buffer is not a usable IPv4 packet (used as a drop reason). */
export type IPv4Problem = 'truncated' | 'not-ipv4' | 'bad-header-length' | 'bad-total-length' | 'bad-checksum' | 'bad-options' | 'bad-fragment';

/** Whether the options in b[start, end) are well formed: EOL ends them, NOP is one byte, any other carries a length of 2 or more that fits. */
function optionsParse(b: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end) {
    const type = b[i];
    if (type === 0) return true;
    if (type === 1) {
      i++;
      continue;
    }
    if (i + 1 >= end) return false;
    const len = b[i + 1];
    if (len < 2 || i + len > end) return false;
    i += len;
  }
  return true;
}

/**
 * A view over an IPv4 packet: field getters and in-place setters that keep the header checksum right.
 * Call {@link IPv4View.check} before trusting any field.
 */
export class IPv4View extends PacketView {
  /**
   * The one validity check: version 4, a header length that fits, a total
   * length within what was read, a correct header checksum, options that
   * parse (RFC 791: EOL, NOP, or type-length-value within the header), and
   * a fragment that ends within 65,535 bytes. Returns undefined when the
   * accessors below are safe to use.
   */
  check(): IPv4Problem | undefined {
    if (this.available < IPV4.MIN_HEADER) return 'truncated';
    if (this.version !== 4) return 'not-ipv4';
    const hl = this.headerLength;
    if (hl < IPV4.MIN_HEADER || hl > this.available) return 'bad-header-length';
    const total = this.totalLength;
    if (total < hl || total > this.available) return 'bad-total-length';
    if (checksum(this.buf, this.off, this.off + hl) !== 0) return 'bad-checksum';
    if (hl > IPV4.MIN_HEADER && !optionsParse(this.buf, this.off + IPV4.MIN_HEADER, this.off + hl)) return 'bad-options';
    if (this.fragmentOffset + total > 65535) return 'bad-fragment';
    return undefined;
  }

  get version(): number { return this.buf[this.off] >>> 4; }
  get headerLength(): number { return (this.buf[this.off] & 0x0f) * 4; }
  get tos(): number { return this.buf[this.off + IPV4.TOS]; }
  get totalLength(): number { return get16(this.buf, this.off + IPV4.TOTAL_LENGTH); }
  get id(): number { return get16(this.buf, this.off + IPV4.ID); }
  get flagsFragment(): number { return get16(this.buf, this.off + IPV4.FLAGS_FRAGMENT); }
  get dontFragment(): boolean { return (this.flagsFragment & IPV4.FLAG_DF) !== 0; }
  get moreFragments(): boolean { return (this.flagsFragment & IPV4.FLAG_MF) !== 0; }
  /** Fragment offset in bytes. */
  get fragmentOffset(): number { return (this.flagsFragment & IPV4.FRAGMENT_MASK) * 8; }
  get isFragment(): boolean { return (this.flagsFragment & (IPV4.FLAG_MF | IPV4.FRAGMENT_MASK)) !== 0; }
  get ttl(): number { return this.buf[this.off + IPV4.TTL]; }
  get protocol(): number { return this.buf[this.off + IPV4.PROTOCOL]; }
  get checksum(): number { return get16(this.buf, this.off + IPV4.CHECKSUM); }
  get src(): number { return get32(this.buf, this.off + IPV4.SRC); }
  get dst(): number { return get32(this.buf, this.off + IPV4.DST); }
  /** Offset in `buf` of the first byte after the header. */
  get payloadOffset(): number { return this.off + this.headerLength; }
  get payloadLength(): number { return this.totalLength - this.headerLength; }

  /** Sets TTL, updating the checksum incrementally (TTL shares a word with protocol). */
  setTtl(ttl: number): void {
    const o = this.off + IPV4.TTL;
    const oldWord = get16(this.buf, o);
    this.buf[o] = ttl;
    put16(this.buf, this.off + IPV4.CHECKSUM, updateChecksum16(this.checksum, oldWord, get16(this.buf, o)));
  }

  /** Sets the flags + fragment-offset word (e.g. to clear DF), updating the checksum incrementally. */
  setFlagsFragment(value: number): void {
    const o = this.off + IPV4.FLAGS_FRAGMENT;
    put16(this.buf, this.off + IPV4.CHECKSUM, updateChecksum16(this.checksum, get16(this.buf, o), value));
    put16(this.buf, o, value);
  }

  /** Sets the source address, updating the header checksum incrementally (RFC 1624); the caller fixes any L4 checksum. */
  setSrc(addr: number): void { this.setAddress(IPV4.SRC, addr); }
  /** Sets the destination address, updating the header checksum incrementally (RFC 1624); the caller fixes any L4 checksum. */
  setDst(addr: number): void { this.setAddress(IPV4.DST, addr); }

  /** Sets the identification field, updating the header checksum incrementally. */
  setId(id: number): void {
    const o = this.off + IPV4.ID;
    put16(this.buf, this.off + IPV4.CHECKSUM, updateChecksum16(this.checksum, get16(this.buf, o), id));
    put16(this.buf, o, id);
  }

  /** Recomputes the header checksum from scratch (after building a header). */
  fillChecksum(): void {
    put16(this.buf, this.off + IPV4.CHECKSUM, 0);
    put16(this.buf, this.off + IPV4.CHECKSUM, checksum(this.buf, this.off, this.off + this.headerLength));
  }

  private setAddress(field: number, addr: number): void {
    const o = this.off + field;
    put16(this.buf, this.off + IPV4.CHECKSUM, updateChecksum32(this.checksum, get32(this.buf, o), addr >>> 0));
    put32(this.buf, o, addr);
  }
}

/** The fields {@link writeIPv4Header} writes. */
export interface IPv4HeaderFields {
  src: number;
  dst: number;
  protocol: number;
  /** Bytes after the 20-byte header. */
  payloadLength: number;
  ttl?: number;
  id?: number;
  tos?: number;
  dontFragment?: boolean;
}

/** Writes a 20-byte IPv4 header (no options) with a correct checksum. */
export function writeIPv4Header(b: Uint8Array, o: number, f: IPv4HeaderFields): void {
  b[o] = 0x45;
  b[o + IPV4.TOS] = f.tos ?? 0;
  put16(b, o + IPV4.TOTAL_LENGTH, IPV4.MIN_HEADER + f.payloadLength);
  put16(b, o + IPV4.ID, f.id ?? 0);
  put16(b, o + IPV4.FLAGS_FRAGMENT, f.dontFragment ? IPV4.FLAG_DF : 0);
  b[o + IPV4.TTL] = f.ttl ?? 64;
  b[o + IPV4.PROTOCOL] = f.protocol;
  put16(b, o + IPV4.CHECKSUM, 0);
  put32(b, o + IPV4.SRC, f.src);
  put32(b, o + IPV4.DST, f.dst);
  put16(b, o + IPV4.CHECKSUM, checksum(b, o, o + IPV4.MIN_HEADER));
}
