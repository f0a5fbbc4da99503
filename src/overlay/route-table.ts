// Longest-prefix match over the cluster's node subnets: which node (public
// IP and port) owns an inner destination, of either family. Peers are
// added and removed one by one (a lease change costs what changed, not the
// cluster's size: lease-peers.ts); lookups are a few Map probes, one per
// distinct prefix length (two for IPv6: its first two 32-bit words, so no
// key is allocated per packet; IPv6 node subnets are /64 or shorter).
import { formatIPv4, Prefix, prefixMask } from '../packet/addr.js';
import { formatIPv6, Prefix6 } from '../packet/addr6.js';
import { get32 } from '../packet/bytes.js';
import { describeSubnets, type Lease } from '../subnet/leases.js';
import type { WgPeer } from '../wireguard/peer.js';

/** Another node: its subnet, where to send (public IP and port), and its traffic counters. */
export interface Peer {
  /** The node's IPv4 subnet; absent on an IPv6-only cluster (then subnet6 is there). */
  subnet?: Prefix;
  /** The node's IPv6 subnet, on a dual-stack or IPv6-only cluster. */
  subnet6?: Prefix6;
  /** Its IPv6 underlay address, when it has one (then `publicIp` may be a stand-in: underlay6.ts). */
  publicIpv6?: Uint8Array;
  publicIp: number;
  port: number;
  /** Counters, kept by the data plane. */
  txPackets: number;
  txBytes: number;
  rxPackets: number;
  rxBytes: number;
  /** The node's public key, when it has one (authenticated overlay). */
  publicKey?: string;
  /** Its WireGuard peer (handshake, keypairs, timers), when this node has a key too. */
  wg?: WgPeer;
}

/**
 * A new peer for a lease, its counters at zero. Every peer has the same
 * object shape (absent fields are undefined, never missing): the data plane
 * updates a peer's counters per batch. Built with spreads (a shape per
 * combination of fields, the first key a spread) a table of 1,000 peers
 * took 25x as long to build.
 */
export function peerFromLease(l: Lease): Peer {
  return { subnet: l.subnet, subnet6: l.subnet6, publicIpv6: l.publicIpv6, publicIp: l.publicIp, port: l.port, txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0, publicKey: l.publicKey, wg: undefined };
}

export class RouteTable {
  /** Prefix lengths present, longest first, each with network -> peer. */
  private readonly levels: Array<{ length: number; mask: number; peers: Map<number, Peer> }> = [];
  /** IPv6: prefix lengths present, longest first, each with (first word -> second word -> peer), both masked. */
  private readonly levels6: Array<{ length: number; mask0: number; mask1: number; peers: Map<number, Map<number, Peer>> }> = [];
  /** Peers by public IP:port, for checking who sent a datagram. */
  private readonly byEndpoint = new Map<number, Peer>();
  private readonly list: Peer[] = [];
  /**
   * How many peers a later peer's subnet or endpoint hides: while none is,
   * remove() deletes its keys without looking for another holder.
   */
  private shadowed = 0;

  constructor(peers: readonly Peer[] = []) {
    for (const p of peers) this.add(p);
  }

  /** Every peer, in the order added. */
  get peers(): readonly Peer[] {
    return this.list;
  }

  /** Routes `p`'s subnets to it (a later peer with the same subnet or endpoint takes it over). */
  add(p: Peer): void {
    this.list.push(p);
    if (p.subnet) this.claim(this.level(p.subnet.length).peers, p.subnet.network, p);
    if (p.subnet6) {
      const level = this.level6(p.subnet6.length);
      const w0 = get32(p.subnet6.network, 0);
      let second = level.peers.get(w0);
      if (!second) level.peers.set(w0, (second = new Map()));
      this.claim(second, get32(p.subnet6.network, 4), p);
    }
    this.claim(this.byEndpoint, endpointKey(p.publicIp, p.port), p);
  }

  private claim(map: Map<number, Peer>, key: number, p: Peer): void {
    const held = map.get(key);
    if (held && held !== p) this.shadowed++;
    map.set(key, p);
  }

  /**
   * Stops routing to `p`. Where another peer names the same subnet or
   * endpoint (a node that took a new subnet while its old lease runs out),
   * the one added last of the rest takes it back.
   */
  remove(p: Peer): void {
    const at = this.list.lastIndexOf(p);
    if (at < 0) return;
    this.list.splice(at, 1);
    if (p.subnet) {
      const level = this.level(p.subnet.length);
      this.release(level.peers, p.subnet.network, p, (q) => !!q.subnet && q.subnet.length === p.subnet!.length && q.subnet.network === p.subnet!.network);
      if (level.peers.size === 0) this.levels.splice(this.levels.indexOf(level), 1);
    }
    if (p.subnet6) {
      const level = this.level6(p.subnet6.length);
      const w0 = get32(p.subnet6.network, 0);
      const w1 = get32(p.subnet6.network, 4);
      const second = level.peers.get(w0)!;
      const same = (q: Peer): boolean => !!q.subnet6 && q.subnet6.length === p.subnet6!.length && get32(q.subnet6.network, 0) === w0 && get32(q.subnet6.network, 4) === w1;
      this.release(second, w1, p, same);
      if (second.size === 0) level.peers.delete(w0);
      if (level.peers.size === 0) this.levels6.splice(this.levels6.indexOf(level), 1);
    }
    const key = endpointKey(p.publicIp, p.port);
    this.release(this.byEndpoint, key, p, (q) => endpointKey(q.publicIp, q.port) === key);
  }

