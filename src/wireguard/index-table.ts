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
    return this.entries.get(index);
  }

  delete(index: number): void {
    this.entries.delete(index);
  }

  get size(): number {
    return this.entries.size;
  }
}
