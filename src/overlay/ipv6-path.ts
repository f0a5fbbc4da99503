// The overlay's IPv6 decisions, on a dual-stack node: which peer an IPv6
// packet from the TUN goes to, and whether an IPv6 packet from a peer may
// enter the TUN. The hop rules are the IPv4 path's (overlay.ts), in IPv6's
// terms: the receiving daemon decrements the hop limit and answers Time
// Exceeded from its own IPv6 hop address; the sending daemon answers No
// Route and Packet Too Big (IPv6 is never fragmented on the way) with the
// unreachable destination as source. ICMPv6 errors are rate-limited with
// the IPv4 ones.
import { Prefix6, prefix6Contains } from '../packet/addr6.js';
import { ICMP6_TYPE, ICMP6_UNREACH } from '../packet/icmp6.js';
import { mayAnswerWithError6, writeIcmp6Error } from '../packet/icmp6-errors.js';
import { IPv6Problem, IPv6View, IPV6, NEXT_HEADER } from '../packet/ipv6.js';
import { TokenBucket } from '../util/token-bucket.js';
import { OverlayCounters } from './counters.js';
import { foreignSourceDrop, Peer, RouteTable } from './route-table.js';

/** The cluster's and this node's IPv6 prefixes. */
export interface OverlayIPv6Options {
  network6: Prefix6;
  subnet6: Prefix6;
  /** Largest inner packet one datagram carries (at least IPv6's 1,280: checked by the caller). */
  pathMtu: number;
}

/** Hands a generated packet (an ICMPv6 error) to the overlay: into the TUN without `via`, else to node `via`. */
export type EmitGenerated = (packet: Uint8Array, via?: Peer) => void;

const dropFor = (problem: IPv6Problem): 'ipv6-malformed' | 'ipv6-extension' => (problem === 'unsupported-extension-header' ? 'ipv6-extension' : 'ipv6-malformed');

/** The IPv6 half of an overlay node's data plane (one per {@link Overlay} with an IPv6 subnet). */
export class OverlayIPv6 {
  private readonly ip = new IPv6View();
  /** Where ICMPv6 errors are built. */
  private readonly scratch = new Uint8Array(IPV6.MIN_MTU);
  /** The view of the packet route() or accept() last looked at (for --trace and the live probe). */
  get lastPacket(): IPv6View {
    return this.ip;
  }

  /** This node's IPv6 hop address: its IPv6 subnet's network address, the TUN's (with the IPv6 network's length). */
  readonly hopAddress: Uint8Array;

  constructor(
    private readonly options: OverlayIPv6Options,
    private readonly counters: OverlayCounters,
    private readonly errorBudget: TokenBucket,
    private readonly emit: EmitGenerated,
  ) {
    this.hopAddress = options.subnet6.network;
  }

  /**
   * An IPv6 packet read from the TUN: the peer that owns its destination,
   * or undefined when it was dropped (counted) or answered with an error.
   */
  route(buf: Uint8Array, off: number, size: number, routes: RouteTable): Peer | undefined {
    const ip = this.ip.attach(buf, off, size);
    const problem = ip.check();
    if (problem !== undefined || ip.totalLength !== size) {
      this.counters.drop(problem ? dropFor(problem) : 'ipv6-malformed');
      return undefined;
    }
    const peer = routes.lookup6(buf, ip.dstOffset);
    if (!peer) {
      if (!prefix6Contains(this.options.network6, buf, ip.dstOffset)) this.counters.drop('outside-network');
      else if (prefix6Contains(this.options.subnet6, buf, ip.dstOffset)) this.counters.drop('own-subnet');
      else {
        this.counters.drop('no-route');
        this.answer(ip, ICMP6_TYPE.DEST_UNREACH, ICMP6_UNREACH.NO_ROUTE, ip.dst());
      }
      return undefined;
    }
    if (size > this.options.pathMtu) {
      this.counters.drop('too-big');
      this.answer(ip, ICMP6_TYPE.PACKET_TOO_BIG, 0, ip.dst(), undefined, this.options.pathMtu);
      return undefined;
    }
    return peer;
  }

  /**
   * An IPv6 packet from `peer`: true when it may be written into the TUN
   * (its hop limit then decremented in place), false when dropped (counted)
   * or answered with Time Exceeded.
   */
  accept(buf: Uint8Array, off: number, size: number, peer: Peer): boolean {
    const ip = this.ip.attach(buf, off, size);
    const problem = ip.check();
    if (problem !== undefined || ip.totalLength !== size) {
      this.counters.drop(problem ? dropFor(problem) : 'ipv6-malformed');
      return false;
    }
    if (!peer.subnet6 || !prefix6Contains(peer.subnet6, buf, ip.srcOffset)) {
      // Cryptokey routing: a peer's allowed IPs are its lease's subnets.
      this.counters.drop(foreignSourceDrop(peer));
      return false;
    }
    if (!prefix6Contains(this.options.subnet6, buf, ip.dstOffset)) {
      this.counters.drop('not-for-this-node');
      return false;
    }
    peer.rxPackets++;
    peer.rxBytes += size;
    if (ip.hopLimit <= 1) {
      this.counters.drop('ttl-expired');
      this.answer(ip, ICMP6_TYPE.TIME_EXCEEDED, 0, this.hopAddress, peer);
      return false;
    }
    ip.setHopLimit(ip.hopLimit - 1); // no header checksum in IPv6
    return true;
  }

  /** An ICMPv6 error about `offending`, from `from`: into the TUN, or through the overlay to `via`. */
  private answer(offending: IPv6View, type: number, code: number, from: Uint8Array, via?: Peer, word = 0): void {
    const icmpType = offending.protocol === NEXT_HEADER.ICMPV6 && !offending.isFragment && offending.upperLength > 0 ? offending.buf[offending.payloadOffset] : undefined;
    // RFC 4443 2.4 (e): Packet Too Big is the one error sent about a packet to a multicast address.
    if (type === ICMP6_TYPE.PACKET_TOO_BIG ? icmpType !== undefined && icmpType < 128 : !mayAnswerWithError6(offending, icmpType)) return;
    if (!this.errorBudget.take()) return this.counters.drop('error-rate-limited');
    const len = writeIcmp6Error(this.scratch, 0, type, code, from.slice(), offending, word);
    this.emit(this.scratch.subarray(0, len), via);
    this.counters.errorsGenerated++;
  }
}
