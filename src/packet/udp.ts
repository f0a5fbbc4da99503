// A view over a UDP header (RFC 768), re-pointable like IPv4View.
import { foldChecksum, sumWords } from './checksum.js';
import { get16, put16 } from './bytes.js';
import { IPPROTO } from './ipv4.js';
import type { IPv6View } from './ipv6.js';
import { PacketView } from './view.js';

export const UDP = { SRC_PORT: 0, DST_PORT: 2, LENGTH: 4, CHECKSUM: 6, HEADER: 8 } as const;

/** Why {@link UdpView.check} refused a datagram. */
export type UdpProblem = 'truncated' | 'bad-length' | 'bad-checksum';

/** Sum of the IPv4 pseudo-header (RFC 768) for `length` bytes of UDP. */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}

/** A UDP datagram; attach it with the IP payload's offset and length. */
export class UdpView extends PacketView {
  /**
   * The one validity check: header present, length field within what was
   * read, and (unless the sender left it 0) a correct checksum over the
   * pseudo-header of src/dst.
   */
  check(src: number, dst: number): UdpProblem | undefined {
    if (this.available < UDP.HEADER) return 'truncated';
    const length = this.length;
    if (length < UDP.HEADER || length > this.available) return 'bad-length';
    if (this.checksum !== 0 && this.computeChecksum(src, dst) !== 0) return 'bad-checksum';
    return undefined;
  }

  /**
   * The IPv6 check, for a datagram at the upper layer of a checked IPv6
   * packet: header and length as for IPv4, and a checksum that is never 0
   * (RFC 8200 section 8.1: IPv6 makes it mandatory) and right over the
   * IPv6 pseudo-header.
   */
  check6(ip: IPv6View): UdpProblem | undefined {
    if (this.available < UDP.HEADER) return 'truncated';
    const length = this.length;
    if (length < UDP.HEADER || length > this.available) return 'bad-length';
    if (this.checksum === 0) return 'bad-checksum';
    return foldChecksum(sumWords(this.buf, this.off, this.off + length, ip.pseudoHeaderSum(IPPROTO.UDP, length))) === 0 ? undefined : 'bad-checksum';
  }

  get srcPort(): number { return get16(this.buf, this.off + UDP.SRC_PORT); }
  get dstPort(): number { return get16(this.buf, this.off + UDP.DST_PORT); }
  get length(): number { return get16(this.buf, this.off + UDP.LENGTH); }
  get checksum(): number { return get16(this.buf, this.off + UDP.CHECKSUM); }
  get payloadOffset(): number { return this.off + UDP.HEADER; }

  /** Checksum over pseudo-header + datagram; 0 when the stored one is right. */
  computeChecksum(src: number, dst: number): number {
    const length = this.length;
    return foldChecksum(sumWords(this.buf, this.off, this.off + length, pseudoHeaderSum(src, dst, IPPROTO.UDP, length)));
  }

  /** Fills the checksum field (0 computed is sent as 0xffff, RFC 768). */
  fillChecksum(src: number, dst: number): void {
    put16(this.buf, this.off + UDP.CHECKSUM, 0);
    const value = this.computeChecksum(src, dst);
    put16(this.buf, this.off + UDP.CHECKSUM, value === 0 ? 0xffff : value);
  }
}
