// How the data plane waits for packets while traffic flows: in its own
// short poll(2) slices, on the main thread, beside Node's event loop.
//
// Why: on this project's VM (2 vCPUs whose idle is a real halt:
// haltpoll with guest_halt_poll_ns=0), a daemon that sleeps until each
// packet wakes late, and ping through the overlay paid for it against
// socat. A data plane that, while packets flow, waits in poll() slices of
// 1 ms and goes back to libuv between them wakes in time; a blocking poll()
// with no slices measured no better than libuv: the gain is in staying
// awake while traffic flows. It costs up to ~1,000 short wake-ups a second
// until traffic stops, and nothing after. (The figures: docs/benchmarks.md,
// `bench:rtt-floor` and `bench:mid-rate`.)
//
// Staying awake pays only while packets are few. Under load the slices
// cost throughput: the loop woke for nearly every packet (small batches,
// one poll(2) per wake and empty polls between), where libuv, woken less
// often, read bigger batches, for less TCP and more CPU per GB. So an
// adaptive loop (the default) measures its own wake rate and, above
// BUSY_WAKES_PER_S, waits in libuv like the plain mode until the rate falls
// below CALM_WAKES_PER_S (wait-policy.ts).
//
// The answer spin (hot only). A thread asleep in poll() wakes late on
// this VM (its vCPU halted; waking it takes an IPI through the host), and
// a ping through two daemons meets four such wakes. One can be avoided:
// the sending daemon, having forwarded a request, waits for the answer,
// which comes back within a round trip. So after handling a wake on an fd
// whose wakes have been followed by another packet within SPIN_MS, the
// loop polls without sleeping (poll(0), then sched_yield so that a task
// woken on this CPU runs at once) for up to SPIN_MS. Each fd learns its
// own odds (an average over its recent spins, with one spin every
// EXPLORE_MS taken anyway so the odds can recover): the node
// that sent a request spins after TUN wakes, the node that answers learns
// that nothing follows its answer and does not spin. Spinning never takes
// more than SPIN_BUDGET of the time in a rate window, and never while
// busy (under load the loop is on libuv's handles).
//
// Modes:
// - idle (no packet for LINGER_MS): each fd has a libuv poll handle, as
//   without a loop; the thread sleeps in libuv's epoll.
// - hot (from the first packet on): the handles are stopped, and one
//   setImmediate turn at a time waits in poll() on the fds, SLICE_MS at a
//   time, handling what is ready, for at most BURST_MS before giving libuv
//   an iteration (its I/O, timers, signals; microtasks run between
//   turns). A turn that finds nothing ends at once.
// - busy (adaptive only, a wake rate above BUSY_WAKES_PER_S): back on the
//   libuv handles while the traffic is heavy.
import { C, isSystemError, native, NativePoller } from '../native/addon.js';
import { freshOdds, learnSpin, SpinOdds, WakeRate, wantsSpin } from './wait-policy.js';

export { BUSY_WAKES_PER_S, CALM_WAKES_PER_S, SPIN_BUDGET } from './wait-policy.js';

/** Back to sleeping in libuv after this long without a packet. */
export const LINGER_MS = 1000;
/** One poll() waits at most this long while hot. */
const SLICE_MS = 1;
/** How long the answer spin polls without sleeping after a wake, at most. */
export const SPIN_MS = 0.5;
/** Longest run of back-to-back waits before libuv gets an iteration. */
const BURST_MS = 5;
/** waitReadable takes at most this many fds. */
const MAX_WATCHED = 31;

/** How a loop is waiting now, and what it has done (for `status`). */
export interface PollLoopStats {
  mode: 'idle' | 'hot' | 'busy';
  adaptive: boolean;
  /** Readiness events handled (an fd found readable), in any mode. */
  wakes: number;
  /** Answer spins (polls without sleeping after a wake), how many caught a packet, and the milliseconds spent in them. */
  spins: number;
  spinHits: number;
  spinMs: number;
  /** poll(2) slices waited while hot, and how many of them found nothing. */
  slices: number;
  emptyPolls: number;
  /** Times the loop went hot, and (adaptive) times load sent it to libuv. */
  heated: number;
  busied: number;
  /** Wakes per second over the last full window. */
  wakesPerSecond: number;
}

/** Called when a watched fd is readable (status 0) or when waiting on it failed (status -errno), like a libuv poll callback. */
export type ReadableCallback = (status: number) => void;

