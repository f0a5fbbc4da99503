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
// headers (the kernel's TSO6 output has none). The headers are checked
// here; cutting and finishing the segments is the addon's
// (native/gso_split.cc), one call for as many as the batch has room for:
// bench/split.ts measured it at a third of the TypeScript loop's cost.
import { RxBatch } from '../io/batch.js';
import { native } from '../native/addon.js';
import { get16, put16 } from '../packet/bytes.js';
import { IPPROTO } from '../packet/ipv4.js';
import { SumFn } from '../packet/payload-sum.js';
import {
  emptyVnetHdr, GSO_ECN, GSO_NONE, GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4, readVnetHdr, VNET_F_NEEDS_CSUM, VNET_HDR_LEN,
} from './virtio-net-hdr.js';

/** Why a packet read from the TUN was dropped instead of split. */
export type SplitDrop = 'bad-vnet-header' | 'unsupported-gso' | 'segment-too-big';

/** native.gsoSplitSegments' kind bits. */
const SEGMENT_IPV6 = 1;
const SEGMENT_TCP = 2;

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
    if (hdrLen + Math.min(payload, h.gsoSize) > out.slotRoom) return 'segment-too-big';
    // The segments themselves are cut and finished in the addon, as many per call as out has slots.
    const count = Math.max(1, Math.ceil(payload / h.gsoSize));
    if (count > 1) this.superPackets++;
    const kind = (v6 ? SEGMENT_IPV6 : 0) | (tcp ? SEGMENT_TCP : 0);
    for (let k = 0; k < count;) {
      if (out.count >= out.slots) {
        deliver(out);
        out.clear();
      }
      const n = native.gsoSplitSegments(raw, pkt, hdrLen, ihl, payload, h.gsoSize, kind, k, out.buf, out.slotSize, out.headroom, out.count, out.slots, out.offsets, out.sizes);
      if (n === 0) return 'segment-too-big'; // cannot happen with a cleared batch; never loop on it
      out.count += n;
      k += n;
    }
    if (count > 1) this.segments += count;
    return undefined;
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
