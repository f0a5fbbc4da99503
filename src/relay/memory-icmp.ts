// In-memory raw ICMP sockets for unit tests and the fuzz of the relay
// (src/io/memory-socket.ts says what they record and refuse). Replies are
// handed to the relay by the test (relay.fromNetwork).
import type { Span6List, Spans } from '../io/batch.js';
import { MemorySocket, spanCopy } from '../io/memory-socket.js';
import { formatIPv6 } from '../packet/addr6.js';
import type { IcmpNetwork } from './network.js';
import type { Icmp6Network } from './network6.js';

/** One ICMP message the IPv4 relay sent: destination, TTL and a copy of the message. */
export interface SentIcmp { dst: number; ttl: number; icmp: Uint8Array }

/** Destinations are IPv4 numbers. */
export class MemoryIcmp extends MemorySocket<number, SentIcmp> implements IcmpNetwork {
  /** Records each message (or refuses it, as configured); returns how many left. */
  send(spans: Spans, first: number, count: number, ttl: number, onRefused: (index: number, errnoName: string) => void): number {
    return this.sendEach(first, count, spans.lengths, onRefused, (i) => spans.addrs[2 * i], (i, dst) => ({ dst, ttl, icmp: spanCopy(spans, i) }));
  }
}

/** One ICMPv6 message the IPv6 relay sent: destination (as text), hop limit and a copy of the message. */
export interface SentIcmp6 { dst: string; hops: number; icmp: Uint8Array }

/** Destinations are IPv6 addresses as text. */
export class MemoryIcmp6 extends MemorySocket<string, SentIcmp6> implements Icmp6Network {
  /** Records each message (or refuses it, as configured); returns how many left. */
  send(spans: Span6List, first: number, count: number, onRefused: (index: number, errnoName: string) => void): number {
    return this.sendEach(first, count, spans.lengths, onRefused, (i) => formatIPv6(spans.dsts, 16 * i), (i, dst) => ({ dst, hops: spans.hops[i], icmp: spanCopy(spans, i) }));
  }
}
