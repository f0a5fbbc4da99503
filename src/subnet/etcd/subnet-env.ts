// flannel's /run/flannel/subnet.env: what CNI plugins read to give pods
// addresses, and what the daemon reads back after a restart to ask for
// the same subnet again.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { formatCidr, formatIPv4, parseCidr, Prefix, prefixContains } from '../../packet/addr.js';
import { formatCidr6, formatIPv6, parseCidr6, Prefix6, prefix6Contains } from '../../packet/addr6.js';

export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';

/**
 * The contents of subnet.env: the cluster network, this node's subnet, the
 * pods' MTU, and whether the node masquerades. On an IPv6-only node the
 * IPv4 pair is absent (as flannel leaves FLANNEL_NETWORK out without IPv4).
 */
export interface SubnetEnv {
  network?: Prefix;
  subnet?: Prefix;
  mtu: number;
  ipMasq: boolean;
  /** The cluster's and this node's IPv6 prefixes on a dual-stack node (FLANNEL_IPV6_NETWORK, FLANNEL_IPV6_SUBNET). */
  network6?: Prefix6;
  subnet6?: Prefix6;
}

/** The first address of an IPv6 subnet (its network address + 1), as flannel writes FLANNEL_IPV6_SUBNET. */
export function firstAddress6(p: Prefix6): Uint8Array {
  const out = Uint8Array.from(p.network);
  for (let i = 15; i >= 0; i--) if (++out[i] !== 0) break;
  return out;
}

/** The file's text. FLANNEL_SUBNET is the subnet's first address, as flannel writes it (10.244.1.1/24). */
export function formatSubnetEnv(env: SubnetEnv): string {
  return [
    ...(env.network && env.subnet ? [`FLANNEL_NETWORK=${formatCidr(env.network, false)}`, `FLANNEL_SUBNET=${formatIPv4(env.subnet.network + 1)}/${env.subnet.length}`] : []),
    ...(env.network6 && env.subnet6 ? [`FLANNEL_IPV6_NETWORK=${formatCidr6(env.network6, false)}`, `FLANNEL_IPV6_SUBNET=${formatIPv6(firstAddress6(env.subnet6))}/${env.subnet6.length}`] : []),
    `FLANNEL_MTU=${env.mtu}`,
    `FLANNEL_IPMASQ=${env.ipMasq}`,
    '',
  ].join('\n');
}

/** Writes the file whole or not at all (readers never see half of it). */
export function writeSubnetEnv(path: string, env: SubnetEnv): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, formatSubnetEnv(env));
  renameSync(tmp, path);
}

/**
 * Reads the whole file as a CNI plugin needs it. Undefined when the file
 * is not there (the daemon has not started yet); throws an Error naming
 * the key when it is there but incomplete or malformed.
 */
export function readSubnetEnv(path: string): SubnetEnv | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return parseSubnetEnv(text, path);
}

/** Parses the file's text (see formatSubnetEnv); throws an Error that names what is wrong. */
export function parseSubnetEnv(text: string, source = 'subnet.env'): SubnetEnv {
  const vars = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z][A-Z0-9_]*)=(.*?)\s*$/.exec(line);
    if (m) vars.set(m[1], m[2]);
  }
  const get = (key: string): string => {
    const value = vars.get(key);
    if (value === undefined) throw new Error(`${source} has no ${key}`);
    return value;
  };
  const prefix = (key: string): Prefix => {
    try {
      return parseCidr(get(key));
    } catch (err) {
      throw new Error(`${source}: ${key} ${(err as Error).message}`);
    }
  };
  const mtuText = get('FLANNEL_MTU');
  const mtu = /^\d{1,5}$/.test(mtuText) ? Number(mtuText) : NaN;
  if (!(mtu >= 576 && mtu <= 65535)) throw new Error(`${source}: FLANNEL_MTU=${mtuText} is not an MTU (576-65535)`);
  const ipMasqText = vars.get('FLANNEL_IPMASQ') ?? 'false';
  if (ipMasqText !== 'true' && ipMasqText !== 'false') throw new Error(`${source}: FLANNEL_IPMASQ=${ipMasqText} must be true or false`);
  const env: SubnetEnv = { mtu, ipMasq: ipMasqText === 'true' };
  // IPv4 is there unless the node is IPv6-only (then FLANNEL_IPV6_* must be).
  if (vars.has('FLANNEL_NETWORK') || vars.has('FLANNEL_SUBNET') || !(vars.has('FLANNEL_IPV6_NETWORK') || vars.has('FLANNEL_IPV6_SUBNET'))) {
    const network = prefix('FLANNEL_NETWORK');
    const subnet = prefix('FLANNEL_SUBNET');
    if (subnet.length < network.length || !prefixContains(network, subnet.network)) throw new Error(`${source}: FLANNEL_SUBNET ${formatCidr(subnet)} is outside FLANNEL_NETWORK ${formatCidr(network, false)}`);
    env.network = { ...network, address: network.network };
    env.subnet = { ...subnet, address: subnet.network };
  }
  if (vars.has('FLANNEL_IPV6_NETWORK') || vars.has('FLANNEL_IPV6_SUBNET')) {
    const prefix6 = (key: string): Prefix6 => {
      try {
        const p = parseCidr6(get(key));
        return { ...p, address: p.network };
      } catch (err) {
        throw new Error(`${source}: ${key} ${(err as Error).message}`);
      }
    };
    const network6 = prefix6('FLANNEL_IPV6_NETWORK');
    const subnet6 = prefix6('FLANNEL_IPV6_SUBNET');
    if (subnet6.length < network6.length || !prefix6Contains(network6, subnet6.network)) throw new Error(`${source}: FLANNEL_IPV6_SUBNET ${get('FLANNEL_IPV6_SUBNET')} is outside FLANNEL_IPV6_NETWORK ${formatCidr6(network6, false)}`);
    env.network6 = network6;
    env.subnet6 = subnet6;
  }
  return env;
}

/** The value of `key` in the file, or undefined when there is no (readable) file or no such line. */
function rememberedValue(path: string, key: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  return new RegExp(`^${key}=(\\S+)$`, 'm').exec(text)?.[1];
}

/** A prefix remembered under `key`, as its network (host bits of FLANNEL_SUBNET's first address dropped), or undefined. */
function rememberedPrefix<P extends { network: unknown; address: unknown }>(path: string, key: string, parse: (text: string) => P): P | undefined {
  const text = rememberedValue(path, key);
  try {
    const p = text === undefined ? undefined : parse(text);
    return p && { ...p, address: p.network };
  } catch {
    return undefined;
  }
}

/** The subnet a previous run held (FLANNEL_SUBNET), or undefined when there is no (readable) file. */
export const readRememberedSubnet = (path: string): Prefix | undefined => rememberedPrefix(path, 'FLANNEL_SUBNET', parseCidr);

/** The IPv6 subnet a previous run held (FLANNEL_IPV6_SUBNET), or undefined. */
export const readRememberedSubnet6 = (path: string): Prefix6 | undefined => rememberedPrefix(path, 'FLANNEL_IPV6_SUBNET', parseCidr6);
