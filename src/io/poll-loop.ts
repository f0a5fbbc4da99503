// How the data plane waits for packets while traffic flows: in its own
// short poll(2) slices, on the main thread, beside Node's event loop.
//
// Why: on this project's VM (2 vCPUs whose idle is a real halt:
// haltpoll with guest_halt_poll_ns=0), a daemon that sleeps until each
// packet wakes late: ping through the overlay took 2.0x socat's RTT with
// libuv waking it. A data plane that, while packets flow, waits in poll()
// slices of 1 ms and goes back to libuv between them measured 1.56-1.59x
// in the same runs (npm run bench:rtt-floor, docs/benchmarks.md). A
// blocking poll() with no slices measured no better than libuv: the gain
// is in staying awake while traffic flows. It costs up to ~1,000 short
// wake-ups a second (about 2-3 % of a core per daemon at 100 packets a
// second) until traffic stops, and nothing after.
//
// Two modes:
// - cold (no packet for LINGER_MS): each fd has a libuv poll handle, as
//   without a loop; the thread sleeps in libuv's epoll.
// - hot (from the first packet on): the handles are stopped, and one
//   setImmediate turn at a time waits in poll() on the fds, SLICE_MS at a
//   time, handling what is ready, for at most BURST_MS before giving libuv
//   an iteration (its I/O, timers, signals; microtasks run between
//   turns). A turn that finds nothing ends at once.
import { C, isSystemError, native, NativePoller } from '../native/addon.js';

/** Back to sleeping in libuv after this long without a packet. */
export const LINGER_MS = 1000;
/** One poll() waits at most this long while hot. */
const SLICE_MS = 1;
/** Longest run of back-to-back waits before libuv gets an iteration. */
const BURST_MS = 5;
/** waitReadable takes at most this many fds. */
const MAX_WATCHED = 31;

/** Called when a watched fd is readable (status 0) or when waiting on it failed (status -errno), like a libuv poll callback. */
export type ReadableCallback = (status: number) => void;

interface Watched {
  fd: number;
  onReadable: ReadableCallback;
  /** The libuv handle that wakes the loop while it is cold. */
  poller: NativePoller;
}

/**
 * Waits for readable fds for a data plane: through libuv while idle, in
 * its own poll() slices while packets flow (see the file comment). An fd
 * is watched until the function {@link PollLoop.watch} returned is called.
 */
export class PollLoop {
  private watched: Watched[] = [];
  private fds: Int32Array = new Int32Array(0);
  private hot = false;
  private turn?: NodeJS.Immediate;
  private lastPacketAt = 0;

  /** Fds being watched now. */
  get watching(): number {
    return this.watched.length;
  }

  /** Whether the loop is waiting in its own poll() (traffic flowed within LINGER_MS). */
  get isHot(): boolean {
    return this.hot;
  }

  /**
   * Calls `onReadable(0)` whenever `fd` is readable (or failed: the read
   * then says why). Returns the function that stops watching it
   * (idempotent).
   * @throws RangeError past 31 fds.
   */
  watch(fd: number, onReadable: ReadableCallback): () => void {
    if (this.watched.length >= MAX_WATCHED) throw new RangeError(`a PollLoop watches at most ${MAX_WATCHED} fds`);
    const poller = new native.Poller(fd, (status) => {
      onReadable(status);
      this.heat();
    });
    const w: Watched = { fd, onReadable, poller };
    if (!this.hot) poller.start(C.POLL_READABLE);
    this.update([...this.watched, w]);
    return () => {
      if (!this.watched.includes(w)) return;
      w.poller.close();
      this.update(this.watched.filter((x) => x !== w));
    };
  }

  // The array is replaced, never changed: a callback that unwatches during
  // a turn does not shift the ones after it.
  private update(watched: Watched[]): void {
    this.watched = watched;
    this.fds = Int32Array.from(watched, (w) => w.fd);
    if (watched.length === 0) this.cool();
  }

  /** A packet came: wait in our own slices from now on. */
  private heat(): void {
    this.lastPacketAt = performance.now();
    if (this.hot || this.watched.length === 0) return;
    this.hot = true;
    for (const w of this.watched) w.poller.stop();
    this.turn = setImmediate(this.runTurn);
  }

  /** Traffic stopped (or nothing is watched): sleep in libuv again. */
  private cool(): void {
    if (this.turn) clearImmediate(this.turn);
    this.turn = undefined;
    if (!this.hot) return;
    this.hot = false;
    for (const w of this.watched) w.poller.start(C.POLL_READABLE);
  }

  private readonly runTurn = (): void => {
    this.turn = undefined;
    const until = performance.now() + BURST_MS;
    for (;;) {
      const { watched, fds } = this;
      if (watched.length === 0) return;
      let ready: number;
      try {
        ready = native.waitReadable(fds, SLICE_MS);
      } catch (err) {
        // poll(2) itself failed (ENOMEM): every watcher hears it, as from libuv.
        const status = -(isSystemError(err) ? Math.abs(err.errno) : 12);
        for (const w of watched) w.onReadable(status);
        break;
      }
      if (ready === 0) break;
      for (let i = 0; i < watched.length; i++) {
        if (ready & (1 << i) && this.watched.includes(watched[i])) watched[i].onReadable(0);
      }
      this.lastPacketAt = performance.now();
      if (this.lastPacketAt > until) break;
    }
    if (this.watched.length === 0 || !this.hot) return;
    if (performance.now() - this.lastPacketAt > LINGER_MS) this.cool();
    else this.turn = setImmediate(this.runTurn);
  };
}
