// This node's WireGuard (wireguard-go device/device.go, send.go,
// receive.go): its static identity, its peers by public key, the index
// table, the cookie checker and the load it is under. The overlay hands it
// runs of plain packets per peer and datagrams from the network; it never
// sees a handshake. It sends its own messages (handshakes, cookie replies,
// keepalives, packets held during a handshake) through `send`, and its
// timers run on `tick(now)`.
//
// Not per packet: handshakes and timers allocate; sealing a run and
// opening a transport message do not.
import { randomInt } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { Spans, TxQueue } from '../io/batch.js';
import { CookieChecker } from './cookie.js';
import { REJECT_AFTER_TIME, REKEY_AFTER_MESSAGES, REKEY_AFTER_TIME, KEEPALIVE_TIMEOUT, REKEY_TIMEOUT, REKEY_TIMEOUT_JITTER_MAX, STAGED_PACKETS } from './constants.js';
import { IndexTable } from './index-table.js';
import { HandshakeRateLimiter } from './ratelimiter.js';
import { Keypair } from './keypair.js';
import { DATA, INIT, INITIATION_SIZE, messageType, MSG_COOKIE_REPLY, MSG_INITIATION, MSG_TRANSPORT, PADDING_MULTIPLE, readCounter, readU32, RESP, TRANSPORT_OVERHEAD } from './messages.js';
import { consumeInitiation, consumeResponse, createInitiation, createResponse, deriveSessionKeys, NO_PSK, StaticIdentity } from './noise.js';
import { WgPeer } from './peer.js';
import { dh, publicBytesOf } from './primitives.js';
import * as timers from './timers.js';

/** Why a datagram was refused (each a counter in status and metrics). */
export type WireGuardDropReason =
  | 'bad-mac1' // a handshake message not made for our public key
  | 'cookie-sent' // a handshake message under load without a valid mac2: answered with a cookie reply
  | 'handshake-rate-limited' // under load, a source sending handshakes faster than 20/s
  | 'unauthenticated' // a message that does not decrypt (forged or tampered)
  | 'unknown-peer' // an initiation from a static key that is no lease's
  | 'stale-timestamp' // an initiation not newer than the last one from its peer: a replay
  | 'initiation-flood' // a peer's initiations faster than one per 20 ms
  | 'unknown-index' // a message for a receiver index we do not hold (a session that ended, or forged)
  | 'expired-keypair' // a transport message under a key older than REJECT_AFTER_TIME
  | 'replayed' // an authentic transport message whose counter was seen before (or, unopened, a counter of 2^53 or more: never sent within a session's life)
  | 'staged-overflow' // a packet for a peer whose handshake is under way, with its queue full
  | 'not-wireguard'; // a datagram that is no WireGuard message (wrong type, size or reserved bytes)

/** What receive() returns for a message it handled itself (handshake, cookie reply, keepalive). */
export const CONSUMED = -1;
/** What receive() returns for a refused datagram (the reason is in `lastDrop`). */
export const DROPPED = -2;
/** openAhead(): a datagram it did not open (receive() opens it, if it is a transport message). */
export const NOT_OPENED = 0xfffffffe;
/** openAhead(): a transport message whose tag did not verify (the addon's openBatch says so). */
export const UNAUTHENTIC = 0xffffffff;

/** How a {@link WireGuard} is set up: this node's keys, the path MTU, how its own messages leave, and (for tests) its clocks. */
export interface WireGuardOptions {
  /** This node's static private key, as node:crypto holds it. */
  privateKey: KeyObject;
  /** The preshared key mixed into every handshake (flannel's PSK); all zero when absent. */
  psk?: Uint8Array;
  /** The largest inner packet a message may carry (padding stops there). */
  pathMtu: number;
  /** Sends messages the transport made itself: spans[0, count), each to addrs[2i]:addrs[2i+1]. */
  send: (messages: Spans) => void;
  /** A monotonic clock in ms (tests inject one). */
  now?: () => number;
  /** The wall clock in ms, for TAI64N timestamps and `wg show`'s latest handshake. */
  wallNow?: () => number;
  /** Handshake messages per second above which the node is under load and asks for cookies (default 100). */
  underLoadPerSecond?: number;
  /** Called with each refusal (for counters). */
  onDrop?: (reason: WireGuardDropReason) => void;
  /** Called when a peer's handshake completes (logs). */
  onHandshake?: (peer: WgPeer) => void;
  /**
   * Endpoint roaming, as the paper has it: an authenticated message from a
   * new address moves the peer's endpoint there. Off for the overlay, whose
   * endpoints are the leases'.
   */
  roaming?: boolean;
}

