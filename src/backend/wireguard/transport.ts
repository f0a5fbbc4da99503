// The wireguard backend's transport: the overlay's packets to and from nodes
// with a key travel as WireGuard transport messages (src/wireguard/ is the
// protocol; this file is where it meets the overlay). A run of packets to one
// peer is sealed in one native call straight from where the packets lie; a
// batch of datagrams is opened ahead in runs per session. A peer without a
// session holds its packets until its handshake completes. Nodes without a
// key get plaintext only with allowPlaintextPeers. A key rotation (SIGHUP)
// keeps the old WireGuard carrying each peer until the new key has a
// session with it.
import type { KeyObject } from 'node:crypto';
import type { RxBatch, Spans } from '../../io/batch.js';
import { TxQueue } from '../../io/batch.js';
import { get16 } from '../../packet/bytes.js';
import { IPV6 } from '../../packet/ipv6.js';
import type { Lease } from '../../subnet/leases.js';
import type { PeerChanges } from '../../overlay/lease-peers.js';
import type { PeerTransport, TransportContext, TransportFactory } from '../../overlay/peer-transport.js';
import { SenderCache } from '../../overlay/sender-cache.js';
import type { Peer } from '../../overlay/route-table.js';
import { CONSUMED, NOT_OPENED, paddedLength, WireGuard } from '../../wireguard/device.js';
import { Keypair } from '../../wireguard/keypair.js';
import { TRANSPORT_HEADER, TRANSPORT_OVERHEAD } from '../../wireguard/messages.js';
import { WgPeer } from '../../wireguard/peer.js';
import { isWireGuardMessage, KeyPoints, keyIdentity, wireguardPeers } from './peers.js';
import type { UapiDeviceState } from '../../wireguard/uapi.js';

/** This node's key, the cluster's preshared key, and whether keyless nodes still get plaintext. */
export interface WireGuardTransportOptions {
  privateKey: KeyObject;
  psk?: Uint8Array;
  /** Still talk plaintext to nodes that have no key (default: drop their traffic). */
  allowPlaintextPeers?: boolean;
}

/** How long the old key keeps carrying a peer after a rotation, at most (REKEY_ATTEMPT_TIME). */
const RETIRE_AFTER_MS = 90_000;

export class WireGuardTransport implements PeerTransport {
  rxOff = 0;
  rxSize = 0;
  private wg: WireGuard;
  /** After rotateKey(): the WireGuard under the old key, still carrying each peer until the new key has a session with it. */
  private retiring?: { wg: WireGuard; until: number };
  /** The route-table peer of each WireGuard peer (a received message names the latter). */
  private byWgPeer = new Map<WgPeer, Peer>();
  /** The datagrams actually sent: sealed copies of the packets queued for peers. */
  private readonly sealedTx: TxQueue;
  private readonly points = new KeyPoints();
  private timer?: NodeJS.Timeout;
  /** openAhead()'s results for the batch in hand (see WireGuard.openAhead). */
  private opened = new Uint32Array(0);
  private openedWith: Array<Keypair | undefined> = [];
  /** Whether this batch was opened ahead (not during a key rotation, when an index may be the old key's). */
  private ahead = false;
  private now = 0;
  /** The WireGuard peer of the last message openWireGuard() opened. */
  private lastOpenedBy?: WgPeer;
  // The sender of the batch in hand, looked up once per change.
  private lastWg?: WgPeer;
  private lastWgPeer?: Peer;
  private readonly senders = new SenderCache();

  constructor(private readonly ctx: TransportContext, private readonly options: WireGuardTransportOptions, batchSize = 128) {
    this.wg = this.newWireGuard(options.privateKey);
    this.sealedTx = new TxQueue(batchSize, ctx.pathMtu + TRANSPORT_OVERHEAD + 16);
  }

  private newWireGuard(privateKey: KeyObject): WireGuard {
    return new WireGuard({
      privateKey,
      psk: this.options.psk,
      pathMtu: this.ctx.pathMtu,
      send: (messages) => {
        this.ctx.counters.sent += this.ctx.net.send(messages, 0, messages.count, this.onSendRefused);
      },
      onDrop: (reason) => this.ctx.counters.drop(reason),
      onHandshake: (p) => this.ctx.log?.(`handshake with ${p.publicKey} complete`),
    });
  }

  /** This node's WireGuard (under its current key). */
  get wireguard(): WireGuard {
    return this.wg;
  }

