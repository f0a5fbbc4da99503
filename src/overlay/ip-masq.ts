// --ip-masq: pods reaching past the cluster network leave with the node's
// address, as flannel's --ip-masq does. The rules live in an nftables table
// of the daemon's own (one per TUN device), replaced atomically on start so
// a restart after SIGKILL never doubles them, and deleted on exit. We use
// the nft tool rather than nf_tables netlink: the rules are few, written
// once, and `nft` is what an operator reads them back with. --ip6-masq does
// the same for the pods' IPv6 traffic, in an ip6 table of the same name.
import { isNoSuchTable, nft } from '../netns/nft.js';
import { TunDriverError } from '../errors.js';
import { formatCidr, Prefix } from '../packet/addr.js';
import { formatCidr6, Prefix6 } from '../packet/addr6.js';

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

/** The IPv6 rules (--ip6-masq), in the form `nft list table ip6` prints them. */
export function ip6MasqRules(network6: Prefix6, subnet6: Prefix6): string[] {
  const from = `ip6 saddr ${formatCidr6(subnet6, false)}`;
  return [
    `${from} ip6 daddr ${formatCidr6(network6, false)} return`, // pod to pod keeps its address
    `${from} ip6 daddr ff00::/8 return`, // multicast is never masqueraded
    `${from} masquerade fully-random`,
  ];
}

/** One table's script: declare, delete, re-create, so it applies the same whether or not the table exists. */
function tableScript(family: 'ip' | 'ip6', tun: string, what: string, rules: string[]): string[] {
  const table = ipMasqTable(tun);
  return [
    `table ${family} ${table}`,
    `delete table ${family} ${table}`,
    `table ${family} ${table} {`,
    `  comment "tun-driver overlay --${family === 'ip' ? 'ip' : 'ip6'}-masq on ${tun}: ${what}"`,
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    ...rules.map((r) => `    ${r}`),
    '  }',
    '}',
  ];
}

/** The nft script for --ip-masq (and, given `ipv6`, --ip6-masq), applied as one transaction. */
export function ipMasqScript(tun: string, network: Prefix, subnet: Prefix, ipv6?: { network6: Prefix6; subnet6: Prefix6 }): string {
  const lines = tableScript('ip', tun, `pods of ${formatCidr(subnet, false)} leaving ${formatCidr(network, false)}`, ipMasqRules(network, subnet));
  if (ipv6) lines.push(...tableScript('ip6', tun, `pods of ${formatCidr6(ipv6.subnet6, false)} leaving ${formatCidr6(ipv6.network6, false)}`, ip6MasqRules(ipv6.network6, ipv6.subnet6)));
  return [...lines, ''].join('\n');
}

/** The --ip6-masq table alone (a node with --ip6-masq but not --ip-masq). */
export function ip6MasqScript(tun: string, ipv6: { network6: Prefix6; subnet6: Prefix6 }): string {
  return [...tableScript('ip6', tun, `pods of ${formatCidr6(ipv6.subnet6, false)} leaving ${formatCidr6(ipv6.network6, false)}`, ip6MasqRules(ipv6.network6, ipv6.subnet6)), ''].join('\n');
}

/** Installs (or replaces) the tables a script holds, in the current network namespace. */
export function installIpMasq(script: string): void {
  const r = nft(['-f', '-'], '--ip-masq', script);
  if (!r.ok) throw new TunDriverError('TUN_ERR_NETLINK', `cannot install the masquerading rules (nft -f): ${r.stderr}`);
}

/** Deletes the table of a family (ip: --ip-masq, ip6: --ip6-masq); a table that is already gone is fine. */
export function removeIpMasq(tun: string, family: 'ip' | 'ip6' = 'ip'): void {
  const r = nft(['delete', 'table', family, ipMasqTable(tun)], '--ip-masq');
  if (!r.ok && !isNoSuchTable(r)) throw new TunDriverError('TUN_ERR_NETLINK', `cannot remove the --${family}-masq rules: ${r.stderr}`);
}

/** The rule lines of the table of a family (ip: --ip-masq, ip6: --ip6-masq) as nft prints them, or undefined when it is not there. */
export function listIpMasq(tun: string, family: 'ip' | 'ip6' = 'ip'): string[] | undefined {
  const r = nft(['list', 'table', family, ipMasqTable(tun)], '--ip-masq');
  if (!r.ok) return undefined;
  return r.stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith(`${family} `));
}
