// What the relay and overlay need from a TUN: batch reads on readiness and
// batch writes. The Linux device (linux-tun.ts) and the in-memory double
// (memory-tun.ts) both implement it.
import { RxBatch, Spans } from '../io/batch.js';
import { PollLoop } from '../io/poll-loop.js';

/** What a batch write did: packets accepted and refused (never thrown). */
export interface WriteResult {
  /** Packets the device accepted. */
  written: number;
  /** Packets it refused (each counted as a drop by the caller). */
  failed: number;
}

/**
 * What the engines need from a TUN: batch reads on readiness and batch writes.
 * Implemented by {@link LinuxTun} and the in-memory {@link MemoryTun}.
 */
export interface PacketDevice {
  /** The interface name, e.g. "tun19". */
  readonly name: string;
  /**
   * Calls `onBatch` once per readiness event with `batch` filled (count,
   * sizes) with every packet that was waiting, up to its capacity.
   * A device on a real fd takes its readiness from `loop` when given
   * (io/poll-loop.ts); the in-memory double ignores it.
   */
  startReading(batch: RxBatch, onBatch: (batch: RxBatch) => void, onError?: (err: Error) => void, loop?: PollLoop): void;
  /** Stops delivering batches. Idempotent. */
  stopReading(): void;
  /** Reads what is waiting now, without waiting; returns batch.count. */
  readNow(batch: RxBatch): number;
  /** Writes batch.offsets/lengths[0..count) as one packet each. */
  writeBatch(batch: Spans): WriteResult;
  /** Stops reading and releases the device. Idempotent. */
  close(): void;
}
