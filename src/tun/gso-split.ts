// The read side of TUN offloads: the kernel hands a TUN opened with
// IFF_VNET_HDR and TSO/USO on a "super-packet" (one TCP or UDP header over
// up to 64 KiB of payload, gso_size bytes per segment), or a packet whose
// checksum it left for us to finish (NEEDS_CSUM). This turns each into the
// plain IPv4 or IPv6 packets a wire would carry, so that everything above
// the device sees ordinary packets. Like the kernel's tcp_gso_segment: every
// segment gets its own IP id, total length and header checksum (IPv4; IPv6
// has only a payload length), its own sequence number, FIN and PSH only on
// the last, CWR only on the first, and a full L4 checksum. Header lengths
// come from the headers, not from the virtio header's hdr_len, which the
// kernel only calls a hint. An IPv6 super-packet must have no extension
// headers (the kernel's TSO6 output has none).
import { RxBatch } from '../io/batch.js';
import { checksum } from '../packet/checksum.js';
import { get16, get32, put16, put32 } from '../packet/bytes.js';
import { IPPROTO } from '../packet/ipv4.js';
import { l4Checksum, SumFn } from '../packet/payload-sum.js';
import {
  emptyVnetHdr, GSO_ECN, GSO_NONE, GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4, readVnetHdr, VNET_F_NEEDS_CSUM, VNET_HDR_LEN,
} from './virtio-net-hdr.js';

/** Why a packet read from the TUN was dropped instead of split. */
export type SplitDrop = 'bad-vnet-header' | 'unsupported-gso' | 'segment-too-big';

const TCP_FLAG_FIN = 0x01;
const TCP_FLAG_PSH = 0x08;
const TCP_FLAG_CWR = 0x80;

export class GsoSplitter {
  private readonly hdr = emptyVnetHdr();
  /** Super-packets split, and the segments they made (for status). */
  superPackets = 0;
  segments = 0;
  /** Packets whose checksum was left to us and completed. */
  checksumsCompleted = 0;

  constructor(private readonly sum: SumFn) {}

