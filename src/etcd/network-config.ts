// flannel's network config, as stored at <prefix>/config:
//   {"Network": "10.244.0.0/16", "SubnetLen": 24, "SubnetMin": "10.244.10.0",
//    "SubnetMax": "10.244.99.0", "Backend": {"Type": "udp", "Port": 8285}}
// or, for flannel's encrypted backend, "Backend": {"Type": "wireguard",
// "ListenPort": 51820, "PSK": "<base64>"}. Only Network is required. Defaults follow flannel's documentation:
// SubnetLen 24 (or the network's length + 2 when the network is smaller
// than a /22), SubnetMin the second subnet, SubnetMax the last one.
import { z } from 'zod';
import { TunDriverError } from '../errors.js';
import { formatCidr, formatIPv4, parseCidr, parseIPv4, Prefix, prefixContains, prefixMask } from '../packet/addr.js';
import { DEFAULT_PORT } from '../overlay/leases.js';
import { decodeKey } from '../wireguard/keys.js';

/** flannel's default WireGuard port (Backend.ListenPort). */
export const WIREGUARD_PORT = 51820;

export interface NetworkConfig {
  network: Prefix;
  subnetLen: number;
  /** Network addresses of the first and last subnet that may be leased. */
  subnetMin: number;
  subnetMax: number;
  /** The UDP port every node listens on (Backend.Port, or Backend.ListenPort for wireguard). */
  port: number;
  /** Backend.Type: plain UDP, or WireGuard (every node needs --private-key). */
  backend: 'udp' | 'wireguard';
  /** Backend.PSK of a wireguard backend: the preshared key every handshake mixes in. */
  psk?: Uint8Array;
}

const ConfigSchema = z
  .object({
    Network: z.string({ required_error: 'is required, e.g. "10.244.0.0/16"' }),
    SubnetLen: z.number().int().optional(),
    SubnetMin: z.string().optional(),
    SubnetMax: z.string().optional(),
    Backend: z
      .object({
        Type: z.string().default('udp'),
        Port: z.number().int().min(1).max(65535).optional(),
        ListenPort: z.number().int().min(1).max(65535).optional(),
        PSK: z.string().optional(),
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
  let network: Prefix;
  try {
    network = parseCidr(c.Network);
  } catch {
    return fail(`Network "${c.Network}" is not an IPv4 CIDR like 10.244.0.0/16`);
  }
  if (network.address !== network.network) fail(`Network "${c.Network}" has host bits set: use ${formatCidr(network, false)}`);
  const backend = c.Backend.Type;
  if (backend !== 'udp' && backend !== 'wireguard') return fail(`Backend.Type "${backend}" is not supported: tun-driver carries the "udp" and "wireguard" backends`);
  let psk: Uint8Array | undefined;
  if (c.Backend.PSK !== undefined) {
    if (backend !== 'wireguard') fail('Backend.PSK is for "Type": "wireguard"');
    try {
      psk = decodeKey(c.Backend.PSK, 'Backend.PSK');
    } catch (err) {
      fail((err as Error).message.replace('as tun-driver keygen / pubkey print', 'as wg genpsk prints'));
    }
  }
  const port = backend === 'wireguard' ? (c.Backend.ListenPort ?? WIREGUARD_PORT) : (c.Backend.Port ?? DEFAULT_PORT);
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
  return { network, subnetLen, subnetMin, subnetMax, port, backend, ...(psk ? { psk } : {}) };
}
