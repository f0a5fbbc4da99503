// flannel's network config, as stored at <prefix>/config:
//   {"Network": "10.244.0.0/16", "SubnetLen": 24, "SubnetMin": "10.244.10.0",
//    "SubnetMax": "10.244.99.0", "Backend": {"Type": "udp", "Port": 8285}}
// or, for flannel's encrypted backend, "Backend": {"Type": "wireguard",
// "ListenPort": 51820, "PSK": "<base64>"}. Only Network is required. Defaults follow flannel's documentation:
// SubnetLen 24 (or the network's length + 2 when the network is smaller
// than a /22), SubnetMin the second subnet, SubnetMax the last one.
// Dual-stack, as flannel has it: "EnableIPv6": true, "IPv6Network":
// "fd00:10:244::/48", and optionally IPv6SubnetLen (default 64),
// IPv6SubnetMin and IPv6SubnetMax (the same defaults, in IPv6). IPv6-only:
// "EnableIPv4": false with the IPv6 fields; Network is then not needed.
import { z } from 'zod';
import { TunDriverError } from '../../errors.js';
import { formatCidr, formatIPv4, parseCidr, parseIPv4, Prefix, prefixContains, prefixMask } from '../../packet/addr.js';
import { DEFAULT_PORT } from '../leases.js';
import { decodeKey } from '../../wireguard/keys.js';
import { formatCidr6, formatIPv6, networkOf, parseCidr6, parseIPv6, Prefix6, prefix6Contains, sameIPv6 } from '../../packet/addr6.js';

/** flannel's default WireGuard port (Backend.ListenPort). */
export const WIREGUARD_PORT = 51820;

export interface NetworkConfig {
  /** The IPv4 network and the range of IPv4 subnets that may be leased; absent on an IPv6-only network ("EnableIPv4": false). */
  ipv4?: NetworkConfig4;
  /** The UDP port every node listens on (Backend.Port, or Backend.ListenPort for wireguard). */
  port: number;
  /** Backend.Type: plain UDP or WireGuard in user space, or the kernel's VXLAN or plain routes (src/backend/). */
  backend: BackendName;
  /** Backend's fields of a vxlan network. */
  vxlan?: VxlanConfig;
  /** Backend.PSK of a wireguard backend: the preshared key every handshake mixes in. */
  psk?: Uint8Array;
  /** With "EnableIPv6": the IPv6 network and the range of IPv6 subnets that may be leased. At least one of ipv4 and ipv6 is there. */
  ipv6?: NetworkConfig6;
}

/** flannel's vxlan Backend fields: {"Type": "vxlan", "VNI": 1, "Port": 8472, "GBP": false, "DirectRouting": false}. */
export interface VxlanConfig {
  vni: number;
  /** The UDP port; 8472, the kernel's default, when the config has none (flannel's 0). */
  port: number;
  gbp: boolean;
  directRouting: boolean;
}

/** flannel's (and the Linux kernel's) VXLAN port, and its default VNI. */
export const VXLAN_PORT = 8472;
export const VXLAN_DEFAULT_VNI = 1;
export const VXLAN_MAX_VNI = 16777215;

/** The backends tun-driver carries, as flannel names them in Backend.Type. */
export const BACKEND_TYPES = ['udp', 'wireguard', 'vxlan', 'host-gw'] as const;
/** One of {@link BACKEND_TYPES}. */
export type BackendName = (typeof BACKEND_TYPES)[number];

/** The IPv4 half of a config. */
export interface NetworkConfig4 {
  network: Prefix;
  subnetLen: number;
  /** Network addresses of the first and last subnet that may be leased. */
  subnetMin: number;
  subnetMax: number;
}

/** The IPv6 half of a dual-stack config; subnets are numbered by their network address as a 128-bit integer. */
export interface NetworkConfig6 {
  network: Prefix6;
  subnetLen: number;
  subnetMin: bigint;
  subnetMax: bigint;
}

/** An IPv6 address as a 128-bit integer, and back. */
export function ipv6ToBigInt(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = 0; i < 16; i++) n = (n << 8n) | BigInt(b[i]);
  return n;
}

