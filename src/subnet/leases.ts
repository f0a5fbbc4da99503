// The static control plane: a JSON file listing the nodes of the cluster
// (subnet, public IP, port). Validated with messages that say what to fix,
// and watched, so edits take effect without a restart.
import { watch, FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { z } from 'zod';
import { TunDriverError } from '../errors.js';
import { isKeyText } from '../wireguard/keys.js';
import { readJsonFile } from '../util/json-file.js';
import { formatCidr, formatIPv4, parseCidr, parseIPv4, Prefix, prefixContains, samePrefix } from '../packet/addr.js';
import { formatCidr6, parseCidr6, parseIPv6, Prefix6, prefix6Contains, sameIPv6 } from '../packet/addr6.js';

export const DEFAULT_PORT = 8285;

/** One node of the cluster network: the subnet it owns and where it listens. */
export interface Lease {
  /** Its IPv4 subnet; absent on an IPv6-only cluster. A lease has at least one of subnet and subnet6. */
  subnet?: Prefix;
  /** Its IPv6 subnet on a dual-stack or IPv6-only cluster (leases-file `subnetV6`, etcd's IPv6Subnet). */
  subnet6?: Prefix6;
  /** Its IPv6 public address (leases-file `publicIpV6`, etcd's PublicIPv6), for an IPv6 underlay. */
  publicIpv6?: Uint8Array;
  publicIp: number;
  port: number;
  /** The node's X25519 public key (base64), when it authenticates (docs/security.md). */
  publicKey?: string;
  /** flannel's BackendType of the node's record ("udp", "wireguard", "vxlan", "host-gw"), when the control plane says. */
  backendType?: string;
  /** flannel's BackendData and BackendV6Data, opaque here: each backend reads its own (src/backend/). */
  backendData?: unknown;
  backendV6Data?: unknown;
}

const cidr = z.string().refine((s) => {
  try {
    const p = parseCidr(s);
    return p.address === p.network;
  } catch {
    return false;
  }
}, 'must be a subnet like 10.244.1.0/24 (no host bits)');

const cidr6 = z.string().refine((s) => {
  try {
    const p = parseCidr6(s);
    return sameIPv6(p.address, 0, p.network) && p.length <= 64;
  } catch {
    return false;
  }
}, 'must be an IPv6 subnet of /64 or shorter like fd00:10:244:1::/64 (no host bits)');

const LeasesSchema = z
  .object({
    network: cidr.optional(),
    networkV6: cidr6.optional(),
    nodes: z.array(
      z
        .object({
          subnet: cidr.optional(),
          subnetV6: cidr6.optional(),
          publicIpV6: z.string().refine((s) => parseIPv6(s) !== undefined, 'must be an IPv6 address').optional(),
          publicIp: z.string().refine((s) => parseIPv4(s) !== undefined, 'must be an IPv4 address'),
          port: z.number().int().min(1).max(65535).default(DEFAULT_PORT),
          publicKey: z.string().refine(isKeyText, 'must be a public key: 44 characters of base64, as tun-driver pubkey prints').optional(),
          backendData: z.record(z.unknown()).optional(),
          backendV6Data: z.record(z.unknown()).optional(),
        })
        .strict(),
    ),
  })
  .strict();

function fail(message: string): never {
  throw new TunDriverError('TUN_ERR_USAGE', message);
}

/**
 * Validates leases against the cluster network: every subnet inside it, no
 * two overlapping, no public IP:port twice. `network` is the IPv4 network
 * (undefined on an IPv6-only node), `network6` the IPv6 one (undefined on
 * an IPv4-only node); a family the node does not run is left alone in the
 * file. `source` names the file in messages.
 */
export function parseLeases(input: unknown, network: Prefix | undefined, source: string, network6?: Prefix6): Lease[] {
  const parsed = LeasesSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    fail(`${source}: ${issue.path.join('.') || '(top level)'} ${issue.message}`);
  }
  const { network: declared, networkV6: declared6, nodes } = parsed.data;
  if (declared && network && declared !== formatCidr(network, false)) fail(`${source}: network ${declared} differs from --network ${formatCidr(network, false)}`);
  // An IPv4-only node of a dual-stack cluster reads the same file and leaves its IPv6 parts alone (and an IPv6-only node its IPv4 parts).
  if (declared6 && network6 && formatCidr6(parseCidr6(declared6)) !== formatCidr6(network6)) fail(`${source}: networkV6 ${declared6} differs from the IPv6 --network ${formatCidr6(network6)}`);
  const leases: Lease[] = [];
  const endpoints = new Set<string>();
  for (const [i, n] of nodes.entries()) {
    const publicIp = parseIPv4(n.publicIp)!;
    let subnet: Prefix | undefined;
    if (network) {
      if (n.subnet === undefined) fail(`${source}: nodes.${i} has no subnet (this node runs the IPv4 network ${formatCidr(network, false)})`);
      subnet = parseCidr(n.subnet);
      if (subnet.length < network.length || !prefixContains(network, subnet.network)) fail(`${source}: nodes.${i} subnet ${n.subnet} is outside the network ${formatCidr(network, false)}`);
      for (const other of leases) {
        if (other.subnet && (prefixContains(other.subnet, subnet.network) || prefixContains(subnet, other.subnet.network))) {
          fail(`${source}: nodes.${i} subnet ${n.subnet} overlaps ${formatCidr(other.subnet, false)}`);
        }
      }
    }
    if (!network && n.subnetV6 === undefined) fail(`${source}: nodes.${i} has no subnetV6 (this node runs IPv6 only, in ${network6 ? formatCidr6(network6, false) : 'its IPv6 --network'})`);
    const subnet6 = n.subnetV6 === undefined || !network6 ? undefined : parseCidr6(n.subnetV6);
    if (subnet6 && network6) {
      if (subnet6.length < network6.length || !prefix6Contains(network6, subnet6.network)) fail(`${source}: nodes.${i} subnetV6 ${n.subnetV6} is outside the IPv6 network ${formatCidr6(network6)}`);
      for (const other of leases) {
        if (other.subnet6 && (prefix6Contains(other.subnet6, subnet6.network) || prefix6Contains(subnet6, other.subnet6.network))) {
          fail(`${source}: nodes.${i} subnetV6 ${n.subnetV6} overlaps ${formatCidr6(other.subnet6, false)}`);
        }
      }
    }
    const endpoint = `${n.publicIp}:${n.port}`;
    if (endpoints.has(n.publicIp) || endpoints.has(endpoint)) fail(`${source}: nodes.${i} public IP ${n.publicIp} is listed twice`);
    endpoints.add(n.publicIp);
    endpoints.add(endpoint);
    leases.push({
      publicIp, port: n.port,
      ...(subnet ? { subnet } : {}),
      ...(subnet6 ? { subnet6 } : {}),
      ...(n.publicIpV6 ? { publicIpv6: parseIPv6(n.publicIpV6)! } : {}),
      ...(n.publicKey ? { publicKey: n.publicKey } : {}),
      ...(n.backendData ? { backendData: n.backendData } : {}),
      ...(n.backendV6Data ? { backendV6Data: n.backendV6Data } : {}),
    });
  }
  return leases;
}

