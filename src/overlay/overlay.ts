// The overlay's data plane (flannel's UDP backend): every IP packet the
// kernel routes into the TUN is sent, as the whole UDP payload, to the node
// that owns its destination subnet; every datagram from a node is checked
// and written into the TUN. Pure logic over a PacketDevice and a UdpNetwork,
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
import { RxBatch, SpanList, Spans, TxQueue } from '../io/batch.js';
import { GRO_MAX_SEGMENTS, GRO_SLOT_BYTES } from '../io/datagram-socket.js';
import { PollLoop } from '../io/poll-loop.js';
import type { UdpNetwork } from './udp-network.js';
import { formatIPv4, Prefix, prefixContains, prefixMask, samePrefix } from '../packet/addr.js';
import { describeIPv4, describeIPv6 } from '../packet/describe.js';
import { get16 } from '../packet/bytes.js';
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
import { Peer, RouteTable } from './route-table.js';
import { CONSUMED, NOT_OPENED, paddedLength, WireGuard } from '../wireguard/device.js';
import { Keypair } from '../wireguard/keypair.js';
import { TRANSPORT_HEADER, TRANSPORT_OVERHEAD } from '../wireguard/messages.js';
import { WgPeer } from '../wireguard/peer.js';
import { isWireGuardMessage, keyIdentity, wireguardPeers } from './wireguard-peers.js';
import type { KeyObject } from 'node:crypto';

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
   * This node's WireGuard key (and the cluster's preshared key): every
   * datagram to and from a node with a key is a WireGuard message
   * (docs/security.md). `pathMtu` must then leave room for the 32 bytes of
   * TRANSPORT_OVERHEAD.
   */
  wireguard?: { privateKey: KeyObject; psk?: Uint8Array };
  /** With `wireguard`: still talk plaintext to nodes that have no key (default: drop their traffic). */
  allowPlaintextPeers?: boolean;
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
  /** With WireGuard: the datagrams actually sent, sealed copies of the packets queued for peers. */
  private readonly sealedTx?: TxQueue;
  /** Fragments are built here. Big enough for any datagram. */
  private readonly scratch = new Uint8Array(GRO_SLOT_BYTES);
  /** This node's WireGuard (with --private-key); replaced by rotateKey(). */
  private wg?: WireGuard;
  /** After rotateKey(): the WireGuard under the old key, still carrying each peer until the new key has a session with it. */
  private retiring?: { wg: WireGuard; until: number };
  /** The route-table peer of each WireGuard peer (a received message names the latter). */
  private byWgPeer = new Map<WgPeer, Peer>();
  private timer?: NodeJS.Timeout;
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
    if (options.wireguard) {
      this.wg = this.newWireGuard(options.wireguard.privateKey);
      this.sealedTx = new TxQueue(batch, options.pathMtu + TRANSPORT_OVERHEAD + 16);
    }
  }

  private newWireGuard(privateKey: KeyObject): WireGuard {
    return new WireGuard({
      privateKey,
      psk: this.options.wireguard?.psk,
      pathMtu: this.options.pathMtu,
      send: (messages) => {
        this.counters.sent += this.net.send(messages, 0, messages.count, this.onSendRefused);
      },
      onDrop: (reason) => this.counters.drop(reason),
      onHandshake: (p) => this.options.log?.(`handshake with ${p.publicKey} complete`),
    });
  }

  /** This node's WireGuard, with a key. */
  get wireguard(): WireGuard | undefined {
    return this.wg;
  }

  /** With a key: whether keyless peers still get plaintext. */
  get allowsPlaintext(): boolean {
    return this.options.allowPlaintextPeers ?? false;
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
    let candidates = leases;
    if (this.wg) {
      // Which keys may be peers depends on every lease (a key named twice is
      // refused), so this looks at all of them, and the delta does not apply.
      const { keep, refused } = wireguardPeers(leases.filter((l) => !isOwn(l)), this.wg.identity.publicKey);
      for (const r of refused) this.options.log?.(r);
      candidates = keep;
      delta = undefined;
    }
    const changes = this.leasePeers.update(candidates, (l) => (isOwn(l) ? undefined : underlay6 && l.publicIpv6 ? { ...l, publicIp: underlay6.standIn(l.publicIpv6) } : l), delta);
    this.attachWireGuard(changes);
    return changes;
  }

  /** Gives each new keyed peer its WireGuard peer (kept while key and endpoint stay), and forgets those of peers that left. */
  private attachWireGuard({ added, removed }: PeerChanges): void {
    const wg = this.wg;
    if (!wg) return;
    for (const p of removed) if (p.wg && this.byWgPeer.get(p.wg) === p) this.byWgPeer.delete(p.wg);
    for (const p of added) {
      if (!p.publicKey) continue;
      p.wg = wg.peer(p.publicKey, keyIdentity(p.publicKey), p.publicIp, p.port);
      this.byWgPeer.set(p.wg, p);
    }
    for (const p of removed) if (p.wg && !this.byWgPeer.has(p.wg)) wg.removePeer(p.wg);
  }

  /**
   * This node's key changed (SIGHUP with a new --private-key): a new
   * WireGuard under it handshakes with every peer. Until it has a session
   * with a peer (the peer must first learn the new key from the control
   * plane), the old one goes on carrying that peer's traffic, for at most
   * REKEY_ATTEMPT_TIME.
   */
  rotateKey(privateKey: KeyObject, now = performance.now()): void {
    const old = this.wg;
    if (!old) return;
    this.retiring = { wg: old, until: now + 90_000 };
    this.wg = this.newWireGuard(privateKey);
    this.byWgPeer = new Map();
    this.attachWireGuard({ added: [...this.peers], removed: [] });
    for (const p of this.routes.peers) if (p.wg) this.wg.handshakeWith(p.wg);
  }

  /** The old key's keypair for `peer` while a rotation is under way, if it still has one. */
  private retiringKeypair(peer: Peer): { wg: WireGuard; peer: WgPeer; kp: Keypair } | undefined {
    const r = this.retiring;
    if (!r || !peer.publicKey) return undefined;
    const old = r.wg.peerByKey(peer.publicKey);
    const kp = old?.keypairs.current;
    return old && kp && kp.canSend(performance.now()) ? { wg: r.wg, peer: old, kp } : undefined;
  }

  /**
   * Starts reading both sides. `onError` gets a TunDriverError `TUN_ERR_IO` when the TUN or socket fails for good.
   * With `loop`, both wait in its poll() (the daemon's default, for latency) instead of libuv callbacks.
   */
  start(onError: (err: Error) => void, loop?: PollLoop): void {
    this.tun.startReading(this.tunRx, (b) => this.fromTun(b), onError, loop);
    this.net.startReading(this.netRx, (b) => this.fromNetwork(b), onError, loop);
    if (this.wg) {
      this.timer = setInterval(() => this.tick(), 100);
      this.timer.unref();
      // Handshake with every peer now: after a restart, the peers' sessions with us are gone.
      for (const p of this.routes.peers) if (p.wg) this.wg.handshakeWith(p.wg);
    }
  }

  /** Fires WireGuard's timers (start() calls it every 100 ms; tests call it on their own clock). */
  tick(): void {
    this.wg?.tick();
    const r = this.retiring;
    if (r) {
      if (performance.now() >= r.until) this.retiring = undefined;
      else r.wg.tick();
    }
  }

  /** Stops reading both sides; the device and socket stay open (their owner closes them). */
  stop(): void {
    this.tun.stopReading();
    this.net.stopReading();
    clearInterval(this.timer);
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
    const wg = this.wg;
    const now = wg ? wg.time() : 0; // one clock read per batch
    let probeDelivered = false;
    const routes = this.routes;
    const own = this.options.subnet;
    // A batch nearly always comes from one node: look the sender up once
    // per change (the endpoint key is not a small integer, so a Map lookup
    // per packet would box it).
    let lastAddr = -1;
    let lastPort = -1;
    let lastPeer: Peer | undefined;
    let lastWg: WgPeer | undefined;
    // WireGuard: each run of messages to one session opened in one call (not during a key rotation, when an index may be the old key's).
    const ahead = wg && !this.retiring;
    if (ahead) {
      if (this.opened.length < batch.count) {
        this.opened = new Uint32Array(batch.capacity);
        this.openedWith = new Array(batch.capacity);
      }
      wg.openAhead(batch.buf, batch.offsets, batch.sizes, batch.count, this.opened, this.openedWith, now);
    }
    for (let i = 0; i < batch.count; i++) {
      const addr = batch.addrs[2 * i];
      const port = batch.addrs[2 * i + 1];
      let off = batch.offset(i);
      let size = batch.sizes[i];
      let peer: Peer | undefined;
      if (wg && isWireGuardMessage(batch.buf, off, size)) {
        // WireGuard: the message names its session (receiver index); where it came from does not matter.
        const n = this.openWireGuard(wg, batch.buf, off, size, addr, port, now, ahead ? this.opened[i] : NOT_OPENED, ahead ? this.openedWith[i] : undefined);
        if (n < 0) {
          if (n === CONSUMED) this.counters.wireguardConsumed++;
          continue;
        }
        const from = this.lastOpenedBy!;
        if (from !== lastWg) {
          lastWg = from;
          lastPeer = this.byWgPeer.get(from);
          lastAddr = -1;
        }
        peer = lastPeer;
        if (!peer) continue; // its lease went away while the message was in flight
        off += TRANSPORT_HEADER;
        // Padding: the packet is as long as its IP header says, within the 15 bytes of padding.
        const version = n > 0 ? batch.buf[off] >>> 4 : 0;
        const total = version === 4 && n >= 20 ? get16(batch.buf, off + 2) : version === 6 && n >= IPV6.HEADER ? IPV6.HEADER + get16(batch.buf, off + IPV6.PAYLOAD_LENGTH) : n;
        if (total > n || n - total >= 16) {
          this.counters.drop('malformed');
          continue;
        }
        size = total;
      } else {
        if (addr !== lastAddr || port !== lastPort) {
          lastAddr = addr;
          lastPort = port;
          lastPeer = routes.fromEndpoint(addr, port);
          lastWg = undefined;
        }
        peer = lastPeer;
        if (!peer) {
          this.counters.drop('unknown-peer');
          continue;
        }
        if (wg && (peer.publicKey || !this.options.allowPlaintextPeers)) {
          this.counters.drop('unauthenticated');
          continue;
        }
      }
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
        this.counters.drop(peer.wg ? 'outside-allowed-ips' : 'spoofed-source');
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
    // No keypair outlives its batch here: a session that ends is not kept alive (its keys wiped but referenced) by this array.
    if (ahead) this.openedWith.fill(undefined, 0, batch.count);
    if (probeDelivered) this.probe?.mark('tun-out');
    this.flushGenerated();
  }

  /** openAhead()'s results for the batch in hand (see WireGuard.openAhead). */
  private opened = new Uint32Array(0);
  private openedWith: Array<Keypair | undefined> = [];

  /** The WireGuard peer of the last message openWireGuard() opened. */
  private lastOpenedBy?: WgPeer;

  /**
   * Opens a WireGuard message in place: the padded packet's length (at
   * off+16), or < 0 when it was a handshake, keepalive or refusal (counted
   * by the WireGuard). During a key rotation, a transport message the new
   * key does not know is tried under the old one. `opened`/`openedWith`:
   * what WireGuard.openAhead() found for it (only outside a rotation).
   */
  private openWireGuard(wg: WireGuard, buf: Uint8Array, off: number, size: number, addr: number, port: number, now: number, opened = NOT_OPENED, openedWith?: Keypair): number {
    const r = this.retiring;
    let n: number;
    if (r && buf[off] === 4 && r.wg.knowsIndex(buf, off)) {
      n = r.wg.receive(buf, off, size, addr, port, now);
      if (n >= 0) {
        const byKey = wg.peerByKey(r.wg.lastPeer!.publicKey);
        if (!byKey) return CONSUMED;
        this.lastOpenedBy = byKey;
      }
      return n;
    }
    n = wg.receive(buf, off, size, addr, port, now, opened, openedWith);
    if (n >= 0) this.lastOpenedBy = wg.lastPeer;
    return n;
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

  /** Sends every queued span, in order (WireGuard for peers with keys, when this node has one), and empties the list. */
  private flushToNet(spans: SpanList): void {
    if (spans.count === 0) return;
    if (this.sealedTx) this.sealAndSend(spans, this.sealedTx);
    else this.counters.sent += this.net.send(spans, 0, spans.count, this.onSendRefused);
    spans.clear();
  }

  /**
   * Seals each span into `out` as a WireGuard transport message, encrypted
   * straight from where it lies (no copy); a run to one peer is one native
   * call, and equal-size packets stay equal-size messages the socket can
   * send with GSO. A peer without a session holds its packets until the
   * handshake completes. Spans for a keyless peer go plain (copied) only
   * with allowPlaintextPeers.
   */
  private sealAndSend(spans: Spans, out: TxQueue): void {
    out.clear();
    const wg = this.wg!;
    let lastAddr = -1;
    let lastPort = -1;
    let peer: Peer | undefined;
    // The keypair that seals for the current endpoint, and the WireGuard and peer it belongs to
    // (the retiring WireGuard's during a key rotation).
    let kp: Keypair | undefined;
    let kpWg: WireGuard = wg;
    let kpPeer: WgPeer | undefined;
    // Messages [runStart, out.count) go under one keypair and hold spans [runSpan, ...) in the same order.
    let runStart = 0;
    let runSpan = 0;
    let runKp: Keypair | undefined;
    let runWg: WireGuard = wg;
    let runPeer: WgPeer | undefined;
    const sealRun = (nextSpan: number): void => {
      if (runKp && out.count > runStart) runWg.sealRun(runPeer!, runKp, out, runStart, out.count - runStart, spans, runSpan);
      runStart = out.count;
      runSpan = nextSpan;
    };
    for (let i = 0; i < spans.count; i++) {
      const addr = spans.addrs[2 * i];
      const port = spans.addrs[2 * i + 1];
      if (addr !== lastAddr || port !== lastPort) {
        lastAddr = addr;
        lastPort = port;
        peer = this.routes.fromEndpoint(addr, port);
        kp = undefined;
        kpWg = wg;
        kpPeer = peer?.wg;
        if (kpPeer) {
          kp = wg.sendingKeypair(kpPeer, 1);
          const old = kp ? undefined : this.retiringKeypair(peer!);
          if (old) {
            kp = old.kp;
            kpWg = old.wg;
            kpPeer = old.peer;
          }
        }
      }
      if (kp !== runKp) {
        sealRun(i);
        runKp = kp;
        runWg = kpWg;
        runPeer = kpPeer;
      }
      if (out.full) {
        sealRun(i);
        this.sendSealed(out);
        runStart = 0;
      }
      const len = spans.lengths[i];
      if (kp) {
        out.commit(paddedLength(len, this.options.pathMtu) + TRANSPORT_OVERHEAD, addr, port);
      } else if (peer?.wg) {
        wg.stage(peer.wg, spans.buf, spans.offsets[i], len);
      } else if (peer && !peer.publicKey && this.options.allowPlaintextPeers) {
        out.buf.set(spans.buf.subarray(spans.offsets[i], spans.offsets[i] + len), out.nextOffset);
        out.commit(len, addr, port);
      } else {
        this.counters.drop('plaintext-peer');
      }
    }
    sealRun(spans.count);
    this.sendSealed(out);
  }

  private sendSealed(out: TxQueue): void {
    if (out.count > 0) this.counters.sent += this.net.send(out, 0, out.count, this.onSendRefused);
    out.clear();
  }

  private readonly onSendRefused = (): void => this.counters.drop('send-failed');

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
