// Processes inside named namespaces: start one there (`ip netns exec`) and
// find/stop every process that lives there (`ip netns pids`).
import { ChildProcess, spawn, SpawnOptions } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { netnsPath, withNetns } from './netns.js';

/**
 * Starts `command` inside namespace `netns`. The fork happens on the main
 * thread while it is inside the namespace, so the child is born there.
 */
export function spawnInNetns(netns: string, command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  return withNetns(netns, () => spawn(command, args, options));
}

/** PIDs of the processes whose network namespace is `netns`. */
export function netnsPids(netns: string): number[] {
  let inode: number;
  try {
    inode = statSync(netnsPath(netns)).ino;
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (statSync(`/proc/${entry}/ns/net`).ino === inode) pids.push(Number(entry));
    } catch {
      // the process exited while we looked
    }
  }
  return pids;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** SIGTERM every process in `netns`, then SIGKILL what is left after `graceMs`. */
export async function killNetnsProcesses(netns: string, graceMs = 2000): Promise<number> {
  const pids = netnsPids(netns).filter((p) => p !== process.pid);
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && netnsPids(netns).some((p) => p !== process.pid)) await sleep(50);
  for (const pid of netnsPids(netns)) if (pid !== process.pid) signal(pid, 'SIGKILL');
  return pids.length;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}
