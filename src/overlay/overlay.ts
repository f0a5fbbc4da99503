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
import { formatIPv4, Prefix, prefixContains, prefixMask, samePrefix } from '../packet/addr.js';
import { describeIPv4 } from '../packet/describe.js';
import { fragmentIPv4 } from '../packet/fragment.js';
import { mayAnswerWithError, writeIcmpError } from '../packet/icmp-errors.js';
import { IcmpView, ICMP_TYPE, ICMP_UNREACH } from '../packet/icmp.js';
import { IPv4View, IPPROTO } from '../packet/ipv4.js';
import { PacketDevice } from '../tun/device.js';
import { TokenBucket } from '../util/token-bucket.js';
import { OverlayCounters } from './counters.js';
import { isProbePacket, Probe } from '../control/probe.js';
import { Lease } from './leases.js';
import { endpointKey, Peer, peerFromLease, RouteTable } from './route-table.js';
import { NodeCrypto, OPEN_REPLAYED, OPEN_UNAUTHENTICATED, PeerSession } from '../crypto/peer-session.js';
import { SEALED_HEADER, SEALED_OVERHEAD, SEALED_TYPE } from '../crypto/sealed-datagram.js';
import { openFromPeer, ROTATION_GRACE_MS, sealingSession } from './peer-keys.js';

/** What the overlay needs from its UDP socket: batch sends (GSO where the socket can) and batch reads (one entry per datagram). */
export interface UdpNetwork {
  /**
   * Sends spans[first, first+count) to addrs[2i]:addrs[2i+1], one datagram
   * each (the socket layer may use UDP GSO for runs; the wire sees the
   * same datagrams). onRefused for each that did not leave.
   */
  send(spans: Spans, first: number, count: number, onRefused: (index: number, errnoName: string) => void): number;
  /** Fills `batch` with one entry per datagram (a UDP GRO buffer already split); readiness from `loop` when given. */
  startReading(batch: RxBatch, onBatch: (batch: RxBatch) => void, onError: (err: Error) => void, loop?: PollLoop): void;
  /** Stops delivering batches. Idempotent. */
  stopReading(): void;
  /** Stops reading and closes the socket. Idempotent. */
  close(): void;
}

/** How an {@link Overlay} is configured: the cluster network, this node's subnet and the MTUs. */
export interface OverlayOptions {
  network: Prefix;
  /** This node's subnet; the TUN's address (its network address) is our hop address. */
  subnet: Prefix;
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
   * This node's key and epoch: every datagram to and from a node with a key
   * is sealed (docs/security.md). `pathMtu` must then leave room for the
   * 32 bytes of SEALED_OVERHEAD.
   */
  crypto?: NodeCrypto;
  /** With `crypto`: still talk plaintext to nodes that have no key (default: drop their traffic). */
  allowPlaintextPeers?: boolean;
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
  private routes = new RouteTable([]);
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
  /** With crypto: the datagrams actually sent, sealed copies of the packets queued for peers. */
  private readonly sealedTx?: TxQueue;
  /**
   * Fragments are built here (from the TUN side), and a datagram is copied
   * here while a second session tries it during a key rotation (from the
   * network side): the two never overlap. Big enough for any datagram.
   */
  private readonly scratch = new Uint8Array(GRO_SLOT_BYTES);
  /** This node's key and epoch (with --private-key); replaced by rotateKey(). */
  private crypto?: NodeCrypto;
  private readonly ip = new IPv4View();

  /** Allocates every buffer the data plane needs; does no I/O until {@link Overlay.start}. */
  constructor(private readonly tun: PacketDevice, private readonly net: UdpNetwork, private readonly options: OverlayOptions) {
    this.hopAddress = options.subnet.network;
    this.broadcast = (options.subnet.network | ~prefixMask(options.subnet.length)) >>> 0;
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
    this.crypto = options.crypto;
    if (options.crypto) this.sealedTx = new TxQueue(batch, options.pathMtu + SEALED_OVERHEAD);
  }

  /** With a key: whether keyless peers still get plaintext. */
  get allowsPlaintext(): boolean {
    return this.options.allowPlaintextPeers ?? false;
  }

  get peers(): readonly Peer[] {
    return this.routes.peers;
  }