export function bigIntToIPv6(n: bigint): Uint8Array {
  const b = new Uint8Array(16);
  for (let i = 15; i >= 0; i--) {
    b[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return b;
}

const ConfigSchema = z
  .object({
    Network: z.string().optional(),
    SubnetLen: z.number().int().optional(),
    SubnetMin: z.string().optional(),
    SubnetMax: z.string().optional(),
    EnableIPv4: z.boolean().optional(),
    EnableIPv6: z.boolean().optional(),
    IPv6Network: z.string().optional(),
    IPv6SubnetLen: z.number().int().optional(),
    IPv6SubnetMin: z.string().optional(),
    IPv6SubnetMax: z.string().optional(),
    Backend: z
      .object({
        Type: z.string().default('udp'),
        Port: z.number().int().min(1).max(65535).optional(),
        ListenPort: z.number().int().min(1).max(65535).optional(),
        PSK: z.string().optional(),
        VNI: z.number().int().optional(),
        GBP: z.boolean().optional(),
        DirectRouting: z.boolean().optional(),
      })
      .passthrough()
      .default({}),
  })
  .passthrough();

/**
 * Parses and checks the config text read from etcd key `key`. Every
 * message names the key and the field, so the operator knows what to put.
 */
export function parseNetworkConfig(text: string, key: string): NetworkConfig {
  const fail = (message: string): never => {
    throw new TunDriverError('TUN_ERR_ETCD', `${key}: ${message}`);
  };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return fail(`not valid JSON (${(err as Error).message})`);
  }
  const parsed = ConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return fail(`${issue.path.join('.') || 'the value'} ${issue.message}`);
  }
  const c = parsed.data;
  const backend = c.Backend.Type;
  if (!(BACKEND_TYPES as readonly string[]).includes(backend)) return fail(`Backend.Type "${backend}" is not supported: tun-driver carries ${BACKEND_TYPES.map((t) => `"${t}"`).join(', ')}`);
  const type = backend as NetworkConfig['backend'];
  let vxlan: VxlanConfig | undefined;
  if (type === 'vxlan') {
    const vni = c.Backend.VNI ?? VXLAN_DEFAULT_VNI;
    if (vni < 1 || vni > VXLAN_MAX_VNI) fail(`Backend.VNI ${vni} is outside 1..${VXLAN_MAX_VNI}`);
    vxlan = { vni, port: c.Backend.Port ?? VXLAN_PORT, gbp: c.Backend.GBP ?? false, directRouting: c.Backend.DirectRouting ?? false };
  } else if (c.Backend.VNI !== undefined || c.Backend.GBP !== undefined || (c.Backend.DirectRouting !== undefined && type !== 'host-gw')) {
    fail(`Backend.VNI, GBP and DirectRouting are for "Type": "vxlan" (this config says "${type}")`);
  }
  let psk: Uint8Array | undefined;
  if (c.Backend.PSK !== undefined) {
    if (backend !== 'wireguard') fail('Backend.PSK is for "Type": "wireguard"');
    try {
      psk = decodeKey(c.Backend.PSK, 'Backend.PSK');
    } catch (err) {
      fail((err as Error).message.replace('as tun-driver keygen / pubkey print', 'as wg genpsk prints'));
    }
  }
  const port = type === 'wireguard' ? (c.Backend.ListenPort ?? WIREGUARD_PORT) : vxlan ? vxlan.port : (c.Backend.Port ?? DEFAULT_PORT);
  if (c.EnableIPv4 === false && !c.EnableIPv6) fail('EnableIPv4 is false and EnableIPv6 is not true: the network has no family left (an IPv6-only network: "EnableIPv4": false, "EnableIPv6": true, "IPv6Network": "fd00:10:244::/48")');
  const ipv4 = c.EnableIPv4 === false ? undefined : parseIPv4Config(c, fail);
  const ipv6 = c.EnableIPv6 ? parseIPv6Config(c, fail) : undefined;
  if (!c.EnableIPv6 && c.IPv6Network !== undefined) fail('IPv6Network is set but EnableIPv6 is not: add "EnableIPv6": true for a dual-stack network');
  return { port, backend: type, ...(vxlan ? { vxlan } : {}), ...(ipv4 ? { ipv4 } : {}), ...(psk ? { psk } : {}), ...(ipv6 ? { ipv6 } : {}) };
}