/** The most messages the transport sends in one go (a full staged queue). */
const OWN_QUEUE = STAGED_PACKETS;
/** How long a node stays under load after the rate that put it there (wireguard-go: UnderLoadAfterTime). */
const UNDER_LOAD_HOLD_MS = 1_000;

/** IPv4:port as one exact number (< 2^48), for maps keyed by a sender's address. */
function endpointId(addr: number, port: number): number {
  return addr * 0x10000 + port;
}

/** Largest padded length of a `len`-byte packet: the next multiple of 16, but never past the path MTU. */
export function paddedLength(len: number, pathMtu: number): number {
  return Math.min((len + PADDING_MULTIPLE - 1) & ~(PADDING_MULTIPLE - 1), Math.max(pathMtu, len));
}

/**
 * This node's WireGuard: handshakes, sessions and timers for its peers, over
 * any UDP socket. Seal runs with {@link WireGuard.sealRun} after
 * {@link WireGuard.sendingKeypair}, hand every received datagram to
 * {@link WireGuard.receive}, call {@link WireGuard.tick} every ~100 ms.
 * Refusals are counted through `onDrop`, never thrown.
 */
export class WireGuard {
  readonly identity: StaticIdentity;
  readonly publicKey: string;
  private readonly psk: Uint8Array;
  private readonly cookieChecker: CookieChecker;
  private readonly indices = new IndexTable<WgPeer, Keypair>();
  private readonly byKey = new Map<string, WgPeer>();
  /** Peers by endpoint (IPv4 * 65536 + port), to answer a message for a session we no longer hold. */
  private readonly byEndpoint = new Map<number, WgPeer>();
  /** Newest initiation timestamp accepted per peer key: outlives a peer removed and added back, so its old initiations stay replays. */
  private readonly latestTimestamps = new Map<string, Uint8Array>();
  /** Newest initiation timestamp sent per peer key, kept the same way. */
  private readonly lastSentTimestamps = new Map<string, Uint8Array>();
  /** The messages this transport makes itself, flushed through options.send. */
  private readonly own: TxQueue;
  private readonly now: () => number;
  private readonly wallNow: () => number;
  private handshakeWindowStart = -Infinity;
  private handshakesInWindow = 0;
  private underLoadUntil = -Infinity;
  private readonly rateLimiter = new HandshakeRateLimiter();
  /** The peer of the last transport message receive() accepted. */
  lastPeer?: WgPeer;
  /** The reason of the last DROPPED. */
  lastDrop: WireGuardDropReason = 'unauthenticated';
  private readonly actions: timers.TimerActions;

  /** A WireGuard with no peers yet (add them with {@link WireGuard.peer}). */
  constructor(private readonly options: WireGuardOptions) {
    this.identity = { privateKey: options.privateKey, publicKey: publicBytesOf(options.privateKey) };
    this.publicKey = Buffer.from(this.identity.publicKey).toString('base64');
    this.psk = options.psk ?? NO_PSK;
    this.cookieChecker = new CookieChecker(this.identity.publicKey);
    this.own = new TxQueue(OWN_QUEUE, Math.max(INITIATION_SIZE, options.pathMtu + TRANSPORT_OVERHEAD + PADDING_MULTIPLE));
    this.now = options.now ?? (() => performance.now());
    this.wallNow = options.wallNow ?? Date.now;
    this.actions = {
      sendInitiation: (peer, isRetry) => this.sendInitiation(peer, isRetry),
      sendKeepalive: (peer) => this.sendKeepalive(peer),
      giveUp: (peer) => (peer.staged = undefined),
      zeroKeys: (peer) => this.zeroKeys(peer),
    };
  }

  get peers(): IterableIterator<WgPeer> {
    return this.byKey.values();
  }