  /**
   * Installs a new set of leases (this node's own is skipped). Counters of
   * peers that stay are kept; removed peers stop receiving at once.
   */
  setLeases(leases: readonly Lease[]): void {
    // A peer whose key changed is a new peer: new keys, a fresh replay window
    // (its old session still opens for a while: peer-keys.ts).
    const node = (p: Lease): string => `${p.subnet.network}/${p.subnet.length}@${endpointKey(p.publicIp, p.port)}`;
    const identity = (p: Lease): string => `${node(p)}#${p.publicKey ?? ''}`;
    const old = new Map(this.routes.peers.map((p) => [identity(p), p]));
    const before = new Map(this.routes.peers.map((p) => [node(p), p]));
    const peers = leases
      .filter((l) => !samePrefix(l.subnet, this.options.subnet))
      .map((l) => old.get(identity(l)) ?? this.newPeer(l, before.get(node(l))));
    this.routes = new RouteTable(peers);
  }

  /**
   * This node's key changed (SIGHUP with a new --private-key): every peer
   * gets a session under the new key, which seals once that peer is seen
   * using it, or after ROTATION_GRACE_MS.
   */
  rotateKey(next: NodeCrypto, now = Date.now()): void {
    this.crypto = next;
    for (const peer of this.routes.peers) {
      if (!peer.publicKey) continue;
      try {
        peer.nextSession = new PeerSession(next, peer.publicKey);
        peer.nextSessionBy = now + ROTATION_GRACE_MS;
      } catch {
        // a low-order key: it had no session before either
      }
    }
  }

  private newPeer(l: Lease, predecessor: Peer | undefined): Peer {
    const peer = peerFromLease(l);
    // The same node with a new key: its traffic counters go on.
    if (predecessor) Object.assign(peer, { txPackets: predecessor.txPackets, txBytes: predecessor.txBytes, rxPackets: predecessor.rxPackets, rxBytes: predecessor.rxBytes });
    const crypto = this.crypto;
    if (crypto && l.publicKey) {
      try {
        peer.session = new PeerSession(crypto, l.publicKey);
      } catch {
        // A low-order key: the peer keeps its publicKey and no session, so all its traffic is refused.
      }
      if (predecessor?.session) {
        peer.oldSession = predecessor.session;
        peer.oldSessionUntil = Date.now() + ROTATION_GRACE_MS;
      }
    }
    return peer;
  }

  /**
   * Starts reading both sides. `onError` gets a TunDriverError `TUN_ERR_IO` when the TUN or socket fails for good.
   * With `loop`, both wait in its poll() (the daemon's default, for latency) instead of libuv callbacks.
   */
  start(onError: (err: Error) => void, loop?: PollLoop): void {
    this.tun.startReading(this.tunRx, (b) => this.fromTun(b), onError, loop);
    this.net.startReading(this.netRx, (b) => this.fromNetwork(b), onError, loop);
  }

  /** Stops reading both sides; the device and socket stay open (their owner closes them). */
  stop(): void {
    this.tun.stopReading();
    this.net.stopReading();
  }