  /**
   * `p` (removed from the list) gives up `key`: a peer it hid takes the key
   * back (the last added that `matches`), else the key goes. A hidden peer
   * leaving just counts one fewer hidden.
   */
  private release(map: Map<number, Peer>, key: number, p: Peer, matches: (q: Peer) => boolean): void {
    if (map.get(key) !== p) {
      this.shadowed--;
      return;
    }
    if (this.shadowed > 0) {
      for (let i = this.list.length - 1; i >= 0; i--) {
        if (matches(this.list[i])) {
          map.set(key, this.list[i]);
          this.shadowed--;
          return;
        }
      }
    }
    map.delete(key);
  }

  /** The IPv4 level of prefix `length`, made (in longest-first order) if absent. */
  private level(length: number): { length: number; mask: number; peers: Map<number, Peer> } {
    let i = 0;
    while (i < this.levels.length && this.levels[i].length > length) i++;
    if (this.levels[i]?.length === length) return this.levels[i];
    const level = { length, mask: prefixMask(length), peers: new Map<number, Peer>() };
    this.levels.splice(i, 0, level);
    return level;
  }

  private level6(length: number): { length: number; mask0: number; mask1: number; peers: Map<number, Map<number, Peer>> } {
    let i = 0;
    while (i < this.levels6.length && this.levels6[i].length > length) i++;
    if (this.levels6[i]?.length === length) return this.levels6[i];
    const level = { length, mask0: prefixMask(Math.min(length, 32)), mask1: prefixMask(Math.max(0, Math.min(length, 64) - 32)), peers: new Map<number, Map<number, Peer>>() };
    this.levels6.splice(i, 0, level);
    return level;
  }

  /** The peer whose IPv6 subnet holds the 16-byte address at buf[off] (longest prefix wins). */
  lookup6(buf: Uint8Array, off: number): Peer | undefined {
    const w0 = get32(buf, off);
    const w1 = get32(buf, off + 4);
    for (const level of this.levels6) {
      const peer = level.peers.get((w0 & level.mask0) >>> 0)?.get((w1 & level.mask1) >>> 0);
      if (peer) return peer;
    }
    return undefined;
  }

  /** The peer whose subnet holds `dst` (longest prefix wins). */
  lookup(dst: number): Peer | undefined {
    for (const level of this.levels) {
      const peer = level.peers.get((dst & level.mask) >>> 0);
      if (peer) return peer;
    }
    return undefined;
  }

  /** The peer that sends from addr:port, if it is a known node. */
  fromEndpoint(addr: number, port: number): Peer | undefined {
    return this.byEndpoint.get(endpointKey(addr, port));
  }
}

/** addr:port as one exact number (< 2^48). */
export function endpointKey(addr: number, port: number): number {
  return addr * 0x10000 + port;
}

/**
 * Peers reached over the IPv6 underlay are keyed by a stand-in IPv4
 * address from 240.0.0.0/4 (reserved, never an underlay address); the
 * socket layer maps it to theirs (underlay6.ts).
 */
export const STAND_IN_BASE = 0xf0000000;

/** Whether an address is a stand-in for a peer reached over IPv6. */
export const isStandIn = (addr: number): boolean => addr >= STAND_IN_BASE;

/**
 * A node's underlay address as logs and status show it: its IPv6 one in
 * brackets when `publicIp` is a stand-in for it (240.0.0.0/4, underlay6.ts),
 * else the IPv4 one.
 */
export function formatEndpointIp(l: { publicIp: number; publicIpv6?: Uint8Array }): string {
  return l.publicIpv6 && isStandIn(l.publicIp) ? `[${formatIPv6(l.publicIpv6)}]` : formatIPv4(l.publicIp);
}

/** A peer as logs show it: its subnets and its endpoint (the IPv6 one behind a stand-in). */
export function describePeer(p: { subnet?: Prefix; subnet6?: Prefix6; publicIp: number; publicIpv6?: Uint8Array; port: number }): string {
  return `${describeSubnets(p)} at ${formatEndpointIp(p)}:${p.port}`;
}

/**
 * Why a packet whose source is outside its peer's subnets is dropped: for a
 * peer with a WireGuard session that is cryptokey routing (its allowed IPs),
 * for a plain one a spoofed source.
 */
export function foreignSourceDrop(peer: Peer): 'outside-allowed-ips' | 'spoofed-source' {
  return peer.wg ? 'outside-allowed-ips' : 'spoofed-source';
}
