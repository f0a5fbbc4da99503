// Longest-prefix match over the cluster's node subnets: which node (public
// IP and port) owns an inner destination, of either family. Pure and
// rebuilt whole on every lease change; lookups are a few Map probes, one
// per distinct prefix length (two for IPv6: its first two 32-bit words, so
// no key is allocated per packet; IPv6 node subnets are /64 or shorter).
import { Prefix, prefixMask } from '../packet/addr.js';
import { Prefix6 } from '../packet/addr6.js';
import { get32 } from '../packet/bytes.js';
import type { Lease } from './leases.js';
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
 * updates a peer's counters per batch, and a route table of 1,000 peers is
 * rebuilt on every lease change. Built with spreads (a shape per
 * combination of fields, the first key a spread) it took 25x as long.
 */
export function peerFromLease(l: Lease): Peer {
  return { subnet: l.subnet, subnet6: l.subnet6, publicIpv6: l.publicIpv6, publicIp: l.publicIp, port: l.port, txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0, publicKey: l.publicKey, wg: undefined };
}

export class RouteTable {
  /** Prefix lengths present, longest first, each with network -> peer. */
  private readonly levels: Array<{ mask: number; peers: Map<number, Peer> }> = [];
  /** IPv6: prefix lengths present, longest first, each with (first word -> second word -> peer), both masked. */
  private readonly levels6: Array<{ mask0: number; mask1: number; peers: Map<number, Map<number, Peer>> }> = [];
  /** Peers by public IP:port, for checking who sent a datagram. */
  private readonly byEndpoint = new Map<number, Peer>();

  constructor(readonly peers: readonly Peer[]) {
    const present = new Set<number>();
    for (const p of peers) if (p.subnet) present.add(p.subnet.length);
    const lengths = [...present].sort((a, b) => b - a);
    for (const length of lengths) {
      const map = new Map<number, Peer>();
      for (const p of peers) if (p.subnet?.length === length) map.set(p.subnet.network, p);
      this.levels.push({ mask: prefixMask(length), peers: map });
    }
    for (const p of peers) this.byEndpoint.set(endpointKey(p.publicIp, p.port), p);
    const lengths6 = [...new Set(peers.flatMap((p) => (p.subnet6 ? [p.subnet6.length] : [])))].sort((a, b) => b - a);
    for (const length of lengths6) {
      const level = { mask0: prefixMask(Math.min(length, 32)), mask1: prefixMask(Math.max(0, Math.min(length, 64) - 32)), peers: new Map<number, Map<number, Peer>>() };
      for (const p of peers) {
        if (p.subnet6?.length !== length) continue;
        const w0 = get32(p.subnet6.network, 0);
        let second = level.peers.get(w0);
        if (!second) level.peers.set(w0, (second = new Map()));
        second.set(get32(p.subnet6.network, 4), p);
      }
      this.levels6.push(level);
    }
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