  /** A batch from the TUN: each packet to the node that owns its destination. */
  fromTun(batch: RxBatch): void {
    this.options.batchObserver?.('tun', batch.count);
    this.toNet.reset(batch.buf);
    let sentProbe = false;
    const routes = this.routes; // one route table for the whole batch
    let lastDst = -1;
    let lastPeer: Peer | undefined;
    for (let i = 0; i < batch.count; i++) {
      const off = batch.offset(i);
      const ip = this.ip.attach(batch.buf, off, batch.sizes[i]);
      if (batch.sizes[i] > 0 && ip.version === 6) {
        this.counters.drop('ipv6');
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
      if (this.toNet.full) this.flushToNet(this.toNet);
      this.toNet.add(off, len, peer.publicIp, peer.port);
      peer.txPackets++;
      peer.txBytes += len;
    }
    this.flushToNet(this.toNet);
    if (sentProbe) this.probe?.mark('sent');
    this.flushGenerated();
  }

  /** A batch of datagrams: checked, TTL decremented, written into the TUN. */
  fromNetwork(batch: RxBatch): void {
    this.options.batchObserver?.('net', batch.count);
    this.toTun.reset(batch.buf);
    const now = this.crypto ? Date.now() : 0;
    let probeDelivered = false;
    const routes = this.routes;
    const own = this.options.subnet;
    // A batch nearly always comes from one node: look the sender up once
    // per change (the endpoint key is not a small integer, so a Map lookup
    // per packet would box it).
    let lastAddr = -1;
    let lastPort = -1;
    let lastPeer: Peer | undefined;
    for (let i = 0; i < batch.count; i++) {
      const addr = batch.addrs[2 * i];
      const port = batch.addrs[2 * i + 1];
      if (addr !== lastAddr || port !== lastPort) {
        lastAddr = addr;
        lastPort = port;
        lastPeer = routes.fromEndpoint(addr, port);
      }
      const peer = lastPeer;
      if (!peer) {
        this.counters.drop('unknown-peer');
        continue;
      }
      let off = batch.offset(i);
      let size = batch.sizes[i];
      if (this.crypto) {
        if (peer.session) {
          const n = batch.buf[off] === SEALED_TYPE ? openFromPeer(peer, batch.buf, off, size, this.scratch, now) : OPEN_UNAUTHENTICATED;
          if (n < 0) {
            this.counters.drop(n === OPEN_REPLAYED ? 'replayed' : 'unauthenticated');
            continue;
          }
          off += SEALED_HEADER;
          size = n;
        } else if (peer.publicKey || !this.options.allowPlaintextPeers) {
          this.counters.drop('unauthenticated');
          continue;
        }
      }
      const ip = this.ip.attach(batch.buf, off, size);
      if (isIPv6Packet(batch.buf, off, size)) {
        this.counters.drop('ipv6');
        continue;
      }
      if (ip.check() !== undefined || ip.totalLength !== size) {
        this.counters.drop('malformed');
        continue;
      }
      if (!prefixContains(peer.subnet, ip.src)) {
        this.counters.drop('spoofed-source');
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
    if (probeDelivered) this.probe?.mark('tun-out');
    this.flushGenerated();
  }

  private unroutable(ip: IPv4View): void {
    const dst = ip.dst;
    if (!prefixContains(this.options.network, dst)) return this.counters.drop('outside-network');
    if (prefixContains(this.options.subnet, dst)) return this.counters.drop('own-subnet');
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

  /** Sends every queued span, in order (sealed for peers with keys, when this node has one), and empties the list. */
  private flushToNet(spans: SpanList): void {
    if (spans.count === 0) return;
    if (this.sealedTx) this.sealAndSend(spans, this.sealedTx);
    else this.counters.sent += this.net.send(spans, 0, spans.count, this.onSendRefused);
    spans.clear();
  }

  /**
   * Seals each span into `out`, encrypted straight from where it lies (no
   * copy); equal-size datagrams to one peer stay a run the socket can send
   * with GSO. Spans for a keyless peer go plain (copied) only with
   * allowPlaintextPeers.
   */
  private sealAndSend(spans: Spans, out: TxQueue): void {
    out.clear();
    let lastAddr = -1;
    let lastPort = -1;
    let peer: Peer | undefined;
    let session: PeerSession | undefined;
    // Datagrams [runStart, out.count) go to one session and hold spans
    // [runSpan, ...) in the same order: sealed with one native call.
    let runStart = 0;
    let runSpan = 0;
    let runSession: PeerSession | undefined;
    const sealRun = (nextSpan: number): void => {
      if (runSession && out.count > runStart) runSession.sealRun(out.buf, out.offsets, out.lengths, runStart, out.count - runStart, { buf: spans.buf, offsets: spans.offsets, first: runSpan });
      runStart = out.count;
      runSpan = nextSpan;
    };
    const now = Date.now();
    for (let i = 0; i < spans.count; i++) {
      const addr = spans.addrs[2 * i];
      const port = spans.addrs[2 * i + 1];
      if (addr !== lastAddr || port !== lastPort) {
        lastAddr = addr;
        lastPort = port;
        peer = this.routes.fromEndpoint(addr, port);
        session = peer && sealingSession(peer, now);
      }
      if (session !== runSession) {
        sealRun(i);
        runSession = session;
      }
      if (out.full) {
        sealRun(i);
        this.sendSealed(out);
        runStart = 0;
      }
      const len = spans.lengths[i];
      if (session) {
        out.commit(len + SEALED_OVERHEAD, addr, port);
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
