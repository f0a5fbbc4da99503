// An in-memory TUN double for unit tests of packet logic: tests inject the
// packets "the kernel" would hand to the daemon and inspect what the daemon
// wrote back. Same batch contract as the real device; never used by the
// product itself.
import { RxBatch, Spans } from '../io/batch.js';
import { PacketDevice, WriteResult } from './device.js';

/**
 * An in-memory {@link PacketDevice} for unit tests of packet logic: inject what the kernel would hand over,
 * inspect {@link MemoryTun.written}. Never touches the system; never throws.
 */
export class MemoryTun implements PacketDevice {
  /** Packets the code under test wrote into the device, oldest first. */
  readonly written: Uint8Array[] = [];
  private readonly pending: Uint8Array[] = [];
  private reader?: { batch: RxBatch; onBatch: (b: RxBatch) => void };
  private scheduled = false;
  private closed = false;
  /** Writes larger than this are refused, like a real TUN over its MTU + headroom. */
  maxPacket = 65535;

  /** `name` is what {@link PacketDevice.name} reports. */
  constructor(readonly name = 'memtun0') {}

  /** Queues packets for the reader, delivered in batches on a later tick. */
  inject(...packets: Uint8Array[]): void {
    for (const p of packets) this.pending.push(p.slice());
    this.schedule();
  }

  startReading(batch: RxBatch, onBatch: (b: RxBatch) => void): void {
    this.reader = { batch, onBatch };
    this.schedule();
  }

  /** Stops delivering batches; injected packets stay queued. */
  stopReading(): void {
    this.reader = undefined;
  }

  readNow(batch: RxBatch): number {
    batch.clear();
    while (batch.count < batch.slots && this.pending.length > 0) {
      const p = this.pending.shift()!;
      batch.append(p.subarray(0, batch.slotRoom));
    }
    return batch.count;
  }

  writeBatch(batch: Spans): WriteResult {
    let failed = 0;
    for (let i = 0; i < batch.count; i++) {
      const len = batch.lengths[i];
      if (this.closed || len === 0 || len > this.maxPacket) failed++;
      else this.written.push(batch.buf.slice(batch.offsets[i], batch.offsets[i] + len));
    }
    return { written: batch.count - failed, failed };
  }

  /** Stops reading; later writes are refused (counted as failed). */
  close(): void {
    this.closed = true;
    this.reader = undefined;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      while (this.reader && this.pending.length > 0) {
        const { batch, onBatch } = this.reader;
        this.readNow(batch);
        onBatch(batch);
      }
    });
  }
}
