// A non-blocking datagram socket (UDP or raw IP) driven in batches:
// recvmmsg on readiness, sendmmsg for spans. The relay's raw ICMP socket
// and the overlay's UDP socket are both this, set up differently.
import { isSystemError, native } from '../native/addon.js';
import { PacketBatch, Spans } from './batch.js';
import { FdReader } from './fd-reader.js';

export class DatagramSocket {
  private readonly reader: FdReader;
  private closed = false;

  /** Takes ownership of `fd` (already created non-blocking and configured). */
  constructor(readonly fd: number) {
    this.reader = new FdReader(fd, (b) => native.recvBatch(fd, b.buf, b.slotSize, b.headroom, b.capacity, b.sizes, b.addrs, 0));
  }

  /**
   * Sends spans[first, first+count) to addrs[2i]:addrs[2i+1]. Calls
   * onRefused(i, errnoName) for every packet that did not leave (a full
   * send buffer refuses the rest with EAGAIN). Returns how many left.
   */
  send(spans: Spans, first: number, count: number, onRefused: (index: number, errnoName: string) => void): number {
    let sent = 0;
    let at = first;
    const end = first + count;
    while (at < end) {
      let n: number;
      try {
        n = native.sendBatch(this.fd, spans.buf, spans.offsets, spans.lengths, spans.addrs, end - at, at);
      } catch (err) {
        onRefused(at, isSystemError(err) ? err.code : 'EIO');
        at++;
        continue;
      }
      if (n === 0) {
        for (; at < end; at++) onRefused(at, 'EAGAIN');
        break;
      }
      sent += n;
      at += n;
    }
    return sent;
  }

  /**
   * UDP GSO: sends spans[first, first+count) — each `segment` bytes except
   * a shorter last one — as `count` datagrams to addr:port in one syscall.
   * Returns count, or 0 when the send buffer is full. Throws (EINVAL, EIO)
   * where the kernel cannot segment for this socket or route.
   */
  sendSegments(spans: Spans, first: number, count: number, segment: number, addr: number, port: number): number {
    return native.sendSegments(this.fd, spans.buf, spans.offsets, spans.lengths, first, count, addr, port, segment);
  }

  startReading(batch: PacketBatch, onBatch: (batch: PacketBatch) => void, onError: (err: Error) => void): void {
    this.reader.start(batch, onBatch, onError);
  }

  stopReading(): void {
    this.reader.stop();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.stop();
    native.close(this.fd);
  }
}
