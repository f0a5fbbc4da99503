// In-memory raw ICMP sockets for unit tests and the fuzz of the relay
// (beside MemoryTun, src/tun/memory-tun.ts): they record what the relay
// sends and refuse what they are told to, as the kernel may. Replies are
// handed to the relay by the test (relay.fromNetwork). Never touch the
// system; never used by the product itself.
import type { Span6List, Spans } from '../io/batch.js';
import { formatIPv6 } from '../packet/addr6.js';
import type { IcmpNetwork } from './network.js';
import type { Icmp6Network } from './network6.js';

/** What both record and refuse: `D` is how a destination is named (an IPv4 number, IPv6 text). */
abstract class MemoryIcmpBase<D, S> {
  /** What was sent, oldest first (empty when `record` is off). */
  readonly sent: S[] = [];
  /** How many messages left, recorded or not. */
  sentCount = 0;
  /** Destinations whose sends fail, with the errno name the kernel would give. */
  readonly refuse = new Map<D, string>();
  /** Also fails a message of this length when it returns an errno name (the fuzz refuses by length). */
  refuseWhen?: (length: number) => string | undefined;

  /** `record: false` keeps no copies (the fuzz: nothing kept per message). */
  constructor(private readonly record = true) {}

  protected sendEach(first: number, count: number, onRefused: (index: number, errnoName: string) => void, dst: (i: number) => D, record: (i: number, dst: D) => S, length: (i: number) => number): number {
    let n = 0;
    for (let i = first; i < first + count; i++) {
      const d = dst(i);
      const errno = this.refuse.get(d) ?? this.refuseWhen?.(length(i));
      if (errno) {
        onRefused(i, errno);
        continue;
      }
      if (this.record) this.sent.push(record(i, d));
      n++;
    }
    this.sentCount += n;
    return n;
  }

  startReading(): void {}
  stopReading(): void {}
  close(): void {}
}

/** One ICMP message the IPv4 relay sent: destination, TTL and a copy of the message. */
export interface SentIcmp { dst: number; ttl: number; icmp: Uint8Array }

export class MemoryIcmp extends MemoryIcmpBase<number, SentIcmp> implements IcmpNetwork {
  send(spans: Spans, first: number, count: number, ttl: number, onRefused: (index: number, errnoName: string) => void): number {
    const message = (i: number): Uint8Array => spans.buf.slice(spans.offsets[i], spans.offsets[i] + spans.lengths[i]);
    return this.sendEach(first, count, onRefused, (i) => spans.addrs[2 * i], (i, dst) => ({ dst, ttl, icmp: message(i) }), (i) => spans.lengths[i]);
  }
}

/** One ICMPv6 message the IPv6 relay sent: destination (as text), hop limit and a copy of the message. */
export interface SentIcmp6 { dst: string; hops: number; icmp: Uint8Array }

export class MemoryIcmp6 extends MemoryIcmpBase<string, SentIcmp6> implements Icmp6Network {
  send(spans: Span6List, first: number, count: number, onRefused: (index: number, errnoName: string) => void): number {
    const message = (i: number): Uint8Array => spans.buf.slice(spans.offsets[i], spans.offsets[i] + spans.lengths[i]);
    return this.sendEach(first, count, onRefused, (i) => formatIPv6(spans.dsts, 16 * i), (i, dst) => ({ dst, hops: spans.hops[i], icmp: message(i) }), (i) => spans.lengths[i]);
  }
}
