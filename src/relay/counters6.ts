// What the IPv6 relay counts: the IPv4 relay's counters, its own drop
// reasons, and the two things only IPv6 has (link chatter, Packet Too Big).
import { RelayCountersJson } from '../control/daemon-status.js';
import { IPv6Problem } from '../packet/ipv6.js';
import { RelayCounters } from './counters.js';

/** Why the IPv6 relay dropped a packet (each a counter). */
export type Drop6Reason =
  | Exclude<IPv6Problem, 'unsupported-extension-header'> // malformed IPv6 from the TUN, by what is wrong
  | `extension-${'esp' | 'ah' | 'mobility' | 'hip' | 'shim6' | 'experimental' | 'unknown'}` // an extension header the relay does not walk
  | 'ipv4' // IPv4 on an IPv6-only relay
  | 'malformed' // an ICMPv6 message with a bad length or checksum
  | 'not-icmp'
  | 'not-echo-request'
  | 'multicast' // an echo request to a multicast group
  | 'bad-source'
  | 'flow-table-full'
  | 'reassembly-overlap'
  | 'reassembly-too-big'
  | 'reassembly-table-full'
  | 'reassembly-bad-length'
  | 'send-failed'
  | 'tun-write-failed'
  | 'fragment-failed'
  | 'net-malformed'
  | 'error-rate-limited'
  | 'internal-error';

/** The IPv6 relay's counters. */
export class Relay6Counters extends RelayCounters<Drop6Reason> {
  /** The kernel's own router/neighbour solicitations and MLD reports read from the TUN: counted, not relayed. */
  linkChatter = 0;
  /** Packet Too Big errors relayed to pingers (a smaller path MTU on the way). */
  packetTooBig = 0;

  override toJSON(): RelayCountersJson & { linkChatter: number; packetTooBig: number } {
    return { ...super.toJSON(), linkChatter: this.linkChatter, packetTooBig: this.packetTooBig };
  }

  override format(): string {
    return `${super.format()}; link chatter ${this.linkChatter}, packet too big ${this.packetTooBig}`;
  }
}
