// Longest-prefix match over the cluster's node subnets: which node (public
// IP and port) owns an inner destination. Pure and rebuilt whole on every
// lease change; lookups are a few Map probes, one per distinct prefix length.
import { Prefix, prefixMask } from '../packet/addr.js';
import type { Lease } from './leases.js';
import type { WgPeer } from '../wireguard/peer.js';

/** Another node: its subnet, where to send (public IP and port), and its traffic counters. */
export interface Peer {
  subnet: Prefix;
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

/** A new peer for a lease, its counters at zero. */
export function peerFromLease(l: Lease): Peer {
  return { subnet: l.subnet, publicIp: l.publicIp, port: l.port, txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0, ...(l.publicKey ? { publicKey: l.publicKey } : {}) };
}

export class RouteTable {
  /** Prefix lengths present, longest first, each with network -> peer. */
  private readonly levels: Array<{ mask: number; peers: Map<number, Peer> }> = [];
  /** Peers by public IP:port, for checking who sent a datagram. */
  private readonly byEndpoint = new Map<number, Peer>();

  constructor(readonly peers: readonly Peer[]) {
    const lengths = [...new Set(peers.map((p) => p.subnet.length))].sort((a, b) => b - a);
    for (const length of lengths) {
      const map = new Map<number, Peer>();
      for (const p of peers) if (p.subnet.length === length) map.set(p.subnet.network, p);
      this.levels.push({ mask: prefixMask(length), peers: map });
    }
    for (const p of peers) this.byEndpoint.set(endpointKey(p.publicIp, p.port), p);
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
