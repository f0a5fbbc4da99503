// flannel's key layout under the etcd prefix (default /coreos.com/network):
//   <prefix>/config                   the network config (network-config.ts)
//   <prefix>/subnets/10.244.1.0-24    {"PublicIP":"198.51.100.1","BackendType":"udp","BackendData":null}
// Each subnet key is attached to an etcd lease of the node that holds it,
// so it disappears when the node stops renewing.
import { formatIPv4, parseIPv4, Prefix, prefixContains } from '../packet/addr.js';
import { isKeyText } from '../wireguard/keys.js';
import { Lease } from '../overlay/leases.js';
import { NetworkConfig } from './network-config.js';

export const DEFAULT_ETCD_PREFIX = '/coreos.com/network';

export const configKey = (prefix: string): string => `${prefix}/config`;
export const subnetsDir = (prefix: string): string => `${prefix}/subnets/`;
export const subnetKey = (prefix: string, subnet: Prefix): string => `${subnetsDir(prefix)}${formatIPv4(subnet.network)}-${subnet.length}`;

/** The record a node stores under its subnet key; a node with a key publishes it as flannel's wireguard backend does. */
export function subnetRecord(publicIp: number, publicKey?: string): string {
  return JSON.stringify({ PublicIP: formatIPv4(publicIp), BackendType: publicKey ? 'wireguard' : 'udp', BackendData: publicKey ? { PublicKey: publicKey } : null });
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
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})-(\d{1,2})$/.exec(name);
  const network = m ? parseIPv4(m[1]) : undefined;
  const length = m ? Number(m[2]) : NaN;
  if (network === undefined || !(length >= 0 && length <= 32)) return { problem: `${key}: not a subnet key like ${subnetsDir(prefix)}10.244.1.0-24` };
  const subnet: Prefix = { network, address: network, length };
  if (length < config.network.length || !prefixContains(config.network, network)) return { problem: `${key}: subnet outside the network` };
  let publicIp: number | undefined;
  let backendData: unknown;
  try {
    const record = JSON.parse(value) as { PublicIP?: unknown; BackendData?: unknown };
    publicIp = typeof record.PublicIP === 'string' ? parseIPv4(record.PublicIP) : undefined;
    backendData = record.BackendData;
  } catch {
    // reported below
  }
  if (publicIp === undefined) return { problem: `${key}: value has no valid "PublicIP"` };
  const publicKey = (backendData as { PublicKey?: unknown } | null | undefined)?.PublicKey;
  if (publicKey === undefined) return { lease: { subnet, publicIp, port: config.port } };
  if (!isKeyText(publicKey)) return { problem: `${key}: BackendData.PublicKey is not a public key (44 characters of base64)` };
  return { lease: { subnet, publicIp, port: config.port, publicKey } };
}
