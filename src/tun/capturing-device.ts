// A PacketDevice that records every packet read from and written to the
// device it wraps into a pcap file (--pcap). Neither daemon changes: they
// are handed this instead of the TUN itself.
import { RxBatch, Spans } from '../io/batch.js';
import { PcapWriter } from '../io/pcap-writer.js';
import { PollLoop } from '../io/poll-loop.js';
import { PacketDevice, WriteResult } from './device.js';

export class CapturingDevice implements PacketDevice {
  constructor(private readonly inner: PacketDevice, private readonly pcap: PcapWriter) {}

  get name(): string {
    return this.inner.name;
  }

  startReading(batch: RxBatch, onBatch: (batch: RxBatch) => void, onError?: (err: Error) => void, loop?: PollLoop): void {
    this.inner.startReading(batch, (b) => {
      this.recordRead(b);
      onBatch(b);
    }, onError, loop);
  }

  stopReading(): void {
    this.inner.stopReading();
  }

  readNow(batch: RxBatch): number {
    const n = this.inner.readNow(batch);
    this.recordRead(batch);
    return n;
  }

  writeBatch(spans: Spans): WriteResult {
    for (let i = 0; i < spans.count; i++) this.pcap.record(spans.buf, spans.offsets[i], spans.lengths[i]);
    return this.inner.writeBatch(spans);
  }

  close(): void {
    this.inner.close();
  }

  private recordRead(b: RxBatch): void {
    for (let i = 0; i < b.count; i++) this.pcap.record(b.buf, b.offset(i), b.sizes[i]);
  }
}
