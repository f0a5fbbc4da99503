// What the overlay counts: packets each way, per peer (on the Peer
// objects of the route table) and in total, and drops by reason.
import { describeSubnets, subnetName } from '../subnet/leases.js';
import { formatEndpointIp } from './route-table.js';
import { formatCidr6 } from '../packet/addr6.js';
import { Peer } from './route-table.js';
import { OverlayCountersJson, PeerCountersJson } from '../control/daemon-status.js';
import { DropCounts } from '../util/drop-counts.js';
import type { WireGuardDropReason } from '../wireguard/device.js';

/** Why the overlay dropped a packet (each a counter in status, metrics and the exit line). */
export type OverlayDropReason =
  | 'malformed' // not a valid IPv4 packet (from the TUN or inside a datagram)
  | 'ipv6' // IPv6 on a node without an IPv6 subnet
  | 'ipv4' // IPv4 on an IPv6-only node
  | 'ipv6-malformed' // not a valid IPv6 packet (a bad length, truncated, extension headers that do not fit)
  | 'ipv6-extension' // an IPv6 extension header the overlay does not walk (ESP, AH, mobility, ...)
  | 'outside-network' // destination outside the cluster network
  | 'own-subnet' // destination in this node's own subnet read from the TUN
  | 'no-route' // no node owns the destination (answered with Net Unreachable)
  | 'too-big' // DF set and larger than the path allows (answered with Fragmentation Needed)
  | 'unknown-peer' // datagram from an address:port that is not a node of the cluster
  | 'spoofed-source' // inner source outside the sending node's subnet
  | 'not-for-this-node' // inner destination outside this node's subnet
  | 'ttl-expired' // answered with Time Exceeded
  | 'send-failed'
  | 'tun-write-failed'
  | 'error-rate-limited'
  | 'outside-allowed-ips' // WireGuard: a decrypted packet whose source is outside the sending peer's subnet (cryptokey routing)
  | 'plaintext-peer' // with --private-key: a packet for a node without a key, and no --allow-plaintext-peers
  | WireGuardDropReason; // with --private-key: refusals of WireGuard messages (unauthenticated, replayed, bad-mac1, ...)

/** The overlay's counters: packets sent, delivered, errors generated, fragmented, and drops by reason. */
export class OverlayCounters {
  /** Packets read from the TUN and sent to a peer. */
  sent = 0;
  /** Datagrams received from peers and written into the TUN. */
  delivered = 0;
  /** ICMP errors the daemon gave (net unreachable, frag needed, time exceeded). */
  errorsGenerated = 0;
  /** Packets fragmented before encapsulation (no DF, bigger than the path). */
  fragmented = 0;
  /** WireGuard messages the transport handled itself: handshakes, cookie replies, keepalives. */
  wireguardConsumed = 0;
  readonly drops = new DropCounts<OverlayDropReason>();

  /** Counts `n` (default 1) drops for `reason`. */
  drop(reason: OverlayDropReason, n = 1): void {
    this.drops.add(reason, n);
  }

  /** The counters with each peer's, as status and the JSON exit line show them. */
  toJSON(peers: readonly Peer[]): OverlayCountersJson & { peers: PeerCountersJson[] } {
    return {
      sent: this.sent, delivered: this.delivered, errorsGenerated: this.errorsGenerated, fragmented: this.fragmented,
      ...(this.wireguardConsumed ? { wireguardConsumed: this.wireguardConsumed } : {}),
      dropped: this.drops.toJSON(),
      peers: peers.map((p) => ({ subnet: subnetName(p), ...(p.subnet6 ? { subnet6: formatCidr6(p.subnet6, false) } : {}), publicIp: formatEndpointIp(p), port: p.port, txPackets: p.txPackets, txBytes: p.txBytes, rxPackets: p.rxPackets, rxBytes: p.rxBytes })),
    };
  }

  /** One line for people (SIGUSR1 and the exit line). */
  format(peers: readonly Peer[]): string {
    const lines = [`sent ${this.sent}, delivered ${this.delivered}, errors generated ${this.errorsGenerated}, fragmented ${this.fragmented}; ${this.drops.format()}`];
    for (const p of peers) {
      lines.push(`  peer ${describeSubnets(p)} at ${formatEndpointIp(p)}:${p.port}: tx ${p.txPackets} packets ${p.txBytes} bytes, rx ${p.rxPackets} packets ${p.rxBytes} bytes`);
    }
    return lines.join('\n');
  }
}
