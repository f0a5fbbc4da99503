// --io-wait, shared by the daemons: how the data plane waits for packets.
import { Command } from 'commander';
import { PollLoop } from '../io/poll-loop.js';
import type { IoWaitStatus } from '../control/daemon-status.js';
import { usageError } from './output.js';

/** The ways to wait: our own poll() beside the event loop while packets are few (auto) or always (poll), or one libuv callback per fd. */
export type IoWait = 'auto' | 'poll' | 'libuv';

/** Adds `--io-wait auto|poll|libuv` (default auto). */
export function addIoWaitOption(cmd: Command): Command {
  return cmd.option('--io-wait <how>', "how the data plane waits for packets: auto (its own poll(2) slices while packets are few, with a short spin for an answer expected within 0.5 ms, for latency; libuv readiness under load, for throughput), poll (its own slices whenever packets flow) or libuv (a readiness callback per fd)", 'auto');
}

/**
 * Checks the flag (call it before changing anything on the system).
 * @throws TunDriverError `TUN_ERR_USAGE` for anything but auto, poll or libuv.
 */
export function parseIoWait(flag: string): IoWait {
  if (flag !== 'auto' && flag !== 'poll' && flag !== 'libuv') throw usageError(`--io-wait ${flag}: use auto, poll or libuv`);
  return flag;
}

/** The loop the engine's readers wait in: an adaptive PollLoop for `auto`, one that always slices for `poll`, none (libuv callbacks) for `libuv`. */
export function ioWaitLoop(how: IoWait): PollLoop | undefined {
  return how === 'libuv' ? undefined : new PollLoop(how === 'auto');
}

/** How the data plane waits now, for `status`: the loop's mode and counters, or plain libuv. */
export function ioWaitStatus(loop: PollLoop | undefined): IoWaitStatus {
  return loop ? loop.stats() : { mode: 'libuv' };
}