  /** The peer with this public key (base64), if there is one. */
  peerByKey(publicKey: string): WgPeer | undefined {
    return this.byKey.get(publicKey);
  }

  /** Keypairs and handshakes in the index table (for tests: bounded under floods). */
  get indexCount(): number {
    return this.indices.size;
  }

  /** Whether the transport message at buf[off] names a keypair this WireGuard holds. */
  knowsIndex(buf: Uint8Array, off: number): boolean {
    return this.indices.lookup(readU32(buf, off + DATA.receiver))?.keypair !== undefined;
  }

  get underLoad(): boolean {
    return this.now() < this.underLoadUntil;
  }

  /**
   * A peer for `publicKey` at endpoint addr:port, new (no session: the
   * next packet starts a handshake) or the one made before when nothing
   * changed. Call removePeer for every peer a lease change dropped.
   */
  peer(publicKey: string, remoteStatic: Uint8Array, addr: number, port: number, psk: Uint8Array = this.psk): WgPeer {
    const old = this.byKey.get(publicKey);
    if (old && old.endpointAddr === addr && old.endpointPort === port && old.psk === psk) return old;
    if (old) this.removePeer(old);
    const peer = new WgPeer(publicKey, remoteStatic, dh(this.identity.privateKey, remoteStatic), psk, addr, port);
    const seen = this.latestTimestamps.get(publicKey);
    if (seen) peer.handshake.latestTimestamp = seen;
    // Ours only go up, also across a rebuild (a new endpoint) and a wall-clock step back: the peer refuses an initiation not newer than the last.
    const sent = this.lastSentTimestamps.get(publicKey);
    if (sent) peer.handshake.lastSentTimestamp = sent;
    this.byKey.set(publicKey, peer);
    this.byEndpoint.set(endpointId(addr, port), peer);
    return peer;
  }

  /** Moves a peer's endpoint (a configured change, or roaming): its sessions stay. */
  setEndpoint(peer: WgPeer, addr: number, port: number): void {
    if (peer.endpointAddr === addr && peer.endpointPort === port) return;
    const at = endpointId(peer.endpointAddr, peer.endpointPort);
    if (this.byEndpoint.get(at) === peer) this.byEndpoint.delete(at);
    peer.endpointAddr = addr;
    peer.endpointPort = port;
    if (this.byKey.get(peer.publicKey) === peer) this.byEndpoint.set(endpointId(addr, port), peer);
  }

  /** A keepalive to `peer` now (a handshake first when it has no session). */
  keepalive(peer: WgPeer): void {
    if (!this.sendingKeypair(peer, 1)) return;
    this.sendKeepalive(peer);
  }

  /** Forgets a peer: its keys are dropped, its indices freed; nothing is ever sent under them again. */
  removePeer(peer: WgPeer): void {
    if (this.byKey.get(peer.publicKey) !== peer) return;
    this.latestTimestamps.set(peer.publicKey, peer.handshake.latestTimestamp);
    this.lastSentTimestamps.set(peer.publicKey, peer.handshake.lastSentTimestamp);
    this.zeroKeys(peer);
    peer.staged = undefined;
    this.byKey.delete(peer.publicKey);
    const at = endpointId(peer.endpointAddr, peer.endpointPort);
    if (this.byEndpoint.get(at) === peer) this.byEndpoint.delete(at);
  }

  // ---- sending ----------------------------------------------------------

  /**
   * The keypair to seal `count` packets to `peer` with now, or undefined
   * (then stage() them: a handshake is started).
   */
  sendingKeypair(peer: WgPeer, count: number): Keypair | undefined {
    const kp = peer.keypairs.current;
    if (kp && kp.canSend(this.now(), count)) return kp;
    this.sendInitiation(peer, false);
    return undefined;
  }

  /** Starts a handshake with `peer` unless it has a session that can send (at most one per REKEY_TIMEOUT). */
  handshakeWith(peer: WgPeer): void {
    this.sendingKeypair(peer, 1);
  }

  /** The transport's clock (ms): read it once per batch and pass it to receive(). */
  time(): number {
    return this.now();
  }

