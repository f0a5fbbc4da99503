// What a kernel backend needs to know of this node's underlay: the link
// that holds its public address (flannel's "external interface"), its MTU,
// and the prefixes on it (a peer inside one is on the same link: host-gw
// and vxlan's DirectRouting route to it directly).
import { addr6List, addrList } from '../netlink/addr.js';
import { Link, linkList } from '../netlink/link.js';
import { NetlinkSocket } from '../netlink/socket.js';
import { formatIPv4, Prefix, prefixContains } from '../packet/addr.js';
import { formatIPv6, Prefix6, prefix6Contains, sameIPv6 } from '../packet/addr6.js';
import { TunDriverError } from '../errors.js';
import type { KernelBackendStatus } from './backend.js';
import { formatMac } from '../packet/mac.js';

export interface Underlay {
  link: Link;
  publicIp: number;
  publicIpv6?: Uint8Array;
  /** The IPv4 / IPv6 prefixes on the underlay link. */
  prefixes: Prefix[];
  prefixes6: Prefix6[];
}

/**
 * The underlay of a node whose public address is `publicIp` (and
 * `publicIpv6`): the link that holds it.
 * @throws TunDriverError `TUN_ERR_USAGE` when no link of this host holds the address.
 */
export function findUnderlay(nl: NetlinkSocket, publicIp: number, publicIpv6?: Uint8Array): Underlay {
  const own = addrList(nl).find((a) => a.prefix.address === publicIp);
  if (!own) throw new TunDriverError('TUN_ERR_USAGE', `--public-ip ${formatIPv4(publicIp)} is not an address of this host`);
  if (publicIpv6 && !addr6List(nl, own.index).some((a) => sameIPv6(a.prefix.address, 0, publicIpv6))) {
    throw new TunDriverError('TUN_ERR_USAGE', `--public-ipv6 ${formatIPv6(publicIpv6)} is not an address of the link that holds ${formatIPv4(publicIp)}`);
  }
  const link = linkList(nl).find((l) => l.index === own.index)!;
  return {
    link, publicIp, publicIpv6,
    prefixes: addrList(nl, own.index).map((a) => a.prefix),
    prefixes6: addr6List(nl, own.index).filter((a) => a.prefix.address[0] !== 0xfe || (a.prefix.address[1] & 0xc0) !== 0x80).map((a) => a.prefix),
  };
}

/** Whether `address` (a peer's public IP) is on the underlay's link: inside one of its prefixes. */
export function onLink(u: Underlay, address: number | Uint8Array): boolean {
  if (typeof address === 'number') return u.prefixes.some((p) => prefixContains(p, address));
  return u.prefixes6.some((p) => prefix6Contains(p, address));
}

/** A device's line in a kernel backend's status: its counters as `ip -s link` shows them. */
export function deviceStatus(link: Link): KernelBackendStatus['devices'][number] {
  const s = link.stats;
  return {
    name: link.name, index: link.index, mtu: link.mtu, up: link.up, ...(link.mac ? { mac: formatMac(link.mac) } : {}),
    rxPackets: s?.rxPackets ?? 0, txPackets: s?.txPackets ?? 0, rxBytes: s?.rxBytes ?? 0, txBytes: s?.txBytes ?? 0, rxDropped: s?.rxDropped ?? 0, txDropped: s?.txDropped ?? 0,
  };
}
