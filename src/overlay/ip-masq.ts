// --ip-masq: pods reaching past the cluster network leave with the node's
// address, as flannel's --ip-masq does. The rules live in an nftables table
// of the daemon's own (one per TUN device), replaced atomically on start so
// a restart after SIGKILL never doubles them, and deleted on exit. We use
// the nft tool rather than nf_tables netlink: the rules are few, written
// once, and `nft` is what an operator reads them back with.
import { spawnSync } from 'node:child_process';
import { TunDriverError } from '../errors.js';
import { formatCidr, Prefix } from '../packet/addr.js';

export function ipMasqTable(tun: string): string {
  return `tun-driver-${tun}`;
}

/** The rules, in the form `nft list table` prints them (doctor compares against this). */
export function ipMasqRules(network: Prefix, subnet: Prefix): string[] {
  const from = `ip saddr ${formatCidr(subnet, false)}`;
  return [
    `${from} ip daddr ${formatCidr(network, false)} return`, // pod to pod keeps its address
    `${from} ip daddr 224.0.0.0/4 return`, // multicast is never masqueraded
    `${from} masquerade fully-random`,
  ];
}

/** The nft script: declare, delete, re-create, so it applies the same whether or not the table exists. */
export function ipMasqScript(tun: string, network: Prefix, subnet: Prefix): string {
  const table = ipMasqTable(tun);
  return [
    `table ip ${table}`,
    `delete table ip ${table}`,
    `table ip ${table} {`,
    `  comment "tun-driver overlay --ip-masq on ${tun}: pods of ${formatCidr(subnet, false)} leaving ${formatCidr(network, false)}"`,
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    ...ipMasqRules(network, subnet).map((r) => `    ${r}`),
    '  }',
    '}',
    '',
  ].join('\n');
}

function nft(args: string[], input?: string): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync('nft', args, { input, encoding: 'utf8', timeout: 10_000 });
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new TunDriverError(missing ? 'TUN_ERR_USAGE' : 'TUN_ERR_NETLINK', missing ? '--ip-masq needs the nft tool: apt-get install nftables' : `nft: ${r.error.message}`);
  }
  return { ok: r.status === 0, stdout: r.stdout, stderr: r.stderr.trim() };
}

/** Installs (or replaces) the table in the current network namespace. */
export function installIpMasq(tun: string, network: Prefix, subnet: Prefix): void {
  const r = nft(['-f', '-'], ipMasqScript(tun, network, subnet));
  if (!r.ok) throw new TunDriverError('TUN_ERR_NETLINK', `cannot install the --ip-masq rules (nft -f): ${r.stderr}`);
}

/** Deletes the table; a table that is already gone is fine. */
export function removeIpMasq(tun: string): void {
  const r = nft(['delete', 'table', 'ip', ipMasqTable(tun)]);
  if (!r.ok && !/No such file or directory/.test(r.stderr)) throw new TunDriverError('TUN_ERR_NETLINK', `cannot remove the --ip-masq rules: ${r.stderr}`);
}

/** The table's rule lines as nft prints them, or undefined when it is not there. */
export function listIpMasq(tun: string): string[] | undefined {
  const r = nft(['list', 'table', 'ip', ipMasqTable(tun)]);
  if (!r.ok) return undefined;
  return r.stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('ip '));
}