  /**
   * Seals messages i in [first, first+count) of `out` (lengths already
   * committed: paddedLength + 32) from src spans [srcFirst, ...) under
   * `kp`, then moves the timers as a send of data does.
   */
  sealRun(peer: WgPeer, kp: Keypair, out: Spans, first: number, count: number, src: Spans, srcFirst: number): void {
    // The run's counters are taken before sealing (wireguard-go's nonce counter does the same): whatever the call does, none is used twice.
    const counter = kp.sendCounter;
    kp.sendCounter += count;
    kp.send.sealBatch(out.buf, out.offsets, out.lengths, first, count, kp.remoteIndex, counter, src.buf, src.offsets, src.lengths, srcFirst);
    for (let i = first; i < first + count; i++) peer.txWireBytes += out.lengths[i];
    const now = this.now();
    peer.lastSentAt = now;
    timers.authenticatedSent(peer);
    timers.dataSent(peer, now, this.jitter());
    // The initiator keeps the session fresh: a new handshake after REKEY_AFTER_TIME or _MESSAGES.
    if (kp.isInitiator && (now - kp.created >= REKEY_AFTER_TIME || kp.sendCounter >= REKEY_AFTER_MESSAGES)) this.sendInitiation(peer, false);
  }

  /** Holds a packet for `peer` until its handshake completes (the oldest are kept when the queue is full). */
  stage(peer: WgPeer, buf: Uint8Array, off: number, len: number): void {
    peer.staged ??= new TxQueue(STAGED_PACKETS, this.options.pathMtu);
    if (peer.staged.full || len > peer.staged.slotSize) {
      this.drop('staged-overflow');
      return;
    }
    peer.staged.push(buf.subarray(off, off + len));
  }

  // ---- receiving --------------------------------------------------------

  /**
   * Opens ahead, in one native call per run, the transport messages among
   * datagrams [0, count) (buf[offsets[i], +sizes[i])) that name a session
   * of this device: opened[i] gets the padded length or UNAUTHENTIC and
   * openedWith[i] the keypair, for receive() to take instead of opening the
   * message itself; every other datagram gets NOT_OPENED. Opening early
   * decides nothing: receive() still checks the session, the counter and
   * the replay window, in order, and drops what they refuse.
   */
  openAhead(buf: Uint8Array, offsets: Uint32Array, sizes: Uint32Array, count: number, opened: Uint32Array, openedWith: Array<Keypair | undefined>, now = this.now()): void {
    let runKp: Keypair | undefined;
    let runFirst = 0;
    for (let i = 0; i <= count; i++) {
      // Opened ahead only when the cheap checks pass (a keypair that may still receive, a counter the window takes); receive() refuses the rest unopened.
      let kp: Keypair | undefined;
      if (i < count && messageType(buf, offsets[i], sizes[i]) === MSG_TRANSPORT) {
        const k = this.indices.lookup(readU32(buf, offsets[i] + DATA.receiver))?.keypair;
        if (k && k.canReceive(now)) {
          const counter = readCounter(buf, offsets[i] + DATA.counter);
          if (counter >= 0 && k.replay.check(counter)) kp = k;
        }
      }
      if (i > runFirst && kp === runKp && kp) continue;
      // Datagrams [runFirst, i) are one run (under one keypair), or one datagram not opened ahead.
      if (runKp) runKp.receive.openBatch(buf, offsets, sizes, runFirst, i - runFirst, opened);
      else opened.fill(NOT_OPENED, runFirst, i);
      for (let k = runFirst; k < i; k++) openedWith[k] = runKp;
      runFirst = i;
      runKp = kp;
    }
  }

