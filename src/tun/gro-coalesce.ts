// The write side of TUN offloads: per batch, consecutive TCP segments of
// one flow (and, where the kernel took USO, UDP datagrams of one flow) are
// merged into one super-packet written with NEEDS_CSUM and a gso_type, so
// the kernel's stack takes one packet where the wire carried dozens. What
// may merge follows the kernel's own GRO (tcp_gro_receive): same addresses,
// ports, TOS, TTL and DF (IPv6: traffic class, flow label and hop limit, and
// no extension headers); for TCP the same ACK number, header length and
// options, sequence numbers end to end, only ACK (and PSH to end a run) set;
// every segment but the last exactly gso_size bytes of payload; nothing
// after a PSH or a short segment. Checksums are verified before a merge,
// because the kernel will not verify a NEEDS_CSUM packet after it: all of
// a batch's in one call into the addon (a call per packet cost about as
// much as the sum itself: bench/split.ts).
//
// Everything is staged with its virtio header into one buffer: a merged
// run as one packet, anything else copied as it is behind an empty header.
import { Spans, SpanList } from '../io/batch.js';
import { native } from '../native/addon.js';
import { checksum, foldPartial } from '../packet/checksum.js';
import { get16, get32, put16 } from '../packet/bytes.js';
import { IPPROTO } from '../packet/ipv4.js';
import { ipPseudoHeaderSum } from '../packet/payload-sum.js';
import {
  GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4, VNET_F_NEEDS_CSUM, VNET_HDR_LEN, writePlainVnetHdr, writeVnetHdr, VnetHdr, emptyVnetHdr,
} from './virtio-net-hdr.js';

/** The kernel's cap on one GSO packet's segments (UDP_MAX_SEGMENTS; TCP runs keep to it too). */
const MAX_SEGMENTS = 64;
const MAX_IP_LENGTH = 65535;
const TCP_FLAG_PSH = 0x08;
const TCP_FLAG_ACK = 0x10;
/** native.l4ChecksumsVerify's protocol bits. */
const VERIFY_TCP = 1;
const VERIFY_UDP = 2;

export interface CoalesceOptions {
  tcp: boolean;
  /** UDP runs need USO accepted by the kernel. */
  udp: boolean;
}

export class GroCoalescer {
  /** Staged packets, virtio header first; `packets[i]` inner packets went into item i. */
  readonly staged: SpanList;
  readonly packets: Uint32Array;
  /** Items written as merged runs, and the segments in them (for status). */
  runs = 0;
  mergedSegments = 0;
  private readonly buf: Uint8Array;
  private readonly hdr: VnetHdr = emptyVnetHdr();
  private used = 0;
  // The open run: its item, where its IP header sits, its shape so far.
  private runItem = -1;
  private runIp = 0;
  private runIhl = 0;
  private runL4Len = 0;
  private runGso = 0;
  private runPayload = 0;
  private runSegments = 0;
  private runTcp = false;
  private runV6 = false;
  private runClosed = false;
  /** Per span of the batch being staged: 1 when its TCP/UDP checksum verifies. */
  private verified = new Uint8Array(0);

  constructor(private readonly options: CoalesceOptions, bytes = 1 << 20, items = 1024) {
    this.buf = new Uint8Array(bytes);
    this.staged = new SpanList(items);
    this.staged.reset(this.buf);
    this.packets = new Uint32Array(items);
  }

  /**
   * Stages spans[from, ...) until the staging memory is full; returns the
   * index of the first span not staged (spans.count when all were). The
   * caller writes `staged`, then calls clear() and goes on from there.
   */
  stage(spans: Spans, from: number): number {
    if (this.verified.length < spans.offsets.length) this.verified = new Uint8Array(spans.offsets.length);
    // Only the protocols that may merge are summed (mergeable() refuses the others before it looks at `verified`).
    const protocols = (this.options.tcp ? VERIFY_TCP : 0) | (this.options.udp ? VERIFY_UDP : 0);
    if (spans.count > from && protocols) native.l4ChecksumsVerify(spans.buf, spans.offsets, spans.lengths, from, spans.count - from, this.verified, protocols);
    let i = from;
    for (; i < spans.count; i++) {
      const off = spans.offsets[i];
      const len = spans.lengths[i];
      const verified = this.verified[i] === 1;
      if (this.runItem >= 0 && this.tryAppend(spans.buf, off, len, verified)) continue;
      this.closeRun();
      if (this.staged.full || this.used + VNET_HDR_LEN + len > this.buf.length) break;
      this.startItem(spans.buf, off, len, verified);
    }
    this.closeRun();
    return i;
  }

