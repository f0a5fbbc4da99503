// The overlay's view of its UDP socket(s): one interface that the plain socket, the dual IPv4/IPv6 underlay (underlay6.ts) and test fakes all provide.
import type { RxBatch, Spans } from '../io/batch.js';
import type { PollLoop } from '../io/poll-loop.js';

/** What the overlay needs from its UDP socket: batch sends (GSO where the socket can) and batch reads (one entry per datagram). */
export interface UdpNetwork {
  /**
   * Sends spans[first, first+count) to addrs[2i]:addrs[2i+1], one datagram
   * each (the socket layer may use UDP GSO for runs; the wire sees the
   * same datagrams). onRefused for each that did not leave.
   */
  send(spans: Spans, first: number, count: number, onRefused: (index: number, errnoName: string) => void): number;
  /** Fills `batch` with one entry per datagram (a UDP GRO buffer already split); readiness from `loop` when given. */
  startReading(batch: RxBatch, onBatch: (batch: RxBatch) => void, onError: (err: Error) => void, loop?: PollLoop): void;
  /** Stops delivering batches. Idempotent. */
  stopReading(): void;
  /** Stops reading and closes the socket. Idempotent. */
  close(): void;
}
