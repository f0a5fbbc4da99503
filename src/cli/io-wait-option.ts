// --io-wait, shared by the daemons: how the data plane waits for packets.
import { Command } from 'commander';
import { PollLoop } from '../io/poll-loop.js';
import { usageError } from './output.js';

/** The two ways to wait: our own poll() beside the event loop (io/poll-loop.ts), or one libuv callback per fd. */
export type IoWait = 'poll' | 'libuv';

/** Adds `--io-wait poll|libuv` (default poll). */
export function addIoWaitOption(cmd: Command): Command {
  return cmd.option('--io-wait <how>', "how the data plane waits for packets: poll (its own poll(2), handing the thread to Node's event loop whenever that has work: lowest latency) or libuv (a readiness callback per fd)", 'poll');
}

/**
 * Checks the flag (call it before changing anything on the system).
 * @throws TunDriverError `TUN_ERR_USAGE` for anything but poll or libuv.
 */
export function parseIoWait(flag: string): IoWait {
  if (flag !== 'poll' && flag !== 'libuv') throw usageError(`--io-wait ${flag}: use poll or libuv`);
  return flag;
}

/** The loop the engine's readers wait in: a new PollLoop for `poll`, none (libuv callbacks) for `libuv`. */
export function ioWaitLoop(how: IoWait): PollLoop | undefined {
  return how === 'poll' ? new PollLoop() : undefined;
}
