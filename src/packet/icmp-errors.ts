// ICMP errors: reading the packet an error quotes, rewriting it, and
// writing the errors a relay or overlay hop must give itself (RFC 792,
// RFC 1122 3.2.2, RFC 1812).
import { IPv4View, IPPROTO, IPV4, writeIPv4Header } from './ipv4.js';
import { ICMP, IcmpView, ICMP_TYPE } from './icmp.js';
import { checksum } from './checksum.js';
import { put16, put32 } from './bytes.js';

/** What an ICMP error quotes: the offending packet's IP header and the first 8 bytes after it. */
export interface Quote {
  ip: IPv4View;
  icmp: IcmpView;
}

/**
 * Points `q` at the packet quoted inside the error `outer` (an IcmpView
 * over a checked ICMP error). Returns false when the quote is not an IPv4
 * ICMP echo request with at least its 8-byte header, i.e. not ours.
 */
export function readQuote(outer: IcmpView, q: Quote): boolean {
  const start = outer.dataOffset;
  const available = outer.off + outer.length - start;
  q.ip.attach(outer.buf, start, available);
  if (available < IPV4.MIN_HEADER || q.ip.version !== 4) return false;
  const hl = q.ip.headerLength;
  if (hl < IPV4.MIN_HEADER || available < hl + ICMP.HEADER || q.ip.protocol !== IPPROTO.ICMP || q.ip.fragmentOffset !== 0) return false;
  q.icmp.attach(outer.buf, start + hl, available - hl);
  return q.icmp.type === ICMP_TYPE.ECHO_REQUEST;
}

/**
 * Rewrites, in place, an error about one of our requests into the error
 * the pinger would have received: outer destination = pinger, quoted
 * source = pinger, quoted identifier = the pinger's. `from` replaces the
 * outer source when given (see relay.ts for when). Checksums: the quoted
 * ones are updated incrementally so they equal what the pinger sent; the
 * outer ICMP checksum is recomputed.
 */
export function rewriteError(outerIp: IPv4View, outer: IcmpView, q: Quote, pinger: number, pingerId: number, from?: number): void {
  q.ip.setSrc(pinger);
  q.icmp.setId(pingerId);
  outerIp.setDst(pinger);
  if (from !== undefined) outerIp.setSrc(from);
  outer.fillChecksum();
}

/**
 * Writes at b[o] an ICMP error (type/code) from `from` about the packet
 * in `offending`, quoting its IP header and first 8 payload bytes.
 * `word` fills the 4 header bytes after the checksum (the next-hop MTU for
 * Fragmentation Needed). Returns the packet length.
 */
export function writeIcmpError(b: Uint8Array, o: number, type: number, code: number, from: number, offending: IPv4View, word = 0): number {
  const quoteLen = Math.min(offending.headerLength + 8, offending.totalLength);
  const icmpLen = ICMP.HEADER + quoteLen;
  const i = o + IPV4.MIN_HEADER;
  b[i] = type;
  b[i + ICMP.CODE] = code;
  put16(b, i + ICMP.CHECKSUM, 0);
  put32(b, i + ICMP.ID, word);
  b.set(offending.buf.subarray(offending.off, offending.off + quoteLen), i + ICMP.HEADER);
  put16(b, i + ICMP.CHECKSUM, checksum(b, i, i + icmpLen));
  writeIPv4Header(b, o, { src: from, dst: offending.src, protocol: IPPROTO.ICMP, payloadLength: icmpLen, ttl: 64 });
  return IPV4.MIN_HEADER + icmpLen;
}

/** RFC 1122 3.2.2: never answer an ICMP error, a non-first fragment, or a broadcast/multicast. */
export function mayAnswerWithError(ip: IPv4View, icmpTypeIfIcmp: number | undefined, subnetBroadcast: number): boolean {
  if (ip.fragmentOffset !== 0) return false;
  const dst = ip.dst;
  if (dst === 0xffffffff || dst === subnetBroadcast || (dst >>> 28) === 0xe) return false;
  if (icmpTypeIfIcmp !== undefined && icmpTypeIfIcmp !== ICMP_TYPE.ECHO_REQUEST && icmpTypeIfIcmp !== 13 && icmpTypeIfIcmp !== 15 && icmpTypeIfIcmp !== 17) return false;
  return true;
}
