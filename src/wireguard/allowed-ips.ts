// Cryptokey routing (the paper, section 2): each peer owns prefixes of
// either family; a packet to send goes to the peer whose prefix holds its
// destination most specifically, and a packet received from a peer is
// taken only when the same lookup on its source names that peer. A prefix
// belongs to one peer at a time: inserting it for another moves it.
// Lookups walk the prefix lengths present, longest first: one Map probe
// per length, so a table of a few hundred prefixes costs a few probes.
import type { AnyPrefix } from '../packet/addr6.js';
import { get32 } from '../packet/bytes.js';
import { prefixMask } from '../packet/addr.js';

/** The four 32-bit words of an IPv6 address masked to `length`, as one string key. */
function key6(b: Uint8Array, off: number, length: number): string {
  let k = '';
  for (let w = 0; w < 4; w++) {
    const bits = Math.max(0, Math.min(32, length - 32 * w));
    k += `${(get32(b, off + 4 * w) & prefixMask(bits)) >>> 0}.`;
  }
  return k;
}

interface Family<K> {
  byLength: Map<number, Map<K, { peer: unknown; prefix: AnyPrefix }>>;
  /** Lengths present, longest first. */
  lengths: number[];
}

export class AllowedIps<P> {
  private readonly v4: Family<number> = { byLength: new Map(), lengths: [] };
  private readonly v6: Family<string> = { byLength: new Map(), lengths: [] };

  /** Gives `prefix` (host bits ignored) to `peer`, taking it from whoever had it. */
  insert(prefix: AnyPrefix, peer: P): void {
    if (prefix.family === 4) this.put(this.v4, prefix.prefix.length, (prefix.prefix.network & prefixMask(prefix.prefix.length)) >>> 0, prefix, peer);
    else this.put(this.v6, prefix.prefix.length, key6(prefix.prefix.network, 0, prefix.prefix.length), prefix, peer);
  }

  private put<K>(f: Family<K>, length: number, key: K, prefix: AnyPrefix, peer: P): void {
    let m = f.byLength.get(length);
    if (!m) {
      m = new Map();
      f.byLength.set(length, m);
      f.lengths = [...f.byLength.keys()].sort((a, b) => b - a);
    }
    m.set(key, { peer, prefix });
  }

  /** Removes every prefix of `peer`. */
  removeByPeer(peer: P): void {
    for (const f of [this.v4, this.v6] as Array<Family<unknown>>) {
      for (const [length, m] of f.byLength) {
        for (const [k, e] of m) if (e.peer === peer) m.delete(k);
        if (m.size === 0) f.byLength.delete(length);
      }
      f.lengths = [...f.byLength.keys()].sort((a, b) => b - a);
    }
  }

  /** The peer whose prefix holds IPv4 `addr` most specifically. */
  lookup4(addr: number): P | undefined {
    for (const length of this.v4.lengths) {
      const e = this.v4.byLength.get(length)!.get((addr & prefixMask(length)) >>> 0);
      if (e) return e.peer as P;
    }
    return undefined;
  }

  /** The peer whose prefix holds the IPv6 address at b[off..off+16) most specifically. */
  lookup6(b: Uint8Array, off: number): P | undefined {
    for (const length of this.v6.lengths) {
      const e = this.v6.byLength.get(length)!.get(key6(b, off, length));
      if (e) return e.peer as P;
    }
    return undefined;
  }

  /** The prefixes of `peer`, IPv4 first, longest first. */
  entriesFor(peer: P): AnyPrefix[] {
    const out: AnyPrefix[] = [];
    for (const f of [this.v4, this.v6] as Array<Family<unknown>>) {
      for (const length of f.lengths) for (const e of f.byLength.get(length)!.values()) if (e.peer === peer) out.push(e.prefix);
    }
    return out;
  }
}