  clear(): void {
    this.staged.clear();
    this.used = 0;
    this.runItem = -1;
  }

  /** Copies a packet as a new item; opens a run when it could head one (`verified`: its TCP/UDP checksum verifies). */
  private startItem(src: Uint8Array, off: number, len: number, verified: boolean): void {
    const at = this.used;
    writePlainVnetHdr(this.buf, at);
    this.buf.set(src.subarray(off, off + len), at + VNET_HDR_LEN);
    const item = this.staged.add(at, VNET_HDR_LEN + len);
    this.packets[item] = 1;
    this.used += VNET_HDR_LEN + len;
    const ip = at + VNET_HDR_LEN;
    const shape = this.mergeable(this.buf, ip, len, verified);
    if (shape === 0) return;
    this.runItem = item;
    this.runIp = ip;
    this.runV6 = this.buf[ip] >>> 4 === 6;
    this.runIhl = this.runV6 ? 40 : (this.buf[ip] & 0x0f) * 4;
    this.runTcp = this.buf[ip + (this.runV6 ? 6 : 9)] === IPPROTO.TCP;
    this.runL4Len = shape;
    this.runGso = len - this.runIhl - shape;
    this.runPayload = this.runGso;
    this.runSegments = 1;
    this.runClosed = this.runTcp && (this.buf[ip + this.runIhl + 13] & TCP_FLAG_PSH) !== 0;
  }

  /**
   * The L4 header length if the packet at b[ip, ip+len) may take part in a
   * merge (a plain, verified TCP or UDP segment with payload: IPv4 without
   * options or fragments, or IPv6 without extension headers), else 0.
   * `verified`: its TCP/UDP checksum verifies (native.l4ChecksumsVerify).
   */
  private mergeable(b: Uint8Array, ip: number, len: number, verified: boolean): number {
    const v6 = b[ip] >>> 4 === 6;
    let ihl: number;
    let protocol: number;
    if (v6) {
      if (len < 48 || get16(b, ip + 4) !== len - 40) return 0;
      ihl = 40;
      protocol = b[ip + 6];
    } else {
      if (len < 28 || b[ip] !== 0x45 || get16(b, ip + 2) !== len || (get16(b, ip + 6) & 0xbfff) !== 0) return 0;
      ihl = 20;
      protocol = b[ip + 9];
    }
    const l4 = ip + ihl;
    let l4len: number;
    if (protocol === IPPROTO.TCP && this.options.tcp) {
      if (len < ihl + 20) return 0;
      l4len = (b[l4 + 12] >>> 4) * 4;
      const flags = b[l4 + 13];
      if (l4len < 20 || (flags & ~TCP_FLAG_PSH) !== TCP_FLAG_ACK) return 0;
    } else if (protocol === IPPROTO.UDP && this.options.udp) {
      l4len = 8;
      if (get16(b, l4 + 4) !== len - ihl) return 0;
    } else {
      return 0;
    }
    if (len - ihl - l4len <= 0) return 0;
    if (!v6 && checksum(b, ip, ip + 20) !== 0) return 0;
    // An IPv4 UDP datagram may carry no checksum; an IPv6 one must (RFC 8200 section 8.1).
    if (protocol === IPPROTO.UDP && get16(b, l4 + 6) === 0) return v6 ? 0 : l4len;
    return verified ? l4len : 0;
  }

