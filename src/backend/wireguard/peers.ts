// Where the overlay's leases meet WireGuard: which leases may be WireGuard peers,
// and how to tell a WireGuard message from a plaintext packet on the wire.
import { decodeKey } from '../../wireguard/keys.js';
import { formatIPv4 } from '../../packet/addr.js';
import { messageType } from '../../wireguard/messages.js';
import { subnetName, type Lease } from '../../subnet/leases.js';

/** A public key's bytes (the lease was checked when it was read). */
export function keyIdentity(publicKey: string): Uint8Array {
  return decodeKey(publicKey, 'a peer\'s public key');
}

const P = 2n ** 255n - 19n;

/**
 * The X25519 point a key names: the top bit is ignored and the value is
 * taken mod p (RFC 7748), so two encodings of one point compare equal.
 */
function pointOf(key: Uint8Array): bigint {
  let u = 0n;
  for (let i = 31; i >= 0; i--) u = (u << 8n) | BigInt(i === 31 ? key[i] & 0x7f : key[i]);
  return u % P;
}

const POINTS_KEPT = 65_536;

/**
 * Points of the keys seen, by their text: every lease change looks at every
 * lease's key, and a point costs 32 BigInt steps. Owned by one transport
 * (bounded: cleared when full, as on a cluster that churned through that many keys).
 */
export class KeyPoints {
  private readonly byKey = new Map<string, bigint>();

  of(publicKey: string): bigint {
    let p = this.byKey.get(publicKey);
    if (p === undefined) {
      if (this.byKey.size >= POINTS_KEPT) this.byKey.clear();
      p = pointOf(keyIdentity(publicKey));
      this.byKey.set(publicKey, p);
    }
    return p;
  }
}

/**
 * Leases whose keys may be WireGuard peers: one naming our own key, or a
 * key another lease names too (compared as points), is refused with a line
 * for the log; keyless leases pass (plaintext peers).
 */
export function wireguardPeers(leases: readonly Lease[], ownKey: Uint8Array, points: KeyPoints = new KeyPoints()): { keep: Lease[]; refused: string[] } {
  const own = pointOf(ownKey);
  const count = new Map<bigint, number>();
  const pointsOf = leases.map((l) => (l.publicKey ? points.of(l.publicKey) : undefined));
  for (const p of pointsOf) if (p !== undefined) count.set(p, (count.get(p) ?? 0) + 1);
  const keep: Lease[] = [];
  const refused: string[] = [];
  leases.forEach((l, i) => {
    const p = pointsOf[i];
    const who = `lease ${subnetName(l)} at ${formatIPv4(l.publicIp)}`;
    if (p === own) refused.push(`${who} names this node's own public key: refused`);
    else if (p !== undefined && count.get(p)! > 1) refused.push(`${who} names public key ${l.publicKey}, which another lease names too: refused (a key is one node)`);
    else keep.push(l);
  });
  return { keep, refused };
}

/** Whether a datagram is a WireGuard message (type 1-4, reserved bytes zero, its type's size) rather than a plain IP packet. */
export function isWireGuardMessage(b: Uint8Array, off: number, size: number): boolean {
  return messageType(b, off, size) !== 0;
}
