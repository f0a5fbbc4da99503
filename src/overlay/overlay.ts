// The data plane of the user-space backends (udp, wireguard): every IP
// packet the kernel routes into the TUN goes to the node that owns its
// destination subnet, and every packet from a node is checked and written
// into the TUN. How a packet crosses to a node is the transport's
// (peer-transport.ts), which the backend hands in: the whole payload of a
// UDP datagram (src/backend/udp/) or a WireGuard message
// (src/backend/wireguard/). Pure logic over a PacketDevice and a UdpNetwork,
// so it runs on the in-memory TUN in unit tests as on the real one.
//
// Hot path: one TUN readiness event -> one batch -> one sendmmsg straight
// out of the read buffer (zero copy); one socket readiness event -> one
// recvmmsg -> checks and a TTL decrement in place -> one batch of TUN writes.
//
// The hop: the *receiving* daemon decrements the inner TTL, like a router
// between the two nodes. When it expires, that daemon answers Time Exceeded
// from its own overlay address, back through the overlay to the sender's
// node; the address is not local there, so the sender's kernel accepts it
// (an error from a node's own address written into its own TUN would be
// dropped as a martian). Errors the sending daemon gives itself (Net
// Unreachable, Fragmentation Needed) carry the unreachable destination as
// source for the same reason.
import { RxBatch, SpanList, TxQueue } from '../io/batch.js';
import { GRO_MAX_SEGMENTS, GRO_SLOT_BYTES } from '../io/datagram-socket.js';
import { PollLoop } from '../io/poll-loop.js';
import type { UdpNetwork } from './udp-network.js';
import { formatIPv4, Prefix, prefixContains, prefixMask, samePrefix } from '../packet/addr.js';
import { describeIPv4, describeIPv6 } from '../packet/describe.js';
import { fragmentIPv4 } from '../packet/fragment.js';
import { mayAnswerWithError, writeIcmpError } from '../packet/icmp-errors.js';
import { IcmpView, ICMP_TYPE, ICMP_UNREACH } from '../packet/icmp.js';
import { IPv4View, IPPROTO } from '../packet/ipv4.js';
import { PacketDevice } from '../tun/device.js';
import { Prefix6 } from '../packet/addr6.js';
import { IPV6 } from '../packet/ipv6.js';
import { OverlayIPv6 } from './ipv6-path.js';
import { Underlay6Endpoints } from './underlay6.js';
import { TokenBucket } from '../util/token-bucket.js';
import { OverlayCounters } from './counters.js';
import { isProbePacket, isProbePacket6, Probe } from '../control/probe.js';
import { ICMP6_TYPE } from '../packet/icmp6.js';
import { Lease, sameSubnets } from '../subnet/leases.js';
import { LeasePeers, PeerChanges } from './lease-peers.js';
import type { LeaseDelta } from '../subnet/control-plane.js';
import { foreignSourceDrop, Peer, RouteTable } from './route-table.js';
import type { PeerTransport, TransportFactory } from './peer-transport.js';

export type { UdpNetwork };

/** How an {@link Overlay} is configured: the cluster network, this node's subnet and the MTUs. */
export interface OverlayOptions {
  /** The cluster's IPv4 network; undefined on an IPv6-only node (then IPv4 is dropped as `ipv4`, and `ipv6` is required). */
  network?: Prefix;
  /** This node's IPv4 subnet; the TUN's address (its network address) is our hop address. */
  subnet?: Prefix;
  /** The cluster's and this node's IPv6 prefixes, on a dual-stack or IPv6-only node (ipv6-path.ts); without them IPv6 is dropped as `ipv6`. */
  ipv6?: { network6: Prefix6; subnet6: Prefix6 };
  tunMtu: number;
  /** Largest inner packet that fits one datagram on the underlay (underlay MTU - 28). */
  pathMtu: number;
  batchSize?: number;
  errorRatePerSecond?: number;
  /** Called with one tcpdump-like line per packet (--trace). */
  trace?: (line: string) => void;
  /** The clock for the ICMP error rate limit (tests inject one). */
  now?: () => number;
  /** Called once per batch read, with its size (for metrics). */
  batchObserver?: (side: 'tun' | 'net', size: number) => void;
  /**
   * What carries packets between nodes: plain UDP datagrams (the udp
   * backend's plainTransport, src/backend/udp/transport.ts) or WireGuard
   * (src/backend/wireguard/transport.ts, whose `pathMtu` must leave room
   * for its 32 bytes of overhead).
   */
  transport: TransportFactory;
  /** Called with a line for the log when a lease is refused (a duplicate key) or a handshake completes. */
  log?: (line: string) => void;
  /**
   * This node has an IPv6 underlay address: nodes whose lease names one too
   * are reached over IPv6, through stand-in addresses (underlay6.ts) the
   * network side maps to theirs.
   */
  underlay6?: Underlay6Endpoints;
}

