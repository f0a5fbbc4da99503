// WireGuard's timers (the paper, section 6; wireguard-go device/timers.go)
// as deadlines on a peer, moved by events and fired by expire(). The clock
// is the caller's, so tests drive hours of protocol time without sleeping.
import { KEEPALIVE_TIMEOUT, MAX_TIMER_HANDSHAKES, REKEY_TIMEOUT, ZERO_KEYS_AFTER } from './constants.js';
import { NEVER, WgPeer } from './peer.js';

/** What the timers ask the transport to do. */
export interface TimerActions {
  sendInitiation(peer: WgPeer, isRetry: boolean): void;
  sendKeepalive(peer: WgPeer): void;
  /** Handshakes gave up: drop the packets held for the peer. */
  giveUp(peer: WgPeer): void;
  /** No handshake for ZERO_KEYS_AFTER: forget every key of the peer. */
  zeroKeys(peer: WgPeer): void;
}

/** A transport message with a packet in it was sent. */
export function dataSent(peer: WgPeer, now: number, jitter: number): void {
  if (peer.newHandshakeAt === NEVER) peer.newHandshakeAt = now + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter;
}

/** A transport message with a packet in it was received. */
export function dataReceived(peer: WgPeer, now: number): void {
  if (peer.sendKeepaliveAt === NEVER) peer.sendKeepaliveAt = now + KEEPALIVE_TIMEOUT;
  else peer.needAnotherKeepalive = true;
}

/** Any authenticated message (transport, keepalive or handshake) was sent: it serves as a keepalive. */
export function authenticatedSent(peer: WgPeer): void {
  peer.sendKeepaliveAt = NEVER;
}

/** Any authenticated message was received: the peer is alive, no new handshake needed for silence. */
export function authenticatedReceived(peer: WgPeer): void {
  peer.newHandshakeAt = NEVER;
}

export function handshakeInitiated(peer: WgPeer, now: number, jitter: number): void {
  if (peer.attemptStartedAt === NEVER) peer.attemptStartedAt = now;
  peer.retransmitHandshakeAt = now + REKEY_TIMEOUT + jitter;
}

export function handshakeComplete(peer: WgPeer, now: number, wallMs: number): void {
  peer.retransmitHandshakeAt = NEVER;
  peer.attemptStartedAt = NEVER;
  peer.handshakeAttempts = 0;
  peer.sentLastMinuteHandshake = false;
  peer.lastHandshakeAt = now;
  peer.lastHandshakeWallMs = wallMs;
}

export function sessionDerived(peer: WgPeer, now: number): void {
  peer.zeroKeysAt = now + ZERO_KEYS_AFTER;
}

/** Fires every deadline of `peer` that is due at `now`. */
export function expire(peer: WgPeer, now: number, act: TimerActions): void {
  if (now >= peer.retransmitHandshakeAt) {
    peer.retransmitHandshakeAt = NEVER;
    if (peer.handshakeAttempts > MAX_TIMER_HANDSHAKES) {
      peer.newHandshakeAt = NEVER;
      peer.attemptStartedAt = NEVER;
      act.giveUp(peer);
      if (peer.zeroKeysAt === NEVER) peer.zeroKeysAt = now + ZERO_KEYS_AFTER;
    } else {
      peer.handshakeAttempts++;
      act.sendInitiation(peer, true);
    }
  }
  if (now >= peer.sendKeepaliveAt) {
    peer.sendKeepaliveAt = NEVER;
    act.sendKeepalive(peer);
    if (peer.needAnotherKeepalive) {
      peer.needAnotherKeepalive = false;
      peer.sendKeepaliveAt = now + KEEPALIVE_TIMEOUT;
    }
  }
  if (now >= peer.newHandshakeAt) {
    peer.newHandshakeAt = NEVER;
    act.sendInitiation(peer, false);
  }
  if (now >= peer.zeroKeysAt) {
    peer.zeroKeysAt = NEVER;
    act.zeroKeys(peer);
  }
}