  /**
   * Takes one datagram from addr:port. For a transport message with a
   * packet in it: decrypts it in place and returns its padded length (the
   * packet is at off+16; `lastPeer` is its peer). CONSUMED for handshakes,
   * cookie replies and keepalives; DROPPED (with `lastDrop`) for refusals.
   */
  receive(buf: Uint8Array, off: number, size: number, addr: number, port: number, now = this.now(), opened = NOT_OPENED, openedWith?: Keypair): number {
    const type = messageType(buf, off, size);
    if (type === MSG_TRANSPORT) {
      const n = this.receiveTransport(buf, off, size, addr, port, now, opened, openedWith);
      if (n === DROPPED && this.lastDrop === 'unknown-index') this.resumeWith(addr, port);
      return n;
    }
    if (type === 0) return this.drop('not-wireguard');
    const msg = buf.slice(off, off + size);
    if (type === MSG_COOKIE_REPLY) {
      const entry = this.indices.lookup(readU32(msg, 4));
      if (!entry) return this.drop('unknown-index');
      if (!entry.peer.cookies.consumeReply(msg, now)) return this.drop('unauthenticated');
      return CONSUMED;
    }
    const mac1At = type === MSG_INITIATION ? INIT.mac1 : RESP.mac1;
    if (!this.cookieChecker.checkMac1(msg, mac1At)) return this.drop('bad-mac1');
    if (this.countHandshake(now)) {
      if (!this.cookieChecker.checkMac2(msg, mac1At, addr, port, now)) {
        this.queueOwn(this.cookieChecker.createReply(msg, mac1At, addr, port, now), addr, port);
        this.flush();
        return this.drop('cookie-sent');
      }
      if (!this.rateLimiter.allow(addr, now)) return this.drop('handshake-rate-limited');
    }
    const result = type === MSG_INITIATION ? this.receiveInitiation(msg, now, addr, port) : this.receiveResponse(msg, now, addr, port);
    this.flush();
    return result;
  }

  private receiveTransport(buf: Uint8Array, off: number, size: number, addr: number, port: number, now: number, opened: number, openedWith: Keypair | undefined): number {
    const entry = this.indices.lookup(readU32(buf, off + DATA.receiver));
    const kp = entry?.keypair;
    if (!kp) return this.drop('unknown-index');
    if (!kp.canReceive(now)) return this.drop('expired-keypair');
    const counter = readCounter(buf, off + DATA.counter);
    // The cheap checks first: a counter the window refuses costs no decryption.
    if (counter < 0 || !kp.replay.check(counter)) return this.drop('replayed');
    let n: number;
    if (opened === NOT_OPENED) n = kp.receive.open(buf, off, size);
    else if (openedWith !== kp) return this.drop('unknown-index'); // opened ahead under a session the index no longer names
    else n = opened === UNAUTHENTIC ? -1 : opened;
    if (n < 0) return this.drop('unauthenticated');
    // Checked again: the same counter may have been marked since it was opened ahead in this batch.
    if (!kp.replay.check(counter)) return this.drop('replayed');
    kp.replay.mark(counter);
    const peer = entry!.peer;
    if (this.options.roaming) this.setEndpoint(peer, addr, port); // authenticated: it may roam
    peer.rxWireBytes += size;
    if (kp === peer.keypairs.next) this.confirm(peer, kp, now);
    timers.authenticatedReceived(peer);
    // The initiator rekeys before its session can no longer receive.
    const cur = peer.keypairs.current;
    if (cur?.isInitiator && !peer.sentLastMinuteHandshake && now - cur.created >= REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT) {
      peer.sentLastMinuteHandshake = true;
      this.sendInitiation(peer, false);
    }
    if (n === 0) return CONSUMED; // a keepalive
    timers.dataReceived(peer, now);
    this.lastPeer = peer;
    return n;
  }

  /**
   * A transport message for a session we do not hold came from a peer's
   * endpoint: this node restarted, or rebuilt the peer, while the peer
   * still uses the old session. A new handshake (at most one per
   * REKEY_TIMEOUT, to a lease's endpoint, so a forger gains nothing)
   * brings it back at once instead of after the peer's own timers.
   */
  private resumeWith(addr: number, port: number): void {
    const peer = this.byEndpoint.get(endpointId(addr, port));
    if (peer && !peer.keypairs.current) this.sendInitiation(peer, false);
  }

