// Receiver indices (wireguard-go device/indextable.go): every handshake in
// progress and every keypair has a random 32-bit index that the peer puts
// in its messages to us, so a message finds its peer and keys with one map
// lookup, never by trying keys. The index of a handshake moves to the
// keypair it yields.
import { randomInt } from 'node:crypto';

/** What an index stands for: a peer's handshake in progress, or one of its keypairs. */
export interface IndexEntry<P, K> {
  peer: P;
  keypair?: K;
}

export class IndexTable<P, K> {
  private readonly entries = new Map<number, IndexEntry<P, K>>();
  /**
   * The entry found last: a batch of datagrams nearly always names one
   * session, and a Map lookup per message showed in the receive profile.
   * Only found entries are kept, and delete() forgets it.
   */
  private lastIndex = 0;
  private lastEntry?: IndexEntry<P, K>;

  /** A new random index for `peer`'s handshake. */
  newIndex(peer: P): number {
    for (;;) {
      const index = randomInt(0, 0x1_0000_0000 - 1) >>> 0;
      if (index === 0 || this.entries.has(index)) continue;
      this.entries.set(index, { peer });
      return index;
    }
  }

  /** The handshake's index now names `keypair` (same peer). */
  setKeypair(index: number, keypair: K): void {
    const e = this.entries.get(index);
    if (e) e.keypair = keypair;
  }

  lookup(index: number): IndexEntry<P, K> | undefined {
    if (index === this.lastIndex && index !== 0) return this.lastEntry;
    const e = this.entries.get(index);
    if (e) {
      this.lastIndex = index;
      this.lastEntry = e;
    }
    return e;
  }

  delete(index: number): void {
    this.entries.delete(index);
    if (index === this.lastIndex) {
      this.lastIndex = 0;
      this.lastEntry = undefined;
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
