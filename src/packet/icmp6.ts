// ICMPv6 (RFC 4443): the same 8-byte header as ICMPv4, but the checksum
// also covers the IPv6 pseudo-header, so a view is attached through the
// IPv6 packet it travels in (attachTo), which records the pseudo-header
// sum that check() and fillChecksum() use.
import { checksum, foldChecksum, sumWords } from './checksum.js';
import { put16 } from './bytes.js';
import { ICMP, IcmpProblem, IcmpView } from './icmp.js';
import { IPv6View, NEXT_HEADER, writeIPv6Header } from './ipv6.js';

/** ICMPv6 message types the project uses (RFC 4443, RFC 4861, RFC 3810). */
export const ICMP6_TYPE = {
  DEST_UNREACH: 1,
  PACKET_TOO_BIG: 2,
  TIME_EXCEEDED: 3,
  PARAM_PROBLEM: 4,
  ECHO_REQUEST: 128,
  ECHO_REPLY: 129,
  MLD_QUERY: 130,
  MLD_REPORT: 131,
  MLD_DONE: 132,
  ROUTER_SOLICIT: 133,
  ROUTER_ADVERT: 134,
  NEIGHBOR_SOLICIT: 135,
  NEIGHBOR_ADVERT: 136,
  REDIRECT: 137,
  MLD2_REPORT: 143,
} as const;

/** Codes of Destination Unreachable (RFC 4443, section 3.1). */
export const ICMP6_UNREACH = { NO_ROUTE: 0, ADMIN_PROHIBITED: 1, ADDRESS: 3, PORT: 4 } as const;

/** Whether an ICMPv6 type is the kernel's own link chatter (neighbour discovery, router discovery, MLD) rather than traffic to relay. */
export function isLinkChatter(type: number): boolean {
  return (type >= ICMP6_TYPE.MLD_QUERY && type <= ICMP6_TYPE.REDIRECT) || type === ICMP6_TYPE.MLD2_REPORT;
}

/** An ICMPv6 message inside an IPv6 packet; attach with {@link Icmp6View.attachTo}. */
export class Icmp6View extends IcmpView {
  private pseudoSum = 0;

  /** Points the view at the upper layer of a checked IPv6 packet and records its pseudo-header sum. */
  attachTo(ip: IPv6View): this {
    this.attach(ip.buf, ip.payloadOffset, ip.upperLength);
    this.pseudoSum = ip.pseudoHeaderSum(NEXT_HEADER.ICMPV6, ip.upperLength);
    return this;
  }

  /** A full header and a checksum right over the pseudo-header and the message. */
  override check(): IcmpProblem | undefined {
    if (this.length < ICMP.HEADER || this.off + this.length > this.buf.length) return 'truncated';
    if (foldChecksum(sumWords(this.buf, this.off, this.off + this.length, this.pseudoSum)) !== 0) return 'bad-checksum';
    return undefined;
  }

  override get isEcho(): boolean { return this.type === ICMP6_TYPE.ECHO_REQUEST || this.type === ICMP6_TYPE.ECHO_REPLY; }
  /** Destination Unreachable, Packet Too Big, Time Exceeded, Parameter Problem: the errors that quote a packet. */
  override get isError(): boolean { return this.type >= ICMP6_TYPE.DEST_UNREACH && this.type <= ICMP6_TYPE.PARAM_PROBLEM; }
  /** Packet Too Big's MTU (32 bits where ICMPv4 has the echo fields). */
  get mtu(): number { return ((this.buf[this.off + 4] << 24) | (this.buf[this.off + 5] << 16) | (this.buf[this.off + 6] << 8) | this.buf[this.off + 7]) >>> 0; }

  /** Computes the checksum over the pseudo-header and the whole message and stores it. */
  override fillChecksum(): void {
    put16(this.buf, this.off + ICMP.CHECKSUM, 0);
    put16(this.buf, this.off + ICMP.CHECKSUM, checksum(this.buf, this.off, this.off + this.length, this.pseudoSum));
  }
}

/** The fields {@link writeEcho6Packet} writes. */
export interface Echo6PacketFields {
  type: number;
  src: Uint8Array;
  dst: Uint8Array;
  id: number;
  seq: number;
  payload: Uint8Array;
  hopLimit?: number;
}

/** Writes a whole IPv6 + ICMPv6 echo packet at b[o] (checksum included); returns its length. */
export function writeEcho6Packet(b: Uint8Array, o: number, f: Echo6PacketFields): number {
  const length = ICMP.HEADER + f.payload.length;
  writeIPv6Header(b, o, { src: f.src, dst: f.dst, nextHeader: NEXT_HEADER.ICMPV6, payloadLength: length, hopLimit: f.hopLimit });
  const m = o + 40;
  b[m] = f.type;
  b[m + ICMP.CODE] = 0;
  put16(b, m + ICMP.ID, f.id);
  put16(b, m + ICMP.SEQ, f.seq);
  b.set(f.payload, m + ICMP.HEADER);
  const ip = new IPv6View(b, o, 40 + length);
  ip.check();
  new Icmp6View().attachTo(ip).fillChecksum();
  return 40 + length;
}