/** Receive slots, each big enough for the largest UDP datagram or a UDP GRO buffer of many. */
const NET_SLOTS = 32;

/** An IPv6 packet whose header and payload length agree with the datagram (anything else is malformed, whatever its first nibble). */
function isIPv6Packet(b: Uint8Array, off: number, size: number): boolean {
  return size >= 40 && b[off] >>> 4 === 6 && 40 + ((b[off + 4] << 8) | b[off + 5]) === size;
}

/**
 * The overlay's data plane (flannel's UDP backend) over a {@link PacketDevice} and a {@link UdpNetwork}:
 * packets from the TUN go to the node that owns their destination; datagrams from nodes are checked and written into the TUN.
 * Bad input is counted in {@link Overlay.counters} and dropped, never thrown.
 */
export class Overlay {
  readonly counters = new OverlayCounters();
  /** Armed by doctor's live probe (see control/probe.ts). */
  probe?: Probe;
  private readonly leasePeers = new LeasePeers();
  private readonly hopAddress: number;
  private readonly broadcast: number;
  private readonly trace?: (line: string) => void;
  private readonly errorBudget: TokenBucket;

  private readonly tunRx: RxBatch;
  private readonly netRx: RxBatch;
  private readonly toNet: SpanList;
  private readonly toTun: SpanList;
  /** Packets the daemon builds: errors into the TUN, and fragments / errors to peers. */
  private readonly genTun: TxQueue;
  private readonly genNet: TxQueue;
  /** Fragments are built here. Big enough for any datagram. */
  private readonly scratch = new Uint8Array(GRO_SLOT_BYTES);
  /** What carries the packets to and from other nodes. */
  readonly transport: PeerTransport;
  private readonly ip = new IPv4View();
  /** The IPv6 half, on a dual-stack node. */
  private readonly v6?: OverlayIPv6;

  /** Allocates every buffer the data plane needs; does no I/O until {@link Overlay.start}. */
  constructor(private readonly tun: PacketDevice, private readonly net: UdpNetwork, private readonly options: OverlayOptions) {
    if (!options.subnet && !options.ipv6) throw new RangeError('an overlay node needs an IPv4 subnet, an IPv6 one, or both');
    if (!options.network !== !options.subnet) throw new RangeError('the IPv4 network and subnet go together');
    this.hopAddress = options.subnet?.network ?? 0;
    this.broadcast = options.subnet ? (options.subnet.network | ~prefixMask(options.subnet.length)) >>> 0 : 0;
    this.trace = options.trace;
    this.errorBudget = new TokenBucket(options.errorRatePerSecond ?? 100, options.now ?? Date.now);
    const batch = options.batchSize ?? 128;
    const slot = Math.max(2048, options.tunMtu, options.pathMtu);
    this.tunRx = new RxBatch(batch, slot);
    // A datagram is never truncated: every slot takes the largest one.
    this.netRx = new RxBatch(NET_SLOTS, GRO_SLOT_BYTES, 0, NET_SLOTS * GRO_MAX_SEGMENTS);
    this.toNet = new SpanList(batch);
    this.toTun = new SpanList(this.netRx.capacity);
    this.genTun = new TxQueue(64, slot);
    this.genNet = new TxQueue(64, slot);
    if (options.ipv6) {
      if (options.pathMtu < IPV6.MIN_MTU) throw new RangeError(`IPv6 needs a path MTU of ${IPV6.MIN_MTU} or more inside the tunnel (${options.pathMtu} here)`);
      this.v6 = new OverlayIPv6({ ...options.ipv6, pathMtu: options.pathMtu }, this.counters, this.errorBudget, (packet, via) => this.emitGenerated(packet, via));
    }
    this.transport = options.transport({ net, counters: this.counters, pathMtu: options.pathMtu, routes: () => this.routes, log: options.log });
  }

