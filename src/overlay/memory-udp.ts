// An in-memory UdpNetwork for unit tests, the fuzz and the benchmarks of
// the overlay's engine (src/io/memory-socket.ts says what it records and
// refuses).
import type { Spans } from '../io/batch.js';
import { MemorySocket, spanCopy } from '../io/memory-socket.js';
import type { UdpNetwork } from './udp-network.js';

/** One datagram the engine sent: its endpoint and a copy of its payload. */
export interface SentDatagram {
  addr: number;
  port: number;
  packet: Uint8Array;
}

/** Destinations are IPv4 numbers (the `refuse` map's keys). */
export class MemoryUdp extends MemorySocket<number, SentDatagram> implements UdpNetwork {
  /** Records each message (or refuses it, as configured); returns how many left. */
  send(spans: Spans, first: number, count: number, onRefused: (index: number, errnoName: string) => void): number {
    return this.sendEach(first, count, spans.lengths, onRefused, (i) => spans.addrs[2 * i], (i, addr) => ({ addr, port: spans.addrs[2 * i + 1], packet: spanCopy(spans, i) }));
  }
}