  /**
   * What `wg show` reads of the overlay through the userspace API: this
   * node's key and port, and per peer its endpoint, last handshake, bytes
   * and allowed IPs (its lease's subnets). Read-only: peers come from leases.
   */
  uapiState(privateKey: Uint8Array, listenPort: number): UapiDeviceState {
    const peers: UapiDeviceState['peers'] = [];
    for (const p of this.ctx.routes().peers) {
      const w = p.wg;
      if (!w || !p.publicKey) continue;
      peers.push({
        publicKey: keyIdentity(p.publicKey), presharedKey: this.options.psk, endpoint: { addr: w.endpointAddr, port: w.endpointPort },
        lastHandshakeMs: w.lastHandshakeWallMs, txBytes: w.txWireBytes, rxBytes: w.rxWireBytes, persistentKeepalive: 0,
        allowedIps: [...(p.subnet ? [{ family: 4 as const, prefix: p.subnet }] : []), ...(p.subnet6 ? [{ family: 6 as const, prefix: p.subnet6 }] : [])],
      });
    }
    return { privateKey, listenPort, fwmark: 0, peers };
  }

  /** Whether keyless peers still get plaintext. */
  get allowsPlaintext(): boolean {
    return this.options.allowPlaintextPeers ?? false;
  }

  admit(leases: readonly Lease[], isOwn: (l: Lease) => boolean): { keep: readonly Lease[]; refused: readonly string[]; deltaHolds: boolean } {
    // Which keys may be peers depends on every lease (a key named twice is
    // refused), so this looks at all of them, and a delta does not apply.
    const { keep, refused } = wireguardPeers(leases.filter((l) => !isOwn(l)), this.wg.identity.publicKey, this.points);
    return { keep, refused, deltaHolds: false };
  }