  /** Appends the packet at src[off, off+len) to the open run if it continues it. */
  private tryAppend(src: Uint8Array, off: number, len: number, verified: boolean): boolean {
    if (this.runClosed || this.runSegments >= MAX_SEGMENTS) return false;
    const b = this.buf;
    const head = this.runIp;
    const ihl = this.runIhl;
    const l4len = this.runL4Len;
    const payload = len - ihl - l4len;
    if (payload <= 0 || payload > this.runGso) return false;
    if (this.runIp + ihl + l4len + this.runPayload + payload > this.buf.length || ihl + l4len + this.runPayload + payload > MAX_IP_LENGTH) return false;
    if (this.runV6) {
      // Version, traffic class, flow label; next header and hop limit; addresses (the payload length differs by nature).
      for (let k = 0; k < 4; k++) if (src[off + k] !== b[head + k]) return false;
      if (src[off + 6] !== b[head + 6] || src[off + 7] !== b[head + 7]) return false;
      for (let k = 8; k < 40; k++) if (src[off + k] !== b[head + k]) return false;
    } else {
      if (src[off] !== b[head] || src[off + 9] !== b[head + 9]) return false;
      // TOS, DF, TTL, addresses (the id and total length differ by nature).
      if (src[off + 1] !== b[head + 1] || src[off + 6] !== b[head + 6] || src[off + 8] !== b[head + 8]) return false;
      for (let k = 12; k < 20; k++) if (src[off + k] !== b[head + k]) return false;
    }
    const s4 = off + ihl;
    const h4 = head + ihl;
    // Ports.
    for (let k = 0; k < 4; k++) if (src[s4 + k] !== b[h4 + k]) return false;
    if (this.runTcp) {
      if (((src[s4 + 12] >>> 4) * 4) !== l4len) return false;
      if (get32(src, s4 + 4) !== ((get32(b, h4 + 4) + this.runPayload) >>> 0)) return false; // sequence: end to end
      for (let k = 8; k < 12; k++) if (src[s4 + k] !== b[h4 + k]) return false; // ACK number
      const flags = src[s4 + 13];
      if ((flags & ~TCP_FLAG_PSH) !== TCP_FLAG_ACK) return false;
      for (let k = 20; k < l4len; k++) if (src[s4 + k] !== b[h4 + k]) return false; // options
    }
    if (this.mergeable(src, off, len, verified) !== l4len) return false;
    // It continues the run: append its payload.
    const at = this.runIp + ihl + l4len + this.runPayload;
    if (at !== this.used) return false; // the run is no longer the last item (cannot happen: runs close first)
    b.set(src.subarray(off + ihl + l4len, off + len), at);
    this.used += payload;
    this.runPayload += payload;
    this.runSegments++;
    this.staged.lengths[this.runItem] += payload;
    this.packets[this.runItem]++;
    if (this.runTcp) {
      // Keep the newest window, and end the run at a PSH.
      b[h4 + 14] = src[s4 + 14];
      b[h4 + 15] = src[s4 + 15];
      if (src[s4 + 13] & TCP_FLAG_PSH) {
        b[h4 + 13] |= TCP_FLAG_PSH;
        this.runClosed = true;
      }
    }
    if (payload < this.runGso) this.runClosed = true;
    return true;
  }

  /** Gives a merged run its virtio header and fixed-up headers; a run of one stays a plain packet. */
  private closeRun(): void {
    if (this.runItem < 0) return;
    const item = this.runItem;
    this.runItem = -1;
    if (this.runSegments < 2) return;
    const b = this.buf;
    const ip = this.runIp;
    const ihl = this.runIhl;
    const total = ihl + this.runL4Len + this.runPayload;
    if (this.runV6) {
      put16(b, ip + 4, total - 40);
    } else {
      put16(b, ip + 2, total);
      put16(b, ip + 10, 0);
      put16(b, ip + 10, checksum(b, ip, ip + ihl));
    }
    const l4 = ip + ihl;
    const protocol = this.runTcp ? IPPROTO.TCP : IPPROTO.UDP;
    if (!this.runTcp) put16(b, l4 + 4, total - ihl);
    // CHECKSUM_PARTIAL: the field holds the pseudo-header sum, not complemented.
    put16(b, l4 + (this.runTcp ? 16 : 6), foldPartial(ipPseudoHeaderSum(b, ip, protocol, total - ihl)));
    const h = this.hdr;
    h.flags = VNET_F_NEEDS_CSUM;
    h.gsoType = this.runTcp ? (this.runV6 ? GSO_TCPV6 : GSO_TCPV4) : GSO_UDP_L4;
    h.hdrLen = ihl + this.runL4Len;
    h.gsoSize = this.runGso;
    h.csumStart = ihl;
    h.csumOffset = this.runTcp ? 16 : 6;
    writeVnetHdr(b, ip - VNET_HDR_LEN, h);
    this.runs++;
    this.mergedSegments += this.runSegments;
  }
}
