// The Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s handshake, as WireGuard builds
// it (the paper, section 5.4.2-5.4.3; wireguard-go device/noise-protocol.go):
// building and consuming initiations and responses, and the session keys
// that follow. Message authentication codes (mac1/mac2) are cookie.ts's;
// who may start a handshake when is timers.ts's. Each function takes the
// handshake state it moves and either succeeds whole or leaves it as it was.
import type { KeyObject } from 'node:crypto';
import { aeadOpen, aeadSeal, dh, equalBytes, generateEphemeral, hash, kdf, KEY_LEN, tai64n, tai64nAfter } from './primitives.js';
import { INIT, INITIATION_SIZE, MSG_INITIATION, MSG_RESPONSE, newMessage, readU32, RESP, RESPONSE_SIZE, writeU32 } from './messages.js';

const CONSTRUCTION = new TextEncoder().encode('Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s');
const IDENTIFIER = new TextEncoder().encode('WireGuard v1 zx2c4 Jason@zx2c4.com');
const INITIAL_CHAIN_KEY = hash(CONSTRUCTION);
const INITIAL_HASH = hash(INITIAL_CHAIN_KEY, IDENTIFIER);
const EMPTY = new Uint8Array(0);
/** The preshared key of a peer without one. */
export const NO_PSK = new Uint8Array(KEY_LEN);
/** A peer may not start handshakes more often than this (wireguard-go's HandshakeInitationRate): replays of fresh initiations cost little. */
export const INITIATION_MIN_INTERVAL_MS = 20;

/** This node's static identity. */
export interface StaticIdentity {
  privateKey: KeyObject;
  publicKey: Uint8Array;
}

/** Where a peer's handshake stands: nothing, our initiation sent or theirs consumed, our response sent or theirs consumed. */
export const enum HandshakeState {
  Zeroed,
  InitiationCreated,
  InitiationConsumed,
  ResponseCreated,
  ResponseConsumed,
}

/** One peer's handshake in progress, and what must outlive it (the newest timestamp this peer has used). */
export class Handshake {
  state = HandshakeState.Zeroed;
  hash: Uint8Array = INITIAL_HASH;
  chainKey: Uint8Array = INITIAL_CHAIN_KEY;
  localEphemeral?: KeyObject;
  remoteEphemeral?: Uint8Array;
  localIndex = 0;
  remoteIndex = 0;
  /** The newest initiation timestamp accepted from this peer: an older or equal one is a replay. */
  latestTimestamp: Uint8Array = new Uint8Array(12);
  /** When the last initiation from this peer was consumed (ms), against floods of fresh ones. */
  lastInitiationConsumed = -Infinity;
  /** The newest timestamp this node has sent: ours only ever go up, even within the 16 ms whitening step. */
  lastSentTimestamp: Uint8Array = new Uint8Array(12);

  /** The handshake moved on: its new state, hash and chaining key (the message that moved it was whole); the old ones are zeroed. */
  advance(state: HandshakeState, hash: Uint8Array, chainKey: Uint8Array): void {
    if (this.chainKey !== chainKey && this.chainKey !== INITIAL_CHAIN_KEY) this.chainKey.fill(0);
    if (this.hash !== hash && this.hash !== INITIAL_HASH) this.hash.fill(0);
    this.state = state;
    this.hash = hash;
    this.chainKey = chainKey;
  }

  /** Forgets the handshake in progress (keeps the timestamps), zeroing its secrets: the chaining key, the hash and the peer's ephemeral. */
  clear(): void {
    if (this.chainKey !== INITIAL_CHAIN_KEY) this.chainKey.fill(0);
    if (this.hash !== INITIAL_HASH) this.hash.fill(0);
    this.remoteEphemeral?.fill(0);
    this.state = HandshakeState.Zeroed;
    this.hash = INITIAL_HASH;
    this.chainKey = INITIAL_CHAIN_KEY;
    this.localEphemeral = undefined;
    this.remoteEphemeral = undefined;
    this.localIndex = 0;
    this.remoteIndex = 0;
  }
}

/** What the handshake needs of a peer. */
export interface NoisePeer {
  remoteStatic: Uint8Array;
  /** DH(our static, its static), computed once; undefined for a low-order key (no handshake is possible). */
  staticStatic: Uint8Array | undefined;
  psk: Uint8Array;
  handshake: Handshake;
}

function mixHash(h: Uint8Array, data: Uint8Array): Uint8Array {
  return hash(h, data);
}