  get peers(): readonly Peer[] {
    return this.leasePeers.peers;
  }

  private get routes(): RouteTable {
    return this.leasePeers.routes;
  }

  /**
   * Installs a new set of leases (this node's own is skipped). A lease
   * handed over before keeps its peer (counters, route, WireGuard session):
   * a change costs what changed (lease-peers.ts); removed peers stop
   * receiving at once. `delta`: which lease objects came and went since
   * the last call, when the control plane knows (see ControlPlaneEvents).
   */
  setLeases(leases: readonly Lease[], delta?: LeaseDelta): PeerChanges {
    const underlay6 = this.options.underlay6;
    // This node's own lease: by its IPv4 subnet, or on an IPv6-only node by its IPv6 one.
    const own = this.options.subnet ? { subnet: this.options.subnet } : { subnet6: this.options.ipv6!.subnet6 };
    const isOwn = (l: Lease): boolean => (own.subnet ? !!l.subnet && samePrefix(l.subnet, own.subnet) : sameSubnets({ subnet6: l.subnet6 }, own));
    const { keep, refused, deltaHolds } = this.transport.admit(leases, isOwn);
    for (const r of refused) this.options.log?.(r);
    const changes = this.leasePeers.update(keep, (l) => (isOwn(l) ? undefined : underlay6 && l.publicIpv6 ? { ...l, publicIp: underlay6.standIn(l.publicIpv6) } : l), deltaHolds ? delta : undefined);
    this.transport.peersChanged(changes);
    return changes;
  }

  /**
   * Starts reading both sides. `onError` gets a TunDriverError `TUN_ERR_IO` when the TUN or socket fails for good.
   * With `loop`, both wait in its poll() (the daemon's default, for latency) instead of libuv callbacks.
   */
  start(onError: (err: Error) => void, loop?: PollLoop): void {
    this.tun.startReading(this.tunRx, (b) => this.fromTun(b), onError, loop);
    this.net.startReading(this.netRx, (b) => this.fromNetwork(b), onError, loop);
    this.transport.start();
  }

  /** Fires the transport's timers (WireGuard's: start() runs them every 100 ms; tests call this on their own clock). */
  tick(): void {
    this.transport.tick();
  }

  /** Stops reading both sides; the device and socket stay open (their owner closes them). */
  stop(): void {
    this.tun.stopReading();
    this.net.stopReading();
    this.transport.stop();
  }

