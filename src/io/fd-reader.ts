// Drives batch reads from a non-blocking fd: one libuv readiness event ->
// one batch read (as many packets as are waiting, up to capacity) -> one
// handler call. Shared by TUN devices and datagram sockets; `read` is the
// batch syscall wrapper that fills the batch (readBatch or recvBatch). A
// reader whose one read can yield more packets than a batch holds (a TUN
// super-packet split into segments) hands full batches to `deliver` as it
// goes and returns what is left.
import { C, NativePoller, native } from '../native/addon.js';
import { RxBatch } from './batch.js';
import { errnoName } from '../errors.js';

export type BatchRead = (batch: RxBatch, deliver: (batch: RxBatch) => void) => number;

export class FdReader {
  private poller?: NativePoller;

  constructor(private readonly fd: number, private readonly read: BatchRead) {}

  start(batch: RxBatch, onBatch: (batch: RxBatch) => void, onError: (err: Error) => void): void {
    this.stop();
    const poller = new native.Poller(this.fd, (status) => {
      // A failing fd (its device deleted, say) fails again at once: stop
      // reading and let the owner decide, instead of reporting forever.
      if (status < 0) {
        this.stop();
        onError(Object.assign(new Error(`poll failed on fd ${this.fd} (${errnoName(status)})`), { errno: status }));
        return;
      }
      let n: number;
      try {
        n = this.read(batch, onBatch);
      } catch (err) {
        this.stop();
        onError(err as Error);
        return;
      }
      batch.count = n;
      if (n > 0) onBatch(batch);
    });
    poller.start(C.POLL_READABLE);
    this.poller = poller;
  }

  stop(): void {
    this.poller?.close();
    this.poller = undefined;
  }
}