  private receiveInitiation(msg: Uint8Array, now: number, addr: number, port: number): number {
    // The index of our own initiation in flight to that peer, if any: theirs supersedes it (wireguard-go does the same), and its index must go too.
    let inFlight = 0;
    const peer = consumeInitiation(this.identity, msg, (key) => {
      const p = this.byKey.get(Buffer.from(key).toString('base64'));
      inFlight = p?.handshake.localIndex ?? 0;
      return p;
    }, now);
    if (typeof peer === 'string') return this.drop(peer);
    if (inFlight && !this.indices.lookup(inFlight)?.keypair) this.indices.delete(inFlight);
    if (this.options.roaming) this.setEndpoint(peer, addr, port); // the response goes where the initiation came from
    const localIndex = this.indices.newIndex(peer);
    const response = createResponse(peer, localIndex);
    if (!response) {
      this.indices.delete(localIndex);
      return this.drop('unauthenticated');
    }
    peer.cookies.addMacs(response, RESP.mac1, now);
    this.beginSession(peer, now);
    peer.lastSentHandshake = now;
    this.queueOwn(response, peer.endpointAddr, peer.endpointPort);
    peer.txWireBytes += response.length;
    peer.rxWireBytes += msg.length;
    timers.authenticatedSent(peer);
    return CONSUMED;
  }

  private receiveResponse(msg: Uint8Array, now: number, addr: number, port: number): number {
    const entry = this.indices.lookup(readU32(msg, RESP.receiver));
    if (!entry || entry.keypair) return this.drop('unknown-index');
    const peer = entry.peer;
    if (peer.handshake.localIndex !== readU32(msg, RESP.receiver) || !consumeResponse(this.identity, peer, msg)) return this.drop('unauthenticated');
    peer.rxWireBytes += msg.length;
    if (this.options.roaming) this.setEndpoint(peer, addr, port);
    timers.authenticatedReceived(peer);
    this.beginSession(peer, now);
    timers.handshakeComplete(peer, now, this.wallNow());
    this.options.onHandshake?.(peer);
    // The responder may not send until we do: the held packets, or a keepalive.
    if (!this.sendStaged(peer)) this.sendKeepalive(peer);
    return CONSUMED;
  }

  /** Turns the peer's finished handshake into a keypair: current on the initiator, next on the responder (wireguard-go BeginSymmetricSession). */
  private beginSession(peer: WgPeer, now: number): void {
    const keys = deriveSessionKeys(peer.handshake);
    if (!keys) return;
    const kp = new Keypair(keys.send, keys.receive, keys.isInitiator, now, keys.localIndex, keys.remoteIndex);
    this.indices.setKeypair(kp.localIndex, kp);
    const pairs = peer.keypairs;
    if (keys.isInitiator) {
      if (pairs.next) {
        this.forget(pairs.previous);
        pairs.previous = pairs.next;
        this.forget(pairs.current);
      } else {
        this.forget(pairs.previous);
        pairs.previous = pairs.current;
      }
      pairs.next = undefined;
      pairs.current = kp;
    } else {
      this.forget(pairs.next);
      this.forget(pairs.previous);
      pairs.previous = undefined;
      pairs.next = kp;
    }
    timers.sessionDerived(peer, now);
  }

  /** The initiator used our next keypair: it becomes current, and what waited for it leaves. */
  private confirm(peer: WgPeer, kp: Keypair, now: number): void {
    const pairs = peer.keypairs;
    this.forget(pairs.previous);
    pairs.previous = pairs.current;
    pairs.current = kp;
    pairs.next = undefined;
    timers.handshakeComplete(peer, now, this.wallNow());
    this.options.onHandshake?.(peer);
    this.sendStaged(peer);
  }

  /** A keypair leaves: its index goes and its keys are wiped at once (docs/security.md). */
  private forget(kp: Keypair | undefined): void {
    if (!kp) return;
    this.indices.delete(kp.localIndex);
    kp.destroy();
  }

  private zeroKeys(peer: WgPeer): void {
    const pairs = peer.keypairs;
    for (const kp of pairs.all()) this.forget(kp);
    pairs.previous = pairs.current = pairs.next = undefined;
    if (peer.handshake.localIndex) this.indices.delete(peer.handshake.localIndex);
    peer.handshake.clear();
  }

  // ---- our own messages ------------------------------------------------

