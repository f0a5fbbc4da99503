// The relay's network side: where echo requests leave and replies and
// errors come back. RawIcmpSocket is the Linux implementation; unit tests
// use a fake with the same contract.
import { RxBatch, Spans } from '../io/batch.js';
import { PollLoop } from '../io/poll-loop.js';

/** What the relay needs from its raw ICMP socket: batch sends and reads. */
export interface IcmpNetwork {
  /**
   * Sends spans[first, first+count) — each an ICMP message (no IP header)
   * to addrs[2i] — with IP TTL `ttl`. Calls onRefused(i, errnoName) for
   * every packet that did not leave. Returns how many left.
   */
  send(spans: Spans, first: number, count: number, ttl: number, onRefused: (index: number, errnoName: string) => void): number;
  /** Delivers received IPv4 packets (header included) batch by batch; readiness from `loop` when given. */
  startReading(batch: RxBatch, onBatch: (batch: RxBatch) => void, onError: (err: Error) => void, loop?: PollLoop): void;
  /** Stops delivering batches. Idempotent. */
  stopReading(): void;
  /** Stops reading and closes the socket. Idempotent. */
  close(): void;
}
