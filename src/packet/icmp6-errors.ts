// ICMPv6 errors (RFC 4443): reading the packet an error quotes, rewriting
// it for the pinger, and writing the errors the relay gives itself. The
// IPv6 twin of icmp-errors.ts; the differences are the quote (as much of
// the offending packet as fits in 1,280 bytes, not a header and 8 bytes),
// the pseudo-header checksum, and the rules of section 2.4 (e).
import { get16, put16, put32 } from './bytes.js';
import { updateChecksum16 } from './checksum.js';
import { ICMP } from './icmp.js';
import { Icmp6View, ICMP6_TYPE } from './icmp6.js';
import { IPv6View, IPV6, NEXT_HEADER, writeIPv6Header } from './ipv6.js';

/** What an ICMPv6 error quotes: the offending packet's IPv6 header and its ICMPv6 echo header. */
export interface Quote6 {
  ip: IPv6View;
  /** Offset in buf of the quoted ICMPv6 message. */
  icmpOffset: number;
}

/**
 * Points `q` at the packet quoted inside the error `outer` (a checked
 * ICMPv6 error). Returns false unless the quote is an IPv6 ICMPv6 echo
 * request with its 8-byte header (extension headers walked), i.e. ours.
 */
export function readQuote6(outer: Icmp6View, q: Quote6): boolean {
  const start = outer.dataOffset;
  const available = outer.off + outer.length - start;
  if (available < IPV6.HEADER + ICMP.HEADER) return false;
  // The quote is truncated: check it as a packet of what is there.
  const ip = q.ip.attach(outer.buf, start, available);
  if (ip.version !== 6) return false;
  const claimed = ip.payloadLength;
  ip.setPayloadLength(Math.min(claimed, available - IPV6.HEADER));
  const problem = ip.check();
  ip.setPayloadLength(claimed);
  if (problem !== undefined || ip.protocol !== NEXT_HEADER.ICMPV6 || ip.fragmentOffset !== 0) return false;
  if (ip.payloadOffset + ICMP.HEADER > start + available) return false;
  q.icmpOffset = ip.payloadOffset;
  return outer.buf[q.icmpOffset] === ICMP6_TYPE.ECHO_REQUEST;
}

/** The quoted echo identifier. */
export function quotedId(q: Quote6): number {
  return get16(q.ip.buf, q.icmpOffset + ICMP.ID);
}

/**
 * Replaces 16 bytes at buf[at] with `value`, keeping the 16-bit
 * ones-complement checksum at buf[checksumAt] right (RFC 1624, word by word).
 */
function replace16Bytes(buf: Uint8Array, at: number, value: Uint8Array, checksumAt: number): void {
  let check = get16(buf, checksumAt);
  for (let w = 0; w < 16; w += 2) check = updateChecksum16(check, get16(buf, at + w), (value[w] << 8) | value[w + 1]);
  buf.set(value.subarray(0, 16), at);
  put16(buf, checksumAt, check);
}

/**
 * Rewrites, in place, an error about one of our requests into the error
 * the pinger would have received: outer destination = pinger, quoted
 * source = pinger, quoted identifier = the pinger's (the quoted checksum
 * updated so it equals what the pinger sent). `from` replaces the outer
 * source when given. The outer checksum is recomputed.
 */
export function rewriteError6(outerIp: IPv6View, outer: Icmp6View, q: Quote6, pinger: Uint8Array, pingerId: number, from?: Uint8Array): void {
  const b = q.ip.buf;
  const quotedChecksum = q.icmpOffset + ICMP.CHECKSUM;
  // The quoted checksum covers the quoted pseudo-header: a truncated quote may end before it.
  if (quotedChecksum + 2 <= outer.off + outer.length) {
    replace16Bytes(b, q.ip.srcOffset, pinger, quotedChecksum);
    put16(b, quotedChecksum, updateChecksum16(get16(b, quotedChecksum), get16(b, q.icmpOffset + ICMP.ID), pingerId));
  } else {
    b.set(pinger.subarray(0, 16), q.ip.srcOffset);
  }
  put16(b, q.icmpOffset + ICMP.ID, pingerId);
  b.set(pinger.subarray(0, 16), outerIp.dstOffset);
  if (from) b.set(from.subarray(0, 16), outerIp.srcOffset);
  outer.attachTo(outerIp).fillChecksum();
}

/** RFC 4443: an error message, with its quote, fits the IPv6 minimum MTU. */
const MAX_ERROR_PACKET = IPV6.MIN_MTU;

/**
 * Writes at b[o] an ICMPv6 error (type/code) from `from` about the packet
 * in `offending` (quoted as far as 1,280 bytes allow). `word` fills the 4
 * bytes after the checksum (the MTU of Packet Too Big, the pointer of
 * Parameter Problem). Returns the packet length.
 */
export function writeIcmp6Error(b: Uint8Array, o: number, type: number, code: number, from: Uint8Array, offending: IPv6View, word = 0): number {
  const quoteLen = Math.min(offending.totalLength, offending.available, MAX_ERROR_PACKET - IPV6.HEADER - ICMP.HEADER);
  const icmpLen = ICMP.HEADER + quoteLen;
  const i = o + IPV6.HEADER;
  b[i] = type;
  b[i + ICMP.CODE] = code;
  put32(b, i + ICMP.ID, word);
  b.set(offending.buf.subarray(offending.off, offending.off + quoteLen), i + ICMP.HEADER);
  writeIPv6Header(b, o, { src: from, dst: offending.src(), nextHeader: NEXT_HEADER.ICMPV6, payloadLength: icmpLen, hopLimit: 64 });
  const ip = new IPv6View(b, o, IPV6.HEADER + icmpLen);
  ip.check();
  new Icmp6View().attachTo(ip).fillChecksum();
  return IPV6.HEADER + icmpLen;
}

/**
 * RFC 4443 section 2.4 (e): never answer an ICMPv6 error (or anything
 * but an echo request among ICMPv6), a non-first fragment, a packet to a
 * multicast address, or one from the unspecified or a multicast source.
 */
export function mayAnswerWithError6(ip: IPv6View, icmpTypeIfIcmp: number | undefined): boolean {
  if (ip.fragmentOffset !== 0) return false;
  if (ip.buf[ip.dstOffset] === 0xff || ip.buf[ip.srcOffset] === 0xff) return false;
  let unspecified = true;
  for (let k = 0; k < 16 && unspecified; k++) unspecified = ip.buf[ip.srcOffset + k] === 0;
  if (unspecified) return false;
  return icmpTypeIfIcmp === undefined || icmpTypeIfIcmp === ICMP6_TYPE.ECHO_REQUEST;
}