  /** Sends a handshake initiation to `peer`, unless one left within REKEY_TIMEOUT. */
  private sendInitiation(peer: WgPeer, isRetry: boolean): void {
    if (!isRetry) peer.handshakeAttempts = 0;
    const now = this.now();
    if (now - peer.lastSentHandshake < REKEY_TIMEOUT) return;
    if (this.byKey.get(peer.publicKey) !== peer) return; // removed
    if (peer.endpointAddr === 0 && peer.endpointPort === 0) return; // no endpoint known yet: it must reach us first
    peer.lastSentHandshake = now;
    if (peer.handshake.localIndex) this.indices.delete(peer.handshake.localIndex);
    const localIndex = this.indices.newIndex(peer);
    const msg = createInitiation(this.identity, peer, localIndex, this.wallNow());
    if (!msg) {
      this.indices.delete(localIndex);
      return;
    }
    peer.cookies.addMacs(msg, INIT.mac1, now);
    peer.initiationsSent++;
    peer.txWireBytes += msg.length;
    this.queueOwn(msg, peer.endpointAddr, peer.endpointPort);
    timers.authenticatedSent(peer);
    timers.handshakeInitiated(peer, now, this.jitter());
    this.flush();
  }

  private sendKeepalive(peer: WgPeer): void {
    const kp = peer.keypairs.current;
    if (!kp || !kp.canSend(this.now())) return;
    this.sealOwn(peer, kp, this.own, undefined);
    this.flush();
  }

  /** Seals and sends the packets held for `peer`; false when there were none or no session. */
  private sendStaged(peer: WgPeer): boolean {
    const staged = peer.staged;
    const kp = peer.keypairs.current;
    if (!staged || staged.count === 0 || !kp || !kp.canSend(this.now(), staged.count)) return false;
    this.flush();
    this.sealOwn(peer, kp, this.own, staged);
    peer.staged = undefined;
    this.flush();
    return true;
  }

  /** Seals `packets` (or one keepalive) to `peer` into `out`, after what is queued there. */
  private sealOwn(peer: WgPeer, kp: Keypair, out: TxQueue, packets: Spans | undefined): void {
    const src = packets ?? KEEPALIVE;
    const first = out.count;
    for (let i = 0; i < src.count; i++) out.commit(paddedLength(src.lengths[i], this.options.pathMtu) + TRANSPORT_OVERHEAD, peer.endpointAddr, peer.endpointPort);
    this.sealRun(peer, kp, out, first, src.count, src, 0);
    if (!packets) peer.sendKeepaliveAt = Infinity;
  }

  private queueOwn(msg: Uint8Array, addr: number, port: number): void {
    if (this.own.full) this.flush();
    this.own.push(msg, addr, port);
  }

  /** Sends what the transport queued of its own. */
  flush(): void {
    if (this.own.count === 0) return;
    this.options.send(this.own);
    this.own.clear();
  }

  /** Fires every peer's due timers (call every ~100 ms). */
  tick(): void {
    const now = this.now();
    for (const peer of this.byKey.values()) {
      timers.expire(peer, now, this.actions);
      // Persistent keepalive: something goes out at least this often (through NAT and firewall state).
      if (peer.persistentKeepaliveMs > 0 && now - peer.lastSentAt >= peer.persistentKeepaliveMs) this.keepalive(peer);
    }
    this.flush();
    if (this.rateLimiter.size > 0) this.rateLimiter.expire(now);
  }

  // ---- load ------------------------------------------------------------

  /** Counts a handshake message; whether the node is now under load (cookies required). */
  private countHandshake(now: number): boolean {
    if (now - this.handshakeWindowStart >= 1_000) {
      this.handshakeWindowStart = now;
      this.handshakesInWindow = 0;
    }
    if (++this.handshakesInWindow > (this.options.underLoadPerSecond ?? 100)) this.underLoadUntil = now + UNDER_LOAD_HOLD_MS;
    return now < this.underLoadUntil;
  }

  private jitter(): number {
    return randomInt(0, REKEY_TIMEOUT_JITTER_MAX);
  }

  private drop(reason: WireGuardDropReason): number {
    this.lastDrop = reason;
    this.options.onDrop?.(reason);
    return DROPPED;
  }
}

/** One empty packet: a keepalive's source. */
const KEEPALIVE: Spans = { buf: new Uint8Array(1), offsets: new Uint32Array(1), lengths: new Uint32Array(1), addrs: new Uint32Array(2), count: 1 };