/** The IPv4 fields (Network, SubnetLen, SubnetMin, SubnetMax), with flannel's defaults. */
function parseIPv4Config(c: z.infer<typeof ConfigSchema>, fail: (message: string) => never): NetworkConfig4 {
  if (c.Network === undefined) return fail('Network is required, e.g. "10.244.0.0/16" (or, for an IPv6-only network, "EnableIPv4": false)');
  let network: Prefix;
  try {
    network = parseCidr(c.Network);
  } catch {
    return fail(`Network "${c.Network}" is not an IPv4 CIDR like 10.244.0.0/16`);
  }
  if (network.address !== network.network) fail(`Network "${c.Network}" has host bits set: use ${formatCidr(network, false)}`);
  const subnetLen = c.SubnetLen ?? (network.length <= 22 ? 24 : network.length + 2);
  if (subnetLen <= network.length || subnetLen > 30) fail(`SubnetLen ${subnetLen} must be longer than the network's /${network.length} and at most 30`);
  const size = 2 ** (32 - subnetLen);
  const first = network.network >>> 0;
  const last = (first + 2 ** (32 - network.length) - size) >>> 0;
  const bound = (name: 'SubnetMin' | 'SubnetMax', fallback: number): number => {
    const text = c[name];
    if (text === undefined) return fallback;
    const address = parseIPv4(text);
    if (address === undefined) return fail(`${name} "${text}" is not an IPv4 address`);
    if (!prefixContains(network, address)) return fail(`${name} ${text} is outside the network ${formatCidr(network, false)}`);
    return (address & prefixMask(subnetLen)) >>> 0;
  };
  const subnetMin = bound('SubnetMin', first + size);
  const subnetMax = bound('SubnetMax', last);
  if (subnetMin > subnetMax) fail(`SubnetMin ${formatIPv4(subnetMin)} is above SubnetMax ${formatIPv4(subnetMax)}: no subnet can be leased`);
  return { network, subnetLen, subnetMin, subnetMax };
}

/** The IPv6 fields of a config with "EnableIPv6": true, with flannel's defaults. */
function parseIPv6Config(c: z.infer<typeof ConfigSchema>, fail: (message: string) => never): NetworkConfig6 {
  if (c.IPv6Network === undefined) return fail('EnableIPv6 is true but IPv6Network is missing: add e.g. "IPv6Network": "fd00:10:244::/48"');
  let network: Prefix6;
  try {
    network = parseCidr6(c.IPv6Network);
  } catch {
    return fail(`IPv6Network "${c.IPv6Network}" is not an IPv6 CIDR like fd00:10:244::/48`);
  }
  if (!sameIPv6(network.address, 0, network.network)) fail(`IPv6Network "${c.IPv6Network}" has host bits set: use ${formatCidr6(network, false)}`);
  const subnetLen = c.IPv6SubnetLen ?? (network.length <= 62 ? 64 : network.length + 2);
  if (subnetLen < network.length + 2 || subnetLen > 64) fail(`IPv6SubnetLen ${subnetLen} must leave room for four subnets in the network's /${network.length} and be at most 64 (pods' addresses come from it)`);
  const size = 1n << BigInt(128 - subnetLen);
  const first = ipv6ToBigInt(network.network);
  const last = first + (1n << BigInt(128 - network.length)) - size;
  const bound = (name: 'IPv6SubnetMin' | 'IPv6SubnetMax', fallback: bigint): bigint => {
    const text = c[name];
    if (text === undefined) return fallback;
    const address = parseIPv6(text);
    if (!address) return fail(`${name} "${text}" is not an IPv6 address`);
    if (!prefix6Contains(network, address)) return fail(`${name} ${text} is outside the IPv6 network ${formatCidr6(network, false)}`);
    return ipv6ToBigInt(networkOf(address, subnetLen));
  };
  const subnetMin = bound('IPv6SubnetMin', first + size);
  const subnetMax = bound('IPv6SubnetMax', last);
  if (subnetMin > subnetMax) fail(`IPv6SubnetMin ${formatIPv6(bigIntToIPv6(subnetMin))} is above IPv6SubnetMax ${formatIPv6(bigIntToIPv6(subnetMax))}: no IPv6 subnet can be leased`);
  return { network, subnetLen, subnetMin, subnetMax };
}
