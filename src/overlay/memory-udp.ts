// An in-memory UdpNetwork for unit tests, the fuzz and the benchmarks of
// the overlay's engine (beside MemoryTun, src/tun/memory-tun.ts): it
// records what the engine sends and refuses what it is told to, as the
// kernel may. Never touches the system; never used by the product itself.
import type { Spans } from '../io/batch.js';
import type { UdpNetwork } from './udp-network.js';

/** One datagram the engine sent: its endpoint and a copy of its payload. */
export interface SentDatagram {
  addr: number;
  port: number;
  packet: Uint8Array;
}

export class MemoryUdp implements UdpNetwork {
  /** What was sent, oldest first (empty when `record` is off). */
  readonly sent: SentDatagram[] = [];
  /** How many datagrams left, recorded or not. */
  sentCount = 0;
  /** Destinations (IPv4 numbers) whose sends fail, with the errno name the kernel would give. */
  readonly refuse = new Map<number, string>();
  /** Also fails span i when this returns an errno name (the fuzz refuses by length). */
  refuseWhen?: (spans: Spans, i: number) => string | undefined;

  /** `record: false` keeps no copies (benchmarks: nothing allocated per datagram). */
  constructor(private readonly record = true) {}

  send(spans: Spans, first: number, count: number, onRefused: (index: number, errnoName: string) => void): number {
    let n = 0;
    for (let i = first; i < first + count; i++) {
      const errno = this.refuse.get(spans.addrs[2 * i]) ?? this.refuseWhen?.(spans, i);
      if (errno) {
        onRefused(i, errno);
        continue;
      }
      if (this.record) this.sent.push({ addr: spans.addrs[2 * i], port: spans.addrs[2 * i + 1], packet: spans.buf.slice(spans.offsets[i], spans.offsets[i] + spans.lengths[i]) });
      n++;
    }
    this.sentCount += n;
    return n;
  }

  startReading(): void {}
  stopReading(): void {}
  close(): void {}
}
