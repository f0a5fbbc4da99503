// Which subnet a node may take: pure arithmetic over the network config and
// the subnets already leased, kept apart from etcd so it is unit-tested.
import { Prefix } from '../../packet/addr.js';
import { Prefix6 } from '../../packet/addr6.js';
import { bigIntToIPv6, ipv6ToBigInt, NetworkConfig4, NetworkConfig6 } from './network-config.js';

/** Whether `subnet` is one the config allows to lease (right size, inside SubnetMin..SubnetMax). */
export function isLeasable(config: NetworkConfig4, subnet: Prefix): boolean {
  return subnet.length === config.subnetLen && subnet.network >= config.subnetMin && subnet.network <= config.subnetMax;
}

/** How many subnets the config allows in all. */
export function leasableCount(config: NetworkConfig4): number {
  return (config.subnetMax - config.subnetMin) / 2 ** (32 - config.subnetLen) + 1;
}

/**
 * Up to `limit` free subnets, lowest first. Like flannel, the caller picks
 * one of them at random, so nodes that race rarely want the same one; the
 * etcd transaction is what makes the choice safe.
 */
export function freeSubnets(config: NetworkConfig4, taken: readonly Prefix[], limit = 100): Prefix[] {
  const used = new Set(taken.filter((p) => p.length === config.subnetLen).map((p) => p.network));
  // A shorter prefix covering part of the range blocks the subnets inside it.
  const covering = taken.filter((p) => p.length < config.subnetLen);
  const size = 2 ** (32 - config.subnetLen);
  const free: Prefix[] = [];
  for (let n = config.subnetMin; n <= config.subnetMax && free.length < limit; n += size) {
    if (used.has(n)) continue;
    if (covering.some((c) => n >= c.network && n < c.network + 2 ** (32 - c.length))) continue;
    free.push({ network: n, address: n, length: config.subnetLen });
  }
  return free;
}

/** Whether an IPv6 subnet is one the config allows to lease. */
export function isLeasable6(config: NetworkConfig6, subnet: Prefix6): boolean {
  const n = ipv6ToBigInt(subnet.network);
  return subnet.length === config.subnetLen && n >= config.subnetMin && n <= config.subnetMax;
}

/** Up to `limit` free IPv6 subnets, lowest first (the IPv4 rules, in 128-bit arithmetic). */
export function freeSubnets6(config: NetworkConfig6, taken: readonly Prefix6[], limit = 100): Prefix6[] {
  const used = new Set(taken.filter((p) => p.length === config.subnetLen).map((p) => ipv6ToBigInt(p.network)));
  const covering = taken.filter((p) => p.length < config.subnetLen).map((p) => ({ start: ipv6ToBigInt(p.network), size: 1n << BigInt(128 - p.length) }));
  const size = 1n << BigInt(128 - config.subnetLen);
  const free: Prefix6[] = [];
  for (let n = config.subnetMin; n <= config.subnetMax && free.length < limit; n += size) {
    if (used.has(n)) continue;
    if (covering.some((c) => n >= c.start && n < c.start + c.size)) continue;
    const network = bigIntToIPv6(n);
    free.push({ network, address: network, length: config.subnetLen });
  }
  return free;
}