  /** A batch from the TUN: each packet to the node that owns its destination. */
  fromTun(batch: RxBatch): void {
    this.options.batchObserver?.('tun', batch.count);
    this.toNet.reset(batch.buf);
    let sentProbe = false;
    const routes = this.routes; // one route table for the whole batch
    const own4 = this.options.subnet; // undefined on an IPv6-only node
    let lastDst = -1;
    let lastPeer: Peer | undefined;
    for (let i = 0; i < batch.count; i++) {
      const off = batch.offset(i);
      const ip = this.ip.attach(batch.buf, off, batch.sizes[i]);
      if (batch.sizes[i] > 0 && ip.version === 6) {
        if (!this.v6) {
          this.counters.drop('ipv6');
          continue;
        }
        const peer6 = this.v6.route(batch.buf, off, batch.sizes[i], routes);
        if (this.probe && isProbePacket6(this.probe, this.v6.lastPacket, ICMP6_TYPE.ECHO_REQUEST)) {
          this.probe.mark('tun-in');
          if (peer6) sentProbe = true;
          else this.probe.stoppedBecause = 'the IPv6 path dropped or answered it (no route, too big or malformed: see the drop counters)';
        }
        if (peer6) this.queueToPeer(off, batch.sizes[i], peer6);
        continue;
      }
      if (!own4) {
        this.counters.drop('ipv4');
        continue;
      }
      if (ip.check() !== undefined) {
        this.counters.drop('malformed');
        continue;
      }
      const probing = isProbePacket(this.probe, ip, ICMP_TYPE.ECHO_REQUEST);
      if (probing) this.probe!.mark('tun-in');
      const dst = ip.dst;
      if (dst !== lastDst) {
        lastDst = dst;
        lastPeer = routes.lookup(dst);
      }
      const peer = lastPeer;
      if (!peer) {
        if (probing) this.probe!.stoppedBecause = 'no node owns the destination (no lease)';
        this.unroutable(ip);
        continue;
      }
      const len = ip.totalLength;
      if (len > this.options.pathMtu) {
        this.tooBig(ip, peer);
        continue;
      }
      if (probing) sentProbe = true;
      this.trace?.(`tun>net ${describeIPv4(ip, ip.protocol === IPPROTO.ICMP ? new IcmpView(batch.buf, ip.payloadOffset, ip.payloadLength) : undefined)} to ${formatIPv4(peer.publicIp)}:${peer.port}`);
      this.queueToPeer(off, len, peer);
    }
    this.flushToNet(this.toNet);
    if (sentProbe) this.probe?.mark('sent');
    this.flushGenerated();
  }

  /** Queues the packet at toNet.buf[off] for `peer`. */
  private queueToPeer(off: number, len: number, peer: Peer): void {
    if (this.toNet.full) this.flushToNet(this.toNet);
    this.toNet.add(off, len, peer.publicIp, peer.port);
    peer.txPackets++;
    peer.txBytes += len;
  }

  /** A generated packet (an ICMP error): into the TUN without `via`, else to node `via`. */
  private emitGenerated(packet: Uint8Array, via?: Peer): void {
    const g = via ? this.genNet : this.genTun;
    if (g.full) this.flushGenerated();
    g.push(packet, via?.publicIp, via?.port);
  }

  /** A batch of datagrams: checked, TTL decremented, written into the TUN. */
  fromNetwork(batch: RxBatch): void {
    this.options.batchObserver?.('net', batch.count);
    this.toTun.reset(batch.buf);
    let probeDelivered = false;
    const own = this.options.subnet;
    const transport = this.transport;
    transport.beginBatch(batch);
    for (let i = 0; i < batch.count; i++) {
      // The transport says which peer a datagram is from (opening it when it is sealed), or consumed or refused it.
      const peer = transport.receive(batch, i);
      if (!peer) continue;
      const off = transport.rxOff;
      const size = transport.rxSize;
      const ip = this.ip.attach(batch.buf, off, size);
      if (this.v6 ? size > 0 && ip.version === 6 : isIPv6Packet(batch.buf, off, size)) {
        if (!this.v6) this.counters.drop('ipv6');
        else if (this.v6.accept(batch.buf, off, size, peer)) {
          if (this.probe && isProbePacket6(this.probe, this.v6.lastPacket, ICMP6_TYPE.ECHO_REPLY)) {
            this.probe.mark('from-network');
            probeDelivered = true;
          }
          this.trace?.(`net>tun ${describeIPv6(this.v6.lastPacket)}`);
          if (this.toTun.full) this.flushToTun();
          this.toTun.add(off, size);
        }
        continue;
      }
      if (!own || !peer.subnet) {
        this.counters.drop('ipv4'); // an IPv6-only node, or a peer with no IPv4 subnet (no IPv4 source is its to send)
        continue;
      }
      if (ip.check() !== undefined || ip.totalLength !== size) {
        this.counters.drop('malformed');
        continue;
      }
      if (!prefixContains(peer.subnet, ip.src)) {
        // Cryptokey routing: a peer's allowed IPs are its lease's subnet.
        this.counters.drop(foreignSourceDrop(peer));
        continue;
      }
      if (!prefixContains(own, ip.dst)) {
        this.counters.drop('not-for-this-node');
        continue;
      }
      peer.rxPackets++;
      peer.rxBytes += size;
      if (ip.ttl <= 1) {
        this.counters.drop('ttl-expired');
        this.answer(ip, ICMP_TYPE.TIME_EXCEEDED, 0, this.hopAddress, peer);
        continue;
      }
      ip.setTtl(ip.ttl - 1);
      if (isProbePacket(this.probe, ip, ICMP_TYPE.ECHO_REPLY)) {
        this.probe!.mark('from-network');
        probeDelivered = true;
      }
      this.trace?.(`net>tun ${describeIPv4(ip, ip.protocol === IPPROTO.ICMP ? new IcmpView(batch.buf, ip.payloadOffset, ip.payloadLength) : undefined)}`);
      if (this.toTun.full) this.flushToTun();
      this.toTun.add(off, size);
    }
    this.flushToTun();
    transport.endBatch(batch);
    if (probeDelivered) this.probe?.mark('tun-out');
    this.flushGenerated();
  }

