// Runs the nft tool in the current network namespace. tun-driver's
// nftables tables (--ip-masq, a kernel backend's peer counters) are few
// and written rarely, so the tool an operator reads them back with also
// writes them, instead of an nf_tables netlink codec.
import { spawnSync } from 'node:child_process';
import { TunDriverError } from '../errors.js';

export interface NftResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

/**
 * `nft ARGS` (with `input` on stdin, for `-f -`).
 * @param neededFor what needs nft, for the error when it is not installed ("--ip-masq").
 * @throws TunDriverError `TUN_ERR_USAGE` when nft is not installed; `TUN_ERR_NETLINK` when it cannot run.
 */
export function nft(args: string[], neededFor: string, input?: string): NftResult {
  const r = spawnSync('nft', args, { input, encoding: 'utf8', timeout: 10_000 });
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new TunDriverError(missing ? 'TUN_ERR_USAGE' : 'TUN_ERR_NETLINK', missing ? `${neededFor} needs the nft tool: apt-get install nftables` : `nft: ${r.error.message}`);
  }
  return { ok: r.status === 0, stdout: r.stdout, stderr: r.stderr.trim() };
}

/** Whether a failed `nft delete`/`list` failed because the table is not there. */
export const isNoSuchTable = (r: NftResult): boolean => /No such file or directory/.test(r.stderr);
