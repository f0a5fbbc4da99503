// flannel's key layout under the etcd prefix (default /coreos.com/network):
//   <prefix>/config                   the network config (network-config.ts)
//   <prefix>/subnets/10.244.1.0-24    {"PublicIP":"198.51.100.1","BackendType":"udp","BackendData":null}
// and on a dual-stack network one key for both of a node's subnets:
//   <prefix>/subnets/10.244.1.0-24&fd00:10:244:1::-64
//                                     {"PublicIP":"198.51.100.1","PublicIPv6":"2001:db8:a::1",...}
// (PublicIPv6 only when the node has one: IPv6 pods cross an IPv4 underlay too),
// and on an IPv6-only network flannel's key with an empty IPv4 half:
//   <prefix>/subnets/0.0.0.0-0&fd00:10:244:1::-64
// Each subnet key is attached to an etcd lease of the node that holds it,
// so it disappears when the node stops renewing.
import { formatIPv4, parseIPv4, Prefix, prefixContains } from '../../packet/addr.js';
import { formatIPv6, networkOf, parseIPv6, Prefix6, prefix6Contains, sameIPv6 } from '../../packet/addr6.js';
import { isKeyText } from '../../wireguard/keys.js';
import { Lease } from '../leases.js';
import { NetworkConfig } from './network-config.js';

export const DEFAULT_ETCD_PREFIX = '/coreos.com/network';

export const configKey = (prefix: string): string => `${prefix}/config`;
export const subnetsDir = (prefix: string): string => `${prefix}/subnets/`;
/** A node's key: its IPv4 subnet (0.0.0.0-0 on an IPv6-only network, as flannel writes an empty one), then its IPv6 subnet if it has one. */
export const subnetKey = (prefix: string, subnet: Prefix | undefined, subnet6?: Prefix6): string =>
  `${subnetsDir(prefix)}${subnet ? `${formatIPv4(subnet.network)}-${subnet.length}` : '0.0.0.0-0'}${subnet6 ? `&${formatIPv6(subnet6.network)}-${subnet6.length}` : ''}`;

/**
 * The record a node stores under its subnet key; a node with a key publishes it as flannel's wireguard backend does
 * (and, on a dual-stack network, in BackendV6Data too).
 */
export function subnetRecord(publicIp: number, publicKey?: string, dualStack?: { publicIpv6?: Uint8Array }, backend?: PublishedBackend): string {
  const backendData = backend ? backend.data : publicKey ? { PublicKey: publicKey } : null;
  return JSON.stringify({
    PublicIP: formatIPv4(publicIp),
    ...(dualStack?.publicIpv6 ? { PublicIPv6: formatIPv6(dualStack.publicIpv6) } : {}),
    BackendType: backend ? backend.type : publicKey ? 'wireguard' : 'udp',
    BackendData: backendData,
    ...(dualStack ? { BackendV6Data: backend ? (backend.v6Data ?? null) : backendData } : {}),
  });
}

/** What a kernel backend publishes in its node's record, in flannel's JSON (src/backend/): BackendType, BackendData, BackendV6Data. */
export interface PublishedBackend {
  type: string;
  data: unknown;
  v6Data?: unknown;
}

/** A subnet key's entry turned into a route, or the reason it cannot be one. */
export type ParsedEntry = { lease: Lease } | { problem: string };

/**
 * Reads one <prefix>/subnets/ entry. Anything that is not a well-formed
 * lease inside the network comes back as a problem (logged and skipped
 * by the watcher: one bad key must not take routes away from the rest).
 */
export function parseSubnetEntry(prefix: string, key: string, value: string, config: NetworkConfig): ParsedEntry {
  const name = key.slice(subnetsDir(prefix).length);
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})-(\d{1,2})(?:&([0-9a-f:]+)-(\d{1,3}))?$/.exec(name);
  const network = m ? parseIPv4(m[1]) : undefined;
  const length = m ? Number(m[2]) : NaN;
  if (network === undefined || !(length >= 0 && length <= 32)) return { problem: `${key}: not a subnet key like ${subnetsDir(prefix)}10.244.1.0-24` };
  // 0.0.0.0-0 is flannel's empty IPv4 half: the key of a node on an IPv6-only network.
  const v6Only = network === 0 && length === 0;
  if (v6Only && m?.[3] === undefined) return { problem: `${key}: an empty IPv4 subnet (0.0.0.0-0) needs an IPv6 one after "&"` };
  let subnet: Prefix | undefined;
  if (config.ipv4 && !v6Only) {
    subnet = { network, address: network, length };
    if (length < config.ipv4.network.length || !prefixContains(config.ipv4.network, network)) return { problem: `${key}: subnet outside the network` };
  } else if (config.ipv4) {
    return { problem: `${key}: an IPv6-only lease on a network with IPv4 (this node needs an IPv4 subnet for every peer)` };
  }
  // The IPv6 half: kept on a network with IPv6, left alone by an IPv4-only reader (as flannel does).
  let subnet6: Prefix6 | undefined;
  if (m?.[3] !== undefined && config.ipv6) {
    const address6 = parseIPv6(m[3]);
    const length6 = Number(m[4]);
    if (!address6 || length6 > 128) return { problem: `${key}: the IPv6 part is not a subnet like fd00:10:244:1::-64` };
    subnet6 = { network: address6, address: address6, length: length6 };
    const network6 = config.ipv6.network;
    if (length6 < network6.length || !prefix6Contains(network6, address6) || !sameIPv6(address6, 0, networkOf(address6, length6))) return { problem: `${key}: IPv6 subnet outside the IPv6 network` };
  }
  if (!subnet && !subnet6) return { problem: `${key}: no IPv6 subnet, and this network is IPv6-only` };
  let publicIp: number | undefined;
  let publicIpv6: Uint8Array | undefined;
  let backendData: unknown;
  let backendV6Data: unknown;
  let backendType: unknown;
  try {
    const record = JSON.parse(value) as { PublicIP?: unknown; PublicIPv6?: unknown; BackendType?: unknown; BackendData?: unknown; BackendV6Data?: unknown };
    publicIp = typeof record.PublicIP === 'string' ? parseIPv4(record.PublicIP) : undefined;
    publicIpv6 = typeof record.PublicIPv6 === 'string' ? parseIPv6(record.PublicIPv6) : undefined;
    backendData = record.BackendData;
    backendV6Data = record.BackendV6Data;
    backendType = record.BackendType;
  } catch {
    // reported below
  }
  if (publicIp === undefined) return { problem: `${key}: value has no valid "PublicIP"` };
  // A plain first key: an object literal that opens with a spread is built on a slow path (route-table.ts).
  const lease: Lease = { publicIp, port: config.port, ...(subnet ? { subnet } : {}), ...(subnet6 ? { subnet6 } : {}), ...(publicIpv6 && subnet6 ? { publicIpv6 } : {}) };
  // The kernel backends read their peers' records whole (VtepMAC); the user-space ones only a key.
  if (config.backend === 'vxlan' || config.backend === 'host-gw') {
    if (typeof backendType === 'string') lease.backendType = backendType;
    if (backendData !== undefined && backendData !== null) lease.backendData = backendData;
    if (backendV6Data !== undefined && backendV6Data !== null) lease.backendV6Data = backendV6Data;
    return { lease };
  }
  const publicKey = (backendData as { PublicKey?: unknown } | null | undefined)?.PublicKey;
  if (publicKey === undefined) return { lease };
  if (!isKeyText(publicKey)) return { problem: `${key}: BackendData.PublicKey is not a public key (44 characters of base64)` };
  return { lease: { ...lease, publicKey } };
}

