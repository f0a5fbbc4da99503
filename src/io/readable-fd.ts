// A non-blocking fd read in batches on readiness, and closed once: what
// every socket of the project shares (the overlay's UDP sockets, the
// relays' raw sockets). Subclasses say how one batch is read.
import { native } from '../native/addon.js';
import { RxBatch } from './batch.js';
import { FdReader } from './fd-reader.js';
import { PollLoop } from './poll-loop.js';

/** An fd that delivers batches to a handler on readiness; `readBatch` is the subclass's syscall wrapper. */
export abstract class ReadableFd {
  private readonly reader: FdReader;
  private closed = false;

  /** Takes ownership of `fd` (already created non-blocking and configured). */
  constructor(readonly fd: number) {
    this.reader = new FdReader(fd, (b, deliver) => this.readBatch(b, deliver));
  }

  /** Fills `batch` from the fd (entries set, count returned); batches that fill early go to `deliver`. */
  protected abstract readBatch(batch: RxBatch, deliver: (batch: RxBatch) => void): number;

  /**
   * Calls `onBatch` once per readiness event with every packet waiting (up to the batch's capacity).
   * `onError` gets a TunDriverError `TUN_ERR_IO` when the fd fails for good; reading then stops.
   * With `loop`, readiness comes from that {@link PollLoop} instead of a libuv poll handle.
   */
  startReading(batch: RxBatch, onBatch: (batch: RxBatch) => void, onError: (err: Error) => void, loop?: PollLoop): void {
    this.reader.start(batch, onBatch, onError, loop);
  }

  /** Stops delivering batches. Idempotent. */
  stopReading(): void {
    this.reader.stop();
  }

  /** Stops reading and closes the fd. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.stop();
    native.close(this.fd);
  }
}
