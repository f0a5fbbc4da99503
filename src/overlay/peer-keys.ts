// Which of a peer's sessions seals and opens, while a key changes. Either
// side may rotate (docs/security.md, "Key rotation"):
//   - this node (SIGHUP with a new --private-key): it goes on sealing with
//     the old key, since the peer does not know the new one yet, and opens
//     with both. The first datagram that opens under the new key shows the
//     peer has learnt it: from then on it seals with the new key too.
//     After ROTATION_GRACE_MS it switches anyway.
//   - the peer (its lease names a new key): its new session seals and opens;
//     the old one still opens for ROTATION_GRACE_MS, for datagrams in flight
//     and for a peer that has not switched yet.
// A failed open decrypts in place, so when there is a second session to
// try, the datagram is copied first and restored between attempts.
import { OPEN_UNAUTHENTICATED, PeerSession } from '../crypto/peer-session.js';
import type { Peer } from './route-table.js';

export const ROTATION_GRACE_MS = 10_000;

/** The session to seal with now (promoting this node's new key once its grace is over). */
export function sealingSession(peer: Peer, now: number): PeerSession | undefined {
  if (peer.nextSession && now >= peer.nextSessionBy!) promote(peer, now);
  return peer.session;
}

/**
 * Opens a datagram from `peer` (which has a session) with each session it
 * may be sealed under; the result is PeerSession.open's.
 */
export function openFromPeer(peer: Peer, buf: Uint8Array, off: number, total: number, scratch: Uint8Array, now: number): number {
  if (peer.oldSession && now >= peer.oldSessionUntil!) peer.oldSession = peer.oldSessionUntil = undefined;
  const old = peer.oldSession;
  if (!peer.nextSession && !old) return peer.session!.open(buf, off, total);
  scratch.set(buf.subarray(off, off + total));
  let n = peer.session!.open(buf, off, total);
  for (const other of [peer.nextSession, old]) {
    if (n !== OPEN_UNAUTHENTICATED || !other) continue;
    buf.set(scratch.subarray(0, total), off);
    n = other.open(buf, off, total);
    if (n >= 0 && other === peer.nextSession) promote(peer, now);
  }
  return n;
}

function promote(peer: Peer, now: number): void {
  peer.oldSession = peer.session;
  peer.oldSessionUntil = now + ROTATION_GRACE_MS;
  peer.session = peer.nextSession;
  peer.nextSession = undefined;
  peer.nextSessionBy = undefined;
}