  private unroutable(ip: IPv4View): void {
    const dst = ip.dst;
    if (!prefixContains(this.options.network!, dst)) return this.counters.drop('outside-network');
    if (prefixContains(this.options.subnet!, dst)) return this.counters.drop('own-subnet');
    this.counters.drop('no-route');
    this.answer(ip, ICMP_TYPE.DEST_UNREACH, ICMP_UNREACH.NET, dst);
  }

  private tooBig(ip: IPv4View, peer: Peer): void {
    if (ip.dontFragment) {
      this.counters.drop('too-big');
      return this.answer(ip, ICMP_TYPE.DEST_UNREACH, ICMP_UNREACH.FRAG_NEEDED, ip.dst, undefined, this.options.pathMtu);
    }
    this.counters.fragmented++;
    const g = this.genNet;
    fragmentIPv4(ip, this.options.pathMtu, this.scratch, (fb, fo, fl) => {
      if (g.full) this.flushGenerated();
      g.push(fb.subarray(fo, fo + fl), peer.publicIp, peer.port);
      peer.txPackets++;
      peer.txBytes += fl;
    });
  }

  /**
   * Gives an ICMP error about `offending` from `from`: into our TUN when
   * `via` is undefined (the offender is local), else through the overlay
   * to node `via`. `word` is the 32 bits after the checksum (next-hop MTU).
   */
  private answer(offending: IPv4View, type: number, code: number, from: number, via?: Peer, mtu = 0): void {
    const icmpType = offending.protocol === IPPROTO.ICMP && offending.payloadLength > 0 ? offending.buf[offending.payloadOffset] : undefined;
    if (!mayAnswerWithError(offending, icmpType, this.broadcast)) return;
    if (!this.errorBudget.take()) return this.counters.drop('error-rate-limited');
    const g = via ? this.genNet : this.genTun;
    if (g.full) this.flushGenerated();
    const len = writeIcmpError(g.buf, g.nextOffset, type, code, from, offending, mtu);
    g.commit(len, via?.publicIp, via?.port);
    this.counters.errorsGenerated++;
    this.trace?.(`${via ? 'hop>net' : 'hop>tun'} ICMP type ${type} code ${code} about ${describeIPv4(offending)}`);
  }

  /** Sends every queued span, in order, through the transport, and empties the list. */
  private flushToNet(spans: SpanList | TxQueue): void {
    if (spans.count === 0) return;
    this.transport.send(spans);
    spans.clear();
  }

  private flushToTun(): void {
    if (this.toTun.count === 0) return;
    const { written, failed } = this.tun.writeBatch(this.toTun);
    this.counters.delivered += written;
    if (failed) this.counters.drop('tun-write-failed', failed);
    this.toTun.clear();
  }

  private flushGenerated(): void {
    if (this.genNet.count > 0) this.flushToNet(this.genNet);
    if (this.genTun.count > 0) {
      const { failed } = this.tun.writeBatch(this.genTun);
      if (failed) this.counters.drop('tun-write-failed', failed);
      this.genTun.clear();
    }
  }
}