  /** Gives each new keyed peer its WireGuard peer (kept while key and endpoint stay), and forgets those of peers that left. */
  peersChanged({ added, removed }: PeerChanges): void {
    const wg = this.wg;
    for (const p of removed) if (p.wg && this.byWgPeer.get(p.wg) === p) this.byWgPeer.delete(p.wg);
    for (const p of added) {
      if (!p.publicKey) continue;
      p.wg = wg.peer(p.publicKey, keyIdentity(p.publicKey), p.publicIp, p.port);
      this.byWgPeer.set(p.wg, p);
    }
    for (const p of removed) if (p.wg && !this.byWgPeer.has(p.wg)) wg.removePeer(p.wg);
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), 100);
    this.timer.unref();
    // Handshake with every peer now: after a restart, the peers' sessions with us are gone.
    for (const p of this.ctx.routes().peers) if (p.wg) this.wg.handshakeWith(p.wg);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Fires WireGuard's timers (start() calls it every 100 ms; tests call it on their own clock). */
  tick(): void {
    this.wg.tick();
    const r = this.retiring;
    if (r) {
      if (performance.now() >= r.until) this.retiring = undefined;
      else r.wg.tick();
    }
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
    this.retiring = { wg: old, until: now + RETIRE_AFTER_MS };
    this.wg = this.newWireGuard(privateKey);
    this.byWgPeer = new Map();
    const peers = this.ctx.routes().peers;
    this.peersChanged({ added: [...peers], removed: [] });
    for (const p of peers) if (p.wg) this.wg.handshakeWith(p.wg);
  }

  /** The old key's keypair for `peer` while a rotation is under way, if it still has one. */
  private retiringKeypair(peer: Peer): { wg: WireGuard; peer: WgPeer; kp: Keypair } | undefined {
    const r = this.retiring;
    if (!r || !peer.publicKey) return undefined;
    const old = r.wg.peerByKey(peer.publicKey);
    const kp = old?.keypairs.current;
    return old && kp && kp.canSend(performance.now()) ? { wg: r.wg, peer: old, kp } : undefined;
  }

  // ---- sending ------------------------------------------------------------

  /**
   * Seals each span as a WireGuard transport message, encrypted straight
   * from where it lies (no copy); a run to one peer is one native call, and
   * equal-size packets stay equal-size messages the socket can send with
   * GSO. A peer without a session holds its packets until the handshake
   * completes. Spans for a keyless peer go plain (copied) only with
   * allowPlaintextPeers.
   */
  send(spans: Spans): void {
    const out = this.sealedTx;
    out.clear();
    const wg = this.wg;
    const routes = this.ctx.routes();
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
        peer = routes.fromEndpoint(addr, port);
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
        out.commit(paddedLength(len, this.ctx.pathMtu) + TRANSPORT_OVERHEAD, addr, port);
      } else if (peer?.wg) {
        wg.stage(peer.wg, spans.buf, spans.offsets[i], len);
      } else if (peer && !peer.publicKey && this.allowsPlaintext) {
        out.buf.set(spans.buf.subarray(spans.offsets[i], spans.offsets[i] + len), out.nextOffset);
        out.commit(len, addr, port);
      } else {
        this.ctx.counters.drop('plaintext-peer');
      }
    }
    sealRun(spans.count);
    this.sendSealed(out);
  }

  private sendSealed(out: TxQueue): void {
    if (out.count > 0) this.ctx.counters.sent += this.ctx.net.send(out, 0, out.count, this.onSendRefused);
    out.clear();
  }

  private readonly onSendRefused = (): void => this.ctx.counters.drop('send-failed');

  // ---- receiving ----------------------------------------------------------

  /** Opens, in one native call per run to one session, every transport message of the batch (not during a key rotation). */
  beginBatch(batch: RxBatch): void {
    const wg = this.wg;
    this.now = wg.time(); // one clock read per batch
    this.lastWg = undefined;
    this.senders.clear();
    this.ahead = !this.retiring;
    if (!this.ahead) return;
    if (this.opened.length < batch.count) {
      this.opened = new Uint32Array(batch.capacity);
      this.openedWith = new Array(batch.capacity);
    }
    wg.openAhead(batch.buf, batch.offsets, batch.sizes, batch.count, this.opened, this.openedWith, this.now);
  }

  receive(batch: RxBatch, i: number): Peer | undefined {
    const addr = batch.addrs[2 * i];
    const port = batch.addrs[2 * i + 1];
    const off = batch.offset(i);
    const size = batch.sizes[i];
    const counters = this.ctx.counters;
    if (isWireGuardMessage(batch.buf, off, size)) {
      // WireGuard: the message names its session (receiver index); where it came from does not matter.
      const n = this.openWireGuard(batch.buf, off, size, addr, port, this.ahead ? this.opened[i] : NOT_OPENED, this.ahead ? this.openedWith[i] : undefined);
      if (n < 0) {
        if (n === CONSUMED) counters.wireguardConsumed++;
        return undefined;
      }
      const from = this.lastOpenedBy!;
      if (from !== this.lastWg) {
        this.lastWg = from;
        this.lastWgPeer = this.byWgPeer.get(from);
      }
      const peer = this.lastWgPeer;
      if (!peer) return undefined; // its lease went away while the message was in flight
      const at = off + TRANSPORT_HEADER;
      // Padding: the packet is as long as its IP header says, within the 15 bytes of padding.
      const version = n > 0 ? batch.buf[at] >>> 4 : 0;
      const total = version === 4 && n >= 20 ? get16(batch.buf, at + 2) : version === 6 && n >= IPV6.HEADER ? IPV6.HEADER + get16(batch.buf, at + IPV6.PAYLOAD_LENGTH) : n;
      if (total > n || n - total >= 16) {
        counters.drop('malformed');
        return undefined;
      }
      this.rxOff = at;
      this.rxSize = total;
      return peer;
    }
    const peer = this.senders.sender(this.ctx, batch, i);
    if (!peer) return undefined;
    if (peer.publicKey || !this.allowsPlaintext) {
      counters.drop('unauthenticated');
      return undefined;
    }
    this.rxOff = off;
    this.rxSize = size;
    return peer;
  }

  endBatch(batch: RxBatch): void {
    // No keypair or peer outlives its batch here: a session that ends is not kept alive (its keys wiped but referenced).
    if (this.ahead) this.openedWith.fill(undefined, 0, batch.count);
    this.lastWg = this.lastWgPeer = this.lastOpenedBy = undefined;
    this.senders.clear();
  }

  /**
   * Opens a WireGuard message in place: the padded packet's length (at
   * off+16), or < 0 when it was a handshake, keepalive or refusal (counted
   * by the WireGuard). During a key rotation, a transport message the new
   * key does not know is tried under the old one. `opened`/`openedWith`:
   * what WireGuard.openAhead() found for it (only outside a rotation).
   */
  private openWireGuard(buf: Uint8Array, off: number, size: number, addr: number, port: number, opened: number, openedWith: Keypair | undefined): number {
    const wg = this.wg;
    const r = this.retiring;
    if (r && buf[off] === 4 && r.wg.knowsIndex(buf, off)) {
      const n = r.wg.receive(buf, off, size, addr, port, this.now);
      if (n >= 0) {
        const byKey = wg.peerByKey(r.wg.lastPeer!.publicKey);
        if (!byKey) return CONSUMED;
        this.lastOpenedBy = byKey;
      }
      return n;
    }
    const n = wg.receive(buf, off, size, addr, port, this.now, opened, openedWith);
    if (n >= 0) this.lastOpenedBy = wg.lastPeer;
    return n;
  }
}

/** The wireguard backend's transport for an overlay (Overlay's `transport` option). */
export function wireguardTransport(options: WireGuardTransportOptions, batchSize?: number): TransportFactory {
  return (ctx) => new WireGuardTransport(ctx, options, batchSize);
}
