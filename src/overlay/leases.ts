// The static control plane: a JSON file listing the nodes of the cluster
// (subnet, public IP, port). Validated with messages that say what to fix,
// and watched, so edits take effect without a restart.
import { watch, FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { z } from 'zod';
import { TunDriverError } from '../errors.js';
import { isKeyText } from '../wireguard/keys.js';
import { readJsonFile } from '../util/json-file.js';
import { formatCidr, formatIPv4, parseCidr, parseIPv4, Prefix, prefixContains } from '../packet/addr.js';

export const DEFAULT_PORT = 8285;

/** One node of the cluster network: the subnet it owns and where it listens. */
export interface Lease {
  subnet: Prefix;
  publicIp: number;
  port: number;
  /** The node's X25519 public key (base64), when it authenticates (docs/security.md). */
  publicKey?: string;
}

const cidr = z.string().refine((s) => {
  try {
    const p = parseCidr(s);
    return p.address === p.network;
  } catch {
    return false;
  }
}, 'must be a subnet like 10.244.1.0/24 (no host bits)');

const LeasesSchema = z
  .object({
    network: cidr.optional(),
    nodes: z.array(
      z
        .object({
          subnet: cidr,
          publicIp: z.string().refine((s) => parseIPv4(s) !== undefined, 'must be an IPv4 address'),
          port: z.number().int().min(1).max(65535).default(DEFAULT_PORT),
          publicKey: z.string().refine(isKeyText, 'must be a public key: 44 characters of base64, as tun-driver pubkey prints').optional(),
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
 * two overlapping, no public IP:port twice. `source` names the file in messages.
 */
export function parseLeases(input: unknown, network: Prefix, source: string): Lease[] {
  const parsed = LeasesSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    fail(`${source}: ${issue.path.join('.') || '(top level)'} ${issue.message}`);
  }
  const { network: declared, nodes } = parsed.data;
  if (declared && declared !== formatCidr(network, false)) fail(`${source}: network ${declared} differs from --network ${formatCidr(network, false)}`);
  const leases: Lease[] = [];
  const endpoints = new Set<string>();
  for (const [i, n] of nodes.entries()) {
    const subnet = parseCidr(n.subnet);
    const publicIp = parseIPv4(n.publicIp)!;
    if (subnet.length < network.length || !prefixContains(network, subnet.network)) fail(`${source}: nodes.${i} subnet ${n.subnet} is outside the network ${formatCidr(network, false)}`);
    for (const other of leases) {
      if (prefixContains(other.subnet, subnet.network) || prefixContains(subnet, other.subnet.network)) {
        fail(`${source}: nodes.${i} subnet ${n.subnet} overlaps ${formatCidr(other.subnet, false)}`);
      }
    }
    const endpoint = `${n.publicIp}:${n.port}`;
    if (endpoints.has(n.publicIp) || endpoints.has(endpoint)) fail(`${source}: nodes.${i} public IP ${n.publicIp} is listed twice`);
    endpoints.add(n.publicIp);
    endpoints.add(endpoint);
    leases.push({ subnet, publicIp, port: n.port, ...(n.publicKey ? { publicKey: n.publicKey } : {}) });
  }
  return leases;
}

export function loadLeasesFile(path: string, network: Prefix): Lease[] {
  return parseLeases(readJsonFile(path, 'leases file', 'TUN_ERR_USAGE'), network, path);
}

/**
 * Watches the leases file (through its directory, so editors that replace
 * the file are seen too) and calls onChange with the new leases, or
 * onError with the reason a new version was rejected (the old ones stay).
 */
export function watchLeasesFile(path: string, network: Prefix, onChange: (leases: Lease[]) => void, onError: (err: Error) => void): FSWatcher {
  let timer: NodeJS.Timeout | undefined;
  const name = basename(path);
  const watcher = watch(dirname(path), (_event, file) => {
    if (file !== null && file !== name) return;
    clearTimeout(timer);
    // Editors write in several steps: read once things settle.
    timer = setTimeout(() => {
      try {
        onChange(loadLeasesFile(path, network));
      } catch (err) {
        onError(err as Error);
      }
    }, 100);
  });
  return watcher;
}

export function describeLease(l: Lease): string {
  return `${formatCidr(l.subnet, false)} at ${formatIPv4(l.publicIp)}:${l.port}`;
}
