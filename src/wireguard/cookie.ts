// WireGuard's DoS defence (the paper, section 5.3 and 5.4.4; wireguard-go
// device/cookie.go). Every handshake message carries
//   mac1 = MAC(HASH("mac1----" || receiver's public key), message up to mac1)
// so a node that does not know our public key cannot make us do a single
// Diffie-Hellman. Under load, mac2 is also required:
//   mac2 = MAC(cookie, message up to mac2), cookie = MAC(R, sender's IP:port)
// where R is a secret that changes every two minutes; a sender without a
// valid mac2 gets a cookie reply (the cookie, XChaCha20-Poly1305 sealed
// under HASH("cookie--" || our public key), with its mac1 as AAD) instead
// of a handshake, which proves its address before it costs us more.
import { randomBytes } from 'node:crypto';
import { equalBytes, hash, mac, MAC_LEN, xaeadOpen, xaeadSeal } from './primitives.js';
import { COOKIE, COOKIE_REPLY_SIZE, MSG_COOKIE_REPLY, newMessage } from './messages.js';

const LABEL_MAC1 = new TextEncoder().encode('mac1----');
const LABEL_COOKIE = new TextEncoder().encode('cookie--');
/** A cookie, and the secret behind it, last this long (wireguard-go's CookieRefreshTime). */
export const COOKIE_REFRESH_MS = 120_000;

/** The sender's address as the cookie binds it: IPv4 (network order) and port (little-endian). */
function sourceBytes(addr: number, port: number): Uint8Array {
  return Uint8Array.of(addr >>> 24, (addr >>> 16) & 0xff, (addr >>> 8) & 0xff, addr & 0xff, port & 0xff, port >>> 8);
}

/** The receiving side: checks mac1 and mac2 of handshake messages sent to us, and builds cookie replies. */
export class CookieChecker {
  private readonly mac1Key: Uint8Array;
  private readonly cookieKey: Uint8Array;
  private secret = new Uint8Array(32);
  private secretSetAt = -Infinity;

  constructor(ownPublicKey: Uint8Array) {
    this.mac1Key = hash(LABEL_MAC1, ownPublicKey);
    this.cookieKey = hash(LABEL_COOKIE, ownPublicKey);
  }

  /** Whether the message's mac1 (16 bytes at `mac1At`, over everything before it) is ours. */
  checkMac1(msg: Uint8Array, mac1At: number): boolean {
    return equalBytes(mac(this.mac1Key, msg.subarray(0, mac1At)), msg.subarray(mac1At, mac1At + MAC_LEN));
  }

  /** Whether the message's mac2 (after mac1) proves a cookie we gave addr:port within the last two minutes. */
  checkMac2(msg: Uint8Array, mac1At: number, addr: number, port: number, nowMs: number): boolean {
    if (nowMs - this.secretSetAt > COOKIE_REFRESH_MS) return false;
    const cookie = mac(this.secret, sourceBytes(addr, port));
    const mac2At = mac1At + MAC_LEN;
    return equalBytes(mac(cookie, msg.subarray(0, mac2At)), msg.subarray(mac2At, mac2At + MAC_LEN));
  }

  /** A cookie reply to `msg` (whose sender index is at offset 4) from addr:port. */
  createReply(msg: Uint8Array, mac1At: number, addr: number, port: number, nowMs: number): Uint8Array {
    if (nowMs - this.secretSetAt > COOKIE_REFRESH_MS) {
      this.secret = new Uint8Array(randomBytes(32));
      this.secretSetAt = nowMs;
    }
    const cookie = mac(this.secret, sourceBytes(addr, port));
    const reply = newMessage(MSG_COOKIE_REPLY, COOKIE_REPLY_SIZE);
    reply.set(msg.subarray(4, 8), COOKIE.receiver);
    const nonce = new Uint8Array(randomBytes(24));
    reply.set(nonce, COOKIE.nonce);
    reply.set(xaeadSeal(this.cookieKey, nonce, cookie, msg.subarray(mac1At, mac1At + MAC_LEN)), COOKIE.cookie);
    return reply;
  }
}

/** The sending side, per peer: writes mac1 (and mac2 while we hold a fresh cookie) and takes the peer's cookie replies. */
export class CookieGenerator {
  private readonly mac1Key: Uint8Array;
  private readonly cookieKey: Uint8Array;
  private cookie?: Uint8Array;
  private cookieSetAt = -Infinity;
  /** The mac1 of the last handshake message we sent: a cookie reply must be bound to it. */
  private lastMac1?: Uint8Array;

  constructor(peerPublicKey: Uint8Array) {
    this.mac1Key = hash(LABEL_MAC1, peerPublicKey);
    this.cookieKey = hash(LABEL_COOKIE, peerPublicKey);
  }

  /** Writes mac1 at `mac1At` and mac2 after it (zero without a fresh cookie). */
  addMacs(msg: Uint8Array, mac1At: number, nowMs: number): void {
    const mac1 = mac(this.mac1Key, msg.subarray(0, mac1At));
    msg.set(mac1, mac1At);
    this.lastMac1 = mac1;
    const mac2At = mac1At + MAC_LEN;
    if (this.cookie && nowMs - this.cookieSetAt <= COOKIE_REFRESH_MS) msg.set(mac(this.cookie, msg.subarray(0, mac2At)), mac2At);
    else msg.fill(0, mac2At, mac2At + MAC_LEN);
  }

  /** Takes a cookie reply to our last handshake message; false when it does not open (forged, or for an older message). */
  consumeReply(reply: Uint8Array, nowMs: number): boolean {
    if (!this.lastMac1) return false;
    const cookie = xaeadOpen(this.cookieKey, reply.subarray(COOKIE.nonce, COOKIE.cookie), reply.subarray(COOKIE.cookie, COOKIE_REPLY_SIZE), this.lastMac1);
    if (!cookie) return false;
    this.cookie = cookie;
    this.cookieSetAt = nowMs;
    this.lastMac1 = undefined; // one reply per message
    return true;
  }
}