interface Watched extends SpinOdds {
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
  private readonly rate: WakeRate;
  private readonly counts = { wakes: 0, spins: 0, spinHits: 0, spinMs: 0, slices: 0, emptyPolls: 0, heated: 0, busied: 0 };

  /**
   * `adaptive` (the default): wait in libuv while the wake rate is above
   * BUSY_WAKES_PER_S. Without it the loop stays hot for as long as packets flow.
   */
  constructor(readonly adaptive = true) {
    this.rate = new WakeRate(adaptive);
  }

  /** How the loop waits now, and its counters. */
  stats(): PollLoopStats {
    const { spinMs, ...counts } = this.counts;
    return { mode: this.rate.busy ? 'busy' : this.hot ? 'hot' : 'idle', adaptive: this.adaptive, ...counts, wakesPerSecond: this.rate.wakesPerSecond, spinMs: Math.round(spinMs * 10) / 10 };
  }

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
      this.woke(1);
      if (!this.rate.busy) this.heat();
    });
    const w: Watched = { fd, onReadable, poller, ...freshOdds() };
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

  /** Counts `n` wakes; at the end of a window, the load may make the loop busy (adaptive). */
  private woke(n: number): void {
    this.counts.wakes += n;
    if (this.rate.woke(n, performance.now()) === 'busy') {
      this.counts.busied++;
      this.cool();
    }
  }

  /** A packet came: wait in our own slices from now on. */
  private heat(): void {
    this.lastPacketAt = performance.now();
    if (this.hot || this.watched.length === 0) return;
    this.hot = true;
    this.counts.heated++;
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
    // Fds whose wake in the last pass asked for an answer spin (bit i for spinOver[i]).
    let spinFor = 0;
    let spinOver = this.watched;
    for (;;) {
      const { watched, fds } = this;
      if (watched.length === 0) return;
      // A callback that (un)watched an fd renumbered the bits: no spin this pass.
      let ready = spinFor === 0 || spinOver !== watched ? 0 : this.spin(fds, spinFor, watched);
      if (ready === 0) {
        this.counts.slices++;
        try {
          ready = native.waitReadable(fds, SLICE_MS);
        } catch (err) {
          // poll(2) itself failed (ENOMEM): every watcher hears it, as from libuv.
          const status = -(isSystemError(err) ? Math.abs(err.errno) : 12);
          for (const w of watched) w.onReadable(status);
          break;
        }
        if (ready === 0) {
          this.counts.emptyPolls++;
          break;
        }
      }
      let n = 0;
      let handled = 0;
      for (let i = 0; i < watched.length; i++) {
        if (ready & (1 << i) && this.watched.includes(watched[i])) {
          watched[i].onReadable(0);
          n++;
          handled |= 1 << i;
        }
      }
      this.lastPacketAt = performance.now();
      spinFor = 0;
      spinOver = watched;
      for (let i = 0; handled !== 0 && i < watched.length; i++) {
        if (handled & (1 << i) && wantsSpin(watched[i], this.lastPacketAt, this.rate)) spinFor |= 1 << i;
      }
      this.woke(n);
      if (!this.hot || this.lastPacketAt > until) break;
    }
    if (this.watched.length === 0 || !this.hot) return;
    if (performance.now() - this.lastPacketAt > LINGER_MS) this.cool();
    else this.turn = setImmediate(this.runTurn);
  };

  /**
   * The answer spin: polls `fds` without sleeping for up to SPIN_MS,
   * yielding the CPU between polls. Returns the ready mask (0 if nothing
   * came), and updates the odds of the fds in `spinFor` (`watched`'s bits).
   */
  private spin(fds: Int32Array, spinFor: number, watched: Watched[]): number {
    const start = performance.now();
    const end = start + SPIN_MS;
    let ready = 0;
    let now = start;
    try {
      while ((ready = native.waitReadable(fds, 0)) === 0 && (now = performance.now()) < end) native.schedYield();
    } catch {
      // poll(2) failed: the slice that follows polls again and reports it.
      ready = 0;
    }
    const spent = (ready === 0 ? now : performance.now()) - start;
    this.counts.spins++;
    this.counts.spinMs += spent;
    this.rate.spinMs += spent;
    if (ready !== 0) this.counts.spinHits++;
    for (let i = 0; i < watched.length; i++) {
      if (spinFor & (1 << i)) learnSpin(watched[i], ready !== 0);
    }
    return ready;
  }
}
