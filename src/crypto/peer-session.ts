// One peer's sealing state. Keys are per direction and per sender epoch:
//   key(A -> B, epoch) = HKDF-SHA256(X25519(A, B), salt = "tun-driver overlay v1",
//                                    info = pub(A) || pub(B) || epoch (8 bytes))
// so a restart (a new epoch) gives new keys, and counters start at 0 again
// without ever reusing a (key, nonce). The receiver keeps, per peer, the
// epoch it last authenticated and a replay window for it: an older epoch
// is over (its datagrams are replays, or forgeries); a newer one is tried
// with its own key and, once a datagram authenticates under it, replaces
// the old.
import { hkdfSync } from 'node:crypto';
import { Aead, nativeAead } from './aead.js';
import { NodeKeyPair, sharedSecret, decodeKey } from './keys.js';
import { ReplayWindow } from './replay-window.js';
import { SEALED_OVERHEAD, sealedCounter, sealedEpoch, writeSealedHeader } from './sealed-datagram.js';

/** The one cipher of the sealed format (type 0x01): bench:aead measured AES-256-GCM fastest here, with AES-NI. */
export const SEALED_ALGORITHM = 'aes-256-gcm';
const SALT = Buffer.from('tun-driver overlay v1');
/** How far ahead of this node's clock a peer's epoch may be. */
const MAX_CLOCK_SKEW_MS = 24 * 3600 * 1000;

/** What {@link PeerSession.open} returns for a datagram that does not authenticate. */
export const OPEN_UNAUTHENTICATED = -1;
/** What {@link PeerSession.open} returns for an authentic datagram seen before. */
export const OPEN_REPLAYED = -2;

/** This node's side of the authenticated overlay. */
export interface NodeCrypto {
  keys: NodeKeyPair;
  /** This start's epoch (ms since 1970): later than any earlier start's. */
  epoch: number;
}

function epochBytes(epoch: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUIntBE(epoch, 2, 6);
  return b;
}

/** The key of datagrams from `sender` to `receiver` in the sender's `epoch`. */
export function directionKey(shared: Uint8Array, sender: Uint8Array, receiver: Uint8Array, epoch: number): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', shared, SALT, Buffer.concat([sender, receiver, epochBytes(epoch)]), 32));
}

/**
 * The sealing state this node keeps for one peer: its keys (per direction, per epoch), its send counter and the replay window.
 * @throws TunDriverError `TUN_ERR_USAGE` from the constructor for a malformed or low-order public key.
 */
export class PeerSession {
  private readonly shared: Uint8Array;
  private readonly theirs: Uint8Array;
  private readonly tx: Aead;
  private txCounter = 0;
  private rxEpoch = -1;
  private rx?: Aead;
  private window = new ReplayWindow();
  /** The epoch the peer used before its last restart, and its key. */
  private previous?: { epoch: number; aead: Aead };
  /** The last newer epoch tried, kept so a burst in a new epoch derives its key once. */
  private candidate?: { epoch: number; aead: Aead };

  /** @throws TunDriverError `TUN_ERR_USAGE` for a malformed or low-order public key. */
  constructor(private readonly own: NodeCrypto, readonly publicKey: string) {
    this.shared = sharedSecret(own.keys.privateKey, publicKey);
    this.theirs = decodeKey(publicKey, 'a peer\'s public key');
    this.tx = nativeAead(SEALED_ALGORITHM, directionKey(this.shared, own.keys.publicBytes, this.theirs, own.epoch));
  }

  /** Seals the inner packet at buf[off+16, off+16+len) in place, header first; returns the datagram's length. */
  seal(buf: Uint8Array, off: number, len: number): number {
    writeSealedHeader(buf, off, this.own.epoch, this.txCounter++);
    this.tx.seal(buf, off, len);
    return len + SEALED_OVERHEAD;
  }

  /**
   * Seals datagrams i in [first, first+count) of a queue: each at
   * buf[offsets[i]], lengths[i] counting header and tag. The inner packets
   * are `from`'s spans from index from.first on (encrypted straight into
   * the queue), or, without `from`, already in place at +16. One native
   * call for a run to this peer.
   */
  sealRun(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, first: number, count: number, from?: { buf: Uint8Array; offsets: Uint32Array; first: number }): void {
    this.tx.sealBatch(buf, offsets, lengths, first, count, this.own.epoch, this.txCounter, from?.buf, from?.offsets, from?.first);
    this.txCounter += count;
  }

  /**
   * Opens the datagram buf[off, off+total) in place. Returns the inner
   * packet's length (it starts at off+16), OPEN_REPLAYED for an authentic
   * datagram seen before (its counter, or an epoch that is over), or
   * OPEN_UNAUTHENTICATED for anything that does not authenticate. Only
   * authentic datagrams count as replays, and only they move the window.
   */
  open(buf: Uint8Array, off: number, total: number): number {
    if (total < SEALED_OVERHEAD) return OPEN_UNAUTHENTICATED;
    const epoch = sealedEpoch(buf, off);
    const counter = sealedCounter(buf, off);
    if (epoch === this.rxEpoch) {
      const n = this.rx!.open(buf, off, total);
      if (n < 0) return OPEN_UNAUTHENTICATED;
      if (!this.window.check(counter)) return OPEN_REPLAYED;
      this.window.mark(counter);
      return n;
    }
    if (epoch < this.rxEpoch) {
      // The epoch before is kept to tell its replays from forgeries; older ones are not.
      if (epoch !== this.previous?.epoch) return OPEN_UNAUTHENTICATED;
      return this.previous.aead.open(buf, off, total) < 0 ? OPEN_UNAUTHENTICATED : OPEN_REPLAYED;
    }
    // A sender's epoch is its start time: one from the future is forged, and not worth a key derivation.
    if (epoch > Date.now() + MAX_CLOCK_SKEW_MS) return OPEN_UNAUTHENTICATED;
    if (this.candidate?.epoch !== epoch) {
      this.candidate = { epoch, aead: nativeAead(SEALED_ALGORITHM, directionKey(this.shared, this.theirs, this.own.keys.publicBytes, epoch)) };
    }
    const n = this.candidate.aead.open(buf, off, total);
    if (n < 0) return OPEN_UNAUTHENTICATED;
    // The peer restarted (or this is its first datagram): its new epoch replaces the old for good.
    if (this.rx) this.previous = { epoch: this.rxEpoch, aead: this.rx };
    this.rxEpoch = epoch;
    this.rx = this.candidate.aead;
    this.candidate = undefined;
    this.window = new ReplayWindow();
    this.window.mark(counter);
    return n;
  }
}
