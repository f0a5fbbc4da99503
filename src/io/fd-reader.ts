// Drives batch reads from a non-blocking fd: one readiness event (from a
// libuv poll handle, or from a PollLoop) -> one batch read (as many
// packets as are waiting, up to capacity) -> one handler call. Shared by TUN devices and datagram sockets; `read` is the
// batch syscall wrapper that fills the batch (readBatch or recvBatch). A
// reader whose one read can yield more packets than a batch holds (a TUN
// super-packet split into segments) hands full batches to `deliver` as it
// goes and returns what is left.
import { C, NativePoller, native } from '../native/addon.js';
import { RxBatch } from './batch.js';
import { PollLoop } from './poll-loop.js';
import { errnoName, TunDriverError } from '../errors.js';

/** A read that failed for good, as the project's own error (code TUN_ERR_IO, with the errno's name when there is one). */
function ioError(fd: number, err: unknown): TunDriverError {
  if (err instanceof TunDriverError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  return new TunDriverError('TUN_ERR_IO', `reading fd ${fd} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err, errnoName: typeof code === 'string' ? code : undefined });
}

export type BatchRead = (batch: RxBatch, deliver: (batch: RxBatch) => void) => number;

export class FdReader {
  private poller?: NativePoller;
  private unwatch?: () => void;

  constructor(private readonly fd: number, private readonly read: BatchRead) {}

  /**
   * Reads a batch on every readiness event: from `loop` when given (the
   * data plane's own poll(), io/poll-loop.ts), else from a libuv poll handle.
   */
  start(batch: RxBatch, onBatch: (batch: RxBatch) => void, onError: (err: Error) => void, loop?: PollLoop): void {
    this.stop();
    const onReadiness = (status: number): void => {
      // A failing fd (its device deleted, say) fails again at once: stop
      // reading and let the owner decide, instead of reporting forever.
      if (status < 0) {
        this.stop();
        onError(new TunDriverError('TUN_ERR_IO', `poll failed on fd ${this.fd} (${errnoName(status)})`, { errnoName: errnoName(status) }));
        return;
      }
      let n: number;
      try {
        n = this.read(batch, onBatch);
      } catch (err) {
        this.stop();
        onError(ioError(this.fd, err));
        return;
      }
      batch.count = n;
      if (n > 0) onBatch(batch);
    };
    if (loop) {
      this.unwatch = loop.watch(this.fd, onReadiness);
      return;
    }
    const poller = new native.Poller(this.fd, onReadiness);
    poller.start(C.POLL_READABLE);
    this.poller = poller;
  }

  stop(): void {
    this.poller?.close();
    this.poller = undefined;
    this.unwatch?.();
    this.unwatch = undefined;
  }
}
