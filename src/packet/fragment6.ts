// IPv6 fragmentation and reassembly (RFC 8200, section 4.5). Only a source
// fragments in IPv6; the relay is the source of what it writes into the
// TUN (a reply bigger than the TUN's MTU), and it reassembles what the
// kernel fragmented on the way into the TUN (ping -6 -s 3000).
import { formatIPv6 } from './addr6.js';
import { put16, put32 } from './bytes.js';
import { FragmentCollector, ReassemblyDrop } from './fragment.js';
import { IPv6View, IPV6, NEXT_HEADER } from './ipv6.js';

/**
 * Splits a packet whose only unfragmentable header is the fixed one into
 * fragments of at most `mtu` bytes, each with a Fragment header carrying
 * `id`, handing each to `emit` (valid only during the call). Returns false,
 * emitting nothing, when the MTU is below IPv6's minimum or `scratch` is
 * too small.
 */
export function fragmentIPv6(ip: IPv6View, mtu: number, id: number, scratch: Uint8Array, emit: (buf: Uint8Array, off: number, len: number) => void): boolean {
  const total = ip.totalLength;
  if (total <= mtu) {
    emit(ip.buf, ip.off, total);
    return true;
  }
  const head = IPV6.HEADER + IPV6.FRAGMENT_HEADER;
  const chunk = Math.floor((mtu - head) / 8) * 8;
  if (mtu < IPV6.MIN_MTU || scratch.length < head + chunk) return false;
  const payload = ip.payloadLength;
  const start = ip.off + IPV6.HEADER;
  for (let at = 0; at < payload; at += chunk) {
    const size = Math.min(chunk, payload - at);
    scratch.set(ip.buf.subarray(ip.off, ip.off + IPV6.HEADER), 0);
    scratch[IPV6.NEXT_HEADER] = NEXT_HEADER.FRAGMENT;
    put16(scratch, IPV6.PAYLOAD_LENGTH, IPV6.FRAGMENT_HEADER + size);
    scratch[IPV6.HEADER] = ip.nextHeader;
    scratch[IPV6.HEADER + 1] = 0;
    put16(scratch, IPV6.HEADER + 2, at | (at + size < payload ? 1 : 0));
    put32(scratch, IPV6.HEADER + 4, id);
    scratch.set(ip.buf.subarray(start + at, start + at + size), head);
    emit(scratch, 0, head + size);
  }
  return true;
}

/** Collects IPv6 fragments into whole packets; bounded in entries and time (60 s by default, RFC 8200's reassembly timeout). */
export class Reassembler6 extends FragmentCollector {
  constructor(maxPending = 64, timeoutMs = 60_000) {
    super(maxPending, timeoutMs);
  }

  /**
   * Adds a checked fragment (ip.isFragment). Returns the whole packet, with
   * the Fragment header gone and the payload length set, once complete; a
   * drop reason when the datagram must be discarded; or undefined.
   */
  add(ip: IPv6View, now: number): Uint8Array | ReassemblyDrop | undefined {
    const fh = ip.fragmentHeaderOffset;
    const offset = ip.fragmentOffset;
    // The unfragmentable part: everything in front of the Fragment header.
    const unfragmentable = fh - ip.off;
    const whole = this.collect(
      {
        key: `${formatIPv6(ip.buf, ip.srcOffset)}|${formatIPv6(ip.buf, ip.dstOffset)}|${ip.fragmentId}`,
        offset,
        data: ip.buf.slice(fh + IPV6.FRAGMENT_HEADER, ip.off + ip.totalLength),
        more: ip.moreFragments,
        header: offset === 0 ? headerWithoutFragment(ip, unfragmentable) : undefined,
        maxPayload: 65535 - (unfragmentable - IPV6.HEADER),
      },
      now,
    );
    if (whole === undefined || typeof whole === 'string') return whole;
    const out = new Uint8Array(whole.header.length + whole.payload.length);
    out.set(whole.header, 0);
    out.set(whole.payload, whole.header.length);
    put16(out, IPV6.PAYLOAD_LENGTH, out.length - IPV6.HEADER);
    return out;
  }
}

/** The first fragment's unfragmentable headers, with the byte that named the Fragment header now naming what followed it. */
function headerWithoutFragment(ip: IPv6View, length: number): Uint8Array {
  const header = ip.buf.slice(ip.off, ip.off + length);
  header[ip.fragmentLink - ip.off] = ip.buf[ip.fragmentHeaderOffset];
  return header;
}