export function loadLeasesFile(path: string, network: Prefix | undefined, network6?: Prefix6): Lease[] {
  return parseLeases(readJsonFile(path, 'leases file', 'TUN_ERR_USAGE'), network, path, network6);
}

/**
 * Watches the leases file (through its directory, so editors that replace
 * the file are seen too) and calls onChange with the new leases, or
 * onError with the reason a new version was rejected (the old ones stay).
 */
export function watchLeasesFile(path: string, network: Prefix | undefined, onChange: (leases: Lease[]) => void, onError: (err: Error) => void, network6?: Prefix6): FSWatcher {
  let timer: NodeJS.Timeout | undefined;
  const name = basename(path);
  const watcher = watch(dirname(path), (_event, file) => {
    if (file !== null && file !== name) return;
    clearTimeout(timer);
    // Editors write in several steps: read once things settle.
    timer = setTimeout(() => {
      try {
        onChange(loadLeasesFile(path, network, network6));
      } catch (err) {
        onError(err as Error);
      }
    }, 100);
  });
  return watcher;
}

export function describeLease(l: Lease): string {
  return `${describeSubnets(l)} at ${formatIPv4(l.publicIp)}:${l.port}`;
}

/** A node's subnets as people read them: "10.244.1.0/24", "10.244.1.0/24 and fd00:10:244:1::/64", or the IPv6 one alone. */
export function describeSubnets(l: { subnet?: Prefix; subnet6?: Prefix6 }): string {
  return [l.subnet && formatCidr(l.subnet, false), l.subnet6 && formatCidr6(l.subnet6, false)].filter(Boolean).join(' and ');
}

/** Whether two nodes' subnets are the same, family by family (both absent counts as the same). */
export function sameSubnets(a: { subnet?: Prefix; subnet6?: Prefix6 }, b: { subnet?: Prefix; subnet6?: Prefix6 }): boolean {
  const same4 = a.subnet && b.subnet ? samePrefix(a.subnet, b.subnet) : !a.subnet && !b.subnet;
  const same6 = a.subnet6 && b.subnet6 ? a.subnet6.length === b.subnet6.length && sameIPv6(a.subnet6.network, 0, b.subnet6.network) : !a.subnet6 && !b.subnet6;
  return same4 && same6;
}

/**
 * The name a node goes by in counters, status and metrics: its IPv4
 * subnet, or its IPv6 one on an IPv6-only cluster.
 */
export function subnetName(l: { subnet?: Prefix; subnet6?: Prefix6 }): string {
  return l.subnet ? formatCidr(l.subnet, false) : l.subnet6 ? formatCidr6(l.subnet6, false) : '(no subnet)';
}