  /**
   * Splits the packet at raw[off, off+len) (virtio header first) into
   * plain packets appended to `out`; when `out` fills up it is handed to
   * `deliver` and cleared. Returns why the packet was dropped, or undefined.
   * Never throws on packet contents.
   */
  split(raw: Uint8Array, off: number, len: number, out: RxBatch, deliver: (b: RxBatch) => void): SplitDrop | undefined {
    if (len < VNET_HDR_LEN) return 'bad-vnet-header';
    const h = readVnetHdr(raw, off, this.hdr);
    const pkt = off + VNET_HDR_LEN;
    const plen = len - VNET_HDR_LEN;
    const gsoType = h.gsoType & ~GSO_ECN;
    if (gsoType === GSO_NONE) {
      if (h.flags & VNET_F_NEEDS_CSUM) {
        const field = h.csumStart + h.csumOffset;
        if (h.csumStart >= plen || field + 2 > plen) return 'bad-vnet-header';
        // The field holds the pseudo-header sum; fold in the rest.
        put16(raw, pkt + field, ~this.sum(raw, pkt + h.csumStart, pkt + plen, 0) & 0xffff);
        this.checksumsCompleted++;
      }
      return this.emit(raw, pkt, plen, out, deliver);
    }
    if (gsoType !== GSO_TCPV4 && gsoType !== GSO_TCPV6 && gsoType !== GSO_UDP_L4) return 'unsupported-gso';
    // The IP and L4 headers, checked for what the split relies on.
    if (plen < 20) return 'bad-vnet-header';
    const version = raw[pkt] >>> 4;
    const v6 = version === 6;
    if (version !== 4 && !v6) return 'bad-vnet-header';
    if ((gsoType === GSO_TCPV4 && v6) || (gsoType === GSO_TCPV6 && !v6) || (v6 && plen < 40)) return 'bad-vnet-header';
    const ihl = v6 ? 40 : (raw[pkt] & 0x0f) * 4;
    const protocol = raw[pkt + (v6 ? 6 : 9)];
    const tcp = gsoType !== GSO_UDP_L4;
    if (ihl < 20 || protocol !== (tcp ? IPPROTO.TCP : IPPROTO.UDP) || (!v6 && (get16(raw, pkt + 6) & 0x3fff) !== 0)) return 'bad-vnet-header';
    if (ihl + (tcp ? 20 : 8) > plen) return 'bad-vnet-header';
    const l4hdr = tcp ? (raw[pkt + ihl + 12] >>> 4) * 4 : 8;
    const hdrLen = ihl + l4hdr;
    if (l4hdr < (tcp ? 20 : 8) || hdrLen > plen || h.gsoSize === 0) return 'bad-vnet-header';
    const payload = plen - hdrLen;
    if (payload <= h.gsoSize) {
      // One segment's worth: it only needs its checksum finished.
      this.finishSegment(raw, pkt, ihl, plen, tcp);
      return this.emit(raw, pkt, plen, out, deliver);
    }
    if (hdrLen + h.gsoSize > out.slotRoom) return 'segment-too-big';
    this.superPackets++;
    const id0 = v6 ? 0 : get16(raw, pkt + 4);
    const seq0 = tcp ? get32(raw, pkt + ihl + 4) : 0;
    const flags0 = tcp ? raw[pkt + ihl + 13] : 0;
    const count = Math.ceil(payload / h.gsoSize);
    for (let k = 0; k < count; k++) {
      if (out.count >= out.slots) {
        deliver(out);
        out.clear();
      }
      const chunk = Math.min(h.gsoSize, payload - k * h.gsoSize);
      const segLen = hdrLen + chunk;
      const d = out.slotOffset(out.count);
      const b = out.buf;
      // The headers byte by byte (no view to allocate for a few dozen bytes), the payload in one copy.
      for (let x = 0; x < hdrLen; x++) b[d + x] = raw[pkt + x];
      const from = pkt + hdrLen + k * h.gsoSize;
      b.set(raw.subarray(from, from + chunk), d + hdrLen);
      if (!v6) put16(b, d + 4, (id0 + k) & 0xffff);
      if (tcp) {
        put32(b, d + ihl + 4, (seq0 + k * h.gsoSize) >>> 0);
        let flags = flags0;
        if (k + 1 < count) flags &= ~(TCP_FLAG_FIN | TCP_FLAG_PSH);
        if (k > 0) flags &= ~TCP_FLAG_CWR;
        b[d + ihl + 13] = flags;
      }
      this.finishSegment(b, d, ihl, segLen, tcp);
      const i = out.count++;
      out.offsets[i] = d;
      out.sizes[i] = segLen;
      this.segments++;
    }
    return undefined;
  }

  /** Its length, the IPv4 header checksum, and a full L4 checksum for the segment at buf[ip, ip+len). */
  private finishSegment(b: Uint8Array, ip: number, ihl: number, len: number, tcp: boolean): void {
    if (b[ip] >>> 4 === 6) {
      put16(b, ip + 4, len - 40);
    } else {
      put16(b, ip + 2, len);
      put16(b, ip + 10, 0);
      put16(b, ip + 10, checksum(b, ip, ip + ihl));
    }
    const l4 = ip + ihl;
    if (tcp) {
      put16(b, l4 + 16, 0);
      put16(b, l4 + 16, l4Checksum(this.sum, b, ip, l4, ip + len, IPPROTO.TCP));
    } else {
      put16(b, l4 + 4, len - ihl);
      put16(b, l4 + 6, 0);
      put16(b, l4 + 6, l4Checksum(this.sum, b, ip, l4, ip + len, IPPROTO.UDP) || 0xffff);
    }
  }

  private emit(raw: Uint8Array, pkt: number, plen: number, out: RxBatch, deliver: (b: RxBatch) => void): SplitDrop | undefined {
    if (plen > out.slotRoom) return 'segment-too-big';
    if (out.count >= out.slots) {
      deliver(out);
      out.clear();
    }
    out.append(raw.subarray(pkt, pkt + plen));
    return undefined;
  }
}
