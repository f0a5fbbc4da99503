// tcpdump inside a lab node, for tests that must see what crossed an
// interface (or that nothing did). Immediate mode: packets are handed over
// as they come, not in blocks that a stop could cut off.
import { ChildProcess } from 'node:child_process';
import { Lab } from '../src/lab/lab.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Capture {
  /** Stops tcpdump (after a moment for the last packets); resolves with the lines it printed. */
  stop(): Promise<string[]>;
}

/**
 * Starts tcpdump -n in `node` on `iface` with `filter`; with `write`, also into that pcap file;
 * `decodeAs` makes tcpdump decode the filter's packets as that protocol (-T vxlan: port 8472 is OTV to tcpdump). Resolves once it listens.
 */
export async function startCapture(lab: Lab, node: string, iface: string, filter: string, write?: string, decodeAs?: string): Promise<Capture> {
  const child: ChildProcess = lab.spawn(node, 'tcpdump', ['-n', '-l', '-U', '--immediate-mode', ...(decodeAs ? ['-T', decodeAs] : []), '-i', iface, ...(write ? ['-w', write, '-Z', 'root'] : []), filter], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  for (let i = 0; i < 100 && !/listening on/.test(err); i++) await sleep(50);
  if (!/listening on/.test(err)) throw new Error(`tcpdump in ${node} did not start: ${err}`);
  return {
    stop: async () => {
      await sleep(300);
      child.kill('SIGINT');
      await new Promise((r) => child.on('close', r));
      return out.split('\n').filter(Boolean);
    },
  };
}