/** A timestamp later than any this node sent the peer, even within one whitening step. */
function nextTimestamp(hs: Handshake, nowMs: number): Uint8Array {
  const ts = tai64n(nowMs);
  if (!tai64nAfter(ts, hs.lastSentTimestamp)) {
    const dv = new DataView(hs.lastSentTimestamp.buffer.slice(0));
    let secs = dv.getBigUint64(0);
    let nanos = dv.getUint32(8) + 0x100_0000;
    if (nanos >= 1e9) {
      secs += 1n;
      nanos = 0;
    }
    const out = new DataView(ts.buffer);
    out.setBigUint64(0, secs);
    out.setUint32(8, nanos);
  }
  hs.lastSentTimestamp = ts;
  return ts;
}

/**
 * Builds an initiation (mac1/mac2 still zero) to `peer` from a fresh
 * ephemeral key, with `localIndex` as its sender index; the peer's
 * handshake becomes InitiationCreated. undefined for a low-order peer key.
 */
export function createInitiation(id: StaticIdentity, peer: NoisePeer, localIndex: number, nowMs: number): Uint8Array | undefined {
  if (!peer.staticStatic) return undefined;
  const hs = peer.handshake;
  let h = mixHash(INITIAL_HASH, peer.remoteStatic);
  let ck = INITIAL_CHAIN_KEY;
  const e = generateEphemeral();
  const msg = newMessage(MSG_INITIATION, INITIATION_SIZE);
  writeU32(msg, INIT.sender, localIndex);
  msg.set(e.publicKey, INIT.ephemeral);
  [ck] = kdf(1, ck, e.publicKey);
  h = mixHash(h, e.publicKey);
  const es = dh(e.privateKey, peer.remoteStatic);
  if (!es) return undefined;
  let key: Uint8Array;
  [ck, key] = kdf(2, ck, es);
  const encStatic = aeadSeal(key, 0, id.publicKey, h);
  msg.set(encStatic, INIT.static);
  h = mixHash(h, encStatic);
  [ck, key] = kdf(2, ck, peer.staticStatic);
  const encTimestamp = aeadSeal(key, 0, nextTimestamp(hs, nowMs), h);
  msg.set(encTimestamp, INIT.timestamp);
  h = mixHash(h, encTimestamp);
  hs.clear();
  hs.advance(HandshakeState.InitiationCreated, h, ck);
  hs.localEphemeral = e.privateKey;
  hs.localIndex = localIndex;
  return msg;
}

/** Why an initiation was refused. */
export type InitiationRefusal = 'unauthenticated' | 'unknown-peer' | 'stale-timestamp' | 'initiation-flood';

/**
 * Consumes an initiation (its macs already checked): finds the sender by
 * its static key with `peerOf`, refuses a timestamp not newer than the last
 * one accepted from it (a replay) and initiations faster than
 * INITIATION_MIN_INTERVAL_MS; on success the peer's handshake is
 * InitiationConsumed and the peer is returned.
 */
export function consumeInitiation<P extends NoisePeer>(id: StaticIdentity, msg: Uint8Array, peerOf: (remoteStatic: Uint8Array) => P | undefined, nowMs: number): P | InitiationRefusal {
  let h = mixHash(INITIAL_HASH, id.publicKey);
  let ck = INITIAL_CHAIN_KEY;
  const ephemeral = msg.slice(INIT.ephemeral, INIT.ephemeral + KEY_LEN);
  [ck] = kdf(1, ck, ephemeral);
  h = mixHash(h, ephemeral);
  const es = dh(id.privateKey, ephemeral);
  if (!es) return 'unauthenticated';
  let key: Uint8Array;
  [ck, key] = kdf(2, ck, es);
  const encStatic = msg.subarray(INIT.static, INIT.timestamp);
  const remoteStatic = aeadOpen(key, 0, encStatic, h);
  if (!remoteStatic) return 'unauthenticated';
  h = mixHash(h, encStatic);
  const peer = peerOf(remoteStatic);
  if (!peer) return 'unknown-peer';
  if (!peer.staticStatic) return 'unauthenticated';
  [ck, key] = kdf(2, ck, peer.staticStatic);
  const encTimestamp = msg.subarray(INIT.timestamp, INIT.mac1);
  const timestamp = aeadOpen(key, 0, encTimestamp, h);
  if (!timestamp) return 'unauthenticated';
  h = mixHash(h, encTimestamp);
  const hs = peer.handshake;
  if (!tai64nAfter(timestamp, hs.latestTimestamp)) return 'stale-timestamp';
  if (nowMs - hs.lastInitiationConsumed < INITIATION_MIN_INTERVAL_MS) return 'initiation-flood';
  hs.clear();
  hs.advance(HandshakeState.InitiationConsumed, h, ck);
  hs.remoteEphemeral = ephemeral;
  hs.remoteIndex = readU32(msg, INIT.sender);
  hs.latestTimestamp = timestamp;
  hs.lastInitiationConsumed = nowMs;
  return peer;
}

