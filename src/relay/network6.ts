// The IPv6 relay's network side: where echo requests leave and replies and
// errors come back. RawIcmp6Socket is the Linux implementation; unit tests
// use a fake with the same contract.
import { RxBatch, Span6List } from '../io/batch.js';
import { PollLoop } from '../io/poll-loop.js';

/** What the IPv6 relay needs from its raw ICMPv6 socket: batch sends and reads. */
export interface Icmp6Network {
  /**
   * Sends spans[first, first+count) — each an ICMPv6 message (no IPv6
   * header; the kernel fills in the checksum) — to its destination with its
   * hop limit. Calls onRefused(i, errnoName) for every message that did not
   * leave. Returns how many left.
   */
  send(spans: Span6List, first: number, count: number, onRefused: (index: number, errnoName: string) => void): number;
  /**
   * Delivers received ICMPv6 messages as whole IPv6 packets, batch by
   * batch: a raw socket gets no IPv6 header, so the network side writes one
   * from what the kernel reported (source, destination, hop limit).
   */
  startReading(batch: RxBatch, onBatch: (batch: RxBatch) => void, onError: (err: Error) => void, loop?: PollLoop): void;
  /** Stops delivering batches. Idempotent. */
  stopReading(): void;
  /** Stops reading and closes the socket. Idempotent. */
  close(): void;
}