/**
 * The response's key schedule, the same on both sides: the responder's
 * ephemeral, DH(e_r, e_i) and DH(e_r, s_i) (each side computes them from
 * its own private keys), then the preshared key. undefined when a DH
 * result is all zero.
 */
function mixResponse(hs: Handshake, responderEphemeral: Uint8Array, ee: Uint8Array | undefined, se: Uint8Array | undefined, psk: Uint8Array): { h: Uint8Array; ck: Uint8Array; key: Uint8Array } | undefined {
  if (!ee || !se) return undefined;
  let [ck] = kdf(1, hs.chainKey, responderEphemeral);
  [ck] = kdf(1, ck, ee);
  [ck] = kdf(1, ck, se);
  const [next, tau, key] = kdf(3, ck, psk);
  return { h: mixHash(mixHash(hs.hash, responderEphemeral), tau), ck: next, key };
}

/**
 * Builds the response (macs zero) to the initiation the peer's handshake
 * consumed, with `localIndex` as its sender index; the handshake becomes
 * ResponseCreated. undefined when there is no consumed initiation.
 */
export function createResponse(peer: NoisePeer, localIndex: number): Uint8Array | undefined {
  const hs = peer.handshake;
  if (hs.state !== HandshakeState.InitiationConsumed || !hs.remoteEphemeral) return undefined;
  const msg = newMessage(MSG_RESPONSE, RESPONSE_SIZE);
  writeU32(msg, RESP.sender, localIndex);
  writeU32(msg, RESP.receiver, hs.remoteIndex);
  const e = generateEphemeral();
  msg.set(e.publicKey, RESP.ephemeral);
  const mixed = mixResponse(hs, e.publicKey, dh(e.privateKey, hs.remoteEphemeral), dh(e.privateKey, peer.remoteStatic), peer.psk);
  if (!mixed) return undefined;
  let { h } = mixed;
  const { ck, key } = mixed;
  const empty = aeadSeal(key, 0, EMPTY, h);
  msg.set(empty, RESP.empty);
  h = mixHash(h, empty);
  hs.advance(HandshakeState.ResponseCreated, h, ck);
  hs.localEphemeral = e.privateKey;
  hs.localIndex = localIndex;
  return msg;
}

/**
 * Consumes a response to the initiation `peer`'s handshake created (the
 * caller found it by the response's receiver index); the handshake becomes
 * ResponseConsumed. false when it does not authenticate.
 */
export function consumeResponse(id: StaticIdentity, peer: NoisePeer, msg: Uint8Array): boolean {
  const hs = peer.handshake;
  if (hs.state !== HandshakeState.InitiationCreated || !hs.localEphemeral) return false;
  const ephemeral = msg.slice(RESP.ephemeral, RESP.ephemeral + KEY_LEN);
  const mixed = mixResponse(hs, ephemeral, dh(hs.localEphemeral, ephemeral), dh(id.privateKey, ephemeral), peer.psk);
  if (!mixed) return false;
  let { h } = mixed;
  const { ck, key } = mixed;
  const empty = msg.subarray(RESP.empty, RESP.mac1);
  if (!aeadOpen(key, 0, empty, h)) return false;
  h = mixHash(h, empty);
  hs.advance(HandshakeState.ResponseConsumed, h, ck);
  hs.remoteIndex = readU32(msg, RESP.sender);
  hs.remoteEphemeral = ephemeral;
  return true;
}

/** The session keys of a finished handshake, which is then zeroed (the chaining key must not outlive them). */
export function deriveSessionKeys(hs: Handshake): { send: Uint8Array; receive: Uint8Array; isInitiator: boolean; localIndex: number; remoteIndex: number } | undefined {
  const isInitiator = hs.state === HandshakeState.ResponseConsumed;
  if (!isInitiator && hs.state !== HandshakeState.ResponseCreated) return undefined;
  const [first, second] = kdf(2, hs.chainKey, EMPTY);
  const out = { send: isInitiator ? first : second, receive: isInitiator ? second : first, isInitiator, localIndex: hs.localIndex, remoteIndex: hs.remoteIndex };
  hs.clear();
  return out;
}

/** Whether two public keys are one (constant time). */
export function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  return equalBytes(a, b);
}
